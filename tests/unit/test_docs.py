"""Keep the docs true: every `baton …` command in a code block of the README or docs/ is accepted by
the real command-line parser; every `baton …` named in the text (with placeholders, `[--opt N]`)
names a real subcommand and only options it has; and every relative link (and its #anchor) resolves."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from app.cli import build_parser
from app.core.paths import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
COMMAND = re.compile(r"^(?:uv run )?baton\b")


def commands() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        for block in FENCE.findall(path.read_text(encoding="utf-8")):
            for line in block.splitlines():
                line = line.strip().removeprefix("$ ")
                if COMMAND.match(line):
                    found.append((str(path.relative_to(ROOT)), line))
    return found


def mentions() -> list[tuple[str, str]]:
    """`baton …` in inline code: descriptions with placeholders, checked for names, not parsed."""
    found = []
    for path in DOCS:
        text = FENCE.sub("", path.read_text(encoding="utf-8"))
        for command in re.findall(r"`((?:uv run )?baton [^`]+)`", text):
            if "…" not in command:
                found.append((str(path.relative_to(ROOT)), command))
    return found


def subcommand(words: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The parser of the (nested) subcommand the words start with, and the words after it."""
    parser = build_parser()
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or not words:
            return parser, words
        assert words[0] in subs[0].choices, (
            f"no such subcommand {words[0]!r} (has {sorted(subs[0].choices)})"
        )
        parser, words = subs[0].choices[words[0]], words[1:]


def links() -> list[tuple[Path, str]]:
    found = []
    for path in DOCS:
        text = FENCE.sub("", path.read_text(encoding="utf-8"))  # links in code are examples
        for target in LINK.findall(text):
            if not re.match(r"[a-z]+:", target) and not target.startswith("/"):
                found.append((path, target))
    return found


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(m) for m in re.findall(r"^#{1,6} +(.+?) *$", text, re.M)}


def test_the_docs_show_commands_and_links_to_check():
    # Guards the checks below against passing because the extraction found nothing.
    assert len(commands()) >= 5 and len(mentions()) >= 30 and len(links()) >= 20


@pytest.mark.parametrize(("where", "line"), commands())
def test_every_baton_command_in_the_docs_parses(where, line):
    words = shlex.split(line, comments=True)
    args = words[words.index("baton") + 1 :]
    try:
        build_parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"{where}: `{line}` is refused by the CLI parser (exit {exc.code})")


@pytest.mark.parametrize(("where", "command"), mentions())
def test_every_baton_command_named_in_the_text_exists_with_its_options(where, command):
    words = command.replace("\\|", "|").split()
    parser, rest = subcommand(words[words.index("baton") + 1 :])
    known = {option for action in parser._actions for option in action.option_strings}
    for word in rest:
        option = word.strip("[]").split("=")[0]
        if option.startswith("--"):
            assert option in known, (
                f"{where}: `{command}`: {option} is not an option of it (has {sorted(known)})"
            )


@pytest.mark.parametrize(
    ("path", "target"),
    links(),
    ids=lambda v: str(v.relative_to(ROOT)) if isinstance(v, Path) else v,
)
def test_every_relative_link_in_the_docs_resolves(path, target):
    file, _, anchor = target.partition("#")
    resolved = (path.parent / file).resolve() if file else path
    assert resolved.exists(), f"{path.relative_to(ROOT)}: link to {target} points to nothing"
    if anchor and resolved.suffix == ".md":
        assert anchor in anchors(resolved), (
            f"{path.relative_to(ROOT)}: {target}: no heading with that anchor"
        )


def test_every_picture_in_the_docs_exists():
    pictures = [
        (path, target)
        for path in DOCS
        for target in re.findall(
            r"!\[[^\]]*\]\(([^)\s]+)\)", FENCE.sub("", path.read_text(encoding="utf-8"))
        )
    ]
    assert pictures, "the README shows a screenshot"
    for path, target in pictures:
        assert (path.parent / target).resolve().is_file(), (
            f"{path.relative_to(ROOT)}: picture {target} is missing"
        )


def test_every_uv_run_script_module_and_test_path_the_docs_name_exists():
    """`uv run python -m M`, `uv run python FILE.py` and `uv run pytest PATH` name what the repository has."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in DOCS)
    modules = set(re.findall(r"uv run python -m ([A-Za-z0-9_.]+)", text))
    files = set(re.findall(r"uv run (?:python|pytest) ([A-Za-z0-9_/.-]+\.py)", text))
    assert modules and files
    for module in modules:
        path = ROOT / (module.replace(".", "/") + ".py")
        assert path.is_file() and 'if __name__ == "__main__":' in path.read_text(
            encoding="utf-8"
        ), module
    for file in files:
        assert (ROOT / file).is_file(), file
