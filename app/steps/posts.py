"""Posts for a publishing schedule: the model writes them, this module turns the answer into clean,
bounded posts and gives each its time slot in the user's time zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.core import runtime
from app.engine.values import StepOutput
from app.steps import model
from app.steps.publishers.schedule import MAX_POST

WRITER = (
    "You are a social media writer. Write the requested posts: plain text, each under 450 characters, "
    "engaging and concrete, at most two hashtags, no numbering, no preamble. Separate the posts with a "
    "line that contains only ---."
)
_SEPARATOR = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$", re.M)
_NUMBERED = re.compile(r"^\s*(?:post\s*)?\d{1,2}\s*[.):-]\s+", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def clean_post(text: str) -> str:
    """Plain text a connector can take: no control or direction-override characters, trimmed,
    at most MAX_POST characters (cut at a word, with an ellipsis)."""
    text = _CONTROL.sub("", text).replace("\r\n", "\n").strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    if len(text) > MAX_POST:
        text = text[: MAX_POST - 1].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"
    return text


def split_posts(answer: str, count: int) -> list[str]:
    """The model's answer as posts: split on --- lines (or, failing that, on numbered paragraphs)."""
    parts = [p for p in _SEPARATOR.split(answer) if p.strip()]
    if len(parts) < 2:
        parts = [p for p in re.split(r"\n\s*\n", answer) if p.strip()]
    posts = [clean_post(_NUMBERED.sub("", p.strip())) for p in parts]
    return [p for p in posts if p][:count]


def offline_posts(brief: str, count: int) -> list[str]:
    topic = " ".join(brief.split())[:180]
    return [
        clean_post(
            f"Offline demo post {i + 1} of {count}: a real model would write this post about “{topic}”. "
            "Connect one with OPENAI_BASE_URL."
        )
        for i in range(count)
    ]


def posts_prompt(brief: str, count: int) -> str:
    return f"Write {count} social media posts, to be published one per slot over the coming days.\n\nBrief:\n{brief}"


async def write_posts(brief: str, count: int) -> StepOutput:
    """A step body: `count` posts (fewer only if the model wrote fewer; never none)."""
    result = await model.generate(WRITER, posts_prompt(brief, count))
    if runtime.current().llm.offline:
        return StepOutput(offline_posts(brief, count), usage=result.usage)
    posts = split_posts(result.value, count)
    if not posts:
        raise RuntimeError("the model wrote no usable posts")
    return StepOutput(posts, usage=result.usage)


def parse_clock(text: str) -> time:
    found = re.fullmatch(r"\s*([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?\s*", text or "")
    if not found:
        raise ValueError("Write the time as HH:MM, e.g. 09:00.")
    return time(int(found.group(1)), int(found.group(2)), int(found.group(3) or 0))


def slot_times(
    start: date, clock: time, timezone: str, spacing_s: float, count: int
) -> list[datetime]:
    """The posts' times in UTC. Whole-day spacing keeps the wall-clock time in the user's zone
    across DST changes (09:00 stays 09:00); other spacings are exact durations."""
    zone = ZoneInfo(timezone)
    first = datetime.combine(start, clock, tzinfo=zone)
    if spacing_s % 86400 == 0:
        days = int(spacing_s // 86400)
        slots = [
            datetime.combine(start + timedelta(days=i * days), clock, tzinfo=zone)
            for i in range(count)
        ]
    else:
        slots = [first + timedelta(seconds=i * spacing_s) for i in range(count)]
    return [s.astimezone(UTC) for s in slots]


def local_label(when: datetime | str, timezone: str, *, with_date: bool = False) -> str:
    """'Tue 09:00' (or 'Tue 3 Mar, 09:00') in the user's zone; seconds only when not zero."""
    value = datetime.fromisoformat(when) if isinstance(when, str) else when
    local = value.astimezone(ZoneInfo(timezone))
    clock = "%H:%M:%S" if local.second else "%H:%M"
    return local.strftime(f"%a %-d %b, {clock}" if with_date else f"%a {clock}")
