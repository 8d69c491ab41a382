"""The deploy check on template runs: a run is replayed against the template version it is pinned
to (editing the template, which saves a new version, puts no run at risk), while a change to the
interpreter's step names — the code that a deploy changes — is reported for the runs it would break."""

from __future__ import annotations

import copy

from app.engine.deploy_check import check_in_flight
from app.templates import interpreter, store
from app.templates.start import start_template_run
from tests.support.engine import wait_status

REVIEWED = {
    "title": "Reviewed note",
    "inputs": [{"name": "topic", "label": "Topic", "kind": "short_text"}],
    "blocks": [
        {
            "id": "draft",
            "kind": "ask_model",
            "system": "You write notes.",
            "prompt": "A note on {{ inputs.topic }}.",
        },
        {"id": "check", "kind": "review", "content": "{{ draft }}"},
        {
            "id": "report",
            "kind": "document",
            "doc_title": "On {{ inputs.topic }}",
            "markdown": "{{ draft }}",
        },
    ],
}


async def risks_of(pool, run_id):
    async with pool.connection() as conn:
        check = await check_in_flight(conn)
    return [r for r in check.at_risk if r.run_id == str(run_id)]


async def test_template_runs_are_checked_against_their_pinned_version(
    pool, worker, user, monkeypatch
):
    async with pool.connection() as conn:
        tpl = await store.create_template(conn, owner_id=user, document=REVIEWED)
        run, _ = await start_template_run(
            conn, user_id=user, slug=tpl["slug"], input={"topic": "herons"}
        )
    await wait_status(pool, run.id, "waiting", timeout=20)
    assert await risks_of(pool, run.id) == []

    edited = copy.deepcopy(REVIEWED)  # the author reorders and renames: version 2
    edited["blocks"][0]["title"] = "Write the first draft"
    edited["blocks"].insert(
        0, {"id": "outline", "kind": "ask_model", "system": "", "prompt": "Outline it."}
    )
    async with pool.connection() as conn:
        saved = await store.save_version(conn, user_id=user, template_id=tpl["id"], document=edited)
    assert saved["current_version"] == 2
    assert await risks_of(pool, run.id) == []  # the run keeps version 1

    real_name = interpreter._name
    monkeypatch.setattr(
        interpreter,
        "_name",
        lambda block, prefix, suffix="": "step " + real_name(block, prefix, suffix),
    )
    [risk] = await risks_of(pool, run.id)
    assert (risk.workflow, risk.problem, risk.template) == (
        "template",
        "diverged",
        {"id": tpl["id"], "version": 1},
    )
    assert risk.journal_step == {"name": "draft", "kind": "step"}
    assert risk.code_step == {"name": "step draft", "kind": "step"}
