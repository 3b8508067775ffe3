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


class KeyStore:
    def __init__(self, directory: Path, *, issuer: str, audience: str) -> None:
        self.directory = directory
        self.issuer = issuer
        self.audience = audience
        self._keys: list[tuple[str, Ed25519PrivateKey, float]] = []
        self.reload()

    def reload(self) -> None:
        keys = []
        for path in sorted(self.directory.glob("*.pem")):
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if isinstance(key, Ed25519PrivateKey):
                keys.append((path.stem, key, path.stat().st_mtime))
        keys.sort(key=lambda k: (k[2], k[0]))
        self._keys = keys

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
        path = directory / f"{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return kid

    @property
    def current_kid(self) -> str:
        return self._keys[-1][0]

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key, _ in self._keys:
            jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
            jwk.update({"kid": kid, "alg": "EdDSA", "use": "sig"})
            keys.append(jwk)
        return {"keys": keys}

    def issue(self, *, sub: str, role: str, ttl: int, **claims: Any) -> tuple[str, dict[str, Any]]:
        kid, key, _ = self._keys[-1]
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer, "aud": self.audience, "sub": sub, "role": role,
            "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex, **claims,
        }
        return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid}), payload

    def service_token(self, name: str = "checkout", ttl: int = 300) -> str:
        """A `service` token for checkout's own calls to other services."""
        return self.issue(sub=name, role="service", ttl=ttl)[0]
