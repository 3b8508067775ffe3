"""A client generated from a service's OpenAPI document (openapi-python-client, as
tools/openapi_clients.py runs it) imports and works: checkout's, signing in with the OAuth2
password grant, against the real app (its lifespan, Postgres and Redis)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from checkout.config import Settings
from checkout.identity.demo import DEMO_PASSWORD, load_identity_demo
from checkout.main import create_app
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

TOOLS = Path(__file__).resolve().parents[3] / "tools"


def tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"tools_{name}", TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def importable(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.split(".")[0] == "checkout_client"]:
        del sys.modules[name]


async def test_a_generated_checkout_client_signs_in_with_the_password_grant(
    importable: Path, shop_stack: Stack, test_issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    database_url = shop_stack.fresh_database("checkout", "clients")
    await load_identity_demo(database_url, {"APP_ENV": "dev"})
    app = create_app(
        Settings(
            database_url=database_url,
            redis_url=shop_stack.urls.redis_url,
            smtp_url=shop_stack.urls.smtp_url,
            jwt_keys_dir=str(tmp_path_factory.mktemp("keys")),
            jwt_jwks_file=str(test_issuer.jwks_path),
            app_env="dev",
            log_json=False,
            identity_redis_prefix=f"t-{uuid.uuid4().hex[:10]}:",
            shopping_redis_prefix=f"t-{uuid.uuid4().hex[:10]}:",
        )  # type: ignore[call-arg]
    )
    clients = tool("openapi_clients")
    document = importable / "checkout.yaml"
    document.write_text(tool("openapi").render(app.openapi()))
    package = clients.generate(document, importable)
    assert clients.import_problems(importable, package) == []

    client_module = importlib.import_module(f"{package}.client")
    issue_token = importlib.import_module(f"{package}.api.auth.issue_token")
    models = importlib.import_module(f"{package}.models")
    sent: list[str] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request.headers["content-type"])

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://checkout", event_hooks={"request": [record]}
        ) as http:
            client: Any = client_module.Client(base_url="http://checkout").set_async_httpx_client(http)
            signed_in = await issue_token.asyncio_detailed(
                client=client, body=models.IssueTokenPasswordGrant(username="admin", password=DEMO_PASSWORD)
            )
            refused = await issue_token.asyncio_detailed(
                client=client, body=models.IssueTokenPasswordGrant(username="admin", password="not the password")
            )
    assert sent == ["application/x-www-form-urlencoded"] * 2  # OAuth2's form, as the document says
    assert signed_in.status_code == 200 and isinstance(signed_in.parsed, models.TokenPair)
    assert signed_in.parsed.token_type == "bearer" and signed_in.parsed.access_token.count(".") == 2
    assert refused.status_code == 401 and isinstance(refused.parsed, models.Problem)
