"""The roles table of docs/teams.md, as app/core/policy.py decides it."""

import pytest

from app.core.policy import Action, Forbidden, Space, allows, may_decide, require


@pytest.mark.parametrize(
    ("role", "may"),
    [
        ("viewer", {Action.READ, Action.USE_API}),
        (
            "member",
            {Action.READ, Action.USE_API, Action.START, Action.OPERATE, Action.DECIDE, Action.EDIT},
        ),
        ("admin", set(Action) - {Action.PLAN}),
        ("owner", set(Action)),
    ],
)
def test_each_role_may_do_exactly_its_actions(role, may):
    assert {a for a in Action if allows(role, a)} == may


def test_an_unknown_role_may_do_nothing():
    assert not any(allows("guest", a) for a in Action)


def test_require_names_the_role_and_the_action():
    viewer = Space(1, "team", "Acme", "acme", "viewer", "pro")
    require(viewer, Action.READ)
    with pytest.raises(Forbidden, match="A viewer of Acme may not do this \\(start\\)"):
        require(viewer, Action.START)


def test_a_role_assignment_admits_that_role_and_above_and_never_a_viewer():
    assert may_decide("admin", assigned_role="admin", is_assignee=False)
    assert may_decide("owner", assigned_role="admin", is_assignee=False)
    assert not may_decide("member", assigned_role="admin", is_assignee=False)
    assert may_decide("member", assigned_role="member", is_assignee=False)
    assert may_decide("member", assigned_role=None, is_assignee=True)
    assert not may_decide("viewer", assigned_role="viewer", is_assignee=True)
    assert not may_decide(None, assigned_role="member", is_assignee=False)
