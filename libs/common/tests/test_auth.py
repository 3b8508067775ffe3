"""Token verification refuses every forgery a client can try."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shopcommon.access import PUBLIC, access
from shopcommon.auth import CLIENT_SCOPES, Principal, Role, Scope, TokenVerifier, require_roles
from shopcommon.problems import Forbidden, NotFound, Unauthorized
from shopcommon.testing.tokens import AUDIENCE, ISSUER, TestIssuer


@pytest.fixture
def issuer(tmp_path) -> TestIssuer:  # type: ignore[no-untyped-def]
    return TestIssuer(tmp_path)


@pytest.fixture
def verifier(issuer: TestIssuer) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_file=str(issuer.jwks_path), refetch_interval=0)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_a_valid_token_yields_its_claims(issuer: TestIssuer, verifier: TokenVerifier) -> None:
    claims = await verifier.verify(issuer.token(42, "customer"))
    assert claims["sub"] == "42" and claims["role"] == "customer"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"ttl": -60}, "expired"),
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "evil"}, "issuer"),
        ({"role": "superuser"}, "role"),
    ],
)
async def test_bad_claims_are_refused(issuer: TestIssuer, verifier: TokenVerifier, overrides, reason) -> None:  # type: ignore[no-untyped-def]
    token = issuer.token(1, overrides.pop("role", "customer"), **overrides)
    with pytest.raises(Unauthorized):
        await verifier.verify(token)


async def test_a_token_signed_by_another_key_is_refused(issuer: TestIssuer, verifier: TokenVerifier) -> None:
    forged = issuer.token(1, "manager", key=Ed25519PrivateKey.generate())
    with pytest.raises(Unauthorized):
        await verifier.verify(forged)


async def test_alg_none_is_refused(issuer: TestIssuer, verifier: TokenVerifier) -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "1", "role": "manager", "iat": now, "exp": now + 60, "jti": "x"}
    token = f"{_b64({'alg': 'none', 'kid': issuer.kid})}.{_b64(claims)}."
    with pytest.raises(Unauthorized):
        await verifier.verify(token)


async def test_hmac_token_keyed_with_the_public_key_is_refused(issuer: TestIssuer, verifier: TokenVerifier) -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "1", "role": "manager", "iat": now, "exp": now + 60, "jti": "x"}
    # PyJWT itself refuses to make this token, so it is signed by hand, as an attacker would.
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': issuer.kid})}.{_b64(claims)}"
    mac = hmac.new(issuer.public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")
    with pytest.raises(Unauthorized):
        await verifier.verify(token)


async def test_missing_required_claims_are_refused(issuer: TestIssuer, verifier: TokenVerifier) -> None:
    token = jwt.encode({"sub": "1", "role": "customer"}, issuer.key, algorithm="EdDSA", headers={"kid": issuer.kid})
    with pytest.raises(Unauthorized):
        await verifier.verify(token)


async def test_a_new_key_is_picked_up_without_restart(issuer: TestIssuer, verifier: TokenVerifier, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await verifier.verify(issuer.token(1, "customer"))
    rotated = TestIssuer(tmp_path / "rotated")
    both = {"keys": issuer.jwks["keys"] + rotated.jwks["keys"]}
    issuer.jwks_path.write_text(json.dumps(both))
    assert (await verifier.verify(rotated.token(2, "customer")))["sub"] == "2"
    assert (await verifier.verify(issuer.token(3, "customer")))["sub"] == "3"


def test_principal_ownership_rules() -> None:
    customer = Principal("7", Role.CUSTOMER)
    assert customer.can_act_for(7, Scope.ORDERS_READ) and not customer.can_act_for(8, Scope.ORDERS_READ)
    with pytest.raises(NotFound):
        customer.ensure_owner(8, "order", scope=Scope.ORDERS_READ)
    assert Principal("1", Role.MANAGER).can_act_for(8, Scope.ORDERS_WRITE)
    service = Principal("notifications", Role.SERVICE, claims={"scope": "users:read"})
    assert service.user_id is None and service.can_act_for(8, Scope.USERS_READ)


def test_a_service_acts_only_within_its_scopes() -> None:
    notifications = Principal("notifications", Role.SERVICE, claims={"scope": "users:read"})
    assert not notifications.can_act_for(8, Scope.ORDERS_WRITE)
    assert not notifications.acts_for_anyone(Scope.ORDERS_READ)
    with pytest.raises(Forbidden):
        notifications.ensure_owner(8, "order", scope=Scope.ORDERS_WRITE)
    with pytest.raises(Forbidden):
        Principal("legacy", Role.SERVICE).ensure_scope(Scope.USERS_READ)  # a token without `scope`
    notifications.ensure_scope(Scope.USERS_READ)
    Principal("7", Role.CUSTOMER).ensure_scope(Scope.ORDERS_WRITE)  # people: their role decides


def test_a_route_open_to_services_must_name_a_scope() -> None:
    with pytest.raises(TypeError):
        require_roles(Role.MANAGER, Role.SERVICE)


def test_test_tokens_carry_the_scopes_checkout_grants_each_client(issuer: TestIssuer) -> None:
    claims = jwt.decode(issuer.token("notifications", "service"), options={"verify_signature": False})
    assert claims["scope"].split() == sorted(CLIENT_SCOPES["notifications"])


async def test_a_key_removed_from_the_jwks_stops_verifying_after_the_ttl(issuer: TestIssuer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, jwks_file=str(issuer.jwks_path), refetch_interval=0, keys_ttl=0
    )
    await verifier.verify(issuer.token(1, "customer"))
    replacement = TestIssuer(tmp_path / "new")
    issuer.jwks_path.write_text(json.dumps(replacement.jwks))  # the old key is withdrawn
    with pytest.raises(Unauthorized):
        await verifier.verify(issuer.token(1, "customer"))
    assert (await verifier.verify(replacement.token(2, "customer")))["sub"] == "2"


def test_an_operation_behind_a_token_documents_its_refusals() -> None:
    doc = access(Role.MANAGER, Role.SERVICE, scope=Scope.ORDERS_WRITE).doc(404, 403, extra={"x-max-body-bytes": 9})
    assert doc["openapi_extra"] == {"x-roles": ["manager", "service (orders:write)"], "x-max-body-bytes": 9}
    assert list(doc["responses"]) == [401, 403, 404]
    assert doc["responses"][403]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }


def test_a_public_operation_lists_only_its_own_answers() -> None:
    assert access() is PUBLIC
    doc = PUBLIC.doc(422, answers={201: {"description": "Made"}})
    assert doc["openapi_extra"] == {"x-roles": ["public"]}
    assert list(doc["responses"]) == [422, 201]
    assert doc["responses"][201] == {"description": "Made"}


def test_services_are_listed_with_the_scope_they_need() -> None:
    with pytest.raises(TypeError):
        access(Role.SERVICE)
