#!/usr/bin/env python3
"""`make test`: every suite in its own pytest process, then a summary.

Each service's `tests/` is a package named `tests`, so one pytest process cannot import two of
them; one process per suite also gives each suite its own embedded stack. Extra arguments go to
every pytest run (e.g. `make test PYTEST_ARGS="-x -k checkout"`). A suite may be named to run it
alone: `tools/run_tests.py services/loms`.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


#: Browser tests (Playwright's sync API) run in a process of their own without pytest-asyncio, so
#: Playwright's event loop never meets pytest-asyncio's; the `tests` suite leaves them out.
BROWSER = "tests/browser"
SUITE_ARGS = {
    "tests": ["--ignore=" + BROWSER],
    BROWSER: ["-p", "no:asyncio", "-W", "ignore::pytest.PytestConfigWarning"],
}


def suites() -> list[str]:
    found = ["libs/common/tests"]
    found += sorted(str(p.relative_to(ROOT)) for p in (ROOT / "services").glob("*/tests") if p.is_dir())
    found.append("tests")
    if (ROOT / BROWSER).is_dir():
        found.append(BROWSER)
    return found


def main() -> int:
    args = sys.argv[1:]
    chosen = [a for a in args if (ROOT / a).exists() and not a.startswith("-")]
    extra = [a for a in args if a not in chosen]
    results = []
    for suite in chosen or suites():
        print(f"\n=== {suite} ===", flush=True)
        started = time.monotonic()
        argv = [sys.executable, "-m", "pytest", suite, *SUITE_ARGS.get(suite, []), *extra]
        if not any(a.startswith("--basetemp") for a in extra):
            # A temporary root of the suite's own: pytest makes its shared /tmp/pytest-of-<user>
            # private again (0700) whenever any pytest starts, which would shut out the PostgreSQL
            # user a test's own stack runs as (tests of the launcher) while another pytest runs.
            (ROOT / ".data" / "pytest").mkdir(parents=True, exist_ok=True)
            argv.append(f"--basetemp={ROOT / '.data' / 'pytest' / suite.replace('/', '-')}")
        code = subprocess.run(argv, cwd=ROOT, check=False).returncode
        results.append((suite, code, time.monotonic() - started))
    print("\n=== summary ===")
    for suite, code, seconds in results:
        # pytest exit code 5 = no tests collected: a suite without tests is a defect, not a pass.
        print(f"{'ok  ' if code == 0 else 'FAIL'} {suite} ({seconds:.0f}s, exit {code})")
    failed = [s for s, c, _ in results if c != 0]
    if failed:
        print("failed: " + " ".join(shlex.quote(s) for s in failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
