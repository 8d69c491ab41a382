"""Talking to connectors over HTTP: publish a post, fetch engagement metrics.

Every publish carries the step's idempotency key (`Idempotency-Key` header, and in the webhook's
body), stable across the step's retries and a worker dying mid-call, so a receiver that honours it
publishes each post once. Failures are sorted once: a connection problem, a timeout, 408, 429 or a
5xx is retried by the step's policy; any other 4xx is the connector refusing (bad token, bad
address) and fails the step at once (`FatalError`), with the receiver's words trimmed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import socket
from typing import Any

import httpx

from app.engine.errors import FatalError
from app.steps.publishers.connectors import Connector

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
MAX_RESPONSE = 256 * 1024
USER_AGENT = "Baton-Publisher/1"
SIGNATURE_HEADER = "X-Baton-Signature"
RETRYABLE = {408, 425, 429}
METRIC_KEYS = ("likes", "shares", "replies")


class PublishError(Exception):
    """A failure worth retrying."""


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _clean(text: str, limit: int = 300) -> str:
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text[:limit]


async def _check_address(url: str) -> None:
    """Refuse addresses no connector should reach: link-local (cloud metadata services live at
    169.254.169.254), multicast, unspecified. Loopback and private networks stay allowed: a
    self-hosted receiver next to Baton is a normal setup."""
    host = httpx.URL(url).host
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise PublishError(f"cannot resolve {host}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if address.is_link_local or address.is_multicast or address.is_unspecified or address.is_reserved:
            raise FatalError(f"{host} resolves to {address}, an address connectors may not reach")


async def _send(method: str, url: str, *, headers: dict, content: bytes | None = None) -> tuple[int, Any]:
    await _check_address(url)
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client, client.stream(
                method, url, headers={"User-Agent": USER_AGENT, **headers}, content=content) as response:
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE:
                    break
    except httpx.TimeoutException as exc:
        raise PublishError(f"{url_host(url)} did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise PublishError(f"could not reach {url_host(url)}: {type(exc).__name__}") from exc
    status = response.status_code
    if status >= 500 or status in RETRYABLE:
        raise PublishError(f"{url_host(url)} answered {status}: {_clean(body.decode(errors='replace'), 200)}")
    if status >= 300:
        raise FatalError(f"{url_host(url)} refused with {status}: {_clean(body.decode(errors='replace'), 200)}")
    try:
        data = json.loads(body) if body.strip() else {}
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
        body = json.dumps({
            "event": "post.publish", "run_id": run_id, "idempotency_key": idempotency_key,
            "post": {"id": post["id"], "number": post.get("number"), "text": post["body"],
                     "scheduled_for": post["publish_at"]},
        }, separators=(",", ":")).encode()
        _, data = await _send("POST", connector.url, content=body, headers={
            "Content-Type": "application/json", "Idempotency-Key": idempotency_key,
            "X-Baton-Event": "post.publish", SIGNATURE_HEADER: sign(connector.secret, body)})
    elif connector.kind == "mastodon":
        body = json.dumps({"status": post["body"], "visibility": "public"}).encode()
        _, data = await _send("POST", connector.url.rstrip("/") + "/api/v1/statuses", content=body, headers={
            "Content-Type": "application/json", "Idempotency-Key": idempotency_key,
            "Authorization": f"Bearer {connector.secret}"})
    else:
        raise FatalError(f"unknown connector kind {connector.kind!r}")
    return {"remote_id": _str_or_none(data.get("id"), 200), "url": _safe_url(data.get("url")),
            "idempotency_key": idempotency_key}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12 else 0


async def fetch_metrics(connector: Connector, posts: list[dict], *, run_id: str) -> dict[str, dict]:
    """Engagement per post id: {"likes", "shares", "replies"}; posts the receiver does not report
    get zeros with `reported: false`."""
    found: dict[str, dict] = {}
    if connector.kind == "mastodon":
        for post in posts:
            if not post.get("remote_id"):
                continue
            _, data = await _send("GET", f"{connector.url.rstrip('/')}/api/v1/statuses/{post['remote_id']}",
                                  headers={"Authorization": f"Bearer {connector.secret}"})
            found[str(post["id"])] = {"likes": _count(data.get("favourites_count")),
                                      "shares": _count(data.get("reblogs_count")),
                                      "replies": _count(data.get("replies_count"))}
    else:
        body = json.dumps({"event": "metrics.request", "run_id": run_id,
                           "posts": [{"id": p["id"], "remote_id": p.get("remote_id")} for p in posts]},
                          separators=(",", ":")).encode()
        _, data = await _send("POST", connector.url, content=body, headers={
            "Content-Type": "application/json", "X-Baton-Event": "metrics.request",
            SIGNATURE_HEADER: sign(connector.secret, body)})
        reported = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
        for post in posts:
            entry = reported.get(str(post["id"]))
            if isinstance(entry, dict):
                found[str(post["id"])] = {k: _count(entry.get(k)) for k in METRIC_KEYS}
    return {str(p["id"]): found.get(str(p["id"]), {**dict.fromkeys(METRIC_KEYS, 0), "reported": False})
            | {"reported": str(p["id"]) in found} for p in posts}
