from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from checkout.identity import passwords, queries, tokens
from checkout.identity.clientaddr import TrustedProxies
from checkout.identity.clients import ServiceClients
from checkout.identity.keys import IssuerTokenVerifier, KeyStore
from checkout.identity.mailer import Mailer
from checkout.identity.otp import OneTimeCodes
from checkout.identity.ratelimit import RateLimiter
from checkout.identity.settings import IdentitySettings
from shopcommon.devsecrets import data_dir, dev_secret
from shopcommon.settings import is_placeholder

log = logging.getLogger(__name__)
CLEANUP_INTERVAL = 3600.0
#: Where mail goes in dev mode when `SMTP_URL` is not set: the embedded catcher of `make run`.
DEV_SMTP_URL = "smtp://127.0.0.1:1025"


@dataclass(frozen=True)
class Identity:
    """Everything identity needs at request time, built once per process."""

    settings: IdentitySettings
    keys: KeyStore
    clients: ServiceClients
    limiter: RateLimiter
    codes: OneTimeCodes
    mailer: Mailer
    proxies: TrustedProxies
    dev: bool

    @property
    def cookie_secure(self) -> bool:
        return self.settings.cookie_secure if self.settings.cookie_secure is not None else not self.dev


def _otp_secret(settings: IdentitySettings, dev: bool) -> str:
    if settings.otp_secret:
        if not dev and is_placeholder(settings.otp_secret):
            raise RuntimeError("CHECKOUT_OTP_SECRET is a placeholder; set a real secret outside dev mode")
        return settings.otp_secret
    if not dev:
        raise RuntimeError("CHECKOUT_OTP_SECRET must be set outside dev mode")
    return dev_secret("otp-secret")


def _smtp_url(settings: IdentitySettings, dev: bool) -> str:
    """Outside dev there is no default: one-time codes must not land in an unauthenticated catcher."""
    if settings.smtp_url.strip():
        return settings.smtp_url.strip()
    if not dev:
        raise RuntimeError("SMTP_URL must name the outgoing mail server outside dev mode (one-time codes go by mail)")
    return DEV_SMTP_URL


def _extra_jwks_file(jwks_file: str, dev: bool) -> str:
    """Checkout verifies with its own keys (no HTTP call to itself). In dev it also trusts the keys
    of `JWT_JWKS_FILE` (tests sign with a throwaway issuer); never outside dev, where whoever could
    write that one file could mint tokens of any role."""
    if jwks_file and not dev:
        log.warning("JWT_JWKS_FILE is ignored outside dev mode: checkout trusts only its own signing keys")
        return ""
    return jwks_file


async def _cleanup_loop(app: FastAPI) -> None:
    settings: IdentitySettings = app.state.settings
    while True:
        try:
            removed = await tokens.delete_expired(app.state.sessionmaker)
            if removed:
                log.info("removed %d expired refresh tokens", removed)
            dropped = await queries.delete_unconfirmed(app.state.sessionmaker, settings.unconfirmed_account_ttl)
            if dropped:
                log.info("removed %d registrations never confirmed", dropped)
        except Exception:  # a failed sweep is retried next hour; it must not end the loop
            log.exception("identity cleanup failed")
        await asyncio.sleep(CLEANUP_INTERVAL)


@asynccontextmanager
async def identity_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    dev = bool(settings.is_dev)
    if not settings.jwt_keys_dir and not dev:
        raise RuntimeError("CHECKOUT_JWT_KEYS_DIR must name the signing keys outside dev mode")
    keys_dir = Path(settings.jwt_keys_dir) if settings.jwt_keys_dir else data_dir() / "keys"
    store = KeyStore.open(keys_dir, issuer=settings.jwt_issuer, audience=settings.jwt_audience, create=dev)
    app.state.key_store = store
    extra_jwks_file = _extra_jwks_file(settings.jwt_jwks_file, dev)
    app.state.token_verifier = IssuerTokenVerifier(
        store, issuer=settings.jwt_issuer, audience=settings.jwt_audience, extra_jwks_file=extra_jwks_file
    )
    passwords.limit_concurrency(settings.password_hash_concurrency)
    app.state.identity = Identity(
        settings=settings,
        keys=store,
        clients=ServiceClients.parse(settings.service_clients, dev=dev),
        limiter=RateLimiter(app.state.redis, settings.rate_limit_window, prefix=settings.identity_redis_prefix),
        codes=OneTimeCodes(
            app.state.redis,
            secret=_otp_secret(settings, dev),
            ttl=settings.otp_ttl,
            max_attempts=settings.otp_max_attempts,
            live_codes=settings.otp_live_codes,
            prefix=settings.identity_redis_prefix,
        ),
        mailer=Mailer(_smtp_url(settings, dev), settings.mail_from, settings.smtp_timeout),
        proxies=TrustedProxies.parse(settings.forwarded_allow_ips),
        dev=dev,
    )
    cleanup = asyncio.create_task(_cleanup_loop(app), name="refresh-token-cleanup")
    try:
        yield
    finally:
        cleanup.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cleanup
