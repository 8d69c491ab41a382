"""Template runs on the real engine and worker (offline model): every block kind, jump-back reviews,
nested for_each inside if, version pinning, and the refusals of the start path."""

from __future__ import annotations

import copy

import pytest

from app.engine.errors import InputInvalid
from app.engine.hooks import resolve_hook
from app.engine.rows import StartedRun
from app.templates import store
from app.templates.start import start_template_run
from tests.support.engine import hook_token, journal, make_user, wait_status

REPORT = {
    "title": "Reviewed report",
    "inputs": [{"name": "topic", "label": "Topic", "kind": "long_text"}],
    "blocks": [
        {
            "id": "draft",
            "kind": "ask_model",
            "system": "You are a report writer.",
            "prompt": "Write about {{ inputs.topic }}.{% if check.feedback %} Apply: {{ check.feedback }}{% endif %}",
        },
        {
            "id": "check",
            "kind": "review",
            "content": "{{ draft }}",
            "on_changes": "draft",
            "max_rounds": 2,
        },
        {"id": "pause", "kind": "wait", "duration": "1s"},
        {
            "id": "report",
            "kind": "document",
            "doc_title": "On {{ inputs.topic }}",
            "markdown": "{{ draft }}",
        },
    ],
}


async def make_template(pool, user, document, **kw) -> dict:
    async with pool.connection() as conn:
        return await store.create_template(conn, owner_id=user, document=document, **kw)


async def start(pool, user, slug, **values) -> StartedRun:
    async with pool.connection() as conn:
        run, _ = await start_template_run(conn, user_id=user, slug=slug, input=values)
    return run


async def decide(pool, run_id, action, **data):
    async with pool.connection() as conn:
        await resolve_hook(conn, await hook_token(pool, run_id), action, data)


async def test_reviewed_report_revises_once_waits_and_makes_a_pdf(pool, worker, user):
    tpl = await make_template(pool, user, REPORT)
    run = await start(pool, user, tpl["slug"], topic="otters")
    assert run.template_id == tpl["id"] and run.template_version == 1
    await wait_status(pool, run.id, "waiting")
    await decide(pool, run.id, "revise", feedback="shorter please")
    await wait_status(pool, run.id, "waiting")
    await decide(pool, run.id, "approve")
    done = await wait_status(pool, run.id, "completed", timeout=20)
    out = done["output"]
    assert out["completed"] and out["title"] == "On otters"
    assert "shorter please" in out["document"]
    assert set(out["artifacts"]) == {"markdown", "pdf"}
    names = [e["name"] for e in await journal(pool, run.id) if e["kind"] != "now"]
    assert names[:4] == ["load template", "draft", "check", "draft · round 2"]
    assert names[4:7] == ["check · round 2", "pause · round 2", "report · round 2"]
    async with pool.connection() as conn:
        pdf = await (
            await conn.execute(
                "SELECT content_type FROM artifacts WHERE id = %s", (out["artifacts"]["pdf"],)
            )
        ).fetchone()
    assert pdf["content_type"] == "application/pdf"


async def test_a_run_keeps_its_version_when_the_template_is_edited_mid_run(pool, worker, user):
    tpl = await make_template(pool, user, REPORT)
    run = await start(pool, user, tpl["slug"], topic="bees")
    await wait_status(pool, run.id, "waiting")
    edited = copy.deepcopy(REPORT)
    edited["blocks"][3]["doc_title"] = "EDITED {{ inputs.topic }}"
    async with pool.connection() as conn:
        saved = await store.save_version(conn, user_id=user, template_id=tpl["id"], document=edited)
    assert saved["current_version"] == 2
    await decide(pool, run.id, "approve")
    done = await wait_status(pool, run.id, "completed", timeout=20)
    assert done["output"]["title"] == "On bees" and done["template_version"] == 1
    newer = await start(pool, user, tpl["slug"], topic="bees")
    assert newer.template_version == 2


async def test_the_version_a_run_loads_is_journaled_with_the_run_itself(pool, worker, user):
    """The start writes the run's `load template` entry in its own transaction, so the worker replays
    it instead of committing it; the run still loads exactly the version it started with."""
    tpl = await make_template(pool, user, REPORT)
    async with pool.connection() as conn, conn.transaction():
        run, _ = await start_template_run(
            conn, user_id=user, slug=tpl["slug"], input={"topic": "moles"}
        )
        first = await (
            await conn.execute("SELECT * FROM run_steps WHERE run_id = %s", (run.id,))
        ).fetchall()
    assert [(e["seq"], e["name"], e["status"]) for e in first] == [
        (0, "load template", "completed")
    ]
    assert first[0]["output"]["version"] == 1
    assert first[0]["output"]["document"] == {"format_version": 1, **REPORT}
    await wait_status(pool, run.id, "waiting")
    await decide(pool, run.id, "approve")
    done = await wait_status(pool, run.id, "completed", timeout=20)
    entries = await journal(pool, run.id)
    assert [e["name"] for e in entries].count("load template") == 1
    assert entries[0]["started_at"] < done["started_at"]  # written before a worker took the run
    assert done["output"]["title"] == "On moles" and done["template_version"] == 1


async def test_reject_stops_the_run_completed_without_a_document(pool, worker, user):
    tpl = await make_template(pool, user, REPORT)
    run = await start(pool, user, tpl["slug"], topic="x")
    await wait_status(pool, run.id, "waiting")
    await decide(pool, run.id, "reject")
    done = await wait_status(pool, run.id, "completed")
    assert done["output"]["completed"] is False and done["output"]["stopped_at"] == "check"
    assert "document" not in done["output"]


async def test_every_other_block_kind_and_for_each_inside_if(pool, worker, user):
    doc = {
        "title": "All blocks",
        "inputs": [
            {"name": "items", "label": "Items", "kind": "text_list"},
            {"name": "when", "label": "When", "kind": "datetime"},
            {"name": "go", "label": "Go?", "kind": "yes_no"},
        ],
        "blocks": [
            {
                "id": "ask",
                "kind": "ask_person",
                "message": "How many?",
                "fields": [{"name": "count", "label": "Count", "kind": "number"}],
            },
            {
                "id": "big",
                "kind": "if",
                "condition": {"var": "ask.count", "op": "greater_than", "value": 2},
                "then": [
                    {
                        "id": "each",
                        "kind": "for_each",
                        "items": "inputs.items",
                        "as": "thing",
                        "concurrency": 2,
                        "blocks": [
                            {
                                "id": "say",
                                "kind": "ask_model",
                                "prompt": "Describe {{ thing }}",
                                "json_fields": ["summary"],
                            }
                        ],
                    },
                    {
                        "id": "slow",
                        "kind": "for_each",
                        "items": "inputs.items",
                        "blocks": [
                            {"id": "nap", "kind": "wait", "duration": "1s"},
                            {"id": "note", "kind": "document", "markdown": "# {{ item }}"},
                        ],
                    },
                ],
                "else": [{"id": "small", "kind": "ask_model", "prompt": "small"}],
            },
            {"id": "until", "kind": "wait", "until": "inputs.when"},
            {
                "id": "mail",
                "kind": "send",
                "channel": "email",
                "to": "owner",
                "subject": "Done {{ run.date }}",
                "body": "{% for s in each %}{{ s.summary }}\n{% endfor %}",
            },
        ],
    }
    tpl = await make_template(pool, user, doc)
    run = await start(
        pool, user, tpl["slug"], items=["apples", "pears"], when="2020-01-01T00:00:00Z", go=True
    )
    await wait_status(pool, run.id, "waiting")
    await decide(pool, run.id, "submit", count="3")
    done = await wait_status(pool, run.id, "completed", timeout=30)
    outputs = done["output"]["outputs"]
    assert outputs["ask"] == {"count": 3.0}
    assert outputs["big"] == {"branch": "then"} and outputs["small"] is None
    assert [sorted(s) for s in outputs["each"]] == [["summary"], ["summary"]]
    assert "apples" in outputs["each"][0]["summary"]
    assert [n["title"] for n in outputs["slow"]] == ["All blocks", "All blocks"]
    names = [e["name"] for e in await journal(pool, run.id) if e["kind"] != "now"]
    assert "slow[2] nap" in names and "each" in names
    async with pool.connection() as conn:
        mail = await (
            await conn.execute(
                "SELECT subject, body_text FROM mail_outbox WHERE run_id = %s AND kind = %s",
                (run.id, "template_send"),
            )
        ).fetchall()
    assert len(mail) == 1 and "apples" in mail[0]["body_text"]


async def test_bad_input_is_refused_per_field_and_nothing_starts(pool, worker, user):
    tpl = await make_template(pool, user, REPORT)
    with pytest.raises(InputInvalid) as refused:
        await start(pool, user, tpl["slug"], nope=1)
    fields = {e["field"] for e in refused.value.errors}
    assert fields == {"topic", "nope"}


async def test_another_users_private_template_is_not_found(pool, worker, user):
    tpl = await make_template(
        pool, user, REPORT, slug="only-mine"
    )  # no gallery template has this slug
    other = await make_user(pool)
    with pytest.raises(store.TemplateNotFound):
        await start(pool, other, tpl["slug"], topic="x")
    async with pool.connection() as conn:
        with pytest.raises(store.TemplateNotFound):
            await store.get_template(conn, user_id=other, template_id=tpl["id"])
        with pytest.raises(store.TemplateNotFound):
            await store.save_version(conn, user_id=other, template_id=tpl["id"], document=REPORT)


class _ProseModel:
    """A model endpoint that answers prose where the block asked for JSON."""

    offline = None
    model = "prose-model"

    def __init__(self):
        self.calls = 0

    async def complete(self, messages, **kwargs):
        from app.core.llm import Completion

        self.calls += "exactly these fields: facts, source" in messages[-1]["content"]
        return Completion(
            "Sure! Here is a summary, in prose.", tokens_in=5, tokens_out=7, model=self.model
        )


async def test_an_answer_that_is_not_the_requested_json_is_retried_then_fails_the_block_readably(
    pool, worker, user, monkeypatch
):
    from app.core import runtime
    from app.engine.values import RetryPolicy
    from app.steps import model

    monkeypatch.setattr(
        model, "MODEL_RETRY", RetryPolicy(max_attempts=3, initial_s=0.05, factor=1.0)
    )
    fake = _ProseModel()
    previous = runtime.install(runtime.Runtime(runtime.current().settings, fake))
    try:
        tpl = await make_template(
            pool,
            user,
            {
                "title": "JSON please",
                "blocks": [
                    {
                        "id": "facts",
                        "kind": "ask_model",
                        "prompt": "Facts",
                        "json_fields": ["facts", "source"],
                    }
                ],
            },
        )
        run = await start(pool, user, tpl["slug"])
        failed = await wait_status(pool, run.id, "failed", timeout=30)
    finally:
        runtime.install(previous)
    assert fake.calls == 3
    assert (
        "the model's answer is not JSON (expected an object with facts, source)"
        in failed["error"]["message"]
    )
    assert failed["error"].get("step") in (None, "facts")
    # Retry from the failed step, now with a model that answers (the offline one): the run completes.
    from app.engine.commands import retry_run

    async with pool.connection() as conn:
        await retry_run(conn, run.id, owner_id=user)
    done = await wait_status(pool, run.id, "completed", timeout=30)
    assert sorted(done["output"]["outputs"]["facts"]) == ["facts", "source"]


async def test_a_template_run_counts_against_the_quota(pool, worker, user):
    from app.engine.errors import QuotaExceeded

    free = await make_user(pool, "free")
    tpl = await make_template(pool, free, REPORT)
    with pytest.raises(QuotaExceeded):
        await start(pool, free, tpl["slug"], topic="x")
    async with pool.connection() as conn:
        count = await (
            await conn.execute("SELECT count(*) AS n FROM runs WHERE owner_id = %s", (free,))
        ).fetchone()
    assert count["n"] == 0


async def test_a_rerun_of_a_template_run_runs_the_same_pinned_version(pool, worker, user):
    from app.engine import commands

    tpl = await make_template(pool, user, REPORT)
    run = await start(pool, user, tpl["slug"], topic="owls")
    await wait_status(pool, run.id, "waiting")
    async with pool.connection() as conn:
        source, plan = await commands.plan_rerun(conn, run.id, owner_id=user, from_step=None)
        rerun, created = await commands.start_run(
            conn, owner_id=user, workflow=source.workflow, input=source.input, rerun=plan
        )
    assert created and rerun.template_id == tpl["id"] and rerun.template_version == 1
    waiting = await wait_status(pool, rerun.id, "waiting")
    assert waiting["waiting_for"] == "check"
