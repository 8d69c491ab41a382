"""What every `baton` subcommand module shares: running an async command on a pool (`_sync`), the
user and space that `--as` and `--team` name, JSON in and out, and the errors a command raises."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from app.core import policy
from app.core.config import load_settings, with_secret_key
from app.core.database import database_url
from app.core.db import open_pool
from app.core.logs import configure_logging
from app.core.migrations import apply_migrations
from app.engine.errors import EngineError
from app.spaces.store import team_by_slug
from app.workflows.catalog import load_workflow_modules

FIND_USER = "SELECT id FROM users WHERE email = lower(%(email)s)"
CREATE_USER = "INSERT INTO users (email) VALUES (lower(%(email)s)) ON CONFLICT (email) DO NOTHING RETURNING id"
# The operator's view of a team (`runs list/show --team SLUG` without `--as`): no membership needed.
TEAM_ID = "SELECT id FROM spaces WHERE kind = 'team' AND slug = %(slug)s"
PERSONAL_ID = "SELECT id FROM spaces WHERE personal_of = %(user_id)s"


class CommandFailed(Exception):
    pass


class UnknownTeam(CommandFailed):
    """`--team SLUG` names no team (of the `--as` user's): exit status 2, like a usage error."""


def _sync(
    fn: Callable[[argparse.Namespace, Any], Awaitable[int]],
) -> Callable[[argparse.Namespace], int]:
    """Run an async command with a pool on the configured database."""

    def run(args: argparse.Namespace) -> int:
        from app.cli import CommandError

        settings = with_secret_key(load_settings())
        configure_logging(settings.log_format)
        load_workflow_modules(settings.workflow_modules)

        async def main(url: str) -> int:
            pool = await open_pool(url, min_size=1, max_size=12)
            try:
                return await fn(args, pool)
            finally:
                await pool.close()

        with database_url(settings) as url:
            # As `baton user` and `baton teams` do: a first command on a new (embedded) database
            # finds its tables instead of a traceback.
            apply_migrations(url)
            try:
                return asyncio.run(main(url))
            except UnknownTeam as exc:
                print(f"baton: {exc}", file=sys.stderr)
                return 2
            except (EngineError, CommandFailed, policy.Forbidden) as exc:
                raise CommandError(str(exc)) from None

    return run


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal)):
        return str(value) if isinstance(value, UUID) else float(value)
    raise TypeError(type(value).__name__)


def _print(value: Any) -> None:
    print(json.dumps(value, default=_default, indent=2))


def _json_arg(text: str, name: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandFailed(f"{name}: not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(value, dict):
        raise CommandFailed(f"{name}: expected a JSON object")
    return value


async def _user_id(pool, email: str, create: bool) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute(FIND_USER, {"email": email})).fetchone()
        if row is None and create:
            row = (
                await (await conn.execute(CREATE_USER, {"email": email})).fetchone()
                or await (await conn.execute(FIND_USER, {"email": email})).fetchone()
            )
    if row is None:
        raise CommandFailed(f"no user {email} (use --create-user to create one)")
    return row["id"]


async def _space_id(
    conn, team: str | None, user_id: int | None, *, personal: bool = True
) -> int | None:
    """The space `--team`/`--as` name: a team of the user's (any team for the operator, without
    `--as`), else the user's personal space (`personal`), else None (every space)."""
    if team:
        if user_id is not None:
            space = await team_by_slug(conn, user_id, team)
            found = space.id if space else None
        else:
            row = await (await conn.execute(TEAM_ID, {"slug": team})).fetchone()
            found = row["id"] if row else None
        if found is None:
            who = " of this user's" if user_id is not None else ""
            raise UnknownTeam(f"no team{who} has the slug {team!r}")
        return found
    if user_id is not None and personal:
        return (await (await conn.execute(PERSONAL_ID, {"user_id": user_id})).fetchone())["id"]
    return None
