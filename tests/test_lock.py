"""The dependency lock (requirements/) against its inputs: tools/lock.py check, on a copy of the tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Only what the check reads: tools/, requirements/, requirements-dev.txt and every pyproject.toml."""
    for rel in [
        "tools/lock.py",
        "requirements-dev.txt",
        *(str(p.relative_to(ROOT)) for p in ROOT.glob("requirements/*")),
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    for pyproject in [ROOT / "libs/common/pyproject.toml", *ROOT.glob("services/*/pyproject.toml")]:
        target = tmp_path / pyproject.relative_to(ROOT)
        target.parent.mkdir(parents=True)
        shutil.copy(pyproject, target)
    return tmp_path


def lock_check(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(tree / "tools/lock.py"), "check"], capture_output=True, text=True, check=False
    )


def test_the_committed_lock_matches_its_inputs(tree: Path) -> None:
    result = lock_check(tree)
    assert result.returncode == 0, result.stderr


def test_a_new_dependency_without_make_lock_fails(tree: Path) -> None:
    pyproject = tree / "services/loms/pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('dependencies = ["shopcommon"]', 'dependencies = ["shopcommon", "humanize>=4"]')
    )
    result = lock_check(tree)
    assert result.returncode == 1
    assert "no pin for `humanize>=4`" in result.stderr
    assert "were made from other inputs" in result.stderr


def test_a_raised_lower_bound_without_make_lock_fails(tree: Path) -> None:
    pyproject = tree / "libs/common/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"fastapi>=0.115"', '"fastapi>=999"'))
    result = lock_check(tree)
    assert result.returncode == 1
    assert "outside `fastapi>=999`" in result.stderr


def test_a_hand_edited_pin_fails_though_the_inputs_did_not_change(tree: Path) -> None:
    lock = tree / "requirements/dev.txt"
    text = lock.read_text()
    pinned = next(line for line in text.splitlines() if line.startswith("fastapi=="))
    lock.write_text(text.replace(pinned, "fastapi==0.100.0 \\"))
    result = lock_check(tree)
    assert result.returncode == 1
    assert "fastapi==0.100.0, outside" in result.stderr


def test_a_change_that_is_no_dependency_needs_no_new_lock(tree: Path) -> None:
    pyproject = tree / "services/loms/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('description = "', 'description = "Reworded. '))
    (tree / "requirements-dev.txt").write_text((tree / "requirements-dev.txt").read_text() + "# a comment\n")
    assert lock_check(tree).returncode == 0
