"""The direction of dependency between sclab's packages (docs/architecture.md, "Layers").

The contracts live in pyproject.toml (``[tool.importlinter]``) and ``lint-imports`` checks
them; these tests run the same check with the suite, show that it breaks when a wrong
arrow is added to a copy of the source, and cover what an import graph cannot see:
imports by name at run time.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "sclab"

CONTRACT_NAMES = {  # the start of each contract's name in pyproject.toml
    "siblings": "world, sensors, policy and behaviour never import one another",
    "engine": "the engine names no component",
    "store": "the store (where everything lands)",
    "scenario": "the scenario checks its schema only",
    "base": "the population and the base layer import nothing above them",
}


def lint_imports(project: Path, src: Path) -> subprocess.CompletedProcess[str]:
    """Run the import contracts of ``project``'s pyproject.toml on the package in ``src``."""
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(no_cache=True, no_logo=True))"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_the_import_contracts_are_kept() -> None:
    proc = lint_imports(ROOT, ROOT / "src")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in CONTRACT_NAMES.values():
        assert name in proc.stdout
    assert " 0 broken" in proc.stdout


WRONG_ARROWS = [  # (module, an import it must not have, the contract that says so)
    ("world/resources.py", "from sclab.behaviour.ties import reverse_positions", "siblings"),
    ("behaviour/purchases.py", "from sclab.world.streets import streets_of", "siblings"),
    ("policy/joint.py", "import sclab.sensors.records", "siblings"),
    ("engine/registry.py", "import sclab.world", "engine"),
    ("engine/feedback.py", "from sclab.run import load_builtin_components", "engine"),
    ("store/database.py", "from sclab.engine.events import NO_ENTITY", "store"),
    ("scenario/loader.py", "from sclab.policy.loader import is_pack", "scenario"),
    ("scenario/loader.py", "from sclab.engine.registry import REGISTRY", "scenario"),
    ("population/graph.py", "from sclab.engine.ties import tie_positions", "base"),
]


@pytest.mark.parametrize(("module", "wrong_import", "contract"), WRONG_ARROWS)
def test_a_wrong_arrow_breaks_its_contract(
    tmp_path: Path, module: str, wrong_import: str, contract: str
) -> None:
    src = tmp_path / "src"
    shutil.copytree(SRC, src / "sclab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = src / "sclab" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{wrong_import}\n", "utf-8")

    proc = lint_imports(tmp_path, src)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    # Indirect arrows count too (the store imports the population: an arrow from the
    # population up to the engine breaks the store's contract as well).
    broken = [line for line in proc.stdout.splitlines() if " BROKEN" in line]
    assert any(CONTRACT_NAMES[contract] in line for line in broken), proc.stdout
    dotted = "sclab." + module.removesuffix(".py").replace("/", ".")
    assert dotted in proc.stdout  # the report names the module that broke it


# Packages below the components: none may load a module by name at run time, which
# would hide an arrow from the import graph (as a registry that imported "sclab.world"
# by name once did).
BELOW_COMPONENTS = ["engine", "store", "scenario", "population"]
BASE_MODULES = ["rng.py", "parallel.py", "ids.py", "errors.py", "yamlfile.py", "columns.py",
                "arrays.py"]  # fmt: skip


def dynamic_imports(path: Path) -> list[int]:
    """Lines of every call to ``import_module`` or ``__import__`` in ``path``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in ("import_module", "__import__"):
                lines.append(node.lineno)
    return sorted(lines)


def test_no_import_by_name_below_the_components() -> None:
    files = [p for pkg in BELOW_COMPONENTS for p in sorted((SRC / pkg).rglob("*.py"))]
    files += [SRC / name for name in BASE_MODULES]
    assert len(files) > 20 and all(f.is_file() for f in files)
    found = {str(f.relative_to(ROOT)): dynamic_imports(f) for f in files}
    assert {f: lines for f, lines in found.items() if lines} == {}


def test_the_import_by_name_check_sees_both_forms(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import importlib\nfrom importlib import resources\n"
        "importlib.import_module('sclab.world')\n__import__('sclab.policy')\n"
    )
    assert dynamic_imports(probe) == [3, 4]


def test_the_registry_is_filled_by_the_run_not_by_the_engine() -> None:
    """In a fresh interpreter: importing sclab and its engine registers nothing; the run's
    list of built-in components registers every stage's components."""
    code = """
import json
import sclab
from sclab.engine.registry import REGISTRY, STAGES
before = {s: REGISTRY.available(s) for s in STAGES}
from sclab.run import load_builtin_components
registry = load_builtin_components()
print(json.dumps([before, {s: registry.available(s) for s in STAGES}]))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    before, after = json.loads(proc.stdout)
    assert all(names == [] for names in before.values()), before
    assert {"payments", "social_media", "state_data", "streets", "resources"} <= set(
        after["sources"]
    )
    assert {"records", "cameras"} <= set(after["sensors"])
    assert after["policies"] == ["pack"]
    assert {"deterrence", "tie_pruning", "repay_when_listed"} <= set(after["behaviour"])


def test_the_version_module_agrees_with_pyproject() -> None:
    import tomllib

    from sclab.version import __version__

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    assert tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"] == __version__
