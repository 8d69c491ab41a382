"""No input to `POST /hooks/t/<id>` is a 500: hostile ids, headers and bodies each get their
documented 4xx; and concurrent retries of one delivery (same Idempotency-Key) start one run."""

from __future__ import annotations

import asyncio

import httpx

from app.web.signed_json import signature
from tests.integration.triggers.conftest import runs_of
from tests.support.engine import make_user

JSON = {"Content-Type": "application/json"}


async def test_hostile_deliveries_are_answered_never_with_a_500(server, pool, trigger):
    owner = await make_user(pool)
    row, secret = await trigger(owner, mapping={"topic": "/a/0/b", "times": "/n"})
    bearer, token = await trigger(owner, auth_mode="bearer")
    url = f"/hooks/t/{row['id']}"
    bodies = [
        b'{"a": [{"b": {"deep": 1}}]}',
        b'{"a": [{"b": "\\u0000"}]}',
        b'{"n": 1e400}',
        b'{"n": ' + b"9" * 5000 + b"}",
        b"[" * 40 + b"]" * 40,
        b'{"a": "' + "é".encode() * 1000 + b'"}',
        b"\x00\x01",
        b'{"a": [{"b": "ok"}], "n": -1}',
        b'{"a": [{"b": "' + b"x" * 100 + b'"}]}',
        b"null",
        b'{"a": {"0": {"b": "object not list"}}}',
    ]
    async with httpx.AsyncClient(base_url=server.url) as client:
        answers = []
        for body in bodies:
            answers.append(
                await client.post(
                    url, content=body, headers=JSON | {"X-Baton-Signature": signature(secret, body)}
                )
            )
        for headers in (
            {"X-Baton-Signature": "sha256=" + "zz" * 32},
            {"X-Baton-Signature": "x" * 10_000},
            {"X-Baton-Signature": "sha256=é".encode()},
            {"Content-Type": "text/plain"},
            {"Content-Type": "application/json; charset=bogus"},
        ):
            answers.append(await client.post(url, content=b"{}", headers=headers))
        body = b'{"a": [{"b": "fine"}]}'
        for key in ("", "k" * 10_000, "in side", "ü".encode()):
            answers.append(
                await client.post(
                    url,
                    content=body,
                    headers={"X-Baton-Signature": signature(secret, body), "Idempotency-Key": key},
                )
            )
        for auth in (
            "Bearer",
            "Bearer  x",
            "Bearer " + "x" * 10_000,
            "Basic Zm9vOmJhcg==",
            f"Bearer {token}\u00e9",
        ):
            answers.append(
                await client.post(
                    f"/hooks/t/{bearer['id']}",
                    content=b"{}",
                    headers={"Authorization": auth.encode()},
                )
            )
        for odd_id in (
            "x" * 5000,
            "%00",
            "..%2f..%2fetc",
            "00000000-0000-0000-0000-00000000000g",
            str(row["id"]).upper(),
        ):
            answers.append(await client.post(f"/hooks/t/{odd_id}", content=b"{}", headers=JSON))
        answers.append(await client.put(url, content=b"{}"))
    statuses = [a.status_code for a in answers]
    assert all(400 <= s < 500 for s in statuses if s != 202), statuses
    for answer in answers:
        if answer.status_code >= 400:
            assert answer.json()["error"]["code"], answer.text


async def test_concurrent_retries_of_one_delivery_start_one_run(server, pool, worker, trigger):
    owner = await make_user(pool)
    row, secret = await trigger(owner)
    body = b'{"topic": "retried"}'
    headers = JSON | {"X-Baton-Signature": signature(secret, body), "Idempotency-Key": "evt_123"}
    async with httpx.AsyncClient(base_url=server.url) as client:
        answers = await asyncio.gather(
            *[client.post(f"/hooks/t/{row['id']}", content=body, headers=headers) for _ in range(6)]
        )
    assert sorted(a.status_code for a in answers) == [200] * 5 + [202]
    assert len({a.json()["run_id"] for a in answers}) == 1
    assert len(await runs_of(pool, owner)) == 1
