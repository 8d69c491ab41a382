"""CPU of one chat reply in the web process, before and after the saved templates offered to the
model were parsed once per document (issue 14, "The knee, told apart"): one process, one fresh
database, the two ways interleaved so both see the same machine.

    uv run python bench/chat_reply_cpu.py   # a server from BENCH_DATABASE_URL / TEST_DATABASE_URL

The user has 14 saved templates of their own and the 6 starters: the 20 a reply offers at most.
Replies come from the offline model without delay (no network, no waiting: what is left is
Baton's own work per reply — the offered templates, the tool, the stream, the finished row).
"before" is the code this replaced: the template list, then per template a visibility check, a
version read, a parse of the whole document and an input model, with every reply.
"""

from __future__ import annotations

import asyncio
import copy
import os
import secrets
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.db import open_pool  # noqa: E402
from app.core.llm import LLM  # noqa: E402
from app.core.llm_offline import OfflineModel  # noqa: E402
from app.core.migrations import apply_migrations  # noqa: E402
from app.templates import store as template_store  # noqa: E402
from app.templates.starters import load_starters  # noqa: E402
from app.web.chat import proposals, replies  # noqa: E402
from app.web.live import LiveHub  # noqa: E402
from app.web.runs.start import choose_template  # noqa: E402
from bench.support import bench_user  # noqa: E402
from tests.integration.templates.test_template_runs import REPORT  # noqa: E402

REPLIES = 60
NEW_CONVERSATION = "INSERT INTO conversations (user_id, title) VALUES (%s, 'Cats') RETURNING id"
INSERT_EXCHANGE = """
INSERT INTO messages (conversation_id, role, content, status, model)
VALUES (%(id)s, 'user', 'What is a good name for a cat?', 'done', NULL),
       (%(id)s, 'assistant', '', 'streaming', 'offline')
RETURNING id
"""
ROUNDS = 3


async def offered_before(conn, user_id, space_id=None) -> list[proposals.Offer]:
    """The replaced code path, step for step (its tool line built per reply, as proposal_tools did)."""
    found = await template_store.list_templates(conn, user_id=user_id, space_id=space_id)
    offers = []
    for row in (found["mine"] + found["gallery"])[: proposals.PROPOSED_TEMPLATES]:
        choice = await choose_template(conn, user_id, template_id=row["id"], space_id=space_id)
        if choice is not None:
            doc = choice.document
            takes = proposals._takes(choice.input_model())
            offers.append(
                proposals.Offer(choice, f"({doc.title}: {doc.description[:200]}) takes {takes}")
            )
    return offers


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def timed(fn, n: int) -> tuple[float, float]:
    """Mean wall and CPU (this process) per call, in ms."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await fn()
    return (time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000


async def main() -> None:
    server = os.environ.get("BENCH_DATABASE_URL") or os.environ.get(
        "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = f"bench_reply_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_db(server, name)
    try:
        apply_migrations(url)
        pool = await open_pool(url, max_size=4, name="bench")
        hub = LiveHub(url)
        await hub.start()
        async with pool.connection() as conn:
            await load_starters(conn)
            user = await bench_user(conn)
            for n in range(14):
                doc = copy.deepcopy(REPORT)
                doc["title"] = f"Report {n}"
                doc["description"] = "A reviewed report on a topic of your choice. " * 3
                await template_store.create_template(conn, owner_id=user, document=doc)
        writer = replies.Replies(pool, hub, LLM(model="offline", offline=OfflineModel(delay=0)))

        async def reply() -> None:
            async with pool.connection() as conn:  # start_exchange's rows, without its rate limit
                chat = (await (await conn.execute(NEW_CONVERSATION, (user,))).fetchone())["id"]
                rows = await (await conn.execute(INSERT_EXCHANGE, {"id": chat})).fetchall()
            await writer.start(user, chat, max(r["id"] for r in rows)).task

        async def offer(way) -> None:
            async with pool.connection() as conn:
                proposals.proposal_tools(await way(conn, user))

        ways = {"before": offered_before, "after": proposals.proposable_templates}
        results: dict[str, dict[str, list]] = {w: {"offer": [], "reply": []} for w in ways}
        load = os.getloadavg()
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        for _ in range(ROUNDS):
            for way, fn in ways.items():
                replies.proposable_templates = fn  # what Replies._stream calls
                await timed(lambda fn=fn: offer(fn), 5)  # warm: the first parse of each document
                results[way]["offer"].append(await timed(lambda fn=fn: offer(fn), REPLIES))
                results[way]["reply"].append(await timed(reply, REPLIES))
        print(
            f"{started}, load average {load[0]:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end; {ROUNDS} rounds x {REPLIES} replies each way"
        )
        for way, parts in results.items():
            for part, figures in parts.items():
                wall = statistics.median(f[0] for f in figures)
                cpu = statistics.median(f[1] for f in figures)
                what = "offered templates + tool" if part == "offer" else "whole reply (_write)"
                print(f"  {way:6} {what:26} wall {wall:6.2f} ms   CPU {cpu:6.2f} ms")
        await hub.stop()
        await pool.close()
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


if __name__ == "__main__":
    asyncio.run(main())
