"""A scripted OpenAI-compatible model server on a real socket, for tests and benchmarks.

The real `openai` client talks to it over HTTP, so tests cover the same code path as production.
It runs its own event loop in a thread, so it serves sync tests, async tests, browser tests and a
Baton running in another thread or process alike.

    server = ModelServer().start()                 # or the `model_server` pytest fixture
    settings = ...OPENAI_BASE_URL=server.url...    # "http://127.0.0.1:PORT/v1"
    server.script(Reply("Hello there", delay=0.05))            # the next request gets this
    server.script(ToolCalls([Call("search", {"q": "baton"})]))
    server.script(Failure(429, retry_after=3), Failure(500), Failure(401), Hang())
    server.handler = lambda request: Reply("...")  # answers when the script is empty (default: echo)
    server.requests[-1].body["messages"]           # every request is recorded
    server.stop()

Each scripted answer serves both kinds of request: streamed (`"stream": true`: SSE `data:` chunks,
one per word unless `chunks` is given, then a usage chunk when asked for, then `[DONE]`) or not
(one JSON body). `delay` waits between chunks, `first_delay` before the first one, `hang_after=n`
stops sending after n chunks without closing (a stalled stream), and `Hang()` never answers at all:
both end only when the client gives up (its timeout) or disconnects.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_WORDS = re.compile(r"\S+\s*|\s+")


@dataclass
class Reply:
    text: str
    chunks: list[str] | None = None  # default: the text split into words (spaces kept)
    delay: float = 0.0
    first_delay: float = 0.0
    hang_after: int | None = None
    tokens_in: int = 11
    tokens_out: int | None = None  # default: one per chunk
    model: str = "scripted-model"
    finish_reason: str = "stop"

    def pieces(self) -> list[str]:
        return self.chunks if self.chunks is not None else _WORDS.findall(self.text)


@dataclass
class Call:
    name: str
    arguments: dict[str, Any] | str
    id: str | None = None


@dataclass
class ToolCalls:
    calls: list[Call]
    text: str = ""
    delay: float = 0.0
    tokens_in: int = 23
    tokens_out: int = 7
    model: str = "scripted-model"


@dataclass
class Failure:
    status: int
    message: str = "scripted failure"
    retry_after: float | None = None


@dataclass
class Hang:
    """Accept the request and never answer."""


Answer = Reply | ToolCalls | Failure | Hang


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    received_at: float = field(default_factory=time.monotonic)
    completed: bool = False  # the whole answer was written (False: cancelled, hung or failed)
    ended: bool = False  # the server is done with it: answered, or the client went away

    @property
    def stream(self) -> bool:
        return bool(self.body and self.body.get("stream"))

    @property
    def last_user_message(self) -> str:
        messages = (self.body or {}).get("messages") or []
        return next(
            (m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), ""
        )


def echo(request: Request) -> Answer:
    return Reply(f"Echo: {request.last_user_message}")


class ModelServer:
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.port = 0
        self.handler: Callable[[Request], Answer] = echo
        self.requests: list[Request] = []
        self._script: collections.deque[Answer] = collections.deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None

    # -- control (any thread) ------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def script(self, *answers: Answer) -> ModelServer:
        """Queue answers for the next requests, in order."""
        with self._lock:
            self._script.extend(answers)
        return self

    def reset(self) -> None:
        """Forget the script, the recorded requests and any custom handler."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
        self.handler = echo

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} model request(s), got {len(self.requests)}")
            time.sleep(0.005)
        return self.requests

    def start(self) -> ModelServer:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="model-server", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("model server did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._stopping:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread:
            self._thread.join(10)

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- the server (its own thread and loop) ------------------------------------------------
    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve(ready))
        self._loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        connections: set[asyncio.Task] = set()

        async def on_connect(reader, writer):
            task = asyncio.current_task()
            connections.add(task)
            try:
                await self._connection(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
                pass
            finally:
                connections.discard(task)
                writer.close()

        server = await asyncio.start_server(on_connect, self.host, 0)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        await self._stopping.wait()
        server.close()
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)

    def _next_answer(self, request: Request) -> Answer:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return self.handler(request)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # keep-alive: the SDK reuses connections
            line = await reader.readline()
            if not line:
                return
            method, path, _ = line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = header.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            raw = await reader.readexactly(int(headers.get("content-length", "0") or 0))
            body = json.loads(raw) if raw else None
            request = Request(method, path.split("?")[0], headers, body)
            self.requests.append(request)
            try:
                await self._respond(request, reader, writer)
            finally:
                request.ended = True
            if headers.get("connection", "").lower() == "close":
                return

    async def _respond(self, request: Request, reader, writer) -> None:
        if request.method == "GET" and request.path.endswith("/models"):
            await _send_json(
                writer,
                200,
                {"object": "list", "data": [{"id": "scripted-model", "object": "model"}]},
            )
            request.completed = True
            return
        if not (request.method == "POST" and request.path.endswith("/chat/completions")):
            await _send_json(
                writer, 404, {"error": {"message": "not found", "type": "invalid_request_error"}}
            )
            return
        answer = self._next_answer(request)
        if isinstance(answer, Hang):
            await self._hang(reader)
            return
        if isinstance(answer, Failure):
            headers = (
                {"retry-after": str(answer.retry_after)} if answer.retry_after is not None else {}
            )
            error = {
                "error": {"message": answer.message, "type": "scripted", "code": str(answer.status)}
            }
            await _send_json(writer, answer.status, error, headers)
            request.completed = True
            return
        if request.stream:
            await self._stream(request, answer, reader, writer)
        else:
            await asyncio.sleep(
                answer.delay if isinstance(answer, ToolCalls) else answer.first_delay
            )
            await _send_json(writer, 200, _completion(answer))
            request.completed = True

    async def _hang(self, reader) -> None:
        """Hold the request open until the client disconnects or the server stops."""
        eof = asyncio.ensure_future(reader.read())
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({eof, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            eof.cancel()
            stop.cancel()
        raise ConnectionResetError("hung request ended")

    async def _stream(self, request: Request, answer: Reply | ToolCalls, reader, writer) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        base = {
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": answer.model,
        }

        async def send(payload: dict | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps({**base, **payload})
            frame = f"data: {data}\n\n".encode()
            writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
            await writer.drain()

        if isinstance(answer, ToolCalls):
            await asyncio.sleep(answer.delay)
            deltas = [
                {
                    "role": "assistant",
                    "content": answer.text or None,
                    "tool_calls": [
                        dict(_tool_call(c, i), index=i) for i, c in enumerate(answer.calls)
                    ],
                }
            ]
            finish, tokens_in, tokens_out = "tool_calls", answer.tokens_in, answer.tokens_out
        else:
            await asyncio.sleep(answer.first_delay)
            deltas = [{"role": "assistant", "content": piece} for piece in answer.pieces()]
            finish = answer.finish_reason
            tokens_in, tokens_out = answer.tokens_in, answer.tokens_out or len(deltas)
        for i, delta in enumerate(deltas):
            if (
                isinstance(answer, Reply)
                and answer.hang_after is not None
                and i >= answer.hang_after
            ):
                await self._hang(reader)
            if i and isinstance(answer, Reply) and answer.delay:
                await asyncio.sleep(answer.delay)
            await send({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        await send({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (request.body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "prompt_tokens": tokens_in,
                "completion_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            }
            await send({"choices": [], "usage": usage})
        await send("[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        request.completed = True


def _tool_call(call: Call, index: int) -> dict[str, Any]:
    arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
    return {
        "id": call.id or f"call_{index}",
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def _completion(answer: Reply | ToolCalls) -> dict[str, Any]:
    if isinstance(answer, ToolCalls):
        message = {
            "role": "assistant",
            "content": answer.text or None,
            "tool_calls": [_tool_call(c, i) for i, c in enumerate(answer.calls)],
        }
        finish, tokens_in, tokens_out = "tool_calls", answer.tokens_in, answer.tokens_out
    else:
        message = {"role": "assistant", "content": answer.text}
        finish, tokens_in = answer.finish_reason, answer.tokens_in
        tokens_out = answer.tokens_out or len(answer.pieces())
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": answer.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        },
    }


async def _send_json(
    writer, status: int, payload: dict, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps(payload).encode()
    head = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
