"""Who is calling and what they may do: the principal a verified access token names
(`shopcommon.token_verifier`), the FastAPI dependencies that require roles and scopes (`shopcommon.access` documents them).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from shopcommon.problems import Forbidden, NotFound, Unauthorized
from shopcommon.roles import CLIENT_SCOPES, Role, Scope
from shopcommon.token_verifier import TokenVerifier

__all__ = [
    "ACCESS_COOKIE",
    "BEARER_SECURITY",
    "CLIENT_SCOPES",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "CurrentPrincipal",
    "OrdersReader",
    "OrdersWriter",
    "Principal",
    "Role",
    "Scope",
    "TokenVerifier",
    "authenticate",
    "bearer_credentials",
    "principal_of",
    "require_roles",
    "require_scope",
]

log = logging.getLogger(__name__)

ACCESS_COOKIE = "access_token"
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
