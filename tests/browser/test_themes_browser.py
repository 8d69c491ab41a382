"""Real chromium: light and dark themes. The page follows the system setting (prefers-color-scheme)
until the person chooses light, dark or system (saved on the account; a cookie when signed out),
and the main text, muted text, links and buttons meet WCAG AA (4.5:1) in both, computed from the
styles the browser actually applied."""

from __future__ import annotations

import re

import psycopg
from playwright.sync_api import Page, expect

from tests.support.web import PASSWORD, new_email

# Contrast ratio (WCAG 2.x) of a foreground on the first opaque background behind it.
CONTRAST = """(selector) => {
  const el = document.querySelector(selector);
  if (!el) return null;
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let bg = null;
  for (let node = el; node; node = node.parentElement) {
    const c = parse(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.99)) { bg = c; break; }
  }
  bg = bg || [255, 255, 255];
  const fg = parse(getComputedStyle(el).color);
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  return { ratio: (hi + 0.05) / (lo + 0.05), fg: getComputedStyle(el).color, bg: `rgb(${bg.join(",")})` };
}"""
# What a reader reads most: body text, muted hints, links, buttons, the status badges.
PAIRS = {
    "body text": "main h1",
    "muted text": "main .muted",
    "link": "main a[href='/api/docs']",
    "primary button": "main button.primary",
    "field label": "main .field label",
    "nav link": ".nav-main a:not([aria-current])",
}
PAGE = "/settings/api-keys"  # all of the above on one page


def check_contrast(page: Page, theme: str) -> None:
    page.goto(PAGE)
    for name, selector in PAIRS.items():
        found = page.evaluate(CONTRAST, selector)
        assert found is not None, f"{selector} is not on {page.url}"
        assert found["ratio"] >= 4.5, (
            f"{theme}: {name} contrast {found['ratio']:.2f} ({found['fg']} on {found['bg']})"
        )


def background_is_dark(page: Page) -> bool:
    return page.evaluate("""() => { const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);
                                    return r + g + b < 3 * 80; }""")


def sign_up(page: Page) -> str:
    email = new_email("theme")
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/chat"))
    return email


def test_the_system_setting_is_followed_and_both_themes_are_readable(page: Page):
    sign_up(page)
    page.goto("/settings/display")
    for scheme, dark in (("light", False), ("dark", True)):
        page.emulate_media(color_scheme=scheme)
        assert background_is_dark(page) is dark, f"system {scheme}: the page did not follow"
        check_contrast(page, f"system {scheme}")


def test_a_chosen_theme_overrides_the_system_and_is_remembered(page: Page, database_url):
    email = sign_up(page)
    page.emulate_media(color_scheme="light")
    page.goto("/settings/display")
    page.get_by_role("button", name="Dark", exact=True).click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert background_is_dark(page)
    expect(page.get_by_role("button", name="Dark", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    check_contrast(page, "chosen dark")
    with psycopg.connect(database_url) as conn:
        assert (
            conn.execute("SELECT theme FROM users WHERE email = %s", (email,)).fetchone()[0]
            == "dark"
        )
    page.goto("/workflows")  # every page, after a reload too
    assert background_is_dark(page)

    page.goto("/settings/display")
    page.emulate_media(color_scheme="dark")
    page.get_by_role("button", name="Light", exact=True).click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert not background_is_dark(page)
    check_contrast(page, "chosen light")
    page.goto("/settings/display")
    page.get_by_role("button", name="System", exact=True).click()
    expect(page.locator("html")).not_to_have_attribute("data-theme", re.compile("."))
    assert background_is_dark(page)  # the system (emulated dark) again
    with psycopg.connect(database_url) as conn:
        assert (
            conn.execute("SELECT theme FROM users WHERE email = %s", (email,)).fetchone()[0] is None
        )


def test_signed_out_pages_remember_the_choice_in_a_cookie(page: Page):
    page.emulate_media(color_scheme="light")
    page.goto("/login")
    page.get_by_role("button", name="Dark", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.goto("/signup")
    assert background_is_dark(page)
    assert any(c["name"] == "baton_theme" and c["value"] == "dark" for c in page.context.cookies())


def test_an_unknown_theme_is_a_clear_error(page: Page):
    page.goto("/login")
    token = page.locator("input[name=_csrf_token]").first.get_attribute("value")
    response = page.request.post("/theme", form={"_csrf_token": token, "theme": "neon"})
    assert response.status == 400 and "light, dark or system" in response.text()
