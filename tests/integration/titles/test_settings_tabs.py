"""Issue 13, item 11: the connectors page is reachable from the settings' navigation."""

import re

from tests.support.web import log_in, make_user, new_email


async def test_the_connectors_page_is_a_settings_tab(app_client, pool):
    user = await make_user(pool, new_email("tabs"), tier="enterprise")
    assert (await log_in(app_client, user.email)).status_code == 303
    for page in ("/account", "/settings/notifications", "/settings/api-keys"):
        text = (await app_client.get(page)).text
        tabs = re.search(r'<nav class="settings-tabs".*?</nav>', text, re.S).group(0)
        assert 'href="/settings/connectors"' in tabs and ">Connectors<" in tabs, page
    connectors = (await app_client.get("/settings/connectors")).text
    tabs = re.search(r'<nav class="settings-tabs".*?</nav>', connectors, re.S).group(0)
    assert '<a href="/settings/connectors" aria-current="page">Connectors</a>' in tabs
