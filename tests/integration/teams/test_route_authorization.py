"""Every route of the app, walked as the people who must not reach team A's things (docs/teams.md,
"Roles"; issue #20, "Authorization"):

- an **outsider** (the owner of another team B, working in it, with B's API key),
- a **removed member** of team A (their session still points at A, their key was made in A),
- a **viewer** of team A, for the actions a viewer may not take,
- the holder of a **revoked invitation** to team A (signed in, and without an account).

Each gets 404 for team A's things (a foreign id is not found), 403 where the thing is visibly theirs
but the role may not act (the viewer), 401 for a removed member's API key (it stops authenticating),
and the marker string carried by every one of team A's things never appears in a response to anyone
but the viewer (who may read team A's things: a refusal may show the page the action was on).

The table `ROUTES` names every HTTP route of the app (method and path, as Litestar lists them, /api/v1
included) with how to probe it; `test_every_route_has_an_authorization_case` fails for a route that
has none, so a new route cannot land without saying who may reach it."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from tests.integration.documents.pdfs import text_pdf
from tests.integration.templates.test_template_runs import REPORT
from tests.support.fixtures import forget_ip_limits, make_test_llm
from tests.support.route_world import Persona, World, build_world
from tests.support.web import csrf_of

ANY = None  # any status below 500: a page of the caller's own space (checked for the marker only)


@dataclass(frozen=True)
class Case:
    """How to probe one route. `url` is formatted with the world's ids. `outsider` is what the
    outsider and the removed member get (their pages; a removed member's API key always gets 401),
    `viewer` what team A's viewer gets (None: not probed, a viewer may do it or only reads it).
    `skip` names why a route is not requested at all; `public` why it needs no session or key."""

    url: str = ""
    outsider: int | None = 404
    viewer: int | None = None
    body: dict | None = None  # JSON for /api/, a form otherwise
    public: str = ""
    skip: str = ""
    invitation: bool = False  # the revoked invitation's holder asks (and everyone gets `outsider`)
    admin_only: bool = False
    files: tuple = ()  # (field, (name, bytes, type)) sent with the form as multipart


def thing(url: str, viewer: int | None = None, body: dict | None = None) -> Case:
    """A route on one of team A's things: 404 outside the team."""
    return Case(url, 404, viewer, body)


def write(url: str, body: dict | None = None) -> Case:
    """A change to one of team A's things: 404 outside the team, 403 for its viewer."""
    return Case(url, 404, 403, body)


def listing(
    url: str, viewer: int | None = None, body: dict | None = None, files: tuple = ()
) -> Case:
    """A page or list of the caller's current space: the outsider sees their own (never team A's)."""
    return Case(url, ANY, viewer, body, files=files)


def admin(url: str, body: dict | None = None) -> Case:
    """The instance operator's pages (users.is_admin): 403 to everyone else, whatever their team."""
    return Case(url, 403, None, body, admin_only=True)


def public(reason: str, url: str = "", status: int | None = ANY) -> Case:
    return Case(url, status, None, None, public=reason)


def skip(reason: str) -> Case:
    return Case(skip=reason)


def own(reason: str, url: str = "") -> Case:
    """The caller's own account, not a space's: requested (GET) for the marker only, or skipped."""
    return Case(url, ANY, None, None, skip="" if url else reason, public=reason)


SCHEDULE_BODY = {
    "workflow": "content-generation",
    "input": {"prompt": "a topic"},
    "cron": "0 6 1 * *",
    "time_zone": "UTC",
}
SCHEDULE_FORM = {
    "sched_workflow": "content-generation",
    "sched_name": "x",
    "sched_when": "0 6 * * *",
    "sched_tz": "UTC",
    "prompt": "a topic",
}
REPORT_DOC = copy.deepcopy(REPORT)
SOON = datetime.now(UTC) + timedelta(days=1)
BACKFILL = {"start": (SOON - timedelta(days=3)).isoformat(), "end": SOON.isoformat()}

ROUTES: dict[tuple[str, str], Case] = {
    # Public: no session or key, or a signed link whose token is the credential.
    ("GET", "/healthz"): public("liveness: no data", "/healthz"),
    ("GET", "/metrics"): public("instance-wide counters for Prometheus, no space data", "/metrics"),
    ("GET", "/signup"): public("the sign-up form", "/signup"),
    ("POST", "/signup"): skip("public: creates a new account (rate limited per address)"),
    ("GET", "/login"): public("the login form", "/login"),
    ("POST", "/login"): skip("public: logging in (rate limited)"),
    ("GET", "/review/{token:str}"): public("signed e-mail link: the hook's unguessable token"),
    ("POST", "/review/{token:str}"): public("signed e-mail link: the hook's unguessable token"),
    ("GET", "/unsubscribe/{token:str}"): public("signed e-mail link (HMAC of the address)"),
    ("POST", "/unsubscribe/{token:str}"): public("RFC 8058 one-click unsubscribe, signed link"),
    ("GET", "/templates/shared/{token:str}"): public(
        "a template's share link: its token grants read"
    ),
    ("POST", "/hooks/{token:str}"): public(
        "webhook hook: the hook's token (and HMAC) is the credential"
    ),
    ("POST", "/hooks/t/{trigger_id:str}"): public(
        "trigger delivery: signed with the trigger's secret; unsigned is refused",
        "/hooks/t/{trigger}",
        401,
    ),
    ("POST", "/hooks/code-review/{run_id:uuid}"): public("GitHub webhook, signed with its secret"),
    ("GET", "/static/{file_path:path}"): public("static files", "/static/css/app.css"),
    ("GET", "/api"): public("the API's docs", "/api"),
    ("GET", "/api/docs"): public("the API's docs", "/api/docs"),
    ("GET", "/api/openapi.json"): public("the OpenAPI document", "/api/openapi.json"),
    ("GET", "/api/{path:str}"): public("unknown API paths: the JSON 404", "/api/nope", 404),
    ("GET", "/help"): public("the user docs", "/help"),
    ("GET", "/help/{slug:str}"): public("the user docs", "/help/teams"),
    ("GET", "/help/admin/{slug:str}"): admin("/help/admin/configuration"),
    # The caller's own account (not a space's).
    ("GET", "/"): own("home: the caller's start page", "/"),
    ("POST", "/logout"): skip("own: ends the caller's session"),
    ("POST", "/account/logout-everywhere"): skip("own: ends the caller's sessions"),
    ("GET", "/account"): own("the caller's account", "/account"),
    ("GET", "/settings/notifications"): own("own settings", "/settings/notifications"),
    ("POST", "/settings/notifications"): skip("own settings"),
    ("GET", "/settings/display"): own("own settings", "/settings/display"),
    ("POST", "/settings/display"): skip("own settings"),
    ("POST", "/theme"): skip("own: the caller's theme"),
    ("GET", "/onboarding/checklist"): own("own checklist", "/onboarding/checklist"),
    ("POST", "/onboarding/dismiss"): skip("own checklist"),
    ("POST", "/notifications/read"): skip("own: marks the caller's own notifications read"),
    ("GET", "/notifications/nav"): listing("/notifications/nav"),
    ("GET", "/notifications"): listing("/notifications"),
    ("POST", "/notifications/{notification_id:int}/open"): thing(
        "/notifications/{notification}/open"
    ),
    ("GET", "/live"): skip(
        "the live stream never ends; events reach a space's members only (unit test of the hub)"
    ),
    # Chats stay their user's (team A's owner's conversation: 404 to everyone else).
    ("GET", "/chat"): listing("/chat"),
    ("POST", "/chat"): skip("own: starts a conversation of the caller"),
    ("GET", "/chat/list"): listing("/chat/list"),
    ("GET", "/chat/{conversation_id:int}"): thing("/chat/{conversation}"),
    ("POST", "/chat/{conversation_id:int}/messages"): thing(
        "/chat/{conversation}/messages", body={"content": "hi"}
    ),
    ("GET", "/chat/{conversation_id:int}/messages/{message_id:int}/stream"): thing(
        "/chat/{conversation}/messages/{message}/stream"
    ),
    ("POST", "/chat/{conversation_id:int}/messages/{message_id:int}/stop"): thing(
        "/chat/{conversation}/messages/{message}/stop"
    ),
    ("POST", "/chat/{conversation_id:int}/regenerate"): thing(
        "/chat/{conversation}/regenerate", body={"message_id": "{message}"}
    ),
    ("GET", "/chat/{conversation_id:int}/title"): thing("/chat/{conversation}/title"),
    ("POST", "/chat/{conversation_id:int}/title"): thing(
        "/chat/{conversation}/title", body={"title": "x"}
    ),
    ("GET", "/chat/{conversation_id:int}/delete"): thing("/chat/{conversation}/delete"),
    ("POST", "/chat/{conversation_id:int}/delete"): thing("/chat/{conversation}/delete"),
    ("POST", "/chat/proposals/{message_id:int}/start"): thing("/chat/proposals/{message}/start"),
    ("POST", "/chat/proposals/{message_id:int}/dismiss"): thing(
        "/chat/proposals/{message}/dismiss"
    ),
    ("GET", "/chat/workflows"): listing("/chat/workflows"),
    ("GET", "/chat/workflows/{name:str}"): listing("/chat/workflows/content-generation"),
    ("POST", "/chat/workflows/{name:str}"): listing(
        "/chat/workflows/content-generation", 403, {"prompt": "a topic"}
    ),
    ("GET", "/chat/workflows/document-processing"): listing("/chat/workflows/document-processing"),
    ("POST", "/chat/workflows/document-processing"): listing(
        "/chat/workflows/document-processing",
        403,
        {"question": "What changed?", "model": ""},
        (("files", ("a.pdf", text_pdf("A"), "application/pdf")),),
    ),
    ("GET", "/chat/workflows/data-analysis"): listing("/chat/workflows/data-analysis"),
    ("POST", "/chat/workflows/data-analysis"): listing(
        "/chat/workflows/data-analysis",
        403,
        {"question": "What is the total?", "model": ""},
        (("file", ("a.csv", b"month,total\n1,10\n2,20\n", "text/csv")),),
    ),
    ("GET", "/chat/runs/{run_id:uuid}/card"): thing("/chat/runs/{run}/card"),
    ("POST", "/chat/runs/{run_id:uuid}/cancel"): write("/chat/runs/{run}/cancel"),
    # Runs, their files and the pages of particular workflows (team A's run is a `selftest` run:
    # outside the team it is not found, whatever the workflow; roles there are their own tests').
    ("GET", "/workflows"): listing("/workflows"),
    ("GET", "/workflows/{run_id:uuid}"): thing("/workflows/{run}"),
    ("GET", "/workflows/{run_id:uuid}/cancel"): thing("/workflows/{run}/cancel"),
    ("POST", "/workflows/{run_id:uuid}/cancel"): write("/workflows/{run}/cancel"),
    ("POST", "/workflows/{run_id:uuid}/retry"): write("/workflows/{run}/retry"),
    ("POST", "/workflows/{run_id:uuid}/title"): write("/workflows/{run}/title", {"title": "x"}),
    ("GET", "/workflows/{run_id:uuid}/rerun"): thing("/workflows/{run}/rerun"),
    ("POST", "/workflows/{run_id:uuid}/rerun"): write(
        "/workflows/{run}/rerun", {"from_step": "start"}
    ),
    ("GET", "/workflows/{run_id:uuid}/steps/{seq:int}"): thing("/workflows/{run}/steps/0"),
    ("GET", "/workflows/{run_id:uuid}/steps/{seq:int}/{part:str}"): thing(
        "/workflows/{run}/steps/0/output"
    ),
    ("GET", "/workflows/replay"): listing("/workflows/replay"),
    ("POST", "/workflows/replay"): listing(
        "/workflows/replay", 403, {"workflow": "selftest", "statuses": "failed"}
    ),
    ("GET", "/workflows/replays/{replay_id:int}"): thing("/workflows/replays/{replay}"),
    # A bulk replay is its requester's own job (over the space's runs): another member does not
    # find it, whatever their role.
    ("POST", "/workflows/replays/{replay_id:int}/cancel"): thing(
        "/workflows/replays/{replay}/cancel", viewer=404
    ),
    ("GET", "/artifacts/{artifact_id:uuid}"): thing("/artifacts/{artifact}"),
    ("POST", "/uploads/runs/{run_id:uuid}/review"): thing("/uploads/runs/{run}/review"),
    ("POST", "/uploads/runs/{run_id:uuid}/drill"): thing("/uploads/runs/{run}/drill"),
    ("GET", "/uploads/runs/{run_id:uuid}/report"): thing("/uploads/runs/{run}/report"),
    ("GET", "/uploads/files/{artifact_id:uuid}"): thing("/uploads/files/{artifact}"),
    ("GET", "/publishing/{run_id:uuid}"): thing("/publishing/{run}"),
    ("POST", "/publishing/{run_id:uuid}/posts/{post_id:int}"): thing("/publishing/{run}/posts/1"),
    ("POST", "/publishing/{run_id:uuid}/posts/{post_id:int}/delete"): thing(
        "/publishing/{run}/posts/1/delete"
    ),
    ("POST", "/publishing/{run_id:uuid}/posts/{post_id:int}/move"): thing(
        "/publishing/{run}/posts/1/move"
    ),
    ("POST", "/publishing/{run_id:uuid}/cancel-remaining"): thing(
        "/publishing/{run}/cancel-remaining"
    ),
    ("GET", "/code-review/{run_id:uuid}"): thing("/code-review/{run}"),
    ("POST", "/code-review/{run_id:uuid}/fixes"): thing("/code-review/{run}/fixes"),
    # Approvals: a hook of team A's run.
    ("GET", "/approvals"): listing("/approvals"),
    ("GET", "/approvals/{hook_id:int}"): thing("/approvals/{hook}"),
    ("POST", "/approvals/{hook_id:int}"): write("/approvals/{hook}", {"action": "approve"}),
    # Templates.
    ("GET", "/templates"): listing("/templates"),
    ("GET", "/templates/import"): listing("/templates/import"),
    ("POST", "/templates/import"): listing(
        "/templates/import",
        403,
        {},
        (("file", ("t.json", json.dumps(REPORT).encode(), "application/json")),),
    ),
    ("GET", "/templates/{key:str}"): thing("/templates/{template_id}"),
    ("POST", "/templates/{key:str}/check"): thing("/templates/{template_id}/check"),
    ("POST", "/templates/{key:str}/variables"): thing("/templates/{template_id}/variables"),
    ("GET", "/templates/{key:str}/add-menu"): thing("/templates/{template_id}/add-menu"),
    ("POST", "/templates/{key:str}/edit"): write("/templates/{template_id}/edit"),
    ("POST", "/templates/{template_id:int}/versions/{version:int}/restore"): write(
        "/templates/{template_id}/versions/1/restore"
    ),
    ("POST", "/templates/{key:str}/test"): write("/templates/{template_id}/test", {"topic": "x"}),
    ("GET", "/templates/{template_id:int}/run"): thing("/templates/{template_id}/run"),
    ("POST", "/templates/{template_id:int}/run"): write(
        "/templates/{template_id}/run", {"topic": "x"}
    ),
    ("POST", "/templates/{template_id:int}/sharing"): write(
        "/templates/{template_id}/sharing", {"visibility": "link"}
    ),
    # Taking a template out of the gallery is the instance operator's: not found for anyone else.
    ("POST", "/templates/{template_id:int}/unpublish"): thing(
        "/templates/{template_id}/unpublish", viewer=404
    ),
    ("POST", "/templates/{template_id:int}/use"): write("/templates/{template_id}/use"),
    ("GET", "/templates/{template_id:int}/export"): thing("/templates/{template_id}/export"),
    # Schedules.
    ("GET", "/schedules"): listing("/schedules"),
    ("POST", "/schedules"): listing("/schedules", 403, SCHEDULE_FORM),
    ("GET", "/schedules/new"): listing("/schedules/new"),
    ("GET", "/schedules/preview"): listing("/schedules/preview?when=every+day"),
    ("GET", "/schedules/{schedule_id:uuid}"): thing("/schedules/{schedule}"),
    ("POST", "/schedules/{schedule_id:uuid}"): write("/schedules/{schedule}", SCHEDULE_FORM),
    ("GET", "/schedules/{schedule_id:uuid}/edit"): thing("/schedules/{schedule}/edit"),
    ("POST", "/schedules/{schedule_id:uuid}/pause"): write("/schedules/{schedule}/pause"),
    ("POST", "/schedules/{schedule_id:uuid}/resume"): write("/schedules/{schedule}/resume"),
    ("POST", "/schedules/{schedule_id:uuid}/take-over"): write("/schedules/{schedule}/take-over"),
    ("POST", "/schedules/{schedule_id:uuid}/trigger"): write("/schedules/{schedule}/trigger"),
    ("POST", "/schedules/{schedule_id:uuid}/backfill"): write(
        "/schedules/{schedule}/backfill", {"start": "2026-11-01T00:00", "end": "2026-11-02T00:00"}
    ),
    ("POST", "/schedules/{schedule_id:uuid}/delete"): write("/schedules/{schedule}/delete"),
    # Triggers.
    ("GET", "/triggers"): listing("/triggers"),
    ("POST", "/triggers"): listing(
        "/triggers",
        403,
        {"name": "x", "target": "workflow:content-generation", "auth_mode": "hmac"},
    ),
    ("GET", "/triggers/new"): listing("/triggers/new"),
    ("GET", "/triggers/mapping"): listing("/triggers/mapping"),
    ("GET", "/triggers/{trigger_id:str}"): thing("/triggers/{trigger}"),
    ("GET", "/triggers/{trigger_id:str}/deliveries"): thing("/triggers/{trigger}/deliveries"),
    ("GET", "/triggers/{trigger_id:str}/edit"): thing("/triggers/{trigger}/edit"),
    ("POST", "/triggers/{trigger_id:str}/edit"): write(
        "/triggers/{trigger}/edit", {"name": "x", "target": "workflow:content-generation"}
    ),
    ("POST", "/triggers/{trigger_id:str}/rotate"): write("/triggers/{trigger}/rotate"),
    ("POST", "/triggers/{trigger_id:str}/enable"): write("/triggers/{trigger}/enable"),
    ("POST", "/triggers/{trigger_id:str}/disable"): write("/triggers/{trigger}/disable"),
    ("POST", "/triggers/{trigger_id:str}/delete"): write("/triggers/{trigger}/delete"),
    # Connectors (CONNECTORS: admins) and API keys (each holder's own).
    ("GET", "/settings/connectors"): listing("/settings/connectors"),
    ("POST", "/settings/connectors"): listing(
        "/settings/connectors",
        403,
        {"kind": "webhook", "name": "x", "url": "https://example.invalid/x", "secret": "s" * 20},
    ),
    ("POST", "/settings/connectors/{connector_id:int}/check"): write(
        "/settings/connectors/{connector}/check"
    ),
    ("POST", "/settings/connectors/{connector_id:int}/delete"): write(
        "/settings/connectors/{connector}/delete"
    ),
    ("GET", "/settings/api-keys"): listing("/settings/api-keys"),
    ("POST", "/settings/api-keys"): skip("own: a key of the caller in their current space"),
    ("POST", "/settings/api-keys/{key_id:int}/revoke"): thing(
        "/settings/api-keys/{key_id}/revoke", viewer=404
    ),
    # The audit log (AUDIT: admins and owners).
    ("GET", "/audit"): listing("/audit", 403),
    ("GET", "/audit/export.csv"): listing("/audit/export.csv", 403),
    # The instance operator's pages.
    ("GET", "/admin"): admin("/admin"),
    ("GET", "/admin/runs"): admin("/admin/runs"),
    ("GET", "/admin/prices"): admin("/admin/prices"),
    ("POST", "/admin/prices"): admin("/admin/prices", {"model": "x"}),
    ("POST", "/admin/prices/{model:str}/delete"): admin("/admin/prices/x/delete"),
    ("GET", "/admin/outbox"): admin("/admin/outbox"),
    ("GET", "/admin/outbox/{mail_id:int}"): admin("/admin/outbox/1"),
    ("GET", "/admin/users"): admin("/admin/users"),
    ("POST", "/admin/users/{user_id:int}/tier"): admin("/admin/users/{owner_id}/tier"),
    ("POST", "/admin/users/{user_id:int}/disable"): admin("/admin/users/{owner_id}/disable"),
    ("POST", "/admin/users/{user_id:int}/enable"): admin("/admin/users/{owner_id}/enable"),
    ("GET", "/admin/teams"): admin("/admin/teams"),
    ("POST", "/admin/teams/{team_id:int}/tier"): admin(
        "/admin/teams/{team_id}/tier", {"tier": "enterprise"}
    ),
    ("GET", "/admin/tiers"): admin("/admin/tiers"),
    ("POST", "/admin/tiers/{name:str}"): admin("/admin/tiers/free"),
    ("GET", "/admin/deploy-check"): admin("/admin/deploy-check"),
    ("GET", "/admin/setup"): admin("/admin/setup"),
    ("POST", "/admin/setup/test-mail"): admin("/admin/setup/test-mail"),
    # Teams, the switcher and invitations.
    ("GET", "/teams"): listing("/teams"),
    ("POST", "/teams"): skip("own: creates a team the caller owns"),
    ("GET", "/teams/{slug:str}"): thing("/teams/{team}"),
    ("POST", "/teams/{slug:str}/members/{user_id:int}/role"): write(
        "/teams/{team}/members/{owner_id}/role", {"role": "viewer"}
    ),
    ("POST", "/teams/{slug:str}/members/{user_id:int}/remove"): write(
        "/teams/{team}/members/{owner_id}/remove"
    ),
    ("POST", "/teams/{slug:str}/leave"): thing("/teams/{team}/leave"),  # a viewer may leave
    ("POST", "/teams/{slug:str}/invitations"): write(
        "/teams/{team}/invitations", {"email": "new@example.com", "role": "member"}
    ),
    ("POST", "/teams/{slug:str}/invitations/{invitation_id:int}/revoke"): write(
        "/teams/{team}/invitations/{invitation_id}/revoke"
    ),
    ("POST", "/teams/{slug:str}/rename"): write("/teams/{team}/rename", {"name": "Renamed"}),
    ("POST", "/teams/{slug:str}/tier"): write("/teams/{team}/tier", {"tier": "free"}),
    ("POST", "/teams/{slug:str}/delete"): write("/teams/{team}/delete", {"confirm": "x"}),
    ("GET", "/spaces/menu"): listing("/spaces/menu"),
    ("POST", "/spaces/switch"): thing("/spaces/switch", body={"space": "{team_id}"}),
    # A revoked invitation grants nothing and says so (410, docs/teams.md "Invitations").
    ("GET", "/invitations/{token:str}"): Case(
        "/invitations/{invitation_token}", 410, invitation=True
    ),
    ("POST", "/invitations/{token:str}/accept"): Case(
        "/invitations/{invitation_token}/accept", 410, invitation=True
    ),
    ("POST", "/invitations/{token:str}/signup"): Case(
        "/invitations/{invitation_token}/signup",
        410,
        body={"password": "correct horse battery staple"},
        invitation=True,
    ),
    # The JSON API: the key's space.
    ("GET", "/api/v1/workflows"): listing("/api/v1/workflows"),
    ("GET", "/api/v1/runs"): listing("/api/v1/runs"),
    ("POST", "/api/v1/runs"): listing(
        "/api/v1/runs", 403, {"workflow": "content-generation", "input": {"prompt": "a topic"}}
    ),
    ("GET", "/api/v1/runs/{run_id:str}"): thing("/api/v1/runs/{run}"),
    ("GET", "/api/v1/runs/{run_id:uuid}/files/{file_id:uuid}"): thing(
        "/api/v1/runs/{run}/files/{artifact}"
    ),
    ("POST", "/api/v1/runs/{run_id:str}/cancel"): write("/api/v1/runs/{run}/cancel"),
    ("POST", "/api/v1/runs/{run_id:str}/retry"): write("/api/v1/runs/{run}/retry"),
    ("POST", "/api/v1/runs/{run_id:str}/rerun"): write("/api/v1/runs/{run}/rerun", {}),
    ("GET", "/api/v1/runs/{run_id:str}/events"): thing("/api/v1/runs/{run}/events"),
    ("POST", "/api/v1/replays"): listing(
        "/api/v1/replays", 403, {"workflow": "selftest", "statuses": ["failed"]}
    ),
    ("GET", "/api/v1/replays/{replay_id:int}"): thing("/api/v1/replays/{replay}"),
    ("POST", "/api/v1/replays/{replay_id:int}/cancel"): thing(
        "/api/v1/replays/{replay}/cancel", viewer=404
    ),
    ("POST", "/api/v1/hooks/{token:str}"): write(
        "/api/v1/hooks/{hook_token}", {"action": "approve"}
    ),
    ("GET", "/api/v1/triggers"): listing("/api/v1/triggers"),
    ("POST", "/api/v1/triggers"): listing(
        "/api/v1/triggers", 403, {"name": "x", "workflow": "content-generation"}
    ),
    ("GET", "/api/v1/triggers/{trigger_id:str}"): thing("/api/v1/triggers/{trigger}"),
    ("DELETE", "/api/v1/triggers/{trigger_id:str}"): write("/api/v1/triggers/{trigger}"),
    ("POST", "/api/v1/triggers/{trigger_id:str}/enable"): write(
        "/api/v1/triggers/{trigger}/enable"
    ),
    ("POST", "/api/v1/triggers/{trigger_id:str}/disable"): write(
        "/api/v1/triggers/{trigger}/disable"
    ),
    ("POST", "/api/v1/triggers/{trigger_id:str}/rotate"): write(
        "/api/v1/triggers/{trigger}/rotate", {}
    ),
    ("GET", "/api/v1/schedules"): listing("/api/v1/schedules"),
    ("POST", "/api/v1/schedules"): listing("/api/v1/schedules", 403, SCHEDULE_BODY),
    ("GET", "/api/v1/schedules/{schedule_id:str}"): thing("/api/v1/schedules/{schedule}"),
    ("PATCH", "/api/v1/schedules/{schedule_id:str}"): write(
        "/api/v1/schedules/{schedule}", SCHEDULE_BODY
    ),
    ("DELETE", "/api/v1/schedules/{schedule_id:str}"): write("/api/v1/schedules/{schedule}"),
    ("POST", "/api/v1/schedules/{schedule_id:str}/pause"): write(
        "/api/v1/schedules/{schedule}/pause", {}
    ),
    ("POST", "/api/v1/schedules/{schedule_id:str}/resume"): write(
        "/api/v1/schedules/{schedule}/resume"
    ),
    ("POST", "/api/v1/schedules/{schedule_id:str}/trigger"): write(
        "/api/v1/schedules/{schedule}/trigger"
    ),
    ("POST", "/api/v1/schedules/{schedule_id:str}/backfill"): write(
        "/api/v1/schedules/{schedule}/backfill", BACKFILL
    ),
    ("GET", "/api/v1/templates"): listing("/api/v1/templates"),
    ("POST", "/api/v1/templates"): listing("/api/v1/templates", 403, {"document": REPORT_DOC}),
    ("GET", "/api/v1/templates/{slug:str}"): thing("/api/v1/templates/{template_slug}"),
    ("GET", "/api/v1/templates/{slug:str}/versions"): thing(
        "/api/v1/templates/{template_slug}/versions"
    ),
    ("POST", "/api/v1/templates/{slug:str}/versions"): write(
        "/api/v1/templates/{template_slug}/versions", {"document": REPORT_DOC}
    ),
    ("GET", "/api/v1/templates/{slug:str}/export"): thing(
        "/api/v1/templates/{template_slug}/export"
    ),
    ("POST", "/api/v1/templates/{slug:str}/runs"): write(
        "/api/v1/templates/{template_slug}/runs", {"input": {"topic": "x"}}
    ),
    ("GET", "/api/v1/audit"): listing("/api/v1/audit", 403),
}


def app_routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app answers: its HTTP routes, HEAD and OPTIONS aside."""
    found = set()
    for route in app.routes:
        for method in getattr(route, "methods", ()):
            if method not in ("HEAD", "OPTIONS"):
                found.add((method, route.path))
    return found


@pytest.fixture(scope="module")
async def client(model_settings, database_url, model_server):
    from app.web.app import create_app

    forget_ip_limits(database_url)
    app = create_app(
        model_settings, database_url, run_worker=False, llm=make_test_llm(model_settings)
    )
    async with AsyncTestClient(app) as client:
        client.follow_redirects = False
        yield client


@pytest.fixture(scope="module")
async def world(pool, client) -> World:
    world = await build_world(pool, client)
    page = await client.get("/login")  # a browser without an account: its CSRF cookie and token
    world.anonymous.csrf = csrf_of(page.text)
    world.anonymous.cookies = dict(client.cookies)
    client.cookies.clear()
    return world


async def ask(client, who: Persona, method: str, url: str, body: dict | None, files=()):
    client.cookies.clear()
    headers = {}
    if url.startswith("/api/v1/"):
        if who.key:
            headers["Authorization"] = f"Bearer {who.key}"
    else:
        for name, value in who.cookies.items():
            client.cookies.set(name, value)
        if method != "GET":
            headers["X-CSRF-Token"] = who.csrf
    kwargs = {}
    if body is not None and method != "GET":
        kwargs = {"json": body} if url.startswith("/api/") else {"data": body}
    if files:
        kwargs["files"] = list(files)
    return await client.request(method, url, headers=headers, **kwargs)


def fill(body: dict | None, ids: dict) -> dict | None:
    """A body's "{name}" values replaced by the world's ids (other text as it is)."""
    if body is None:
        return None
    return {
        k: ids[v[1:-1]] if isinstance(v, str) and v[1:-1] in ids and v[0] + v[-1] == "{}" else v
        for k, v in body.items()
    }


def test_every_route_has_an_authorization_case(client):
    missing = sorted(app_routes(client.app) - set(ROUTES))
    assert not missing, (
        "routes without an authorization case: add each to ROUTES in "
        f"tests/integration/teams/test_route_authorization.py (how to probe it, or why public): {missing}"
    )


def test_the_table_names_only_routes_the_app_has(client):
    stale = sorted(set(ROUTES) - app_routes(client.app))
    assert not stale, f"cases for routes the app no longer has: {stale}"


async def test_no_route_lets_anyone_outside_team_a_reach_its_things(client, world, pool):
    ids = world.ids
    routes = app_routes(client.app)
    failures: list[str] = []

    def check(who: str, method: str, url: str, response, expected: int | None) -> None:
        status = response.status_code
        where = f"{method} {url} as {who}"
        if who != world.viewer.name and world.marker in response.text:
            failures.append(f"{where}: {status}, and the response shows team A's marker")
        if expected is None:
            if status >= 500:
                failures.append(f"{where}: {status} (a server error)")
        elif status != expected:
            said = " ".join(response.text.split())[:160] if status in (400, 409, 422) else ""
            failures.append(f"{where}: {status}, expected {expected} {said}".rstrip())

    for (method, path), case in sorted(ROUTES.items()):
        if (method, path) not in routes or case.skip or (case.public and not case.url):
            continue
        url, body = case.url.format(**ids), fill(case.body, ids)
        is_api = url.startswith("/api/v1/")
        if case.invitation:
            askers = [(world.invitee, case.outsider), (world.anonymous, case.outsider)]
            if path.endswith("/signup"):
                askers = [(world.anonymous, case.outsider)]
            elif path.endswith("/accept"):
                askers = [(world.invitee, case.outsider), (world.outsider, case.outsider)]
        elif case.public:
            askers = [(world.outsider, case.outsider)]
        else:
            askers = [
                (world.outsider, case.outsider),
                (world.removed, 401 if is_api else case.outsider),
            ]
            if case.viewer is not None:
                askers.append((world.viewer, case.viewer))
        for who, expected in askers:
            response = await ask(client, who, method, url, body, case.files)
            check(who.name, method, url, response, expected)

    async with pool.connection() as conn:
        members = await (
            await conn.execute(
                "SELECT user_id, role FROM space_members WHERE space_id = %s ORDER BY user_id",
                (ids["team_id"],),
            )
        ).fetchall()
        run = await (
            await conn.execute("SELECT status, title FROM runs WHERE id = %s", (ids["run"],))
        ).fetchone()
    expected_members = sorted(
        [
            {"user_id": world.owner.user_id, "role": "owner"},
            {"user_id": world.viewer.user_id, "role": "viewer"},
        ],
        key=lambda m: m["user_id"],
    )
    if members != expected_members:
        failures.append(f"team A's members changed: {members}")
    # Not cancelled nor renamed by anyone probing (a worker of another test in the shared database
    # may have run it meanwhile: that is no one's doing here).
    if run["status"] == "cancelled" or world.marker not in run["title"]:
        failures.append(f"team A's run was changed: {run}")
    assert not failures, f"{len(failures)} authorization failures:\n" + "\n".join(failures)
