"""The engine's errors. Each has a stable `code` the web and the API map to a status once."""

from __future__ import annotations


class EngineError(Exception):
    code = "engine_error"


class FatalError(Exception):
    """Raised by a step body: fail this step now, no retries."""


class StepFailed(Exception):
    """A step failed for good (retries exhausted or FatalError); raised into the workflow code,
    which may handle it. Replays raise it again at the same place."""

    def __init__(self, step: str, error: dict):
        self.step = step
        self.error = error
        super().__init__(f"step {step!r} failed: {error.get('type')}: {error.get('message')}")


class NonDeterminism(Exception):
    """The code asked for a different durable call than the journal holds at that position."""


class Suspend(BaseException):
    """Ends this advance of a run: its state is committed and a job or a person will wake it.
    A BaseException so that `except Exception` in workflow code cannot swallow it."""


class RunCancelled(BaseException):
    """The run was cancelled; raised at the next step boundary."""


class RunNotFound(EngineError):
    code = "not_found"


class WorkflowNotFound(EngineError):
    code = "workflow_not_found"


class InputInvalid(EngineError):
    code = "invalid_input"

    def __init__(self, errors: list[dict]):
        self.errors = errors
        first = errors[0] if errors else {"field": "input", "message": "invalid"}
        super().__init__(f"{first['field']}: {first['message']}")


class QuotaExceeded(EngineError):
    code = "quota_exceeded"


class InvalidState(EngineError):
    """The run is not in a state that allows this (e.g. retrying a completed run)."""

    code = "invalid_state"


class HookNotFound(EngineError):
    code = "not_found"


class AlreadyDecided(EngineError):
    code = "already_decided"


class HookExpired(EngineError):
    code = "expired"


class InvalidAction(EngineError):
    code = "invalid_action"


class ReplayNotFound(EngineError):
    code = "not_found"
