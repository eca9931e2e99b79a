"""Settings.from_env for rate limits and CORS: generous defaults, and clear refusals at start-up."""

from __future__ import annotations

import pytest
from limits import parse_many

from service.settings import DEFAULT_RATE_LIMIT, Settings, SettingsError


def from_env(**env: str) -> Settings:
    return Settings.from_env(env)


# ---- defaults -------------------------------------------------------------------------------------


def test_by_default_each_agent_may_send_1200_requests_a_minute_counted_per_process() -> None:
    settings = from_env()
    assert settings.rate_limit == DEFAULT_RATE_LIMIT == "1200/minute"
    assert settings.rate_limit_storage_uri == "memory://"


def test_by_default_no_origin_may_call_the_api_from_a_browser() -> None:
    assert from_env().cors_origins == ()


def test_settings_made_in_code_get_the_same_defaults_as_an_empty_environment() -> None:
    made = Settings(database_url="sqlite:///x.sqlite", data_dir=from_env().data_dir)
    assert (made.rate_limit, made.rate_limit_storage_uri, made.cors_origins) == (
        DEFAULT_RATE_LIMIT,
        "memory://",
        (),
    )


@pytest.mark.parametrize("name", ["CONVERSA_RATE_LIMIT", "CONVERSA_RATE_LIMIT_STORAGE_URI", "CONVERSA_CORS_ORIGINS"])
def test_an_empty_value_means_the_default(name: str) -> None:
    assert from_env(**{name: ""}) == from_env()


# ---- CONVERSA_RATE_LIMIT --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("60/minute", "60/minute"),
        ("10/second", "10/second"),
        ("5000 per hour", "5000 per hour"),
        (" 20/second;1200/minute ", "20/second;1200/minute"),
    ],
)
def test_a_rate_limit_in_the_limits_notation_is_kept(raw: str, expected: str) -> None:
    settings = from_env(CONVERSA_RATE_LIMIT=raw)
    assert settings.rate_limit == expected
    assert parse_many(settings.rate_limit)  # what Flask-Limiter will parse


@pytest.mark.parametrize("raw", ["lots", "1200", "1200/fortnight", "0/minute", "10/second;0/minute", "1200/minute;"])
def test_a_bad_rate_limit_is_a_settings_error_with_an_example(raw: str) -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(CONVERSA_RATE_LIMIT=raw)
    message = str(raised.value)
    assert "CONVERSA_RATE_LIMIT" in message
    assert "'1200/minute'" in message
    assert repr(raw) in message


# ---- CONVERSA_RATE_LIMIT_STORAGE_URI --------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "memory://",
        "redis://127.0.0.1:6379/0",
        "redis://:s3cret@redis.internal:6380/2",
        "rediss://redis.example.com:6379",
        "redis+unix:///run/redis/redis.sock",
    ],
)
def test_memory_and_redis_storage_uris_are_accepted(uri: str) -> None:
    assert from_env(CONVERSA_RATE_LIMIT_STORAGE_URI=uri).rate_limit_storage_uri == uri


@pytest.mark.parametrize(
    "uri",
    [
        "memcached://cache:11211",
        "postgresql://db/conversa",
        "localhost:6379",
        "memory",
        "memory://elsewhere",
        "redis://",
        "redis://h:notaport/0",
        "redis+unix://",
    ],
)
def test_an_unusable_storage_uri_is_a_settings_error_that_says_what_to_use(uri: str) -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(CONVERSA_RATE_LIMIT_STORAGE_URI=uri)
    message = str(raised.value)
    assert message.startswith("CONVERSA_RATE_LIMIT_STORAGE_URI must be memory:// or a Redis URL")
    assert "redis://host:6379/0" in message


@pytest.mark.parametrize("uri", ["rediz://ann:hunter2@cache:6379", "redis://ann:hunter2@cache:port/0"])
def test_a_refused_storage_uri_does_not_repeat_its_password(uri: str) -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(CONVERSA_RATE_LIMIT_STORAGE_URI=uri)
    assert "hunter2" not in str(raised.value)


# ---- CONVERSA_CORS_ORIGINS ------------------------------------------------------------------------


def test_cors_origins_are_read_as_a_comma_separated_list() -> None:
    settings = from_env(CONVERSA_CORS_ORIGINS=" https://crm.example.com, http://localhost:3000,,http://[::1]:8080 ")
    assert settings.cors_origins == ("https://crm.example.com", "http://localhost:3000", "http://[::1]:8080")


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "null",
        "crm.example.com",
        "https://crm.example.com/",
        "https://crm.example.com/app",
        "https://crm.example.com?x=1",
        "https://crm.example.com#top",
        "https://ann@crm.example.com",
        "ftp://crm.example.com",
        "https://crm.example.com:443",
        "http://crm.example.com:80",
        "https://crm.example.com:99999",
        "https://*.example.com",
        "https://",
    ],
)
def test_anything_but_an_exact_origin_is_a_settings_error_with_an_example(origin: str) -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(CONVERSA_CORS_ORIGINS=f"https://ok.example.com,{origin}")
    message = str(raised.value)
    assert message.startswith("CONVERSA_CORS_ORIGINS takes exact origins")
    assert "https://crm.example.com,http://localhost:3000" in message
    assert message.endswith(f"not {origin!r}")
