"""Models: the one place that builds the `openai` client; everything else calls `LLM`.

    llm = LLM.from_settings(settings)              # OPENAI_BASE_URL / OPENAI_API_KEY / BATON_MODEL
    async with llm.stream(messages) as reply:      # token by token
        async for text in reply:
            ...
    reply.completion                               # text, tokens, model (also after a cancel)
    result = await llm.complete(messages, tools=[...])   # Completion(text, tool_calls, ...)

Messages and tools use the OpenAI chat format (dicts), so any OpenAI-compatible endpoint works
(OpenAI, Ollama, vLLM, gateways). Every failure of the endpoint surfaces as one `ModelError` whose
`kind` says what happened and whose `message` is fit to show a user; the original is its cause.
Requests go through the SDK's `post()` with the body as given: the typed `create()` re-walks every
message of the history through its type-driven transform, milliseconds per call on a long chat,
for plain-JSON messages that need no transforming. `complete()`'s answer is parsed into the SDK's
types; stream chunks are read as plain dicts (a typed chunk costs ~0.1 ms, for every token).
The client does not retry (`max_retries=0` by default): the chat shows a Retry action and workflow
steps have their own retry policy, so hidden retries would only add minutes of silence.

With no endpoint configured, `OfflineModel` answers: a deterministic rule-based responder, labelled
"Offline demo model" so nobody mistakes it for AI.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import openai
from openai.types.chat import ChatCompletion

from app.core.config import Settings
from app.core.llm_offline import OfflineModel, OfflineToolCall

OFFLINE_LABEL = "Offline demo model"
OFFLINE_MODEL_NAME = "baton-offline-demo"

Message = dict[str, Any]
ErrorKind = Literal["unreachable", "timeout", "auth", "rate_limited", "server", "bad_request"]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; malformed JSON from the model raises ValueError."""
        value = json.loads(self.arguments or "{}")
        if not isinstance(value, dict):
            raise ValueError("tool arguments are not a JSON object")
        return value


@dataclass(frozen=True)
class Completion:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    tokens_in: int = 0
    tokens_out: int = 0
    model: str = ""
    finish_reason: str | None = None


class ModelError(Exception):
    """The model endpoint failed; `message` is safe to show, `retry_after` is in seconds."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after


def _retry_after(exc: openai.APIStatusError) -> float | None:
    try:
        return max(0.0, float(exc.response.headers.get("retry-after", "")))
    except (TypeError, ValueError):
        return None


def model_error(exc: Exception) -> ModelError:
    """Translate an `openai` exception into the one error type callers handle."""
    if isinstance(exc, ModelError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return ModelError("timeout", "The model took too long to answer.")
    if isinstance(exc, openai.APIConnectionError):
        return ModelError("unreachable", "The model endpoint could not be reached.")
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ModelError(
            "auth", "The model endpoint rejected Baton's API key.", status=exc.status_code
        )
    if isinstance(exc, openai.RateLimitError):
        wait = _retry_after(exc)
        hint = f" Try again in {max(1, round(wait))} s." if wait is not None else ""
        return ModelError(
            "rate_limited",
            "The model endpoint is busy (rate limited)." + hint,
            status=429,
            retry_after=wait,
        )
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return ModelError(
            "server", "The model endpoint had an internal error.", status=exc.status_code
        )
    if isinstance(exc, openai.APIStatusError):
        return ModelError(
            "bad_request",
            f"The model endpoint refused the request ({exc.status_code}).",
            status=exc.status_code,
        )
    return ModelError("server", "The model endpoint sent an answer Baton could not read.")


# -- context budget ----------------------------------------------------------------------------


def estimate_tokens(text: str) -> int:
    """About four characters a token for English; no tokenizer download needed."""
    return len(text) // 4 + 1


def trim_to_budget(messages: Sequence[Message], budget: int) -> list[Message]:
    """Keep the system messages and as many of the newest others as fit in `budget` tokens.
    The newest message is always kept, even alone over budget: dropping it would answer nothing."""
    system = [m for m in messages if m.get("role") == "system"]
    rest = [m for m in messages if m.get("role") != "system"]
    used = sum(estimate_tokens(str(m.get("content") or "")) + 4 for m in system)
    kept: list[Message] = []
    for message in reversed(rest):
        cost = estimate_tokens(str(message.get("content") or "")) + 4
        if kept and used + cost > budget:
            break
        kept.append(message)
        used += cost
    return system + kept[::-1]


# -- streaming ---------------------------------------------------------------------------------


class ReplyStream:
    """An async iterator of text deltas; `completion` holds what arrived, even after a cancel."""

    def __init__(self, chunks: AsyncIterator[Any], model: str, closer=None):
        self._chunks = chunks
        self._closer = closer
        self._parts: list[str] = []
        self._tool_parts: dict[int, dict[str, str]] = {}
        self._usage = (0, 0)
        self._model = model
        self._finish: str | None = None

    async def __aenter__(self) -> ReplyStream:
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self._closer is not None:
            await self._closer()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._deltas()

    async def _deltas(self) -> AsyncIterator[str]:
        try:
            async for chunk in self._chunks:
                if isinstance(chunk, OfflineToolCall):
                    self._tool_parts[len(self._tool_parts)] = {
                        "id": f"offline-{len(self._tool_parts)}",
                        "name": chunk.name,
                        "arguments": chunk.arguments,
                    }
                    continue
                if isinstance(chunk, str):  # the offline model yields plain text
                    self._parts.append(chunk)
                    yield chunk
                    continue
                usage = chunk.get("usage")
                if usage:
                    self._usage = (
                        usage.get("prompt_tokens") or 0,
                        usage.get("completion_tokens") or 0,
                    )
                self._model = chunk.get("model") or self._model
                for choice in chunk.get("choices") or ():
                    self._finish = choice.get("finish_reason") or self._finish
                    delta = choice.get("delta") or {}
                    for call in delta.get("tool_calls") or ():
                        part = self._tool_parts.setdefault(
                            call.get("index", 0), {"id": "", "name": "", "arguments": ""}
                        )
                        part["id"] = call.get("id") or part["id"]
                        function = call.get("function") or {}
                        part["name"] += function.get("name") or ""
                        part["arguments"] += function.get("arguments") or ""
                    if delta.get("content"):
                        self._parts.append(delta["content"])
                        yield delta["content"]
        except openai.OpenAIError as exc:
            error = model_error(exc)
            if error.kind == "unreachable" and self._parts:
                error = ModelError("unreachable", "The connection to the model was lost mid-reply.")
            raise error from exc

    @property
    def completion(self) -> Completion:
        text = "".join(self._parts)
        tokens_in, tokens_out = self._usage
        calls = tuple(
            ToolCall(p["id"], p["name"], p["arguments"])
            for _, p in sorted(self._tool_parts.items())
        )
        return Completion(
            text, calls, tokens_in, tokens_out or estimate_tokens(text), self._model, self._finish
        )


class _Opening:
    """`llm.stream(...)` is used as `async with`; the request starts on entry."""

    def __init__(self, start):
        self._start = start
        self._stream: ReplyStream | None = None

    async def __aenter__(self) -> ReplyStream:
        self._stream = await self._start()
        return self._stream

    async def __aexit__(self, *exc_info) -> None:
        if self._stream is not None:
            await self._stream.__aexit__(*exc_info)


# -- the client --------------------------------------------------------------------------------


@dataclass
class LLM:
    model: str
    client: openai.AsyncOpenAI | None = None
    offline: OfflineModel | None = field(default=None)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        timeout: float = 60.0,
        max_retries: int = 0,
        offline_delay: float = 0.03,
    ) -> LLM:
        if settings.offline_model:
            return cls(model=OFFLINE_MODEL_NAME, offline=OfflineModel(delay=offline_delay))
        client = openai.AsyncOpenAI(
            base_url=settings.openai_base_url,
            # Local servers (Ollama, vLLM) take no key, but the SDK insists on one.
            api_key=settings.openai_api_key or "not-needed",
            timeout=openai.Timeout(timeout, connect=min(timeout, 10.0)),
            max_retries=max_retries,
        )
        return cls(model=settings.model, client=client)

    @property
    def label(self) -> str:
        """What the UI shows next to a reply."""
        return OFFLINE_LABEL if self.offline else self.model

    def stream(
        self,
        messages: Sequence[Message],
        *,
        model: str | None = None,
        tools: Sequence[dict] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> _Opening:
        """`tools` (OpenAI format) may be called; the calls are in `completion.tool_calls`."""
        if self.offline:
            offline = self.offline
            return _Opening(
                lambda: _ready(ReplyStream(offline.words(messages, tools), OFFLINE_MODEL_NAME))
            )
        options = _options(
            tools=list(tools) if tools else None, max_tokens=max_tokens, temperature=temperature
        )

        async def start() -> ReplyStream:
            body = {
                "model": model or self.model,
                "messages": list(messages),
                "stream": True,
                "stream_options": {"include_usage": True},
                **options,
            }
            try:
                # Chunks stay plain dicts: building a typed chunk costs ~0.1 ms each, per token.
                response = await self.client.post(
                    "/chat/completions",
                    body=body,
                    cast_to=object,
                    stream=True,
                    stream_cls=openai.AsyncStream[object],
                )
            except openai.OpenAIError as exc:
                raise model_error(exc) from exc
            return ReplyStream(aiter(response), model or self.model, closer=response.close)

        return _Opening(start)

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        model: str | None = None,
        tools: Sequence[dict] | None = None,
        tool_choice: Any = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        response_format: dict | None = None,
        timeout: float | None = None,
    ) -> Completion:
        """One answer, not streamed: text and/or tool calls, with token counts."""
        if self.offline:
            text = self.offline.answer(messages)
            tokens_in = sum(estimate_tokens(str(m.get("content") or "")) for m in messages)
            return Completion(
                text, (), tokens_in, estimate_tokens(text), OFFLINE_MODEL_NAME, "stop"
            )
        body = {
            "model": model or self.model,
            "messages": list(messages),
            **_options(
                tools=list(tools) if tools else None,
                tool_choice=tool_choice,
                max_tokens=max_tokens,
                temperature=temperature,
                response_format=response_format,
            ),
        }
        try:
            response = await self.client.post(
                "/chat/completions",
                body=body,
                cast_to=ChatCompletion,
                options=_options(timeout=timeout),
            )
        except openai.OpenAIError as exc:
            raise model_error(exc) from exc
        choice = response.choices[0] if response.choices else None
        calls = tuple(
            ToolCall(c.id, c.function.name, c.function.arguments or "")
            for c in (choice.message.tool_calls or ())
            if choice and getattr(c, "function", None)
        )
        usage = response.usage
        return Completion(
            text=(choice.message.content or "") if choice else "",
            tool_calls=calls,
            tokens_in=usage.prompt_tokens if usage else 0,
            tokens_out=usage.completion_tokens if usage else 0,
            model=response.model or model or self.model,
            finish_reason=choice.finish_reason if choice else None,
        )

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


async def _ready(value):
    return value


def _options(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
