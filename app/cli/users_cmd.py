"""`baton user create` and `baton user set-tier`: accounts from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys

import psycopg
from psycopg.rows import dict_row

from app.core.config import TIERS, load_settings, with_secret_key
from app.core.database import database_url
from app.core.logs import configure_logging
from app.core.migrations import apply_migrations
from app.web.auth.accounts import AccountError, create_account, set_tier
from app.web.auth.forms import SignupForm
from app.web.auth.passwords import hash_password


def register(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="create accounts and change their tier").add_subparsers(
        dest="user_command", required=True
    )
    p = user.add_parser(
        "create", help="create an account (the first account is an admin on enterprise)"
    )
    p.add_argument("email")
    p.add_argument("--password", required=True)
    p.add_argument(
        "--tier",
        choices=TIERS,
        help="default: BATON_DEFAULT_TIER (enterprise for the first account)",
    )
    p.add_argument("--admin", action="store_true", help="make the account an administrator")
    p.set_defaults(func=create)
    p = user.add_parser("set-tier", help="move an account to another tier")
    p.add_argument("email")
    p.add_argument("tier", choices=TIERS)
    p.set_defaults(func=change_tier)


def _fail(message: str) -> int:
    print(f"baton: {message}", file=sys.stderr)
    return 1


async def _connect(url: str) -> psycopg.AsyncConnection:
    return await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)


def create(args: argparse.Namespace) -> int:
    settings = with_secret_key(load_settings())
    configure_logging(settings.log_format)
    try:
        form = SignupForm(email=args.email, password=args.password)
    except ValueError as exc:
        return _fail("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors()))

    async def run(url: str):
        password_hash = await hash_password(form.password)
        async with await _connect(url) as conn:
            return await create_account(
                conn,
                form.email,
                password_hash,
                tier=args.tier or settings.default_tier,
                is_admin=args.admin,
                explicit_tier=args.tier is not None,
            )

    with database_url(settings) as url:
        apply_migrations(url)
        try:
            user = asyncio.run(run(url))
        except AccountError as exc:
            return _fail(exc.message)
    role = "admin" if user.is_admin else "user"
    print(f"created {user.email} ({role}, tier {user.tier}, id {user.id})")
    return 0


def change_tier(args: argparse.Namespace) -> int:
    settings = with_secret_key(load_settings())
    configure_logging(settings.log_format)

    async def run(url: str) -> bool:
        async with await _connect(url) as conn:
            return await set_tier(conn, args.tier, email=args.email.strip())

    with database_url(settings) as url:
        apply_migrations(url)
        try:
            found = asyncio.run(run(url))
        except AccountError as exc:
            return _fail(exc.message)
    if not found:
        return _fail(f"no account with the email {args.email!r}")
    print(f"{args.email}: tier {args.tier}")
    return 0
