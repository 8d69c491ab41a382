"""`baton apikey create|list|revoke`: API keys from the command line (e.g. for provisioning).

`create` prints the new key as its last line, so scripts can take it with `| tail -n1`. Keys belong
to a space: `--team SLUG` makes, lists or revokes the account's keys of that team (the key acts with
the account's role there); without it, of the personal space. An unknown team exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import psycopg
from psycopg.rows import dict_row

from app.cli.team_arg import NoSuchTeam, add_team_argument, no_team, space_for
from app.core.config import load_settings, with_secret_key
from app.core.database import database_url
from app.core.logs import configure_logging
from app.core.migrations import apply_migrations
from app.web.auth import api_keys as keys

FIND_USER = "SELECT id FROM users WHERE email = lower(%(email)s)"


def register(sub: argparse._SubParsersAction) -> None:
    apikey = sub.add_parser("apikey", help="create, list and revoke API keys").add_subparsers(
        dest="apikey_command", required=True
    )
    p = apikey.add_parser("create", help="create a key for an account; prints the key last")
    p.add_argument("email")
    p.add_argument("--name", default="CLI", help="what the key is for (shown in the settings page)")
    add_team_argument(p)
    p.set_defaults(func=_command(create))
    p = apikey.add_parser("list", help="an account's keys (never the keys themselves)")
    p.add_argument("email")
    add_team_argument(p)
    p.set_defaults(func=_command(list_))
    p = apikey.add_parser("revoke", help="revoke a key by its id (from `list`)")
    p.add_argument("email")
    p.add_argument("key_id", type=int)
    add_team_argument(p)
    p.set_defaults(func=_command(revoke))


class Failed(Exception):
    pass


def _command(fn):
    def run(args: argparse.Namespace) -> int:
        settings = with_secret_key(load_settings())
        configure_logging(settings.log_format)

        async def main(url: str) -> int:
            async with await psycopg.AsyncConnection.connect(
                url, autocommit=True, row_factory=dict_row
            ) as conn:
                user = await (
                    await conn.execute(FIND_USER, {"email": args.email.strip()})
                ).fetchone()
                if user is None:
                    raise Failed(f"no user {args.email}")
                try:
                    args.space = await space_for(conn, user["id"], args.team)
                except NoSuchTeam as exc:
                    return no_team(exc)
                return await fn(args, conn, user["id"])

        with database_url(settings) as url:
            apply_migrations(url)
            try:
                return asyncio.run(main(url))
            except (Failed, keys.KeyLimitReached) as exc:
                print(f"baton: {exc}", file=sys.stderr)
                return 1

    return run


def _space_id(args) -> int | None:
    """The space `--team` chose (set by `_command`); None: the personal space."""
    space = getattr(args, "space", None)
    return space.id if space is not None else None


async def create(args, conn, user_id: int) -> int:
    key, row = await keys.create_key(conn, user_id, args.name, space_id=_space_id(args))
    space = getattr(args, "space", None)
    where = f" in team {space.slug}" if space is not None and space.is_team else ""
    print(f"created API key {row['id']} “{row['name']}” for {args.email}{where} (shown once):")
    print(key)
    return 0


async def list_(args, conn, user_id: int) -> int:
    for k in await keys.list_keys(conn, user_id, space_id=_space_id(args)):
        state = f"revoked {k['revoked_at']:%Y-%m-%d}" if k["revoked_at"] else "active"
        used = f"{k['last_used_at']:%Y-%m-%d %H:%M}" if k["last_used_at"] else "never"
        print(f"{k['id']:>6}  {k['prefix']}…  {state:<18} last used {used:<16}  {k['name']}")
    return 0


async def revoke(args, conn, user_id: int) -> int:
    if not await keys.revoke_key(conn, user_id, args.key_id, space_id=_space_id(args)):
        raise Failed(f"{args.email} has no API key {args.key_id}")
    print(f"revoked API key {args.key_id}")
    return 0
