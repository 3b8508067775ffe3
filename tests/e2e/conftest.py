"""The whole system as real processes: every installed service on a free port, each with a fresh
database (migrated, demo data loaded), wired to the others and to the session's embedded stack."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from notifications.testing.push_service import local_push_env
from notifications.testing.tls import TestCertificate
from shopcommon.devstack.launcher import service_urls_env
from shopcommon.devstack.servers import free_port
from shopcommon.services import ServiceSpec, discover_services
from shopcommon.testing.plugin import ServiceProcess, Stack, run_sync


@dataclass
class System:
    stack: Stack
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    #: The certificate of a local push service the processes trust (push endpoints must be https).
    push_tls: TestCertificate | None = None

    def url(self, name: str) -> str:
        return self.services[name].url

    def client(self, name: str, **kw: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url(name), timeout=30, **kw)  # type: ignore[arg-type]

    @property
    def mail_api(self) -> str:
        return self.stack.urls.mail_api_url


def start_system(stack: Stack, tmp: Path, extra_env: dict[str, str] | None = None) -> System:
    specs: list[ServiceSpec] = discover_services()
    ports = {spec.name: free_port() for spec in specs}
    env = {
        "APP_ENV": "dev",
        "LOG_JSON": "false",
        "SHOP_DATA_DIR": str(tmp),
        **stack.urls.as_env(),
        **service_urls_env(specs, ports),
        **(extra_env or {}),
    }
    system = System(stack=stack, env=env)
    for spec in specs:
        if spec.database:
            url = stack.fresh_database(spec.name, "e2e")
            env[spec.database_env] = url
            loader = spec.load_demo_data()
            if loader is not None:
                run_sync(loader(url, env))
    try:
        for spec in specs:
            proc = ServiceProcess(spec, env, stack.embedded.log_dir, port=ports[spec.name])
            system.services[spec.name] = proc
            proc.proc.start()
        for proc in system.services.values():
            proc.wait_ready()
    except BaseException:
        for proc in system.services.values():
            proc.stop()
        raise
    return system


@pytest.fixture(scope="module")
def system(shop_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    tls = TestCertificate.issue(tmp_path_factory.mktemp("push-tls"))
    sys_ = start_system(shop_stack, tmp_path_factory.mktemp("system"), extra_env=local_push_env(tls))
    sys_.push_tls = tls
    try:
        yield sys_
    finally:
        for proc in reversed(list(sys_.services.values())):
            proc.stop()
