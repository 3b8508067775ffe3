#!/usr/bin/env python3
"""`make openapi-clients`: a Python client generated from each OpenAPI document must import.

For every `openapi/*.yaml` (or the services named), openapi-python-client (in the dev lock)
generates a client into a temporary directory, and a fresh interpreter imports every module of
it. A module that fails to import (a construct the generator turns into broken code, such as a
request body offered in two content types) fails the check. `--from-code` generates from the
documents the code builds now instead of the committed files (to try a change before
`make openapi`); `--keep DIR` leaves the clients in DIR.

    tools/openapi_clients.py [--from-code] [--keep DIR] [service ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "openapi"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
#: No post-generation hooks: the generator would otherwise look for ruff on PATH and format.
CONFIG = "post_hooks: []\n"

_IMPORT_ALL = """
import importlib, pkgutil, sys
sys.path.insert(0, sys.argv[1])
package = importlib.import_module(sys.argv[2])
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    try:
        importlib.import_module(module.name)
    except Exception as exc:
        print(f"{module.name}: {type(exc).__name__}: {exc}")
"""


def package_name(service: str) -> str:
    return service.replace("-", "_") + "_client"


def generate(document: Path, into: Path) -> str:
    """Generate `document`'s client as a package in `into`; its name. Raises on generator errors
    and warnings (a warning means part of the document was left out of the client)."""
    package = package_name(document.stem)
    config = into / "openapi-python-client.yaml"
    config.write_text(CONFIG)
    argv = [str(GENERATOR), "generate", "--path", str(document), "--meta", "none", "--config", str(config)]
    run = subprocess.run(
        [*argv, "--output-path", str(into / package), "--overwrite"],
        cwd=into,
        capture_output=True,
        text=True,
        check=False,
    )
    output = (run.stdout + run.stderr).strip()
    if run.returncode != 0 or "warning" in output.lower() or "error" in output.lower():
        raise RuntimeError(f"openapi-python-client on {document.name} (exit {run.returncode}):\n{output}")
    return package


def import_problems(into: Path, package: str) -> list[str]:
    """Every module of the generated package that does not import, with why."""
    run = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, str(into), package], capture_output=True, text=True, check=False
    )
    problems = [line for line in run.stdout.splitlines() if line.strip()]
    if run.returncode != 0:
        problems.append(f"{package}: the package itself does not import:\n{run.stderr.strip()}")
    return problems


def documents(services: list[str], *, from_code: bool, into: Path) -> list[Path]:
    if not from_code:
        found = sorted(DOCS.glob("*.yaml"))
        return [p for p in found if not services or p.stem in services]
    spec = importlib.util.spec_from_file_location("openapi_tool", ROOT / "tools" / "openapi.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    paths = []
    for name, doc in tool.documents(services or None).items():
        path = into / "documents" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tool.render(doc))
        paths.append(path)
    return paths


def check(services: list[str], *, from_code: bool, into: Path) -> int:
    failed = 0
    for document in documents(services, from_code=from_code, into=into):
        try:
            package = generate(document, into)
        except RuntimeError as exc:
            print(f"FAIL {document.stem}: {exc}")
            failed += 1
            continue
        problems = import_problems(into, package)
        print(f"{'FAIL' if problems else 'ok  '} {document.stem} ({package})")
        for problem in problems:
            print(f"     {problem}")
        failed += bool(problems)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="*", help="only these documents (file stems, e.g. checkout)")
    parser.add_argument("--from-code", action="store_true", help="the documents the code builds, not the files")
    parser.add_argument("--keep", type=Path, help="generate into this directory and leave the clients there")
    args = parser.parse_args()
    if args.keep:
        shutil.rmtree(args.keep, ignore_errors=True)
        args.keep.mkdir(parents=True)
        return check(args.services, from_code=args.from_code, into=args.keep.resolve())
    with tempfile.TemporaryDirectory(prefix="openapi-clients-") as tmp:
        return check(args.services, from_code=args.from_code, into=Path(tmp))


if __name__ == "__main__":
    raise SystemExit(main())
