"""The named limits of the one rate limiter: their buckets and numbers, and the wait wording."""

from app.core import ratelimit
from app.core.ratelimit import RateLimit
from app.engine.values import RateLimit as AuthoringRateLimit


def test_the_authoring_rate_limit_is_the_limiter_s_own_type():
    assert AuthoringRateLimit is RateLimit


def test_login_and_signup_limits_have_their_documented_numbers():
    assert ratelimit.login_attempts_for_account("a@b.test") == RateLimit(
        "login:account:a@b.test", 5, 900
    )
    assert ratelimit.login_attempts_from_ip("10.0.0.1") == RateLimit("login:ip:10.0.0.1", 20, 900)
    assert ratelimit.signups_from_ip("10.0.0.1") == RateLimit("signup:ip:10.0.0.1", 10, 3600)


def test_tier_limits_are_per_user_and_read_their_tier_column():
    assert ratelimit.CHAT_MESSAGES.bucket(42) == "chat:42"
    assert ratelimit.API_CALLS.bucket(42) == "api:42"
    assert (ratelimit.CHAT_MESSAGES.tier_column, ratelimit.API_CALLS.tier_column) == (
        "chat_per_minute",
        "api_per_minute",
    )


def test_a_workflow_limit_cannot_share_a_bucket_with_the_web():
    # Whatever a workflow calls its limit, it counts apart from users' chat and login buckets.
    assert ratelimit.calls(RateLimit("chat:42", 3, 1.5)) == RateLimit("calls:chat:42", 3, 1.5)


def test_waits_are_described_in_seconds_then_minutes():
    assert ratelimit.describe_wait(0.2) == "1 second"
    assert ratelimit.describe_wait(41.3) == "42 seconds"
    assert ratelimit.describe_wait(90) == "90 seconds"
    assert ratelimit.describe_wait(150) == "3 minutes"
