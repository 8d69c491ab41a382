"""Connectors: where a user's posts go. Stored per user, secrets encrypted (app/core/secrets_box.py).

    webhook   POST JSON to `url`, signed `X-Baton-Signature: sha256=<HMAC-SHA256 of the body>` with
              the connector's signing secret
    mastodon  POST `<url>/api/v1/statuses` with `Authorization: Bearer <access token>`

The settings page (app/web/connectors) creates and deletes them; the publishing workflow reads one
(with its secret) inside a step, never putting the secret in the journal.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.secrets_box import SecretBox

KINDS = {"webhook": "Webhook (signed JSON POST)", "mastodon": "Mastodon-compatible"}
MAX_CONNECTORS = 20
NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,80}$")

LIST = """
SELECT id, kind, name, url, created_at FROM connectors WHERE owner_id = %(owner_id)s ORDER BY name
"""
COUNT = "SELECT count(*) AS n FROM connectors WHERE owner_id = %(owner_id)s"
INSERT = """
INSERT INTO connectors (owner_id, kind, name, url, secret_enc)
VALUES (%(owner_id)s, %(kind)s, %(name)s, %(url)s, %(secret_enc)s)
ON CONFLICT (owner_id, name) DO NOTHING
RETURNING id, kind, name, url, created_at
"""
DELETE = "DELETE FROM connectors WHERE id = %(id)s AND owner_id = %(owner_id)s RETURNING id"
# A connector by id or by name, only for its owner.
FIND = """
SELECT id, kind, name, url, secret_enc FROM connectors
WHERE owner_id = %(owner_id)s AND (id = %(id)s OR name = %(name)s)
ORDER BY (id = %(id)s) DESC LIMIT 1
"""
BY_ID = "SELECT id, kind, name, url, secret_enc FROM connectors WHERE id = %(id)s AND owner_id = %(owner_id)s"


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


async def list_connectors(conn: AsyncConnection, owner_id: int) -> list[dict]:
    return await (await conn.execute(LIST, {"owner_id": owner_id})).fetchall()


async def create_connector(
    conn: AsyncConnection, box: SecretBox, owner_id: int, form: ConnectorForm
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
        count = (await (await conn.execute(COUNT, {"owner_id": owner_id})).fetchone())["n"]
        if count >= MAX_CONNECTORS:
            raise ConnectorLimit(f"At most {MAX_CONNECTORS} connectors; delete one first.")
        row = await (
            await conn.execute(
                INSERT,
                {
                    "owner_id": owner_id,
                    "kind": form.kind,
                    "name": form.name,
                    "url": form.url,
                    "secret_enc": box.encrypt(secret),
                },
            )
        ).fetchone()
    return row, (generated if row else None)


async def delete_connector(conn: AsyncConnection, owner_id: int, connector_id: int) -> bool:
    return (
        await (await conn.execute(DELETE, {"id": connector_id, "owner_id": owner_id})).fetchone()
    ) is not None


async def find_connector(conn: AsyncConnection, owner_id: int, name_or_id: str) -> dict | None:
    """By name (what a person types) or id; only the owner's. Without the secret."""
    ident = int(name_or_id) if name_or_id.strip().isdigit() and len(name_or_id) < 18 else -1
    row = await (
        await conn.execute(FIND, {"owner_id": owner_id, "id": ident, "name": name_or_id.strip()})
    ).fetchone()
    return row and {k: row[k] for k in ("id", "kind", "name", "url")}


async def load_connector(
    conn: AsyncConnection, box: SecretBox, owner_id: int, connector_id: int
) -> Connector | None:
    row = await (await conn.execute(BY_ID, {"id": connector_id, "owner_id": owner_id})).fetchone()
    if row is None:
        return None
    return Connector(
        row["id"], row["kind"], row["name"], row["url"], box.decrypt(row["secret_enc"])
    )
