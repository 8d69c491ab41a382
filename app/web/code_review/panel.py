"""The code review's section of the run card: the review comments (file:line), each test run with
its captured output, and while the run waits for fixes, the button and the webhook to deliver them.
Everything comes from the run's journal (the steps' results); text from the model or the tested code
is rendered escaped."""

from __future__ import annotations

from app.core import runtime
from app.core.secrets_box import SecretBox
from app.steps.code_review import OUTCOME_WORDS, review_of
from app.workflows.code_review import REVIEW_STEP, TEST_STEP

TEMPLATE = "partials/runs/code_review_panel.html"
SHOWN_OUTPUT = 8000


def webhook_secret(settings, run_id: str) -> str:
    return SecretBox.from_settings(settings).derived_secret(f"code-review-webhook:{run_id}")


def code_review_panel(run: dict, settings=None) -> dict:
    """The panel of code-review runs (app/web/runs/panels.py); built from the run's journal alone."""
    settings = settings or runtime.current().settings
    comments, iterations, unreadable = [], [], None
    for step in run["steps"]:
        if step["name"] == REVIEW_STEP and step["status"] == "completed":
            comments, unreadable = review_of(step["output"])
        found = TEST_STEP.match(step["name"])
        if found and step["status"] == "completed" and isinstance(step["output"], dict):
            out = step["output"]
            text = str(out.get("output") or "")
            iterations.append(
                {
                    "n": int(found.group(1)),
                    "passed": bool(out.get("passed")),
                    "label": OUTCOME_WORDS.get(out.get("outcome"), out.get("outcome")),
                    "commit": str(out.get("commit") or "")[:12],
                    "command": out.get("command"),
                    "duration_s": out.get("duration_s"),
                    "exit_code": out.get("exit_code"),
                    "output": text[-SHOWN_OUTPUT:],
                    "cut": len(text) > SHOWN_OUTPUT or out.get("truncated"),
                }
            )
        elif found and step["status"] in ("failed", "retrying"):
            iterations.append(
                {
                    "n": int(found.group(1)),
                    "passed": False,
                    "label": "Could not run",
                    "commit": "",
                    "command": None,
                    "duration_s": None,
                    "exit_code": None,
                    "output": str((step["error"] or {}).get("message") or ""),
                    "cut": False,
                }
            )
    waiting = next(
        (h for h in run["hooks"] if h["status"] == "waiting" and h["kind"] == "webhook"), None
    )
    fixes = None
    if waiting and run["status"] == "waiting":
        run_id = str(run["id"])
        fixes = {
            "url": f"{settings.base_url}/hooks/code-review/{run_id}",
            "secret": webhook_secret(settings, run_id),
            "head": (run["input"] or {}).get("head") or "",
        }
    return {
        "template": TEMPLATE,
        "run_id": str(run["id"]),
        "comments": comments,
        "unreadable": unreadable,
        "iterations": iterations,
        "fixes": fixes,
    }
