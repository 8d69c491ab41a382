"""`data-analysis` (Data analysis): a CSV upload → load and validate (encoding and delimiter
detected; rows, columns, types, missing values, duplicates) → statistics per column and
correlations (DuckDB) with charts drawn on the server → preliminary insights written by the model
from those numbers → a drill-down loop: you ask a question or pick a column and a filter, the model
proposes one SQL query, Baton runs it read-only in a sealed DuckDB (app/steps/tables/query_guard.py) and shows
the table and a chart, until you click Finish → the report (HTML page and PDF) with every table,
chart and insight.

The upload, the loaded table (Parquet) and the charts (SVG) are artifacts; the journal holds their
ids, the profile's numbers and at most 50 rows of each query result.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from pathlib import Path
from uuid import UUID

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core import runtime
from app.core.markdown import render_markdown
from app.core.pdf import render_html, render_pdf
from app.engine.registry import workflow
from app.engine.run import Run
from app.engine.values import StepOutput
from app.steps import chosen_model, tables
from app.steps.charts import result_chart
from app.steps.chosen_model import ModelName
from app.steps.run_files import read_bytes, write_bytes

NAME = "data-analysis"
WORKFLOW_TITLE = "Data analysis"
MAX_DRILLS = 25
# Step names the run card's panel reads (app/web/uploads/panels.py): rename them here, not there.
PROFILE_STEP = "load and validate"
INSIGHTS_STEP = "preliminary insights"


def propose_step(n: int) -> str:
    return f"propose query {n}"


def query_step(n: int) -> str:
    return f"run query {n}"


def explain_step(n: int) -> str:
    return f"explain result {n}"


def drill_hook(n: int) -> str:
    return f"drill-down {n}"


DRILL_TIMEOUT_S = 30 * 86400
JOURNAL_ROWS = 50
JOURNAL_COLUMNS = 30

INSIGHTS = (
    "You are a data analyst. You are given the computed profile of a table (row and column counts, types, "
    "missing values, duplicates, statistics per column, correlations), not its rows. Write 3 to 6 preliminary "
    "insights in Markdown bullets, each grounded in a number from the profile, then one bullet on data "
    "quality. No preamble."
)
SQL_WRITER = (
    "You are a data analyst who writes DuckDB SQL. The table is named data. Answer with exactly one "
    "read-only SELECT query over data in a ```sql block, then one sentence saying what it computes. "
    "Aggregate where you can; return at most 30 rows. Use only the columns listed; quote names with double quotes."
)
EXPLAINER = (
    "You are a data analyst. Explain in two or three sentences what the query result shows for the "
    "question, citing its numbers. No preamble."
)


class DataFileRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    artifact_id: UUID
    name: str = Field(min_length=1, max_length=120)
    size: int = Field(ge=0)


class DataInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: DataFileRef = Field(title="CSV file")
    question: str | None = Field(
        None,
        max_length=2000,
        title="Question (optional)",
        description="What you want to learn from the data.",
        json_schema_extra={"widget": "textarea"},
    )
    model: ModelName = Field(None, title="Model", description="Leave empty for the default model.")

    @field_validator("question", mode="before")
    @classmethod
    def _question(cls, value):
        return (value.strip() or None) if isinstance(value, str) else value


class UnusableFile(Exception):
    """The upload is not a table; the run fails with this sentence."""


# -- steps ------------------------------------------------------------------------------------


async def load_table(item: dict) -> dict:
    """Load the CSV, profile it, draw the overview charts; store the table and charts as artifacts."""
    data = await read_bytes(item["artifact_id"], owner_id=item["owner_id"], run_id=item["run_id"])
    with tempfile.TemporaryDirectory(prefix="baton-data-") as tmp:
        try:
            table = await asyncio.to_thread(tables.load_csv, data, Path(tmp))
        except tables.NotTabular as exc:
            return {"error": str(exc)}
        del data
        parquet_id = await write_bytes(
            owner_id=item["owner_id"],
            run_id=item["run_id"],
            name="data/table.parquet",
            content_type="application/vnd.apache.parquet",
            data=table.parquet.read_bytes(),
        )
    charts = []
    for i, chart in enumerate(table.charts, start=1):
        chart_id = await write_bytes(
            owner_id=item["owner_id"],
            run_id=item["run_id"],
            name=f"chart/overview-{i:02d}.svg",
            content_type="image/svg+xml",
            data=chart["svg"].encode(),
        )
        charts.append({"id": chart_id, "title": chart["title"]})
    return {**table.profile, "parquet_id": parquet_id, "charts": charts}


def profile_for_model(profile: dict) -> str:
    keep = ("rows", "column_count", "duplicates", "encoding", "delimiter", "correlations")
    return json.dumps(
        {**{k: profile[k] for k in keep if k in profile}, "columns": profile["columns"]},
        ensure_ascii=False,
        default=str,
    )[:20_000]


async def write_insights(
    profile: dict, question: str | None, model: str | None
) -> StepOutput | str:
    prompt = f"The reader's question: {question or '(none: describe what stands out)'}\n\nThe profile:\n{profile_for_model(profile)}"
    reply = await chosen_model.ask(INSIGHTS, prompt, model=model, max_tokens=900)
    if reply is None:
        return rule_insights(profile)
    return StepOutput(reply.text, usage=reply.usage)


def rule_insights(profile: dict) -> str:
    """The offline stand-in: notes computed from the profile, labelled as such."""
    lines = ["*Offline demo model: these notes are computed, not written by a model.*", ""]
    lines.append(
        f"- {profile['rows']:,} rows and {profile['column_count']} columns; {profile['duplicates']:,} duplicate rows."
    )
    for col in profile["columns"]:
        if col["missing_pct"] >= 5:
            lines.append(f"- {col['name']} is missing in {col['missing_pct']:g}% of rows.")
    for col in [c for c in profile["columns"] if c["kind"] == "number"][:4]:
        lines.append(
            f"- {col['name']}: mean {col.get('mean')}, median {col.get('median')}, from {col['min']} to {col['max']}."
        )
    for pair in profile["correlations"][:2]:
        lines.append(f"- {pair['a']} and {pair['b']} correlate with r = {pair['r']:.2f}.")
    return "\n".join(lines)


_SQL_BLOCK = re.compile(r"```(?:sql|duckdb)?\s*\n(.*?)```", re.S | re.I)


def rule_query(column: str | None, where: str | None, profile: dict) -> str:
    """A query from a picked column and filter, without a model."""
    cond = f" WHERE {where}" if where else ""
    col = next((c for c in profile["columns"] if c["name"] == column), None)
    if col is None:
        return f"SELECT count(*) AS rows FROM data{cond}"
    q = tables.quote_ident(col["name"])
    if col["kind"] == "number":
        return (
            f"SELECT count({q}) AS values, min({q}) AS min, avg({q}) AS mean, median({q}) AS median, "
            f"max({q}) AS max FROM data{cond}"
        )
    return f"SELECT {q}, count(*) AS rows FROM data{cond} GROUP BY {q} ORDER BY rows DESC LIMIT 20"


async def propose_query(request: dict, profile: dict, model: str | None) -> StepOutput | dict:
    question, column, where = request.get("question"), request.get("column"), request.get("filter")
    if not question:
        return {
            "sql": rule_query(column, where, profile),
            "explanation": "Built from the column and filter you picked.",
            "by": "rule",
        }
    hints = "".join(
        [
            f"\nFocus on the column: {column}" if column else "",
            f"\nApply this filter: {where}" if where else "",
        ]
    )
    columns = ", ".join(f"{c['name']} ({c['type']})" for c in profile["columns"])
    prompt = f"Columns of data: {columns}\nRows: {profile['rows']}\n\nQuestion: {question}{hints}"
    reply = await chosen_model.ask(SQL_WRITER, prompt, model=model, max_tokens=600)
    if reply is None:
        return {
            "sql": rule_query(column, where, profile),
            "by": "rule",
            "explanation": "Offline demo model: a query from the column and filter you picked, not from your question.",
        }
    found = _SQL_BLOCK.search(reply.text)
    sql = found.group(1).strip() if found else reply.text.strip()
    explanation = _SQL_BLOCK.sub("", reply.text).strip()[:500]
    return StepOutput(
        {"sql": sql[: tables.QUERY_MAX_CHARS + 100], "explanation": explanation, "by": "model"},
        usage=reply.usage,
    )


async def query_table(item: dict) -> dict:
    """Run one proposed query in the sandbox; a refusal or failure is a result, shown to the user."""
    parquet = await read_bytes(item["parquet_id"], owner_id=item["owner_id"], run_id=item["run_id"])
    out = {
        "sql": item["sql"],
        "error": None,
        "refused": False,
        "columns": [],
        "rows": [],
        "truncated": False,
        "chart_id": None,
    }
    with tempfile.TemporaryDirectory(prefix="baton-query-") as tmp:
        path = Path(tmp) / "table.parquet"
        path.write_bytes(parquet)
        del parquet
        try:
            result = await asyncio.to_thread(_sandboxed, path, Path(tmp), item["sql"])
        except tables.QueryRefused as exc:
            return out | {"error": f"Refused: {exc}", "refused": True}
        except tables.QueryFailed as exc:
            return out | {"error": str(exc)}
    columns = result.columns[:JOURNAL_COLUMNS]
    rows = [row[:JOURNAL_COLUMNS] for row in result.rows]
    out.update(
        sql=result.sql,
        columns=columns,
        rows=rows[:JOURNAL_ROWS],
        truncated=result.truncated or len(rows) > JOURNAL_ROWS,
        shown=min(len(rows), JOURNAL_ROWS),
    )
    svg = result_chart(
        columns, rows, numeric=[i for i, c in enumerate(columns) if tables.is_numeric(c["type"])]
    )
    if svg:
        out["chart_id"] = await write_bytes(
            owner_id=item["owner_id"],
            run_id=item["run_id"],
            name=f"chart/drill-{item['round']:02d}.svg",
            content_type="image/svg+xml",
            data=svg.encode(),
        )
    return out


def _sandboxed(parquet: Path, work: Path, sql: str) -> tables.QueryResult:
    tables.check_query(sql)  # refuse before loading anything
    con = tables.sandbox(parquet, work)
    try:
        return tables.run_query(con, sql)
    finally:
        con.close()


async def explain_result(question: str, result: dict, model: str | None) -> StepOutput | str:
    head = [", ".join(c["name"] for c in result["columns"])] + [
        ", ".join(str(v) for v in r) for r in result["rows"][:30]
    ]
    reply = await chosen_model.ask(
        EXPLAINER,
        f"Question: {question}\nQuery: {result['sql']}\nResult:\n" + "\n".join(head),
        model=model,
        max_tokens=400,
    )
    if reply is None:
        more = " (more rows not shown)" if result["truncated"] else ""
        return f"*Offline demo model:* the query returned {len(result['rows'])} row{'s' if len(result['rows']) != 1 else ''}{more}."
    return StepOutput(reply.text, usage=reply.usage)


def parse_request(data: dict, columns: list[str]) -> dict:
    """The drill-down request from the hook's data (our form or the generic one's feedback)."""
    question = str(data.get("question") or data.get("feedback") or "").strip()[:2000]
    column = str(data.get("column") or "").strip()
    where = " ".join(str(data.get("filter") or "").split())[:500]
    return {
        "question": question or None,
        "column": column if column in columns else None,
        "filter": where or None,
    }


def result_markdown(drill: dict) -> str:
    r = drill["result"]
    if r["error"]:
        return f"**{drill['title']}**\n\n{r['error']}\n\n```sql\n{r['sql']}\n```"
    cells = lambda row: "| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"  # noqa: E731
    table = "\n".join(
        [cells([c["name"] for c in r["columns"]]), "|" + "---|" * len(r["columns"])]
        + [cells(row) for row in r["rows"][:20]]
    )
    return f"**{drill['title']}**\n\n```sql\n{r['sql']}\n```\n\n{table}\n\n{drill.get('finding') or ''}"


def _distinct(col: dict) -> str:
    return (
        "≈ " if col.get("distinct_approx") else ""
    ) + f"{col['distinct']:,}"  # estimated on huge tables


def hook_content(profile: dict, insights: str, drills: list[dict]) -> str:
    cols = "\n".join(
        f"| {c['name']} | {c['type']} | {c['missing']:,} | {_distinct(c)} |"
        for c in profile["columns"]
    )
    parts = [
        f"{profile['rows']:,} rows × {profile['column_count']} columns ({profile['encoding']}, {profile['delimiter']}-separated); "
        f"{profile['duplicates']:,} duplicate rows.\n\n| Column | Type | Missing | Distinct |\n|---|---|---|---|\n{cols}",
        f"**Preliminary insights**\n\n{insights}",
    ]
    if drills:
        parts.append(result_markdown(drills[-1]))
    return "\n\n".join(parts)


async def write_report(ctx: dict) -> dict:
    charts = {}
    for chart_id in [c["id"] for c in ctx["profile"]["charts"]] + [
        d["result"]["chart_id"] for d in ctx["drills"] if d["result"]["chart_id"]
    ]:
        charts[chart_id] = (
            await read_bytes(chart_id, owner_id=ctx["owner_id"], run_id=ctx["run_id"])
        ).decode()
    html, pdf = await asyncio.to_thread(render_report, ctx, charts)
    ids = {}
    for key, name, kind, data in (
        ("html", "data-analysis-report.html", "text/html; charset=utf-8", html.encode()),
        ("pdf", "data-analysis-report.pdf", "application/pdf", pdf),
    ):
        ids[key] = await write_bytes(
            owner_id=ctx["owner_id"],
            run_id=ctx["run_id"],
            name=name,
            content_type=kind,
            data=data,
            role="output",
        )
    return ids


def render_report(ctx: dict, charts: dict[str, str]) -> tuple[str, bytes]:
    # Chart SVGs are ours (app/steps/charts.py renders them with autoescaping): safe to inline.
    svg = {k: Markup(v) for k, v in charts.items()}
    context = dict(
        title=ctx["title"],
        date=ctx["date"],
        question=ctx["question"],
        file_name=ctx["file_name"],
        profile=ctx["profile"],
        insights_html=render_markdown(ctx["insights"], top=3),
        model=ctx["model"],
        workflow_title=WORKFLOW_TITLE,
        overview=[{"title": c["title"], "svg": svg.get(c["id"])} for c in ctx["profile"]["charts"]],
        drills=[
            {
                **d,
                "finding_html": render_markdown(d.get("finding") or "", top=4),
                "svg": svg.get(d["result"]["chart_id"]),
            }
            for d in ctx["drills"]
        ],
    )
    return render_html("data_report.html", **context), render_pdf("data_report.html", **context)


# -- the workflow -----------------------------------------------------------------------------


def titled(inp: DataInput) -> str:
    """ "sales.csv: which region grew?" (the file, and the question when there is one)."""
    question = " ".join((inp.question or "").split())
    return f"{inp.file.name}: {question}" if question else inp.file.name


@workflow(
    name=NAME,
    title=WORKFLOW_TITLE,
    input=DataInput,
    titled=titled,
    description="Profiles a CSV (types, missing values, statistics, correlations, charts), writes first "
    "insights, then answers your drill-down questions with read-only SQL until you finish.",
)
async def data_analysis(run: Run, inp: DataInput) -> dict:
    base = {"run_id": str(run.id), "owner_id": run.owner_id}
    await run.progress(0, 3, "loading and validating")
    profile = await run.step(
        PROFILE_STEP, load_table, {**base, "artifact_id": str(inp.file.artifact_id)}, timeout=600
    )
    if profile.get("error"):
        raise UnusableFile(f"{inp.file.name}: {profile['error']}")
    await run.progress(1, 3, "writing preliminary insights")
    insights = await run.step(
        INSIGHTS_STEP,
        write_insights,
        profile,
        inp.question,
        inp.model,
        retry=chosen_model.MODEL_RETRY,
        timeout=chosen_model.MODEL_TIMEOUT_S,
    )
    columns = [c["name"] for c in profile["columns"]]
    drills: list[dict] = []
    for n in range(1, MAX_DRILLS + 1):
        await run.progress(2, 3, "waiting for your questions")
        decision = await run.hook(
            drill_hook(n),
            "input",
            actions=["ask", "finish"],
            timeout=DRILL_TIMEOUT_S,
            show={
                "form": NAME,
                "heading": "Ask about the data" if n == 1 else "Ask another question, or finish",
                "note": "Ask a question, or pick a column and a filter. Baton runs the proposed query read-only.",
                "content": hook_content(profile, insights, drills),
                "label": "The data",
                "labels": {"ask": "Ask", "finish": "Finish"},
                "feedback_for": ["ask"],
                "columns": columns,
                "round": n,
            },
        )
        if decision.timed_out or decision.action != "ask":
            break
        request = parse_request(decision.data, columns)
        if not (request["question"] or request["column"]):
            continue
        title = request["question"] or f"{request['column']}" + (
            f" where {request['filter']}" if request["filter"] else ""
        )
        proposal = await run.step(
            propose_step(n),
            propose_query,
            request,
            profile,
            inp.model,
            retry=chosen_model.MODEL_RETRY,
            timeout=chosen_model.MODEL_TIMEOUT_S,
        )
        result = await run.step(
            query_step(n),
            query_table,
            {**base, "parquet_id": profile["parquet_id"], "sql": proposal["sql"], "round": n},
            timeout=120,
        )
        finding = None
        if not result["error"] and result["rows"]:
            finding = await run.step(
                explain_step(n),
                explain_result,
                title,
                result,
                inp.model,
                retry=chosen_model.MODEL_RETRY,
                timeout=chosen_model.MODEL_TIMEOUT_S,
            )
        drills.append(
            {
                "round": n,
                "title": title,
                "request": request,
                "proposal": proposal,
                "result": result,
                "finding": finding,
            }
        )
    await run.progress(2, 3, "writing the report")
    when = run.now()
    model_name = inp.model or runtime.current().llm.model
    report = await run.step(
        "write report",
        write_report,
        {
            **base,
            "title": f"Data analysis: {inp.file.name}",
            "date": when.strftime("%-d %B %Y"),
            "question": inp.question,
            "file_name": inp.file.name,
            "profile": profile,
            "insights": insights,
            "drills": drills,
            "model": model_name,
        },
        timeout=300,
    )
    return {
        "title": f"Data analysis: {inp.file.name}",
        "rows": profile["rows"],
        "columns": profile["column_count"],
        "drill_downs": len(drills),
        "report": report,
    }
