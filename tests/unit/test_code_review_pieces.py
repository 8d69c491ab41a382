"""Pure pieces of the code review: comments anchored to lines the diff touches, refs and sources
checked before they reach git, the test command detected from the checkout."""

from __future__ import annotations

import json

import pytest

from app.steps.code_review import changed_lines, clean_comments
from app.steps.git import SourceRefused, check_ref, check_source, detect_test_command

DIFF = """diff --git a/calc.js b/calc.js
--- a/calc.js
+++ b/calc.js
@@ -1,1 +1,2 @@
 module.exports.add = (a, b) => a + b;
+module.exports.mul = (a, b) => a + b;
diff --git a/old.txt b/old.txt
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-gone
"""


def test_comments_are_anchored_to_changed_lines_and_cleaned():
    assert changed_lines(DIFF) == {"calc.js": {1, 2}}
    answer = (
        "```json\n"
        + json.dumps(
            [
                {
                    "file": "b/calc.js",
                    "line": 40,
                    "severity": "blocker",
                    "comment": "far away\x1b[31m",
                },
                {"file": "old.txt", "line": 1, "comment": "deleted file"},
                {"file": "calc.js", "line": "2", "comment": "not a number"},
                {"file": "calc.js", "line": 2, "severity": "nit", "comment": ""},
                "junk",
            ]
        )
        + "\n```"
    )
    assert clean_comments(answer, DIFF) == [
        {"file": "calc.js", "line": 2, "severity": "suggestion", "comment": "far away[31m"}
    ]
    assert clean_comments("not json at all", DIFF) == []


@pytest.mark.parametrize(
    "ref", ["--upload-pack=evil", "a..b", "x y", "", "refs/heads/x.lock", "a" * 201]
)
def test_bad_refs_are_refused(ref):
    with pytest.raises(SourceRefused):
        check_ref(ref)


def test_good_refs_and_sources(tmp_path, monkeypatch):
    assert check_ref("feature/x-1") == "feature/x-1" and check_ref("HEAD~2") == "HEAD~2"
    assert check_source("https://example.com/r.git") == ("https://example.com/r.git", False)
    for bad in (
        "ext::sh -c touch% /tmp/x",
        "-oProxyCommand=x",
        "relative/path",
        "file:///etc",
        "git@example.com:team/r.git",
        "ssh://git@example.com/r.git",
        "git://example.com/r.git",
        "https:///no-host",
        "http://example.com:99999/r.git",
    ):
        with pytest.raises(SourceRefused):
            check_source(bad)
    monkeypatch.delenv("BATON_REPO_ROOTS", raising=False)
    with pytest.raises(SourceRefused, match="not enabled"):
        check_source(str(tmp_path))
    monkeypatch.setenv("BATON_REPO_ROOTS", str(tmp_path))
    assert check_source(str(tmp_path)) == (str(tmp_path), True)
    with pytest.raises(SourceRefused, match="outside"):
        check_source(str(tmp_path.parent))
    with pytest.raises(SourceRefused, match="outside"):
        check_source(str(tmp_path / ".." / "elsewhere"))


def test_the_test_command_is_detected(tmp_path):
    assert detect_test_command(tmp_path) is None
    (tmp_path / "test_x.py").write_text("")
    assert detect_test_command(tmp_path) == "pytest"
    (tmp_path / "package.json").write_text("{}")
    assert detect_test_command(tmp_path) == "npm test"
    (tmp_path / "go.mod").write_text("module x")
    assert detect_test_command(tmp_path) == "go test ./..."
