"""`baton teams create|add|remove|list`, run as the real command: the contract of docs/teams.md
(the slug printed, exit 2 for an unknown account or team, no account ever created)."""

from __future__ import annotations

import json

import psycopg

from tests.integration.baton_process import run_baton
from tests.support.web import new_email


def make_account(url: str, email: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (email, tier) VALUES (%s, 'pro')", (email,))


def count_users(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM users").fetchone()[0]


def test_teams_commands_follow_the_cli_contract(tmp_path, database_url):
    env = {"DATABASE_URL": database_url, "BATON_DATA_DIR": str(tmp_path / "data")}
    owner, colleague = new_email("owner"), new_email("colleague")
    make_account(database_url, owner)
    make_account(database_url, colleague)

    def baton(*args):
        return run_baton("teams", *args, cwd=tmp_path, **env)

    made = baton("create", "CLI Team Ops", "--owner", owner.upper())
    assert made.returncode == 0, made.stderr
    slug = made.stdout.strip()
    assert slug.startswith("cli-team-ops")
    assert baton("add", slug, colleague, "--role", "viewer").returncode == 0

    listed = baton("list", "--json")
    assert listed.returncode == 0, listed.stderr
    [team] = [t for t in json.loads(listed.stdout) if t["slug"] == slug]
    assert team["name"] == "CLI Team Ops" and team["tier"] == "pro"
    assert team["members"] == [
        {"email": owner, "role": "owner"},
        {"email": colleague, "role": "viewer"},
    ]
    plain = baton("list")
    assert f"{slug}\tCLI Team Ops" in plain.stdout and f"{colleague} (viewer)" in plain.stdout

    users_before = count_users(database_url)
    nobody = baton("add", slug, new_email("nobody"), "--role", "member")
    assert nobody.returncode == 2 and "no account" in nobody.stderr
    assert count_users(database_url) == users_before  # no account created
    assert baton("add", "no-such-team", colleague, "--role", "member").returncode == 2
    assert baton("add", slug, colleague, "--role", "member").returncode == 2  # already in
    bad_role = baton("add", slug, colleague, "--role", "owner")
    assert bad_role.returncode == 2  # argparse: not one of admin|member|viewer
    no_owner = baton("create", "Orphan", "--owner", new_email("ghost"))
    assert no_owner.returncode == 2 and "no account" in no_owner.stderr

    assert baton("remove", slug, colleague).returncode == 0
    assert baton("remove", slug, colleague).returncode == 2  # not a member any more
    last = baton("remove", slug, owner)
    assert last.returncode == 1 and "only owner" in last.stderr
    [team] = [t for t in json.loads(baton("list", "--json").stdout) if t["slug"] == slug]
    assert team["members"] == [{"email": owner, "role": "owner"}]

    with psycopg.connect(database_url) as conn:
        actions = [
            r[0]
            for r in conn.execute(
                "SELECT a.action FROM audit_log a JOIN spaces s ON s.id = a.space_id "
                "WHERE s.slug = %s ORDER BY a.id",
                (slug,),
            )
        ]
    assert actions == ["team.change", "member.add", "member.remove"]
