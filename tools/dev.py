#!/usr/bin/env python3
"""Bootstrap for `make run` and `make test`: stdlib only, so it runs before `.venv` exists.

Creates `.venv` and makes it match the lock whenever the lock or a `pyproject.toml` changed:
pip installs the installers (requirements/installers.txt: pip, setuptools) and uv, as locked and
hash-checked; uv syncs the venv to requirements/dev.txt (hash-checked; what the lock does not name
is removed); then our own packages go in editable, without dependencies and without build
isolation, so nothing is fetched that the lock does not name. Then it hands over to the command inside the virtual environment.

A lock made from other inputs than the pyproject.toml files hold now stops here with a pointer to
`make lock`, which is the one command let through (`--stale-lock-ok`) since it repairs that.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import lock  # tools/lock.py, beside this file

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
STAMP = VENV / ".shop-installed"


def packages() -> list[Path]:
    return [ROOT / pkg.path for pkg in lock.local_packages()]


def fingerprint() -> str:
    h = hashlib.sha256()
    for path in [lock.INSTALLERS_LOCK, lock.DEV_LOCK, *(p / "pyproject.toml" for p in packages())]:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def ensure_venv(stale_lock_ok: bool) -> None:
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is needed")
    if not (lock.DEV_LOCK.exists() and lock.INSTALLERS_LOCK.exists()):
        sys.exit("requirements/dev.txt or installers.txt is missing: restore them from git, then `make lock`")
    problems = lock.lock_problems()
    if problems and not stale_lock_ok:
        sys.exit(
            "The dependency lock (requirements/) does not match the inputs:\n  "
            + "\n  ".join(problems)
            + "\nRun `make lock` and commit requirements/ (details: `make lock-check`)."
        )
    if not PY.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing the locked dependencies into .venv (first run, or the lock changed) ...", flush=True)
    STAMP.unlink(missing_ok=True)
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q", "--require-hashes"]
    subprocess.run([*pip, "--no-deps", "-r", str(lock.INSTALLERS_LOCK)], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        uv_pin = Path(tmp) / "uv.txt"
        uv_pin.write_text(lock.pinned_block("uv"))
        subprocess.run([*pip, "--no-deps", "-r", str(uv_pin)], check=True)
    # uv ignores pip's configuration files; --no-config keeps a personal uv.toml out as well.
    uv = [str(PY), "-m", "uv", "pip", "--no-config", "--quiet"]
    # Without build isolation an sdist in the lock (http-ece) builds with the locked setuptools.
    target = ["--python", str(PY), "--no-build-isolation"]
    subprocess.run([*uv, "sync", *target, "--require-hashes", str(lock.DEV_LOCK)], check=True)
    editable = [arg for pkg in packages() for arg in ("-e", str(pkg))]
    subprocess.run([*uv, "install", *target, "--no-deps", *editable], check=True)
    # With a current lock this finds nothing; it names what a stale one lacks.
    checked = subprocess.run([str(PY), "-m", "pip", "check"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        print(checked.stdout + checked.stderr, end="", file=sys.stderr)
        if not stale_lock_ok:
            sys.exit("The installed packages do not fit together: run `make lock`.")
    STAMP.write_text(wanted)


def main() -> None:
    args = sys.argv[1:]
    stale_lock_ok = args[:1] == ["--stale-lock-ok"]
    if stale_lock_ok:
        args = args[1:]
    ensure_venv(stale_lock_ok)
    if not args or args[0] == "setup":
        return
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    os.chdir(ROOT)
    os.execve(str(PY), [str(PY), *args], env)


if __name__ == "__main__":
    main()
