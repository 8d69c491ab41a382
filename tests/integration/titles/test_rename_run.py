"""Issue 13, item 6: the owner renames a run from its page (plain form and HTMX); bad titles are
refused in words, a form without its CSRF token is refused, another user's run is a 404."""

from tests.support.engine import start
from tests.support.web import csrf_of, log_in, make_user, new_email


async def _title(pool, run_id) -> str:
    async with pool.connection() as conn:
        return (
            await (await conn.execute("SELECT title FROM runs WHERE id = %s", (run_id,))).fetchone()
        )["title"]


async def test_the_owner_renames_a_run_and_others_cannot(app_client, pool):
    user = await make_user(pool, new_email("rename"), tier="enterprise")
    assert (await log_in(app_client, user.email)).status_code == 303
    run = await start(pool, user.id, "selftest", steps=1)
    page = await app_client.get(f"/workflows/{run.id}")
    assert f'action="/workflows/{run.id}/title"' in page.text and "Rename" in page.text
    csrf = csrf_of(page.text)

    plain = await app_client.post(
        f"/workflows/{run.id}/title", data={"_csrf_token": csrf, "title": "  Nightly   check "}
    )
    assert plain.status_code == 303 and plain.headers["location"] == f"/workflows/{run.id}"
    assert await _title(pool, run.id) == "Nightly check"
    assert "<h1>Nightly check</h1>" in (await app_client.get(f"/workflows/{run.id}")).text

    swapped = await app_client.post(
        f"/workflows/{run.id}/title",
        headers={"HX-Request": "true"},
        data={"_csrf_token": csrf, "title": "Weekly check"},
    )
    assert swapped.status_code == 200 and "<html" not in swapped.text and "Renamed." in swapped.text
    assert 'value="Weekly check"' in swapped.text and await _title(pool, run.id) == "Weekly check"

    too_long = await app_client.post(
        f"/workflows/{run.id}/title", data={"_csrf_token": csrf, "title": "x" * 121}
    )
    assert too_long.status_code == 422 and "At most 120 characters" in too_long.text
    blank = await app_client.post(
        f"/workflows/{run.id}/title",
        headers={"HX-Request": "true"},
        data={"_csrf_token": csrf, "title": "   "},
    )
    assert blank.status_code == 200 and "Write a title." in blank.text
    assert await _title(pool, run.id) == "Weekly check"

    no_csrf = await app_client.post(f"/workflows/{run.id}/title", data={"title": "Sneaky"})
    assert no_csrf.status_code == 403 and await _title(pool, run.id) == "Weekly check"

    other = await make_user(pool, new_email("other"), tier="enterprise")
    theirs = await start(pool, other.id, "selftest", steps=1)
    response = await app_client.post(
        f"/workflows/{theirs.id}/title", data={"_csrf_token": csrf, "title": "Mine now"}
    )
    assert response.status_code == 404 and await _title(pool, theirs.id) != "Mine now"
