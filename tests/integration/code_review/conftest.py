"""Fixtures for the code-review tests: a real git repository made with `git`, a scripted reviewer,
and the worker's runtime (settings with the test secret key, the scripted model)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.fixtures import model_runtime
from tests.support.model_server import Reply

PACKAGE = {"name": "calc", "version": "1.0.0", "private": True, "scripts": {"test": "node test.js"}}
ADD = "module.exports.add = (a, b) => a + b;\n"
TEST = """const calc = require('./calc.js');
function check(name, got, want) {
  if (got !== want) { console.error(`FAIL ${name}: got ${got}, want ${want}`); process.exitCode = 1; }
  else { console.log(`ok ${name}`); }
}
check('add', calc.add(2, 3), 5);
if (calc.mul) check('mul', calc.mul(2, 3), 6);
"""
BUGGY = ADD + "module.exports.mul = (a, b) => a + b;\n"
FIXED = ADD + "module.exports.mul = (a, b) => a * b;\n"


def review_reply(request):
    system = (request.body or {}).get("messages", [{}])[0].get("content", "")
    if "senior code reviewer" in system:
        return Reply(
            json.dumps(
                [
                    {
                        "file": "calc.js",
                        "line": 2,
                        "severity": "issue",
                        "comment": "mul adds instead of multiplying <b>!</b>",
                    },
                    {
                        "file": "nowhere.js",
                        "line": 1,
                        "severity": "nit",
                        "comment": "not in the diff: dropped",
                    },
                ]
            )
        )
    return Reply("Echo")


@pytest.fixture
def reviewer(model):
    model.handler = review_reply
    return model


@pytest.fixture(autouse=True)
async def worker_runtime(model_settings):
    async with model_runtime(model_settings) as installed:
        yield installed


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def commit(repo: Path, message: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def calc_repo(tmp_path, monkeypatch) -> Path:
    """main: add() with its test; branch `feature`: a buggy mul() whose test fails."""
    root = tmp_path / "repos"
    repo = root / "calc"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "add", {"package.json": json.dumps(PACKAGE), "calc.js": ADD, "test.js": TEST})
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, "mul", {"calc.js": BUGGY})
    monkeypatch.setenv("BATON_REPO_ROOTS", str(root))
    return repo
