"""`data-analysis` end to end with an in-process worker and the scripted model server: detection,
profile, charts, insights from numbers, the drill-down loop (model queries that try to read a file
or write are refused; a picked column and filter runs), the report; and files that are no table."""

from __future__ import annotations

import re

from app.engine.hooks import resolve_hook
from tests.integration.documents.conftest import start_with_files
from tests.integration.documents.csvs import sales_csv
from tests.integration.workflows.conftest import waiting_hook
from tests.support.engine import journal, wait_status
from tests.support.model_server import Reply

CSV = "text/csv"
SQL_FOR = {
    "read a file": "```sql\nSELECT * FROM read_csv('/etc/passwd')\n```\nReads it.",
    "write a file": "```sql\nCOPY data TO '/tmp/baton-leak.csv'\n```\nWrites it.",
    "average price per city": "```sql\nSELECT city, avg(price) AS avg_price FROM data GROUP BY city ORDER BY city\n```\nAverages.",
}


def data_agents(request):
    system = (request.body or {}).get("messages", [{}])[0].get("content", "")
    prompt = request.last_user_message
    if "computed profile of a table" in system:
        return Reply("- Prices average about 17 [profile].", tokens_in=90)
    if "writes DuckDB SQL" in system:
        question = re.search(r"Question: (.+)", prompt).group(1)
        return Reply(SQL_FOR.get(question, "SELECT 1"), tokens_in=40)
    if "Explain in two or three sentences" in system:
        return Reply("Málaga has the highest average price.", tokens_in=30)
    return Reply("Echo")


async def decide(pool, run_id, name, action, data, user):
    hook = await waiting_hook(pool, run_id, name, timeout=20)
    async with pool.connection() as conn:
        await resolve_hook(conn, hook["token"], action, data, decided_by="tester", owner_id=user)
    return hook


async def test_csv_profile_insights_drill_downs_and_report(pool, worker, user, model):
    model.handler = data_agents
    data = sales_csv(encoding="cp1252", delimiter=";")
    run = await start_with_files(
        pool, user, "data-analysis", [("sales.csv", CSV, data)], question="Where is it dearest?"
    )
    first = await waiting_hook(pool, run.id, "drill-down 1", timeout=20)
    profile = next(
        s["output"] for s in await journal(pool, run.id) if s["name"] == "load and validate"
    )
    assert (profile["rows"], profile["column_count"], profile["duplicates"]) == (302, 4, 2)
    assert (profile["encoding"], profile["delimiter"]) == ("CP1252", "semicolon")
    cols = {c["name"]: c for c in profile["columns"]}
    assert (
        cols["price"]["type"] == "DOUBLE"
        and cols["price"]["missing"] == 13
        and cols["day"]["kind"] == "date"
    )
    assert ["Málaga", 75] in cols["city"]["top"] and ["Zürich", 76] in cols["city"]["top"]
    assert len(profile["charts"]) >= 3
    insights = next(
        r for r in model.requests if "computed profile" in r.body["messages"][0]["content"]
    )
    assert (
        '"rows": 302' in insights.last_user_message
        and "Zürich;10" not in insights.last_user_message
    )
    assert "302 rows × 4 columns" in first["show"]["content"] and first["show"]["columns"] == [
        "city",
        "price",
        "qty",
        "day",
    ]

    await decide(pool, run.id, "drill-down 1", "ask", {"question": "read a file"}, user)
    second = await decide(pool, run.id, "drill-down 2", "ask", {"feedback": "write a file"}, user)
    assert (
        "Refused: The query may read only the table “data”: read_csv() is not allowed"
        in second["show"]["content"]
    )
    third = await decide(
        pool, run.id, "drill-down 3", "ask", {"question": "average price per city"}, user
    )
    assert "Refused: Only SELECT queries are allowed, not COPY" in third["show"]["content"]
    fourth = await decide(
        pool, run.id, "drill-down 4", "ask", {"column": "city", "filter": "qty > 4"}, user
    )
    assert (
        "| Málaga |" in fourth["show"]["content"]
        and "Málaga has the highest average price." in fourth["show"]["content"]
    )
    await decide(pool, run.id, "drill-down 5", "finish", {}, user)

    done = await wait_status(pool, run.id, "completed", "failed", timeout=30)
    assert done["status"] == "completed", done["error"]
    assert done["output"]["drill_downs"] == 4
    steps = {s["name"]: s["output"] for s in await journal(pool, run.id)}
    assert steps["run query 1"]["refused"] and steps["run query 2"]["refused"]
    picked = steps["run query 4"]
    assert (
        picked["sql"]
        == 'SELECT "city", count(*) AS rows FROM data WHERE qty > 4 GROUP BY "city" ORDER BY rows DESC LIMIT 20'
    )
    assert picked["chart_id"] and sum(r[1] for r in picked["rows"]) == sum(
        1 for i in range(300) if 1 + i % 9 > 4
    )
    sql_writer = [
        r for r in model.requests if "writes DuckDB SQL" in r.body["messages"][0]["content"]
    ]
    assert len(sql_writer) == 3  # the three questions; a picked column and filter need no model

    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT name, role, content_type, data FROM artifacts WHERE run_id = %s",
                (run.id,),
            )
        ).fetchall()
    by_name = {r["name"]: r for r in rows}
    assert by_name["data/table.parquet"]["role"] == "internal"
    assert by_name["chart/drill-04.svg"]["content_type"] == "image/svg+xml"
    html = bytes(by_name["data-analysis-report.html"]["data"]).decode()
    assert bytes(by_name["data-analysis-report.pdf"]["data"]).startswith(b"%PDF")
    for text in (
        "Preliminary insights",
        "Prices average about 17",
        "Drill-downs",
        "read_csv() is not allowed",
        "average price per city",
        "Málaga has the highest average price.",
        "<svg",
        "Strongest correlations",
        "CP1252",
    ):
        assert text in html, text
    assert html.count("<svg") >= 4  # the overview charts and the drill-down's


async def test_files_that_are_not_tables_fail_with_a_clear_reason(pool, worker, user, model):
    cases = {
        "binary.csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50, "binary file"),
        "prose.csv": "".join(
            f"Chapter {i}. It was a dark and stormy night and the rain fell in torrents "
            f"{'until a violent gust of wind swept up the streets ' * (i % 3)}for {i} hours.\n"
            for i in range(20)
        ).encode(),
        "ragged.csv": (b"a,b,c\n1,2,3\n" + b"1,2\n4,5,6,7\n" * 20, "Not a consistent table"),
        "empty.csv": (b"\n\n", "empty"),
    }
    cases["prose.csv"] = (cases["prose.csv"], "No column separator")
    for name, (data, reason) in cases.items():
        run = await start_with_files(pool, user, "data-analysis", [(name, CSV, data)])
        done = await wait_status(pool, run.id, "completed", "failed", timeout=20)
        assert done["status"] == "failed" and done["error"]["message"].startswith(f"{name}: "), (
            done["error"]
        )
        assert reason in done["error"]["message"], done["error"]["message"]


async def test_a_latin1_file_with_bytes_utf8_cannot_read_is_detected(pool, worker, user, model):
    data = "name,city\nJosé,São Paulo\nFrançois,Genève\nJürgen,Düsseldorf\nAnaïs,Besançon\n".encode(
        "latin-1"
    )
    run = await start_with_files(pool, user, "data-analysis", [("people.csv", CSV, data)])
    await waiting_hook(pool, run.id, "drill-down 1", timeout=20)
    profile = next(
        s["output"] for s in await journal(pool, run.id) if s["name"] == "load and validate"
    )
    cities = {v for v, _ in next(c for c in profile["columns"] if c["name"] == "city")["top"]}
    assert {"São Paulo", "Genève", "Düsseldorf"} <= cities
    async with pool.connection() as conn:
        await conn.execute("SELECT 1")
    from app.engine.commands import cancel_run

    async with pool.connection() as conn:
        await cancel_run(conn, run.id, owner_id=user)
