"""`baton` — one command, one subcommand module per area. Each module exposes `register(sub)`."""

from __future__ import annotations

import argparse
import sys

from app.cli import (
    apikey_cmd,
    deploy_cmd,
    hooks_cmd,
    runs_cmd,
    schedules_cmd,
    selftest_cmd,
    serve_cmd,
    teams_cmd,
    templates_cmd,
    users_cmd,
)
from app.core.config import ConfigError
from app.core.embedded_pg import EmbeddedPostgresError

MODULES = [
    serve_cmd,
    runs_cmd,
    hooks_cmd,
    selftest_cmd,
    templates_cmd,
    schedules_cmd,
    users_cmd,
    teams_cmd,
    apikey_cmd,
    deploy_cmd,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baton", description="Baton: AI chat with durable workflows"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in MODULES:
        module.register(sub)
    return parser


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except ConfigError as exc:
        print(f"baton: configuration error: {exc}", file=sys.stderr)
        return 2
    except (EmbeddedPostgresError, CommandError) as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
