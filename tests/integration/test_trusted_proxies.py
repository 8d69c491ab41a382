"""Behind a reverse proxy, login limits count the visitor named in X-Forwarded-For — but only when
the proxy is one the operator trusts (BATON_TRUSTED_PROXIES); anyone else's header is ignored."""

from __future__ import annotations

import secrets

import httpx
import pytest

from app.core.config import ConfigError, load_settings
from app.core.ratelimit import LOGIN_PER_IP
from tests.integration.baton_process import baton_serve, scratch_dir
from tests.support.fixtures import forget_ip_limits
from tests.support.web import csrf_of, new_email


def failed_login(url: str, forwarded_for: str) -> int:
    with httpx.Client(base_url=url, timeout=10) as client:
        page = client.get("/login")
        response = client.post(
            "/login",
            headers={"X-Forwarded-For": forwarded_for},
            data={"email": new_email(), "password": "not it", "_csrf_token": csrf_of(page.text)},
        )
        return response.status_code


def visitor() -> str:
    return f"203.0.113.{secrets.randbelow(250) + 1}, 198.51.100.{secrets.randbelow(250) + 1}"


def exhaust(url: str, forwarded_for: str) -> None:
    for _ in range(LOGIN_PER_IP):
        assert failed_login(url, forwarded_for) == 422
    assert failed_login(url, forwarded_for) == 429


@pytest.mark.parametrize("trusted", [True, False])
def test_login_limits_follow_the_forwarded_visitor_only_from_a_trusted_proxy(database_url, trusted):
    # The test connects from 127.0.0.1: trusted as the proxy, or not (only 10.9.9.9 is).
    proxies = "127.0.0.1" if trusted else "10.9.9.9"
    with (
        scratch_dir() as workdir,
        baton_serve(
            workdir,
            "--no-worker",
            BATON_DATA_DIR=str(workdir / "data"),
            DATABASE_URL=database_url,
            BATON_TRUSTED_PROXIES=proxies,
        ) as server,
    ):
        exhaust(server.url, visitor())
        # Another visitor through the same proxy: its own count when the proxy is trusted; the
        # proxy's (spent) count when it is not, since the header proves nothing then.
        try:
            assert failed_login(server.url, visitor()) == (422 if trusted else 429)
        finally:
            forget_ip_limits(database_url)  # 127.0.0.1's spent count must not reach other tests


def test_a_malformed_trusted_proxy_is_a_clear_configuration_error():
    with pytest.raises(
        ConfigError, match="BATON_TRUSTED_PROXIES: 'proxy.local' is not an IP address"
    ):
        load_settings({"BATON_TRUSTED_PROXIES": "10.0.0.5, proxy.local"})
    assert (
        load_settings({"BATON_TRUSTED_PROXIES": " 10.0.0.5 , 172.18.0.0/16"}).trusted_proxies
        == "10.0.0.5,172.18.0.0/16"
    )
    assert load_settings({}).trusted_proxies == "127.0.0.1"
