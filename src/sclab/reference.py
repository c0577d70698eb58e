"""Reference pages generated from the code: the database's tables and exact labels.

Core objects:
    :func:`database_markdown`: ``docs/database.md``: the tables
        (:func:`sclab.store.schema.markdown`) and the labels below.
    :func:`builtin_scenario`: a small scenario that names every built-in source, sensor and
        behaviour with its default parameters, and each built-in policy pack.
    :func:`builtin_labels`: label set → labels, as a run of that scenario declares them to
        its database (the population's, the engine's and every component's).
    :func:`markdown`: the same as the reference section of ``docs/database.md``.

Label columns compare as text, and a misspelt label in SQL (``domain = 'flights'``) is
not an error: it silently matches nothing. Listing the exact labels, generated from the
components' own declarations (:meth:`sclab.engine.simulation.Simulation.labels`), is what
keeps the reference and the code from drifting apart.
"""

from __future__ import annotations

from typing import Any

from sclab.store.schema import FIXED_LABELS, label_columns
from sclab.store.schema import markdown as tables_markdown

# A population just large enough to have people and companies; the labels do not depend on
# its size (components declare them from their parameters alone).
_PEOPLE = 200


def builtin_scenario() -> Any:
    """Every registered built-in component with default parameters, and each single pack
    (not the bundles, whose packs are listed one by one), on the Nanjing geography."""
    from sclab.engine.registry import STAGES
    from sclab.policy.loader import builtin_packs, is_bundle
    from sclab.run import load_builtin_components
    from sclab.scenario.schema import Scenario
    from sclab.targets import load_scenario

    registry = load_builtin_components()
    data = load_scenario("nanjing", {"--population": _PEOPLE, "--days": 1}).model_dump()
    for stage in STAGES:
        if stage == "policies":
            packs = [name for name in builtin_packs() if not is_bundle(name)]
            data[stage] = [{"use": "pack", "params": {"pack": name}} for name in packs]
        else:
            names = [n for n in registry.available(stage) if not n.startswith("test-")]
            data[stage] = [{"use": name} for name in names]
    return Scenario.model_validate(data)


def builtin_labels() -> dict[str, tuple[str, ...]]:
    """Label set → the labels a run of :func:`builtin_scenario` declares, sorted."""
    from sclab.engine.simulation import Simulation
    from sclab.population import generate_population
    from sclab.store.population import population_labels

    scenario = builtin_scenario()
    streams = scenario.streams()
    sim = Simulation.assemble(scenario, streams, generate_population(scenario, streams))
    labels: dict[str, set[str]] = {
        name: set(values) for name, values in population_labels(scenario).items()
    }
    for name, values in {**sim.labels(), **FIXED_LABELS}.items():
        labels.setdefault(name, set()).update(values)
    return {name: tuple(sorted(labels.get(name, ()))) for name in sorted(label_columns())}


def database_markdown() -> str:
    """``docs/database.md``: every table, then the labels of the built-in components."""
    return tables_markdown() + labels_markdown()


def labels_markdown() -> str:
    """The labels of every label set, with the columns that take them, as Markdown."""
    columns = label_columns()
    out = [
        "## Labels of the built-in components",
        "",
        "The exact text a label column can hold in a run of the built-in components with",
        "their default parameters and each built-in pack (generated from the labels the",
        "components declare; `make docs` regenerates it). A scenario's own ethnic groups and",
        "sectors, a policy file's own ids, scores, lists, grades and domains, and other",
        "components' parameters change these sets; `SELECT enum_range(NULL::domain)` lists",
        "what a run declared. A label that is not in its set never matches anything.",
        "",
        "| label set | columns | labels |",
        "| --- | --- | --- |",
    ]
    for name, values in builtin_labels().items():
        where = ", ".join(f"`{table}.{column}`" for table, column in columns[name])
        listed = ", ".join(f"`{v}`" for v in values) or "(none by default)"
        out.append(f"| `{name}` | {where} | {listed} |")
    out.append("")
    return "\n".join(out)
