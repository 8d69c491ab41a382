"""The bulk replay's pace: a share of the live workers' slots, never zero, and the setting that
configures it refuses what is not a share."""

import pytest

from app.core.config import ConfigError, load_settings
from app.engine.replays import slots_for


def test_a_replay_takes_its_share_of_the_workers_slots_and_at_least_one():
    assert slots_for(workers=2, share=0.25, concurrency=8) == 4
    assert slots_for(workers=1, share=0.25, concurrency=8) == 2
    assert (
        slots_for(workers=0, share=0.25, concurrency=8) == 2
    )  # no heartbeat seen yet: count one worker
    assert slots_for(workers=3, share=0.01, concurrency=8) == 1  # a tiny share still moves


def test_the_share_setting_reads_fractions_and_percents_and_refuses_the_rest():
    assert load_settings({}).replay_worker_share == 0.25
    assert load_settings({"BATON_REPLAY_WORKER_SHARE": "50%"}).replay_worker_share == 0.5
    assert load_settings({"BATON_REPLAY_WORKER_SHARE": "1"}).replay_worker_share == 1.0
    for bad in ("0", "1.5", "half", "-0.2"):
        with pytest.raises(ConfigError, match="BATON_REPLAY_WORKER_SHARE"):
            load_settings({"BATON_REPLAY_WORKER_SHARE": bad})
