"""When schedules fire: next fires against known dates, daylight saving, catch-up choices, words."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.schedules.drafts import DraftInvalid, check_draft
from app.schedules.firing import due_fires
from app.schedules.spec import BadSpec, describe, fires_between, make_spec, next_fire, parse_every

NY = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")


def local_fires(spec, start, days):
    return [
        t.astimezone(ZoneInfo(spec.zone))
        for t in fires_between(spec, start, start + timedelta(days=days), 100)
    ]


def test_daily_0230_fires_once_on_the_night_the_clocks_skip_it():
    spec = make_spec(cron="30 2 * * *", zone="America/New_York")
    # 8 March 2026: 02:00 EST jumps to 03:00 EDT.
    fires = local_fires(spec, datetime(2026, 3, 7, 12, tzinfo=UTC), 3)
    assert [f.date().day for f in fires] == [8, 9, 10]
    assert (
        fires[0].hour == 3 and fires[0].minute == 30 and fires[0].utcoffset() == timedelta(hours=-4)
    )
    assert [(f.hour, f.minute) for f in fires[1:]] == [(2, 30), (2, 30)]


def test_daily_0130_fires_once_on_the_night_it_happens_twice():
    spec = make_spec(cron="30 1 * * *", zone="America/New_York")
    # 1 November 2026: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    fires = local_fires(spec, datetime(2026, 10, 31, 12, tzinfo=UTC), 3)
    assert [f.date().day for f in fires] == [1, 2, 3]
    assert fires[0].utcoffset() == timedelta(hours=-4)  # the first 01:30
    assert all((f.hour, f.minute) == (1, 30) for f in fires)


def test_european_dates_too():
    spec = make_spec(cron="30 2 * * *", zone="Europe/Paris")
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST.
    fires = local_fires(spec, datetime(2026, 3, 28, 12, tzinfo=UTC), 2)
    assert [(f.day, f.hour, f.minute) for f in fires] == [(29, 3, 30), (30, 2, 30)]


def test_hourly_in_the_repeated_hour_fires_each_wall_time_once():
    spec = make_spec(cron="30 * * * *", zone="America/New_York")
    fires = fires_between(
        spec, datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 1, 9, tzinfo=UTC), 10
    )
    walls = [(f.astimezone(NY).hour, f.astimezone(NY).minute) for f in fires]
    assert walls == [
        (0, 30),
        (1, 30),
        (2, 30),
        (3, 30),
    ]  # 01:30 EST (the repeat) is not a second fire
    assert len(set(fires)) == len(fires)


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        (
            "0 9 * * 1-5",
            datetime(2026, 12, 4, 9, 0, tzinfo=PARIS),
            datetime(2026, 12, 7, 9, 0, tzinfo=PARIS),
        ),  # Fri → Mon
        (
            "0 9 * * 1-5",
            datetime(2026, 12, 4, 8, 59, tzinfo=PARIS),
            datetime(2026, 12, 4, 9, 0, tzinfo=PARIS),
        ),
        ("@monthly", datetime(2026, 12, 15, tzinfo=PARIS), datetime(2027, 1, 1, tzinfo=PARIS)),
        ("0 0 29 2 *", datetime(2026, 3, 1, tzinfo=PARIS), datetime(2028, 2, 29, tzinfo=PARIS)),
        (
            "*/15 * * * *",
            datetime(2026, 12, 4, 10, 7, 30, tzinfo=PARIS),
            datetime(2026, 12, 4, 10, 15, tzinfo=PARIS),
        ),
    ],
)
def test_next_fire_against_known_dates(cron, after, expected):
    assert next_fire(make_spec(cron=cron, zone="Europe/Paris"), after) == expected


def test_interval_fires_count_from_the_anchor_in_elapsed_time():
    anchor = datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC)
    spec = make_spec(every="6h", anchor=anchor)
    assert next_fire(spec, anchor) == anchor + timedelta(hours=6)
    assert next_fire(spec, anchor + timedelta(hours=7)) == anchor + timedelta(hours=12)
    assert next_fire(spec, anchor - timedelta(days=1)) == anchor


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1),
        ("90s", 90),
        ("15m", 900),
        ("6h", 21600),
        ("1d", 86400),
        ("1h30m", 5400),
        (" 2 H ", 7200),
    ],
)
def test_intervals(text, seconds):
    assert parse_every(text) == seconds


@pytest.mark.parametrize("bad", ["", "0s", "5", "1w", "-1h", "400d", "1.5h"])
def test_bad_intervals(bad):
    with pytest.raises(BadSpec):
        parse_every(bad)


@pytest.mark.parametrize(
    "bad", ["* * *", "61 * * * *", "* * * * * *", "@fortnightly", "0 0 30 2 *", "x" * 300]
)
def test_bad_cron(bad):
    with pytest.raises(BadSpec):
        make_spec(cron=bad)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (
            make_spec(cron="0 9 * * 1-5", zone="Europe/Paris"),
            "At 09:00, Monday through Friday (Europe/Paris)",
        ),
        (make_spec(cron="@daily", zone="UTC"), "At 00:00 (UTC)"),
        (make_spec(cron="*/15 * * * *", zone="UTC"), "Every 15 minutes (UTC)"),
        (make_spec(every="6h"), "Every 6 hours"),
        (make_spec(every="1d"), "Every day"),
        (make_spec(every="90s"), "Every 1 minute 30 seconds"),
    ],
)
def test_descriptions(spec, words):
    assert describe(spec) == words


def _schedule(catch_up, first, every_s=1, window=86400):
    return {
        "cron": None,
        "every_s": every_s,
        "time_zone": "UTC",
        "anchor_at": datetime(2026, 1, 1, tzinfo=UTC),
        "next_fire_at": first,
        "catch_up": catch_up,
        "catch_up_window_s": window,
        "ends_at": None,
    }


def test_catch_up_after_ten_missed_fires():
    first = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)
    now = first + timedelta(seconds=9, milliseconds=500)  # fires :00 … :09 fell due while down
    assert due_fires(_schedule("latest", first), now) == [
        (first + timedelta(seconds=9), "catch-up")
    ]
    assert [t for t, _ in due_fires(_schedule("all", first), now)] == [
        first + timedelta(seconds=i) for i in range(10)
    ]
    assert due_fires(_schedule("all", first, window=3), now) == [
        (first + timedelta(seconds=i), "catch-up") for i in (7, 8, 9)
    ]
    assert due_fires(_schedule("none", first), now) == []


def test_one_fire_on_time_is_not_catch_up():
    first = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)
    for policy in ("latest", "all", "none"):
        assert due_fires(
            _schedule(policy, first, every_s=60), first + timedelta(milliseconds=30)
        ) == [(first, "scheduled")]
    # A single daily fire missed by hours: `none` leaves it, the others run it.
    late = first + timedelta(hours=3)
    assert due_fires(_schedule("none", first, every_s=86400), late) == []
    assert due_fires(_schedule("latest", first, every_s=86400), late) == [(first, "scheduled")]


def test_drafts_refuse_each_bad_field_with_its_own_message():
    with pytest.raises(DraftInvalid) as caught:
        check_draft(
            name="",
            workflow="nope",
            input={},
            cron="61 * * * *",
            time_zone="Mars/Olympus",
            overlap="maybe",
        )
    assert set(caught.value.errors) >= {"workflow", "time_zone", "spec", "overlap"}


def test_a_draft_defaults_to_the_owners_zone():
    import app.workflows.catalog  # noqa: F401

    draft = check_draft(
        name=None,
        workflow="content-generation",
        input={"prompt": "weekly digest"},
        cron="@daily",
        time_zone=None,
        default_zone="Europe/Paris",
    )
    assert draft.time_zone == "Europe/Paris" and draft.name


def test_a_fire_handled_a_moment_late_is_on_time_not_caught_up():
    # A busy worker reaches a 1-second schedule 1.5 s after its fire: the next fire is already
    # due, but nothing was down. Each fire runs in turn, none as a catch-up.
    first = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)
    now = first + timedelta(seconds=1, milliseconds=500)
    for policy in ("latest", "all", "none"):
        assert due_fires(_schedule(policy, first), now) == [(first, "scheduled")]
