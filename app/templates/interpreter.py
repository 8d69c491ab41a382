"""The one engine workflow that runs a template version (`template`, hidden from the picker).

Every block goes through the engine's own journaled calls — `run.step` (model calls, webhooks,
publishing), `run.hook` (review, ask_person), `run.sleep`/`run.sleep_until` (wait), `run.map` (for_each
whose blocks only ask the model), `run.transaction` (documents, e-mail) — so crash-resume, cancel,
retry-from-the-failed-step, quotas, costs and the live run card need nothing special. The version is
loaded by the first, journaled, call: a run keeps the version it started with whatever the template
becomes. The start path writes that journal entry with the run itself (`journal_load`, in the start's
transaction), so a run's first advance replays it instead of committing it: a template run makes no
journal commit a Python workflow of the same steps would not. Rendering is pure (the sandboxed Jinja
of app/templates/render.py), so a replay renders the same texts and asks the journal for the same
calls in the same order.

Step names are the block's title (or id), with " · round N" after a review's jump-back and
"<for_each>[i] " before a nested block, so the run card reads like the template.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, ValidationError

from app.core import runtime
from app.engine.errors import StepFailed
from app.engine.journal import write_step
from app.engine.registry import workflow
from app.engine.rows import StartedRun
from app.engine.run import Run
from app.engine.values import RateLimit
from app.steps import model
from app.steps.artifacts import save_document
from app.steps.review import review_request
from app.templates import sends, store
from app.templates.files import read_texts
from app.templates.format import (
    TEXT_FIELDS,
    AskModel,
    AskPerson,
    Document,
    ForEach,
    If,
    Review,
    Send,
    Template,
    Wait,
    iter_blocks,
    parse,
    template_names,
)
from app.templates.inputs import input_model
from app.templates.model_call import ask_model
from app.templates.render import TemplateRunError, holds, lookup, parse_when, render
from app.workflows.inputs import duration_seconds

TEMPLATE_WORKFLOW = "template"
MAX_ITEMS = 500
LOAD_STEP = "load template"  # the run's first journal entry: the document it runs
MODEL_LIMIT = "model:templates"  # one window for every template run and worker
PURE_KINDS = {"ask_model", "if", "for_each"}  # blocks a for_each may run as parallel map children


class TemplateValues(BaseModel):
    """A template run's input: the template's own inputs, checked at start against its version's model
    (app/templates/start.py passes that model to the engine's start command)."""

    model_config = ConfigDict(extra="allow")


class Stop(Exception):
    """A review rejected (on_reject: stop) or expired: the run ends here, completed."""

    def __init__(self, block_id: str, decision: str):
        self.block_id, self.decision = block_id, decision


def _name(block: Any, prefix: str, suffix: str = "") -> str:
    return f"{prefix}{block.title or block.id}{suffix}"[:200]


class Interpreter:
    def __init__(self, run: Run, template: Template, meta: dict):
        self.run, self.template, self.meta = run, template, meta
        self.documents: list[dict] = []

    async def blocks(self, blocks: list, ctx: dict[str, Any], prefix: str = "") -> None:
        """Runs a list; a review's "request changes" jumps back to an earlier block of the same list."""
        ids = [b.id for b in blocks]
        rounds: dict[str, int] = {}
        passes = 0
        for n, block in enumerate(
            blocks
        ):  # the jump-back range may read the review's (and its own) output early
            if isinstance(block, Review) and block.on_changes in ids[:n]:
                ctx.setdefault(
                    block.id, {"decision": None, "feedback": "", "decided_by": None, "rounds": 0}
                )
                for repeated in ids[ids.index(block.on_changes) : n]:
                    ctx.setdefault(repeated, None)
        i = 0
        while i < len(blocks):
            block = blocks[i]
            suffix = f" · round {passes + 1}" if passes else ""
            jump = await self.block(block, ctx, prefix, suffix, rounds)
            if jump is not None:
                passes += 1
                i = ids.index(jump)
                continue
            i += 1

    async def block(
        self, block: Any, ctx: dict, prefix: str, suffix: str, rounds: dict[str, int]
    ) -> str | None:
        name = _name(block, prefix, suffix)
        where = f"{block.id}"
        if isinstance(block, AskModel):
            ctx[block.id] = await self.run.step(
                name,
                ask_model,
                render(block.system, ctx, where),
                render(block.prompt, ctx, where),
                block.model or None,
                block.temperature,
                list(block.json_fields),
                retry=model.MODEL_RETRY,
                timeout=model.MODEL_TIMEOUT_S,
            )
        elif isinstance(block, Review):
            return await self.review(block, name, ctx, rounds)
        elif isinstance(block, AskPerson):
            await self.ask_person(block, name, ctx)
        elif isinstance(block, Wait):
            if block.duration:
                await self.run.sleep(name, duration_seconds(block.duration))
            else:
                await self.run.sleep_until(name, parse_when(lookup(block.until, ctx), where))
            ctx[block.id] = {"waited_until": self.run.now().isoformat()}
        elif isinstance(block, ForEach):
            await self.for_each(block, name, ctx, prefix)
        elif isinstance(block, If):
            taken = holds(block.condition, ctx)
            for nested in iter_blocks([*block.then, *block.else_]):
                ctx.setdefault(nested.id, None)
            await self.blocks(block.then if taken else block.else_, ctx, prefix)
            ctx[block.id] = {"branch": "then" if taken else "else"}
        elif isinstance(block, Document):
            await self.document(block, name, ctx)
        elif isinstance(block, Send):
            ctx[block.id] = await sends.send(self.run, block, name, ctx, self.meta)
        return None

    async def review(
        self, block: Review, name: str, ctx: dict, rounds: dict[str, int]
    ) -> str | None:
        done = rounds.get(block.id, 0)
        can_change = bool(block.on_changes) and done < (block.max_rounds or 0)
        title = render(block.title, ctx, block.id) or self.template.title
        note = render(block.note, ctx, block.id)
        if block.on_changes:
            note = (note + "\n\n" if note else "") + (
                f"Changes requested {done} of at most {block.max_rounds} times."
                if can_change
                else "No more changes can be requested: approve or reject."
            )
        timeout = duration_seconds(block.timeout)
        remind = duration_seconds(block.remind_before) if block.remind_before else None
        decision = await self.run.hook(
            name,
            "approval",
            actions=["approve", "revise", "reject"] if can_change else ["approve", "reject"],
            show=review_request(
                title=self.meta["title"],
                heading=f"Review: {title}",
                label=block.title or "Review",
                content=render(block.content, ctx, block.id),
                note=note,
                labels={"revise": "Request changes"},
            ),
            timeout=timeout,
            remind_before=remind if remind and remind < timeout else None,
            assignee=block.assignee,
            assign_role=block.assign_role,
            required=block.required,
        )
        verdict = (
            "expired"
            if decision.timed_out
            else {"revise": "changes"}.get(decision.action, decision.action)
        )
        ctx[block.id] = {
            "decision": verdict,
            "feedback": str(decision.data.get("feedback") or ""),
            "decided_by": decision.decided_by,
            "rounds": done + (verdict == "changes"),
        }
        if verdict == "changes":
            rounds[block.id] = done + 1
            return block.on_changes
        if verdict in ("reject", "expired") and block.on_reject == "stop":
            raise Stop(block.id, verdict)
        return None

    async def ask_person(self, block: AskPerson, name: str, ctx: dict) -> None:
        answer = await self.run.hook(
            name,
            "input",
            actions=["submit"],
            timeout=duration_seconds(block.timeout),
            assignee=block.assignee,
            assign_role=block.assign_role,
            show={
                **review_request(
                    title=self.meta["title"],
                    heading=block.title or "Your input is needed",
                    content=render(block.message, ctx, block.id),
                    labels={"submit": "Send"},
                ),
                "form": [f.model_dump(mode="json") for f in block.fields],
            },
        )
        if answer.timed_out:
            raise Stop(block.id, "expired")
        data = {k: v for k, v in answer.data.items() if k in {f.name for f in block.fields}}
        # Every decision path checks the fields first (app/templates/answers.py); an answer given
        # before that check existed keeps what it sent.
        with contextlib.suppress(ValidationError):
            data = input_model(block.fields).model_validate(data).model_dump(mode="json")
        ctx[block.id] = data

    async def for_each(self, block: ForEach, name: str, ctx: dict, prefix: str) -> None:
        items = lookup(block.items, ctx)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise TemplateRunError(f"{block.id}: {block.items} is not a list")
        if len(items) > MAX_ITEMS:
            raise TemplateRunError(f"{block.id}: {len(items)} items; at most {MAX_ITEMS}")
        collect = block.collect or block.blocks[-1].id
        if all(b.kind in PURE_KINDS for b in iter_blocks(block.blocks)):
            settings = runtime.current().settings
            limit = (
                None
                if runtime.current().llm.offline
                else RateLimit(MODEL_LIMIT, *settings.doc_summary_rate)
            )
            shared = _needed_context(block.blocks, ctx)
            payloads = [
                {
                    "blocks": [b.model_dump(mode="json", by_alias=True) for b in block.blocks],
                    "ctx": {**shared, block.as_: item},
                    "collect": collect,
                }
                for item in items
            ]
            ctx[block.id] = await self.run.map(
                name,
                run_pure_blocks,
                payloads,
                concurrency=block.concurrency,
                limit=limit,
                retry=model.MODEL_RETRY,
            )
            return
        results = []
        for n, item in enumerate(items, 1):
            inner = {**ctx, block.as_: item}
            await self.blocks(block.blocks, inner, f"{prefix}{block.id}[{n}] ")
            results.append(inner.get(collect))
        ctx[block.id] = results

    async def document(self, block: Document, name: str, ctx: dict) -> None:
        title = render(block.title_text, ctx, block.id).strip() or self.template.title
        markdown = render(block.markdown, ctx, block.id)
        when = self.run.now()
        files = await self.run.transaction(
            name,
            lambda conn: save_document(
                conn,
                owner_id=self.run.owner_id,
                run_id=self.run.id,
                title=title[:200],
                markdown=markdown,
                when=when,
                workflow_title=self.template.title,
            ),
        )
        ctx[block.id] = {"title": title, "markdown": markdown, "files": files}
        self.documents.append(ctx[block.id])


def _needed_context(blocks: list, ctx: dict) -> dict:
    """Only the variables the nested blocks read: each map child's item is stored, so a child must not
    carry every earlier output (or every uploaded file's text) along."""
    roots: set[str] = set()
    inputs: set[str] = set()
    whole_inputs = False
    for block in iter_blocks(blocks):
        for field in TEXT_FIELDS.get(block.kind, ()):
            text = getattr(block, "title_text" if field == "doc_title" else field)
            if text:
                names, used = template_names(text)
                roots |= names
                inputs |= used
                whole_inputs |= "inputs" in names and not used
        for path in (
            getattr(block, "items", None),
            block.condition.var if isinstance(block, If) else None,
            block.condition.value
            if isinstance(block, If) and isinstance(block.condition.value, str)
            else None,
        ):
            if path and "{" in path:
                names, used = template_names(path)
                roots |= names
                inputs |= used
            elif path:
                roots.add(path.split(".")[0])
                if path.startswith("inputs."):
                    inputs.add(path.split(".")[1])
    needed = {k: ctx[k] for k in roots if k in ctx and k != "inputs"}
    values = ctx.get("inputs", {})
    needed["inputs"] = values if whole_inputs else {k: values[k] for k in inputs if k in values}
    needed["run"] = ctx.get("run", {})
    return needed


async def run_pure_blocks(payload: dict) -> Any:
    """A for_each item whose blocks only ask the model, as one `run.map` child (retried as a whole)."""
    ctx = dict(payload["ctx"])
    await _pure(parse_blocks(payload["blocks"]), ctx)
    return ctx.get(payload["collect"])


def parse_blocks(blocks: list[dict]) -> list:
    return parse({"title": "x", "blocks": blocks}).blocks


async def _pure(blocks: list, ctx: dict) -> None:
    for block in blocks:
        if isinstance(block, AskModel):
            out = await ask_model(
                render(block.system, ctx, block.id),
                render(block.prompt, ctx, block.id),
                block.model or None,
                block.temperature,
                list(block.json_fields),
            )
            ctx[block.id] = out.value
        elif isinstance(block, If):
            taken = holds(block.condition, ctx)
            for nested in iter_blocks([*block.then, *block.else_]):
                ctx.setdefault(nested.id, None)
            await _pure(block.then if taken else block.else_, ctx)
            ctx[block.id] = {"branch": "then" if taken else "else"}
        elif isinstance(block, ForEach):
            items = lookup(block.items, ctx) or []
            collect = block.collect or block.blocks[-1].id
            results = []
            for item in items if isinstance(items, list) else []:
                inner = {**ctx, block.as_: item}
                await _pure(block.blocks, inner)
                results.append(inner.get(collect))
            ctx[block.id] = results


def _started(run: Run, loaded: dict) -> datetime:
    """When the run loaded its template (journaled with it); a run that loaded it before this was
    kept journals a `now` entry next, so it still makes that call when it resumes."""
    if loaded.get("loaded_at"):
        return datetime.fromisoformat(loaded["loaded_at"]).astimezone(UTC)
    return run.now()


async def journal_load(conn: AsyncConnection, run: StartedRun) -> None:
    """The run's `load template` entry, written by the start path in the run's own transaction: the
    same query, output and journal row the interpreter's first call would make, so the first advance
    replays it (no commit of its own) and a resume, a rerun's journal copy and `baton check-deploy`
    see an ordinary journaled transaction. A run started without it (a rerun from the start) makes
    the call itself."""
    loaded = await store.run_template_version(conn, run.id)
    await write_step(
        conn,
        run_id=run.id,
        owner_id=run.owner_id,
        seq=0,
        name=LOAD_STEP,
        kind="transaction",
        status="completed",
        attempts=1,
        output=loaded,
        completed_at=datetime.now(UTC),
        done=1,
        event="step_completed",
        event_data={"seq": 0, "name": LOAD_STEP},
        announce=False,  # the run's queued status is announced; watchers re-read its steps
    )


@workflow(
    name=TEMPLATE_WORKFLOW,
    title="Template",
    hidden=True,
    input=TemplateValues,
    description="Runs a workflow template built in the browser.",
    max_duration=timedelta(days=30),
)
async def run_template(run: Run, inp: TemplateValues) -> dict:
    loaded = await run.transaction(LOAD_STEP, lambda conn: store.run_template_version(conn, run.id))
    template = parse(loaded["document"])
    meta = {
        "title": template.title,
        "template_id": loaded["template_id"],
        "version": loaded["version"],
    }
    values = inp.model_dump(mode="json")
    for field in template.inputs:
        value = values.get(field.name)
        if field.kind in ("file", "files") and value:
            read = await run.step(
                f"read {field.label}"[:200],
                read_texts,
                run.owner_id,
                str(run.id),
                [value] if field.kind == "file" else value,
            )
            values[field.name] = read[0] if field.kind == "file" else read
    ctx: dict[str, Any] = {
        "inputs": values,
        "run": {"date": _started(run, loaded).strftime("%-d %B %Y"), "title": template.title},
    }
    interpreter = Interpreter(run, template, meta)
    out: dict[str, Any] = {"template": template.title, "template_version": loaded["version"]}
    try:
        await interpreter.blocks(template.blocks, ctx)
        out["completed"] = True
    except Stop as stop:
        out.update(completed=False, stopped_at=stop.block_id, decision=stop.decision)
    except StepFailed:
        raise
    if interpreter.documents:
        last = interpreter.documents[-1]
        out.update(title=last["title"], document=last["markdown"], artifacts=last["files"])
    out["outputs"] = {k: v for k, v in ctx.items() if k not in ("inputs", "run")}
    return out
