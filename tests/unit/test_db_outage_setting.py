"""BATON_DB_OUTAGE_MAX: how long `baton worker` waits out a database outage before exiting 1."""

from __future__ import annotations

import pytest

from app.core.config import ConfigError, load_settings


def test_default_is_five_minutes():
    assert load_settings({}).db_outage_max_s == 300


@pytest.mark.parametrize(
    ("value", "seconds"), [("45", 45), ("90s", 90), ("2min", 120), ("2 m", 120), ("1h", 3600)]
)
def test_durations_are_read_in_seconds_minutes_or_hours(value, seconds):
    assert load_settings({"BATON_DB_OUTAGE_MAX": value}).db_outage_max_s == seconds


@pytest.mark.parametrize("value", ["0", "-5", "five", "10 days", "2d", "nan", "1e9", "25h"])
def test_bad_values_name_the_variable(value):
    with pytest.raises(ConfigError, match="BATON_DB_OUTAGE_MAX: expected a duration"):
        load_settings({"BATON_DB_OUTAGE_MAX": value})
