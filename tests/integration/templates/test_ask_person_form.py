"""An `ask_person` block's form, decided the way every page decides it (app.web.approvals.decide):
each field is shown, a bad answer is refused field by field with what was typed kept, and the checked
answers become the block's output variable, read by the next block."""

from __future__ import annotations

import json

from app.engine.rows import ReviewHook, as_dict
from app.web.approvals import store as approvals
from app.web.approvals.decide import decide, parse_decision
from app.web.runs.cards import hook_view
from tests.integration.templates.test_template_runs import make_template, start
from tests.support.engine import wait_status

FORM = {
    "title": "Trip request",
    "inputs": [],
    "blocks": [
        {
            "id": "ask",
            "kind": "ask_person",
            "message": "Where to?",
            "fields": [
                {"name": "city", "label": "City", "kind": "short_text"},
                {"name": "nights", "label": "Nights", "kind": "number"},
                {"name": "by_train", "label": "By train", "kind": "yes_no"},
                {
                    "name": "class",
                    "label": "Class",
                    "kind": "choice",
                    "choices": ["first", "second"],
                },
                {"name": "leave", "label": "Leaving", "kind": "datetime"},
                {"name": "bags", "label": "Bags", "kind": "text_list", "required": False},
                {
                    "name": "action",
                    "label": "A field named like a button",
                    "kind": "long_text",
                    "required": False,
                },
            ],
        },
        {"id": "note", "kind": "document", "markdown": "{{ ask.city }} for {{ ask.nights }}"},
    ],
}


async def waiting_hook(pool, run_id, user) -> ReviewHook:
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT id FROM hooks WHERE run_id = %s AND status = 'waiting'", (run_id,)
            )
        ).fetchone()
        email = (
            await (await conn.execute("SELECT email FROM users WHERE id = %s", (user,))).fetchone()
        )["email"]
        return await approvals.hook_for_user(conn, row["id"], user, email)


async def test_ask_person_fields_are_shown_checked_per_field_and_become_the_output(
    pool, worker, user
):
    tpl = await make_template(pool, user, FORM)
    run = await start(pool, user, tpl["slug"])
    await wait_status(pool, run.id, "waiting")
    hook = await waiting_hook(pool, run.id, user)

    shown = hook_view(as_dict(hook))["fields"]
    assert [f["name"] for f in shown] == [
        "field-city",
        "field-nights",
        "field-by_train",
        "field-class",
        "field-leave",
        "field-bags",
        "field-action",
    ]
    assert shown[3]["widget"] == "select" and shown[3]["options"] == ["first", "second"]
    assert shown[0]["required"] and not shown[5]["required"]

    bad = parse_decision(
        hook,
        {
            "action": "submit",
            "field-city": "  ",
            "field-nights": "many",
            "field-class": "third",
            "field-leave": "soon",
            "field-bags": "a\nb",
        },
        "Europe/Paris",
    )
    assert bad.action is None
    assert set(bad.errors) == {"field-city", "field-nights", "field-class", "field-leave"}
    assert bad.errors["field-city"] == "Fill this in."
    assert bad.values["field-nights"] == "many" and bad.values["field-bags"] == "a\nb"  # kept

    good = parse_decision(
        hook,
        {
            "action": "submit",
            "field-city": "Lyon",
            "field-nights": "3",
            "field-by_train": "on",
            "field-class": "second",
            "field-leave": "2026-12-24 18:00",
            "field-bags": "red\n\nblue",
            "field-action": "hi",
        },
        "Europe/Paris",
    )
    assert not good.errors and good.action == "submit"
    async with pool.connection() as conn:
        outcome = await decide(conn, hook, good, decided_by="me@example.test", owner_id=user)
    assert outcome.ok
    done = await wait_status(pool, run.id, "completed", timeout=20)
    assert done["output"]["document"].strip() == "Lyon for 3.0"
    assert done["output"]["outputs"]["ask"] == {
        "city": "Lyon",
        "nights": 3.0,
        "by_train": True,
        "class": "second",
        "leave": "2026-12-24T18:00:00+01:00",
        "bags": ["red", "blue"],
        "action": "hi",
    }


async def test_the_cli_checks_an_answer_like_the_form_and_decides_nothing_wrong(
    pool, worker, user, database_url, tmp_path
):
    from tests.integration.engine.test_cli_runs import baton

    tpl = await make_template(pool, user, FORM)
    run = await start(pool, user, tpl["slug"])
    await wait_status(pool, run.id, "waiting")
    hook = await waiting_hook(pool, run.id, user)
    answer = {
        "city": "Lyon",
        "nights": "many",
        "by_train": False,
        "class": "second",
        "leave": "2026-12-24T18:00Z",
    }
    refused = await baton(
        database_url,
        tmp_path,
        "hooks",
        "resolve",
        hook.token,
        "--action",
        "submit",
        "--data",
        json.dumps(answer),
    )
    assert refused.returncode != 0 and "data.nights" in refused.stderr, refused.stderr
    assert (await waiting_hook(pool, run.id, user)).status == "waiting"
    answer["nights"] = 2
    decided = await baton(
        database_url,
        tmp_path,
        "hooks",
        "resolve",
        hook.token,
        "--action",
        "submit",
        "--data",
        json.dumps(answer),
    )
    assert decided.returncode == 0, decided.stderr
    done = await wait_status(pool, run.id, "completed", timeout=20)
    assert done["output"]["outputs"]["ask"]["nights"] == 2.0
