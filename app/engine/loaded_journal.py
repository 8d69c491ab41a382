"""The journal as a resuming run holds it: what this worker kept of it from the run's last advance
(app/engine/journal_cache.py) followed by what the load query sent (journal.sql, load_run), read
position by position as the workflow code reaches them.

Replaying a long journal is the bulk of a resume (issue 14), so the common position — completed,
its output sent with the load or in this process's cache of large outputs — is answered without
building anything (`replayed`); every other position gets an entry dict (`entry`). Both check that
the code asks for the (name, kind) the journal holds.
"""

from __future__ import annotations

import json
from typing import Any

from app.engine import stored_outputs
from app.engine.errors import NonDeterminism
from app.engine.journal_cache import Kept, position_size

# `replayed`'s answer for a position it does not settle: not journaled, not completed, or its
# output left in Postgres and not in this process's cache.
NOT_AT_HAND = object()


class LoadedJournal:
    __slots__ = (
        "_run_key",
        "_seqs",
        "_index",
        "_size",
        "_names",
        "_kinds",
        "_outputs",
        "_encoded",
        "stored",
        "_open",
        "_kept_len",
        "_kept_size",
    )

    def __init__(self, row: dict, run_key: str, kept: Kept | None = None):
        self._run_key = run_key
        seqs = row["journal_seqs"]
        # Outputs left in Postgres at load: position -> row version (app/engine/stored_outputs.py).
        self.stored: dict[int, str] = dict(
            zip(row["journal_stored_seqs"], row["journal_stored_versions"], strict=True)
        )
        self._encoded: set[int] = set(row["journal_encoded"])
        self._names, self._kinds = row["journal_names"], row["journal_kinds"]
        self._outputs = row["journal_outputs"]
        self._kept_len, self._kept_size = 0, 0
        if kept is not None and len(kept) and row["journal_from"] == len(kept):
            # The load sent the positions after those this worker kept (their versions agree).
            self._kept_len, self._kept_size = len(kept), kept.size
            k = len(kept)
            contiguous = not seqs or (seqs[0] == k and seqs[-1] == k + len(seqs) - 1)
            seqs = range(k + len(seqs)) if contiguous else [*range(k), *seqs]
            self._names, self._kinds = kept.names + self._names, kept.kinds + self._kinds
            self._outputs = kept.outputs + self._outputs
            self._encoded |= kept.encoded
            self.stored = kept.stored | self.stored
        self._seqs = seqs
        self._size = len(seqs)
        # Positions are numbered 0, 1, 2...: the index of a position is its number unless the
        # journal has a gap (seqs come sorted and unique, so the last one tells).
        self._index = (
            None if not seqs or seqs[-1] == len(seqs) - 1 else {s: i for i, s in enumerate(seqs)}
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
            return json.loads(self._outputs[i]) if seq in self._encoded else self._outputs[i]
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
            "output": json.loads(self._outputs[i]) if seq in self._encoded else self._outputs[i],
            "stored": self.stored.get(seq),
            "error": error,
            "wake_at": wake_at,
        }

    def _completed_prefix(self) -> int:
        """How many positions from 0 on are journaled and completed."""
        n = self._size
        if self._index is not None:
            n = next((i for i, s in enumerate(self._seqs) if s != i), n)
        return min(n, min(self._open, default=n))

    def kept(self, version: int, written: dict[int, tuple[str, str, Any, bool]]) -> Kept | None:
        """What the worker keeps once the advance suspends: the completed positions from 0 on,
        those loaded then those this advance wrote (`written`: seq -> name, kind, output as a load
        would hold it, held as JSON text), as of journal `version`."""
        n = self._completed_prefix()
        names, kinds, outputs = self._names[:n], self._kinds[:n], self._outputs[:n]
        start = self._kept_len if n >= self._kept_len else 0
        size = (self._kept_size if start else 0) + sum(
            position_size(names[i], outputs[i]) for i in range(start, n)
        )
        encoded = {s for s in self._encoded if s < n}
        stored = {}
        for s, row_version in self.stored.items():
            if s >= n:
                continue
            # An output left in Postgres at load and since fetched is kept as any other.
            held = stored_outputs.cache.held((self._run_key, s, row_version))
            if held is None:
                stored[s] = row_version
                continue
            as_json, outputs[s] = held
            size += len(outputs[s])
            if as_json:
                encoded.add(s)
        while (w := written.get(n)) is not None:
            name, kind, output, as_json = w
            names.append(name)
            kinds.append(kind)
            outputs.append(output)
            if as_json:
                encoded.add(n)
            size += position_size(name, output)
            n += 1
        return Kept(version, names, kinds, outputs, encoded, stored, size) if n else None
