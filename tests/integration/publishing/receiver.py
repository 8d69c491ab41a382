"""A local receiver for both connector kinds: a real HTTP server on 127.0.0.1, in a thread.

    with Receiver(secret="s3cret", token="tok") as rx:
        rx.url                      # webhook address;  rx.base for Mastodon (/api/v1/statuses)
        rx.fail_next(500)           # the next publish answers 500 (then normally)
        rx.fail_next(400, saying="…")  # … with this text as its body
        rx.hold_next(5.0)           # the next publish is recorded, then held 5 s before answering
        rx.received.wait()          # set when a held request has been recorded
        rx.deliveries               # every publish call, in order (also the duplicates)
        rx.pings                    # every signed `ping` (a connector check); fail_next applies too
        rx.published                # what was published: one entry per idempotency key

It behaves as a receiver that honours idempotency keys: a repeated key publishes nothing new and
answers what the first call answered. Webhook bodies must carry a valid HMAC-SHA256 signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, *, secret: str = "", token: str = ""):
        self.secret, self.token = secret, token
        self.deliveries: list[dict] = []
        self.published: dict[str, dict] = {}
        self.metrics_requests: list[dict] = []
        self.pings: list[dict] = []
        self.bad_signatures = 0
        self.failures: list[tuple[int, str]] = []
        self.holds: list[float] = []
        self.received = threading.Event()
        self.lock = threading.Lock()
        self.likes: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the caller died while we held the answer

            def do_GET(self):
                if self.path == "/api/v1/accounts/verify_credentials":
                    if self.headers.get("Authorization") != f"Bearer {receiver.token}":
                        return self._answer(401, {"error": "The access token is invalid"})
                    return self._answer(200, {"id": "1", "username": "me"})
                if self.path.startswith("/api/v1/statuses/"):
                    remote_id = self.path.rsplit("/", 1)[1]
                    likes = receiver.likes.get(remote_id, 0)
                    return self._answer(
                        200,
                        {
                            "id": remote_id,
                            "favourites_count": likes,
                            "reblogs_count": 1,
                            "replies_count": 0,
                        },
                    )
                self._answer(404, {"error": "not found"})

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                if self.path.startswith("/api/v1/statuses"):
                    if self.headers.get("Authorization") != f"Bearer {receiver.token}":
                        return self._answer(401, {"error": "The access token is invalid"})
                    return self._publish(body.get("status"), body)
                expected = (
                    "sha256=" + hmac.new(receiver.secret.encode(), raw, hashlib.sha256).hexdigest()
                )
                if not hmac.compare_digest(self.headers.get("X-Baton-Signature", ""), expected):
                    receiver.bad_signatures += 1
                    return self._answer(401, {"error": "bad signature"})
                if body.get("event") == "ping":
                    with receiver.lock:
                        receiver.pings.append(body)
                        status, saying = (
                            receiver.failures.pop(0) if receiver.failures else (200, "")
                        )
                    return self._answer(status, {"ok": status == 200, "error": saying})
                if body.get("event") == "metrics.request":
                    receiver.metrics_requests.append(body)
                    return self._answer(
                        200,
                        {
                            "metrics": {
                                str(p["id"]): {
                                    "likes": receiver.likes.get(str(p["id"]), 0),
                                    "shares": 2,
                                    "replies": 1,
                                }
                                for p in body["posts"]
                            }
                        },
                    )
                return self._publish(body["post"]["text"], body)

            def _publish(self, text, body):
                key = self.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    receiver.deliveries.append(
                        {"key": key, "text": text, "body": body, "at": time.time()}
                    )
                    status, saying = receiver.failures.pop(0) if receiver.failures else (200, "")
                    hold = receiver.holds.pop(0) if receiver.holds and status == 200 else 0
                    first = key not in receiver.published
                    if status == 200 and first:
                        remote_id = str(len(receiver.published) + 1)
                        receiver.published[key] = {
                            "id": remote_id,
                            "url": f"https://social.example/@me/{remote_id}",
                            "text": text,
                            "at": time.time(),
                        }
                if hold:
                    receiver.received.set()
                    time.sleep(hold)
                if status != 200:
                    return self._answer(status, {"error": saying})
                self._answer(200, receiver.published[key])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def url(self) -> str:
        return self.base + "/hooks/baton"

    def fail_next(self, *statuses: int, saying: str = "scripted failure") -> None:
        self.failures.extend((status, saying) for status in statuses)

    def hold_next(self, seconds: float) -> None:
        self.holds.append(seconds)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
