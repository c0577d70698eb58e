"""Mutations of a valid scenario: each one breaks it, and each costs one line.

Hypothesis changes one thing in a valid scenario: a value to a wrong type, a number out of
its range, a required key deleted, an unknown key added, or the YAML syntax broken. The
run must refuse it as the hand-written corpus (``test_bad_input.py``) requires: exit 2,
one line naming the file, the line and the field (located here independently, with
PyYAML's own composer), nothing changed in the directory it works in.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from tests.conftest import SMALL_DISTRICTS
from tests.test_bad_input import Watched, assert_refused, invoke, snapshot

from sclab.scenario.schema import (
    CompanySpec,
    DegreeSpecModel,
    Demography,
    District,
    Geography,
    OutputSpec,
    PopulationSpec,
    Registration,
    Scenario,
    SocialGraphSpec,
)
from sclab.yamlfile import dotted

Path_ = tuple[str | int, ...]

VALID: dict[str, Any] = {
    "name": "mutant",
    "description": "A valid scenario that each test breaks in one place.",
    "seed": 7,
    "days": 5,
    "start_date": dt.date(2019, 7, 8),
    "geography": {"name": "test", "districts": [dict(d) for d in SMALL_DISTRICTS]},
    "population": {
        "size": 3000,
        "demography": {"male_share": 0.51},
        "registration": {"migrant_share": 0.285},
        "socioeconomics": {"retirement_age_male": 60},
        "names": {"given_name_pool": 40000},
    },
    "companies": {"per_1000_people": 30.0, "legal_rep_min_age": 18},
    "social_graph": {"degree": {"mean": 12.0, "max_degree": 500}, "same_district": 0.7},
    "output": {"ties": True},
}

# Numbers and their valid ranges (inclusive unless the lower end is marked open).
RANGES: list[tuple[Path_, float, float, bool]] = [
    (("seed",), 0, 2**63 - 1, True),
    (("days",), 1, 3650, True),
    (("population", "size"), 1, 100_000_000, True),
    (("population", "demography", "male_share"), 0, 1, False),
    (("population", "registration", "migrant_share"), 0, 1, False),
    (("population", "socioeconomics", "retirement_age_male"), 40, 80, True),
    (("population", "names", "given_name_pool"), 100, 65_000, True),
    (("companies", "per_1000_people"), 0, 500, False),
    (("companies", "legal_rep_min_age"), 16, 60, True),
    (("social_graph", "same_district"), 0, 1, False),
    (("geography", "districts", 0, "code"), 110000, 829999, True),
    (("geography", "districts", 1, "population"), 1, float("inf"), True),  # no upper bound
    (("geography", "districts", 2, "urban_share"), 0, 1, False),
]
OPEN_BELOW = {("social_graph", "degree", "mean"): (0.0, 200.0)}

REQUIRED: list[Path_] = [
    ("name",),
    ("seed",),
    ("geography",),
    ("population",),
    ("geography", "name"),
    ("geography", "districts"),
    ("population", "size"),
    *(("geography", "districts", i, k) for i in range(3) for k in ("code", "name", "population")),
]

# Every mapping of the valid scenario that is a schema section, with its model.
SECTIONS: list[tuple[Path_, type[BaseModel]]] = [
    ((), Scenario),
    (("geography",), Geography),
    (("population",), PopulationSpec),
    (("population", "demography"), Demography),
    (("population", "registration"), Registration),
    (("companies",), CompanySpec),
    (("social_graph",), SocialGraphSpec),
    (("social_graph", "degree"), DegreeSpecModel),
    (("output",), OutputSpec),
    *((("geography", "districts", i), District) for i in range(3)),
]


def leaves(doc: Any, path: Path_ = ()) -> list[Path_]:
    """Every path in ``doc`` (mappings and lists included), the root excluded."""
    out: list[Path_] = [path] if path else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += leaves(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += leaves(v, (*path, i))
    return out


ALL_PATHS = leaves(VALID)


def copy_with(path: Path_, value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    doc = yaml.safe_load(yaml.safe_dump(VALID))  # a deep copy, dates and all
    target = doc
    for part in path[:-1]:
        target = target[part]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


def _key(node: yaml.Node) -> object:
    return node.value if node.style in ("'", '"') else yaml.safe_load(node.value)


def line_of(text: str, path: Path_) -> int:
    """The line of ``path``'s key (or list item) in ``text``, found by PyYAML's composer."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            # A quoted key ('no') is text whatever YAML 1.1 would make of it unquoted.
            key, node = next((k, v) for k, v in node.value if _key(k) == part)
            line = key.start_mark.line + 1
        else:
            node = node.value[part]
            line = node.start_mark.line + 1
    return line


def refused(text: str, *needles: str, line: int | None = None) -> None:
    """Run the text as a scenario in a fresh watched directory: one line, nothing changed."""
    with tempfile.TemporaryDirectory() as tmp:
        w = Watched(Path(tmp) / "watched")
        w.previous_run.mkdir(parents=True)
        (w.previous_run / "manifest.json").write_text("{}\n", encoding="utf-8")
        path = w.write("scenario.yaml", text)
        before = snapshot(w.root)
        outcome = invoke("run", path, "--out", w.previous_run, "--force", "--quiet")
        assert_refused(outcome, before, w, str(path), *needles, line=line)


MUTATIONS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_valid_scenario_is_valid(tmp_path: Path) -> None:
    from sclab.targets import load_scenario

    path = tmp_path / "valid.yaml"
    path.write_text(yaml.safe_dump(VALID, sort_keys=False), encoding="utf-8")
    assert load_scenario(str(path)).population.size == 3000


@st.composite
def out_of_range(draw: st.DrawFn) -> tuple[Path_, float]:
    if draw(st.booleans()):
        path, (lo, hi) = next(iter(OPEN_BELOW.items()))
        value = draw(
            st.floats(max_value=lo, allow_nan=False, min_value=-1e12)
            | st.floats(min_value=hi, allow_nan=False, max_value=1e12).filter(lambda v: v > hi)
        )
        return path, value
    path, lo, hi, integer = draw(st.sampled_from(RANGES))
    if integer:
        below = st.integers(max_value=int(lo) - 1, min_value=-(10**20))
        above = st.integers(min_value=int(hi) + 1, max_value=10**20) if hi < 1e300 else below
        value = draw(below | above)
    else:
        value = draw(
            st.floats(max_value=lo, min_value=-1e12, allow_nan=False).filter(lambda v: v < lo)
            | st.floats(min_value=hi, max_value=1e12, allow_nan=False).filter(lambda v: v > hi)
        )
    return path, value


@MUTATIONS
@given(out_of_range())
def test_a_number_out_of_range(mutation: tuple[Path_, float]) -> None:
    path, value = mutation
    text = yaml.safe_dump(copy_with(path, value), sort_keys=False)
    refused(text, dotted(path), line=line_of(text, path))


WRONG_VALUES = st.sampled_from(
    [{"unexpected": "mapping"}, [1, 2, 3], "a few words", -3.5, None, True]
)


def _wrong_for(path: Path_, value: Any) -> bool:
    """Whether ``value`` is surely invalid where ``path`` points (not merely unusual)."""
    current: Any = VALID
    for part in path:
        current = current[part]
    if isinstance(current, dict | list):
        return not isinstance(current, type(value)) or value == {}
    if isinstance(current, str):
        return not isinstance(value, str)
    if isinstance(current, bool):
        return not isinstance(value, bool)
    if isinstance(current, int | float):
        # Pydantic reads True as 1 in a number field: not surely wrong.
        return not isinstance(value, int | float) or (not isinstance(value, bool) and value < 0)
    return not isinstance(value, dt.date | str)


@MUTATIONS
@given(st.sampled_from(ALL_PATHS), WRONG_VALUES)
def test_a_value_of_the_wrong_type(path: Path_, value: Any) -> None:
    if not _wrong_for(path, value):
        return
    text = yaml.safe_dump(copy_with(path, value), sort_keys=False)
    text_line = line_of(text, path)
    with tempfile.TemporaryDirectory() as tmp:
        w = Watched(Path(tmp) / "watched")
        w.root.mkdir(parents=True)
        file = w.write("scenario.yaml", text)
        before = snapshot(w.root)
        outcome = invoke("run", file, "--quiet", "--out", w.root / "out")
        message = assert_refused(outcome, before, w, str(file))
    # The error is about the mutated field or a field inside it, at its line or below.
    field = message.split(": ", 3)[2] if message.count(": ") >= 3 else ""
    assert field.startswith(dotted(path)) or dotted(path) in message, (path, message)
    line = int(message.split(f"{file}:")[1].split(":")[0])
    assert line >= text_line, (path, text_line, message)


@MUTATIONS
@given(st.sampled_from(REQUIRED))
def test_a_required_key_deleted(path: Path_) -> None:
    text = yaml.safe_dump(copy_with(path, delete=True), sort_keys=False)
    refused(text, dotted(path), "missing required field")


@MUTATIONS
@given(
    st.sampled_from(SECTIONS),
    st.from_regex(r"[a-z][a-z_]{0,14}", fullmatch=True),
)
def test_an_unknown_key_added(section: tuple[Path_, type[BaseModel]], key: str) -> None:
    path, model = section
    if key in model.model_fields:
        return
    text = yaml.safe_dump(copy_with((*path, key), 1), sort_keys=False)
    refused(text, f"unknown field '{key}'", dotted((*path, key)), line=line_of(text, (*path, key)))


VALID_TEXT = yaml.safe_dump(VALID, sort_keys=False)
VALID_LINES = VALID_TEXT.splitlines()


def _break(lines: list[str], i: int, how: str) -> list[str] | None:
    line = lines[i]
    indent = line[: len(line) - len(line.lstrip(" "))]
    if how == "unclosed flow list":
        return [*lines[:i], f"{indent}broken: [1, 2", *lines[i:]]
    if how == "tab indentation":
        return None if not indent else [*lines[:i], "\t" + line.lstrip(" "), *lines[i + 1 :]]
    if how == "missing colon":
        if not line.rstrip().endswith(":") and ": " not in line:
            return None
        return [*lines[:i], line.replace(":", "", 1), *lines[i + 1 :]]
    if how == "unclosed quote":
        if ": " not in line:
            return None
        key, value = line.split(": ", 1)
        return [*lines[:i], f'{key}: "{value}', *lines[i + 1 :]]
    raise AssertionError(how)


@MUTATIONS
@given(
    st.integers(min_value=0, max_value=len(VALID_LINES) - 1),
    st.sampled_from(["unclosed flow list", "tab indentation", "missing colon", "unclosed quote"]),
)
def test_broken_yaml_syntax(i: int, how: str) -> None:
    broken = _break(VALID_LINES, i, how)
    if broken is None:
        return
    text = "\n".join(broken) + "\n"
    try:
        yaml.safe_load(text)
    except yaml.YAMLError:
        pass  # broken for PyYAML too, as intended
    else:
        return  # still YAML (a different document): not a syntax error
    with tempfile.TemporaryDirectory() as tmp:
        w = Watched(Path(tmp) / "watched")
        w.root.mkdir(parents=True)
        file = w.write("scenario.yaml", text)
        before = snapshot(w.root)
        outcome = invoke("run", file, "--quiet", "--out", w.root / "out")
        message = assert_refused(outcome, before, w, f"{file}:", "malformed YAML")
    line = int(message.split(f"{file}:")[1].split(":")[0])
    assert i + 1 <= line <= len(broken) + 1, (i, how, message)
