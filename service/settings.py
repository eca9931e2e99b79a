"""Settings: read once from CONVERSA_* environment variables into one frozen object."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from limits import parse_many

from domain.classification import PRIORITIES, Priority
from domain.scores import HappinessWeights
from domain.targets import ResponseTargets

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# How long a webhook receiver may take to answer one delivery (to connect, and then to answer).
DEFAULT_WEBHOOK_TIMEOUT_SECONDS = 10
# Per agent (per address without a valid token), across the whole API: far above what a person at
# a screen or the test suite sends, low enough to stop a runaway script.
DEFAULT_RATE_LIMIT = "1200/minute"
# Counts in the memory of each worker process; redis://… shares one count between processes.
DEFAULT_RATE_LIMIT_STORAGE_URI = "memory://"
RATE_LIMIT_STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A host as a browser writes it in Origin: a name (IDNs in punycode) or an IP address.
_ORIGIN_HOST = re.compile(r"[a-z0-9.-]+|[0-9a-f:.]+")


class SettingsError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    bootstrap_token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    targets: ResponseTargets = field(default_factory=ResponseTargets)
    weights: HappinessWeights = field(default_factory=HappinessWeights)
    embedded_projector: bool = True
    rate_limit: str = DEFAULT_RATE_LIMIT
    rate_limit_storage_uri: str = DEFAULT_RATE_LIMIT_STORAGE_URI
    cors_origins: tuple[str, ...] = ()
    embedded_delivery: bool = True
    webhook_timeout_seconds: int = DEFAULT_WEBHOOK_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("CONVERSA_DATA_DIR", "var"))
        database_url = env.get("CONVERSA_DATABASE_URL") or f"sqlite:///{data_dir / 'conversa.sqlite'}"
        settings = cls(
            database_url=database_url,
            data_dir=data_dir,
            bootstrap_token=env.get("CONVERSA_BOOTSTRAP_TOKEN") or None,
            max_body_bytes=_positive_int(env, "CONVERSA_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            targets=ResponseTargets(
                first_response=_first_response_targets(env.get("CONVERSA_FIRST_RESPONSE_MINUTES")),
                resolution=timedelta(hours=_positive_int(env, "CONVERSA_RESOLUTION_HOURS", 72)),
            ),
            weights=_happiness_weights(env.get("CONVERSA_HAPPINESS_WEIGHTS")),
            embedded_projector=env.get("CONVERSA_EMBEDDED_PROJECTOR", "1") not in ("0", "false", "no"),
            rate_limit=_rate_limit(env.get("CONVERSA_RATE_LIMIT")),
            rate_limit_storage_uri=_rate_limit_storage_uri(env.get("CONVERSA_RATE_LIMIT_STORAGE_URI")),
            cors_origins=_cors_origins(env.get("CONVERSA_CORS_ORIGINS")),
            embedded_delivery=env.get("CONVERSA_EMBEDDED_DELIVERY", "1") not in ("0", "false", "no"),
            webhook_timeout_seconds=_positive_int(
                env, "CONVERSA_WEBHOOK_TIMEOUT_SECONDS", DEFAULT_WEBHOOK_TIMEOUT_SECONDS
            ),
        )
        settings.persistence_env()  # fail fast on a bad database URL
        return settings

    def persistence_env(self) -> dict[str, str]:
        """The eventsourcing environment for the configured database."""
        try:
            url = urlsplit(self.database_url)
        except ValueError:  # e.g. an unclosed [ of an IPv6 host; the URL may hold a password: not echoed
            raise SettingsError("CONVERSA_DATABASE_URL is not a URL like postgresql://user@host:5432/db") from None
        if url.scheme == "sqlite":
            path = unquote(url.path)
            if not path or path == "/":
                raise SettingsError("CONVERSA_DATABASE_URL sqlite:///PATH needs a file path")
            # sqlite:///var/x.sqlite is relative, sqlite:////abs/x.sqlite absolute (SQLAlchemy's form).
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": path[1:] if path.startswith("/") else path,
                "SQLITE_LOCK_TIMEOUT": "10",
            }
        if url.scheme in ("postgresql", "postgres"):
            try:
                port = url.port or 5432
            except ValueError:  # urllib's message names no setting
                raise SettingsError(
                    f"CONVERSA_DATABASE_URL needs a port from 1 to 65535, in {_redacted(self.database_url)!r}"
                ) from None
            env = {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
                "POSTGRES_HOST": url.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(port),
                "POSTGRES_USER": unquote(url.username or "postgres"),
                "POSTGRES_PASSWORD": unquote(url.password or ""),
                "POSTGRES_LOCK_TIMEOUT": "5",
                "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
            }
            for part in url.query.split("&"):
                key, _, value = part.partition("=")
                if key == "schema" and value:
                    env["POSTGRES_SCHEMA"] = unquote(value)
            return env
        raise SettingsError(
            f"CONVERSA_DATABASE_URL must start with sqlite:/// or postgresql://, not {_redacted(self.database_url)!r}"
        )


def _redacted(url: str) -> str:
    """The URL with its password replaced, fit for an error message or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, not {value}")
    return value


def _first_response_targets(raw: str | None) -> dict[Priority, timedelta]:
    """Parse 'urgent=15,high=60,medium=240,low=1440' (minutes); missing priorities keep defaults."""
    targets = ResponseTargets().first_response
    if not raw:
        return targets
    for part in raw.split(","):
        name, _, minutes = part.strip().partition("=")
        # isascii: str.isdigit() also holds for digits such as "²" that int() refuses.
        if name not in PRIORITIES or not (minutes.strip().isascii() and minutes.strip().isdigit()) or int(minutes) <= 0:
            raise SettingsError(
                "CONVERSA_FIRST_RESPONSE_MINUTES takes priority=minutes pairs, e.g. "
                f"'urgent=15,high=60,medium=240,low=1440', not {raw!r}"
            )
        targets[name] = timedelta(minutes=int(minutes))  # type: ignore[index]
    return targets


def _happiness_weights(raw: str | None) -> HappinessWeights:
    """Parse 'sentiment=0.3,csat=0.25,nps=0.25,service=0.2'; missing components keep defaults."""
    if not raw:
        return HappinessWeights()
    weights: dict[str, float] = {}
    for part in raw.split(","):
        name, _, value = part.strip().partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if name not in HappinessWeights.__dataclass_fields__ or not math.isfinite(weight) or weight < 0:
            raise SettingsError(
                "CONVERSA_HAPPINESS_WEIGHTS takes component=weight pairs, e.g. "
                f"'sentiment=0.3,csat=0.25,nps=0.25,service=0.2', not {raw!r}"
            )
        weights[name] = weight
    return HappinessWeights(**weights)


def _rate_limit(raw: str | None) -> str:
    """A rate limit in the `limits` notation: '1200/minute', or several such as '20/second;1200/minute'."""
    if raw is None or not raw.strip():
        return DEFAULT_RATE_LIMIT
    try:
        items = parse_many(raw)
    except ValueError:
        items = []
    if not items or any(item.amount < 1 for item in items):
        raise SettingsError(
            "CONVERSA_RATE_LIMIT takes requests per period, at least one, e.g. '1200/minute' or "
            f"'20/second;1200/minute', not {raw!r}"
        )
    return raw.strip()


def _rate_limit_storage_uri(raw: str | None) -> str:
    """memory:// (each worker process counts on its own) or a Redis URL (one count for all of them)."""
    if raw is None or raw == "":
        return DEFAULT_RATE_LIMIT_STORAGE_URI
    usage = "CONVERSA_RATE_LIMIT_STORAGE_URI must be memory:// or a Redis URL such as redis://host:6379/0"
    try:
        url = urlsplit(raw)
        url.port  # noqa: B018  # urllib checks the port only when asked for it
    except ValueError:  # the URL may hold a password: not echoed
        raise SettingsError(f"{usage}; this one cannot be parsed") from None
    if url.scheme not in RATE_LIMIT_STORAGE_SCHEMES or (url.scheme == "memory" and raw != "memory://"):
        raise SettingsError(f"{usage}, not {_redacted(raw)!r}")
    if url.scheme in ("redis", "rediss") and not url.hostname:
        raise SettingsError(f"{usage}: a host is missing in {_redacted(raw)!r}")
    if url.scheme == "redis+unix" and not url.path:
        raise SettingsError(f"{usage}: redis+unix:///PATH needs the socket's path")
    return raw


def _cors_origins(raw: str | None) -> tuple[str, ...]:
    """Comma-separated origins, each exactly as a browser sends it in Origin: scheme://host[:port]."""
    origins = tuple(part.strip() for part in (raw or "").split(",") if part.strip())
    for origin in origins:
        if not _is_serialized_origin(origin):
            raise SettingsError(
                "CONVERSA_CORS_ORIGINS takes exact origins separated by commas, as a browser sends them, "
                "e.g. 'https://crm.example.com,http://localhost:3000': http or https, a host, a port only "
                f"when it is not the default, no path and no '*'; not {origin!r}"
            )
    return origins


def _is_serialized_origin(value: str) -> bool:
    try:
        url = urlsplit(value)
        port = url.port
    except ValueError:
        return False
    return (
        url.scheme in _DEFAULT_PORTS
        and _ORIGIN_HOST.fullmatch(url.hostname or "") is not None
        and url.username is None
        and url.password is None
        and port != _DEFAULT_PORTS[url.scheme]
        and value == f"{url.scheme}://{url.netloc}"  # no path, query or fragment, not even an empty one
    )
