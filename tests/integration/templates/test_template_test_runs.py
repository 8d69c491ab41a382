"""The builder's "Test run" runs the editor's draft without making a version: the run keeps the exact
draft beside itself (what a resumed run loads), the history is unchanged, and it is a run like any
other (the start path's quota counts it)."""

from __future__ import annotations

import copy
from types import SimpleNamespace

from app.templates import store
from app.web.builder import library
from app.web.runs.start import Started, rerun_run
from tests.integration.templates.test_template_runs import make_template
from tests.support.engine import wait_status


def signed_in(user_id: int) -> SimpleNamespace:
    """The request's user as the builder reads it, working in their personal space."""
    return SimpleNamespace(id=user_id, space=None)


DOC = {
    "title": "Notes",
    "inputs": [{"name": "topic", "label": "Topic", "kind": "short_text"}],
    "blocks": [{"id": "out", "kind": "document", "markdown": "Saved: {{ inputs.topic }}"}],
}


async def test_a_test_run_runs_the_draft_and_makes_no_version(pool, worker, user):
    tpl = await make_template(pool, user, DOC)
    draft = copy.deepcopy(DOC)
    draft["title"] = "Notes (draft)"
    draft["blocks"][0]["markdown"] = "Draft: {{ inputs.topic }}"
    async with pool.connection() as conn:
        t = library.view(tpl, await store.get_document(conn, tpl), draft=draft)
        outcome, _ = await library.start_test(conn, t, draft, {"topic": "owls"}, signed_in(user))
    assert isinstance(outcome, Started)
    done = await wait_status(pool, outcome.run_id, "completed", timeout=20)
    assert done["output"]["document"].strip() == "Draft: owls"
    assert done["template_id"] == tpl["id"] and done["template_version"] is None
    async with pool.connection() as conn:
        assert [
            v["version"]
            for v in await store.list_versions(conn, user_id=user, template_id=tpl["id"])
        ] == [1]
        # Saving a new version later changes nothing for this run: it loads its own draft again.
        await store.save_version(conn, user_id=user, template_id=tpl["id"], document=DOC)
        loaded = await store.run_template_version(conn, outcome.run_id)
        count = await (
            await conn.execute(
                "SELECT count(*) AS n FROM runs WHERE owner_id = %s AND id = %s",
                (user, outcome.run_id),
            )
        ).fetchone()
    assert loaded["draft"] and loaded["document"]["title"] == "Notes (draft)"
    assert loaded["version"] is None
    assert count["n"] == 1  # a run like any other: the quota counts it


async def test_a_template_never_saved_can_be_test_run(pool, worker, user):
    async with pool.connection() as conn:
        t = library.view(None, DOC, draft=DOC)
        outcome, _ = await library.start_test(conn, t, DOC, {"topic": "bats"}, signed_in(user))
        assert isinstance(outcome, Started)
        templates = await (
            await conn.execute("SELECT count(*) AS n FROM templates WHERE owner_id = %s", (user,))
        ).fetchone()
    done = await wait_status(pool, outcome.run_id, "completed", timeout=20)
    assert done["output"]["document"].strip() == "Saved: bats"
    assert done["template_id"] is None and templates["n"] == 0


async def test_an_invalid_draft_is_refused_without_a_run(pool, user):
    bad = {**DOC, "blocks": [{"id": "out", "kind": "document", "markdown": "{{ nope }}"}]}
    async with pool.connection() as conn:
        t = library.view(None, bad, draft=bad)
        outcome, _ = await library.start_test(conn, t, bad, {"topic": "x"}, signed_in(user))
        runs = await (
            await conn.execute("SELECT count(*) AS n FROM runs WHERE owner_id = %s", (user,))
        ).fetchone()
    assert outcome.reason == "invalid_input" and runs["n"] == 0


async def test_a_rerun_of_a_test_run_and_its_rerun_run_the_same_draft(pool, worker, user):
    tpl = await make_template(pool, user, DOC)
    draft = {
        **DOC,
        "blocks": [{"id": "out", "kind": "document", "markdown": "Draft {{ inputs.topic }}"}],
    }
    async with pool.connection() as conn:
        t = library.view(tpl, await store.get_document(conn, tpl), draft=draft)
        outcome, _ = await library.start_test(conn, t, draft, {"topic": "moles"}, signed_in(user))
    run_id = outcome.run_id
    for _ in range(2):  # a rerun, then a rerun of that rerun
        await wait_status(pool, run_id, "completed", timeout=20)
        async with pool.connection() as conn:
            again = await rerun_run(conn, run_id, user_id=user)
        assert isinstance(again, Started)
        run_id = again.run_id
        done = await wait_status(pool, run_id, "completed", timeout=20)
        assert done["output"]["document"].strip() == "Draft moles"
