"""The audit reads the store: an import of the simulation or a component breaks its
contract (pyproject.toml, ``audit-reads-the-store``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.test_layers import ROOT, SRC, lint_imports

CONTRACT = "the audit reads the store"


@pytest.mark.parametrize(
    "wrong_import", ["from sclab.engine.simulation import Simulation", "import sclab.sensors"]
)
def test_the_audit_importing_the_simulation_breaks_its_contract(
    tmp_path: Path, wrong_import: str
) -> None:
    src = tmp_path / "src"
    shutil.copytree(SRC, src / "sclab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = src / "sclab" / "audit" / "harm.py"
    target.write_text(target.read_text(encoding="utf-8") + f"\n{wrong_import}\n", "utf-8")

    proc = lint_imports(tmp_path, src)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    broken = [line for line in proc.stdout.splitlines() if " BROKEN" in line]
    assert any(CONTRACT in line for line in broken), proc.stdout
    assert "sclab.audit.harm" in proc.stdout
