"""Settings every service shares.

Shared infrastructure URLs (`REDIS_URL`, `KAFKA_BOOTSTRAP_SERVERS`, `SMTP_URL`, `APP_ENV`, `JWT_*`)
are read without a prefix so one environment configures the whole system; what belongs to one
service (its database, its secrets) carries the service's prefix, e.g. `LOMS_DATABASE_URL`.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shopcommon.body_limit import DEFAULT_MAX_BODY_BYTES


class AppEnv(StrEnum):
    DEV = "dev"
    PROD = "prod"


def check_public_url(name: str, url: str) -> None:
    """Where people open the shop (the links e-mails carry), outside dev: an http(s) address of a
    host they can reach, not this machine's loopback, where every e-mailed link would lead nowhere."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost" or host.endswith(".localhost")
    if parts.scheme not in ("http", "https") or not host or loopback:
        raise ValueError(f"{name} must be the address people open the shop at (https://shop.example.com), not {url!r}")


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
    #: Copies of each topic a service creates when it is missing: 1 on a single broker (the embedded
    #: one, compose's Redpanda); 3 on a cluster, or an event the broker acknowledged (and the outbox
    #: then deleted) is lost with one broker's disk.
    kafka_topic_replication_factor: int = shared("KAFKA_TOPIC_REPLICATION_FACTOR", 1)

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


#: Shorter than this, a value is not a secret whatever it looks like.
MIN_SECRET_LENGTH = 12
#: Words people write where a secret belongs. A value made of nothing else (with short numbers,
#: runs of `x` and separators between them, e.g. `my-api-secret-2024`, `changeme123`,
#: `sk_live_xxxx`) is a placeholder; a generated secret never is (it would have to be *entirely*
#: such words), however many `xxx` or `secret` it happens to contain.
PLACEHOLDER_WORDS = frozenset(
    """
    an the my our your this that is it its here there put insert enter replace set use with for of to me
    please only not no real actual value values dummy fake sample example examples demo default
    defaults test tests testing testtoken temp tmp todo fixme tbd changeme change changed placeholder
    secret secrets password passwords passwd pass pwd passphrase token tokens key keys apikey api private
    public signing client clients otp jwt vapid smtp product products shop checkout loms notifications
    service services app application dev develop development local localhost prod production stage
    staging live sk pk none null nil empty undefined unset missing foo bar baz qux qwerty letmein admin
    root user guest hello world insecure unsafe random generated generate new old super very strong long
    good some any custom own mine yours
    """.split()  # noqa: SIM905 - a word list reads better as words
)
_LONGEST_PIECE = max(4, *map(len, PLACEHOLDER_WORDS))
_X_RUN = re.compile(r"x{3,}")
#: Runs of consecutive characters, as in `0123456789abcdef` or `qwertyuiop`.
_SEQUENCES = ("0123456789abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm")
#: Unexpanded templates: `<your secret>`, `${OTP_SECRET}`, `{{ secret }}`, `%SECRET%`.
_TEMPLATE = re.compile(r"<[^<>]*>|\$\{[^{}]*\}|\{\{.*?\}\}|%[a-z0-9_]+%", re.DOTALL)
#: Masks: `xxxxxxxx`, `****`, `####`, `...`.
_MASK = re.compile(r"x{8,}|\*{3,}|#{3,}|\.{3,}")
#: One character or a short run of them, repeated: `aaaaaaaaaaaa`, `abcabcabcabc`, `12121212...`.
_REPEATED = re.compile(r"(.{1,8}?)\1+", re.DOTALL)


def is_placeholder(value: str) -> bool:
    """True for an empty, short or written-by-hand stand-in for a secret, judged on the whole value;
    never for a randomly generated one (`secrets.token_urlsafe`, `openssl rand -hex`, a PEM key)."""
    v = value.strip().lower()
    if len(v) < MIN_SECRET_LENGTH or _TEMPLATE.search(v) or _MASK.search(v) or _REPEATED.fullmatch(v):
        return True
    if any(re.sub(r"[^a-z0-9]", "", v) in seq for seq in _SEQUENCES):
        return True
    words = [w for w in re.split(r"[^a-z0-9]+", v) if w]
    return all(_is_placeholder_word(w) for w in words)


def _is_filler(piece: str) -> bool:
    return piece == "#" or piece in PLACEHOLDER_WORDS or (piece.isdigit() and len(piece) <= 4)


def _is_placeholder_word(word: str) -> bool:
    """Whether `word` splits entirely into filler pieces (`mysecretkey2024` = my|secret|key|2024;
    a run of `x`, a mask, is one piece)."""
    word = _X_RUN.sub("#", word)
    splits = [True] + [False] * len(word)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - _LONGEST_PIECE), end):
            if splits[start] and _is_filler(word[start:end]):
                splits[end] = True
                break
        else:
            if not any(splits[max(0, end - _LONGEST_PIECE + 1) : end + 1]):
                return False  # no piece can bridge the gap any more
    return splits[-1]
