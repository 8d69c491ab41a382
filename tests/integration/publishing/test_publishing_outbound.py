"""Connectors against server-side request forgery, over real HTTP on loopback listeners:
a name that rebinds between the check and the connect, a refusal body carrying a secret, and the
connectors page refusing internal addresses. The allowlist is set per test as an admin would set
BATON_CONNECTOR_ALLOW (or left empty, the default)."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.core.outbound import Allowlist
from app.engine.errors import FatalError
from app.steps.publishers.clients import PublishError, publish
from app.steps.publishers.connectors import Connector
from app.web.auth import api_keys as keys
from tests.integration.publishing.conftest import SECRET, add_connector, rows, start_schedule
from tests.integration.publishing.receiver import Receiver
from tests.integration.workflows.conftest import waiting_hook
from tests.integration.workflows.web import signed_in
from tests.support.fixtures import model_runtime
from tests.support.web import htmx, token

USER_VISIBLE = (
    "runs",
    "run_steps",
    "run_events",
    "hooks",
    "notifications",
    "mail_outbox",
    "publishing_posts",
    "messages",
)
POST = {"id": 1, "number": 1, "body": "Hello", "publish_at": "2030-01-01T09:00:00+00:00"}


class Listener:
    """An HTTP server on one loopback address that records what reaches it and answers 200 {}."""

    def __init__(self, address: str, port: int = 0):
        self.requests: list[dict] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                listener.requests.append({"path": self.path, "host": self.headers.get("Host")})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer((address, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rebinding(monkeypatch):
    """The system resolver, except that `rebind.test` answers `answers[0]` to the first lookup and
    `answers[1]` to every later one (an attacker's DNS server with a zero TTL)."""
    real = socket.getaddrinfo
    state = {"answers": [], "lookups": 0}

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        state["lookups"] += 1
        address = state["answers"][min(state["lookups"], 2) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return state


def webhook(url: str) -> Connector:
    return Connector(1, "webhook", "hook", url, SECRET)


async def test_a_name_rebinding_to_loopback_is_never_connected_there(model_settings, rebinding):
    """Allowlist off: the check sees a public address, a second lookup would say 127.0.0.1. The
    connection goes to the checked public address (unreachable here) and never to the listener."""
    listener = Listener("127.0.0.1")
    rebinding["answers"] = ["93.184.216.34", "127.0.0.1"]
    try:
        async with model_runtime(dataclasses.replace(model_settings, connector_allow=Allowlist())):
            with pytest.raises(PublishError, match="could not reach rebind.test"):
                await publish(
                    webhook(f"http://rebind.test:{listener.port}/hook"),
                    POST,
                    idempotency_key="k1",
                    run_id="r1",
                )
            # The same listener by its own address is refused outright.
            with pytest.raises(FatalError, match="loopback"):
                await publish(
                    webhook(f"http://127.0.0.1:{listener.port}/hook"),
                    POST,
                    idempotency_key="k2",
                    run_id="r1",
                )
    finally:
        listener.close()
    assert rebinding["lookups"] == 1 and listener.requests == []


async def test_the_connection_goes_to_the_checked_address_with_the_names_host_header(
    model_settings, rebinding
):
    """Allowlist 127.0.0.1 only: the name first answers 127.0.0.1 (allowed), then 127.0.0.2 (a
    second listener on the same port). Only the checked address is reached, with Host: the name."""
    checked = Listener("127.0.0.1")
    other = Listener("127.0.0.2", checked.port)
    rebinding["answers"] = ["127.0.0.1", "127.0.0.2"]
    try:
        async with model_runtime(
            dataclasses.replace(model_settings, connector_allow=Allowlist.parse("127.0.0.1"))
        ):
            await publish(
                webhook(f"http://rebind.test:{checked.port}/hook"),
                POST,
                idempotency_key="k1",
                run_id="r1",
            )
            # The next call looks the name up again (127.0.0.2 now) and refuses it: not allowed.
            with pytest.raises(FatalError, match=r"rebind.test resolves to a loopback"):
                await publish(
                    webhook(f"http://rebind.test:{checked.port}/hook"),
                    POST,
                    idempotency_key="k2",
                    run_id="r1",
                )
    finally:
        checked.close()
        other.close()
    assert checked.requests == [{"path": "/hook", "host": f"rebind.test:{checked.port}"}]
    assert other.requests == [] and rebinding["lookups"] == 2


async def test_a_refusal_body_with_a_secret_reaches_the_log_only(
    app_client, pool, worker, writer, model_settings, caplog
):
    caplog.set_level(logging.INFO)
    leak = "INTERNAL-SECRET: db_password=hunter2-a9f3"
    _, user = await signed_in(app_client, pool)
    async with pool.connection() as conn:
        key, _ = await keys.create_key(conn, user, "tests")
    with Receiver(secret=SECRET) as rx:
        await add_connector(pool, model_settings, user, "webhook", rx.url, SECRET)
        rx.fail_next(400, saying=leak)
        run = await start_schedule(pool, user, posts=1, ahead=1)
        async with pool.connection() as conn:
            from app.engine.hooks import resolve_hook

            await resolve_hook(
                conn, (await waiting_hook(pool, run.id, "review posts"))["token"], "approve", {}
            )
        failed = await waiting_hook(pool, run.id, "post 1 failed", timeout=20)
    assert "refused with 400 Bad Request" in failed["show"]["content"]
    seen = {
        "hook": json.dumps(failed["show"]),
        "steps": json.dumps(
            [
                dict(r)
                for r in await rows(
                    pool,
                    "SELECT name, output, error, detail FROM run_steps WHERE run_id = %s",
                    run.id,
                )
            ],
            default=str,
        ),
        "run page": (await app_client.get(f"/workflows/{run.id}")).text,
        "card": (
            await app_client.get(f"/chat/runs/{run.id}/card", headers={"HX-Request": "true"})
        ).text,
        "api": (
            await app_client.get(
                f"/api/v1/runs/{run.id}", headers={"Authorization": f"Bearer {key}"}
            )
        ).text,
    }
    assert "refused with 400" in seen["run page"] and '"status"' in seen["api"]
    for where, text in seen.items():
        assert "hunter2" not in text and "INTERNAL-SECRET" not in text, where
    for table in USER_VISIBLE:  # nor anything stored that a page, an email or the API could show
        [found] = await rows(
            pool, f"SELECT count(*) AS n FROM {table} t WHERE t::text LIKE '%%hunter2%%'"
        )
        assert found["n"] == 0, table
    assert any(getattr(r, "body", "").find("hunter2") >= 0 for r in caplog.records), (
        "the details go to the log"
    )


async def test_the_connectors_page_refuses_internal_addresses(app_client, pool):
    await signed_in(app_client, pool)
    csrf = await token(app_client, "/settings/connectors")
    for n, url in enumerate(
        (
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://100.100.100.200/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://10.0.0.5/hook",
            "http://[::ffff:169.254.169.254]/",
            "http://0x7f000002/",
        )
    ):
        answer = await app_client.post(
            "/settings/connectors",
            headers=htmx(csrf),
            data={
                "kind": "webhook",
                "name": f"bad {n}",
                "url": url,
                "secret": "",
                "_csrf_token": csrf,
            },
        )
        assert answer.status_code == 422 and "may not reach" in answer.text, url
    # 127.0.0.1 is what these tests' settings allow (BATON_CONNECTOR_ALLOW=127.0.0.1).
    answer = await app_client.post(
        "/settings/connectors",
        headers=htmx(csrf),
        data={
            "kind": "webhook",
            "name": "local",
            "url": "http://127.0.0.1:9/hook",
            "secret": "",
            "_csrf_token": csrf,
        },
    )
    assert answer.status_code == 200 and "local" in answer.text
    async with pool.connection() as conn:
        names = {
            r["name"] for r in await (await conn.execute("SELECT name FROM connectors")).fetchall()
        }
    assert "local" in names and not any(name.startswith("bad ") for name in names)
