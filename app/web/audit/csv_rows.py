"""The audit log as CSV: one header, one line per entry, cells a spreadsheet shows as text.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel, LibreOffice
and Google Sheets (CSV injection): such a cell gets a leading `'`, which they show as text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime

from app.core.local_time import zone_of

HEADER = ("time", "actor", "action", "object_kind", "object_id", "detail")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def local_iso(at: datetime, zone: str | None) -> str:
    return at.astimezone(zone_of(zone)).isoformat(timespec="seconds")


def csv_lines(rows: Iterable[dict], zone: str | None, *, header: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(HEADER)
    for r in rows:
        writer.writerow(
            safe_cell(v)
            for v in (
                local_iso(r["at"], zone),
                r["actor_email"] or "system",
                r["action"],
                r["object_kind"],
                r["object_id"],
                json.dumps(r["detail"], ensure_ascii=False, sort_keys=True),
            )
        )
    return out.getvalue()
