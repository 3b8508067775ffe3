"""Child processes whose output goes to a log file and, optionally, prefixed to the terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any


def run_as(user: str | None) -> dict[str, Any]:
    """subprocess arguments to run as `user` with that user's own group only (not root's groups)."""
    if user is None:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


COLORS = ["\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m", "\033[91m", "\033[96m", "\033[93m"]
RESET = "\033[0m"
_print_lock = threading.Lock()


class ManagedProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_dir: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        echo: bool = False,
        stop_signal: int = signal.SIGTERM,
        color: int = 0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.user = user
        self.echo = echo
        self.stop_signal = stop_signal
        self.log_path = log_dir / f"{name}.log"
        self.color = COLORS[color % len(COLORS)] if sys.stdout.isatty() else ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            **run_as(self.user),
            # Own session: Ctrl-C reaches only the launcher, which stops children in order.
            start_new_session=True,
        )
        self._pump = threading.Thread(target=self._pump_output, name=f"log-{self.name}", daemon=True)
        self._pump.start()

    def _pump_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        prefix = f"{self.color}{self.name:>14} |{RESET if self.color else ''} "
        with open(self.log_path, "ab") as log:
            for line in iter(self.proc.stdout.readline, b""):
                log.write(line)
                log.flush()
                if self.echo:
                    _echo(prefix, line, sys.stdout)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, self.stop_signal)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)
        if self._pump is not None:
            self._pump.join(2)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _echo(prefix: str, line: bytes, stream: IO[str]) -> None:
    with _print_lock:
        stream.write(prefix + line.decode(errors="replace").rstrip() + "\n")
        stream.flush()


def wait_for(predicate: object, timeout: float, what: str, proc: ManagedProcess | None = None) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.proc is not None and proc.proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.proc.returncode}:\n{proc.tail()}")
        try:
            if predicate():
                return
        except Exception as exc:  # still starting; remember why for the final error
            last = exc
        time.sleep(0.05)
    detail = f" (last error: {last})" if last else ""
    tail = f"\n{proc.tail()}" if proc else ""
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s{detail}{tail}")
