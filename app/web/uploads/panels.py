"""What the run card shows for the document and data workflows, beyond the shared card: live counts
("23/50 extracted"), the per-document results, the summaries review form, the data profile with its
charts, every drill-down and the drill-down form, and the report links.

Built from the run as `get_run` returns it (its journal outputs and hooks), so it needs no query of
its own. Registered with the run card (app/web/runs/panels.py) by the app (app/web/app.py); the step
names it reads are the workflows' own constants. The templates are templates/partials/runs/document-processing.html and data-analysis.html.
"""

from __future__ import annotations

from typing import Any

from app.core.markdown import render_markdown
from app.workflows import data_analysis, documents

DOCUMENT_STATES = {
    "ok": "read",
    "no_text": "no text (image-only)",
    "encrypted": "encrypted",
    "corrupt": "corrupt",
}


def _steps(run: dict) -> dict[str, dict]:
    return {s["name"]: s for s in run["steps"]}


def _output(steps: dict[str, dict], name: str) -> Any:
    step = steps.get(name)
    return step["output"] if step and step["status"] == "completed" else None


def _waiting_hook(run: dict, form: str) -> dict | None:
    hook = next((h for h in run["hooks"] if h["status"] == "waiting"), None)
    show = (hook or {}).get("show") or {}
    return hook if hook and run["status"] == "waiting" and show.get("form") == form else None


def _counts(run: dict) -> str | None:
    progress = run.get("progress") or {}
    word = documents.PROGRESS_WORDS.get(progress.get("label") or "")
    if run["status"] not in ("running", "queued") or not word or not progress.get("total"):
        return None
    return f"{progress.get('done', 0)}/{progress['total']} {word}"


def _report(run: dict) -> dict | None:
    output = run.get("output") if run["status"] == "completed" else None
    return output.get("report") if isinstance(output, dict) else None


def _excluded_by_review(run: dict, extracted: list[dict]) -> list[str]:
    """The documents the reviewer excluded, from their decision as soon as it is made (the run's
    output says it only at the end)."""
    review = next(
        (h for h in run["hooks"] if h["name"] == "review summaries" and h["status"] == "resolved"),
        None,
    )
    excluded = {
        int(i)
        for i in ((review or {}).get("response") or {}).get("exclude") or []
        if str(i).isdigit()
    }
    return [d["name"] for d in extracted if d.get("index") in excluded]


def documents_panel(run: dict) -> dict:
    steps = _steps(run)
    extracted = _output(steps, documents.EXTRACT_STEP) or []
    summaries = _output(steps, documents.SUMMARISE_STEP) or []
    hook = _waiting_hook(run, documents.NAME)
    output = run.get("output") if isinstance(run.get("output"), dict) else {}
    problems = [d for d in extracted if d["status"] != "ok"] + [
        {"name": s["name"], "message": f"The model could not summarise it: {s['error']}"}
        for s in summaries
        if not s.get("summary")
    ]
    excluded = output.get("excluded") or _excluded_by_review(run, extracted)
    return {
        "template": "partials/runs/document-processing.html",
        "decides": hook is not None,  # the card leaves the generic decision form out
        "counts": _counts(run),
        "documents": [
            {**d, "state": DOCUMENT_STATES.get(d["status"], d["status"])} for d in extracted
        ],
        "rejected": (run.get("input") or {}).get("rejected") or [],
        "review": [s for s in summaries if s.get("summary")] if hook else [],
        "problems": problems,
        "not_included": len(problems) + len(excluded),
        "analysis_html": render_markdown(output["analysis"], top=5)
        if output.get("analysis")
        else None,
        "excluded": excluded,
        "message": output.get("message"),
        "report": _report(run),
    }


def data_panel(run: dict) -> dict:
    steps = _steps(run)
    profile = _output(steps, data_analysis.PROFILE_STEP)
    if profile and profile.get("error"):
        profile = None
    insights = _output(steps, data_analysis.INSIGHTS_STEP)
    requests = {
        h["name"]: (h.get("response") or {}) for h in run["hooks"] if h["status"] == "resolved"
    }
    columns = [c["name"] for c in profile["columns"]] if profile else []
    drills = []
    for n in range(1, data_analysis.MAX_DRILLS + 1):
        result = _output(steps, data_analysis.query_step(n))
        if result is None:
            continue
        request = data_analysis.parse_request(
            requests.get(data_analysis.drill_hook(n), {}), columns
        )
        proposal = _output(steps, data_analysis.propose_step(n)) or {}
        finding = _output(steps, data_analysis.explain_step(n))
        drills.append(
            {
                "round": n,
                "title": request["question"] or request["column"] or f"Query {n}",
                "filter": request["filter"],
                "proposal": proposal,
                "result": result,
                "finding_html": render_markdown(finding, top=5) if finding else None,
            }
        )
    hook = _waiting_hook(run, data_analysis.NAME)
    return {
        "template": "partials/runs/data-analysis.html",
        "decides": hook is not None,
        "profile": profile,
        "insights_html": render_markdown(insights, top=5) if insights else None,
        "drills": drills,
        "ask": {"columns": columns, "round": (hook.get("show") or {}).get("round")}
        if hook
        else None,
        "report": _report(run),
    }


PANELS = {documents.NAME: documents_panel, data_analysis.NAME: data_panel}
