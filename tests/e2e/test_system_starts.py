"""Every installed service starts as `make run` starts it and reports ready."""

import httpx

from .conftest import System


async def test_every_service_is_ready_and_documents_itself(system: System) -> None:
    assert system.services, "no services installed"
    async with httpx.AsyncClient(timeout=10) as client:
        for name, proc in system.services.items():
            ready = await client.get(f"{proc.url}/readyz")
            assert ready.status_code == 200, (name, ready.text)
            doc = (await client.get(f"{proc.url}/openapi.json")).json()
            assert doc["openapi"].startswith("3.1"), name
            missing = (await client.get(f"{proc.url}/definitely/not/here")).headers["content-type"]
            assert missing == "application/problem+json", name
