"""The `send` block: an e-mail (queued with the journal row: exactly once), a post through one of the
owner's connectors, or a signed webhook POST through the SSRF guard (app/core/outbound.py). Publishing and
webhooks carry the run's step idempotency key (`Idempotency-Key`), stable across retries, so a receiver
that honours it sees each send once per run even if a worker dies mid-request."""

from __future__ import annotations

import json
from functools import partial

import httpx
from psycopg import AsyncConnection

from app.core import outbound, runtime
from app.core.mail import queue_mail
from app.engine.errors import FatalError
from app.engine.run import Run
from app.steps.publishers import publish_post
from app.steps.publishers.clients import MAX_RESPONSE, RETRYABLE, SIGNATURE_HEADER, TIMEOUT, sign
from app.steps.publishers.connectors import find_connector
from app.templates.format import Send
from app.templates.render import TemplateRunError, render

OWNER_EMAIL = "SELECT email FROM users WHERE id = %(id)s"
WEBHOOK_AGENT = "Baton-Template/1"


async def send(run: Run, block: Send, name: str, ctx: dict, meta: dict) -> dict:
    subject = render(block.subject, ctx, block.id).strip() or meta["title"]
    body = render(block.body, ctx, block.id)
    if block.channel == "email":

        async def mail(conn: AsyncConnection) -> dict:
            to = block.to
            if to == "owner":
                to = (await (await conn.execute(OWNER_EMAIL, {"id": run.owner_id})).fetchone())[
                    "email"
                ]
            await queue_mail(
                conn,
                to=to,
                subject=subject,
                text=body,
                kind="template_send",
                user_id=run.owner_id,
                run_id=run.id,
            )
            return {"sent": True, "channel": "email"}

        return await run.transaction(name, mail)
    if block.channel == "publish":

        async def find(conn: AsyncConnection) -> dict | None:
            return await find_connector(conn, run.owner_id, block.connector or "", run_id=run.id)

        connector = await run.transaction(f"{name}: connector", find)
        if connector is None:
            raise TemplateRunError(
                f"{block.id}: this run's space has no connector named “{block.connector}”"
            )
        post = {"id": 0, "number": 1, "body": body, "publish_at": None}
        result = await run.step(name, partial(_publish, run), connector["id"], post)
        return {"sent": True, "channel": "publish", **(result or {})}
    payload = {
        "event": "template.send",
        "run_id": str(run.id),
        "template": meta["title"],
        "block": block.id,
        "subject": subject,
        "body": body,
    }
    # The address and key are bound, not passed: a step's arguments are journaled and shown on the
    # run's timeline to whoever sees the run, and neither may leave the template's owner.
    result = await run.step(
        name, partial(post_webhook, run, block.url, block.secret or ""), payload
    )
    return {"sent": True, "channel": "webhook", **result}


async def _publish(run: Run, connector_id: int, post: dict) -> dict:
    return await publish_post(run.owner_id, connector_id, post, run.idempotency_key, str(run.id))


async def post_webhook(run: Run, url: str, secret: str, payload: dict) -> dict:
    """One signed POST (`X-Baton-Signature: sha256=<HMAC of the body>` when the block has a key)."""
    key = run.idempotency_key
    body = json.dumps({**payload, "idempotency_key": key}, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": WEBHOOK_AGENT,
        "Idempotency-Key": key,
        "X-Baton-Event": "template.send",
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    try:
        reply = await outbound.request(
            "POST",
            url,
            allow=runtime.current().settings.connector_allow,
            headers=headers,
            content=body,
            timeout=TIMEOUT,
            max_bytes=MAX_RESPONSE,
        )
    except outbound.AddressRefused as exc:
        raise FatalError(str(exc)) from None
    except (outbound.HostNotFound, httpx.HTTPError) as exc:
        raise RuntimeError(f"could not reach the webhook: {type(exc).__name__}") from exc
    if reply.status >= 500 or reply.status in RETRYABLE:
        raise RuntimeError(f"the webhook answered {reply.status}")
    if reply.status >= 300:
        raise FatalError(f"the webhook refused with {reply.status}")
    return {"status": reply.status, "idempotency_key": key}
