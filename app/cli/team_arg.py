"""`--team SLUG` on the commands of templates, schedules and API keys: the team space the `--as`
user acts in (docs/teams.md). No `--team`: the user's personal space. An unknown team, or one the
user is not a member of, is `NoSuchTeam`: the command prints it and exits 2."""

from __future__ import annotations

import argparse
import sys

from psycopg import AsyncConnection

from app.core.policy import Space
from app.spaces.store import personal_space, team_by_slug

EXIT_NO_TEAM = 2


class NoSuchTeam(Exception):
    pass


def add_team_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--team", help="act in this team's space (default: the personal space)")


async def space_for(conn: AsyncConnection, user_id: int, team: str | None) -> Space:
    """The space the command acts in for `user_id`: the team `team` (a member of it), else personal."""
    if not team:
        return await personal_space(conn, user_id)
    space = await team_by_slug(conn, user_id, team.strip().lower())
    if space is None:
        raise NoSuchTeam(f"no team {team} with this user as a member")
    return space


def no_team(exc: NoSuchTeam) -> int:
    print(f"baton: {exc}", file=sys.stderr)
    return EXIT_NO_TEAM
