"""The reviewed-content workflow on a real worker and the scripted model: the revise loop, reject,
the revision limit, expiry then reopen, the PDF, and what people hear about it."""

from __future__ import annotations

import asyncio
import subprocess

from app.engine.hooks import resolve_hook
from tests.integration.workflows.conftest import waiting_hook
from tests.support.engine import make_user, start, wait_status


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


async def decide(pool, hook, action, **data):
    async with pool.connection() as conn:
        return await resolve_hook(conn, hook["token"], action, data, decided_by="tester")


async def rows(pool, sql, *args):
    async with pool.connection() as conn:
        return await (await conn.execute(sql, args)).fetchall()


async def test_revise_then_approve_produces_the_document_and_its_pdf(pool, worker, agents):
    user = await make_user(pool, "pro")
    run = await start(pool, user, "content-generation", prompt="A short report on tidal energy")
    first = await waiting_hook(pool, run.id, "review draft")
    assert first["actions"] == ["approve", "revise", "reject"]
    assert "The first draft" in first["show"]["content"]
    await decide(pool, first, "revise", feedback="Mention the Severn estuary")

    second = await waiting_hook(pool, run.id, "review revision 1")
    assert "applying: Mention the Severn estuary" in second["show"]["content"]
    await decide(pool, second, "approve")

    done = await wait_status(pool, run.id, "completed")
    output = done["output"]
    assert output["approved"] is True and output["revisions"] == 1
    assert output["document"].startswith("# A short report on tidal energy")
    assert "Mention the Severn estuary" in output["document"]
    assert "Generated with AI assistance" in output["document"]

    # Model steps journal their tokens; the run adds them up.
    steps = await rows(
        pool,
        "SELECT name, tokens_in, tokens_out, model FROM run_steps WHERE run_id = %s AND model IS NOT NULL ORDER BY seq",
        run.id,
    )
    assert [s["name"] for s in steps] == ["write draft", "revise draft (1)"]
    assert [s["tokens_in"] for s in steps] == [40, 60] and all(s["tokens_out"] > 0 for s in steps)
    assert done["tokens_in"] == 100

    files = await rows(
        pool,
        "SELECT id, name, content_type, size, data, owner_id FROM artifacts WHERE run_id = %s ORDER BY name",
        run.id,
    )
    assert [f["name"] for f in files] == [
        "a-short-report-on-tidal-energy.md",
        "a-short-report-on-tidal-energy.pdf",
    ]
    assert {str(f["id"]) for f in files} == set(output["artifacts"].values())
    pdf = bytes(files[1]["data"])
    assert (
        pdf.startswith(b"%PDF-") and files[1]["size"] == len(pdf) and files[1]["owner_id"] == user
    )
    text = await asyncio.to_thread(pdf_text, pdf)
    assert "A short report on tidal energy" in text
    assert "Mention the Severn estuary" in text
    assert "Generated with AI assistance" in text


async def test_reject_completes_without_approval(pool, worker, agents):
    user = await make_user(pool, "pro")
    run = await start(pool, user, "content-generation", prompt="Something to reject")
    await decide(pool, await waiting_hook(pool, run.id, "review draft"), "reject")
    done = await wait_status(pool, run.id, "completed")
    assert done["output"]["approved"] is False
    assert await rows(pool, "SELECT 1 FROM artifacts WHERE run_id = %s", run.id) == []


async def test_the_last_allowed_revision_offers_only_approve_or_reject(pool, worker, agents):
    user = await make_user(pool, "pro")
    run = await start(pool, user, "content-generation", prompt="Limited revisions", max_revisions=1)
    await decide(
        pool, await waiting_hook(pool, run.id, "review draft"), "revise", feedback="Shorter"
    )
    last = await waiting_hook(pool, run.id, "review revision 1")
    assert last["actions"] == ["approve", "reject"]
    assert "last revision" in last["show"]["note"]


async def test_an_expired_review_waits_to_be_reopened_with_a_fresh_hook(pool, worker, agents):
    user = await make_user(pool, "pro")
    run = await start(
        pool, user, "content-generation", prompt="Expires quickly", review_timeout="3s"
    )
    first = await waiting_hook(pool, run.id, "review draft")
    expired = await waiting_hook(pool, run.id, "review expired", timeout=8)
    assert expired["actions"] == ["reopen"] and expired["show"]["state"] == "expired"
    assert expired["expires_at"] is not None  # an expired review can be reopened for 30 days
    [old] = await rows(pool, "SELECT status FROM hooks WHERE id = %s", first["id"])
    assert old["status"] == "expired"

    await decide(pool, expired, "reopen")
    again = await waiting_hook(pool, run.id, "review draft (reopened)")
    assert again["token"] != first["token"] and again["expires_at"] > first["expires_at"]
    await decide(pool, again, "approve")
    assert (await wait_status(pool, run.id, "completed"))["output"]["approved"] is True


async def test_waiting_hooks_mail_their_reviewer_and_ring_the_bell(pool, worker, agents):
    user = await make_user(pool, "pro")
    run = await start(
        pool, user, "content-generation", prompt="Tell someone", reviewer_email="Boss@Example.com"
    )
    hook = await waiting_hook(pool, run.id, "review draft")
    [mail] = await rows(pool, "SELECT * FROM mail_outbox WHERE hook_id = %s", hook["id"])
    assert mail["to_addr"] == "boss@example.com" and mail["kind"] == "hook_waiting"
    assert (
        f"/review/{hook['token']}" in mail["body_text"]
        and mail["subject"] == "Review needed: Tell someone"
    )
    [note] = await rows(pool, "SELECT * FROM notifications WHERE hook_id = %s", hook["id"])
    assert note["user_id"] == user and note["kind"] == "approval_needed"

    await decide(pool, hook, "approve")
    await wait_status(pool, run.id, "completed")
    kinds = [
        r["kind"]
        for r in await rows(
            pool, "SELECT kind FROM notifications WHERE run_id = %s ORDER BY id", run.id
        )
    ]
    assert kinds == ["approval_needed", "run_completed"]
