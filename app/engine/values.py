"""Small value types of the authoring API: retry policy, rate limit, step usage, hook result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

# The authoring API's rate limit is the one limiter's (app/core/ratelimit.py).
from app.core.ratelimit import RateLimit as RateLimit


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts in all (1 = no retry); the wait before attempt n+1 is initial * factor**(n-1)."""

    max_attempts: int = 3
    initial_s: float = 1.0
    factor: float = 2.0
    max_delay_s: float = 300.0

    def delay(self, attempts_done: int) -> timedelta:
        seconds = self.initial_s * self.factor ** max(attempts_done - 1, 0)
        return timedelta(seconds=min(seconds, self.max_delay_s))

    def to_json(self) -> dict:
        return asdict(self)


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class Usage:
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None  # None: priced from the model_prices table


@dataclass(frozen=True)
class StepOutput:
    """What a step body returns to have model usage journaled with its result."""

    value: Any
    usage: Usage | None = None


@dataclass(frozen=True)
class HookResult:
    action: str | None
    data: dict = field(default_factory=dict)
    timed_out: bool = False
    decided_by: str | None = None
    decided_at: datetime | None = None
    hook_id: int | None = None
    not_needed: bool = False  # `wait_if` said there was nothing to wait for: no hook was created

    @property
    def approved(self) -> bool:
        return self.action == "approve"

    def to_json(self) -> dict:
        return {
            "action": self.action,
            "data": self.data,
            "timed_out": self.timed_out,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "hook_id": self.hook_id,
            "not_needed": self.not_needed,
        }

    @classmethod
    def from_json(cls, value: dict) -> HookResult:
        decided_at = value.get("decided_at")
        return cls(
            action=value.get("action"),
            data=value.get("data") or {},
            timed_out=bool(value.get("timed_out")),
            decided_by=value.get("decided_by"),
            decided_at=datetime.fromisoformat(decided_at) if decided_at else None,
            hook_id=value.get("hook_id"),
            not_needed=bool(value.get("not_needed")),
        )


HOOK_ACTIONS = {
    "approval": ("approve", "revise", "reject"),
    "input": ("submit",),
    "webhook": ("deliver",),
}
