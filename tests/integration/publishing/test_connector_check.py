"""Over HTTP: **Check** on the connectors page asks the receiver one harmless question through the
outbound guard and says what happened in the connector's row: reachable (with the status), wrong
secret or token, a refused address, nothing listening. Only a status code and its standard reason
are shown, never what the receiver answered. Owner only, CSRF checked."""

from __future__ import annotations

import html
import re
import socket

from tests.integration.publishing.conftest import SECRET, TOKEN, add_connector
from tests.integration.publishing.receiver import Receiver
from tests.integration.workflows.web import signed_in
from tests.support.web import htmx, token

PAGE = "/settings/connectors"


async def _check(client, csrf: str, connector: dict, *, as_htmx: bool = True):
    headers = htmx(csrf) if as_htmx else {}
    data = {} if as_htmx else {"_csrf_token": csrf}
    return await client.post(f"{PAGE}/{connector['id']}/check", headers=headers, data=data)


def _result(response, connector: dict) -> tuple[str, str]:
    """(ok|bad, message) shown in that connector's row."""
    row = response.text.split(f'id="connector-{connector["id"]}"', 1)[1].split("</tr>", 1)[0]
    found = re.search(r'<p class="connector-check is-(ok|bad)" role="status">([^<]+)</p>', row)
    assert found, row
    return found.group(1), html.unescape(found.group(2))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_check_says_whether_a_webhook_receiver_is_there_and_takes_the_secret(
    app_client, pool, model_settings
):
    _, user = await signed_in(app_client, pool)
    csrf = await token(app_client, PAGE)
    with Receiver(secret=SECRET) as rx:
        good = await add_connector(
            pool, model_settings, user, "webhook", rx.url, SECRET, name="blog"
        )
        wrong = await add_connector(
            pool, model_settings, user, "webhook", rx.url, "not-the-secret", name="old"
        )

        checked = await _check(app_client, csrf, good)
        assert checked.status_code == 200 and 'id="connectors"' in checked.text
        assert _result(checked, good) == ("ok", "Reachable: 127.0.0.1 answered 200 OK.")
        assert (
            len(rx.pings) == 1 and rx.pings[0]["event"] == "ping" and rx.deliveries == []
        )  # nothing published

        assert _result(await _check(app_client, csrf, wrong), wrong) == (
            "bad",
            "Reachable, but 127.0.0.1 answered 401 Unauthorized: check that it verifies this connector's secret.",
        )

        rx.fail_next(500, saying="db password is hunter2")  # the receiver's words stay in the log
        plain = await _check(app_client, csrf, good, as_htmx=False)
        assert (
            plain.status_code == 200 and "<html" in plain.text
        )  # a plain form gets the whole page
        assert _result(plain, good) == (
            "bad",
            "Reachable, but 127.0.0.1 answered 500 Internal Server Error (details are in the server log).",
        )
        assert "hunter2" not in plain.text


async def test_check_says_why_a_connector_is_not_reachable(app_client, pool, model_settings):
    _, user = await signed_in(app_client, pool)
    csrf = await token(app_client, PAGE)
    nobody = await add_connector(
        pool,
        model_settings,
        user,
        "webhook",
        f"http://127.0.0.1:{_free_port()}/hook",
        SECRET,
        name="down",
    )
    assert _result(await _check(app_client, csrf, nobody), nobody) == (
        "bad",
        "Not reachable: could not connect to 127.0.0.1 (ConnectError).",
    )
    # 127.0.0.2 is loopback and not in BATON_CONNECTOR_ALLOW (127.0.0.1 is): refused before connecting.
    internal = await add_connector(
        pool, model_settings, user, "webhook", "http://127.0.0.2:9/hook", SECRET, name="internal"
    )
    state, message = _result(await _check(app_client, csrf, internal), internal)
    assert state == "bad" and message.startswith("Not reachable: 127.0.0.2 is a loopback address; ")


async def test_check_of_a_mastodon_connector_tries_its_token(app_client, pool, model_settings):
    _, user = await signed_in(app_client, pool)
    csrf = await token(app_client, PAGE)
    with Receiver(token=TOKEN) as rx:
        good = await add_connector(
            pool, model_settings, user, "mastodon", rx.base, TOKEN, name="masto"
        )
        bad = await add_connector(
            pool, model_settings, user, "mastodon", rx.base, "revoked", name="masto-old"
        )
        assert _result(await _check(app_client, csrf, good), good) == (
            "ok",
            "Reachable: 127.0.0.1 answered 200 OK.",
        )
        assert _result(await _check(app_client, csrf, bad), bad) == (
            "bad",
            "Reachable, but 127.0.0.1 answered 401 Unauthorized: check the access token.",
        )
        assert rx.deliveries == []


async def test_only_the_owner_checks_a_connector_and_only_with_the_csrf_token(
    app_client, pool, model_settings
):
    _, user = await signed_in(app_client, pool)
    with Receiver(secret=SECRET) as rx:
        mine = await add_connector(pool, model_settings, user, "webhook", rx.url, SECRET)
        no_csrf = await app_client.post(
            f"{PAGE}/{mine['id']}/check", headers={"HX-Request": "true"}, data={}
        )
        assert no_csrf.status_code == 403
        await signed_in(app_client, pool)  # someone else
        csrf = await token(app_client, PAGE)
        assert (await _check(app_client, csrf, mine)).status_code == 404
        assert (
            await app_client.post(f"{PAGE}/999999999/check", headers=htmx(csrf), data={})
        ).status_code == 404
        assert rx.pings == []
