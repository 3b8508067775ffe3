"""No service's package imports another's: what they share lives in shopcommon or goes over HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[3] / "services"


def _packages() -> dict[str, Path]:
    return {pkg.name: pkg for src in sorted(SERVICES.glob("*/src")) for pkg in src.iterdir() if pkg.is_dir()}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_service_packages_are_found() -> None:
    assert {"checkout", "loms", "notifications", "product_stub"} <= set(_packages())


def test_no_service_package_imports_another() -> None:
    packages = _packages()
    crossings = [
        f"{path.relative_to(SERVICES)} imports {other}"
        for name, pkg in packages.items()
        for path in sorted(pkg.rglob("*.py"))
        for other in sorted(_imported_roots(path) & (set(packages) - {name}))
    ]
    assert crossings == []
