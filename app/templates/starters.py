"""The gallery's starter templates: every `*.json` in app/templates/starters/ (shipped) and in
`<BATON_DATA_DIR>/starters/` (a deployment's own), loaded at start-up and by `baton migrate`. Loading is
idempotent: a starter is created once, gets a new version when its file changes, and is left alone
otherwise; its slug is the file name. A file that does not validate is skipped with a log line naming
each problem (one bad file never stops the server)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from psycopg import AsyncConnection

from app.templates import store

SHIPPED = Path(__file__).with_name("starters")
log = logging.getLogger("baton.templates")


def starter_files(extra_dir: Path | None = None) -> list[Path]:
    """Shipped files, then the deployment's (which replace a shipped one of the same name)."""
    found = {p.stem: p for p in sorted(SHIPPED.glob("*.json"))}
    if extra_dir is not None and extra_dir.is_dir():
        found.update({p.stem: p for p in sorted(extra_dir.glob("*.json"))})
    return list(found.values())


async def load_starters(conn: AsyncConnection, extra_dir: Path | None = None) -> dict[str, str]:
    """Each starter's slug → created / updated / unchanged / invalid."""
    outcome = {}
    for path in starter_files(extra_dir):
        slug = path.stem
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if not store.SLUG.match(slug):
                raise store.TemplateInvalid(
                    [store.Problem("(file name)", "use a-z, 0-9 and - for the slug")]
                )
            outcome[slug] = await store.put_starter(conn, slug=slug, document=document)
        except (OSError, ValueError, store.TemplateInvalid) as exc:
            problems = exc.problems if isinstance(exc, store.TemplateInvalid) else [str(exc)]
            log.warning(
                "templates.starter_invalid",
                extra={"file": str(path), "problems": [str(p) for p in problems]},
            )
            outcome[slug] = "invalid"
    return outcome
