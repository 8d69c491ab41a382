"""The admin overview's cost projection for the month."""

from datetime import date
from decimal import Decimal

from app.web.analytics.store import project_month


def test_projection_bills_steps_beyond_a_million_and_storage_beyond_ten_gb():
    # Day 10 of a 30-day month with 600k steps -> 1.8M projected, 800k billable -> $480.
    p = project_month(600_000, 12 * 1024**3, date(2026, 11, 10))
    assert p["projected_steps"] == 1_800_000 and p["billable_steps"] == 800_000
    assert p["steps_cost"] == Decimal("480.00") and p["storage_cost"] == Decimal("0.20")
    assert p["total"] == Decimal("480.20")
    quiet = project_month(1000, 1024**3, date(2026, 11, 30))
    assert quiet["total"] == Decimal("0.00")
