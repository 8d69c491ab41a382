"""Large step outputs stay in Postgres when a run resumes (issue 14).

Loading a run sends every journal entry's name and kind (the determinism check needs them at every
position), but an output stored larger than LAZY_OUTPUT_BYTES comes without its value. When the
workflow code reaches such a position, the run takes the value from this process's cache or, on
a miss, fetches every large output it lacks in one query. A journaled output never changes, so the
cache is keyed by (run id, position, row version): `xmin` changes if a retry forgets the position
and the step is journaled again, and a copied journal belongs to another run id. Workflow code that
mutates a value must not change what the next replay sees: a value is decoded afresh at each use, except text, which is immutable.

A run that resumes on the worker that ran its steps finds their outputs in the journal that worker
kept (app/engine/journal_cache.py); this cache serves a run whose journal was loaded from Postgres:
on another worker it reads them once per advance.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from psycopg import AsyncConnection

from app.core.sql_queries import load_queries

# An output stored (TOAST-compressed) above this many bytes is left in Postgres at load time.
LAZY_OUTPUT_BYTES = 1024
# Per process, in characters of JSON text.
CACHE_BYTES = 64 * 1024 * 1024

SQL = load_queries(__file__)
FETCH_OUTPUTS = SQL["fetch_outputs"]

Key = tuple[str, int, str]


class OutputCache:
    """Least recently used first out, bounded by the size of the texts it holds. A text output
    is kept decoded (a str cannot be mutated); any other as JSON text, decoded at each use."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes, self.bytes = max_bytes, 0
        self._items: OrderedDict[Key, tuple[bool, str]] = OrderedDict()

    def get(self, key: Key) -> tuple[bool, Any]:
        """(found, value)."""
        item = self._items.get(key)
        if item is None:
            return False, None
        self._items.move_to_end(key)
        is_json, payload = item
        return True, json.loads(payload) if is_json else payload

    def held(self, key: Key) -> tuple[bool, Any] | None:
        """(is JSON text, the text or value) as held, without decoding; None if not held."""
        return self._items.get(key)

    def has(self, key: Key) -> bool:
        return key in self._items

    def put(self, key: Key, value: Any) -> None:
        item = (False, value) if isinstance(value, str) else (True, json.dumps(value))
        if len(item[1]) > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= len(old[1])
        self._items[key] = item
        self.bytes += len(item[1])
        while self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= len(dropped[1])


cache = OutputCache()


def key(run_id: str, seq: int, version: str) -> Key:
    return (run_id, seq, version)


async def fetch(conn: AsyncConnection, run_id: str, wanted: list[int]) -> dict[int, Any]:
    """The outputs at positions `wanted`, cached as they arrive. (Under the run's advance lock no
    position is journaled again meanwhile.)"""
    rows = await (await conn.execute(FETCH_OUTPUTS, {"run_id": run_id, "seqs": wanted})).fetchall()
    for row in rows:
        cache.put(key(run_id, row["seq"], row["version"]), row["output"])
    return {row["seq"]: row["output"] for row in rows}
