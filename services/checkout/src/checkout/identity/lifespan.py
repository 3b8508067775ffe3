from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from checkout.identity.keys import KeyStore
from shopcommon.devsecrets import data_dir


@asynccontextmanager
async def identity_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    if not settings.jwt_keys_dir and not settings.is_dev:
        raise RuntimeError("CHECKOUT_JWT_KEYS_DIR must name the signing keys outside dev mode")
    keys_dir = Path(settings.jwt_keys_dir) if settings.jwt_keys_dir else data_dir() / "keys"
    store = KeyStore.open(keys_dir, issuer=settings.jwt_issuer, audience=settings.jwt_audience, create=settings.is_dev)
    app.state.key_store = store
    # Checkout verifies with its own keys (no HTTP call to itself), plus any keys the settings name
    # (tests sign with a throwaway issuer whose JWKS file is given in `jwt_jwks_file`).
    verifier = app.state.token_verifier
    verifier.jwks_url = ""
    own = store.jwks()
    if settings.jwt_jwks_file:
        import json

        extra = json.loads(Path(settings.jwt_jwks_file).read_text())
        own = {"keys": own["keys"] + extra.get("keys", [])}
    verifier.load_jwks(own)
    yield
