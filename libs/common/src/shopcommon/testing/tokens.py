"""A throwaway Ed25519 issuer for tests of services that only verify tokens."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from shopcommon.auth import CLIENT_SCOPES

ISSUER = "shop-checkout"
AUDIENCE = "shop"


class TestIssuer:
    __test__ = False

    def __init__(self, directory: Path) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.kid = "test-" + uuid.uuid4().hex[:8]
        self.jwks_path = directory / "jwks.json"
        jwk = json.loads(OKPAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "alg": "EdDSA", "use": "sig"})
        self.jwks = {"keys": [jwk]}
        directory.mkdir(parents=True, exist_ok=True)
        self.jwks_path.write_text(json.dumps(self.jwks))

    @property
    def public_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def token(
        self,
        sub: str | int,
        role: str,
        *,
        ttl: int = 900,
        key: Ed25519PrivateKey | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(sub),
            "role": role,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        if role == "service" and "scope" not in claims:
            # As checkout issues them: a known client gets its configured scopes, others none.
            payload["scope"] = " ".join(sorted(CLIENT_SCOPES.get(str(sub), ())))
        payload.update(claims)
        return jwt.encode(payload, key or self.key, algorithm="EdDSA", headers={"kid": self.kid, **(headers or {})})

    def auth(self, sub: str | int, role: str, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, role, **kw)}"}
