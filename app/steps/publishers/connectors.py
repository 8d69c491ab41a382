"""Connectors: where a space's posts go. Stored per space (a team's are added and changed by its
admins, used by its members' runs), secrets encrypted (app/core/secrets_box.py).

    webhook   POST JSON to `url`, signed `X-Baton-Signature: sha256=<HMAC-SHA256 of the body>` with
              the connector's signing secret
    mastodon  POST `<url>/api/v1/statuses` with `Authorization: Bearer <access token>`

The settings page (app/web/connectors) creates and deletes them; the publishing workflow reads one
(with its secret) inside a step, never putting the secret in the journal. A run finds only the
connectors of its own space (`run_id`), checked at every use, so a connector of another space is
never used, whatever a document names.

Every function scopes by space: `space_id`, else the run's (`run_id`), else the owner's personal one.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core import audit
from app.core.secrets_box import SecretBox

KINDS = {"webhook": "Webhook (signed JSON POST)", "mastodon": "Mastodon-compatible"}
MAX_CONNECTORS = 20
NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,80}$")

# The space a call acts in: the one named, else the run's, else the owner's personal space.
SPACE = """coalesce(%(space_id)s::bigint, (SELECT space_id FROM runs WHERE id = %(run_id)s::uuid),
                 (SELECT id FROM spaces WHERE personal_of = %(owner_id)s))"""
LIST = (
    "SELECT id, kind, name, url, created_at FROM connectors WHERE space_id = "
    + SPACE
    + " ORDER BY name"
)
COUNT = "SELECT count(*) AS n FROM connectors WHERE space_id = " + SPACE
INSERT = (
    """
INSERT INTO connectors (owner_id, space_id, kind, name, url, secret_enc)
VALUES (%(owner_id)s, """
    + SPACE
    + """, %(kind)s, %(name)s, %(url)s, %(secret_enc)s)
ON CONFLICT (space_id, name) DO NOTHING
RETURNING id, space_id, kind, name, url, created_at
"""
)
DELETE = (
    "DELETE FROM connectors WHERE id = %(id)s AND space_id = "
    + SPACE
    + " RETURNING id, space_id, name"
)
# A connector by id or by name, only within the space.
FIND = (
    """
SELECT id, kind, name, url, secret_enc FROM connectors
WHERE space_id = """
    + SPACE
    + """ AND (id = %(id)s OR name = %(name)s)
ORDER BY (id = %(id)s) DESC LIMIT 1
"""
)
BY_ID = (
    "SELECT id, kind, name, url, secret_enc FROM connectors WHERE id = %(id)s AND space_id = "
    + SPACE
)


class ConnectorLimit(Exception):
    pass


class ConnectorForm(BaseModel):
    """The settings form, validated at the edge."""

    model_config = ConfigDict(extra="ignore")
    kind: str
    name: str = Field(max_length=80)
    url: str = Field(max_length=2000)
    secret: str = Field("", max_length=2000)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError("Choose webhook or Mastodon-compatible.")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value or not NAME.match(value):
            raise ValueError(
                "Give the connector a short name (you type it when you start a schedule)."
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return checked_url(value)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        value = value.strip()
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("The secret may not contain control characters.")
        return value


def checked_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("Enter an http:// or https:// address.")
    if parts.username or parts.password:
        raise ValueError("Put credentials in the secret field, not in the address.")
    if any(c.isspace() for c in value):
        raise ValueError("The address may not contain spaces.")
    return value.rstrip("/") if parts.path in ("", "/") else value


@dataclass(frozen=True)
class Connector:
    id: int
    kind: str
    name: str
    url: str
    secret: str  # decrypted: keep it out of results, logs and the journal

    @property
    def public(self) -> dict:
        return {"id": self.id, "kind": self.kind, "name": self.name}


def _where(owner_id: int, space_id: int | None, run_id: Any = None) -> dict:
    return {"owner_id": owner_id, "space_id": space_id, "run_id": str(run_id) if run_id else None}


async def _audit(conn: AsyncConnection, row: dict, actor_id: int, change: str) -> None:
    await audit.record(
        conn,
        space_id=row["space_id"],
        actor_id=actor_id,
        action="connector.change",
        object_kind="connector",
        object_id=row["id"],
        detail={"name": row["name"], "change": change},
    )


async def list_connectors(
    conn: AsyncConnection, owner_id: int, *, space_id: int | None = None
) -> list[dict]:
    return await (await conn.execute(LIST, _where(owner_id, space_id))).fetchall()


async def create_connector(
    conn: AsyncConnection,
    box: SecretBox,
    owner_id: int,
    form: ConnectorForm,
    *,
    space_id: int | None = None,
) -> tuple[dict | None, str | None]:
    """Returns (row, generated secret). A webhook without a secret gets a generated one, shown to
    the user once. Row None: the name is taken."""
    if form.kind == "mastodon" and not form.secret:
        raise ValueError("A Mastodon connector needs an access token.")
    generated = None
    secret = form.secret
    if not secret:
        secret = generated = secrets.token_urlsafe(32)
    async with conn.transaction():
        count = (await (await conn.execute(COUNT, _where(owner_id, space_id))).fetchone())["n"]
        if count >= MAX_CONNECTORS:
            raise ConnectorLimit(f"At most {MAX_CONNECTORS} connectors; delete one first.")
        row = await (
            await conn.execute(
                INSERT,
                {
                    **_where(owner_id, space_id),
                    "kind": form.kind,
                    "name": form.name,
                    "url": form.url,
                    "secret_enc": box.encrypt(secret),
                },
            )
        ).fetchone()
        if row:
            await _audit(conn, row, owner_id, "add")
    return row, (generated if row else None)


async def delete_connector(
    conn: AsyncConnection, owner_id: int, connector_id: int, *, space_id: int | None = None
) -> bool:
    async with conn.transaction():
        row = await (
            await conn.execute(DELETE, {"id": connector_id, **_where(owner_id, space_id)})
        ).fetchone()
        if row:
            await _audit(conn, row, owner_id, "delete")
    return row is not None


async def find_connector(
    conn: AsyncConnection,
    owner_id: int,
    name_or_id: str,
    *,
    space_id: int | None = None,
    run_id: Any = None,
) -> dict | None:
    """By name (what a person types) or id; only the space's (a run's: `run_id`). Without the secret."""
    ident = int(name_or_id) if name_or_id.strip().isdigit() and len(name_or_id) < 18 else -1
    params = {**_where(owner_id, space_id, run_id), "id": ident, "name": name_or_id.strip()}
    row = await (await conn.execute(FIND, params)).fetchone()
    return row and {k: row[k] for k in ("id", "kind", "name", "url")}


async def load_connector(
    conn: AsyncConnection,
    box: SecretBox,
    owner_id: int,
    connector_id: int,
    *,
    space_id: int | None = None,
    run_id: Any = None,
) -> Connector | None:
    """With its secret; only the space's (a run's own: `run_id`, checked at every use)."""
    params = {"id": connector_id, **_where(owner_id, space_id, run_id)}
    row = await (await conn.execute(BY_ID, params)).fetchone()
    if row is None:
        return None
    return Connector(
        row["id"], row["kind"], row["name"], row["url"], box.decrypt(row["secret_enc"])
    )
