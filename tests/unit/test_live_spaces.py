"""The live hub routes an event to its user's subscriptions and, with a `space_id`, to those
following that space: each subscription gets it once, other spaces never (app/web/live/hub.py)."""

import json

from app.web.live.hub import LiveHub


async def test_an_event_reaches_its_user_and_the_followers_of_its_space_once_each():
    hub = LiveHub("postgresql://unused")
    async with (
        hub.subscribe(1, space_id=10) as owner,  # the run's owner, following the team
        hub.subscribe(2, space_id=10) as colleague,
        hub.subscribe(3, space_id=20) as other_team,
        hub.subscribe(4) as no_space,
    ):
        hub.dispatch(json.dumps({"user_id": 1, "kind": "run.status", "space_id": 10}))
        hub.dispatch(json.dumps({"user_id": 4, "kind": "run.status"}))
        assert (await owner.next(timeout=0.01))["kind"] == "run.status"
        assert await owner.next(timeout=0.01) is None  # once, though it matches twice
        assert (await colleague.next(timeout=0.01))["user_id"] == 1
        assert await colleague.next(timeout=0.01) is None
        assert await other_team.next(timeout=0.01) is None
        assert (await no_space.next(timeout=0.01))["user_id"] == 4
    assert hub._subscribers == {} and hub._by_space == {}  # forgotten on leaving
