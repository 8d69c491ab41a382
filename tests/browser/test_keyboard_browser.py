"""Real chromium, keyboard only: Tab walks every page from top to bottom and back out (no trap),
and wherever the focus lands it shows a ring a reader can see — at least 2 px and 3:1 against the
background behind it (WCAG 2.4.7 and 1.4.11), in the light and the dark theme."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_dashboard_browser import sign_up_enterprise, start

# Where the focus is and how it shows. A visually hidden toggle (the phone's Menu, the chat drawer)
# shows its focus on its label; the chat's message box on the box around it.
FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (node) => {
    for (; node; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c.length === 3 || c[3] > 0.99) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const name = el.tagName.toLowerCase() + "." + [...el.classList].join(".") + " “" + (el.textContent || el.name || "").trim().slice(0, 30) + "”";
  let shown = el;
  if (el.labels && el.labels.length && Number(getComputedStyle(el).opacity) === 0) shown = el.labels[el.labels.length - 1];
  let style = getComputedStyle(shown);
  let width = parseFloat(style.outlineWidth), color = style.outlineColor, behind = background(shown.parentElement);
  if (style.outlineStyle === "none" && el.closest(".composer-box")) {
    const box = getComputedStyle(el.closest(".composer-box"));
    const ring = box.boxShadow.match(/rgba?\\([^)]*\\)/);
    width = ring ? parseFloat(box.borderWidth) + 1 : 0; color = ring ? ring[0] : "none";
    behind = background(el.closest(".composer-box").parentElement);
  } else if (style.outlineStyle === "none") {
    width = 0;
  }
  if (width < 2) return { name, problem: `no ring (outline ${style.outlineStyle} ${style.outlineWidth})` };
  const [hi, lo] = [lum(parse(color)), lum(behind)].sort((a, b) => b - a);
  const ratio = (hi + 0.05) / (lo + 0.05);
  if (ratio < 3) return { name, problem: `ring ${color} on rgb(${behind}) is ${ratio.toFixed(2)}:1` };
  return { name, problem: null };
}"""
MAX_STOPS = 120


def walk_with_tab(page: Page) -> list[str]:
    """Tabs from the top of the page until the focus leaves it; returns the problems seen."""
    page.locator("body").focus()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    problems = []
    for _ in range(MAX_STOPS):
        page.keyboard.press("Tab")
        found = page.evaluate(FOCUS_RING)
        if found is None:
            return problems
        if found["problem"]:
            problems.append(f"{found['name']}: {found['problem']}")
    raise AssertionError(f"{page.url}: the focus never left the page in {MAX_STOPS} presses of Tab")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_focus_stop_shows_a_ring_and_tab_leaves_each_page(page: Page, database_url, scheme):
    user_id = sign_up_enterprise(page, database_url)
    start(database_url, user_id, "test-hook")
    page.emulate_media(color_scheme=scheme)
    page.goto("/approvals")
    review = page.locator("#approval-rows").get_by_role("link", name="Review")
    expect(review).to_be_visible()
    for url in (
        "/chat",
        "/workflows",
        review.get_attribute("href"),
        "/templates",
        "/settings/display",
        "/help",
    ):
        page.goto(url)
        problems = walk_with_tab(page)
        assert not problems, f"{page.url} ({scheme}): {problems[:6]}"
    page.set_viewport_size({"width": 360, "height": 740})  # the Menu button and the chat drawer
    for url in ("/workflows", "/chat"):
        page.goto(url)
        problems = walk_with_tab(page)
        assert not problems, f"{page.url} ({scheme}, 360 px): {problems[:6]}"
