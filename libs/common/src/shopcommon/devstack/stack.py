"""The infrastructure half of the dev stack: start what the environment does not provide."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from shopcommon.devstack import servers
from shopcommon.devstack.processes import ManagedProcess


@dataclass
class StackPorts:
    postgres: int = 15432
    redis: int = 16379
    kafka: int = 19092
    smtp: int = 1025
    mail_http: int = 8025

    @classmethod
    def from_env(cls, env: dict[str, str]) -> StackPorts:
        """The embedded defaults, each overridable: SHOP_POSTGRES_PORT, SHOP_REDIS_PORT, SHOP_KAFKA_PORT,
        SHOP_SMTP_PORT, SHOP_MAIL_HTTP_PORT."""
        defaults = cls()
        return cls(
            **{
                name: int(env.get(f"SHOP_{name.upper()}_PORT", getattr(defaults, name)))
                for name in ("postgres", "redis", "kafka", "smtp", "mail_http")
            }
        )

    @classmethod
    def free(cls) -> StackPorts:
        return cls(*servers.free_ports(5))


@dataclass
class StackUrls:
    database_url: str
    redis_url: str
    kafka_bootstrap_servers: str
    smtp_url: str
    mail_api_url: str

    def as_env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "SMTP_URL": self.smtp_url,
            "MAIL_API_URL": self.mail_api_url,
        }


class EmbeddedStack:
    """Starts PostgreSQL, Valkey, Tansu and the mail catcher unless the environment names a server.

    `durable=False` (tests) turns off fsync; `make run` keeps PostgreSQL's data under `.data/pg`.
    """

    def __init__(
        self, data_dir: Path, ports: StackPorts, *, durable: bool, echo: bool = False, env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.log_dir = data_dir / "logs"
        self.ports = ports
        self.durable = durable
        self.echo = echo
        self.env = dict(os.environ if env is None else env)
        self.processes: list[ManagedProcess] = []
        self.started: list[str] = []

    def _given(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def start(self) -> StackUrls:
        p = self.ports
        urls = StackUrls(
            database_url=self._given("DATABASE_URL") or f"postgresql://postgres@127.0.0.1:{p.postgres}/postgres",
            redis_url=self._given("REDIS_URL") or f"redis://127.0.0.1:{p.redis}/0",
            kafka_bootstrap_servers=self._given("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{p.kafka}",
            smtp_url=self._given("SMTP_URL") or f"smtp://127.0.0.1:{p.smtp}",
            mail_api_url=self._given("MAIL_API_URL") or f"http://127.0.0.1:{p.mail_http}",
        )
        jobs = []
        if not self._given("DATABASE_URL"):
            jobs.append(self._start_postgres)
        if not self._given("REDIS_URL"):
            jobs.append(self._start_valkey)
        if not self._given("KAFKA_BOOTSTRAP_SERVERS"):
            servers.tansu_binary()  # written out once here, before the threads below fork
            jobs.append(self._start_tansu)
        if not self._given("SMTP_URL"):
            jobs.append(self._start_mailcatcher)
        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                for future in [pool.submit(job) for job in jobs]:
                    future.result()
        except BaseException:
            self.stop()
            raise
        return urls

    def _track(self, proc: ManagedProcess) -> ManagedProcess:
        self.processes.append(proc)
        proc.start()
        return proc

    def _start_postgres(self) -> None:
        proc = servers.postgres_process(
            self.data_dir / "pg", self.ports.postgres, self.log_dir, durable=self.durable, echo=self.echo
        )
        self._track(proc)
        servers.wait_postgres(proc, self.ports.postgres)
        self.started.append(f"PostgreSQL on 127.0.0.1:{self.ports.postgres} (data in {self.data_dir / 'pg'})")

    def _start_valkey(self) -> None:
        proc = self._track(servers.valkey_process(self.ports.redis, self.log_dir, echo=self.echo))
        servers.wait_port(proc, self.ports.redis, "Valkey")
        self.started.append(f"Valkey on 127.0.0.1:{self.ports.redis}")

    def _start_tansu(self) -> None:
        proc = self._track(servers.tansu_process(self.ports.kafka, self.log_dir, echo=self.echo))
        servers.wait_port(proc, self.ports.kafka, "Tansu")
        self.started.append(f"Tansu (Kafka API) on 127.0.0.1:{self.ports.kafka}")

    def _start_mailcatcher(self) -> None:
        proc = self._track(
            servers.mailcatcher_process(self.ports.smtp, self.ports.mail_http, self.log_dir, echo=self.echo)
        )
        servers.wait_port(proc, self.ports.mail_http, "mail catcher")
        servers.wait_port(proc, self.ports.smtp, "mail catcher SMTP")
        self.started.append(
            f"mail catcher: SMTP 127.0.0.1:{self.ports.smtp}, API http://127.0.0.1:{self.ports.mail_http}"
        )

    def process(self, name: str) -> ManagedProcess:
        for proc in self.processes:
            if proc.name == name:
                return proc
        raise LookupError(name)

    def restart(self, name: str) -> None:
        """Stop and start one embedded server (tests of outages use it)."""
        proc = self.process(name)
        proc.stop()
        proc.start()
        port = {
            "postgres": self.ports.postgres,
            "valkey": self.ports.redis,
            "tansu": self.ports.kafka,
            "mailcatcher": self.ports.smtp,
        }[name]
        servers.wait_port(proc, port, name)

    def stop(self) -> None:
        # Reverse start order: whatever depended on a server is gone before it.
        for proc in reversed(self.processes):
            proc.stop()
