"""Settings.from_env: defaults, the database URL, response targets and limits, and clear refusals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from domain.scores import HappinessWeights
from domain.targets import ResponseTargets
from service.settings import DEFAULT_MAX_BODY_BYTES, Settings, SettingsError

DEFAULT_FIRST_RESPONSE = {
    "urgent": timedelta(minutes=15),
    "high": timedelta(hours=1),
    "medium": timedelta(hours=4),
    "low": timedelta(hours=24),
}


def from_env(**env: str) -> Settings:
    return Settings.from_env(env)


# ---- defaults -------------------------------------------------------------------------------------


def test_an_empty_environment_gives_a_sqlite_file_under_var() -> None:
    settings = from_env()
    assert settings.data_dir == Path("var")
    assert settings.database_url == "sqlite:///var/conversa.sqlite"
    env = settings.persistence_env()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == "var/conversa.sqlite"


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = from_env()
    assert settings.bootstrap_token is None
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 1024 * 1024
    assert settings.targets.first_response == DEFAULT_FIRST_RESPONSE
    assert settings.targets.resolution == timedelta(days=3)
    assert settings.weights == HappinessWeights(sentiment=0.30, csat=0.25, nps=0.25, service=0.20)
    assert settings.embedded_projector is True


def test_the_sqlite_file_lives_under_a_relative_data_dir() -> None:
    settings = from_env(CONVERSA_DATA_DIR="data/conversa")
    assert settings.data_dir == Path("data/conversa")
    assert settings.persistence_env()["SQLITE_DBNAME"] == "data/conversa/conversa.sqlite"


def test_the_sqlite_file_lives_under_an_absolute_data_dir(tmp_path: Path) -> None:
    settings = from_env(CONVERSA_DATA_DIR=str(tmp_path))
    assert settings.data_dir == tmp_path
    assert settings.persistence_env()["SQLITE_DBNAME"] == str(tmp_path / "conversa.sqlite")


def test_an_explicit_sqlite_url_wins_over_the_data_dir() -> None:
    settings = from_env(CONVERSA_DATA_DIR="elsewhere", CONVERSA_DATABASE_URL="sqlite:////srv/conversa/events.db")
    assert settings.persistence_env()["SQLITE_DBNAME"] == "/srv/conversa/events.db"


def test_an_empty_database_url_means_the_default() -> None:
    assert from_env(CONVERSA_DATABASE_URL="").database_url == "sqlite:///var/conversa.sqlite"


def test_an_empty_bootstrap_token_means_none_and_a_set_one_is_kept() -> None:
    assert from_env(CONVERSA_BOOTSTRAP_TOKEN="").bootstrap_token is None
    assert from_env(CONVERSA_BOOTSTRAP_TOKEN="cnv_first").bootstrap_token == "cnv_first"


@pytest.mark.parametrize(("raw", "expected"), [("0", False), ("false", False), ("no", False), ("1", True)])
def test_the_embedded_projector_can_be_switched_off(raw: str, expected: bool) -> None:
    assert from_env(CONVERSA_EMBEDDED_PROJECTOR=raw).embedded_projector is expected


def test_settings_read_the_process_environment_when_given_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVERSA_MAX_BODY_BYTES", "4096")
    monkeypatch.delenv("CONVERSA_DATABASE_URL", raising=False)
    assert Settings.from_env().max_body_bytes == 4096


# ---- the database URL -----------------------------------------------------------------------------


def test_a_postgresql_url_is_parsed_into_the_eventsourcing_environment() -> None:
    settings = from_env(CONVERSA_DATABASE_URL="postgresql://conversa:s3cret@db.example.com:6543/crm?schema=tenant_a")
    env = settings.persistence_env()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert env["POSTGRES_HOST"] == "db.example.com"
    assert env["POSTGRES_PORT"] == "6543"
    assert env["POSTGRES_USER"] == "conversa"
    assert env["POSTGRES_PASSWORD"] == "s3cret"
    assert env["POSTGRES_DBNAME"] == "crm"
    assert env["POSTGRES_SCHEMA"] == "tenant_a"
    assert "SQLITE_DBNAME" not in env


def test_a_bare_postgresql_url_gets_the_usual_defaults() -> None:
    env = from_env(CONVERSA_DATABASE_URL="postgresql://db.example.com").persistence_env()
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db.example.com", "5432")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DBNAME"]) == ("postgres", "", "postgres")
    assert "POSTGRES_SCHEMA" not in env


def test_the_postgres_scheme_alias_is_accepted() -> None:
    env = from_env(CONVERSA_DATABASE_URL="postgres://u@h/d").persistence_env()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_USER"], env["POSTGRES_HOST"], env["POSTGRES_DBNAME"]) == ("u", "h", "d")


def test_percent_escapes_in_the_user_password_and_schema_are_decoded() -> None:
    url = "postgresql://ann%40crm:p%40ss%2Fw%3Ard@h:5432/d?sslmode=require&schema=my%20schema"
    env = from_env(CONVERSA_DATABASE_URL=url).persistence_env()
    assert env["POSTGRES_USER"] == "ann@crm"
    assert env["POSTGRES_PASSWORD"] == "p@ss/w:rd"
    assert env["POSTGRES_SCHEMA"] == "my schema"


def test_an_ipv6_host_is_read_without_its_brackets() -> None:
    env = from_env(CONVERSA_DATABASE_URL="postgresql://u@[::1]:6000/d").persistence_env()
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("::1", "6000")


@pytest.mark.parametrize(
    "url", ["mysql://u:p@h/d", "http://example.com/db", "var/conversa.sqlite", "sqlite+pysqlite:///x.db"]
)
def test_an_unknown_url_scheme_is_a_settings_error_that_says_what_to_use(url: str) -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(CONVERSA_DATABASE_URL=url)
    message = str(raised.value)
    assert "CONVERSA_DATABASE_URL" in message
    assert "sqlite:///" in message and "postgresql://" in message


def test_a_refused_url_does_not_repeat_its_password() -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(CONVERSA_DATABASE_URL="mysql://bob:hunter2@db.example.com/crm")
    assert "hunter2" not in str(raised.value)
    assert "db.example.com" in str(raised.value)  # the rest of it helps to find the mistake


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite://"])
def test_a_sqlite_url_without_a_path_is_a_settings_error(url: str) -> None:
    with pytest.raises(SettingsError, match=r"CONVERSA_DATABASE_URL sqlite:///PATH needs a file path"):
        from_env(CONVERSA_DATABASE_URL=url)


@pytest.mark.parametrize("url", ["postgresql://u:pw@h:notaport/d", "postgresql://u:pw@h:99999/d"])
def test_a_postgresql_url_with_a_bad_port_is_a_settings_error(url: str) -> None:
    with pytest.raises(SettingsError, match="CONVERSA_DATABASE_URL") as raised:
        from_env(CONVERSA_DATABASE_URL=url)
    assert "port" in str(raised.value)
    assert ":pw@" not in str(raised.value)


def test_a_url_that_cannot_be_parsed_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="CONVERSA_DATABASE_URL"):
        from_env(CONVERSA_DATABASE_URL="postgresql://u:secret@[::1/d")


# ---- response targets -----------------------------------------------------------------------------


def test_first_response_minutes_override_the_named_priorities_and_keep_the_others() -> None:
    settings = from_env(CONVERSA_FIRST_RESPONSE_MINUTES="urgent=5,low=600")
    assert settings.targets.first_response == {
        "urgent": timedelta(minutes=5),
        "high": timedelta(hours=1),
        "medium": timedelta(hours=4),
        "low": timedelta(minutes=600),
    }


def test_first_response_minutes_may_have_spaces_around_pairs_and_numbers() -> None:
    settings = from_env(CONVERSA_FIRST_RESPONSE_MINUTES=" urgent=10 , high= 30")
    assert settings.targets.first_response["urgent"] == timedelta(minutes=10)
    assert settings.targets.first_response["high"] == timedelta(minutes=30)


def test_an_empty_first_response_setting_keeps_the_defaults() -> None:
    assert from_env(CONVERSA_FIRST_RESPONSE_MINUTES="").targets.first_response == DEFAULT_FIRST_RESPONSE


def test_overriding_targets_leaves_the_defaults_of_other_settings_alone() -> None:
    from_env(CONVERSA_FIRST_RESPONSE_MINUTES="urgent=1,high=2,medium=3,low=4")
    assert ResponseTargets().first_response == DEFAULT_FIRST_RESPONSE
    assert from_env().targets.first_response == DEFAULT_FIRST_RESPONSE


@pytest.mark.parametrize(
    "raw",
    [
        "urgent=0",
        "urgent=-5",
        "urgent=soon",
        "urgent=1.5",
        "urgent=",
        "urgent",
        "critical=10",
        "URGENT=10",
        "urgent:10",
        "urgent=10;high=20",
        "urgent=²",
        "high=60,sometime=5",
    ],
)
def test_bad_first_response_minutes_are_a_settings_error_with_an_example(raw: str) -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(CONVERSA_FIRST_RESPONSE_MINUTES=raw)
    message = str(raised.value)
    assert "CONVERSA_FIRST_RESPONSE_MINUTES" in message
    assert "urgent=15,high=60,medium=240,low=1440" in message
    assert repr(raw) in message


def test_resolution_hours_set_the_resolution_target() -> None:
    assert from_env(CONVERSA_RESOLUTION_HOURS="24").targets.resolution == timedelta(hours=24)


# ---- numeric limits -------------------------------------------------------------------------------


def test_max_body_bytes_is_read_as_a_whole_number() -> None:
    assert from_env(CONVERSA_MAX_BODY_BYTES="2048").max_body_bytes == 2048


@pytest.mark.parametrize("raw", ["lots", "1MiB", "1e6", "10.5"])
def test_a_non_numeric_max_body_bytes_is_a_settings_error(raw: str) -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(CONVERSA_MAX_BODY_BYTES=raw)
    assert str(raised.value) == f"CONVERSA_MAX_BODY_BYTES must be a whole number, not {raw!r}"


@pytest.mark.parametrize("raw", ["0", "-1"])
def test_a_max_body_bytes_below_one_is_a_settings_error(raw: str) -> None:
    with pytest.raises(SettingsError, match="CONVERSA_MAX_BODY_BYTES must be positive"):
        from_env(CONVERSA_MAX_BODY_BYTES=raw)


@pytest.mark.parametrize("raw", ["three days", "0"])
def test_bad_resolution_hours_are_a_settings_error(raw: str) -> None:
    with pytest.raises(SettingsError, match="CONVERSA_RESOLUTION_HOURS"):
        from_env(CONVERSA_RESOLUTION_HOURS=raw)


# ---- happiness weights ----------------------------------------------------------------------------


def test_happiness_weights_override_the_named_components_and_keep_the_others() -> None:
    weights = from_env(CONVERSA_HAPPINESS_WEIGHTS="sentiment=0.5,service=0").weights
    assert weights == HappinessWeights(sentiment=0.5, csat=0.25, nps=0.25, service=0.0)


@pytest.mark.parametrize("raw", ["mood=1", "sentiment=-0.1", "sentiment=heavy", "sentiment=nan", "csat=inf"])
def test_bad_happiness_weights_are_a_settings_error(raw: str) -> None:
    with pytest.raises(SettingsError, match="CONVERSA_HAPPINESS_WEIGHTS"):
        from_env(CONVERSA_HAPPINESS_WEIGHTS=raw)
