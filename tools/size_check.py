#!/usr/bin/env python3
"""`make lint`: no production source file over 300 lines, no function over 60.

Production code is every tracked `.py` file under `libs/` and `services/` outside tests and
migrations (tests may be long: a scenario reads better whole). A file or function that crosses the
line is split by what it does, not by where the count falls. Usage: `tools/size_check.py`; it
prints each one over and exits 1, or says how many files it read.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 60
#: Path parts that mark what is not production code.
NOT_PRODUCTION = frozenset({"tests", "migrations", "versions"})


def production_files() -> list[PurePosixPath]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "libs/*.py", "services/*.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    paths = [PurePosixPath(p) for p in listed]
    return [p for p in paths if not NOT_PRODUCTION & set(p.parts[:-1]) and p.name != "conftest.py"]


def oversized(path: PurePosixPath, source: str) -> list[str]:
    """What in this file is over the limits, one line each."""
    found = []
    if (lines := len(source.splitlines())) > MAX_FILE_LINES:
        found.append(f"{path}: {lines} lines (at most {MAX_FILE_LINES})")
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - start + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{path}:{start}: {node.name} is {length} lines (at most {MAX_FUNCTION_LINES})")
    return found


def main() -> int:
    files = production_files()
    found = [line for path in files if (ROOT / path).exists() for line in oversized(path, (ROOT / path).read_text())]
    for line in found:
        print(line)
    if found:
        return 1
    print(f"size check: {len(files)} production files, none over {MAX_FILE_LINES} lines or a function over "
          f"{MAX_FUNCTION_LINES}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
