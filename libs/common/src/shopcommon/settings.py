"""Settings every service shares.

Shared infrastructure URLs (`REDIS_URL`, `KAFKA_BOOTSTRAP_SERVERS`, `SMTP_URL`, `APP_ENV`, `JWT_*`)
are read without a prefix so one environment configures the whole system; what belongs to one
service (its database, its secrets) carries the service's prefix, e.g. `LOMS_DATABASE_URL`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shopcommon.body_limit import DEFAULT_MAX_BODY_BYTES

PLACEHOLDER_MARKERS = ("changeme", "change-me", "placeholder", "secret", "testtoken", "dev-only", "xxx")


class AppEnv(StrEnum):
    DEV = "dev"
    PROD = "prod"


def shared(name: str, default: Any) -> Any:
    """A field read from an unprefixed variable (and from the prefixed one as well)."""
    return Field(default=default, validation_alias=AliasChoices(name, name.lower()))


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    #: Settings names that hold secrets: refused outside dev when empty or a placeholder.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    service_name: str = "service"
    #: `prod` unless said otherwise: a deployment that forgets APP_ENV must not get demo accounts and
    #: generated keys. `make run`, `make test` and the tools set `dev` themselves.
    app_env: AppEnv = shared("APP_ENV", AppEnv.PROD)
    log_level: str = shared("LOG_LEVEL", "INFO")
    log_json: bool = shared("LOG_JSON", True)

    database_url: str = ""
    db_pool_size: int = 10
    db_max_overflow: int = 10
    #: Size of the plain asyncpg pool of services that use one for hot paths.
    db_raw_pool_size: int = 20
    #: The largest request body a route accepts unless it declares its own (`shopcommon.body_limit`).
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=0)
    redis_url: str = shared("REDIS_URL", "redis://127.0.0.1:16379/0")
    kafka_bootstrap_servers: str = shared("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")

    jwt_issuer: str = shared("JWT_ISSUER", "shop-checkout")
    jwt_audience: str = shared("JWT_AUDIENCE", "shop")
    #: Where the public keys are published (checkout's JWKS) ...
    jwt_jwks_url: str = shared("JWT_JWKS_URL", "http://127.0.0.1:9000/.well-known/jwks.json")
    #: ... or a PEM public key / path to a JWKS file used instead of fetching.
    jwt_public_key: str = shared("JWT_PUBLIC_KEY", "")
    jwt_jwks_file: str = shared("JWT_JWKS_FILE", "")

    @property
    def is_dev(self) -> bool:
        return self.app_env == AppEnv.DEV

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.is_dev:
            return self
        bad = [name for name in self.secret_fields if is_placeholder(str(getattr(self, name, "") or ""))]
        if bad:
            raise ValueError(
                f"APP_ENV={self.app_env}: refusing to start with missing or placeholder secrets: {', '.join(bad)}"
            )
        if not self.database_url:
            raise ValueError("database_url must be set outside dev mode")
        return self


def is_placeholder(value: str) -> bool:
    v = value.strip().lower()
    return len(v) < 12 or any(marker in v for marker in PLACEHOLDER_MARKERS)
