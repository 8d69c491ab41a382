"""The one start path of the web (app/web/runs/start.py), against real Postgres: what each entry
(picker, slash command, proposal, upload, API) relies on — the same refusals in the same words,
nothing left behind by a refusal, one run per idempotency key, no run in someone else's chat."""

from __future__ import annotations

import app.workflows.catalog  # noqa: F401  (registers the workflows)
from app.engine.errors import InputInvalid, QuotaExceeded
from app.web.runs.start import InChat, Refusal, Refused, Started, start_run
from tests.support.engine import make_user

WORKFLOW = "content-generation"


async def _counts(conn, user_id: int) -> dict:
    return await (
        await conn.execute(
            "SELECT (SELECT count(*) FROM runs WHERE owner_id = %(u)s) AS runs, "
            "(SELECT count(*) FROM conversations WHERE user_id = %(u)s) AS chats, "
            "(SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.user_id = %(u)s) "
            "AS messages",
            {"u": user_id},
        )
    ).fetchone()


async def test_a_run_started_in_a_new_chat_gets_the_chat_the_note_and_a_title(pool):
    user = await make_user(pool, tier="pro")
    async with pool.connection() as conn:
        started = await start_run(
            conn,
            workflow=WORKFLOW,
            input={"prompt": "Night  trains\nin Europe"},
            user_id=user,
            chat=InChat(None, note="/report Night trains in Europe"),
        )
        assert isinstance(started, Started) and started.created
        run = await (
            await conn.execute(
                "SELECT chat_id, title, status FROM runs WHERE id = %s", (started.run_id,)
            )
        ).fetchone()
        chat = await (
            await conn.execute(
                "SELECT title FROM conversations WHERE id = %s", (started.conversation_id,)
            )
        ).fetchone()
        note = await (
            await conn.execute(
                "SELECT role, content, conversation_id FROM messages WHERE id = %s",
                (started.note_id,),
            )
        ).fetchone()
    assert run == {
        "chat_id": started.conversation_id,
        "title": "Night trains in Europe",
        "status": "queued",
    }
    assert chat["title"] == "Night trains in Europe"
    assert note == {
        "role": "user",
        "content": "/report Night trains in Europe",
        "conversation_id": started.conversation_id,
    }


async def test_refusals_are_typed_worded_once_and_leave_nothing_behind(pool):
    free = await make_user(pool, tier="free")
    pro = await make_user(pool, tier="pro")
    async with pool.connection() as conn:
        quota = await start_run(
            conn,
            workflow=WORKFLOW,
            input={"prompt": "Anything"},
            user_id=free,
            chat=InChat(None, note="/report Anything"),
        )
        linked = await start_run(
            conn, workflow=WORKFLOW, input={"prompt": "Anything"}, user_id=free
        )
        invalid = await start_run(
            conn, workflow=WORKFLOW, input={"prompt": ""}, user_id=pro, chat=InChat(None)
        )
        hidden = await start_run(conn, workflow="selftest", input={}, user_id=pro)
        unknown = await start_run(conn, workflow="no-such-flow", input={}, user_id=pro)
        assert await _counts(conn, free) == {"runs": 0, "chats": 0, "messages": 0}
        assert await _counts(conn, pro) == {"runs": 0, "chats": 0, "messages": 0}
    for refused in (quota, linked):
        assert isinstance(refused, Refused) and refused.reason == "quota"
        assert (
            refused.message
            == "Cannot start the workflow: monthly workflow limit reached (0 on Free)."
        )
        assert isinstance(refused.error, QuotaExceeded)
    assert isinstance(invalid, Refused) and invalid.reason == "invalid_input"
    assert isinstance(invalid.error, InputInvalid) and set(invalid.fields) == {"prompt"}
    assert [hidden.reason, unknown.reason] == ["no_workflow", "no_workflow"]


async def test_one_run_per_idempotency_key(pool):
    user = await make_user(pool, tier="pro")
    async with pool.connection() as conn:
        first = await start_run(
            conn, workflow=WORKFLOW, input={"prompt": "once"}, user_id=user, idempotency_key="k-1"
        )
        again = await start_run(
            conn, workflow=WORKFLOW, input={"prompt": "once"}, user_id=user, idempotency_key="k-1"
        )
        assert (await _counts(conn, user))["runs"] == 1
    assert first.created and not again.created and again.run_id == first.run_id


async def test_someone_elses_chat_is_refused_whichever_way_it_is_named(pool):
    owner, other = await make_user(pool, tier="pro"), await make_user(pool, tier="pro")
    async with pool.connection() as conn:
        chat_id = (
            await (
                await conn.execute(
                    "INSERT INTO conversations (user_id, title) VALUES (%s, 'Mine') RETURNING id",
                    (owner,),
                )
            ).fetchone()
        )["id"]
        by_id = await start_run(
            conn, workflow=WORKFLOW, input={"prompt": "Anything"}, user_id=other, chat=chat_id
        )
        in_chat = await start_run(
            conn,
            workflow=WORKFLOW,
            input={"prompt": "Anything"},
            user_id=other,
            chat=InChat(chat_id, note="/report Anything"),
        )
        assert await _counts(conn, other) == {"runs": 0, "chats": 0, "messages": 0}
        assert (await _counts(conn, owner))["messages"] == 0
    assert [by_id.reason, in_chat.reason] == ["no_chat", "no_chat"]


async def test_a_caller_rolls_its_own_writes_back_with_the_refusal(pool):
    """What uploads do: files stored first, then the start; a refusal takes the files with it."""
    user = await make_user(pool, tier="free")
    async with pool.connection() as conn:
        try:
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO conversations (user_id, title) VALUES (%s, 'written first')",
                    (user,),
                )
                outcome = await start_run(
                    conn, workflow=WORKFLOW, input={"prompt": "Anything"}, user_id=user
                )
                if isinstance(outcome, Refused):
                    raise Refusal(outcome)
        except Refusal as refusal:
            assert refusal.refused.reason == "quota"
        assert (await _counts(conn, user))["chats"] == 0
