"""The admin overview's template figures: runs per template in a period, and the share of users who
published or used a shared template (the product brief's success metric: more than 1 in 5)."""

from __future__ import annotations

from datetime import datetime

from psycopg import AsyncConnection

from app.core.sql_queries import load_queries

SQL = load_queries(__file__)
RUNS_PER_TEMPLATE = SQL["runs_per_template"]
SHARING_USERS = SQL["sharing_users"]


async def template_stats(conn: AsyncConnection, start: datetime, end: datetime) -> dict:
    per_template = await (
        await conn.execute(RUNS_PER_TEMPLATE, {"start": start, "end": end})
    ).fetchall()
    sharing = await (await conn.execute(SHARING_USERS)).fetchone()
    return {
        "per_template": per_template,
        "users": sharing["users"],
        "sharing": sharing["sharing"],
        "share": sharing["sharing"] / sharing["users"] if sharing["users"] else None,
    }
