"""`baton templates list|export|import|run`: workflow templates for scripts and operators.

The contract (docs/templates.md; keep it stable): `list [--as EMAIL] [--json]` prints slug, title,
visibility, version and owner of each template that user sees (every template without --as);
`export SLUG` prints the JSON document; `import FILE --as EMAIL [--slug NEW]` prints the new slug, or
exits 2 with one `path: message` line per problem on stderr and saves nothing; `run SLUG --as EMAIL
--input JSON [--json]` prints the run id (or the run as `baton runs show --json` prints it).
`--team SLUG` (with --as) acts in that team's space: its templates, imported into it, run in it;
an unknown team or one the user is not a member of exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from app.cli.common import CommandFailed, _json_arg, _print, _sync
from app.cli.team_arg import NoSuchTeam, add_team_argument, no_team, space_for
from app.core.policy import Action, Forbidden, require
from app.engine import commands
from app.templates import store
from app.templates.format import Problem
from app.templates.start import start_template_run
from app.web.api.schemas import run_view

INVALID = 2


def register(sub: argparse._SubParsersAction) -> None:
    tpl = sub.add_parser(
        "templates", help="list, export, import and run workflow templates"
    ).add_subparsers(dest="templates_command", required=True)
    p = tpl.add_parser("list", help="templates a user sees (all of them without --as)")
    p.add_argument("--as", dest="email", help="the user's email")
    p.add_argument("--json", action="store_true")
    add_team_argument(p)
    p.set_defaults(func=_sync(list_))
    p = tpl.add_parser("export", help="print a template's JSON document (what import takes)")
    p.add_argument("slug")
    p.add_argument("--as", dest="email", help="whose template, when several users use the slug")
    add_team_argument(p)
    p.set_defaults(func=_sync(export))
    p = tpl.add_parser("import", help="validate a JSON document and save it as the user's template")
    p.add_argument("file")
    p.add_argument("--as", dest="email", required=True)
    p.add_argument("--slug", help="the new template's slug (default: from its title)")
    add_team_argument(p)
    p.set_defaults(func=_sync(import_))
    p = tpl.add_parser("run", help="start a run of a template; prints its id")
    p.add_argument("slug")
    p.add_argument("--as", dest="email", required=True)
    p.add_argument("--input", default="{}", help="the template's inputs as a JSON object")
    p.add_argument("--json", action="store_true")
    add_team_argument(p)
    p.set_defaults(func=_sync(run))


async def _user(conn, email: str | None) -> int | None:
    if email is None:
        return None
    row = await store.user_by_email(conn, email)
    if row is None:
        raise CommandFailed(f"no user {email}")
    return row["id"]


def _row(t: dict) -> dict:
    return {
        "slug": t["slug"],
        "title": t["title"],
        "visibility": t["visibility"],
        "version": t["current_version"],
        "owner": t["owner_email"] or "(starter)",
        "category": t["category"],
    }


async def _space_id(conn, user_id: int | None, args) -> int | None:
    if user_id is None:
        if args.team:
            raise NoSuchTeam("--team needs --as")
        return None
    return (await space_for(conn, user_id, args.team)).id


async def list_(args, pool) -> int:
    async with pool.connection() as conn:
        user_id = await _user(conn, args.email)
        try:
            space_id = await _space_id(conn, user_id, args)
        except NoSuchTeam as exc:
            return no_team(exc)
        groups = await store.list_templates(conn, user_id=user_id, space_id=space_id)
    rows = [_row(t) for group in groups.values() for t in group]
    if args.json:
        _print(rows)
    else:
        for r in rows:
            print(
                f"{r['slug']:<32} v{r['version']:<4} {r['visibility']:<8} {r['owner']:<28} {r['title']}"
            )
    return 0


async def export(args, pool) -> int:
    async with pool.connection() as conn:
        user_id = await _user(conn, args.email)
        try:
            space_id = await _space_id(conn, user_id, args)
        except NoSuchTeam as exc:
            return no_team(exc)
        try:
            document = await store.export_document(
                conn, user_id=user_id, slug=args.slug, space_id=space_id
            )
        except store.TemplateNotFound:
            raise CommandFailed(f"no template {args.slug}") from None
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0


def _problems(problems: list[Problem]) -> int:
    for problem in problems:
        print(str(problem) if problem.path else f"(document): {problem.message}", file=sys.stderr)
    return INVALID


async def import_(args, pool) -> int:
    try:
        text = await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandFailed(f"cannot read {args.file}: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return _problems([Problem("(file)", f"not valid JSON ({exc.msg} at line {exc.lineno})")])
    async with pool.connection() as conn:
        user_id = await _user(conn, args.email)
        try:
            space = await space_for(conn, user_id, args.team)
            require(space, Action.EDIT)
            row = await store.import_document(
                conn, user_id=user_id, document=document, slug=args.slug, space_id=space.id
            )
        except NoSuchTeam as exc:
            return no_team(exc)
        except Forbidden as exc:
            raise CommandFailed(str(exc)) from None
        except store.TemplateInvalid as exc:
            return _problems(exc.problems)
    print(row["slug"])
    return 0


async def run(args, pool) -> int:
    values = _json_arg(args.input, "--input")
    async with pool.connection() as conn:
        user_id = await _user(conn, args.email)
        try:
            space = await space_for(conn, user_id, args.team)
            started, _ = await start_template_run(
                conn, user_id=user_id, slug=args.slug, input=values, space_id=space.id
            )
        except NoSuchTeam as exc:
            return no_team(exc)
        except Forbidden as exc:
            raise CommandFailed(str(exc)) from None
        except store.TemplateNotFound:
            raise CommandFailed(f"no template {args.slug}") from None
        shown = await commands.get_run(conn, started.id, owner_id=user_id) if args.json else None
    _print(run_view(shown)) if args.json else print(started.id)
    return 0
