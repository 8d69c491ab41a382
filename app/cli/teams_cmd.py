"""`baton teams`: teams from the command line, as the instance's operator (docs/teams.md).

    baton teams create NAME --owner EMAIL          prints the new team's slug
    baton teams add SLUG EMAIL --role admin|member|viewer
    baton teams remove SLUG EMAIL
    baton teams list [--json]                      slug, name, members with their roles

No command creates an account: an unknown e-mail or team is exit status 2 with a message. Every
change writes the team's audit log (with no actor: the operator)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import psycopg
from psycopg.rows import dict_row

from app.core.config import load_settings, with_secret_key
from app.core.database import database_url
from app.core.logs import configure_logging
from app.core.migrations import apply_migrations
from app.spaces import teams

USAGE_ERROR = 2


class _Refused(Exception):
    """A mistake in the command's arguments (unknown user or team): exit status 2."""


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("teams", help="create teams and manage their members").add_subparsers(
        dest="teams_command", required=True
    )
    p = cmd.add_parser("create", help="create a team; prints its slug")
    p.add_argument("name")
    p.add_argument("--owner", required=True, metavar="EMAIL", help="an existing account")
    p.set_defaults(func=create)
    p = cmd.add_parser("add", help="add an existing account to a team")
    p.add_argument("slug")
    p.add_argument("email")
    p.add_argument("--role", required=True, choices=("admin", "member", "viewer"))
    p.set_defaults(func=add)
    p = cmd.add_parser("remove", help="remove a member from a team")
    p.add_argument("slug")
    p.add_argument("email")
    p.set_defaults(func=remove)
    p = cmd.add_parser("list", help="every team with its members")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=list_teams)


def _run(work) -> int:
    settings = with_secret_key(load_settings())
    configure_logging(settings.log_format)

    async def run(url: str):
        async with await psycopg.AsyncConnection.connect(
            url, autocommit=True, row_factory=dict_row
        ) as conn:
            return await work(conn)

    with database_url(settings) as url:
        apply_migrations(url)
        try:
            return asyncio.run(run(url)) or 0
        except _Refused as exc:
            print(f"baton: {exc}", file=sys.stderr)
            return USAGE_ERROR
        except teams.TeamError as exc:
            print(f"baton: {exc}", file=sys.stderr)
            return 1


async def _user(conn, email: str) -> dict:
    user = await teams.user_by_email(conn, email)
    if user is None:
        raise _Refused(f"no account with the email {email!r} (create it with `baton user create`)")
    return user


async def _team(conn, slug: str):
    team = await teams.team_by_slug_any(conn, slug.strip().lower())
    if team is None:
        raise _Refused(f"no team {slug!r} (see `baton teams list`)")
    return team


def create(args: argparse.Namespace) -> int:
    async def work(conn):
        owner = await _user(conn, args.owner)
        team = await teams.create_team(conn, name=args.name, owner_id=owner["id"])
        print(team.slug)

    return _run(work)


def add(args: argparse.Namespace) -> int:
    async def work(conn):
        team = await _team(conn, args.slug)
        user = await _user(conn, args.email)
        if not await teams.add_member(conn, team, user["id"], args.role, actor_id=None):
            raise _Refused(f"{user['email']} is already a member of {team.slug}")
        print(f"{user['email']}: {args.role} of {team.slug}")

    return _run(work)


def remove(args: argparse.Namespace) -> int:
    async def work(conn):
        team = await _team(conn, args.slug)
        user = await _user(conn, args.email)
        try:
            await teams.remove_member(conn, team, user["id"], actor_id=None)
        except teams.NotMember:
            raise _Refused(f"{user['email']} is not a member of {team.slug}") from None
        print(f"{user['email']}: removed from {team.slug}")

    return _run(work)


def list_teams(args: argparse.Namespace) -> int:
    async def work(conn):
        rows = await teams.all_teams(conn)
        if args.json:
            listed = [
                {"slug": r["slug"], "name": r["name"], "tier": r["tier"], "members": r["members"]}
                for r in rows
            ]
            print(json.dumps(listed, indent=2))
            return
        if not rows:
            print("no teams")
        for r in rows:
            people = ", ".join(f"{m['email']} ({m['role']})" for m in r["members"]) or "no members"
            print(f"{r['slug']}\t{r['name']}\t{r['tier']}\t{people}")

    return _run(work)
