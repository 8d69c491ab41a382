"""What a page offers, by the reader's role: the templates ask `may("edit")` before showing an action
and `why_not("edit")` for the sentence shown instead, so a viewer is never offered a button that
would answer 403. Both ask `app.core.policy`, the one place that decides; the routes check again."""

from __future__ import annotations

from jinja2 import pass_context
from litestar.plugins.jinja import JinjaTemplateEngine

from app.core.policy import MIN_ROLE, Action, Space, allows

# What each action is, in the words of the pages (docs/teams.md has the table).
DOING = {
    Action.READ: "see this space's work",
    Action.USE_API: "hold an API key here",
    Action.START: "start runs",
    Action.OPERATE: "cancel, retry, rerun, rename or replay runs",
    Action.DECIDE: "decide reviews",
    Action.EDIT: "create or change templates, schedules and triggers",
    Action.CONNECTORS: "add or change connectors",
    Action.MEMBERS: "invite or manage members",
    Action.AUDIT: "read the audit log",
    Action.PLAN: "rename or delete the team",
}


def _space(context) -> Space | None:
    request = context.get("request")
    user = request.scope.get("user") if request is not None else None
    return user.space if user is not None else None


@pass_context
def may(context, action: str, space: Space | None = None) -> bool:
    """Whether the reader's role in the page's space may take `action` (a `policy.Action` value).
    A thing of another space (a chat's run card started in a team) passes the reader's membership
    there as `space` (the card's `reader`)."""
    space = space or _space(context)
    return space is not None and allows(space.role, Action(action))


@pass_context
def why_not(context, action: str, space: Space | None = None) -> str:
    """The sentence a page shows where it leaves out an action; empty when the reader may take it."""
    space = space or _space(context)
    action = Action(action)
    if space is None or allows(space.role, action):
        return ""
    return (
        f"You are a {space.role} of {space.name}: only a {MIN_ROLE[action]} or above may "
        f"{DOING[action]} here."
    )


def register(engine: JinjaTemplateEngine) -> None:
    engine.engine.globals.update(may=may, why_not=why_not)
