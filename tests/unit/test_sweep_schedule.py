"""The recovery sweep's schedule fires every SWEEP_INTERVAL_S, all day long.

The old spec "*/20 * * * * *" was read by croniter with its sixth field as seconds: a sweep every
second of minutes :00, :20 and :40, then none for 19 minutes."""

from datetime import UTC, datetime, timedelta

from croniter import croniter

from app.engine.recovery import (
    STALLED_WORKER_TIMEOUT_S,
    SWEEP_INTERVAL_S,
    SWEEP_SCHEDULE,
    next_sweep_at,
)


def test_the_sweep_fires_every_interval_for_a_whole_day():
    start = datetime(2026, 12, 4, 23, 59, 53, 250000, tzinfo=UTC)
    fires = croniter(SWEEP_SCHEDULE, start)
    times = [fires.get_next(datetime) for _ in range(int(86400 / SWEEP_INTERVAL_S))]
    gaps = {(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)}
    assert gaps == {SWEEP_INTERVAL_S}
    assert 0 < (times[0] - start).total_seconds() <= SWEEP_INTERVAL_S


def test_next_sweep_at_is_never_more_than_one_interval_away():
    moment = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)
    for step_ms in range(0, 120_000, 770):
        now = moment + timedelta(milliseconds=step_ms)
        assert 0 < (next_sweep_at(now) - now).total_seconds() <= SWEEP_INTERVAL_S


def test_the_takeover_bound_is_within_the_target():
    # A dead worker's runs are taken over within the stalled-worker timeout plus one sweep interval.
    assert STALLED_WORKER_TIMEOUT_S + SWEEP_INTERVAL_S <= 45


def test_the_old_spec_was_a_burst_then_silence():
    fires = croniter("*/20 * * * * *", datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC))
    times = [fires.get_next(datetime) for _ in range(61)]
    assert max((b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)) >= 19 * 60
