"""pytest plugin (registered through the `pytest11` entry point of shopcommon).

Nothing starts unless a test asks for it: the first test that needs `shop_stack` starts the
embedded servers on free ports (or uses the servers named by the environment), and they stop at
the end of the session.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from shopcommon.devstack.databases import create_database
from shopcommon.devstack.processes import ManagedProcess, wait_for
from shopcommon.devstack.servers import free_port
from shopcommon.devstack.stack import EmbeddedStack, StackPorts, StackUrls
from shopcommon.migrations import upgrade
from shopcommon.services import ServiceSpec, service_spec
from shopcommon.testing.tokens import TestIssuer

T = TypeVar("T")


def pytest_configure(config: pytest.Config) -> None:
    # Tests run in development mode (demo data, dev keys) unless the environment says otherwise;
    # settings themselves default to prod.
    os.environ.setdefault("APP_ENV", "dev")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when a loop is running in this thread."""
    return in_thread(asyncio.run, coro)


def in_thread(fn: Any, *args: Any) -> Any:
    """Call `fn` in a fresh thread (it may start its own event loop) and wait for it."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn(*args)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def repo_root() -> Path:
    here = Path.cwd()
    for candidate in [here, *here.parents]:
        if (candidate / "tools" / "dev.py").exists():
            return candidate
    return here


class Stack:
    """The running infrastructure of one test session."""

    def __init__(self, embedded: EmbeddedStack, urls: StackUrls, root: Path) -> None:
        self.embedded = embedded
        self.urls = urls
        self.root = root
        self._templates: dict[str, str] = {}
        self._counter = 0
        self._lock = threading.Lock()

    def fresh_database(self, service: str, label: str = "t") -> str:
        """A new database with the service's migrations applied (cloned from a migrated template)."""
        spec = service_spec(service)
        assert spec.database, f"{service} has no database"
        with self._lock:
            template = self._templates.get(service)
            if template is None:
                template = f"{spec.database}_template"
                url = run_sync(create_database(self.urls.database_url, template, replace=True))
                if spec.migrations is not None:
                    in_thread(upgrade, spec.migrations, url)
                self._templates[service] = template
            self._counter += 1
            name = f"{spec.database}_{label}_{self._counter}"[:60]
        return run_sync(create_database(self.urls.database_url, name, template=template, replace=True))


@pytest.fixture(scope="session")
def shop_stack() -> Iterator[Stack]:
    root = repo_root()
    data_dir = root / ".data" / f"test-{os.getpid()}"
    embedded = EmbeddedStack(data_dir, StackPorts.free(), durable=False, echo=False)
    urls = embedded.start()
    try:
        yield Stack(embedded, urls, root)
    finally:
        embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def test_issuer(tmp_path_factory: pytest.TempPathFactory) -> TestIssuer:
    return TestIssuer(tmp_path_factory.mktemp("jwt"))


@pytest.fixture(scope="module")
def module_label(request: pytest.FixtureRequest) -> str:
    return Path(str(request.module.__file__)).stem.replace("test_", "")[:20]


class ServiceProcess:
    """A service run as a real uvicorn process, as `make run` runs it."""

    def __init__(self, spec: ServiceSpec, env: dict[str, str], log_dir: Path, port: int | None = None) -> None:
        self.spec = spec
        self.port = port or free_port()
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        argv = spec.uvicorn_argv("127.0.0.1", self.port)
        self.proc = ManagedProcess(f"{spec.name}-{self.port}", argv, log_dir=log_dir, env=self.env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> ServiceProcess:
        self.proc.start()
        return self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30) -> ServiceProcess:
        def ready() -> bool:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200

        wait_for(ready, timeout, f"{self.spec.name} /readyz", self.proc)
        return self

    def stop(self) -> None:
        """SIGTERM, then SIGKILL only after the grace period Kubernetes gives (30 s): a process
        killed early leaves a dead member in its consumer group, which the next one must outwait."""
        self.proc.stop(timeout=35.0)

    def kill(self) -> None:
        import signal

        if self.proc.proc is not None:
            os.killpg(self.proc.proc.pid, signal.SIGKILL)
            self.proc.proc.wait(5)

    def log(self) -> str:
        return self.proc.tail(200)
