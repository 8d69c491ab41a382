"""Pure pieces of publishing: the model's answer as posts, time slots in the user's zone across a
DST change, the engagement analysis, and secrets at rest."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from app.core.secrets_box import SecretBox, SecretUnreadable
from app.steps.posts import clean_post, local_label, parse_clock, slot_times, split_posts
from app.steps.publishers.report import analyse
from app.steps.publishers.schedule import MAX_POST


def test_posts_are_split_cleaned_and_bounded():
    answer = "1. First post\n---\n2) Second\u202e post\x07\n---\n\n---\n" + "word " * 300
    posts = split_posts(answer, 7)
    assert posts[:2] == ["First post", "Second post"]
    assert len(posts) == 3 and len(posts[2]) <= MAX_POST and posts[2].endswith("…")
    assert split_posts("One\n\nTwo\n\nThree", 2) == ["One", "Two"]  # no separators: paragraphs
    assert clean_post("  \x00 ") == ""


def test_daily_slots_keep_the_wall_clock_time_across_a_dst_change():
    slots = slot_times(
        date(2026, 3, 27), time(9, 0), "Europe/Paris", 86400, 3
    )  # DST starts 29 March
    assert [s.astimezone(UTC).hour for s in slots] == [8, 8, 7]
    assert [local_label(s, "Europe/Paris") for s in slots] == [
        "Fri 09:00",
        "Sat 09:00",
        "Sun 09:00",
    ]
    exact = slot_times(date(2026, 1, 1), time(23, 0, 30), "UTC", 90, 2)
    assert (exact[1] - exact[0]).total_seconds() == 90 and local_label(
        exact[0], "UTC"
    ) == "Thu 23:00:30"
    with pytest.raises(ValueError):
        parse_clock("25:00")


def test_the_analysis_totals_the_published_posts_and_finds_the_best():
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    base = {"publish_at": at, "published_at": at, "remote_url": None, "error": None}
    posts = [
        base
        | {
            "number": 1,
            "body": "a",
            "status": "published",
            "metrics": {"likes": 3, "shares": 1, "replies": 0, "reported": True},
        },
        base
        | {
            "number": 2,
            "body": "b",
            "status": "published",
            "metrics": {"likes": 9, "shares": 0, "replies": 2, "reported": True},
        },
        base | {"number": 3, "body": "c", "status": "cancelled", "metrics": None},
    ]
    data = analyse(posts, "Europe/Paris")
    assert data["totals"] == {
        "published": 2,
        "skipped": 0,
        "cancelled": 1,
        "likes": 12,
        "shares": 1,
        "replies": 2,
        "total": 15,
    }
    assert data["best"]["number"] == 2 and data["days"] == [
        {"day": "Mon 2 Mar", "posts": 2, "total": 15, "width": 100}
    ]


def test_secrets_are_encrypted_authenticated_and_bound_to_the_app_key():
    box = SecretBox("the-app-secret-key-123")
    stored = box.encrypt("token")
    assert "token" not in stored and box.decrypt(stored) == "token"
    with pytest.raises(SecretUnreadable):
        SecretBox("another-app-secret-key").decrypt(stored)
    with pytest.raises(SecretUnreadable):
        box.decrypt(stored[:-4] + "AAAA")
    assert (
        box.derived_secret("a")
        == SecretBox("the-app-secret-key-123").derived_secret("a")
        != box.derived_secret("b")
    )


async def test_connectors_may_not_reach_link_local_addresses():
    from app.engine.errors import FatalError
    from app.steps.publishers.clients import publish
    from app.steps.publishers.connectors import Connector

    metadata = Connector(1, "webhook", "x", "http://169.254.169.254/latest/meta-data/", "secret")
    with pytest.raises(FatalError, match="may not reach"):
        await publish(
            metadata,
            {"id": 1, "body": "b", "publish_at": "2026-01-01T00:00:00+00:00"},
            idempotency_key="k",
            run_id="r",
        )
