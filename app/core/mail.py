"""Outgoing mail: queued in the caller's transaction, sent by a job, kept in `mail_outbox`.

    await queue_mail(conn, to="a@example.com", subject="…", text="…", html="…", kind="hook_waiting",
                     user_id=…, run_id=…, hook_id=…, unsubscribe_url=…)

`queue_mail` writes the outbox row and queues the `baton.send_mail` job in the same transaction
(so an engine signal callback queues mail that commits, or rolls back, with the state change that
caused it). The job sends through `SMTP_URL` with the standard library's smtplib, in a thread:

    smtp://[user:pass@]host[:port]     plain SMTP, upgraded with STARTTLS when the server offers it
    smtps://[user:pass@]host[:port]    SMTP over TLS (port 465 by default)

With no SMTP_URL the row is marked `held` and stays for administrators to read at /admin/outbox.
A failed send is retried by the job (exponential backoff); the row keeps the last error.
Templates live in templates/emails/ (`render_mail(name, **context)` → subject, text, html).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from procrastinate import RetryStrategy
from psycopg import AsyncConnection

from app.core import local_time, runtime
from app.core.config import Settings
from app.core.paths import TEMPLATES_DIR
from app.core.queue import SEND_MAIL, defer, queue

log = logging.getLogger("baton.mail")

SMTP_TIMEOUT_S = 20.0

INSERT_MAIL = """
INSERT INTO mail_outbox (kind, to_addr, subject, body_text, body_html, user_id, run_id, hook_id, unsubscribe_url)
VALUES (%(kind)s, %(to)s, %(subject)s, %(text)s, %(html)s, %(user_id)s, %(run_id)s, %(hook_id)s, %(unsubscribe_url)s)
RETURNING id
"""
TAKE_MAIL = """
UPDATE mail_outbox SET attempts = attempts + 1 WHERE id = %(id)s AND status = 'pending' RETURNING *
"""
MARK = """
UPDATE mail_outbox SET status = %(status)s, error = %(error)s,
                       sent_at = CASE WHEN %(status)s = 'sent' THEN now() ELSE sent_at END
WHERE id = %(id)s
"""


async def queue_mail(
    conn: AsyncConnection,
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    kind: str,
    user_id: int | None = None,
    run_id=None,
    hook_id: int | None = None,
    unsubscribe_url: str | None = None,
) -> int:
    """Store a mail and queue its sending; both commit with the caller's transaction.
    `unsubscribe_url` (app/core/unsubscribe.py) becomes the RFC 8058 one-click List-Unsubscribe."""
    subject = " ".join(subject.split())[:200]  # no header injection through a newline
    async with conn.transaction():
        row = await (
            await conn.execute(
                INSERT_MAIL,
                {
                    "kind": kind,
                    "to": to.strip(),
                    "subject": subject,
                    "text": text,
                    "html": html,
                    "user_id": user_id,
                    "run_id": run_id,
                    "hook_id": hook_id,
                    "unsubscribe_url": unsubscribe_url,
                },
            )
        ).fetchone()
        await defer(conn, SEND_MAIL, {"mail_id": row["id"]})
    return row["id"]


# -- templates ---------------------------------------------------------------------------------

_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR / "emails"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
# Dates in a mail are in its recipient's zone: render_mail(..., time_zone=...).
_env.filters.update(local_time.FILTERS)


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def render_mail(name: str, **context) -> RenderedMail:
    """templates/emails/<name>.subject.txt, .txt and .html, rendered with `context`."""
    subject = _env.get_template(f"{name}.subject.txt").render(**context)
    text = _env.get_template(f"{name}.txt").render(**context)
    html = _env.get_template(f"{name}.html").render(**context)
    return RenderedMail(" ".join(subject.split()), text, html)


# -- sending -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SMTPTarget:
    host: str
    port: int
    tls: bool  # smtps: TLS from the first byte
    username: str | None
    password: str | None


def smtp_target(url: str) -> SMTPTarget:
    parts = urlsplit(url)
    tls = parts.scheme == "smtps"
    return SMTPTarget(
        host=parts.hostname or "localhost",
        port=parts.port or (465 if tls else 25),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def build_message(row: dict, mail_from: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr(("Baton", mail_from))
    message["To"] = row["to_addr"]
    message["Subject"] = row["subject"]
    message["Message-ID"] = make_msgid(domain=mail_from.rsplit("@", 1)[-1])
    if row.get("unsubscribe_url"):
        # RFC 8058: mail clients show an "Unsubscribe" button that POSTs to the URL, no login needed.
        message["List-Unsubscribe"] = f"<{row['unsubscribe_url']}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(row["body_text"])
    if row["body_html"]:
        message.add_alternative(row["body_html"], subtype="html")
    return message


def send_smtp(target: SMTPTarget, message: EmailMessage) -> None:
    """Blocking: run it in a thread."""
    context = ssl.create_default_context()
    if target.tls:
        client = smtplib.SMTP_SSL(target.host, target.port, timeout=SMTP_TIMEOUT_S, context=context)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT_S)
    with client:
        client.ehlo()
        if not target.tls and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if target.username:
            client.login(target.username, target.password or "")
        client.send_message(message)


async def deliver(conn: AsyncConnection, mail_id: int, settings: Settings) -> str | None:
    """Send one pending mail (or hold it when no SMTP is configured). Returns the new status, or
    None if the mail was not pending. Raises on an SMTP failure, for the job to retry."""
    row = await (await conn.execute(TAKE_MAIL, {"id": mail_id})).fetchone()
    if row is None:
        return None
    if not settings.smtp_url:
        await conn.execute(MARK, {"id": mail_id, "status": "held", "error": None})
        log.info("mail.held", extra={"mail_id": mail_id, "kind": row["kind"]})
        return "held"
    try:
        await asyncio.to_thread(
            send_smtp, smtp_target(settings.smtp_url), build_message(row, settings.mail_from)
        )
    except (OSError, smtplib.SMTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        # Back to pending for the next attempt; the job's retries decide when to give up.
        await conn.execute(
            "UPDATE mail_outbox SET error = %(error)s WHERE id = %(id)s",
            {"id": mail_id, "error": error},
        )
        log.warning("mail.send_failed", extra={"mail_id": mail_id, "error": error})
        raise
    await conn.execute(MARK, {"id": mail_id, "status": "sent", "error": None})
    log.info("mail.sent", extra={"mail_id": mail_id, "kind": row["kind"]})
    return "sent"


SEND_ATTEMPTS = 6


@queue.task(
    name=SEND_MAIL,
    pass_context=True,
    retry=RetryStrategy(max_attempts=SEND_ATTEMPTS - 1, exponential_wait=5),
)
async def send_mail_task(context, mail_id: int) -> None:
    async with context.app.connector.pool.connection() as conn:
        try:
            await deliver(conn, mail_id, runtime.current().settings)
        except (OSError, smtplib.SMTPException):
            if context.job.attempts + 1 >= SEND_ATTEMPTS:
                await conn.execute(
                    MARK,
                    {
                        "id": mail_id,
                        "status": "failed",
                        "error": "gave up after several attempts; see the last error in the logs",
                    },
                )
                return
            await conn.execute(
                "UPDATE mail_outbox SET status = 'pending' WHERE id = %(id)s", {"id": mail_id}
            )
            raise


# -- the admin outbox --------------------------------------------------------------------------

OUTBOX_PAGE = 50
LIST_OUTBOX = """
SELECT id, kind, to_addr, subject, status, attempts, error, created_at, sent_at FROM mail_outbox
WHERE (%(before)s::bigint IS NULL OR id < %(before)s)
ORDER BY id DESC LIMIT %(limit)s
"""


async def list_outbox(conn: AsyncConnection, before: int | None = None) -> tuple[list[dict], bool]:
    rows = await (
        await conn.execute(LIST_OUTBOX, {"before": before, "limit": OUTBOX_PAGE + 1})
    ).fetchall()
    return rows[:OUTBOX_PAGE], len(rows) > OUTBOX_PAGE


async def get_mail(conn: AsyncConnection, mail_id: int) -> dict | None:
    return await (
        await conn.execute("SELECT * FROM mail_outbox WHERE id = %(id)s", {"id": mail_id})
    ).fetchone()
