"""The six starter templates load idempotently into the gallery and each completes on the offline model,
answered the way a person would (approve; one request for changes where the template allows it)."""

from __future__ import annotations

import json

from app.engine.hooks import resolve_hook
from app.steps.run_files import store_uploads
from app.templates import store
from app.templates.start import start_template_run
from app.templates.starters import SHIPPED, load_starters
from tests.support.engine import wait_status

PAST = "2020-01-01T09:00:00Z"
INPUTS = {
    "reviewed-report": {"topic": "Why otters hold hands", "audience": "children"},
    "research-team": {
        "question": "Is coffee healthy?",
        "sources": ["WHO report 2023", "a blog post"],
    },
    "week-of-posts": {
        "theme": "Spring gardening",
        "times": [PAST, "2020-01-02T09:00:00Z"],
        "tone": "playful",
    },
    "checklist-approval": {
        "request": "Buy 3 laptops",
        "checklist": ["has a budget line", "has a quote"],
        "amount": 4500,
    },
    "daily-digest": {"topics": ["weather", "markets"], "send_at": PAST},
}


async def _answer_until_done(pool, run_id, first_action="revise") -> dict:
    """Approve every review; the first review that offers it gets one request for changes."""
    asked = False
    for _ in range(20):
        row = await wait_status(pool, run_id, "waiting", "completed", "failed", timeout=60)
        if row["status"] != "waiting":
            return row
        async with pool.connection() as conn:
            hook = await (
                await conn.execute(
                    "SELECT token, actions FROM hooks WHERE run_id = %s AND status = 'waiting'",
                    (run_id,),
                )
            ).fetchone()
            if hook is None:
                continue
            action = "approve"
            if not asked and first_action in hook["actions"]:
                action, asked = first_action, True
            await resolve_hook(conn, hook["token"], action, {"feedback": "more detail please"})
    raise AssertionError("the run kept waiting")


async def test_starters_load_once_and_update_when_their_file_changes(pool, tmp_path):
    async with pool.connection() as conn:
        first = await load_starters(conn)
        again = await load_starters(conn)
        assert set(first) == {p.stem for p in SHIPPED.glob("*.json")} and len(first) == 6
        assert set(again.values()) == {"unchanged"}
        own = json.loads((SHIPPED / "daily-digest.json").read_text())
        own["title"] = "Our digest"
        (tmp_path / "daily-digest.json").write_text(json.dumps(own))
        (tmp_path / "broken.json").write_text('{"title": ""}')
        changed = await load_starters(conn, tmp_path)
        assert changed["daily-digest"] == "updated" and changed["broken"] == "invalid"
        digest = await store.get_template(conn, user_id=None, slug="daily-digest")
        assert (
            digest["title"] == "Our digest"
            and digest["visibility"] == "gallery"
            and digest["owner_id"] is None
        )
        # put it back as shipped for the other tests
        assert (await load_starters(conn))["daily-digest"] == "updated"


async def test_each_starter_completes_on_the_offline_model(pool, worker, user):
    async with pool.connection() as conn:
        await load_starters(conn)
        docs = await store_uploads(
            conn,
            user,
            [
                {
                    "name": "a.txt",
                    "content_type": "text/plain",
                    "data": b"Otters sleep holding hands.",
                },
                {"name": "b.txt", "content_type": "text/plain", "data": b"Sea otters use tools."},
            ],
        )
    inputs = {
        **INPUTS,
        "summarise-documents": {
            "documents": [
                {"artifact_id": docs[0], "name": "a.txt", "size": 27},
                {"artifact_id": docs[1], "name": "b.txt", "size": 21},
            ],
            "focus": "behaviour",
        },
    }
    for slug, values in inputs.items():
        async with pool.connection() as conn:
            run, _ = await start_template_run(conn, user_id=user, slug=slug, input=values)
        done = await _answer_until_done(pool, run.id)
        assert done["status"] == "completed", (slug, done["error"])
        assert done["output"]["completed"] is True, (slug, done["output"])
        assert set(done["output"]["artifacts"]) == {"markdown", "pdf"}, slug
    async with pool.connection() as conn:
        summary = await (
            await conn.execute(
                "SELECT output FROM runs WHERE owner_id = %s AND template_id IS NOT NULL AND input ? 'documents'",
                (user,),
            )
        ).fetchone()
    assert "Otters sleep holding hands" in json.dumps(summary["output"]["outputs"]["summaries"])
    # The week of posts writes its times as people read them, not as the ISO text typed in.
    async with pool.connection() as conn:
        subjects = [
            r["subject"]
            for r in await (
                await conn.execute(
                    "SELECT subject FROM mail_outbox WHERE user_id = %s AND kind = 'template_send'"
                    " ORDER BY id",
                    (user,),
                )
            ).fetchall()
        ]
    assert "Post for Wed 1 Jan 2020, 09:00 UTC: Spring gardening" in subjects
    assert not any("2020-01-01T09" in s for s in subjects)
