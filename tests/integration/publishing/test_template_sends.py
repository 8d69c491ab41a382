"""A template's `send` block over real HTTP on loopback: a publish through one of the owner's
connectors and a signed webhook POST each reach the receiver exactly once per run, also when the
first attempt fails and the step is retried (the retry carries the same Idempotency-Key), and the
SSRF guard refuses an address the admin did not allow (nothing is sent, the run fails saying why).
These tests live beside the publishing tests for their settings: BATON_CONNECTOR_ALLOW=127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.templates import store
from app.templates.start import start_template_run
from tests.integration.publishing.conftest import SECRET, add_connector
from tests.integration.publishing.receiver import Receiver
from tests.support.engine import wait_status

HOOK_KEY = "template-webhook-key"


class WebhookSink:
    """Records each POST (headers, body, whether its signature is right); answers `fail` first."""

    def __init__(self, *fail: int, hold_first: float = 0.0):
        self.requests: list[dict] = []
        self.fail = list(fail)
        self.hold_first = hold_first  # the first request is recorded, then held before its answer
        self.received = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                good = "sha256=" + hmac.new(HOOK_KEY.encode(), raw, hashlib.sha256).hexdigest()
                sink.requests.append(
                    {
                        "key": self.headers.get("Idempotency-Key"),
                        "signed": hmac.compare_digest(
                            self.headers.get("X-Baton-Signature", ""), good
                        ),
                        "body": json.loads(raw),
                    }
                )
                sink.received.set()
                if len(sink.requests) == 1 and sink.hold_first:
                    time.sleep(sink.hold_first)
                status = sink.fail.pop(0) if sink.fail else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True  # a held answer does not keep the test waiting
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/in"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def doc(send: dict) -> dict:
    return {
        "title": "Sender",
        "inputs": [{"name": "topic", "label": "Topic", "kind": "short_text"}],
        "blocks": [
            {"id": "draft", "kind": "document", "markdown": "About {{ inputs.topic }}"},
            {
                "id": "out",
                "kind": "send",
                "subject": "On {{ inputs.topic }}",
                "body": "{{ draft }}",
                **send,
            },
        ],
    }


async def run_template(pool, user, document: dict, topic: str = "otters") -> dict:
    async with pool.connection() as conn:
        tpl = await store.create_template(conn, owner_id=user, document=document)
        run, _ = await start_template_run(
            conn, user_id=user, slug=tpl["slug"], input={"topic": topic}
        )
    return run


async def test_a_signed_webhook_is_sent_once_even_when_retried(pool, worker, user):
    with WebhookSink(500) as sink:
        run = await run_template(
            pool, user, doc({"channel": "webhook", "url": sink.url, "secret": HOOK_KEY})
        )
        done = await wait_status(pool, run.id, "completed", timeout=30)
    assert len(sink.requests) == 2  # the 500, then the retry
    assert all(r["signed"] for r in sink.requests)
    assert len({r["key"] for r in sink.requests}) == 1  # one send: the retry says so
    body = sink.requests[-1]["body"]
    assert body["event"] == "template.send" and body["run_id"] == str(run.id)
    assert body["subject"] == "On otters" and "About otters" in body["body"]
    assert done["output"]["outputs"]["out"]["status"] == 200
    # The run's timeline shows each step's inputs to whoever sees the run (a shared template's
    # runner, a team): the webhook's address and key stay out of them.
    async with pool.connection() as conn:
        shown = await (
            await conn.execute(
                "SELECT detail::text AS d FROM run_steps WHERE run_id = %s", (run.id,)
            )
        ).fetchall()
    assert all(sink.url not in (r["d"] or "") and HOOK_KEY not in (r["d"] or "") for r in shown)
    assert any("About otters" in (r["d"] or "") for r in shown)  # the payload is still shown


async def test_a_publish_through_a_connector_is_published_once(pool, worker, user, model_settings):
    with Receiver(secret=SECRET) as rx:
        await add_connector(pool, model_settings, user, "webhook", rx.url, SECRET, name="blog")
        rx.fail_next(503)
        run = await run_template(pool, user, doc({"channel": "publish", "connector": "blog"}))
        done = await wait_status(pool, run.id, "completed", timeout=30)
    assert len(rx.deliveries) == 2 and len({d["key"] for d in rx.deliveries}) == 1
    assert len(rx.published) == 1
    (published,) = rx.published.values()
    assert "About otters" in published["text"]
    assert done["output"]["outputs"]["out"]["channel"] == "publish"


async def test_the_ssrf_guard_refuses_an_address_not_allowed(pool, worker, user):
    run = await run_template(
        pool, user, doc({"channel": "webhook", "url": "http://169.254.169.254/latest/meta-data"})
    )
    failed = await wait_status(pool, run.id, "failed", timeout=30)
    async with pool.connection() as conn:
        steps = await (
            await conn.execute(
                "SELECT name, attempts FROM run_steps WHERE run_id = %s AND name = 'out'",
                (run.id,),
            )
        ).fetchall()
    assert failed["error"]["step"] == "out"
    assert "169.254.169.254 is a cloud metadata address" in failed["error"]["message"]
    assert [s["attempts"] for s in steps] == [1]  # refused at once, never retried


async def test_a_publish_through_a_connector_the_owner_lacks_is_refused_at_save(pool, user):
    async with pool.connection() as conn:
        with pytest.raises(store.TemplateInvalid) as refused:
            await store.create_template(
                conn, owner_id=user, document=doc({"channel": "publish", "connector": "nope"})
            )
    assert [p.path for p in refused.value.problems] == ["blocks.1.connector"]
