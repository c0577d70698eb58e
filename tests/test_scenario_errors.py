"""Every configuration error: one line naming file, line and field; exit 2; nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import run_cli, small_scenario


def assert_one_line_error(proc, *needles: str) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        # malformed YAML: line of the problem
        ("name: x\nseed: [1, 2\n", [":3:", "malformed YAML"]),
        # duplicate key
        ("name: x\nseed: 1\nseed: 2\n", [":3:", "seed", "duplicate key"]),
        # empty file
        ("", ["empty"]),
        # top level not a mapping
        ("- 1\n- 2\n", [":1:", "mapping"]),
    ],
)
def test_yaml_level_errors(write_scenario, tmp_path: Path, text: str, needles: list[str]) -> None:
    path = write_scenario(text)
    out = tmp_path / "out"
    proc = run_cli("run", path, "--out", out)
    assert_one_line_error(proc, str(path), *needles)
    assert not out.exists()


def _field_error_cases():
    base = small_scenario()
    yield (
        "negative size",
        {**base, "population": {"size": -5}},
        ["population.size", "greater than 0"],
    )
    yield "wrong type", {**base, "days": "many"}, ["days", "integer"]
    yield "unknown field", {**base, "colour": "red"}, ["colour", "unknown field", "expected one of"]
    yield (
        "unknown nested field",
        {**base, "population": {"size": 10, "demography": {"sex_ratio": 1}}},
        ["population.demography.sex_ratio", "expected one of", "male_share"],
    )
    yield (
        "shares not summing to 1",
        {**base, "population": {"size": 10, "demography": {"ethnic_groups": {"a": 0.5, "b": 0.2}}}},
        ["population.demography.ethnic_groups", "summing to 1"],
    )
    yield (
        "bad age band",
        {**base, "population": {"size": 10, "demography": {"age_bands": {"young": 1.0}}}},
        ["age_bands", "15-19"],
    )
    yield (
        "gap in age bands",
        {
            **base,
            "population": {"size": 10, "demography": {"age_bands": {"0-9": 0.5, "20-99": 0.5}}},
        },
        ["age_bands", "contiguous"],
    )
    dup = [dict(d) for d in base["geography"]["districts"]]
    dup[1]["code"] = dup[0]["code"]
    yield (
        "duplicate district",
        {**base, "geography": {"name": "g", "districts": dup}},
        ["geography.districts", "appears twice"],
    )
    yield (
        "district code out of range",
        {
            **base,
            "geography": {"name": "g", "districts": [{"code": 12, "name": "x", "population": 5}]},
        },
        ["geography.districts[0].code", "greater than or equal to 110000"],
    )
    yield "missing field", {k: v for k, v in base.items() if k != "seed"}, ["seed", "missing"]
    yield (
        "share above 1",
        {**base, "population": {"size": 10, "demography": {"male_share": 1.5}}},
        [
            "male_share",
            "less than or equal to 1",
        ],
    )
    yield (
        "unknown source",
        {**base, "sources": [{"use": "telepathy"}]},
        [
            "sources[0].use",
            "unknown sources component 'telepathy'",
        ],
    )
    yield "bad name", {**base, "name": "has space"}, ["name", "pattern"]


@pytest.mark.parametrize(("case", "doc", "needles"), list(_field_error_cases()))
def test_field_errors(write_scenario, tmp_path: Path, case: str, doc, needles) -> None:
    path = write_scenario(doc)
    out = tmp_path / "out"
    proc = run_cli("run", path, "--out", out)
    line = assert_one_line_error(proc, str(path), *needles)
    # every field error points at a line of the file
    assert f"{path}:" in line and line.split(f"{path}:")[1].split(":")[0].isdigit(), line
    assert not out.exists()


def test_error_line_points_at_the_field(write_scenario) -> None:
    text = "name: x\nseed: 1\ndays: 10\ngeography:\n  name: g\n  districts:\n"
    text += "    - {code: 320106, name: a, population: 10}\npopulation:\n  size: 0\n"
    path = write_scenario(text)
    proc = run_cli("run", path)
    assert_one_line_error(proc, f"{path}:9:", "population.size")


def test_unknown_builtin_lists_the_available_ones(tmp_path: Path) -> None:
    proc = run_cli("run", "atlantis", "--out", tmp_path / "o")
    # The policy packs run too (on the Nanjing world): the line names them beside the
    # scenarios, and where the regions are listed.
    assert_one_line_error(proc, "atlantis", "demo", "nanjing", "composite", "rongcheng", "regions")
    assert not (tmp_path / "o").exists()


def test_missing_file(tmp_path: Path) -> None:
    proc = run_cli("run", tmp_path / "nope.yaml")
    assert_one_line_error(proc, "nope.yaml", "file not found")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--population", "0"], ["--population", "greater than 0"]),
        (["--days", "0"], ["--days", "greater than or equal to 1"]),
        (["--seed", "-1"], ["--seed", "greater than or equal to 0"]),
        (["--population", "lots"], ["--population", "integer"]),
    ],
)
def test_bad_overrides(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    out = tmp_path / "o"
    proc = run_cli("run", "demo", *args, "--out", out)
    assert_one_line_error(proc, *needles)
    assert not out.exists()


def test_existing_output_is_kept_without_force(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    proc = run_cli("run", "demo", "--population", "500", "--days", "2", "--out", out)
    assert_one_line_error(proc, str(out), "--force")
    assert (out / "manifest.json").read_text() == "{}"


def test_force_refuses_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("precious")
    proc = run_cli("run", "demo", "--population", "500", "--days", "2", "--out", out, "--force")
    assert_one_line_error(proc, "not an sclab run", "chapter1.tex")
    assert (out / "chapter1.tex").read_text() == "precious"


def test_unwritable_output(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli("run", "demo", "--population", "500", "--out", blocker / "sub")
    assert_one_line_error(proc, "cannot write")
