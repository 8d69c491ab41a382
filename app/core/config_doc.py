"""docs/admin/configuration.md, generated from the settings code:

    uv run python -m app.core.config_doc > docs/admin/configuration.md

Which variables exist, and which setting each one fills, is read from `load_settings` itself (its
source, so a variable added there appears here); the default is the value it gives with an empty
environment. Only the meaning is written by hand, in MEANINGS: a variable without one stops the
generator, and tests/unit/test_docs_references.py fails while the committed page is stale.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from dataclasses import dataclass

from app.core import config

# Defaults that are not a plain value of the setting (computed, generated or a parsed form).
SHOWN_DEFAULTS = {
    "DATABASE_URL": "*(unset: embedded server)*",
    "BATON_DATA_DIR": "`./.baton`",
    "BATON_SECRET_KEY": "generated once into the data dir",
    "BATON_BASE_URL": "*(unset: the address `baton serve` listens on)*",
    "SMTP_URL": "*(unset: admin outbox)*",
    "BATON_DOC_SUMMARY_RATE": "`20/min`",
    "BATON_DB_OUTAGE_MAX": "`5min`",
    "BATON_WAKE_HORIZON": "`5min`",
}

MEANINGS = {
    "DATABASE_URL": "`postgresql://…` of the server to use. Set it and Baton starts no server of its own.",
    "BATON_DATA_DIR": "Where the embedded PostgreSQL, the generated secret key and local files live.",
    "BATON_SECRET_KEY": "Signs sessions and encrypts stored secrets (at least 16 characters). Set the same "
    "value on every process of a deployment.",
    "BATON_BASE_URL": "Public URL, used for links in e-mails. Unset, `baton serve --port 8101` links to "
    "`http://127.0.0.1:8101`; on a non-loopback host (`--host 0.0.0.0`) and in `baton worker` "
    "processes, Baton warns at start-up that people elsewhere get dead links. Set it in every "
    "process of a deployment.",
    "OPENAI_BASE_URL": "Any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, a gateway).",
    "OPENAI_API_KEY": "Key for that endpoint. With neither this nor `OPENAI_BASE_URL`, Baton answers with its "
    "built-in **offline demo model**, labelled as such in the UI.",
    "BATON_MODEL": "Model name sent to the endpoint.",
    "SMTP_URL": "`smtp://user:pass@host:port` or `smtps://…` for outgoing mail.",
    "BATON_MAIL_FROM": "Sender address of Baton's mail.",
    "BATON_LOG_FORMAT": "`json` prints one JSON object per log event.",
    "BATON_DEFAULT_TIER": "Tier of new sign-ups (`free`, `pro`, `premium`, `enterprise`).",
    "BATON_SANDBOX": "How code-review workflows run tests: in bubblewrap (no network, read-only system, only "
    "public parts of `/etc`, size-limited work dir and `/tmp`, CPU/memory/wall-time limits; as "
    "root it first drops to `nobody`). Without a working bubblewrap, runs are refused with a "
    "message. `unsafe-local` runs tests without isolation (admins only, explicitly).",
    "BATON_WORKFLOW_MODULES": "Comma-separated Python modules with a deployment's own workflows "
    "(`@workflow(...)` functions), loaded by every web and worker process.",
    "BATON_RETENTION_DAYS": "Days to keep the step journal and event log of finished runs (the run itself, "
    "its hooks and artifacts stay), audit log entries, and team invitations after they were used, revoked "
    "or expired.",
    "BATON_METRICS_TOKEN": "Bearer token for `GET /metrics`; without it, only requests from localhost may read "
    "the metrics. See [Monitoring](monitoring.md).",
    "BATON_DOC_SUMMARY_RATE": "Model calls for document summaries, per window, shared by every worker and run "
    "(`20/min`, `500/h`, `3/2s`).",
    "BATON_DOC_MAX_FILE_MB": "Largest PDF the document workflow accepts (a larger one is refused by name; the "
    "others go on).",
    "BATON_DOC_MAX_TOTAL_MB": "All PDFs of one upload together (at most 50 files).",
    "BATON_CSV_MAX_MB": "Largest CSV the data-analysis workflow accepts.",
    "BATON_SANDBOX_DISK_MB": "Everything a code-review test run may have in its work dir (`/workspace`), the "
    "copied checkout included (and 256 files per MB); beyond it writes fail and the run "
    'stops with "the test run exceeded its disk limit of N MB". It is a tmpfs: memory, '
    "used only as far as it is filled.",
    "BATON_SANDBOX_TMP_MB": "Size of a test run's `/tmp` (a tmpfs, so memory), never more than the run's own "
    "memory limit; `/dev/shm` gets at most 64 MB.",
    "BATON_CONNECTOR_ALLOW": "Comma-separated hostnames (`*.corp.example` for a whole domain), addresses and CIDR "
    "ranges that publishing connectors and code-review git URLs may reach although they "
    "are not public (loopback, private networks…). Without it users reach only global "
    "addresses; cloud metadata addresses need to be listed one by one. See the operations "
    "guide, [Outbound connections](../operations.md#outbound-connections-users-can-aim).",
    "BATON_TRUSTED_PROXIES": "Comma-separated addresses and CIDR ranges of reverse proxies whose "
    "`X-Forwarded-For` / `X-Forwarded-Proto` name the visitor. Login and sign-up limits "
    "and the sessions list then see the visitor's address; a header from anyone else is "
    "ignored. Behind a proxy on another host or container, list the proxy's address "
    "(`deploy/compose.example.yml` lists the private ranges).",
    "BATON_REPLAY_WORKER_SHARE": "The largest share of the workers' slots a bulk replay keeps busy with its runs "
    "(`0.25` or `25%`); the rest stays free for new work. See the engine guide, "
    "[Rerun and replay](../engine.md).",
    "BATON_WORKER_CONCURRENCY": "The `--concurrency` your workers run with: with the live workers' count, the "
    "number of slots the replay share is of.",
    "BATON_DB_OUTAGE_MAX": "How long `baton worker` keeps restarting its worker while the database is "
    "unreachable before it exits with status 1 for its supervisor (systemd, Docker, "
    "Kubernetes) to restart it (`300`, `90s`, `5min`; 1 s to 24 h). `baton serve` never "
    "gives up: its `/healthz` answers 503 meanwhile.",
    "BATON_WAKE_HORIZON": "How long before its time a sleeping or waiting run's wake-up (and a hook's "
    "reminder) is queued as a job; until then it is only on the run's row, so suspended runs cost the "
    "job queue nothing (`300`, `90s`, `5min`; 1 s to 24 h). Each worker looks for wake-ups coming "
    "within it every tenth of it (at most every 30 s). See the engine guide, "
    "[Wake-ups](../engine.md).",
}

VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]+$")


@dataclass(frozen=True)
class Variable:
    env: str
    setting: str
    default: str
    meaning: str


def _names_in(node: ast.AST) -> tuple[set[str], set[str]]:
    """Environment variable names (string constants) and local names used in an expression."""
    strings = {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and VARIABLE.match(n.value)
    }
    return strings, {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def read_variables() -> list[tuple[str, str]]:
    """(variable, setting) in the order `load_settings` fills the settings; each variable once."""
    source = inspect.getsource(config.load_settings)
    function = ast.parse(source).body[0]
    local: dict[str, set[str]] = {}  # local name -> the variables its value was read from
    pairs: list[tuple[str, str]] = []
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            strings, _ = _names_in(node.value)
            if strings:
                local[node.targets[0].id] = strings
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Settings":
            for keyword in node.keywords:
                strings, names = _names_in(keyword.value)
                for name in sorted(names):
                    strings |= local.get(name, set())
                pairs += [(env, keyword.arg) for env in sorted(strings)]
    seen: set[str] = set()
    return [(env, setting) for env, setting in pairs if not (env in seen or seen.add(env))]


def _shown(value: object) -> str:
    if value is None or value in ((), ""):
        return "*(unset)*" if value is None else "*(none)*"
    if getattr(value, "__slots__", None) and not any(
        getattr(value, slot) for slot in value.__slots__
    ):
        return "*(none)*"  # an empty allowlist
    return f"`{value}`"


def variables() -> list[Variable]:
    defaults = config.load_settings({})
    missing = [env for env, _ in read_variables() if env not in MEANINGS]
    if missing:
        raise ValueError(
            f"app/core/config_doc.py: write what {', '.join(missing)} means in MEANINGS"
        )
    return [
        Variable(
            env,
            setting,
            SHOWN_DEFAULTS.get(env) or _shown(getattr(defaults, setting)),
            MEANINGS[env],
        )
        for env, setting in read_variables()
    ]


def render() -> str:
    rows = "\n".join(
        f"| `{v.env}` | `{v.setting}` | {v.default} | {v.meaning} |" for v in variables()
    )
    return f"""# Configuration reference

*Generated from the settings code (app/core/config.py) by
`uv run python -m app.core.config_doc > docs/admin/configuration.md`: edit the meanings in
app/core/config_doc.py, not this page.*

Everything comes from the environment and is checked at start-up: a bad value stops Baton with one
line naming the variable. Set the same values in every process of a deployment (web and workers).

| Variable | Setting | Default | Meaning |
|---|---|---|---|
{rows}
"""


if __name__ == "__main__":
    try:
        sys.stdout.write(render())
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
