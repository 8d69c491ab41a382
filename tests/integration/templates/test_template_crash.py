"""A `baton worker` SIGKILLed in the middle of a template run: another worker resumes it, and no finished
block runs again (each mail is queued once, each document saved once, each journal position once)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from app.engine.hooks import resolve_hook
from app.templates import store
from app.templates.format import parse
from app.templates.start import TemplateChoice, start_template_run
from tests.integration.engine.test_engine_crash import check_journal, crash_env, recover_after_kill  # noqa: F401
from tests.integration.publishing.test_template_sends import HOOK_KEY, WebhookSink
from tests.support.engine import hook_token, journal, wait_status

pytestmark = pytest.mark.slow

DOC = {
    "title": "Crash me",
    "inputs": [{"name": "topic", "label": "Topic", "kind": "short_text"}],
    "blocks": [
        {"id": "draft", "kind": "ask_model", "prompt": "About {{ inputs.topic }}"},
        {"id": "first", "kind": "document", "doc_title": "First", "markdown": "{{ draft }}"},
        {
            "id": "mail_one",
            "kind": "send",
            "channel": "email",
            "to": "owner",
            "subject": "one",
            "body": "{{ draft }}",
        },
        {"id": "pause", "kind": "wait", "duration": "3s"},
        {"id": "check", "kind": "review", "content": "{{ draft }}"},
        {
            "id": "second",
            "kind": "document",
            "doc_title": "Second",
            "markdown": "{{ draft }} again",
        },
        {
            "id": "mail_two",
            "kind": "send",
            "channel": "email",
            "to": "owner",
            "subject": "two",
            "body": "done",
        },
    ],
}


async def _outcome(pool, run_id) -> tuple[Counter, Counter]:
    async with pool.connection() as conn:
        mails = await (
            await conn.execute(
                "SELECT subject FROM mail_outbox WHERE run_id = %s AND kind = 'template_send'",
                (run_id,),
            )
        ).fetchall()
        files = await (
            await conn.execute("SELECT name FROM artifacts WHERE run_id = %s", (run_id,))
        ).fetchall()
    return Counter(m["subject"] for m in mails), Counter(f["name"] for f in files)


async def test_sigkill_while_sleeping_and_while_waiting_resumes_without_repeating_blocks(crash_env):  # noqa: F811
    pool, workers, user = crash_env
    async with pool.connection() as conn:
        tpl = await store.create_template(conn, owner_id=user, document=DOC)
        run, _ = await start_template_run(
            conn, user_id=user, slug=tpl["slug"], input={"topic": "otters"}
        )
    proc = workers.start()
    await wait_status(pool, run.id, "sleeping", timeout=60)
    await recover_after_kill(pool, workers, proc)
    await wait_status(pool, run.id, "waiting", timeout=60)
    proc = workers.procs[-1]
    await recover_after_kill(pool, workers, proc)
    async with pool.connection() as conn:
        await resolve_hook(conn, await hook_token(pool, run.id), "approve")
    done = await wait_status(pool, run.id, "completed", timeout=60)
    assert done["output"]["completed"] is True and done["output"]["title"] == "Second"
    mails, files = await _outcome(pool, run.id)
    assert mails == Counter({"one": 1, "two": 1})
    assert files == Counter({"first.md": 1, "first.pdf": 1, "second.md": 1, "second.pdf": 1})
    entries = [e for e in await journal(pool, run.id) if e["kind"] not in ("now", "uuid")]
    assert all(e["attempts"] == 1 for e in entries), [(e["name"], e["attempts"]) for e in entries]
    assert [e["name"] for e in entries] == [
        "load template",
        "draft",
        "first",
        "mail_one",
        "pause",
        "check",
        "second",
        "mail_two",
    ]
    await check_journal(pool, run.id)


async def test_sigkill_mid_webhook_of_a_draft_test_run_sends_once_and_keeps_the_draft(crash_env):  # noqa: F811
    """A builder's test run (the draft, no version) whose worker dies while its webhook POST is in
    flight: the next worker loads the same draft and repeats the POST with the same Idempotency-Key."""
    pool, workers, user = crash_env
    workers.env["BATON_CONNECTOR_ALLOW"] = "127.0.0.1"
    with WebhookSink(hold_first=30) as sink:
        saved = {
            "title": "Saved",
            "inputs": [{"name": "topic", "label": "Topic", "kind": "short_text"}],
            "blocks": [{"id": "doc", "kind": "document", "markdown": "saved {{ inputs.topic }}"}],
        }
        draft = {
            **saved,
            "title": "Draft",
            "blocks": [
                {"id": "doc", "kind": "document", "markdown": "draft {{ inputs.topic }}"},
                {
                    "id": "hook",
                    "kind": "send",
                    "channel": "webhook",
                    "url": sink.url,
                    "secret": HOOK_KEY,
                    "body": "{{ doc }}",
                },
            ],
        }
        async with pool.connection() as conn:
            tpl = await store.create_template(conn, owner_id=user, document=saved)
            checked = await store.check_document(conn, user, draft)
            choice = TemplateChoice(tpl["id"], None, tpl["slug"], parse(checked), draft=checked)
            run, _ = await start_template_run(
                conn, user_id=user, template=choice, input={"topic": "otters"}
            )
        proc = workers.start()
        await asyncio.to_thread(sink.received.wait, 60)
        await recover_after_kill(pool, workers, proc)
        done = await wait_status(pool, run.id, "completed", timeout=60)
    assert done["output"]["template"] == "Draft" and done["template_version"] is None
    assert done["output"]["document"].strip() == "draft otters"
    assert len(sink.requests) == 2 and len({r["key"] for r in sink.requests}) == 1
    assert all(r["signed"] for r in sink.requests)
    async with pool.connection() as conn:
        versions = await store.list_versions(conn, user_id=user, template_id=tpl["id"])
    assert [v["version"] for v in versions] == [1]
    await check_journal(pool, run.id)
