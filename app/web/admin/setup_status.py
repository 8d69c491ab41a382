"""The admin's "setup status" card (/admin/setup, also loaded into the /admin overview): is each part
a deployment needs really working? Each check does the real thing (asks the model endpoint for its
models, sends a test mail through the outbox, starts the sandbox, reads worker heartbeats) and links
to the page of the admin guide that fixes it."""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass

import openai
from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.response import Template
from psycopg_pool import AsyncConnectionPool

from app.core.config import Settings
from app.core.llm import LLM
from app.core.mail import deliver, queue_mail
from app.steps import sandbox
from app.web.auth import requires_admin
from app.web.htmx import is_htmx

MODEL_TIMEOUT_S = 3.0
HEARTBEAT_FRESH = "1 minute"  # a worker heartbeats every few seconds; older means it is gone
WORKERS = f"""
SELECT count(*) FILTER (WHERE last_heartbeat > now() - interval '{HEARTBEAT_FRESH}') AS alive,
       max(last_heartbeat) AS last
FROM procrastinate_workers
"""


@dataclass(frozen=True)
class Check:
    name: str
    state: str  # ok | warn | fail | unknown
    detail: str
    fix: str  # where to read how to fix it


async def model_check(settings: Settings, llm: LLM) -> Check:
    if llm.offline or llm.client is None:
        return Check(
            "Model endpoint",
            "warn",
            "Offline demo model: OPENAI_BASE_URL is not set, replies are canned.",
            "/help/admin/setup",
        )
    try:
        models = await llm.client.with_options(timeout=MODEL_TIMEOUT_S, max_retries=0).models.list()
    except openai.APIStatusError as exc:
        return Check(
            "Model endpoint",
            "fail",
            f"{settings.openai_base_url}/models answered HTTP {exc.status_code}.",
            "/help/admin/setup",
        )
    except (openai.APIError, OSError) as exc:
        return Check(
            "Model endpoint",
            "fail",
            f"{settings.openai_base_url} is not reachable: {type(exc).__name__}.",
            "/help/admin/setup",
        )
    names = [m.id for m in models.data]
    known = "" if settings.model in names else f" (but not {settings.model}, the configured model)"
    return Check(
        "Model endpoint",
        "ok" if not known else "warn",
        f"{settings.openai_base_url} answered with {len(names)} model(s){known}.",
        "/help/admin/setup",
    )


def smtp_check(settings: Settings) -> Check:
    if not settings.smtp_url:
        return Check(
            "Mail (SMTP)",
            "warn",
            "SMTP_URL is not set: mail is kept in the outbox, not sent.",
            "/help/admin/setup",
        )
    return Check(
        "Mail (SMTP)",
        "unknown",
        "SMTP_URL is set. Send a test mail to know that it arrives.",
        "/help/admin/setup",
    )


async def sandbox_check(settings: Settings) -> Check:
    if settings.sandbox == "unsafe-local":
        return Check(
            "Code review sandbox",
            "warn",
            "BATON_SANDBOX=unsafe-local: tests run without isolation.",
            "/help/admin/setup",
        )
    why = await asyncio.to_thread(sandbox.probe)
    if why:
        return Check(
            "Code review sandbox",
            "fail",
            f"Unavailable: {why}. Code review cannot run tests.",
            "/help/admin/setup",
        )
    return Check("Code review sandbox", "ok", "bubblewrap works here.", "/help/admin/setup")


def base_url_check(settings: Settings) -> Check:
    if settings.base_url_configured:
        return Check(
            "Base URL", "ok", f"Links in mail point to {settings.base_url}.", "/help/admin/setup"
        )
    return Check(
        "Base URL",
        "warn",
        f"BATON_BASE_URL is not set: links in mail point to {settings.base_url}.",
        "/help/admin/setup",
    )


def backups_check() -> Check:
    # Baton keeps no record of backups (they are taken outside it: docs/admin/backups.md); saying
    # "fine" here would be a guess.
    return Check(
        "Backups",
        "unknown",
        "Not known to Baton: backups are taken outside the app.",
        "/help/admin/backups",
    )


async def workers_check(pool: AsyncConnectionPool) -> Check:
    async with pool.connection() as conn:
        row = await (await conn.execute(WORKERS)).fetchone()
    if row["alive"]:
        return Check(
            "Workers",
            "ok",
            f"{row['alive']} worker(s) alive (heartbeat within {HEARTBEAT_FRESH}).",
            "/help/admin/setup",
        )
    seen = f" The last heartbeat was at {row['last']:%Y-%m-%d %H:%M} UTC." if row["last"] else ""
    return Check(
        "Workers", "fail", f"No worker is alive: runs will not move.{seen}", "/help/admin/setup"
    )


async def all_checks(
    request: Request, pool: AsyncConnectionPool, settings: Settings
) -> list[Check]:
    model, box, workers = await asyncio.gather(
        model_check(settings, request.app.state.llm), sandbox_check(settings), workers_check(pool)
    )
    return [model, smtp_check(settings), box, base_url_check(settings), backups_check(), workers]


def _card(
    request: Request, checks: list[Check], mail: dict | None = None, status: int = 200
) -> Template:
    template = "partials/admin/setup_status.html" if is_htmx(request) else "pages/admin/setup.html"
    return Template(template, context={"checks": checks, "mail": mail}, status_code=status)


@get("/setup")
async def setup_status(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> Template:
    return _card(request, await all_checks(request, pool, settings))


@post("/setup/test-mail")
async def send_test_mail(
    request: Request,
    pool: NamedDependency[AsyncConnectionPool],
    settings: NamedDependency[Settings],
) -> Template:
    """A mail to the admin through the real path: the outbox row, then delivery over SMTP_URL."""
    to = request.user.email
    # One transaction: the worker cannot see the queued send until this request has tried it, so the
    # mail goes out once (a failed attempt stays pending and the worker retries it, as any mail).
    async with pool.connection() as conn, conn.transaction():
        mail_id = await queue_mail(
            conn,
            to=to,
            subject="Baton test mail",
            kind="test",
            text=f"This test mail was sent from Baton's setup status page ({settings.base_url}/admin/setup).\n"
            "If you read this, Baton's mail works.",
        )
        try:
            status = await deliver(conn, mail_id, settings)
        except (OSError, smtplib.SMTPException) as exc:
            mail = {
                "ok": False,
                "text": f"Sending to {to} failed: {type(exc).__name__}: {exc}"[:300],
            }
        else:
            mail = {
                "ok": status != "held",
                "text": {
                    "sent": f"Sent to {to}. Check that it arrived.",
                    "held": "Not sent: SMTP_URL is not set, so the mail was kept in the outbox.",
                    None: f"Queued for {to}; a worker is sending it (see the outbox).",
                }[status],
            }
    return _card(request, await all_checks(request, pool, settings), mail)


router = Router(
    path="/admin", guards=[requires_admin], route_handlers=[setup_status, send_test_mail]
)
