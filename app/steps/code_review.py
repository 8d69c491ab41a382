"""Steps of the code-review workflow: the model's review of a diff (comments anchored to file:line),
test runs in the sandbox, and the review report."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection

from app.core import runtime
from app.core.pdf import render_html, render_pdf
from app.engine.values import StepOutput
from app.steps import git, model
from app.steps.artifacts import file_stem, save_artifact
from app.steps.sandbox import Limits, run_sandboxed

REVIEWER = (
    "You are a senior code reviewer. Review the diff. Answer with a JSON array only, one object per "
    'comment: {"file": path as in the diff, "line": line number in the new file, "severity": '
    '"issue" | "suggestion" | "nit", "comment": one or two sentences}. At most 20 comments, '
    "the most important first. Answer [] if the change is fine."
)
MAX_COMMENTS = 20
MAX_COMMENT = 1000
SEVERITIES = ("issue", "suggestion", "nit")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def review_prompt(diff_text: str, truncated: bool) -> str:
    note = "\n(The diff was cut here: it is longer.)" if truncated else ""
    return f"The diff to review:\n<<<\n{diff_text}\n>>>{note}"


def changed_lines(diff_text: str) -> dict[str, set[int]]:
    """The new-side line numbers each file's hunks cover (where a comment can be anchored)."""
    lines: dict[str, set[int]] = {}
    current = None
    for line in diff_text.splitlines():
        if line.startswith("+++ "):
            name = line[4:].strip()
            current = None if name == "/dev/null" else (name[2:] if name.startswith("b/") else name)
            continue
        found = _HUNK.match(line)
        if found and current:
            start, count = int(found.group(1)), int(found.group(2) or 1)
            lines.setdefault(current, set()).update(range(start, start + max(count, 1)))
    return lines


MAX_UNREAD_ANSWER = 8000


def parse_answer(answer: str) -> list | None:
    """The model's JSON array, or None when the answer is not one (prose, broken JSON)."""
    text = answer.strip()
    if text.startswith("```"):
        text = text.strip("`").split("\n", 1)[-1]
    start, end = text.find("["), text.rfind("]")
    try:
        items = json.loads(text[start : end + 1]) if start >= 0 and end > start else None
    except (ValueError, RecursionError):
        items = None
    return items if isinstance(items, list) else None


def review_of(output: Any) -> tuple[list[dict], str | None]:
    """The "review diff" step's result as (comments, the model's answer when it could not be read).
    A readable review is journaled as the list of comments; an unreadable one as
    {"comments": [], "unreadable": answer}, so that it is said and shown rather than read as "no comments"."""
    if isinstance(output, dict):
        return [c for c in output.get("comments") or [] if isinstance(c, dict)], output.get(
            "unreadable"
        )
    return [c for c in output or [] if isinstance(c, dict)], None


def clean_comments(answer: str, diff_text: str) -> list[dict]:
    """The model's JSON as comments on lines the diff touches; everything else is dropped. A comment
    on a line outside the hunks is moved to the file's nearest changed line."""
    items = parse_answer(answer) or []
    anchors = changed_lines(diff_text)
    comments = []
    for item in items:
        if not isinstance(item, dict):
            continue
        path = str(item.get("file") or "").strip().removeprefix("b/")
        body = _CONTROL.sub("", str(item.get("comment") or "")).strip()[:MAX_COMMENT]
        line = item.get("line")
        if path not in anchors or not body or not isinstance(line, int) or isinstance(line, bool):
            continue
        if line not in anchors[path]:
            line = min(anchors[path], key=lambda n: abs(n - line))
        severity = item.get("severity") if item.get("severity") in SEVERITIES else "suggestion"
        comments.append({"file": path, "line": line, "severity": severity, "comment": body})
        if len(comments) >= MAX_COMMENTS:
            break
    return comments


def offline_comments(diff_text: str) -> list[dict]:
    return [
        {
            "file": path,
            "line": min(lines),
            "severity": "suggestion",
            "comment": "Offline demo model: a real model would review this change here. Connect one with OPENAI_BASE_URL.",
        }
        for path, lines in list(changed_lines(diff_text).items())[:5]
        if lines
    ]


async def review_diff(diff_text: str, truncated: bool) -> StepOutput:
    if not diff_text.strip():
        return StepOutput([])
    result = await model.generate(REVIEWER, review_prompt(diff_text, truncated))
    if runtime.current().llm.offline:
        return StepOutput(offline_comments(diff_text), usage=result.usage)
    if parse_answer(result.value) is None:
        return StepOutput(
            {"comments": [], "unreadable": result.value.strip()[:MAX_UNREAD_ANSWER]},
            usage=result.usage,
        )
    return StepOutput(clean_comments(result.value, diff_text), usage=result.usage)


async def run_tests(
    run_id: str, source: str, commit: str, patch: str | None, command: str | None, limits: dict
) -> dict:
    """Export the commit into a fresh directory, run the tests in the sandbox, remove the directory."""
    settings = runtime.current().settings
    root = Path(tempfile.mkdtemp(prefix="baton-review-"))
    work = root / "workspace"
    try:
        work.mkdir()
        await asyncio.to_thread(
            git.export_tree, settings.data_dir, run_id, source, commit, work, patch
        )
        command = command or git.detect_test_command(work)
        if not command:
            return {
                "commit": commit,
                "command": None,
                "passed": False,
                "outcome": "no_command",
                "output": "No test command given and none detected (pytest, npm test, go test ./...).",
                "exit_code": None,
                "truncated": False,
                "duration_s": 0,
                "sandbox": None,
            }
        limits = Limits(**limits, disk_mb=settings.sandbox_disk_mb, tmp_mb=settings.sandbox_tmp_mb)
        result = await run_sandboxed(work, command, limits=limits, mode=settings.sandbox)
        return {"commit": commit, "command": command, **result.to_json()}
    finally:
        await asyncio.to_thread(shutil.rmtree, root, True)


OUTCOME_WORDS = {
    "passed": "Tests passed",
    "failed": "Tests failed",
    "timeout": "Stopped at the time limit",
    "cpu_limit": "Stopped at the CPU-time limit",
    "memory_limit": "Stopped at the memory limit",
    "disk_limit": "Stopped at the disk limit",
    "killed": "Killed",
    "no_command": "No test command",
    "setup_error": "Test tool not found (setup error)",
}


async def save_review_report(
    conn: AsyncConnection,
    *,
    run_id: Any,
    owner_id: int,
    title: str,
    approved: bool,
    comments: list[dict],
    iterations: list[dict],
    when: datetime,
    source: str,
    unreadable: str | None = None,
) -> dict:
    context = {
        "title": title,
        "date": when.strftime("%-d %B %Y, %H:%M UTC"),
        "approved": approved,
        "source": source,
        "comments": comments,
        "unreadable": unreadable,
        "iterations": [
            i | {"label": OUTCOME_WORDS.get(i.get("outcome"), i.get("outcome"))} for i in iterations
        ],
    }
    html = render_html("code_review.html", **context)
    pdf = await asyncio.to_thread(render_pdf, "code_review.html", **context)
    stem = file_stem(title)
    return {
        "html": await save_artifact(
            conn,
            owner_id=owner_id,
            run_id=run_id,
            name=f"{stem}.html",
            content_type="text/html; charset=utf-8",
            data=html.encode(),
        ),
        "pdf": await save_artifact(
            conn,
            owner_id=owner_id,
            run_id=run_id,
            name=f"{stem}.pdf",
            content_type="application/pdf",
            data=pdf,
        ),
    }
