"""Dates as a person reads them: their zone, named; relative where it helps; zone names checked."""

from datetime import UTC, datetime, timedelta

import pytest

from app.core.local_time import BadTimeZone, format_local, parse_zone, relative

WINTER = datetime(2026, 12, 4, 8, 15, tzinfo=UTC)
SUMMER = datetime(2026, 7, 4, 8, 15, tzinfo=UTC)


def test_a_moment_is_shown_in_the_readers_zone_with_the_zone_named():
    assert format_local(WINTER, "Europe/Paris") == "4 Dec 2026, 09:15 CET"
    assert format_local(SUMMER, "Europe/Paris") == "4 Jul 2026, 10:15 CEST"  # daylight saving
    assert format_local(WINTER, "America/New_York") == "4 Dec 2026, 03:15 EST"
    assert format_local(WINTER, "Asia/Kolkata", "time") == "13:45 IST"
    assert (
        format_local(WINTER, "America/Sao_Paulo") == "4 Dec 2026, 05:15 UTC-03"
    )  # no letters: an offset
    assert format_local(WINTER, "Asia/Kathmandu", "time") == "14:00 UTC+05:45"
    assert format_local(WINTER, None) == "4 Dec 2026, 08:15 UTC"  # not set
    assert format_local(WINTER, "Gone/Zone") == "4 Dec 2026, 08:15 UTC"  # no longer known
    assert (
        format_local(datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "Asia/Tokyo", "date")
        == "1 Jan 2027"
    )
    assert format_local(None, "Europe/Paris") == ""


def test_relative_times_read_naturally():
    now = WINTER
    assert relative(now + timedelta(hours=3, minutes=5), now) == "in 3 h"
    assert relative(now - timedelta(minutes=5), now) == "5 min ago"
    assert relative(now - timedelta(seconds=10), now) == "just now"
    assert relative(now + timedelta(days=3, hours=1), now) == "in 3 days"
    assert relative(now - timedelta(hours=30), now) == "30 h ago"


@pytest.mark.parametrize(
    "name", ["Europe/Paris", "America/Argentina/Buenos_Aires", "UTC", " Asia/Tokyo "]
)
def test_iana_names_are_accepted(name):
    assert parse_zone(name) == name.strip()


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "../../etc/passwd", "europe/paris", "CET+1", "x" * 200]
)
def test_anything_else_is_refused_with_a_message(name):
    with pytest.raises(BadTimeZone, match="not a time zone"):
        parse_zone(name)


def test_empty_means_not_set():
    assert parse_zone("") is None and parse_zone(None) is None
