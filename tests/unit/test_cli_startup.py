"""`baton` loads only the chosen command: account commands must not pay for the web app, the model
client or the workflow catalog, and `baton --help` lists every command without importing them."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from app.cli import COMMANDS, build_parser

HEAVY = ("openai", "litestar", "app.workflows", "app.web.auth.routes")


def loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nimport json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    modules = set(json.loads(out.splitlines()[-1]))
    return {m for m in modules for h in HEAVY if m == h or m.startswith(h + ".")}


def test_account_commands_load_no_web_app_model_client_or_workflows() -> None:
    code = (
        "from app.cli import main\n"
        "for argv in (['user', '--help'], ['teams', '--help'], ['apikey', '--help'], ['--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass"
    )
    assert loaded_after(code) == set()


def test_help_table_matches_what_each_module_registers() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    registered = {c.dest: c.help for c in sub._choices_actions}
    assert registered == {name: help_text for name, (_, help_text) in COMMANDS.items()}
