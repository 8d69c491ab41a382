"""Approvals: the inbox, a hook's review page, deciding; and the email link that needs no login.

In the app (login): a hook is found by id for a member of its run's space or its assignee by
e-mail, in any space (an approval reaches its person wherever they are working); anyone else gets
404. Of those who find it, only the people it waits for may decide (`decide.refusal`: the
assignee, the members at the assigned role or above, the owner of an unassigned one); the others
are answered 403 with the reason. From an email:
the hook's token in the URL is the credential — GET shows the content and the form and never
decides; only POST decides. The POST also carries the usual CSRF token (bound to the browser's
session, or to its anonymous cookie set by the GET), so a forged cross-site POST fails twice over:
it knows neither secret. Those pages are sent with `Referrer-Policy: no-referrer` and `no-store`,
so the token leaks neither to links in the content nor to caches.
"""

from __future__ import annotations

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.engine.rows import ReviewHook, as_dict
from app.web.approvals import store
from app.web.approvals.decide import (
    Outcome,
    decide,
    is_reopened,
    parse_decision,
    progress,
    refusal,
    state_message,
    who_decides,
)
from app.web.auth import requires_login
from app.web.htmx import is_htmx
from app.web.runs.cards import FINAL, hook_view, load_card, workflow_title

BODY_LIMIT = 64 * 1024
PRIVATE = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _page_context(hook: ReviewHook, action_url: str, **extra) -> dict:
    state = state_message(hook)
    if state is None and hook.i_decided:
        state = f"You answered this. It waits for the others: {progress(hook)}."
    if state is None and extra.get("refused"):
        state = extra["refused"]
    return {
        "hook": hook_view(as_dict(hook)),
        "raw": hook,
        "action_url": action_url,
        "state": state,
        "for_whom": who_decides(hook),
        "mine": extra.pop("mine", True),
        "progress": progress(hook),
        "reopening": is_reopened(hook),
        "run_open": hook.run_status not in FINAL,
        "workflow_title": workflow_title(hook.workflow, hook.version),
        **extra,
    }


async def _replacement(conn, hook: ReviewHook) -> dict | None:
    """A reopened review's page leads to the review that replaced it, once the run has asked it."""
    return await store.newer_waiting_hook(conn, hook) if is_reopened(hook) else None


# -- in the app --------------------------------------------------------------------------------


@get("/")
async def inbox(
    request: Request, pool: NamedDependency[AsyncConnectionPool], rows: FromQuery[bool] = False
) -> Template:
    async with pool.connection() as conn:
        waiting = await store.waiting_hooks(conn, request.user.id, request.user.email)
    items = [
        {
            **as_dict(h),
            "workflow_title": workflow_title(h.workflow, h.version),
            "for_whom": who_decides(h) if h.owner_id != request.user.id else "",
            "progress": progress(h),
            "in_chat": h.chat_id and h.owner_id == request.user.id,
        }
        for h in waiting
    ]
    if rows and is_htmx(request):
        return Template("partials/approvals/inbox_rows.html", context={"items": items})
    return Template(
        "pages/approvals/inbox.html", context={"items": items, "limit": store.INBOX_LIMIT}
    )


@get("/{hook_id:int}")
async def review_page(
    request: Request, pool: NamedDependency[AsyncConnectionPool], hook_id: FromPath[int]
) -> Template:
    user = request.user
    async with pool.connection() as conn:
        hook = await store.hook_for_user(conn, hook_id, user.id, user.email)
        if hook is None:
            raise NotFoundException()
        newer = await _replacement(conn, hook)
    if newer:
        return Redirect(f"/approvals/{newer['id']}", status_code=303)
    return Template(
        "pages/approvals/review.html",
        context=_page_context(
            hook,
            f"/approvals/{hook_id}",
            refused=refusal(hook, user.id, user.email),
            mine=hook.owner_id == user.id,
        ),
    )


@post("/{hook_id:int}", request_max_body_size=BODY_LIMIT)
async def decide_in_app(
    request: Request, pool: NamedDependency[AsyncConnectionPool], hook_id: FromPath[int]
) -> Response:
    user = request.user
    form = dict(await request.form())
    async with pool.connection() as conn:
        hook = await store.hook_for_user(conn, hook_id, user.id, user.email)
        if hook is None:
            raise NotFoundException()
        refused = refusal(hook, user.id, user.email)
        # From a run card (in a chat or on the run's page): the run's owner, or a member of its
        # space, gets the card back; anyone else the review page.
        as_card = (
            form.get("view") == "card"
            and is_htmx(request)
            and (hook.owner_id == user.id or hook.my_role is not None)
        )
        if refused and not as_card:
            return Template(
                "pages/approvals/review.html",
                status_code=403,
                context=_page_context(
                    hook, f"/approvals/{hook_id}", refused=refused, mine=hook.owner_id == user.id
                ),
            )
        parsed = parse_decision(hook, form, user.time_zone)
        if refused:  # a card's reader, of a review that waits for someone else
            parsed.errors, outcome = {}, Outcome(False, refused, 403)
        elif parsed.errors:
            outcome = None
        else:
            outcome = await decide(
                conn, hook, parsed, decided_by=user.email, owner_id=None, user_id=user.id
            )
        if as_card:
            card = await load_card(
                conn, hook.run_id, None, space_id=hook.space_id, viewer_id=user.id
            )
            if parsed.errors:
                return Template(
                    "partials/runs/card.html",
                    status_code=422,
                    context={"card": card, "errors": parsed.errors, "values": parsed.values},
                )
            # A refusal (already decided, expired) is news for this card, not an error: it shows
            # the run as it is now, with the reason.
            return Template(
                "partials/runs/card.html",
                context={"card": card, "notice": None if outcome.ok else outcome.message},
            )
        if parsed.errors:
            return Template(
                "pages/approvals/review.html",
                status_code=422,
                context=_page_context(
                    hook, f"/approvals/{hook_id}", errors=parsed.errors, values=parsed.values
                ),
            )
    if outcome.ok:
        return Redirect(f"/approvals/{hook_id}", status_code=303)
    return Template(
        "pages/approvals/review.html",
        status_code=outcome.status,
        context=_page_context(hook, f"/approvals/{hook_id}", notice=outcome.message),
    )


router = Router(
    path="/approvals", guards=[requires_login], route_handlers=[inbox, review_page, decide_in_app]
)


# -- the email link ----------------------------------------------------------------------------


@get("/{token:str}")
async def link_page(pool: NamedDependency[AsyncConnectionPool], token: FromPath[str]) -> Template:
    async with pool.connection() as conn:
        hook = await store.hook_for_token(conn, token)
        if hook is None:
            raise NotFoundException()
        newer = await _replacement(conn, hook)
    if newer:
        return Redirect(f"/review/{newer['token']}", status_code=303, headers=PRIVATE)
    return Template(
        "pages/approvals/review.html",
        headers=PRIVATE,
        context=_page_context(hook, f"/review/{token}", by_link=True),
    )


@post("/{token:str}", request_max_body_size=BODY_LIMIT)
async def decide_by_link(
    request: Request, pool: NamedDependency[AsyncConnectionPool], token: FromPath[str]
) -> Response:
    async with pool.connection() as conn:
        hook = await store.hook_for_token(conn, token)
        if hook is None:
            raise NotFoundException()
        parsed = parse_decision(hook, dict(await request.form()))
        if parsed.errors:
            return Template(
                "pages/approvals/review.html",
                status_code=422,
                headers=PRIVATE,
                context=_page_context(
                    hook,
                    f"/review/{token}",
                    by_link=True,
                    errors=parsed.errors,
                    values=parsed.values,
                ),
            )
        outcome = await decide(
            conn, hook, parsed, decided_by=hook.assignee or hook.owner_email, owner_id=None
        )
        if outcome.ok:
            hook = await store.hook_for_token(conn, token)
    return Template(
        "pages/approvals/review.html",
        status_code=outcome.status,
        headers=PRIVATE,
        context=_page_context(
            hook, f"/review/{token}", by_link=True, notice=outcome.message, decided=outcome.ok
        ),
    )


review_router = Router(path="/review", route_handlers=[link_page, decide_by_link])
