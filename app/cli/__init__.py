"""`baton` — one command, one subcommand module per area. Each module exposes `register(sub)`.

Only the chosen command's module is imported: importing every module costs seconds of CPU (they
reach the web app, the model client and the workflow catalog), and an operator's `baton teams list`
should answer at once. `COMMANDS` keeps each top-level command's one-line help so `baton --help`
lists them all without importing any; tests/unit/test_cli_startup.py checks it matches the modules.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

import psycopg

from app.core.config import ConfigError
from app.core.embedded_pg import EmbeddedPostgresError

# Top-level command -> (module that registers it, its one-line help), in `baton --help` order.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("app.cli.serve_cmd", "run the web app (and a worker, unless --no-worker)"),
    "worker": ("app.cli.serve_cmd", "run a worker process"),
    "migrate": ("app.cli.serve_cmd", "apply pending SQL migrations"),
    "runs": ("app.cli.runs_cmd", "start, inspect, cancel and retry workflow runs"),
    "hooks": ("app.cli.hooks_cmd", "answer a waiting hook"),
    "selftest": (
        "app.cli.selftest_cmd",
        "run one self-test workflow end to end and report timings",
    ),
    "templates": ("app.cli.templates_cmd", "list, export, import and run workflow templates"),
    "schedules": ("app.cli.schedules_cmd", "workflows that start themselves on a schedule"),
    "user": ("app.cli.users_cmd", "create accounts and change their tier"),
    "teams": ("app.cli.teams_cmd", "create teams and manage their members"),
    "apikey": ("app.cli.apikey_cmd", "create, list and revoke API keys"),
    "check-deploy": (
        "app.cli.deploy_cmd",
        "replay every run in flight against this code; exit 1 if any would break",
    ),
}


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="baton", description="Baton: AI chat with durable workflows"
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for one command (importing only its module), or for all of them by default.
    The other commands are there as stubs with their help, so a usage line lists every command."""
    return _parser_of(set(COMMANDS) if command is None else {command})


def _menu() -> argparse.ArgumentParser:
    """Every command with its help and nothing behind it: for `baton`, `baton --help`, typos."""
    return _parser_of(set())


def _parser_of(commands: set[str]) -> argparse.ArgumentParser:
    parser = _parser()
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {COMMANDS[name][0] for name in commands}
    for name, (module, help_text) in COMMANDS.items():
        if name in sub.choices:
            continue  # registered with an earlier command of its module
        if module in modules:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=help_text)
    return parser


# libpq's "connection to server at "HOST" (ADDR), port PORT failed: REASON" (or "on socket …").
_CONNECT_FAILED = re.compile(
    r'connection to server (?:at "(?P<host>[^"]*)"(?: \([^)]*\))?, port (?P<port>\d+)'
    r'|on socket "(?P<socket>[^"]*)") failed: (?P<reason>[^\n]*)'
)


def database_error(exc: psycopg.OperationalError) -> str:
    """One line for an operator instead of a traceback: where Baton tried to connect, and why not."""
    found = _CONNECT_FAILED.search(str(exc))
    if found is None:
        return f"database error: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
    where = found["socket"] or f"{found['host']}:{found['port']}"
    reason = re.sub(r"^(FATAL|ERROR):\s*", "", found["reason"].strip()).rstrip(".")
    return f"cannot connect to the database at {where}: {reason[:1].lower() + reason[1:]}"


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The top-level parser has no options but --help, so the first word names the command.
    command = argv[0] if argv else None
    if command not in COMMANDS:
        _menu().parse_args(argv)  # prints usage or help and exits
    args = build_parser(command).parse_args(argv)
    try:
        return args.func(args) or 0
    except ConfigError as exc:
        print(f"baton: configuration error: {exc}", file=sys.stderr)
        return 2
    except (EmbeddedPostgresError, CommandError) as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 1
    except psycopg.OperationalError as exc:
        print(f"baton: {database_error(exc)}", file=sys.stderr)
        # Like `baton serve` and `migrate` with an unreachable DATABASE_URL: a configuration error.
        return 2 if _CONNECT_FAILED.search(str(exc)) else 1
    except KeyboardInterrupt:
        return 130
