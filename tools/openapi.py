#!/usr/bin/env python3
"""Export every service's OpenAPI document to openapi/<service>.yaml, or check they are current.

`write [service ...]` regenerates the files; `check [service ...]` exits 1 when a committed document differs from the code
(CI runs it). The apps are built with placeholder URLs: building the document touches no server.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "openapi"


def documents(only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    os.environ.setdefault("APP_ENV", "dev")
    os.environ.setdefault("SHOP_DATA_DIR", str(ROOT / ".data"))
    from shopcommon.services import discover_services

    docs = {}
    for spec in discover_services(only):
        os.environ.setdefault(spec.database_env, "postgresql://openapi@127.0.0.1:1/openapi")
        module, _, factory = spec.app_factory.partition(":")
        app = getattr(importlib.import_module(module), factory)()
        docs[spec.name] = app.openapi()
    return docs


def render(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "write"
    OUT.mkdir(exist_ok=True)
    stale = []
    for name, doc in documents(sys.argv[2:] or None).items():
        path = OUT / f"{name}.yaml"
        text = render(doc)
        if mode == "check":
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("OpenAPI documents differ from the code (run `make openapi`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
