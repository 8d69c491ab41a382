"""A schedule as the API and `baton schedules list --json` show it (one shape for both)."""

from __future__ import annotations

from typing import Any

from app.schedules.firing import spec_of
from app.schedules.spec import describe

KEYS = (
    "id",
    "name",
    "workflow",
    "input",
    "cron",
    "every_s",
    "time_zone",
    "starts_at",
    "ends_at",
    "overlap",
    "catch_up",
    "catch_up_window_s",
    "pause_after_failures",
    "paused",
    "paused_note",
    "next_fire_at",
    "last_fire_at",
    "last_outcome",
    "last_run_id",
    "last_run_status",
    "created_at",
)


def schedule_view(row: dict[str, Any]) -> dict[str, Any]:
    spec = spec_of(row)
    return {k: row.get(k) for k in KEYS} | {
        "spec": spec.text,
        "spec_words": describe(spec),
        "template_id": row.get("template_id"),
        "template": row.get("template"),
    }


def fire_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "fire_at": row["fire_at"],
        "kind": row["kind"],
        "outcome": row["outcome"],
        "detail": row.get("detail"),
        "run_id": row.get("run_id"),
        "run_status": row.get("run_status"),
    }
