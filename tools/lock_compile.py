"""`make lock` (tools/lock.py compile): write the .in files, let uv compile the pinned, hashed
locks, stamp each with the digest of its inputs, and copy the installers' pins out of dev.txt.
tools/lock.py holds what the check needs as well: the packages, the inputs and their digest.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lock import (  # tools/lock.py, beside this file
    DEV_LOCK,
    DEV_TOOLS,
    DIGEST_PREFIX,
    INSTALLERS_LOCK,
    REQ,
    ROOT,
    RUNTIME_LOCK,
    UV_OPTIONS,
    input_files,
    inputs_digest,
    installer_names,
    local_packages,
    pinned_block,
    rel,
)


def compile_locks(uv_args: list[str]) -> None:
    packages = local_packages()
    REQ.mkdir(exist_ok=True)
    for path, text in input_files(packages).items():
        path.write_text(text)
    common = [*UV_OPTIONS, "--custom-compile-command", "make lock", "--no-config", "--quiet"]
    for pkg in packages:
        common += ["--no-emit-package", pkg.name]
    uv = [sys.executable, "-m", "uv", "pip", "compile"]
    # uv keeps the versions already in the output file unless an input needs another (or --upgrade).
    run([*uv, "requirements/dev.in", rel(DEV_TOOLS), "-o", rel(DEV_LOCK), *common, *uv_args])
    run([*uv, "requirements/runtime.in", "-c", rel(DEV_LOCK), "-o", rel(RUNTIME_LOCK), *common])
    digest = inputs_digest(packages)
    stamp(DEV_LOCK, "everything `make run`, `make test` and CI install", digest)
    stamp(RUNTIME_LOCK, "what deploy/Dockerfile installs; the same versions as dev.txt", digest)
    INSTALLERS_LOCK.write_text("".join(pinned_block(name) for name in sorted(installer_names(packages))))
    stamp(INSTALLERS_LOCK, "the installers, installed before the rest; copied from dev.txt", digest)
    print(f"wrote {', '.join(rel(p) for p in (DEV_LOCK, RUNTIME_LOCK, INSTALLERS_LOCK))}")


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, cwd=ROOT, check=True)


def stamp(lock: Path, what: str, digest: str) -> None:
    """Put our header above uv's output (uv writes each file afresh)."""
    head = f"# {rel(lock)}: {what}.\n# Written by `make lock` (tools/lock.py); do not edit.\n{DIGEST_PREFIX}{digest}\n"
    lock.write_text(head + lock.read_text())
