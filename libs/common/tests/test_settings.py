"""Outside dev mode a service refuses to start with missing or placeholder secrets."""

import secrets
from typing import ClassVar

import pytest
from pydantic import ValidationError

from shopcommon.settings import ServiceSettings, is_placeholder


class WithSecret(ServiceSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ("api_secret",)
    api_secret: str = ""


def test_dev_mode_accepts_empty_secrets() -> None:
    assert WithSecret(app_env="dev").is_dev


@pytest.mark.parametrize("value", ["", "changeme", "testtoken", "short", "my-placeholder-value-123"])
def test_prod_refuses_placeholder_secrets(value: str) -> None:
    with pytest.raises(ValidationError, match="api_secret"):
        WithSecret(app_env="prod", api_secret=value, database_url="postgresql://db/x")


@pytest.mark.parametrize(
    "value",
    [
        "CHANGEME",
        "change-me-please",
        "changeme123456",
        "your-secret-here",
        "<your secret here>",
        "${OTP_SECRET}",
        "{{ otp_secret }}",
        "%OTP_SECRET%",
        "placeholder-token",
        "my-api-key-2024",
        "mysecretpassword",
        "super_secret_dev_only",
        "production-otp-secret",
        "sk_live_xxxxxxxxxxxx",
        "xxxxxxxxxxxxxxxx",
        "XXXX-XXXX-XXXX-XXXX",
        "****************",
        "aaaaaaaaaaaaaaaa",
        "abcabcabcabcabcabc",
        "0123456789abcdef",
        "qwertyuiopasdfgh",
        "   secret   ",
    ],
)
def test_a_placeholder_is_recognised_whole(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize(
    "value",
    [
        "q8Zr3v0PnLw1Xs7tYb2Kd9Fh",
        "Xxx9vLq8ZmPw4rTa2Kd9",  # generated values may hold `xxx` ...
        "a7Kxxxq2-Lm9Wv4Ks8PzT",
        "k3Y-9fQ2-vLx7-Wm4p-xXx",
        "Bq7Zr2secretLm9Wv4Ks8P",  # ... or a word
        "placeholderQ9zT7LkP2mN4vB",
        "2f1c9a7be04d5e63c8b1f0a9d7e6c5b4",
    ],
)
def test_a_generated_secret_is_not_a_placeholder_whatever_it_contains(value: str) -> None:
    assert not is_placeholder(value)


def test_no_random_secret_is_taken_for_a_placeholder() -> None:
    values = [secrets.token_urlsafe(32) for _ in range(10_000)] + [secrets.token_hex(16) for _ in range(2_000)]
    assert [v for v in values if is_placeholder(v)] == []


def test_a_random_secret_with_xxx_in_it_is_accepted_in_prod() -> None:
    secret = secrets.token_urlsafe(16) + "xxx" + secrets.token_urlsafe(16)
    assert not WithSecret(app_env="prod", api_secret=secret, database_url="postgresql://db/x").is_dev


def test_prod_refuses_a_missing_database_url() -> None:
    with pytest.raises(ValidationError, match="database_url"):
        WithSecret(app_env="prod", api_secret="q8Zr3v0PnLw1Xs7tYb2Kd9Fh")


def test_prod_accepts_real_secrets() -> None:
    s = WithSecret(app_env="prod", api_secret="q8Zr3v0PnLw1Xs7tYb2Kd9Fh", database_url="postgresql://db/x")
    assert not s.is_dev


def test_shared_variables_need_no_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:6379/2")
    assert WithSecret().redis_url == "redis://elsewhere:6379/2"


def test_without_app_env_a_service_is_in_prod_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_ENV", raising=False)
    with pytest.raises(ValidationError, match="api_secret"):
        WithSecret(database_url="postgresql://db/x")
