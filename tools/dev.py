#!/usr/bin/env python3
"""Bootstrap for `make run` and `make test`: stdlib only, so it runs before `.venv` exists.

Creates `.venv`, installs every package of the repository (editable) whenever a `pyproject.toml`
or the dev requirements changed, then hands over to the command inside the virtual environment.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
STAMP = VENV / ".shop-installed"


def packages() -> list[Path]:
    found = [ROOT / "libs" / "common"]
    found += sorted(p.parent for p in (ROOT / "services").glob("*/pyproject.toml"))
    return found


def fingerprint() -> str:
    h = hashlib.sha256()
    for path in [ROOT / "requirements-dev.txt", *(p / "pyproject.toml" for p in packages())]:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is needed")
    if not PY.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing the packages into .venv (first run, or a pyproject changed) ...", flush=True)
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    args = ["-r", str(ROOT / "requirements-dev.txt"), "-e", f"{ROOT / 'libs' / 'common'}[devstack,test]"]
    for pkg in packages()[1:]:
        args += ["-e", str(pkg)]
    subprocess.run([*pip, *args], check=True)
    STAMP.write_text(wanted)


def main() -> None:
    ensure_venv()
    if len(sys.argv) < 2 or sys.argv[1] == "setup":
        return
    cmd = sys.argv[1:]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    os.chdir(ROOT)
    os.execve(str(PY), [str(PY), *cmd], env)


if __name__ == "__main__":
    main()
