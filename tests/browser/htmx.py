"""Waiting for htmx in a real browser."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def settled(page: Page) -> None:
    """Wait until htmx has bound the triggers of the content it last swapped in. New content carries
    `.htmx-added` until then (a settle delay after the swap): a choice made on it before that fires
    no request, which a busy machine makes likely."""
    expect(page.locator(".htmx-added")).to_have_count(0)
