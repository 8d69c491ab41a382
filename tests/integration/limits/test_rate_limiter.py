"""The one rate limiter against real Postgres: counting, refusing with the wait, concurrency
across connections, tier numbers, refunds, and the history it keeps."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import pytest

from app.core import ratelimit
from app.core.ratelimit import RateLimit
from tests.support.engine import make_user


def fresh(max_calls: int, per_seconds: float = 60.0) -> RateLimit:
    return RateLimit(f"test:{secrets.token_hex(6)}", max_calls, per_seconds)


async def events(pool, bucket: str) -> list:
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT at FROM rate_events WHERE bucket = %s ORDER BY at", (bucket,)
            )
        ).fetchall()
    return [r["at"] for r in rows]


async def test_a_limit_lets_max_calls_through_then_says_how_long_to_wait(pool):
    limit = fresh(3, 60)
    async with pool.connection() as conn:
        waits = [await ratelimit.take(conn, limit) for _ in range(4)]
    assert waits[:3] == [0, 0, 0]
    assert 58 < waits[3] <= 60  # the oldest call leaves the window in about a minute
    assert len(await events(pool, limit.name)) == 3  # the refused call was not counted


async def test_concurrent_takes_on_many_connections_never_exceed_the_limit(pool):
    limit = fresh(10, 60)

    async def attempt():
        async with pool.connection() as conn:
            return await ratelimit.take(conn, limit)

    waits = await asyncio.gather(*(attempt() for _ in range(30)))
    assert sum(1 for w in waits if w == 0) == 10
    assert len(await events(pool, limit.name)) == 10


async def test_next_slot_names_the_database_time_the_oldest_call_leaves_the_window(pool):
    limit = fresh(2, 30)
    async with pool.connection() as conn:
        assert await ratelimit.next_slot(conn, limit) is None
        assert await ratelimit.next_slot(conn, limit) is None
        frees_at = await ratelimit.next_slot(conn, limit)
    first = (await events(pool, limit.name))[0]
    assert abs(frees_at - (first + timedelta(seconds=30))) < timedelta(milliseconds=5)


async def test_calls_that_left_the_window_stop_counting_but_stay_an_hour_as_history(pool):
    limit = fresh(2, 60)
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO rate_events (bucket, at) VALUES (%(b)s, now() - interval '2 minutes'), "
            "(%(b)s, now() - interval '3 minutes'), (%(b)s, now() - interval '2 hours')",
            {"b": limit.name},
        )
        assert await ratelimit.take(conn, limit) == 0
        assert await ratelimit.take(conn, limit) == 0
        assert await ratelimit.take(conn, limit) > 0
    # The two calls of minutes ago are kept; the one of two hours ago (window + an hour) is gone.
    assert len(await events(pool, limit.name)) == 4


async def test_a_lowered_limit_waits_until_enough_old_calls_have_left(pool):
    name = f"test:{secrets.token_hex(6)}"
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO rate_events (bucket, at) SELECT %s, now() - make_interval(secs => s) "
            "FROM generate_series(10, 50, 10) AS s",
            (name,),
        )  # 5 calls, 10..50 s ago
        wait = await ratelimit.take(conn, RateLimit(name, 2, 60))
    # Under "2 a minute" a slot frees once 4 of the 5 have left: the one of 20 s ago, in ~40 s.
    assert 38 < wait <= 40


@pytest.mark.parametrize(
    ("limit", "column"),
    [(ratelimit.CHAT_MESSAGES, "chat_per_minute"), (ratelimit.API_CALLS, "api_per_minute")],
)
async def test_tier_limits_read_the_tier_s_number_when_counting(pool, limit, column):
    user = await make_user(pool, tier="free")
    async with pool.connection() as conn:
        per_minute = (
            await (await conn.execute(f"SELECT {column} FROM tiers WHERE name = 'free'")).fetchone()
        )[column]
        await conn.execute(
            "INSERT INTO rate_events (bucket) SELECT %s FROM generate_series(1, %s)",
            (limit.bucket(user), per_minute - 1),
        )
        assert await ratelimit.take_tier_slot(conn, limit, user, "free") == (0, per_minute)
        wait, shown = await ratelimit.take_tier_slot(conn, limit, user, "free")
        assert wait > 0 and shown == per_minute
        # Another user of the same tier has a bucket of their own.
        other = await make_user(pool, tier="free")
        assert (await ratelimit.take_tier_slot(conn, limit, other, "free"))[0] == 0


async def test_refund_gives_back_the_last_call_and_clear_forgets_them_all(pool):
    limit = fresh(2, 60)
    async with pool.connection() as conn:
        await ratelimit.take(conn, limit)
        await ratelimit.take(conn, limit)
        assert await ratelimit.take(conn, limit) > 0
        await ratelimit.refund_last(conn, limit)
        assert await ratelimit.take(conn, limit) == 0
        await ratelimit.clear(conn, limit)
    assert await events(pool, limit.name) == []


async def test_a_call_refused_inside_a_transaction_rolls_back_with_it(pool):
    # Logins and chat messages count their slot in the caller's transaction: a rollback returns it.
    limit = fresh(1, 60)
    async with pool.connection() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                assert await ratelimit.take(conn, limit) == 0
                raise RuntimeError("the message could not be stored")
        assert await ratelimit.take(conn, limit) == 0
