"""The model module's pure parts: context trimming, error translation, the offline model."""

import httpx2
import openai
import pytest

from app.core.config import load_settings
from app.core.llm import LLM, OFFLINE_LABEL, estimate_tokens, model_error, trim_to_budget
from app.core.llm_offline import OfflineModel


def msg(role, text):
    return {"role": role, "content": text}


def test_trim_keeps_the_system_prompt_and_the_newest_messages_that_fit():
    system = msg("system", "be brief")
    history = [
        msg("user" if i % 2 == 0 else "assistant", f"message {i} " + "x" * 400) for i in range(20)
    ]
    kept = trim_to_budget([system, *history], budget=600)
    assert kept[0] == system
    assert kept[-1] == history[-1]
    assert kept[1:] == history[-len(kept) + 1 :]  # a contiguous run of the newest
    assert 1 < len(kept) < 21
    assert sum(estimate_tokens(m["content"]) + 4 for m in kept) <= 600


def test_trim_keeps_the_newest_message_even_when_it_alone_is_over_budget():
    huge = msg("user", "y" * 10_000)
    assert trim_to_budget([msg("system", "s"), msg("user", "old"), huge], budget=50) == [
        msg("system", "s"),
        huge,
    ]


def test_trim_with_room_for_everything_changes_nothing():
    messages = [msg("system", "s"), msg("user", "a"), msg("assistant", "b"), msg("user", "c")]
    assert trim_to_budget(messages, budget=10_000) == messages


def _status_error(cls, status, headers=None):
    request = httpx2.Request("POST", "http://model/v1/chat/completions")
    response = httpx2.Response(status, headers=headers or {}, request=request)
    return cls("boom", response=response, body=None)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_status_error(openai.AuthenticationError, 401), "auth"),
        (_status_error(openai.PermissionDeniedError, 403), "auth"),
        (_status_error(openai.InternalServerError, 500), "server"),
        (_status_error(openai.BadRequestError, 400), "bad_request"),
        (openai.APITimeoutError(request=httpx2.Request("POST", "http://m")), "timeout"),
        (openai.APIConnectionError(request=httpx2.Request("POST", "http://m")), "unreachable"),
    ],
)
def test_endpoint_errors_become_one_error_type_with_a_message_for_people(exc, kind):
    error = model_error(exc)
    assert error.kind == kind
    assert error.message and "boom" not in error.message  # no raw upstream text shown


def test_rate_limit_error_carries_the_retry_after_wait():
    error = model_error(_status_error(openai.RateLimitError, 429, {"retry-after": "7"}))
    assert (error.kind, error.retry_after) == ("rate_limited", 7.0)
    assert "7 s" in error.message


def test_offline_model_is_deterministic_and_answers_the_last_user_message():
    model = OfflineModel(delay=0)
    conversation = [msg("system", "s"), msg("user", "What is Baton?")]
    assert model.answer(conversation) == model.answer(conversation)
    assert "What is Baton?" in model.answer(conversation)
    assert "offline demo model" in model.answer([msg("user", "hello")]).lower()


async def test_offline_model_streams_word_by_word_and_is_labelled(tmp_path):
    llm = LLM.from_settings(load_settings({"BATON_DATA_DIR": str(tmp_path)}), offline_delay=0)
    assert llm.label == OFFLINE_LABEL
    async with llm.stream([msg("user", "hi there, how are you?")]) as reply:
        pieces = [piece async for piece in reply]
    assert len(pieces) > 5
    assert (
        "".join(pieces)
        == reply.completion.text
        == OfflineModel().answer([msg("user", "hi there, how are you?")])
    )
    result = await llm.complete([msg("user", "help")])
    assert result.text and result.tool_calls == () and result.tokens_out > 0
