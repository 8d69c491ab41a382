"""Typed rows: a run, its journal entries and its hooks as they leave the engine (and the
approvals pages' own hook rows, `ReviewHook`, which the engine's `hooks.refusal` reads too).

The web, the API, the CLI, templates and schedules read `run.status`, not `run["status"]`: a
typo or a column that a query stopped selecting fails where it is read (and in the type
checker), not as a `KeyError` on one page. Each class has exactly the columns of the query that
fills it (`psycopg.rows.class_row`), named in its docstring; change both together. Rows a module
only uses inside itself stay dicts. The JSON shapes of the API and `baton runs ... --json` are
made from these in one place, app/web/api/schemas.py `run_view`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """A journal entry as people see it (commands.sql `run_steps`): a step, sleep, hook, map or
    transaction; journaled values (run.now, run.uuid) are not steps."""

    seq: int
    name: str
    kind: str
    status: str
    attempts: int
    output: Any
    error: dict | None
    started_at: datetime
    completed_at: datetime | None
    duration_ms: float | None
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    cost_usd: Decimal | None
    wake_at: datetime | None
    args: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Hook:
    """A hook as its run lists it (commands.sql `run_hooks`), with each person's decision
    (`decisions`: [{decided_by, action, decided_at}]). `token` is None when it was withheld
    (`get_run(..., with_tokens=False)`: pages that never show it)."""

    id: int
    seq: int
    token: str | None
    name: str
    kind: str
    status: str
    actions: list[str]
    show: Any
    assignee: str | None
    action: str | None
    response: Any
    decided_by: str | None
    decided_at: datetime | None
    expires_at: datetime | None
    created_at: datetime
    assigned_role: str | None
    required: int
    decisions: list[dict]


@dataclass(frozen=True, slots=True, kw_only=True)
class HookAfterDecision:
    """A hook as a decision left it (hooks.sql `get_hook`, what `resolve_hook` returns): `status`
    is still "waiting" when more approvals are needed, `approvals` counts them so far. Its
    `secret` is not selected: no caller needs it."""

    id: int
    run_id: UUID
    seq: int
    owner_id: int
    token: str
    name: str
    kind: str
    status: str
    actions: list[str]
    show: Any
    assignee: str | None
    assigned_role: str | None
    required: int
    action: str | None
    response: Any
    decided_by: str | None
    decided_at: datetime | None
    expires_at: datetime | None
    remind_at: datetime | None
    reminded_at: datetime | None
    created_at: datetime
    approvals: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HookToDecide:
    """A hook found to be decided by someone (hooks.sql `hook_for_decider`), with what the
    assignment rules (`hooks.refusal`, `hooks.who_decides`) need about that person: their role in
    the run's space (`my_role`, None: not a member) and e-mail (`my_email`), the space's name and
    the run owner's e-mail. Read by the API, the CLI, the run card and the upload pages."""

    id: int
    run_id: UUID
    token: str
    name: str
    kind: str
    status: str
    actions: list[str]
    show: Any
    assignee: str | None
    assigned_role: str | None
    required: int
    owner_id: int
    space_id: int
    owner_email: str
    space_name: str
    my_role: str | None
    my_email: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitingHook:
    """A hook in a person's inbox (hooks.sql `waiting_for_user`, `hooks.waiting_for`): waiting for
    them, with its run, its space and their role there (`my_role`)."""

    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    heading: str | None
    state: str | None
    assignee: str | None
    assigned_role: str | None
    required: int
    owner_id: int
    owner_email: str
    approvals: int
    run_id: UUID
    run_title: str
    workflow: str
    version: int
    chat_id: int | None
    space_id: int
    space_kind: str
    space_name: str
    my_role: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewHook:
    """A hook on its review page (app/web/approvals/store.py `BY_ID_FOR_USER`, and `BY_TOKEN` for
    the e-mail link's page, which selects the same columns): the hook, its run, how many approvals
    it has, and for a signed-in person their role in the run's space and whether they answered.
    The link's page knows no person: `my_role` None, `i_decided` false, and it does not name the
    team (`space_kind`, `space_name` None)."""

    id: int
    run_id: UUID
    owner_id: int
    token: str
    name: str
    kind: str
    status: str
    actions: list[str]
    show: Any
    assignee: str | None
    action: str | None
    response: Any
    decided_by: str | None
    decided_at: datetime | None
    expires_at: datetime | None
    created_at: datetime
    assigned_role: str | None
    required: int
    approvals: int
    space_id: int
    run_title: str
    workflow: str
    version: int
    chat_id: int | None
    run_status: str
    owner_email: str
    space_kind: str | None
    space_name: str | None
    my_role: str | None
    i_decided: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class HookRow:
    """A hook as the engine's signals pass it (hooks.sql `insert_hook` for `hook_waiting`,
    `claim_reminder` for `hook_reminder`): every column of `hooks`, the secret and token included,
    for the mail and the bell of app/workflows/notices.py."""

    id: int
    run_id: UUID
    seq: int
    owner_id: int
    token: str
    name: str
    kind: str
    status: str
    actions: list[str]
    show: Any
    assignee: str | None
    secret: str | None
    action: str | None
    response: Any
    decided_by: str | None
    decided_at: datetime | None
    expires_at: datetime | None
    remind_at: datetime | None
    reminded_at: datetime | None
    created_at: datetime
    assigned_role: str | None
    required: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StartedRun:
    """A run as the start path returns it (commands.sql `insert_runs`, and `by_idempotency_keys`
    for a key's earlier run: both select these columns, every column of `runs`), and as it ended
    (journal.sql `finish_run`: the `run_finished` signal's row): `start_run`,
    `start_runs`, app/web/runs/start.py `Started.run`, app/templates/start.py. No space names, no
    journal: `get_run` has those."""

    id: UUID
    owner_id: int
    chat_id: int | None
    workflow: str
    version: int
    title: str
    status: str
    input: Any
    output: Any
    error: dict | None
    idempotency_key: str | None
    waiting_for: str | None
    wake_at: datetime | None
    progress: dict | None
    cancel_requested: bool
    steps_done: int
    tokens_in: int
    tokens_out: int
    cost_usd: Decimal
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime
    completed_at: datetime | None
    deadline_at: datetime | None
    cancel_reason: str | None
    journal_pruned_at: datetime | None
    steps_failed: int
    steps_billed: int
    template_id: int | None
    template_version: int | None
    schedule_id: UUID | None
    fire_at: datetime | None
    trigger_id: UUID | None
    trigger_name: str | None
    rerun_of: UUID | None
    rerun_from: dict | None
    space_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Run(StartedRun):
    """One run (commands.sql `get_run`): every column of `runs` (those of `StartedRun`), the name
    of the schedule that started it, the slug of its template, its space and who started it.
    `steps` and `hooks` are its journal and hooks when `get_run` loaded them, None when not
    (cancel, retry)."""

    schedule_name: str | None
    template: str | None
    space_kind: str
    space_slug: str | None
    space_name: str
    owner_email: str
    steps: tuple[Step, ...] | None = None
    hooks: tuple[Hook, ...] | None = None

    def without_journal(self) -> Run:
        """The run alone (what `runs start --json` prints: no steps, no hooks)."""
        return replace(self, steps=None, hooks=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """A run in a list (commands.sql `list_runs`): no input, output or journal."""

    id: UUID
    workflow: str
    version: int
    title: str
    status: str
    waiting_for: str | None
    progress: dict | None
    error: dict | None
    chat_id: int | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    steps_done: int
    cost_usd: Decimal
    schedule_id: UUID | None
    fire_at: datetime | None
    rerun_of: UUID | None
    rerun_from: dict | None
    owner_id: int
    space_id: int
    space_kind: str
    space_slug: str | None
    space_name: str


Row = (
    Run
    | RunSummary
    | StartedRun
    | Step
    | HookRow
    | Hook
    | HookAfterDecision
    | HookToDecide
    | WaitingHook
    | ReviewHook
)


def as_dict(row: Row) -> dict[str, Any]:
    """The row as a plain dict of its columns, the shape the engine returned before these classes:
    for JSON (app/web/api/schemas.py `run_view`) and for a template that adds its own keys to a
    row (the run card's decision form, the inbox). A run's journal and hooks become lists of dicts
    (left out when not loaded), and a withheld hook token is left out, not null."""
    out = {f.name: getattr(row, f.name) for f in fields(row)}
    if isinstance(row, Run):
        for key in ("steps", "hooks"):
            if out[key] is None:
                del out[key]
            else:
                out[key] = [as_dict(item) for item in out[key]]
    if isinstance(row, Hook) and row.token is None:
        del out["token"]
    return out
