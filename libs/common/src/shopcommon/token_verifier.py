"""Verifying the EdDSA access tokens that checkout issues.

Keys come from checkout's JWKS (fetched, cached, refetched when a token names an unknown `kid`,
so key rotation needs no restart), from a JWKS file, or from one configured PEM public key.
Only `EdDSA` is accepted: `alg: none` and HMAC tokens signed with the public key are refused
before any key is looked at.

A token that verified is remembered (`VerifiedTokens`, keyed by the token's exact text) for a few
seconds, never past its own `exp`: every authenticated request of a client sends the same token,
and the signature check and JSON decoding were most of a cached read's CPU. Nothing else decides
from the token: an account's deactivation ends its refresh tokens and sign-ins (checkout reads
`active` there), never an access token's verification, so remembering changes no answer; a key
removed from the JWKS stops being trusted `keys_ttl` plus at most `cache_ttl` seconds later.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import PyJWK

from shopcommon.problems import Unauthorized
from shopcommon.roles import Role

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"


class VerifiedTokens:
    """Claims of tokens that verified, each until min(its `exp`, `ttl` seconds after it was
    checked); at most `capacity` tokens (the least recently used go first). Failures are not kept."""

    def __init__(self, *, ttl: float = 5.0, capacity: int = 2048) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    def get(self, token: str) -> dict[str, Any] | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[0] <= time.time():
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return dict(entry[1])  # a copy: whoever holds the claims cannot change what the next caller gets

    def put(self, token: str, claims: dict[str, Any]) -> None:
        until = min(float(claims["exp"]), time.time() + self.ttl)
        if self.ttl <= 0 or self.capacity <= 0 or until <= time.time():
            return
        self._entries[token] = (until, dict(claims))
        self._entries.move_to_end(token)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str = "",
        jwks_file: str = "",
        public_key_pem: str = "",
        refetch_interval: float = 1.0,
        leeway: float = 5.0,
        keys_ttl: float = 300.0,
        cache_ttl: float = 5.0,
        cache_size: int = 2048,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.jwks_file = jwks_file
        self.refetch_interval = refetch_interval
        self.leeway = leeway
        #: The whole key set is refetched at least this often, so a key removed from the JWKS
        #: (say, a compromised one) stops being trusted without a restart.
        self.keys_ttl = keys_ttl
        #: Tokens that verified, remembered briefly (see the module's docstring).
        self.verified = VerifiedTokens(ttl=cache_ttl, capacity=cache_size)
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._static_key: Ed25519PublicKey | None = None
        self._last_fetch = 0.0
        self._lock = asyncio.Lock()
        self._http: httpx.AsyncClient | None = None
        if public_key_pem:
            key = load_pem_public_key(public_key_pem.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("JWT_PUBLIC_KEY must be an Ed25519 public key")
            self._static_key = key

    def keys_refetched(self) -> bool:
        """Whether the keys come from somewhere they can be read again (`keys_ttl`)."""
        return bool(self.jwks_url or self.jwks_file)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    def load_jwks(self, jwks: dict[str, Any]) -> None:
        keys: dict[str, Ed25519PublicKey] = {}
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or "kid" not in jwk:
                continue
            key = PyJWK(jwk, algorithm=ALGORITHM).key
            if isinstance(key, Ed25519PublicKey):
                keys[jwk["kid"]] = key
        self._keys = keys

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._last_fetch < self.refetch_interval:
                return
            self._last_fetch = time.monotonic()
            try:
                if self.jwks_file:
                    self.load_jwks(json.loads(Path(self.jwks_file).read_text()))
                elif self.jwks_url:
                    if self._http is None:
                        self._http = httpx.AsyncClient(timeout=3.0)
                    resp = await self._http.get(self.jwks_url)
                    resp.raise_for_status()
                    self.load_jwks(resp.json())
            except (httpx.HTTPError, OSError, ValueError) as exc:
                log.warning("could not load JWKS: %s", exc)

    async def _key_for(self, kid: str | None) -> Ed25519PublicKey:
        if self._static_key is not None and (not kid or not self._keys):
            return self._static_key
        if self.keys_refetched() and time.monotonic() - self._last_fetch > self.keys_ttl:
            await self._refresh()
        if kid and kid in self._keys:
            return self._keys[kid]
        await self._refresh()
        if kid and kid in self._keys:
            return self._keys[kid]
        raise Unauthorized("Token signed by an unknown key")

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; `Unauthorized` for anything not acceptable."""
        claims = self.verified.get(token)
        if claims is None:
            claims = await self._verify(token)
            self.verified.put(token, claims)
        return claims

    async def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("Malformed token") from exc
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("Token algorithm not accepted")
        key = await self._key_for(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Token expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"Invalid token: {exc}") from exc
        if claims.get("typ", "access") != "access":
            raise Unauthorized("Not an access token")
        try:
            Role(str(claims.get("role")))
        except ValueError as exc:
            raise Unauthorized("Token carries an unknown role") from exc
        return claims
