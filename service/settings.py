"""Settings: read once from CONVERSA_* environment variables into one frozen object."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from domain.classification import PRIORITIES, Priority
from domain.scores import HappinessWeights
from domain.targets import ResponseTargets

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


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
