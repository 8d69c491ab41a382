"""Where the project's non-Python files live (the repository root, next to `app/`)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = ROOT / "sql"
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"
