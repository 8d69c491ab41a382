"""Bodies the API accepts and what it answers, as pydantic models: validated at the edge, and the
source of the OpenAPI schema. Run shapes are those of `baton runs show --json` (`run_view`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.engine.rows import Run, RunSummary, StartedRun, as_dict
from app.web.json_values import storable_json
from app.web.runs.bookkeeping import is_bookkeeping

RunStatus = Literal["queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled"]


def check_text(value: str | None) -> str | None:
    return None if value is None else storable_json(value)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable_json(value)


class StartRun(_Body):
    workflow: str = Field(
        min_length=1, max_length=100, description="A name from `GET /api/v1/workflows`."
    )
    input: dict[str, Any] = Field(
        default_factory=dict, description="Validated against the workflow's input schema."
    )
    chat_id: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="A conversation of yours to show the run in."
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description=(
            "Starting again with the same key returns the first run (status 200) instead of a new one."
        ),
    )
    title: str | None = Field(
        default=None,
        min_length=1,
        max_length=120,
        description=(
            "The run's title; without it the workflow makes one from the input (topic, file names, repository and branch)."
        ),
    )


class RerunRun(_Body):
    from_step: str | int | None = Field(
        default=None,
        description=(
            "The step to execute from: its name (its first position), its `seq`, or `failed` (the first failed "
            "step); omitted or `start`: from the start. Earlier steps' results and decisions are reused."
        ),
    )
    input: dict[str, Any] | None = Field(
        default=None,
        description="The new run's input (default: the original's), validated like a start's.",
    )
    step_output: Any = Field(
        default=None,
        description=(
            "When present (even `null`), the `from_step` step is taken as done with this output and the run goes on "
            "after it. Only a `step`'s output (not a hook's, sleep's or transaction's) can be edited."
        ),
    )


class StartReplay(_Body):
    workflow: str = Field(min_length=1, max_length=100, description="Whose runs to replay.")
    statuses: list[RunStatus] = Field(
        default_factory=lambda: ["failed"], min_length=1, max_length=7
    )
    since: datetime | None = Field(default=None, description="Runs created at or after this time.")
    until: datetime | None = Field(default=None, description="Runs created before this time.")
    from_step: Literal["failed", "start"] = Field(
        default="failed",
        description=(
            "`failed`: each run from its first failed step (else its start), reusing the earlier results; `start`: from the start."
        ),
    )
    dry_run: bool = Field(
        default=False, description="Only answer which runs would be replayed; start nothing."
    )
    owner: str | None = Field(
        default=None,
        max_length=320,
        description="Admins: replay this user's runs on their behalf (their quota).",
    )


class ReplayRun(BaseModel):
    id: UUID
    workflow: str
    version: int
    status: RunStatus
    title: str
    created_at: datetime


class ReplayItem(BaseModel):
    source_id: UUID
    state: Literal["pending", "started", "refused", "skipped"]
    new_run_id: UUID | None
    new_status: RunStatus | None
    message: str | None


class ReplayOut(BaseModel):
    id: int
    workflow: str
    statuses: list[str]
    since: datetime | None
    until: datetime | None
    from_step: str
    status: Literal["running", "completed", "cancelled"]
    total: int
    created_at: datetime
    finished_at: datetime | None
    counts: dict[str, int] = Field(
        description="Items by state (pending, started, refused, skipped) and new runs by status."
    )
    items: list[ReplayItem] = Field(description="The first 200 runs, in replay order.")


class ReplayStarted(BaseModel):
    replay: ReplayOut | None = Field(
        description="The replay, paced in the background; null for a dry run."
    )
    selected: list[ReplayRun] = Field(description="The runs the filter selected, oldest first.")


class DecideHook(_Body):
    action: str = Field(min_length=1, max_length=50, description="One of the hook's `actions`.")
    data: dict[str, Any] = Field(
        default_factory=dict, description="The response the workflow receives."
    )


class WorkflowOut(BaseModel):
    name: str
    title: str
    description: str
    version: int
    input_schema: dict[str, Any] = Field(
        description="JSON schema of the `input` of `POST /api/v1/runs`."
    )


class WorkflowList(BaseModel):
    workflows: list[WorkflowOut]


class StepOut(BaseModel):
    seq: int
    name: str
    kind: str
    status: str
    attempts: int
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: float | None
    model: str | None
    tokens_in: int | None
    tokens_out: int | None


class HookOut(BaseModel):
    token: str | None = Field(default=None, description="Answer with `POST /api/v1/hooks/{token}`.")
    name: str
    kind: str
    status: str
    actions: list[str]
    expires_at: datetime | None
    action: str | None
    decided_by: str | None
    decided_at: datetime | None


class SpaceOut(BaseModel):
    id: int
    kind: Literal["personal", "team"]
    slug: str | None = Field(
        description="A team's slug (`--team SLUG` in the CLI); null for personal."
    )
    name: str


class RunOut(BaseModel):
    id: UUID
    workflow: str
    version: int
    title: str
    status: RunStatus
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    waiting_for: str | None = None
    progress: dict[str, Any] | None = None
    chat_id: int | None = None
    trigger_id: UUID | None = Field(
        default=None, description="The trigger that started the run (null once deleted)."
    )
    trigger_name: str | None = Field(
        default=None, description="Started by the trigger of this name (kept after it is deleted)."
    )
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    schedule_id: UUID | None = Field(
        default=None, description="The schedule that started the run, if one did."
    )
    fire_at: datetime | None = Field(
        default=None, description="The schedule's fire the run was started for."
    )
    rerun_of: UUID | None = Field(
        default=None, description="The run this one reruns (`POST /runs/{id}/rerun`, a replay)."
    )
    rerun_from: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Where the rerun starts: `seq` and `step` (null: the start), `edited_output`, `edited_input`, `replay_id`."
        ),
    )
    template: str | None = Field(default=None, description="A template run: the template's slug.")
    template_version: int | None = Field(
        default=None, description="A template run: the version it runs."
    )
    space: SpaceOut | None = Field(
        default=None, description="The space the run belongs to (a personal space or a team)."
    )


class FileOut(BaseModel):
    id: UUID
    name: str
    content_type: str
    size: int = Field(description="In bytes.")
    url: str = Field(
        description="Download it with the same API key: `GET` this path on the server."
    )


class RunDetail(RunOut):
    steps: list[StepOut]
    hooks: list[HookOut]
    files: list[FileOut] = Field(
        default_factory=list, description="The files the run made (reports, charts, data)."
    )


class RunList(BaseModel):
    runs: list[RunOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last one."
    )


class DecidedHook(BaseModel):
    run_id: UUID
    name: str
    kind: str
    status: str
    action: str | None
    decided_by: str | None
    decided_at: datetime | None


def run_view(row: Run | RunSummary | StartedRun, *, with_tokens: bool = True) -> dict:
    """The shape `baton runs show --json` and the API print, of a `Run` (`get_run`), a
    `RunSummary` (`list_runs`) or a `StartedRun` (`start_run`). Without `with_tokens`, no hook
    carries its token (another member's run on the API)."""
    run = as_dict(row)
    keys = (
        "id",
        "workflow",
        "version",
        "title",
        "status",
        "input",
        "output",
        "error",
        "waiting_for",
        "progress",
        "chat_id",
        "trigger_id",
        "trigger_name",
        "schedule_id",
        "fire_at",
        "rerun_of",
        "rerun_from",
        "created_at",
        "started_at",
        "completed_at",
    )
    view = {k: run.get(k) for k in keys}
    # The space the run belongs to (get_run and list_runs join it).
    view["space"] = (
        {
            "id": run["space_id"],
            "kind": run["space_kind"],
            "slug": run.get("space_slug"),
            "name": run["space_name"],
        }
        if run.get("space_kind")
        else None
    )
    # A template run: which template, at which version (null for a workflow's run, as the API's RunOut says).
    view["template"] = run.get("template") if run.get("template_id") is not None else None
    view["template_version"] = (
        run.get("template_version") if run.get("template_id") is not None else None
    )
    if "steps" in run:
        view["steps"] = [
            {
                k: s[k]
                for k in (
                    "seq",
                    "name",
                    "kind",
                    "status",
                    "attempts",
                    "started_at",
                    "completed_at",
                    "duration_ms",
                    "model",
                    "tokens_in",
                    "tokens_out",
                )
            }
            for s in run["steps"]
            if not is_bookkeeping(run["workflow"], s["seq"], s["name"])
        ]
        view["hooks"] = [
            {
                k: h.get(k)
                for k in (
                    "token",
                    "name",
                    "kind",
                    "status",
                    "actions",
                    "expires_at",
                    "action",
                    "decided_by",
                    "decided_at",
                )
                if k in h and (with_tokens or k != "token")
            }
            for h in run["hooks"]
        ]
    return view
