"""`baton hooks resolve`: decide a waiting hook by its token, as the operator or as a user."""

from __future__ import annotations

import argparse

from app.cli.common import _json_arg, _print, _sync, _user_id
from app.core import policy
from app.engine.errors import HookNotFound
from app.engine.hooks import hook_for_decider, refusal, resolve_hook
from app.templates.answers import checked_data


def register(sub: argparse._SubParsersAction) -> None:
    hooks = sub.add_parser("hooks", help="answer a waiting hook").add_subparsers(
        dest="hooks_command", required=True
    )
    p = hooks.add_parser("resolve", help="decide a hook by its token")
    p.add_argument("token")
    p.add_argument(
        "--action", required=True, choices=["approve", "revise", "reject", "submit", "deliver"]
    )
    p.add_argument("--data", default="{}", help="response data as a JSON object")
    p.add_argument(
        "--as",
        dest="email",
        help="decide as this user, under the approvals page's rules (assignee, role, owner);"
        " without it the operator decides",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_sync(resolve))


async def resolve(args, pool) -> int:
    """Decide a hook by its token. `--as EMAIL` applies the rules of the approvals page (the
    engine's `refusal`): not found unless a member of the run's space or its assignee, refused
    (policy.Forbidden) unless the one it waits for. Without `--as`, the operator decides."""
    data = _json_arg(args.data, "--data")
    user_id, decided_by = None, "cli"
    if args.email:
        user_id, decided_by = await _user_id(pool, args.email, create=False), args.email.lower()
    async with pool.connection() as conn:
        found = await hook_for_decider(conn, args.token, user_id)
        if user_id is not None:
            if found is None or (found.my_role is None and found.assignee != decided_by):
                raise HookNotFound("no such hook")
            refused = refusal(found, user_id, decided_by)
            if refused:
                raise policy.Forbidden(refused)
        if found is not None:  # an ask_person's fields, checked as every decision path checks them
            data = checked_data(found, args.action, data)
        hook = await resolve_hook(
            conn, args.token, args.action, data, decided_by=decided_by, user_id=user_id
        )
    view = {"hook_id": hook.id, "run_id": hook.run_id, "status": hook.status, "action": hook.action}
    _print(view) if args.json else print(f"{hook.name}: {hook.action}")
    return 0
