"""A run's progress as a person reads it: one overall percentage that only ever goes forward, with
the current phase's own count beside it ("summarise documents 20/50 · 52 %").

A workflow that goes through phases of unequal length declares them once, in order, with their
weights (`Phases(("extract text", 1), ("summarise documents", 6), ...)`), and reports each phase's own
count with `run.progress(done, total, label, phase=PHASES.span("summarise documents"))`: the overall
figure is the phase's start plus its share of the run times its own fraction done. Without a phase,
the count itself is the overall fraction. Either way the engine keeps the highest overall figure the
run has shown (`UPDATE_PROGRESS`, and the fan-out's `MAP_PROGRESS` in mapping.py), so a later phase
starting at 0/50 or a loop that goes round again never moves the bar backwards.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phases:
    weights: tuple[tuple[str, float], ...]

    def __init__(self, *weights: tuple[str, float]):
        if not weights or any(w <= 0 for _, w in weights):
            raise ValueError("phases need positive weights")
        object.__setattr__(self, "weights", tuple(weights))

    def span(self, phase: str) -> tuple[float, float]:
        """The phase's share of the run as (start, end), fractions of the whole."""
        total = sum(w for _, w in self.weights)
        start = 0.0
        for name, weight in self.weights:
            if name == phase:
                return start / total, (start + weight) / total
            start += weight
        raise KeyError(f"no phase {phase!r}")


def overall_percent(done: int, total: int, span: tuple[float, float] | None = None) -> float:
    """The run's overall percentage for a phase's count (not yet the maximum the run has shown)."""
    fraction = max(0.0, min(1.0, done / total)) if total else 0.0
    lo, hi = span or (0.0, 1.0)
    return round(100 * (lo + (hi - lo) * fraction), 1)
