"""Model calls as workflow steps: the one place workflows talk to a model.

    text = await run.step("draft", model.generate, WRITER_PROMPT, user_prompt, retry=MODEL_RETRY)

`generate` uses this process's model client (`app.core.runtime`: built from the settings in a
worker, the offline demo model when no endpoint is configured) and returns
`StepOutput(text, usage=Usage(...))`, so the journal records tokens (and the engine prices them).
An endpoint that refuses the request (bad key, bad request) fails the step at once; timeouts, rate
limits and server errors are retried by the step's policy.

The offline demo model cannot write documents, so for workflows it answers with a deterministic
placeholder that says what a real model would have been asked, labelled as the demo.
"""

from __future__ import annotations

import re
from typing import Any

from app.core import runtime
from app.core.llm import ModelError
from app.engine.errors import FatalError
from app.engine.values import RetryPolicy, StepOutput, Usage

# Model steps: a few quick retries, then the workflow sees StepFailed.
MODEL_RETRY = RetryPolicy(max_attempts=4, initial_s=2.0, factor=3.0)
MODEL_TIMEOUT_S = 180.0
MAX_TOKENS = 3000


async def generate(system: str, prompt: str) -> StepOutput:
    """One completion: `system` sets the agent's role, `prompt` is the task."""
    llm = runtime.current().llm
    if llm.offline:
        return StepOutput(offline_text(system, prompt), usage=Usage(llm.model, 0, 0, 0.0))
    text, usage = await complete(
        [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
        max_tokens=MAX_TOKENS,
    )
    return StepOutput(text, usage=usage)


async def complete(
    messages: list[dict], *, model: str | None = None, **options: Any
) -> tuple[str, Usage]:
    """One completion on this process's client, for any model step: an endpoint that refuses the
    request (bad key, bad request) fails the step at once; an empty answer is an error the step's
    retry policy tries again, like a timeout."""
    llm = runtime.current().llm
    try:
        completion = await llm.complete(messages, model=model, **options)
    except ModelError as exc:
        if exc.kind in ("auth", "bad_request"):
            raise FatalError(exc.message) from exc
        raise
    text = completion.text.strip()
    if not text:
        raise RuntimeError("the model returned an empty answer")
    return text, Usage(
        completion.model or model or llm.model, completion.tokens_in, completion.tokens_out
    )


_ROLE = re.compile(r"You are (?:an? |the )?([^.]{1,60})\.", re.I)


def offline_text(system: str, prompt: str) -> str:
    """What the offline demo model writes for a workflow step: deterministic, clearly a demo."""
    role = (_ROLE.search(system).group(1) if _ROLE.search(system) else "assistant").strip()
    task = " ".join(prompt.split())
    task = task if len(task) <= 400 else task[:400].rstrip() + "…"
    return (
        f"*Offline demo model ({role})*: a real model would answer here. "
        "Connect one with `OPENAI_BASE_URL` to get real content.\n\n"
        f"**The task it was given:** {task}"
    )
