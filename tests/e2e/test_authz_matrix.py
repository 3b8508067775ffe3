"""Who may call what, over every operation of every running service, read from its own
`/openapi.json`: every bad token is 401, every role an operation does not list is 403, every
role it lists gets through (to a 404, a 422 or a success, but never 401 or 403). The tokens are
real: signed by checkout's keys and verified by each service through checkout's JWKS.

Nothing here names an endpoint: a service that lands later is covered by declaring itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkout.identity.keys import KeyStore
from shopcommon.auth import Scope
from shopcommon.services import discover_services

from .conftest import System

ROLES = ("customer", "worker", "manager", "service")
LOGINS = {"customer": "customer", "worker": "worker-guitars", "manager": "admin"}
SERVICES = [spec.name for spec in discover_services()]
ALL_SCOPES = [str(s) for s in Scope]
PROBE_ID = 987_654_321  # an id no fixture creates: listed roles reach a 404, nothing is changed


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    roles: frozenset[str]
    raw_roles: tuple[str, ...]
    spec: dict[str, Any]

    @property
    def service_scope(self) -> str | None:
        """The scope a service caller needs, from the `service (<scope>)` entry."""
        for entry in self.raw_roles:
            found = re.fullmatch(r"service \(([a-z]+:[a-z]+)\)", entry.strip())
            if found:
                return found.group(1)
        return None

    @property
    def public(self) -> bool:
        return "public" in self.raw_roles

    @property
    def bearer(self) -> bool:
        """Authenticated by a bearer token (not public, not a credential of its own like a body token)."""
        return not self.public and bool(self.roles)

    def path_params(self) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p.get("in") == "path"]

    def url(self, values: dict[str, Any] | None = None) -> str:
        """The path with each parameter filled: from `values` by name, else a probe nobody owns."""
        url = self.path
        for param in self.path_params():
            value = (values or {}).get(param["name"], probe_value(param.get("schema", {})))
            url = url.replace("{" + param["name"] + "}", str(value))
        return url

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def probe_value(schema: dict[str, Any]) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("type") == "integer":
        return max(schema.get("minimum", 1), min(PROBE_ID, schema.get("maximum", PROBE_ID)))
    if schema.get("format") == "uuid":
        return uuid.uuid4()
    return "matrix-probe"


def role_names(entries: list[str]) -> frozenset[str]:
    """`x-roles` entries may carry a qualifier: "customer (own orders)" lists `customer`."""
    words = (re.match(r"[a-z]+", entry.strip().lower()) for entry in entries)
    return frozenset(w.group(0) for w in words if w and w.group(0) in ROLES)


async def operations(client: httpx.AsyncClient) -> list[Operation]:
    doc = (await client.get("/openapi.json")).json()
    found = []
    for path, item in doc["paths"].items():
        for method, spec in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                raw = tuple(spec.get("x-roles") or ())
                found.append(Operation(method.upper(), path, role_names(list(raw)), raw, spec))
    return found


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def bad_tokens(keys: KeyStore, sub: str) -> dict[str, str | None]:
    """Each kind of bad credential; apart from its flaw, each is a valid manager token."""
    key, kid = keys._keys[-1][1], keys.current_kid
    now = int(time.time())

    def claims(**over: Any) -> dict[str, Any]:
        base = {"iss": keys.issuer, "aud": keys.audience, "sub": sub, "role": "manager", "iat": now,
                "exp": now + 600, "jti": uuid.uuid4().hex}  # fmt: skip
        return {**base, **over}

    def signed(payload: dict[str, Any], signer: Ed25519PrivateKey = key) -> str:
        return jwt.encode(payload, signer, algorithm="EdDSA", headers={"kid": kid})

    hmac_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{b64(claims())}"
    hmac_sig = hmac.new(key.public_key().public_bytes_raw(), hmac_input.encode(), hashlib.sha256).digest()
    return {
        "no token": None,
        "expired": signed(claims(iat=now - 7200, exp=now - 3600)),
        "wrong aud": signed(claims(aud="somewhere-else")),
        "wrong iss": signed(claims(iss="someone-else")),
        "bad signature": signed(claims(), Ed25519PrivateKey.generate()),
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64(claims())}.",
        "hmac signed with the public key": f"{hmac_input}.{b64(hmac_sig)}",
    }


async def call(client: httpx.AsyncClient, op: Operation, token: str | None) -> int:
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body: dict[str, Any] = {"json": {}} if "requestBody" in op.spec else {}
    # Streamed, and only the status read: an event stream answers 200 and never ends.
    async with client.stream(op.method, op.url(), headers=headers, **body) as response:
        return response.status_code


@dataclass
class Tokens:
    by_role: dict[str, str]
    bad: dict[str, str | None]
    keys: KeyStore

    def service_with(self, scopes: str) -> str:
        """A `service` token granted exactly `scopes` (space-separated), signed by checkout's key."""
        return self.keys.issue(sub="matrix-client", role="service", ttl=600, scope=scopes)[0]

    def for_role(self, op: Operation, role: str) -> str:
        """The token a listed role calls `op` with: a service holds the scope the operation names."""
        if role == "service":
            return self.service_with(op.service_scope or "")
        return self.by_role[role]


@pytest.fixture(scope="module")
async def tokens(system: System) -> Tokens:
    by_role = {}
    async with system.client("checkout") as client:
        for role, username in LOGINS.items():
            r = await client.post("/api/v1/auth/token", json={"username": username, "password": "1"})
            assert r.status_code == 200, r.text
            by_role[role] = r.json()["access_token"]
        secret = (Path(system.env["SHOP_DATA_DIR"]) / "secrets" / "client-loms").read_text().strip()
        body = {"grant_type": "client_credentials", "client_id": "loms", "client_secret": secret}
        r = await client.post("/api/v1/auth/token", data=body)
        assert r.status_code == 200, r.text
        by_role["service"] = r.json()["access_token"]
        customer_id = str(
            (await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {by_role['customer']}"})).json()[
                "id"
            ]
        )
    keys = KeyStore(Path(system.env["SHOP_DATA_DIR"]) / "keys", issuer="shop-checkout", audience="shop")
    return Tokens(by_role, bad_tokens(keys, customer_id), keys)


@pytest.fixture(scope="module")
async def clients(system: System) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    opened = {name: system.client(name) for name in system.services}
    yield opened
    for client in opened.values():
        await client.aclose()


def report(failures: list[str]) -> str:
    return f"{len(failures)} wrong answers:\n" + "\n".join(failures)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_operation_states_who_may_call_it(clients: dict[str, httpx.AsyncClient], service: str) -> None:
    ops = await operations(clients[service])
    assert ops
    unstated = [str(op) for op in ops if not op.raw_roles]
    assert not unstated, f"{service}: operations without x-roles: {unstated}"


@pytest.mark.parametrize("service", SERVICES)
async def test_token_refusals_are_documented(clients: dict[str, httpx.AsyncClient], service: str) -> None:
    """The two tests below get 401 and 403 from every operation behind a bearer token: its document
    says so (a client generated from it knows the answer)."""
    ops = [op for op in await operations(clients[service]) if op.bearer]
    assert ops
    missing = [f"{op}: {s}" for op in ops for s in ("401", "403") if s not in op.spec.get("responses", {})]
    assert not missing, f"{service}: refusals not in the document: {missing}"


@pytest.mark.parametrize("service", SERVICES)
async def test_every_bad_token_is_401(clients: dict[str, httpx.AsyncClient], tokens: Tokens, service: str) -> None:
    client = clients[service]
    failures = []
    for op in [op for op in await operations(client) if op.bearer]:
        for kind, token in tokens.bad.items():
            status = await call(client, op, token)
            if status != 401:
                failures.append(f"{service} {op} with {kind}: {status}")
    assert not failures, report(failures)


@pytest.mark.parametrize("service", SERVICES)
async def test_roles_not_listed_are_403(clients: dict[str, httpx.AsyncClient], tokens: Tokens, service: str) -> None:
    client = clients[service]
    failures = []
    for op in [op for op in await operations(client) if op.bearer]:
        for role in sorted(set(ROLES) - op.roles):
            status = await call(client, op, tokens.by_role[role])
            if status != 403:
                failures.append(f"{service} {op} as {role} (lists {sorted(op.roles)}): {status}")
    assert not failures, report(failures)


@pytest.mark.parametrize("service", SERVICES)
async def test_listed_roles_get_through(clients: dict[str, httpx.AsyncClient], tokens: Tokens, service: str) -> None:
    client = clients[service]
    failures = []
    for op in [op for op in await operations(client) if op.bearer]:
        for role in sorted(op.roles):
            status = await call(client, op, tokens.for_role(op, role))
            if status in (401, 403) or status >= 500:
                failures.append(f"{service} {op} as {role}: {status}")
    assert not failures, report(failures)


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_without_the_named_scope_is_403(
    clients: dict[str, httpx.AsyncClient], tokens: Tokens, service: str
) -> None:
    client = clients[service]
    failures = []
    for op in [op for op in await operations(client) if op.bearer and "service" in op.roles]:
        if op.service_scope is None:
            failures.append(f"{service} {op}: open to services without naming a scope")
            continue
        every_other = " ".join(s for s in ALL_SCOPES if s != op.service_scope)
        status = await call(client, op, tokens.service_with(every_other))
        if status != 403:
            failures.append(f"{service} {op} as a service without {op.service_scope}: {status}")
    assert not failures, report(failures)


@pytest.mark.parametrize("service", SERVICES)
async def test_public_reads_need_no_token(clients: dict[str, httpx.AsyncClient], service: str) -> None:
    client = clients[service]
    failures = []
    for op in [op for op in await operations(client) if op.public and op.method == "GET"]:
        status = await call(client, op, None)
        if status in (401, 403) or status >= 500:
            failures.append(f"{service} {op}: {status}")
    assert not failures, report(failures)


@pytest.fixture(scope="module")
async def josh(system: System) -> dict[str, Any]:
    """A customer with an order of their own: the objects other people must not reach."""
    async with system.client("checkout") as client:
        r = await client.post("/api/v1/auth/token", json={"username": "josh", "password": "1"})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        me = (await client.get("/api/v1/users/me", headers=headers)).json()
        page = (await client.get("/api/v1/products", params={"in_stock": "true", "limit": 50})).json()
        sku = next(p["sku"] for p in page["items"] if p["quantity_in_stock"] >= 5)
        order = await client.post("/api/v1/orders", json={"items": [{"sku": sku, "count": 1}]},
                                  headers={**headers, "Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"})  # fmt: skip
        assert order.status_code in (200, 201, 202), order.text
        return {"token": r.json()["access_token"], "user_id": me["id"], "order_id": order.json()["order_id"]}


OWNED = ("user_id", "order_id")


def owned_url(op: Operation, josh: dict[str, Any]) -> str | None:
    """The operation's URL naming josh's object, when its path names a user or an order."""
    if not any(p["name"] in OWNED for p in op.path_params()):
        return None
    return op.url({name: josh[name] for name in OWNED})


@pytest.mark.parametrize("service", SERVICES)
async def test_another_customers_objects_are_404(
    clients: dict[str, httpx.AsyncClient], tokens: Tokens, josh: dict[str, Any], service: str
) -> None:
    client = clients[service]
    failures = []
    for op in [op for op in await operations(client) if op.bearer and "customer" in op.roles]:
        url = owned_url(op, josh)
        if url is None:
            continue
        body: dict[str, Any] = {"json": {}} if "requestBody" in op.spec else {}
        for role in sorted(op.roles & {"customer", "worker"}):
            headers = {"Authorization": f"Bearer {tokens.by_role[role]}", "Idempotency-Key": uuid.uuid4().hex}
            status = (await client.request(op.method, url, headers=headers, **body)).status_code
            if status != 404:
                failures.append(f"{service} {op.method} {url} as another {role}: {status}")
        if op.method == "GET":
            own = await client.get(url, headers={"Authorization": f"Bearer {josh['token']}"})
            if own.status_code != 200:
                failures.append(f"{service} GET {url} as its owner: {own.status_code}")
    assert not failures, report(failures)
