"""Verifying the EdDSA access tokens that checkout issues, and who may do what.

Keys come from checkout's JWKS (fetched, cached, refetched when a token names an unknown `kid`,
so key rotation needs no restart), from a JWKS file, or from one configured PEM public key.
Only `EdDSA` is accepted: `alg: none` and HMAC tokens signed with the public key are refused
before any key is looked at.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from jwt import PyJWK

from shopcommon.problems import Forbidden, NotFound, Unauthorized

log = logging.getLogger(__name__)

ACCESS_COOKIE = "access_token"
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALGORITHM = "EdDSA"


class Role(StrEnum):
    CUSTOMER = "customer"
    WORKER = "worker"
    MANAGER = "manager"
    SERVICE = "service"


class Scope(StrEnum):
    """What a `service` caller may do for users. People are governed by their role alone; a
    service token carries only the scopes its client was granted (claim `scope`, space-separated,
    as RFC 9068 spells it), so a leaked notifications secret cannot create or pay orders."""

    USERS_READ = "users:read"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    STOCK_READ = "stock:read"
    STOCK_WRITE = "stock:write"


#: The scopes each known service client gets unless configured otherwise: the least each needs.
CLIENT_SCOPES: dict[str, frozenset[Scope]] = {
    "checkout": frozenset({Scope.ORDERS_READ, Scope.ORDERS_WRITE}),
    "notifications": frozenset({Scope.USERS_READ}),
    "loms": frozenset({Scope.USERS_READ}),
}


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    claims: dict[str, Any] = field(default_factory=dict)
    token: str = ""

    @property
    def user_id(self) -> int | None:
        """The user id for people; None for service callers."""
        if self.role == Role.SERVICE:
            return None
        try:
            return int(self.subject)
        except ValueError:
            return None

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(str(self.claims.get("scope") or "").split())

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.MANAGER, Role.SERVICE)

    def acts_for_anyone(self, scope: Scope) -> bool:
        """Managers act for any user; a service only within a scope it was granted."""
        if self.role == Role.MANAGER:
            return True
        return self.role == Role.SERVICE and scope in self.scopes

    def ensure_scope(self, scope: Scope) -> None:
        """403 for a service caller without `scope`; people pass (their role decides)."""
        if self.role == Role.SERVICE and scope not in self.scopes:
            raise Forbidden(f"This service client lacks the scope {scope}", slug="insufficient-scope")

    def can_act_for(self, user_id: int, scope: Scope) -> bool:
        """Managers, and services holding `scope`, act for anyone; everybody else only for themself."""
        return self.acts_for_anyone(scope) or self.user_id == user_id

    def ensure_owner(self, owner_id: int, what: str = "object", *, scope: Scope) -> None:
        """Another user's object is reported as missing, not forbidden (no existence leak); a
        service without the scope is told so."""
        self.ensure_scope(scope)
        if not self.can_act_for(owner_id, scope):
            raise NotFound(f"{what} not found")


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
        if (self.jwks_url or self.jwks_file) and time.monotonic() - self._last_fetch > self.keys_ttl:
            await self._refresh()
        if kid and kid in self._keys:
            return self._keys[kid]
        await self._refresh()
        if kid and kid in self._keys:
            return self._keys[kid]
        raise Unauthorized("Token signed by an unknown key")

    async def verify(self, token: str) -> dict[str, Any]:
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


_bearer = HTTPBearer(auto_error=False, description="An access token from checkout `POST /api/v1/auth/token`.")
#: The `security` of an operation that reads its caller with `principal_of` (for `openapi_extra`).
BEARER_SECURITY: list[dict[str, list[str]]] = [{"HTTPBearer": []}]


def bearer_credentials(request: Request) -> HTTPAuthorizationCredentials | None:
    """What `HTTPBearer(auto_error=False)` reads from the `Authorization` header, without FastAPI's
    dependency resolution."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if not (scheme and token) or scheme.lower() != "bearer":
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=token)


def token_from_request(request: Request, credentials: HTTPAuthorizationCredentials | None) -> tuple[str, bool]:
    """The token and whether it came from the web cookie."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials, False
    cookie = request.cookies.get(ACCESS_COOKIE)
    if cookie:
        return cookie, True
    raise Unauthorized("Missing bearer token")


async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    token, from_cookie = token_from_request(request, credentials)
    if from_cookie and request.method not in SAFE_METHODS:
        # Double-submit: a cross-site form can send the cookie but cannot read it to set the header.
        sent = request.headers.get(CSRF_HEADER) or ""
        expected = request.cookies.get(CSRF_COOKIE) or ""
        if not sent or not secrets.compare_digest(sent.encode(), expected.encode()):
            raise Forbidden("Missing or wrong CSRF token", slug="csrf")
    verifier: TokenVerifier = request.app.state.token_verifier
    claims = await verifier.verify(token)
    principal = Principal(subject=str(claims["sub"]), role=Role(claims["role"]), claims=claims, token=token)
    request.state.principal = principal
    return principal


async def get_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    return await authenticate(request, credentials)


async def principal_of(request: Request) -> Principal:
    """The caller, as `CurrentPrincipal` finds it, for a route that reads its request itself."""
    return await authenticate(request, bearer_credentials(request))


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role, scope: Scope | None = None) -> Any:
    """The caller must have one of `roles`; a `service` caller must also hold `scope` (a route
    open to services names the scope it needs)."""
    allowed = frozenset(roles)
    if Role.SERVICE in allowed and scope is None:
        raise TypeError("a route open to services must name the scope they need")

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"This action needs one of the roles: {', '.join(sorted(allowed))}")
        if scope is not None:
            principal.ensure_scope(scope)
        return principal

    dependency.__name__ = "require_" + "_or_".join(sorted(allowed))
    return Depends(dependency)


def require_scope(scope: Scope) -> Any:
    """Any signed-in caller; a `service` caller must hold `scope`. Checked before the body is read."""
    return require_roles(*Role, scope=scope)


#: Any signed-in caller allowed to read or move users' orders (services: by scope).
OrdersReader = Annotated[Principal, require_scope(Scope.ORDERS_READ)]
OrdersWriter = Annotated[Principal, require_scope(Scope.ORDERS_WRITE)]


def roles_doc(*roles: Role | str, scope: Scope | None = None) -> dict[str, Any]:
    """`openapi_extra` stating who may call an operation; a service caller is listed with the
    scope it needs, as `service (orders:write)`."""
    if Role.SERVICE in roles and scope is None:
        raise TypeError("an operation open to services must name the scope they need")
    named = [f"{r} ({scope})" if r == Role.SERVICE else str(r) for r in roles]
    return {"x-roles": named or ["public"]}
