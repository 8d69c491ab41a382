"""The journal as a resuming run reads it: completed steps replay their outputs, every position
is checked against the code's (name, kind), and a journal with a gap still maps positions right."""

import pytest

from app.engine import stored_outputs
from app.engine.errors import NonDeterminism
from app.engine.loaded_journal import NOT_AT_HAND, LoadedJournal


def row(seqs, names, kinds, outputs, stored=(), open_=(), encoded=(), journal_from=0):
    return {
        "journal_from": journal_from,
        "journal_encoded": list(encoded),
        "journal_seqs": seqs,
        "journal_names": names,
        "journal_kinds": kinds,
        "journal_outputs": outputs,
        "journal_stored_seqs": [s for s, _ in stored],
        "journal_stored_versions": [v for _, v in stored],
        "journal_open": list(open_),
    }


def test_completed_steps_replay_their_outputs_and_new_positions_are_not_at_hand():
    j = LoadedJournal(
        row([0, 1], ["a", "b"], ["step", "step"], ['{"x": 1}', None], encoded=[0]), "run"
    )
    first = j.replayed(0, "a", "step")
    assert first == {"x": 1}
    first["x"] = 2  # the code mutating what it got does not change the next replay
    assert j.replayed(0, "a", "step") == {"x": 1} == j.entry(0, "a", "step")["output"]
    assert j.replayed(1, "b", "step") is None  # a step that returned None
    assert j.replayed(2, "c", "step") is NOT_AT_HAND
    assert j.entry(2, "c", "step") is None


def test_every_position_is_checked_against_the_code():
    j = LoadedJournal(row([0, 1], ["a", "b"], ["step", "sleep"], [1, None]), "run")
    with pytest.raises(NonDeterminism, match="step 'a' but the code now asks for step 'renamed'"):
        j.replayed(0, "renamed", "step")
    with pytest.raises(NonDeterminism, match="sleep 'b'"):
        j.replayed(1, "b", "step")
    with pytest.raises(NonDeterminism):
        j.entry(1, "b", "hook")


def test_a_journal_with_a_gap_maps_positions_to_their_rows():
    j = LoadedJournal(row([0, 2], ["a", "c"], ["step", "step"], ["A", "C"]), "run")
    assert j.replayed(2, "c", "step") == "C"
    assert j.replayed(1, "b", "step") is NOT_AT_HAND
    assert j.entry(1, "b", "step") is None


def test_open_positions_come_as_entries_with_their_status():
    j = LoadedJournal(
        row(
            [0, 1],
            ["a", "b"],
            ["step", "step"],
            ["A", None],
            open_=[[1, "retrying", 2, {"type": "E"}, "2030-01-01T00:00:00+00:00"]],
        ),
        "run",
    )
    assert j.replayed(1, "b", "step") is NOT_AT_HAND
    assert j.entry(1, "b", "step") == {
        "seq": 1,
        "name": "b",
        "kind": "step",
        "status": "retrying",
        "attempts": 2,
        "output": None,
        "stored": None,
        "error": {"type": "E"},
        "wake_at": "2030-01-01T00:00:00+00:00",
    }
    assert j.entry(0, "a", "step")["status"] == "completed"


def test_a_large_output_replays_from_the_cache_of_its_row_version_only(monkeypatch):
    monkeypatch.setattr(stored_outputs, "cache", stored_outputs.OutputCache())
    j = LoadedJournal(row([0], ["big"], ["step"], [None], stored=[(0, "7")]), "run")
    assert j.replayed(0, "big", "step") is NOT_AT_HAND  # not in the cache: fetched by the run
    stored_outputs.cache.put(("run", 0, "6"), "an older row version")
    assert j.replayed(0, "big", "step") is NOT_AT_HAND
    stored_outputs.cache.put(("run", 0, "7"), {"text": "large"})
    assert j.replayed(0, "big", "step") == {"text": "large"}
    assert j.entry(0, "big", "step")["stored"] == "7"
