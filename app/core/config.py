"""Settings, read from the environment only and validated once at start-up.

Every problem names the variable at fault so that `baton serve` can print one line and exit.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import urlparse

from app.core.outbound import Allowlist

TIERS = ("free", "pro", "premium", "enterprise")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    secret_key: str
    base_url: str
    openai_base_url: str | None
    openai_api_key: str | None
    model: str
    smtp_url: str | None
    mail_from: str
    log_format: str
    default_tier: str
    sandbox: str
    workflow_modules: tuple[str, ...] = ()
    retention_days: int = 90
    metrics_token: str | None = None
    # Document and data workflows (app/workflows/documents.py, data_analysis.py).
    doc_summary_rate: tuple[int, float] = (20, 60.0)  # model calls per window (seconds)
    doc_max_file_mb: int = 20
    doc_max_total_mb: int = 200
    csv_max_mb: int = 100
    # Code-review test runs (app/steps/sandbox.py): both are tmpfs, i.e. memory.
    sandbox_disk_mb: int = 1024
    sandbox_tmp_mb: int = 512
    # Hosts and ranges users' connectors and git URLs may reach although not global (app/core/outbound.py).
    connector_allow: Allowlist = Allowlist()
    # Reverse proxies whose X-Forwarded-For/-Proto name the client (BATON_TRUSTED_PROXIES): handed
    # to uvicorn, so login limits and sessions see the visitor, not the proxy.
    trusted_proxies: str = "127.0.0.1"
    # How long `baton worker` keeps trying to run again (database down) before it exits non-zero.
    db_outage_max_s: float = 300.0
    # False when BATON_BASE_URL is unset: `baton serve` then links to the address it serves.
    base_url_configured: bool = True
    # Bulk replay (app/engine/replays.py) keeps at most this share of the workers' slots busy with
    # its runs; the slots are live workers × the concurrency they run with (`--concurrency`).
    replay_worker_share: float = 0.25
    worker_concurrency: int = 8
    # A run's wake-up further away than this is not queued as a job until it comes this close
    # (app/engine/jobs.py): sleeping and waiting runs then cost the workers' job fetch nothing.
    wake_horizon_s: float = 300.0

    @property
    def embedded_db(self) -> bool:
        return self.database_url is None

    @property
    def offline_model(self) -> bool:
        return self.openai_base_url is None and self.openai_api_key is None


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not (parsed.hostname or parsed.path):
        raise ConfigError(
            f"{name}: expected a URL starting with {' or '.join(s + '://' for s in schemes)}, "
            f"got {value!r}"
        )
    return value


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, "").strip() or default
    if value not in allowed:
        raise ConfigError(f"{name}: must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name}: expected a whole number of at least 1, got {value!r}")
    return int(value)


def _rate(env: Mapping[str, str], name: str, default: tuple[int, float]) -> tuple[int, float]:
    """'20/min', '500/h', '3/2s', '10/s': calls per window."""
    value = env.get(name, "").strip().lower().replace(" ", "")
    if not value:
        return default
    calls, _, window = value.partition("/")
    units = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "hour": 3600.0}
    number = window.rstrip("abcdefghijklmnopqrstuvwxyz") or "1"
    unit = window[len(number) :] if window[: len(number)] == number else window
    try:
        seconds = float(number) * units[unit or "s"]
        count = int(calls)
    except (KeyError, ValueError):
        seconds = count = 0
    if count < 1 or not 0.1 <= seconds <= 86400:
        raise ConfigError(
            f"{name}: expected calls per window like 20/min, 500/h or 3/2s, got {value!r}"
        )
    return count, seconds


def _duration(env: Mapping[str, str], name: str, default: float) -> float:
    """'300', '90s', '5min', '1h': a duration in seconds."""
    value = env.get(name, "").strip().lower().replace(" ", "")
    if not value:
        return default
    units = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
    number = value.rstrip("abcdefghijklmnopqrstuvwxyz")
    try:
        seconds = float(number) * units[value[len(number) :]]
    except (KeyError, ValueError):
        seconds = 0
    if not 1 <= seconds <= 86400:
        raise ConfigError(
            f"{name}: expected a duration from 1s to 24h like 300, 90s or 5min, got {value!r}"
        )
    return seconds


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    """'0.25' or '25%': a share greater than 0 and at most 1."""
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        share = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        share = 0
    if not 0 < share <= 1:
        raise ConfigError(
            f"{name}: expected a share above 0 and at most 1, like 0.25 or 25%, got {value!r}"
        )
    return share


def _module_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    modules = tuple(m.strip() for m in env.get(name, "").split(",") if m.strip())
    for module in modules:
        if not all(part.isidentifier() for part in module.split(".")):
            raise ConfigError(f"{name}: {module!r} is not a Python module path")
    return modules


def _allowlist(env: Mapping[str, str], name: str) -> Allowlist:
    try:
        return Allowlist.parse(env.get(name, ""))
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def _networks(env: Mapping[str, str], name: str, default: str) -> str:
    """'10.0.0.5, 172.18.0.0/16': addresses or networks, comma-separated (uvicorn's own format)."""
    items = [i.strip() for i in (env.get(name, "").strip() or default).split(",") if i.strip()]
    for item in items:
        try:
            ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(
                f"{name}: {item!r} is not an IP address or network like 10.0.0.5 or 172.18.0.0/16"
            ) from None
    return ",".join(items)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    data_dir = Path(env.get("BATON_DATA_DIR", "").strip() or ".baton").expanduser().resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"BATON_DATA_DIR: {data_dir} exists and is not a directory")
    database_url = _url(env, "DATABASE_URL", ("postgresql", "postgres"))
    base_url = _url(env, "BATON_BASE_URL", ("http", "https")) or "http://127.0.0.1:8000"
    mail_from = env.get("BATON_MAIL_FROM", "").strip() or "baton@localhost"
    if "@" not in mail_from:
        raise ConfigError(f"BATON_MAIL_FROM: expected an email address, got {mail_from!r}")
    secret = env.get("BATON_SECRET_KEY", "").strip()
    if secret and len(secret) < 16:
        raise ConfigError("BATON_SECRET_KEY: must be at least 16 characters")
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        secret_key=secret,
        base_url=base_url.rstrip("/"),
        openai_base_url=_url(env, "OPENAI_BASE_URL", ("http", "https")),
        openai_api_key=env.get("OPENAI_API_KEY", "").strip() or None,
        model=env.get("BATON_MODEL", "").strip() or "gpt-4o-mini",
        smtp_url=_url(env, "SMTP_URL", ("smtp", "smtps")),
        mail_from=mail_from,
        log_format=_choice(env, "BATON_LOG_FORMAT", "text", ("text", "json")),
        default_tier=_choice(env, "BATON_DEFAULT_TIER", "free", TIERS),
        sandbox=_choice(env, "BATON_SANDBOX", "bwrap", ("bwrap", "unsafe-local")),
        workflow_modules=_module_list(env, "BATON_WORKFLOW_MODULES"),
        retention_days=_positive_int(env, "BATON_RETENTION_DAYS", 90),
        metrics_token=env.get("BATON_METRICS_TOKEN", "").strip() or None,
        doc_summary_rate=_rate(env, "BATON_DOC_SUMMARY_RATE", (20, 60.0)),
        doc_max_file_mb=_positive_int(env, "BATON_DOC_MAX_FILE_MB", 20),
        doc_max_total_mb=_positive_int(env, "BATON_DOC_MAX_TOTAL_MB", 200),
        csv_max_mb=_positive_int(env, "BATON_CSV_MAX_MB", 100),
        sandbox_disk_mb=_positive_int(env, "BATON_SANDBOX_DISK_MB", 1024),
        sandbox_tmp_mb=_positive_int(env, "BATON_SANDBOX_TMP_MB", 512),
        connector_allow=_allowlist(env, "BATON_CONNECTOR_ALLOW"),
        trusted_proxies=_networks(env, "BATON_TRUSTED_PROXIES", "127.0.0.1"),
        db_outage_max_s=_duration(env, "BATON_DB_OUTAGE_MAX", 300.0),
        base_url_configured=bool(env.get("BATON_BASE_URL", "").strip()),
        replay_worker_share=_share(env, "BATON_REPLAY_WORKER_SHARE", 0.25),
        worker_concurrency=_positive_int(env, "BATON_WORKER_CONCURRENCY", 8),
        wake_horizon_s=_duration(env, "BATON_WAKE_HORIZON", 300.0),
    )


def with_served_base_url(settings: Settings, host: str, port: int) -> Settings:
    """Without BATON_BASE_URL, links in mail point at the address this process serves. A wildcard
    host names no reachable address, so links then use this machine's loopback."""
    if settings.base_url_configured:
        return settings
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(
        host, f"[{host}]" if ":" in host else host
    )
    return replace(settings, base_url=f"http://{shown}:{port}")


def base_url_warning(settings: Settings, host: str) -> str | None:
    """People outside this machine get dead links unless the public address is configured."""
    if (
        settings.base_url_configured
        or host in ("127.0.0.1", "localhost", "::1")
        or host.startswith("127.")
    ):
        return None
    return (
        f"BATON_BASE_URL is not set: links in e-mails will point at {settings.base_url}, "
        "which people on other machines cannot open. Set it to the address they use."
    )


def with_secret_key(settings: Settings) -> Settings:
    """Fill in the secret key, generating one into the data dir the first time."""
    if settings.secret_key:
        return settings
    path = settings.data_dir / "secret_key"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written aside and linked into place so that two processes starting together agree.
        tmp = path.with_name(f".secret_key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    return Settings(**{**settings.__dict__, "secret_key": key})
