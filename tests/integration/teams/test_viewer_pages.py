"""A viewer of a team is not offered what their role may not do (docs/teams.md, "Roles"): the main
pages leave out every button that would answer 403 and say why instead, while the team's owner sees
the same pages with their actions. The pages ask `may(...)` (app/web/template_policy.py)."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from tests.support.fixtures import forget_ip_limits, make_test_llm
from tests.support.route_world import Persona, World, build_world

WHY_EDIT = "only a member or above may create or change templates, schedules and triggers"
WHY_OPERATE = "only a member or above may cancel, retry, rerun, rename or replay runs"


@pytest.fixture(scope="module")
async def client(model_settings, database_url, model_server):
    from app.web.app import create_app

    forget_ip_limits(database_url)
    app = create_app(
        model_settings, database_url, run_worker=False, llm=make_test_llm(model_settings)
    )
    async with AsyncTestClient(app) as client:
        client.follow_redirects = False
        yield client


@pytest.fixture(scope="module")
async def world(pool, client) -> World:
    return await build_world(pool, client)


async def page(client, who: Persona, url: str) -> str:
    client.cookies.clear()
    for name, value in who.cookies.items():
        client.cookies.set(name, value)
    response = await client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.text


def offers(html: str, *labels: str) -> set[str]:
    """Which of these button or link labels the page shows (as a button or a link's text)."""
    return {
        label
        for label in labels
        if re.search(r"<(a|button)\b[^>]*>\s*" + re.escape(label) + r"\s*</(a|button)>", html)
    }


async def failed_run(pool, world: World) -> str:
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT id FROM runs WHERE space_id = %s AND status = 'failed'",
                (world.team_a["id"],),
            )
        ).fetchone()
    return str(row["id"])


LISTS = [
    ("/templates", ("New template", "Import", "Run", "Edit"), WHY_EDIT),
    ("/schedules", ("New schedule",), WHY_EDIT),
    (
        "/schedules/{schedule}",
        ("Edit", "Run now", "Pause", "Backfill", "Delete schedule"),
        WHY_EDIT,
    ),
    ("/triggers", ("New trigger",), WHY_EDIT),
    ("/triggers/{trigger}", ("Edit", "Disable", "Rotate secret", "Delete"), WHY_EDIT),
    ("/workflows", ("Replay runs…",), WHY_OPERATE),
    ("/workflows/{run}", ("Cancel run", "Save title"), WHY_OPERATE),
    ("/workflows/{failed}", ("Rerun…", "Retry from failed step"), WHY_OPERATE),
]


@pytest.mark.parametrize(("url", "actions", "why"), LISTS, ids=[u for u, _, _ in LISTS])
async def test_a_viewer_is_not_offered_what_their_role_may_not_do_and_is_told_why(
    client, world, pool, url, actions, why
):
    url = url.format(**world.ids, failed=await failed_run(pool, world))
    owners = await page(client, world.owner, url)
    assert offers(owners, *actions) == set(actions), url  # the same page offers them to the owner
    assert why not in owners

    viewers = await page(client, world.viewer, url)
    assert offers(viewers, *actions) == set(), url
    assert f"You are a viewer of {world.team_a['name']}: {why} here." in viewers
    # Nothing that would answer 403: no form posting to the actions, no link to their pages.
    for forbidden in ("/cancel", "/retry", "/rerun", "/title", "/trigger", "/pause", "/rotate"):
        assert f'action="{url}{forbidden}"' not in viewers
    for link in ('href="/templates/new"', 'href="/templates/import"', 'href="/schedules/new"'):
        assert link not in viewers
    assert 'href="/triggers/new"' not in viewers and 'href="/workflows/replay' not in viewers


async def test_a_viewer_still_reads_a_template_and_is_not_offered_to_run_it(client, world):
    viewers = await page(client, world.viewer, "/templates")
    template = world.ids["template_id"]
    assert f'href="/templates/{template}">View</a>' in viewers
    assert f'href="/templates/{template}/run"' not in viewers


async def test_a_viewer_opening_a_template_reads_it_and_is_told_why_they_cannot_change_it(
    client, world
):
    viewers = await page(client, world.viewer, f"/templates/{world.ids['template_id']}")
    assert "read-only" in viewers
    assert f"You are a viewer of {world.team_a['name']}: {WHY_EDIT} here." in viewers
    assert "/use" not in viewers and offers(viewers, "Save", "Run") == set()


async def test_a_review_assigned_to_a_viewer_offers_no_decision_but_says_why(client, world, pool):
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE hooks SET assignee = %s WHERE id = %s", (world.viewer.email, world.ids["hook"])
        )
    try:
        inbox = await page(client, world.viewer, "/approvals")
        assert f'href="/approvals/{world.ids["hook"]}"' not in inbox
        review = await page(client, world.viewer, f"/approvals/{world.ids['hook']}")
        assert "viewers read runs and decide nothing" in review
        assert offers(review, "Approve", "Reject") == set()
        run = await page(client, world.viewer, f"/workflows/{world.ids['run']}")
        assert 'name="action" value="approve"' not in run
    finally:
        async with pool.connection() as conn:
            await conn.execute(
                "UPDATE hooks SET assignee = NULL WHERE id = %s", (world.ids["hook"],)
            )
