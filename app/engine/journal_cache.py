"""Journals a worker process keeps between a run's advances (issue 14).

When an advance suspends (a hook, a sleep, a retry's wait, a map), the worker keeps what it knows
of the run's journal: positions 0…n−1, every one completed, with their names, kinds and outputs.
When the run resumes on this worker, the load sends only the positions from n on (journal.sql
`load_run`), unless `runs.journal_version` moved meanwhile: a retry that forgets positions, an
edited output or a pruned journal bump it (sql/0116), and the whole journal is loaded as before.
A run resumed on another worker, or after a restart, finds nothing kept and loads it all; so does
one whose kept journal was pushed out of this process's budget. An advance takes its run's kept
journal out of the cache and puts one back only when it suspends cleanly: after a crash, a cancel,
a failure or the end of the run nothing stale is left.

What is kept is what a load from Postgres would give, never a value the code holds: text, numbers,
booleans and null as they are (none can be mutated); an object or array as JSON text with its keys
in jsonb's order, decoded at each use. An output this advance wrote is kept only if the write was
committed by itself (not inside a transaction that might still roll back) and its round trip
through jsonb is known to give the same value back; otherwise what is kept ends before it, and the
next load sends it from Postgres.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

# Per process, in characters of names and texts plus POSITION_BYTES a position.
CACHE_BYTES = 64 * 1024 * 1024
POSITION_BYTES = 80


@dataclass(slots=True)
class Kept:
    """Positions 0…len−1 of a run's journal, all completed, as of `version`."""

    version: int
    names: list[str]
    kinds: list[str]
    outputs: list[Any]  # immutable values; JSON text at the positions in `encoded`
    encoded: set[int]
    stored: dict[int, str]  # outputs left in Postgres at load: position -> row version
    size: int

    def __len__(self) -> int:
        return len(self.names)


class JournalCache:
    """Least recently kept first out, bounded by `max_bytes`."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes, self.bytes = max_bytes, 0
        self._items: OrderedDict[str, Kept] = OrderedDict()

    def take(self, run_key: str) -> Kept | None:
        kept = self._items.pop(run_key, None)
        if kept is not None:
            self.bytes -= kept.size
        return kept

    def keep(self, run_key: str, kept: Kept | None) -> None:
        self.take(run_key)
        if kept is None or not len(kept) or kept.size > self.max_bytes:
            return
        self._items[run_key] = kept
        self.bytes += kept.size
        while self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= dropped.size

    def __contains__(self, run_key: str) -> bool:
        return run_key in self._items


cache = JournalCache()


class _NotStable(Exception):
    pass


def _stable_float(value: float) -> bool:
    # jsonb keeps a number as numeric and prints it in plain notation: 1e+16 would come back as
    # an int, -0.0 as 0.0. Python's repr uses plain notation for the rest, which round-trips.
    return (
        math.isfinite(value)
        and "e" not in repr(value)
        and not (value == 0 and math.copysign(1, value) < 0)
    )


def _jsonb_order(value: Any) -> Any:
    """The value as jsonb hands it back: object keys shorter first, then by their UTF-8 bytes."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: _jsonb_order(value[k]) for k in keys}
    if isinstance(value, list):
        return [_jsonb_order(v) for v in value]
    if isinstance(value, float) and not _stable_float(value):
        raise _NotStable
    return value


def as_loaded(value: Any) -> tuple[bool, Any, bool]:
    """(keepable, what a load would hold, held as JSON text) for an output as it was written (a
    value through json round trip: None, bool, int, float, str, list, dict)."""
    if value is None or isinstance(value, (bool, int, str)):
        return True, value, False
    if isinstance(value, float):
        return _stable_float(value), value, False
    if isinstance(value, (list, dict)):
        try:
            return True, json.dumps(_jsonb_order(value), ensure_ascii=False), True
        except _NotStable:
            return False, None, False
    return False, None, False


def position_size(name: str, output: Any) -> int:
    return POSITION_BYTES + len(name) + (len(output) if output.__class__ is str else 0)
