"""Who may do what in a space: the one place that answers it, for the web, the API and the CLI.

A space is a user's personal space or a team (sql/0080_spaces.sql). Everything a request touches
is looked up *within* its current space, so a foreign id is simply not found (404). This module
decides the second question, once the thing is found: may this member's role do this action?
A refusal of something the person can see is `Forbidden` (403); docs/teams.md has the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

ROLES = ("viewer", "member", "admin", "owner")  # lowest to highest
RANK = {role: rank for rank, role in enumerate(ROLES)}
# The roles a review or input can be assigned to ("any member", "any admin", the owners): each
# admits that role and the ones above it. Viewers decide nothing, so they are not one of them.
ASSIGNABLE_ROLES = ("member", "admin", "owner")


class Action(StrEnum):
    READ = "read"  # see runs, templates, schedules, triggers, files of the space
    START = "start"  # start runs, run templates and schedules now
    OPERATE = "operate"  # cancel, retry, rerun, rename runs; replay
    DECIDE = "decide"  # decide reviews and inputs assigned to them or to their role
    EDIT = "edit"  # create and change templates, schedules and triggers
    USE_API = "use_api"  # hold an API key in the space (it acts with the holder's role)
    CONNECTORS = "connectors"  # add and change publishing connectors (they hold secrets)
    MEMBERS = "members"  # invite, change roles, remove members
    AUDIT = "audit"  # read and export the audit log, see usage per member
    PLAN = "plan"  # rename the team, delete it


MIN_ROLE: dict[Action, str] = {
    Action.READ: "viewer",
    Action.USE_API: "viewer",
    Action.START: "member",
    Action.OPERATE: "member",
    Action.DECIDE: "member",
    Action.EDIT: "member",
    Action.CONNECTORS: "admin",
    Action.MEMBERS: "admin",
    Action.AUDIT: "admin",
    Action.PLAN: "owner",
}


class Forbidden(Exception):
    """The person can see the thing but their role may not do this to it (HTTP 403)."""


@dataclass(frozen=True, slots=True)
class Space:
    """The space a request acts in, with the caller's role there."""

    id: int
    kind: str  # "personal" or "team"
    name: str
    slug: str | None  # teams only
    role: str  # the caller's role; "owner" in their personal space
    tier: str  # the space's plan: a team's own, a personal space's user's tier

    @property
    def is_team(self) -> bool:
        return self.kind == "team"

    def allows(self, action: Action) -> bool:
        return allows(self.role, action)


def allows(role: str, action: Action) -> bool:
    return RANK.get(role, -1) >= RANK[MIN_ROLE[action]]


def require(space: Space, action: Action) -> None:
    """Raise `Forbidden` unless the caller's role in `space` may do `action`."""
    if not space.allows(action):
        raise Forbidden(f"A {space.role} of {space.name} may not do this ({action.value}).")


def may_decide(role: str | None, *, assigned_role: str | None, is_assignee: bool) -> bool:
    """May a member with `role` decide a hook assigned to `assigned_role` (e.g. "any admin"), or to
    them by name (`is_assignee`)? Viewers never decide; a role assignment admits that role and above."""
    if role is None or not allows(role, Action.DECIDE):
        return False
    if is_assignee:
        return True
    return assigned_role is not None and RANK[role] >= RANK[assigned_role]
