"""Checkout is the token issuer: Ed25519 signing keys, the JWKS, and minting access tokens.

Keys live in a directory (`CHECKOUT_JWT_KEYS_DIR`; in dev `.data/keys/`, generated on first run),
one PEM file per key, named by its `kid`. The newest key signs; every key in the directory is
published, so rotating (add a new key, keep the old one until its tokens expire) logs nobody out.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from shopcommon.auth import CLIENT_SCOPES, TokenVerifier


class KeyStore:
    def __init__(self, directory: Path, *, issuer: str, audience: str) -> None:
        self.directory = directory
        self.issuer = issuer
        self.audience = audience
        self._keys: list[tuple[str, Ed25519PrivateKey, float]] = []
        self._stamp = 0.0
        self._stamp = self._directory_stamp()
        self.reload()

    def reload(self) -> None:
        keys = []
        for path in sorted(self.directory.glob("*.pem")):
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (OSError, ValueError):
                continue  # removed or unreadable meanwhile: the other keys still serve
            if isinstance(key, Ed25519PrivateKey):
                keys.append((path.stem, key, path.stat().st_mtime))
        keys.sort(key=lambda k: (k[2], k[0]))
        if keys:
            self._keys = keys

    def _directory_stamp(self) -> float:
        try:
            return self.directory.stat().st_mtime
        except OSError:
            return self._stamp

    def refresh_if_changed(self) -> bool:
        """Reload when a key was added or removed (one stat call; cheap enough per token)."""
        stamp = self._directory_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        self.reload()
        return True

    @classmethod
    def open(cls, directory: Path, *, issuer: str, audience: str, create: bool) -> KeyStore:
        directory.mkdir(parents=True, exist_ok=True)
        if create and not any(directory.glob("*.pem")):
            cls.generate_key(directory)
        store = cls(directory, issuer=issuer, audience=audience)
        if not store._keys:
            raise RuntimeError(f"no Ed25519 signing key in {directory}")
        return store

    @staticmethod
    def generate_key(directory: Path) -> str:
        kid = time.strftime("%Y%m%d") + "-" + uuid.uuid4().hex[:8]
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Written under a temporary name and renamed, so a reader never sees half a key.
        tmp = directory / f".{kid}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.rename(tmp, directory / f"{kid}.pem")
        return kid

    @property
    def current_kid(self) -> str:
        return self._keys[-1][0]

    def jwks(self) -> dict[str, Any]:
        self.refresh_if_changed()
        keys = []
        for kid, key, _ in self._keys:
            jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
            jwk.update({"kid": kid, "alg": "EdDSA", "use": "sig"})
            keys.append(jwk)
        return {"keys": keys}

    def issue(self, *, sub: str, role: str, ttl: int, **claims: Any) -> tuple[str, dict[str, Any]]:
        self.refresh_if_changed()
        kid, key, _ = self._keys[-1]
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "role": role,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            **claims,
        }
        return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid}), payload

    def service_token(self, name: str = "checkout", ttl: int = 300) -> str:
        """A `service` token for checkout's own calls to other services."""
        scopes = " ".join(sorted(CLIENT_SCOPES.get(name, ())))
        return self.issue(sub=name, role="service", ttl=ttl, scope=scopes)[0]


class IssuerTokenVerifier(TokenVerifier):
    """Checkout's own verifier: its key store (no HTTP call to itself) plus, in dev mode only, the
    keys of `jwt_jwks_file` (tests sign with a throwaway issuer). A token naming an unknown `kid` reloads
    the store (at most once a second), so a key that another replica just added verifies here too;
    and the store is read again every `keys_ttl`, so a key removed from the directory (a compromised
    one) stops verifying without a restart."""

    def __init__(self, store: KeyStore, *, issuer: str, audience: str, extra_jwks_file: str = "") -> None:
        super().__init__(issuer=issuer, audience=audience)
        self.store = store
        self.extra_jwks_file = extra_jwks_file
        self._load_all()

    def keys_refetched(self) -> bool:
        return True

    def _load_all(self) -> None:
        keys = list(self.store.jwks()["keys"])
        if self.extra_jwks_file:
            keys += json.loads(Path(self.extra_jwks_file).read_text()).get("keys", [])
        self.load_jwks({"keys": keys})

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._last_fetch < self.refetch_interval:
                return
            self._last_fetch = time.monotonic()
            self.store.reload()
            try:
                self._load_all()
            except (OSError, ValueError):
                self.load_jwks(self.store.jwks())
