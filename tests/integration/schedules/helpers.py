"""Schedules made directly from a Draft (the hidden test workflow is not offered to people), and
what the tests read back."""

from __future__ import annotations

from app.schedules import store
from app.schedules.drafts import Draft


def draft(**changes) -> Draft:
    values = {
        "name": "tick",
        "workflow": "test-tick",
        "input": {},
        "cron": None,
        "every_s": 1,
        "time_zone": "UTC",
    }
    return Draft(**(values | changes))


async def make_schedule(pool, owner_id: int, **changes) -> dict:
    async with pool.connection() as conn:
        return await store.create_schedule(conn, owner_id, draft(**changes))


async def fires(pool, schedule_id) -> list[dict]:
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT * FROM schedule_fires WHERE schedule_id = %s ORDER BY fire_at",
                (schedule_id,),
            )
        ).fetchall()


async def runs_of(pool, schedule_id) -> list[dict]:
    async with pool.connection() as conn:
        return await (
            await conn.execute(
                "SELECT * FROM runs WHERE schedule_id = %s ORDER BY fire_at", (schedule_id,)
            )
        ).fetchall()


async def pause(pool, schedule_id) -> None:
    async with pool.connection() as conn:
        await store.pause_schedule(conn, schedule_id, None, "test over")


async def own_template(pool, owner_id: int, slug: str) -> str:
    """A private template of `owner_id` (the shipped reviewed-report document under `slug`), made
    without loading the starters into the gallery, which other tests' users would then see."""
    import json

    from app.templates import store as templates
    from app.templates.starters import SHIPPED

    document = json.loads((SHIPPED / "reviewed-report.json").read_text())
    async with pool.connection() as conn:
        await templates.create_template(conn, owner_id=owner_id, document=document, slug=slug)
    return slug
