"""The built-in offline model: answers when no endpoint is configured, so a fresh install works.

Deterministic and rule-based (no download, no randomness): the same conversation always gets the
same reply, streamed a word at a time so the live chat can be seen working. The UI labels it
"Offline demo model". Used through `app.core.llm.LLM`, never directly.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any, NamedTuple

_GREETING = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b", re.I)
_WORD = re.compile(r"\S+\s*|\s+")

_HELP = (
    "I'm Baton's **offline demo model**: a few rules, not AI. Connect a real model by setting "
    "`OPENAI_BASE_URL` (and `OPENAI_API_KEY` if it needs one), then restart Baton.\n\n"
    "Meanwhile you can try the chat itself:\n\n"
    "- replies stream in word by word, and **Stop** keeps what was written;\n"
    "- **Regenerate** replaces the last reply;\n"
    "- conversations are kept in the sidebar, where you can rename or delete them."
)


# A clear request for a workflow: the offline model proposes it through the `propose_workflow`
# tool when the chat offers that tool (app/web/chat/proposals.py).
_PROPOSE_CONTENT = re.compile(r"\breviewed (report|document|article|post)\b", re.I)
_PROPOSE_TEAM = re.compile(r"\bresearch team\b", re.I)


class OfflineToolCall(NamedTuple):
    """What the offline model yields, after its text, to call a tool."""

    name: str
    arguments: str


class OfflineModel:
    def __init__(self, delay: float = 0.03):
        self.delay = delay  # seconds between words: slow enough to watch, fast enough to use

    def answer(self, messages: Sequence[dict[str, Any]]) -> str:
        last = next(
            (str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), ""
        )
        text = " ".join(last.split())
        if not text:
            return "Say something and I'll answer. " + _HELP
        if _GREETING.match(text):
            return "Hello! " + _HELP
        if "help" in text.lower():
            return _HELP
        quoted = text if len(text) <= 200 else text[:200].rstrip() + "…"
        turns = sum(1 for m in messages if m.get("role") == "user")
        kind = "asked" if text.endswith("?") else "said"
        return (
            f"You {kind}: “{quoted}”\n\n"
            f"This is message {turns} of our conversation. I'm the offline demo model, so I can only "
            "echo and explain; connect a real model with `OPENAI_BASE_URL` for real answers."
        )

    def proposal(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict] | None
    ) -> OfflineToolCall | None:
        """A `propose_workflow` call when the user clearly asks for a reviewed report (or a research
        team) and the tool is on offer."""
        if not any(
            (t.get("function") or {}).get("name") == "propose_workflow" for t in tools or ()
        ):
            return None
        last = next(
            (str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), ""
        )
        text = " ".join(last.split())[:2000]
        if _PROPOSE_TEAM.search(text):
            workflow, field = "multi-agent", "topic"
        elif _PROPOSE_CONTENT.search(text):
            workflow, field = "content-generation", "prompt"
        else:
            return None
        return OfflineToolCall(
            "propose_workflow",
            json.dumps(
                {
                    "workflow": workflow,
                    "input": {field: text},
                    "reason": "You asked for work that someone should review before it is final.",
                }
            ),
        )

    async def words(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict] | None = None
    ) -> AsyncIterator[str | OfflineToolCall]:
        call = self.proposal(messages, tools)
        text = (
            (
                "That sounds like a job for a workflow: I can draft it, let you review it, and revise "
                "until you approve. Start it below."
            )
            if call
            else self.answer(messages)
        )
        for word in _WORD.findall(text):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield word
        if call:
            yield call
