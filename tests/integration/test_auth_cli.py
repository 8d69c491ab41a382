"""`baton user create` and `baton user set-tier`, run as the real command."""

import psycopg

from tests.integration.baton_process import run_baton
from tests.support.web import new_email


def users(url):
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT email, tier, is_admin, password_hash IS NOT NULL FROM users ORDER BY id"
        ).fetchall()


def test_user_commands_create_accounts_and_change_tiers(tmp_path, fresh_database):
    url = fresh_database()
    env = {
        "DATABASE_URL": url,
        "BATON_DATA_DIR": str(tmp_path / "data"),
        "BATON_DEFAULT_TIER": "pro",
    }
    first, second, third = new_email("first"), new_email("second"), new_email("third")

    made = run_baton(
        "user", "create", first.upper(), "--password", "a long password", cwd=tmp_path, **env
    )
    assert made.returncode == 0, made.stderr
    assert "admin, tier enterprise" in made.stdout  # the first account of an install
    assert (
        run_baton(
            "user", "create", second, "--password", "a long password", cwd=tmp_path, **env
        ).returncode
        == 0
    )
    assert (
        run_baton(
            "user",
            "create",
            third,
            "--password",
            "a long password",
            "--tier",
            "premium",
            "--admin",
            cwd=tmp_path,
            **env,
        ).returncode
        == 0
    )
    assert users(url) == [
        (first, "enterprise", True, True),
        (second, "pro", False, True),
        (third, "premium", True, True),
    ]

    moved = run_baton("user", "set-tier", second, "free", cwd=tmp_path, **env)
    assert moved.returncode == 0 and users(url)[1][1] == "free"

    duplicate = run_baton(
        "user", "create", second, "--password", "a long password", cwd=tmp_path, **env
    )
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    short = run_baton("user", "create", new_email(), "--password", "short", cwd=tmp_path, **env)
    assert short.returncode == 1 and "at least 8" in short.stderr
    unknown = run_baton("user", "set-tier", "nobody@example.com", "pro", cwd=tmp_path, **env)
    assert unknown.returncode == 1 and "no account" in unknown.stderr
    assert len(users(url)) == 3
