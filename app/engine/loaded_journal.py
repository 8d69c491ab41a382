"""The journal as a resuming run holds it: what the load query sent (journal.sql, load_run), read
position by position as the workflow code reaches them.

Replaying a long journal is the bulk of a resume (issue 14), so the common position — completed,
its output sent with the load or in this process's cache of large outputs — is answered without
building anything (`replayed`); every other position gets an entry dict (`entry`). Both check that
the code asks for the (name, kind) the journal holds.
"""

from __future__ import annotations

from typing import Any

from app.engine import stored_outputs
from app.engine.errors import NonDeterminism

# `replayed`'s answer for a position it does not settle: not journaled, not completed, or its
# output left in Postgres and not in this process's cache.
NOT_AT_HAND = object()


class LoadedJournal:
    __slots__ = ("_run_key", "_index", "_size", "_names", "_kinds", "_outputs", "stored", "_open")

    def __init__(self, row: dict, run_key: str):
        self._run_key = run_key
        seqs = row["journal_seqs"]
        self._size = len(seqs)
        # Positions are numbered 0, 1, 2...: the index of a position is its number unless the
        # journal has a gap (seqs come sorted and unique, so the last one tells).
        self._index = (
            None if not seqs or seqs[-1] == len(seqs) - 1 else {s: i for i, s in enumerate(seqs)}
        )
        self._names, self._kinds = row["journal_names"], row["journal_kinds"]
        self._outputs = row["journal_outputs"]
        # Outputs left in Postgres at load: position -> row version (app/engine/stored_outputs.py).
        self.stored: dict[int, str] = dict(
            zip(row["journal_stored_seqs"], row["journal_stored_versions"], strict=True)
        )
        # Positions not completed: seq -> [seq, status, attempts, error, wake_at].
        self._open: dict[int, list] = {e[0]: e for e in row["journal_open"]}

    def _position(self, seq: int) -> int | None:
        if self._index is None:
            return seq if seq < self._size else None
        return self._index.get(seq)

    def _check(self, i: int, seq: int, name: str, kind: str) -> None:
        if self._names[i] != name or self._kinds[i] != kind:
            raise NonDeterminism(
                f"workflow code changed under a running run: at position {seq} the journal holds "
                f"{self._kinds[i]} {self._names[i]!r} but the code now asks for {kind} {name!r}"
            )

    def replayed(self, seq: int, name: str, kind: str) -> Any:
        """The output of a completed position if it came with the load or is in this process's
        cache, else NOT_AT_HAND. Raises NonDeterminism if the journal holds another (name, kind)
        there."""
        i = self._position(seq)
        if i is None or seq in self._open:
            return NOT_AT_HAND
        if self._names[i] != name or self._kinds[i] != kind:
            self._check(i, seq, name, kind)
        version = self.stored.get(seq)
        if version is None:
            return self._outputs[i]
        found, value = stored_outputs.cache.get((self._run_key, seq, version))
        return value if found else NOT_AT_HAND

    def entry(self, seq: int, name: str, kind: str) -> dict | None:
        """What the journal holds at `seq` (None: nothing yet). Raises NonDeterminism if it holds
        another (name, kind) there."""
        i = self._position(seq)
        if i is None:
            return None
        self._check(i, seq, name, kind)
        _, status, attempts, error, wake_at = self._open.get(seq) or (
            seq,
            "completed",
            None,
            None,
            None,
        )
        return {
            "seq": seq,
            "name": name,
            "kind": kind,
            "status": status,
            "attempts": attempts,
            "output": self._outputs[i],
            "stored": self.stored.get(seq),
            "error": error,
            "wake_at": wake_at,
        }
