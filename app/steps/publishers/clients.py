"""Talking to connectors over HTTP: publish a post, fetch engagement metrics, check reachability.

Every publish carries the step's idempotency key (`Idempotency-Key` header, and in the webhook's
body), stable across the step's retries and a worker dying mid-call, so a receiver that honours it
publishes each post once. Failures are sorted once: a connection problem, a timeout, 408, 429 or a
5xx is retried by the step's policy; any other 4xx, a redirect, or an address connectors may not
reach fails the step at once (`FatalError`).

Calls go through app/core/outbound.py (resolve once, refuse internal addresses unless an admin
allowed them in BATON_CONNECTOR_ALLOW, connect to the checked address). What the receiver answers
is parsed for the fields below and otherwise only logged: an error the user sees carries the status
code and its standard reason, never the receiver's words (a user aiming a connector at an internal
service must not be able to read it through error messages).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx

from app.core import outbound, runtime
from app.engine.errors import FatalError
from app.steps.publishers.connectors import Connector

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
CHECK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # someone waits for the answer on the page
MAX_RESPONSE = 256 * 1024
USER_AGENT = "Baton-Publisher/1"
SIGNATURE_HEADER = "X-Baton-Signature"
RETRYABLE = {408, 425, 429}
METRIC_KEYS = ("likes", "shares", "replies")

log = logging.getLogger("baton.publishers")


class PublishError(Exception):
    """A failure worth retrying."""


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _status(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


async def _send(
    method: str, url: str, *, headers: dict, content: bytes | None = None
) -> tuple[int, Any]:
    host = url_host(url)
    try:
        reply = await outbound.request(
            method,
            url,
            allow=runtime.current().settings.connector_allow,
            headers={"User-Agent": USER_AGENT, **headers},
            content=content,
            timeout=TIMEOUT,
            max_bytes=MAX_RESPONSE,
        )
    except outbound.AddressRefused as exc:
        raise FatalError(str(exc)) from None
    except outbound.HostNotFound as exc:
        raise PublishError(str(exc)) from None
    except httpx.TimeoutException as exc:
        raise PublishError(f"{host} did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise PublishError(f"could not reach {host}: {type(exc).__name__}") from exc
    status = reply.status
    if status >= 300:
        log.warning(
            "publishers.remote_refused",
            extra={
                "host": host,
                "method": method,
                "status": status,
                "body": reply.body[:2000].decode(errors="replace"),
            },
        )
    if status >= 500 or status in RETRYABLE:
        raise PublishError(f"{host} answered {_status(status)}")
    if 300 <= status < 400:
        raise FatalError(
            f"{host} answered {_status(status)}: connectors do not follow redirects, "
            "give the final address"
        )
    if status >= 400:
        raise FatalError(f"{host} refused with {_status(status)} (details are in the server log)")
    try:
        data = json.loads(reply.body) if reply.body.strip() else {}
    except (ValueError, RecursionError):
        data = {}
    return status, data if isinstance(data, dict) else {}


def url_host(url: str) -> str:
    return httpx.URL(url).host or "the connector"


def _str_or_none(value: Any, limit: int = 500) -> str | None:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value).strip()
        return text[:limit] or None
    return None


def _safe_url(value: Any) -> str | None:
    text = _str_or_none(value, 2000)
    return text if text and text.startswith(("https://", "http://")) else None


async def publish(connector: Connector, post: dict, *, idempotency_key: str, run_id: str) -> dict:
    """Send one post. Returns {remote_id, url, idempotency_key} (JSON-able, no secrets)."""
    if connector.kind == "webhook":
        body = json.dumps(
            {
                "event": "post.publish",
                "run_id": run_id,
                "idempotency_key": idempotency_key,
                "post": {
                    "id": post["id"],
                    "number": post.get("number"),
                    "text": post["body"],
                    "scheduled_for": post["publish_at"],
                },
            },
            separators=(",", ":"),
        ).encode()
        _, data = await _send(
            "POST",
            connector.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": idempotency_key,
                "X-Baton-Event": "post.publish",
                SIGNATURE_HEADER: sign(connector.secret, body),
            },
        )
    elif connector.kind == "mastodon":
        body = json.dumps({"status": post["body"], "visibility": "public"}).encode()
        _, data = await _send(
            "POST",
            connector.url.rstrip("/") + "/api/v1/statuses",
            content=body,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": idempotency_key,
                "Authorization": f"Bearer {connector.secret}",
            },
        )
    else:
        raise FatalError(f"unknown connector kind {connector.kind!r}")
    return {
        "remote_id": _str_or_none(data.get("id"), 200),
        "url": _safe_url(data.get("url")),
        "idempotency_key": idempotency_key,
    }


def _count(value: Any) -> int:
    return (
        value
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12
        else 0
    )


async def fetch_metrics(connector: Connector, posts: list[dict], *, run_id: str) -> dict[str, dict]:
    """Engagement per post id: {"likes", "shares", "replies"}; posts the receiver does not report
    get zeros with `reported: false`."""
    found: dict[str, dict] = {}
    if connector.kind == "mastodon":
        for post in posts:
            if not post.get("remote_id"):
                continue
            _, data = await _send(
                "GET",
                f"{connector.url.rstrip('/')}/api/v1/statuses/{post['remote_id']}",
                headers={"Authorization": f"Bearer {connector.secret}"},
            )
            found[str(post["id"])] = {
                "likes": _count(data.get("favourites_count")),
                "shares": _count(data.get("reblogs_count")),
                "replies": _count(data.get("replies_count")),
            }
    else:
        body = json.dumps(
            {
                "event": "metrics.request",
                "run_id": run_id,
                "posts": [{"id": p["id"], "remote_id": p.get("remote_id")} for p in posts],
            },
            separators=(",", ":"),
        ).encode()
        _, data = await _send(
            "POST",
            connector.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Baton-Event": "metrics.request",
                SIGNATURE_HEADER: sign(connector.secret, body),
            },
        )
        reported = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
        for post in posts:
            entry = reported.get(str(post["id"]))
            if isinstance(entry, dict):
                found[str(post["id"])] = {k: _count(entry.get(k)) for k in METRIC_KEYS}
    return {
        str(p["id"]): found.get(str(p["id"]), {**dict.fromkeys(METRIC_KEYS, 0), "reported": False})
        | {"reported": str(p["id"]) in found}
        for p in posts
    }


@dataclass(frozen=True)
class Reachability:
    ok: bool
    message: str  # safe to show: a status code and its standard reason, never the receiver's words


def _check_request(connector: Connector) -> tuple[str, str, dict, bytes | None]:
    """Webhook: a signed `ping` event (nothing to publish); Mastodon: who the token belongs to."""
    if connector.kind == "mastodon":
        return (
            "GET",
            f"{connector.url.rstrip('/')}/api/v1/accounts/verify_credentials",
            {"Authorization": f"Bearer {connector.secret}"},
            None,
        )
    body = json.dumps(
        {"event": "ping", "connector": connector.name}, separators=(",", ":")
    ).encode()
    return (
        "POST",
        connector.url,
        {
            "Content-Type": "application/json",
            "X-Baton-Event": "ping",
            SIGNATURE_HEADER: sign(connector.secret, body),
        },
        body,
    )


async def check_reachable(connector: Connector, allow: outbound.Allowlist) -> Reachability:
    """Ask the connector's receiver one harmless question through the outbound guard, as a send
    would: is it there, and does it take our secret?"""
    method, url, headers, content = _check_request(connector)
    host = url_host(url)
    try:
        reply = await outbound.request(
            method,
            url,
            allow=allow,
            headers={"User-Agent": USER_AGENT, **headers},
            content=content,
            timeout=CHECK_TIMEOUT,
            max_bytes=4096,
        )
    except (outbound.AddressRefused, outbound.HostNotFound) as exc:
        return Reachability(False, f"Not reachable: {exc}.")
    except httpx.TimeoutException:
        return Reachability(False, f"Not reachable: {host} did not answer in time.")
    except httpx.HTTPError as exc:
        return Reachability(
            False, f"Not reachable: could not connect to {host} ({type(exc).__name__})."
        )
    answered = f"{host} answered {_status(reply.status)}"
    if reply.status < 300:
        return Reachability(True, f"Reachable: {answered}.")
    log.warning(
        "publishers.check_refused",
        extra={
            "host": host,
            "status": reply.status,
            "body": reply.body[:2000].decode(errors="replace"),
        },
    )
    if reply.status < 400:
        return Reachability(
            False, f"{answered}: connectors do not follow redirects, give the final address."
        )
    if reply.status in (401, 403):
        fix = (
            "check the access token"
            if connector.kind == "mastodon"
            else "check that it verifies this connector's secret"
        )
        return Reachability(False, f"Reachable, but {answered}: {fix}.")
    return Reachability(False, f"Reachable, but {answered} (details are in the server log).")
