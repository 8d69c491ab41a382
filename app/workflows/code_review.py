"""`code-review`: the model reviews a change (comments anchored to file:line) → the tests run in a
sandbox → while they fail, the run waits for the developer's fixes (a webhook from a git hook or
CI with the new head ref, or the "Fixes pushed" button), fetches them and runs the tests again →
once they pass, the change is approved with a review report (HTML + PDF).

Every test run, wait and fetch is its own journal entry ("run tests (2)", "wait for fixes (1)"),
so each iteration shows in the run's timeline. The webhook is signed with a secret derived from
the app key and the run id (`webhook_secret`), stable across iterations, shown to the owner only.
"""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.core import runtime
from app.core.secrets_box import secret_box
from app.engine import signals
from app.engine.errors import StepFailed
from app.engine.registry import workflow
from app.engine.rows import StartedRun
from app.engine.run import Run
from app.engine.values import RetryPolicy
from app.steps import code_review as CR
from app.steps import git, model
from app.steps.sandbox import require_sandbox
from app.workflows.inputs import Duration, duration_seconds

NAME = "code-review"
# Step names the run card's panel reads (app/web/code_review/panel.py): rename them here, not there.
REVIEW_STEP = "review diff"


def test_step(n: int) -> str:
    return f"run tests ({n})"


TEST_STEP = re.compile(r"^run tests \((\d+)\)$")  # test_step(n), read back
WORKFLOW_TITLE = "Code review"
MAX_PATCH = 500_000


class SandboxRefused(Exception):
    """The tests cannot run safely here: the run ends with this message."""


def webhook_secret(run_id: str) -> str:
    return secret_box().derived_secret(f"code-review-webhook:{run_id}")


class CodeReviewInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repository: str | None = Field(
        None,
        max_length=1000,
        title="Repository",
        description="A git URL, or a local path on the server (in an allowed directory).",
    )
    base: str = Field(
        "main", max_length=200, title="Base ref", description="What the change is compared with."
    )
    head: str | None = Field(
        None, max_length=200, title="Head ref", description="The change: a branch, tag or commit."
    )
    patch: str | None = Field(
        None,
        max_length=MAX_PATCH,
        title="Or a patch",
        description="A unified diff (git diff / format-patch), applied on the base ref.",
        json_schema_extra={"widget": "textarea", "advanced": True},
    )
    test_command: str | None = Field(
        None,
        max_length=500,
        title="Test command",
        description="Empty: detected (pytest, npm test, go test ./...).",
    )
    test_timeout: Duration = Field(
        "5m", title="Test time limit", json_schema_extra={"advanced": True}
    )
    memory_mb: int = Field(
        2048, ge=64, le=16384, title="Test memory limit (MB)", json_schema_extra={"advanced": True}
    )
    fixes_timeout: Duration = Field(
        "7d", title="Wait for fixes at most", json_schema_extra={"advanced": True}
    )
    max_iterations: int = Field(
        10, ge=1, le=50, title="Test runs at most", json_schema_extra={"advanced": True}
    )

    @field_validator("repository", "head", "test_command", "patch", mode="before")
    @classmethod
    def _blank(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return git.check_source_form(value)
        except git.SourceRefused as exc:
            raise ValueError(str(exc)) from None

    @field_validator("base", "head")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return git.check_ref(value)
        except git.SourceRefused:
            raise ValueError(
                "Not a git ref: a branch, tag or commit like main or 1a2b3c4."
            ) from None

    @field_validator("test_command")
    @classmethod
    def _command(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 for c in value):
            raise ValueError("One line, no control characters.")
        return value and value.strip()

    @model_validator(mode="after")
    def _what(self):
        if not self.repository and not self.patch:
            raise ValueError("Give a repository (with a head ref) or a patch.")
        if self.repository and not self.patch and not self.head:
            raise ValueError("Give the head ref of the change to review.")
        return self


def _limits(inp: CodeReviewInput) -> dict:
    wall = int(duration_seconds(inp.test_timeout))
    return {"wall_s": wall, "cpu_s": wall, "memory_mb": inp.memory_mb}


def summary(
    approved: bool,
    comments: list[dict],
    iterations: list[dict],
    reason: str = "",
    tests: bool = True,
    unreadable: bool = False,
) -> str:
    issues = sum(c["severity"] == "issue" for c in comments)
    verdict = ("Approved" if approved else "Not approved") if tests else "Reviewed"
    said = (
        f"- {len(comments)} review comment{'s' if len(comments) != 1 else ''} ({issues} issue{'s' if issues != 1 else ''})"
        if not unreadable
        else "- the model's review could not be read as comments: its answer is shown as written"
    )
    lines = [
        f"**{verdict}**" + (f": {reason}" if reason else ""),
        "",
        said,
        f"- {len(iterations)} test run{'s' if len(iterations) != 1 else ''}"
        + (
            f", last: {CR.OUTCOME_WORDS.get(iterations[-1]['outcome'], iterations[-1]['outcome'])}"
            if iterations
            else ""
        ),
    ]
    return "\n".join(lines)


def titled(inp: CodeReviewInput) -> str:
    """ "shop: feature/cart → main" (the repository's last path part), or the patch's first file."""
    if inp.repository:
        name = inp.repository.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or inp.repository
        return f"{name}: {inp.head or inp.base} → {inp.base}" if inp.head else f"{name}: {inp.base}"
    files = [
        line[6:].strip() for line in (inp.patch or "").splitlines() if line.startswith("+++ b/")
    ]
    if not files:
        return f"Patch against {inp.base}"
    return f"Patch: {files[0]}" + (f" and {len(files) - 1} more" if len(files) > 1 else "")


@workflow(
    name=NAME,
    title=WORKFLOW_TITLE,
    input=CodeReviewInput,
    max_duration=timedelta(days=60),
    titled=titled,
    description="Reviews a change, runs its tests in a sandbox, waits for fixes until they pass.",
)
async def code_review(run: Run, inp: CodeReviewInput) -> dict:
    run_id = str(run.id)
    data_dir = runtime.current().settings.data_dir
    tests = inp.repository is not None
    if tests:
        try:
            await run.step(
                "check sandbox",
                lambda: require_sandbox(runtime.current().settings.sandbox),
                retry=_once(),
            )
        except StepFailed as exc:
            raise SandboxRefused(exc.error.get("message") or "no sandbox") from None
        refs = await run.step(
            "fetch repository",
            _fetch,
            data_dir,
            run_id,
            inp.repository,
            inp.base,
            None if inp.patch else inp.head,
            retry=_once(3),
        )
        head = refs["head"]
    await run.progress(1, 4, "Reviewing the diff")
    change = await run.step(
        "read diff",
        _read_diff,
        data_dir,
        run_id,
        inp.repository,
        refs["base"] if tests else None,
        head if tests and not inp.patch else None,
        inp.patch,
    )
    comments, unreadable = CR.review_of(
        await run.step(
            REVIEW_STEP,
            CR.review_diff,
            change["text"],
            change["truncated"],
            retry=model.MODEL_RETRY,
            timeout=model.MODEL_TIMEOUT_S,
        )
    )
    iterations: list[dict] = []
    approved, reason = not tests, "" if tests else "no repository, so no tests were run"
    n = 0
    while tests:
        n += 1
        await run.progress(2, 4, f"Running the tests ({n})")
        # With a patch the change is base + patch; fixes name a new head that replaces both.
        patch = inp.patch if head == refs["base"] and inp.patch else None
        result = await run.step(
            test_step(n),
            CR.run_tests,
            run_id,
            inp.repository,
            head,
            patch,
            inp.test_command,
            _limits(inp),
            retry=_once(2),
            timeout=duration_seconds(inp.test_timeout) + 120,
        )
        iterations.append(result)
        if result["passed"]:
            approved = True
            break
        if result["outcome"] == "setup_error":
            # The tests did not run at all: no fix of the code can change that, so no waiting for one.
            reason = "the test command could not start in the sandbox (a setup problem, not failing tests)"
            break
        if n >= inp.max_iterations:
            reason = f"the tests still failed after {n} runs"
            break
        await run.progress(3, 4, "Waiting for fixes")
        while True:
            fixes = await run.hook(
                f"wait for fixes ({n})",
                "webhook",
                timeout=duration_seconds(inp.fixes_timeout),
                secret=webhook_secret(run_id),
                show={"heading": "Push your fixes", "head": head, "tests": result["outcome"]},
            )
            if fixes.timed_out:
                break
            try:
                head = (
                    await run.step(
                        f"fetch fixes ({n})",
                        _fetch_fix,
                        data_dir,
                        run_id,
                        inp.repository,
                        str(fixes.data.get("ref") or ""),
                        retry=_once(3),
                    )
                )["head"]
                break
            except StepFailed:
                continue  # a wrong ref: the timeline shows why; wait for the next delivery
        if fixes.timed_out:
            reason = "no fixes arrived in time"
            break
    await run.progress(3, 4, "Writing the review report")
    when = run.now()
    title = f"Code review: {inp.head or 'patch'}"
    artifacts = await run.transaction(
        "write report",
        lambda conn: CR.save_review_report(
            conn,
            run_id=run.id,
            owner_id=run.owner_id,
            title=title,
            approved=approved,
            comments=comments,
            iterations=iterations,
            when=when,
            source=inp.repository or "patch",
            unreadable=unreadable,
        ),
    )
    return {
        "approved": approved,
        "expired": not approved,
        "reason": reason,
        "comments": comments,
        "unreadable_review": unreadable,
        "tests": [{k: i[k] for k in ("commit", "outcome", "passed")} for i in iterations],
        "document": summary(approved, comments, iterations, reason, tests, unreadable is not None),
        "artifacts": artifacts,
    }


def _once(attempts: int = 1):
    return RetryPolicy(max_attempts=attempts, initial_s=2.0)


def _fetch(data_dir, run_id: str, source: str, base: str, head: str | None) -> dict:
    base_sha = git.resolve(data_dir, run_id, source, base)
    return {
        "base": base_sha,
        "head": git.resolve(data_dir, run_id, source, head) if head else base_sha,
    }


def _fetch_fix(data_dir, run_id: str, source: str, ref: str) -> dict:
    return {"head": git.resolve(data_dir, run_id, source, ref, fetch=True)}


def _read_diff(
    data_dir, run_id: str, source: str | None, base: str | None, head: str | None, patch: str | None
) -> dict:
    found = git.diff_of_patch(patch) if patch else git.diff(data_dir, run_id, source, base, head)
    return {"text": found.text, "files": found.files, "truncated": found.truncated}


async def _forget_mirror(conn, run: StartedRun) -> None:
    """However a review ends (approved, failed, cancelled), its git mirror goes: the one in the
    data dir of the process that ends it (the worker, or the web process for a cancel)."""
    if run.workflow == NAME:
        import asyncio

        await asyncio.to_thread(git.remove_mirror, runtime.current().settings.data_dir, str(run.id))


if _forget_mirror not in signals.run_finished:
    signals.run_finished.append(_forget_mirror)
