"""Finding a run for a request: within the request's space (`request.user.space`), whoever of its
members started it. Another space's run is not found (404); a run the caller can see but whose
action their role may not take is `policy.Forbidden` (403, app/web/errors.py). The run's pages,
fragments, cards, files and streams all go through here, so none forgets the check."""

from __future__ import annotations

from uuid import UUID

from psycopg import AsyncConnection

from app.core import policy
from app.core.policy import Action
from app.engine import commands
from app.engine.errors import RunNotFound
from app.engine.rows import Run
from app.spaces.store import member_space


def space_id(request) -> int:
    return request.user.space.id


async def find_run(
    conn: AsyncConnection,
    request,
    run_id: UUID | str,
    action: Action = Action.READ,
    *,
    with_tokens: bool = False,
) -> Run:
    """The run of the request's space (RunNotFound otherwise), once the caller's role may `action`."""
    run = await commands.get_run(conn, run_id, space_id=space_id(request), with_tokens=with_tokens)
    policy.require(request.user.space, action)
    return run


async def find_chat_run(
    conn: AsyncConnection, request, run_id: UUID | str, action: Action = Action.READ
) -> Run:
    """A run shown in a chat. A chat is its user's own and may hold runs of several spaces (each run
    belongs to the space that was current when it started), so its card is there for any member of
    the request's space, and for the person who started it from any space while they are still a
    member of the run's (with their role there). Anyone else: RunNotFound."""
    run = await commands.get_run(conn, run_id, with_tokens=False)
    if run.space_id == space_id(request):
        space = request.user.space
    elif run.owner_id == request.user.id:
        space = await member_space(conn, request.user.id, run.space_id)
    else:
        space = None
    if space is None:
        raise RunNotFound("no such run")
    policy.require(space, action)
    return run
