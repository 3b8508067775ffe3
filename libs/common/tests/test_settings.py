"""Outside dev mode a service refuses to start with missing or placeholder secrets."""

from typing import ClassVar

import pytest
from pydantic import ValidationError

from shopcommon.settings import ServiceSettings


class WithSecret(ServiceSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ("api_secret",)
    api_secret: str = ""


def test_dev_mode_accepts_empty_secrets() -> None:
    assert WithSecret(app_env="dev").is_dev


@pytest.mark.parametrize("value", ["", "changeme", "testtoken", "short", "my-placeholder-value-123"])
def test_prod_refuses_placeholder_secrets(value: str) -> None:
    with pytest.raises(ValidationError, match="api_secret"):
        WithSecret(app_env="prod", api_secret=value, database_url="postgresql://db/x")


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
