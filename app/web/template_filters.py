"""Jinja filters shared by every page, so that one kind of value reads the same everywhere."""

from __future__ import annotations

from decimal import Decimal

from litestar.plugins.jinja import JinjaTemplateEngine

from app.core import local_time
from app.web import template_policy
from app.web.runs.bookkeeping import steps_shown
from app.web.runs.progress import progress_bar


def money(amount: Decimal | float | int | None) -> str:
    """US dollars, one way on every page: cents for a dollar and more ("$12.35"), four decimals
    below, where model costs live ("$0.0150", "$0.0001"), "<$0.0001" for less; "—" when unknown."""
    if amount is None:
        return "—"
    value = Decimal(str(amount))
    if value == 0:
        return "$0.00"
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value >= 1:
        return f"{sign}${value:,.2f}"
    if value < Decimal("0.00005"):
        return f"{sign}<$0.0001"
    return f"{sign}${value:.4f}"


# (marker in the User-Agent, name): the first match wins, so the browsers built on Chrome come first.
BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome", "Headless Chrome"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
)
SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def browser_name(user_agent: str | None) -> str:
    """ "Firefox on Windows" for a session's User-Agent header, which people do not read; the start
    of the header itself when neither is recognised, "Unknown" when there is none."""
    agent = (user_agent or "").strip()
    if not agent:
        return "Unknown"
    browser = next((name for marker, name in BROWSERS if marker in agent), None)
    system = next((name for marker, name in SYSTEMS if marker in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or agent[:40]


def register(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters["money"] = money
    engine.engine.filters["browser_name"] = browser_name
    engine.engine.filters["run_progress"] = progress_bar
    engine.engine.filters["steps_shown"] = steps_shown
    # Every date on a page goes through these (in the reader's time zone, named).
    engine.engine.filters.update(local_time.FILTERS)
    # may("edit") / why_not("edit"): actions offered by the reader's role (app/core/policy.py).
    template_policy.register(engine)
