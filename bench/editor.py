"""Template editor benchmark: a 100-block template (nested for_each and if among them), opened in
the editor and checked after an edit, as the browser does it, beside a baseline page measured in the
same run. Server time: from the request entering the application to its response sent (Litestar's
test client in-process, timed around the ASGI app, so the client's own encoding is not counted).

    uv run python bench/editor.py          # BENCH_DATABASE_URL / TEST_DATABASE_URL, else embedded

Target (issue 17): p95 <= 50 ms to open the editor and to validate an edit.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from litestar.testing import AsyncTestClient  # noqa: E402

from app.core.config import load_settings  # noqa: E402
from app.core.db import open_pool  # noqa: E402
from app.templates import store  # noqa: E402
from app.web.app import create_app  # noqa: E402
from app.web.auth.accounts import create_account  # noqa: E402
from app.web.auth.passwords import hash_password  # noqa: E402
from app.web.builder import doc_form, formats  # noqa: E402
from bench.support import bench_database, pct  # noqa: E402

PASSWORD = "bench password 123"
N = 60
TARGET_MS = 50


def hundred_blocks() -> dict:
    """80 top-level blocks, 4 `if` with 2 blocks in each branch pair, 4 `for_each` with 1 inside: 100."""
    blocks: list[dict] = []
    for i in range(80):
        before = f"{{{{ b{i - 1} }}}}" if i else "{{ inputs.topic }}"
        kind = ("ask_model", "ask_model", "ask_model", "document", "wait")[i % 5]
        if kind == "ask_model":
            blocks.append(
                {
                    "kind": kind,
                    "id": f"b{i}",
                    "prompt": f"Step {i} on {before}.",
                    "system": "Be brief.",
                }
            )
        elif kind == "document":
            blocks.append(
                {"kind": kind, "id": f"b{i}", "doc_title": "{{ inputs.topic }}", "markdown": before}
            )
        else:
            blocks.append({"kind": kind, "id": f"b{i}", "duration": "1s"})
    for j in range(4):
        blocks.append(
            {
                "kind": "if",
                "id": f"c{j}",
                "condition": {"var": "inputs.topic", "op": "contains", "value": "x"},
                "then": [{"kind": "ask_model", "id": f"ct{j}", "prompt": "Yes: {{ b78 }}"}],
                "else": [{"kind": "ask_model", "id": f"ce{j}", "prompt": "No: {{ b78 }}"}],
            }
        )
        blocks.append(
            {
                "kind": "for_each",
                "id": f"f{j}",
                "items": "inputs.items",
                "as": "item",
                "blocks": [{"kind": "ask_model", "id": f"fe{j}", "prompt": "About {{ item }}"}],
            }
        )
    return {
        "title": "A hundred blocks",
        "description": "Benchmark",
        "category": "Bench",
        "inputs": [
            {"name": "topic", "label": "Topic"},
            {"name": "items", "label": "Items", "kind": "text_list"},
        ],
        "blocks": blocks,
    }


def as_form(nodes: list[doc_form.Node]) -> list[tuple[str, str]]:
    """What the browser submits for the editor's form."""
    out = []
    for n in nodes:
        if n.kind == "block":
            out.append((f"{n.path}.{n.attrs['disc']}", n.block_kind))
        if n.kind == "checkbox":
            out += [(n.path, "false")] + ([(n.path, "true")] if n.value else [])
        elif n.kind in ("text", "textarea", "number", "select", "lines"):
            out.append((n.path, n.value))
        out += as_form(n.children)
    return out


class ServerTimed:
    """The application, timing each HTTP request it serves."""

    def __init__(self, app):
        self.app, self.last_ms = app, 0.0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.last_ms = (time.perf_counter() - t0) * 1000

    def __getattr__(self, name):
        return getattr(self.app, name)


async def timed(server: ServerTimed, call, n: int) -> list[float]:
    times = []
    for _ in range(n):
        response = await call()
        assert response.status_code == 200, response.status_code
        times.append(server.last_ms)
    return times


async def main() -> None:
    with bench_database() as url:
        await run_all(url)


async def run_all(url: str) -> None:
    document = hundred_blocks()
    assert formats.validate(document) == [], formats.validate(document)
    pool = await open_pool(url, min_size=1, max_size=2)
    async with pool.connection() as conn:
        user = await create_account(
            conn,
            "editor@bench.test",
            await hash_password(PASSWORD),
            tier="enterprise",
            explicit_tier=True,
        )
        template = await store.create_template(conn, owner_id=user.id, document=document)
    await pool.close()

    form = as_form(doc_form.editor_tree(document, formats.schema()))
    edited: dict[str, list[str]] = {}
    for k, v in form:
        edited.setdefault(k, []).append(
            "Step 1 on {{ b0 }} and {{ nowhere }}." if k == "blocks.1.prompt" else v
        )
    settings = load_settings(
        {
            "DATABASE_URL": url,
            "BATON_SECRET_KEY": "bench-secret-key-0000",
            "BATON_DATA_DIR": tempfile.mkdtemp(),
        }
    )
    server = ServerTimed(create_app(settings, url, run_worker=False))
    async with AsyncTestClient(server) as client:
        client.follow_redirects = False
        page = await client.get("/login")
        csrf = re.search(r'name="_csrf_token" value="([0-9a-f]+)"', page.text).group(1)
        await client.post(
            "/login", data={"email": "editor@bench.test", "password": PASSWORD, "_csrf_token": csrf}
        )
        editor_path = f"/templates/{template['id']}"
        opened = await client.get(editor_path)
        csrf = re.search(r'name="_csrf_token" value="([0-9a-f]+)"', opened.text).group(1)
        headers = {"HX-Request": "true", "X-CSRF-Token": csrf}

        async def check():
            response = await client.post(f"{editor_path}/check", data=edited, headers=headers)
            assert "Unknown variable “nowhere”" in response.text, response.text[:3000]
            return response

        results = {
            "baseline: /workflows (empty dashboard)": await timed(
                server, lambda: client.get("/workflows"), N
            ),
            f"open the editor ({len(opened.text) // 1024} KB page)": await timed(
                server, lambda: client.get(editor_path), N
            ),
            f"validate an edit (/check, {len(form)} fields)": await timed(server, check, N),
        }
    print("100-block template (80 top-level, 4 if with 2 nested, 4 for_each with 1 nested)")
    for what, times in results.items():
        target = (
            ""
            if what.startswith("baseline")
            else f"  {'ok ' if pct(times, 95) <= TARGET_MS else 'MISS'} target p95 <= {TARGET_MS}"
        )
        print(f"{what:<46} p50 {pct(times, 50):6.1f} ms  p95 {pct(times, 95):6.1f} ms{target}")


if __name__ == "__main__":
    asyncio.run(main())
