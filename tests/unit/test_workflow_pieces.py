"""The small pure pieces: durations, generated forms, decision parsing, the live channel's event
names, what the model's proposals may contain, the offline model's trigger."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.core.llm import Completion, ToolCall
from app.core.llm_offline import OfflineModel
from app.web.approvals.decide import parse_decision
from app.web.chat.proposals import proposal_from, proposal_tools
from app.web.notifications.live import names_for
from app.web.runs.forms import field_errors, form_fields, form_input
from app.workflows.content import ContentInput, format_document, title_from
from app.workflows.inputs import duration_seconds
from app.workflows.research import ResearchInput


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("4h", 14400),
        ("2d", 172800),
        ("1.5 hours", 5400),
        (" 24h ", 86400),
    ],
)
def test_durations(text, seconds):
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "4", "h4", "-1h"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        duration_seconds(text)


def test_content_input_limits():
    with pytest.raises(ValueError):
        ContentInput(prompt="x" * 10, review_timeout="31d")
    ok = ContentInput(prompt="  A report  ", title="  ", reviewer_email="  ")
    assert ok.prompt == "A report" and ok.title is None and ok.reviewer_email is None
    assert title_from("word " * 40).endswith("…") and len(title_from("word " * 40)) <= 81
    assert (
        format_document("T", "Body\n", "1 May 2026")
        == "# T\n\nBody\n\n---\n\n*Generated with AI assistance · 1 May 2026*\n"
    )


def test_generated_form_fields_follow_the_input_model():
    fields = {f.name: f for f in form_fields(ResearchInput)}
    assert (
        fields["topic"].widget == "textarea"
        and fields["topic"].required
        and not fields["topic"].advanced
    )
    assert fields["audience"].widget == "text" and not fields["audience"].required
    assert fields["max_iterations"].widget == "number" and fields["max_iterations"].value == "3"
    assert fields["max_iterations"].attrs == {"step": "1", "min": 0, "max": 10}
    assert fields["review_timeout"].advanced and fields["review_timeout"].value == "24h"
    data = form_input(
        ResearchInput, {"topic": " Bees ", "audience": "", "max_iterations": "2", "evil": "x"}
    )
    assert data == {"topic": "Bees", "max_iterations": "2"}
    assert field_errors(
        [
            {"field": "topic", "message": "Field required"},
            {"field": "review_timeout", "message": "Value error, Write a duration"},
        ]
    ) == {"topic": "This field is required.", "review_timeout": "Write a duration"}


# What parse_decision reads of a hook (a ReviewHook on the approvals pages): its actions and `show`.
HOOK = SimpleNamespace(
    actions=["approve", "revise", "reject"],
    show={"feedback_for": ["revise"], "edit": {"name": "sources", "lines": ["a"]}},
)


def test_decisions_are_checked_against_the_hook():
    assert parse_decision(HOOK, {"action": "drop"}).errors == {"form": "Choose one of the buttons."}
    assert "feedback" in parse_decision(HOOK, {"action": "revise", "sources": "a"}).errors
    approved = parse_decision(
        HOOK, {"action": "approve", "sources": " one \n\n two ", "feedback": ""}
    )
    assert approved.action == "approve" and approved.data == {"sources": ["one", "two"]}
    assert parse_decision(HOOK, {"action": "approve", "sources": "  "}).errors == {
        "sources": "Keep at least one line."
    }
    assert (
        parse_decision(HOOK, {"action": "approve", "sources": "x\n" * 21}).errors["sources"]
        == "At most 20 lines."
    )
    assert parse_decision(HOOK, {"action": "reject"}).data == {}  # rejecting needs no list
    assert (
        parse_decision(HOOK, {"action": "revise", "feedback": "y" * 4001, "sources": "a"})
        .errors["feedback"]
        .startswith("Too long")
    )


def test_live_event_names():
    assert names_for({"kind": "run.step_completed", "run_id": "r1"}) == ["run-r1", "runs"]
    assert names_for({"kind": "run.hook_waiting", "run_id": "r1"}) == [
        "run-r1",
        "runs",
        "approvals",
    ]
    assert names_for({"kind": "notification.new"}) == ["notifications"]
    assert names_for({"kind": "live.reconnected"}) == ["resync"]
    assert names_for({"kind": "replay.progress", "replay_id": 7}) == ["replay-7"]
    assert names_for({"kind": "chat.progress"}) == []


def _call(args) -> Completion:
    return Completion("", (ToolCall("c1", "propose_workflow", args),))


def test_only_valid_proposals_are_kept():
    kept = proposal_from(
        _call('{"workflow": "multi-agent", "input": {"topic": "Bees"}, "reason": "Research."}')
    )
    assert (
        kept["workflow"] == "multi-agent"
        and kept["status"] == "pending"
        and kept["input"]["max_iterations"] == 3
    )
    for bad in (
        '{"workflow": "selftest", "input": {}}',
        '{"workflow": "nope", "input": {}}',
        "not json",
        '{"workflow": "multi-agent", "input": {"topic": ""}}',
        '{"workflow": "multi-agent", "input": "Bees"}',
    ):
        assert proposal_from(_call(bad)) is None
    assert proposal_from(None) is None
    [tool] = proposal_tools()
    assert (
        tool["function"]["name"] == "propose_workflow"
        and "prompt" in tool["function"]["description"]
    )


def test_the_offline_model_proposes_only_on_a_clear_request_and_only_with_the_tool():
    offline, tools = OfflineModel(delay=0), proposal_tools()
    ask = [{"role": "user", "content": "Can you write a reviewed report on heat pumps?"}]
    assert offline.proposal(ask, tools).name == "propose_workflow"
    assert offline.proposal(ask, None) is None
    assert offline.proposal([{"role": "user", "content": "A report on heat pumps"}], tools) is None
    team = offline.proposal(
        [{"role": "user", "content": "Get the research team on heat pumps"}], tools
    )
    assert '"multi-agent"' in team.arguments


def test_phases_split_the_overall_progress_by_weight():
    import pytest

    from app.engine.progress import Phases, overall_percent

    phases = Phases(("extract", 1), ("summarise", 3))
    assert phases.span("extract") == (0.0, 0.25) and phases.span("summarise") == (0.25, 1.0)
    assert overall_percent(20, 50, phases.span("summarise")) == 55.0  # 25 % + 40 % of 75 %
    assert overall_percent(1, 4) == 25.0
    with pytest.raises(KeyError):
        phases.span("nothing")
