"""The floors hold: app/core imports nothing above it; app/engine only core; app/steps and
app/workflows never the web or the CLI; the web never the CLI; and no area of app/web imports
another area except the shared ones (runs, auth, live) and the modules directly under app/web.

Imports are read from the source (every `import app.x` / `from app.x import`, also inside
functions), so a new sideways import fails here before anyone notices it in review."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_WEB_AREAS = {"runs", "auth", "live"}
# What each floor may import from app/ (a floor always may import itself).
ALLOWED = {
    "core": {"core"},
    "engine": {"core", "engine"},
    "steps": {"core", "engine", "steps"},
    "workflows": {"core", "engine", "steps", "workflows"},
    "templates": {"core", "engine", "steps", "workflows", "templates", "spaces"},
    "schedules": {"core", "engine", "steps", "workflows", "templates", "schedules", "spaces"},
    "spaces": {"core", "spaces"},
    "triggers": {"core", "engine", "templates", "triggers", "spaces"},
    "web": {
        "core",
        "engine",
        "steps",
        "workflows",
        "templates",
        "schedules",
        "triggers",
        "spaces",
        "web",
    },
    "cli": {
        "core",
        "engine",
        "steps",
        "workflows",
        "templates",
        "schedules",
        "triggers",
        "spaces",
        "web",
        "cli",
    },
}


def imported_modules(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            if node.module in (
                "app",
                "app.web",
            ):  # `from app.web import chat` imports the area chat
                found += [f"{node.module}.{alias.name}" for alias in node.names]
    return [m for m in found if m == "app" or m.startswith("app.")]


def violations(root: Path) -> list[str]:
    """Every import in root/app that breaks the layering, as 'path -> module'."""
    app = root / "app"
    web_areas = (
        {p.name for p in (app / "web").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
        if (app / "web").is_dir()
        else set()
    )
    bad = []
    for path in sorted(app.rglob("*.py")):
        parts = path.relative_to(app).parts
        floor = parts[0] if len(parts) > 1 else None
        if floor is None:
            continue
        for module in imported_modules(path.read_text()):
            target = module.split(".")
            if len(target) < 2:
                continue
            upward = floor in ALLOWED and target[1] in ALLOWED and target[1] not in ALLOWED[floor]
            sideways = (
                floor == "web"
                and len(parts) > 2
                and target[1] == "web"
                and len(target) > 2
                and target[2] in web_areas
                and target[2] != parts[1]
                and target[2] not in SHARED_WEB_AREAS
            )
            if upward or sideways:
                bad.append(f"{path.relative_to(root)} -> {module}")
    return sorted(set(bad))


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_layering_holds():
    assert violations(ROOT) == []


def test_the_check_catches_each_kind_of_violation(tmp_path):
    root = _tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/core/db.py": "from app.engine import commands\n",
            "app/engine/commands.py": "import app.steps.model\n",
            "app/steps/model.py": "def f():\n    from app.web.htmx import is_htmx\n",
            "app/workflows/content.py": "from app.cli import main\n",
            "app/web/__init__.py": "",
            "app/web/htmx.py": "",
            "app/web/runs/__init__.py": "",
            "app/web/runs/cards.py": "from app.cli.runs_cmd import run_view\n",
            "app/web/chat/__init__.py": "",
            "app/web/chat/store.py": "",
            "app/web/uploads/__init__.py": "",
            "app/web/uploads/routes.py": "from app.web.chat.store import NotFound\nfrom app.web import chat\n",
        },
    )
    assert violations(root) == [
        "app/core/db.py -> app.engine",
        "app/engine/commands.py -> app.steps.model",
        "app/steps/model.py -> app.web.htmx",
        "app/web/runs/cards.py -> app.cli.runs_cmd",
        "app/web/uploads/routes.py -> app.web.chat",
        "app/web/uploads/routes.py -> app.web.chat.store",
        "app/workflows/content.py -> app.cli",
    ]


def test_the_check_allows_shared_areas_helpers_and_downward_imports(tmp_path):
    root = _tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/core/db.py": "from app.core import config\n",
            "app/engine/commands.py": "from app.core.db import open_pool\n",
            "app/workflows/content.py": "from app.steps import model\nfrom app.engine.run import Run\n",
            "app/web/__init__.py": "",
            "app/web/htmx.py": "",
            "app/web/app.py": "from app.web import chat, uploads\n",  # the app puts the areas together
            "app/web/runs/__init__.py": "",
            "app/web/auth/__init__.py": "",
            "app/web/live/__init__.py": "",
            "app/web/chat/__init__.py": "",
            "app/web/chat/routes.py": (
                "from app.web.runs.start import start_run\nfrom app.web.auth import requires_login\n"
                "from app.web.live import LiveHub\nfrom app.web.htmx import navigate\n"
                "from app.web.chat import store\nfrom app.workflows import content\n"
            ),
            "app/cli/runs_cmd.py": "from app.web.api.schemas import run_view\n",
        },
    )
    assert violations(root) == []
