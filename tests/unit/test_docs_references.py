"""The docs generated from the code, or quoting it, still match it: the configuration reference
(app/core/config_doc.py), the API reference (app/web/api/reference.py), the worked example of
docs/dev/testing-workflows.md (a test file shown verbatim), and the messages the troubleshooting
pages quote. Each failure says how to bring the page back in line."""

from __future__ import annotations

import ast
import re

from app.core import config_doc
from app.core.paths import ROOT
from app.web.api import reference

CONFIG_PAGE = ROOT / "docs/admin/configuration.md"
API_PAGE = ROOT / "docs/dev/api-reference.md"
EXAMPLE_PAGE = ROOT / "docs/dev/testing-workflows.md"
EXAMPLE_TEST = ROOT / "tests/integration/workflows/test_worked_example.py"
TROUBLESHOOTING = [ROOT / "docs/user/troubleshooting.md", ROOT / "docs/admin/troubleshooting.md"]


def read(path) -> str:
    return path.read_text(encoding="utf-8")


def test_the_configuration_reference_is_the_one_the_settings_code_generates():
    assert read(CONFIG_PAGE) == config_doc.render(), (
        "docs/admin/configuration.md is stale: uv run python -m app.core.config_doc > docs/admin/configuration.md"
    )


def test_the_configuration_reference_names_every_variable_the_settings_read_and_no_other():
    read_by_settings = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', read(ROOT / "app/core/config.py")))
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", read(CONFIG_PAGE), re.M))
    assert len(read_by_settings) >= 20
    assert documented == read_by_settings
    # The README's short table names only real ones.
    in_readme = set(
        re.findall(
            r"`([A-Z][A-Z0-9_]+)`",
            read(ROOT / "README.md").split("## Configuration", 1)[1].split("\n## ", 1)[0],
        )
    )
    assert in_readme and in_readme <= read_by_settings


def test_the_api_reference_is_the_one_the_openapi_document_generates():
    doc = reference.openapi_document()
    page = read(API_PAGE)
    assert page == reference.render(doc), (
        "docs/dev/api-reference.md is stale: uv run python -m app.web.api.reference > docs/dev/api-reference.md"
    )
    for path, item in doc["paths"].items():
        for method in item:
            assert f"`{method.upper()} {path}`" in page


def test_the_worked_example_on_the_testing_page_is_the_test_file_in_the_suite():
    after = read(EXAMPLE_PAGE).split("## A worked example", 1)[1]
    shown = re.search(r"^```python\n(.*?)^```", after, re.M | re.S).group(1)
    assert shown == read(EXAMPLE_TEST), (
        "docs/dev/testing-workflows.md shows another version of tests/integration/workflows/test_worked_example.py: "
        "paste the file into the page's python block"
    )


def literals() -> list[str]:
    """Every string the code can print: Python string literals (an f-string's fields as \\0) and
    the text of the templates."""
    found = []
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "worker").rglob("*.py")]:
        for node in ast.walk(ast.parse(read(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append(node.value)
            elif isinstance(node, ast.JoinedStr):
                found.append(
                    "".join(v.value if isinstance(v, ast.Constant) else "\0" for v in node.values)
                )
    found += [read(path) for path in (ROOT / "templates").rglob("*.html")]
    return found


def quoted_messages(path) -> list[str]:
    """The "…" quotes of the page's table rows, outside `code`."""
    rows = [line for line in read(path).splitlines() if line.startswith("|")]
    return [q for row in rows for q in re.findall(r'"([^"]+)"', re.sub(r"`[^`]*`", "", row))]


def test_every_message_the_troubleshooting_pages_quote_is_printed_by_the_code():
    code = literals()
    for page in TROUBLESHOOTING:
        messages = quoted_messages(page)
        assert len(messages) >= 8, page
        for message in messages:
            # `…` stands for what changes (a number, a name): each fixed part is in one literal.
            parts = [p for p in (part.strip() for part in message.split("…")) if len(p) >= 3]
            assert parts, message
            assert any(all(p in text for p in parts) for text in code), (
                f"{page.relative_to(ROOT)} quotes {message!r}, which no string in app/, worker/ or templates/ says"
            )


def test_every_help_link_of_the_app_opens_a_page_of_the_guides():
    """The "?" links and fix-it links of templates and code name a page of docs/user or docs/admin."""
    sources = [*(ROOT / "templates").rglob("*.html"), *(ROOT / "app").rglob("*.py")]
    links = {
        (m[1] or "user", m[2])
        for path in sources
        for m in re.finditer(r"""["']/help/(?:(admin)/)?([a-z0-9-]+)""", read(path))
        if not (m[1] is None and m[2] == "admin")
    }
    assert len(links) >= 8
    for book, slug in sorted(links):
        assert (ROOT / "docs" / book / f"{slug}.md").exists(), (
            f"a link to /help/{book}/{slug}: no such page"
        )
