"""The names a policy uses, checked against the catalogue of what can happen.

Core object:
    :func:`check_names`: every event kind of a filter (counters, score deltas, rules,
        factor inputs, a list's ``delete_on``), every source a filter names, the platform
        and post kinds (kept as per-person totals) and the attributes of factor inputs,
        and the resource moments of joint measures (with the classes a measure names,
        which must be classes of each of its moment kinds) must be in the catalogue
        (:mod:`sclab.engine.catalogue`) of the components that run. The first that is not
        is a :class:`~sclab.policy.loader.PolicyError` at its line, with the nearest
        valid name: ``my.yaml:12: rules[0].when.events.kinds[0]: unknown event kind
        'loan_defualt'; did you mean 'loan_default'?``.

The schema (:mod:`sclab.policy.schema`) checks a policy's structure and its references to
its own parts; which kinds exist depends on the components, which the schema cannot see.
A scenario's run checks its policies against the catalogue of its own components (a kind
sclab knows but none of them produces is an error naming the component that would);
``sclab check-policy`` against that of sclab's own components with their default
parameters. A filter on a kind of the wrong entity type (a company kind in a counter of
people) never matches either, and is refused too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from sclab.engine.catalogue import Catalogue
from sclab.policy.factors import ATTRIBUTES
from sclab.policy.loader import PolicyError
from sclab.policy.schema import EventFilter, FactorScore, PointsScore, Policy
from sclab.yamlfile import LocatedYAML, dotted

Loc = tuple[str | int, ...]

_PLURAL = {"person": "people", "company": "companies"}


def check_names(policy: Policy, doc: LocatedYAML, catalogue: Catalogue) -> None:
    """Check every name ``policy`` uses against ``catalogue``.

    Args:
        policy: The validated policy.
        doc: Its document, for the line of each name.
        catalogue: What the run's components produce (with the wider catalogue of what
            sclab knows, for the messages).

    Raises:
        PolicyError: the first name that is not there, at its file, line and field.
    """

    def fail(message: str, loc: Loc) -> None:
        raise PolicyError(message, source=doc.source, line=doc.line_of(loc), field=dotted(loc))

    for f, loc, entity in _filters(policy):
        for k, kind in enumerate(f.kinds):
            problem = catalogue.problem(kind, "event") or _entity_problem(
                catalogue, kind, "event", entity
            )
            if problem:
                fail(problem, (*loc, "kinds", k))
        for s, source in enumerate(f.sources):
            problem = _source_problem(catalogue, source, f.kinds)
            if problem:
                fail(problem, (*loc, "sources", s))
    for score_index, score in enumerate(policy.scores):
        if not isinstance(score, FactorScore):
            continue
        for fi, factor in enumerate(score.factors):
            for ii, inp in enumerate(factor.inputs):
                at: Loc = ("scores", score_index, "factors", fi, "inputs", ii)
                if inp.source in ("platform", "posts") and inp.kind is not None:
                    problem = (
                        catalogue.problem(inp.kind, "act")
                        or _entity_problem(catalogue, inp.kind, "act", score.entity)
                        or _totals_problem(catalogue, inp.kind, inp.source)
                    )
                    if problem:
                        fail(problem, (*at, "kind"))
                if inp.source == "attribute" and inp.attribute not in ATTRIBUTES:
                    close = difflib.get_close_matches(str(inp.attribute), ATTRIBUTES, n=1)
                    hint = (
                        f"; did you mean '{close[0]}'?"
                        if close
                        else f"; expected one of: {', '.join(ATTRIBUTES)}"
                    )
                    fail(f"unknown attribute '{inp.attribute}'{hint}", (*at, "attribute"))
    for j, measure in enumerate(policy.joint):
        for m, moment in enumerate(measure.moments):
            why = catalogue.problem(moment, "moment")
            if why:
                fail(why, ("joint", j, "moments", m))
            for c, name in enumerate(measure.classes):
                why = catalogue.unknown_class(moment, name)
                if why:
                    fail(why, ("joint", j, "classes", c))


def _filters(policy: Policy) -> Iterator[tuple[EventFilter, Loc, str | None]]:
    """Every event filter of ``policy``, its location and the entity type it is read for
    (None: a rule on single events, which applies to whoever the record names)."""
    for i, c in enumerate(policy.counters):
        yield c.events, ("counters", i, "events"), c.entity
    for i, score in enumerate(policy.scores):
        if isinstance(score, PointsScore):
            for j, d in enumerate(score.deltas):
                yield d.events, ("scores", i, "deltas", j, "events"), score.entity
        else:
            for fi, factor in enumerate(score.factors):
                for ii, inp in enumerate(factor.inputs):
                    if inp.events is not None:
                        loc: Loc = ("scores", i, "factors", fi, "inputs", ii, "events")
                        yield inp.events, loc, score.entity
    for i, lst in enumerate(policy.lists):
        if lst.delete_on is not None:
            yield lst.delete_on, ("lists", i, "delete_on"), lst.entity
    for i, rule in enumerate(policy.rules):
        if rule.when.events is not None:
            yield rule.when.events, ("rules", i, "when", "events"), None


def _entity_problem(catalogue: Catalogue, name: str, category: str, entity: str | None) -> str:
    """A message if the kind's entity type is not ``entity`` (it would never match)."""
    kind = catalogue.get(name, category)
    if entity is None or kind is None or kind.entity == entity:
        return ""
    return (
        f"{category} kind '{name}' is about {_PLURAL[kind.entity]}, but this is read for "
        f"{_PLURAL[entity]} (entity: {entity}), so it would never match"
    )


def _totals_problem(catalogue: Catalogue, name: str, source: str) -> str:
    """A message if a ``platform`` or ``posts`` input cannot read the act kind ``name``
    (of the catalogue): it reads per-person totals, of posts for ``posts``."""
    kind = catalogue.get(name, "act")
    assert kind is not None
    if kind.kept == "each":
        return (
            f"act kind '{kind.name}' is kept one by one in this scenario, not as the "
            f"per-person totals that a '{source}' input reads"
        )
    if source == "posts" and kind.domain != "speech":
        posts = [k.name for k in catalogue.kinds("act") if k.domain == "speech"]
        return (
            f"'{kind.name}' is not a post kind (its domain is {kind.domain}); "
            f"post kinds: {', '.join(posts)}"
        )
    return ""


def _source_problem(catalogue: Catalogue, source: str, kinds: list[str]) -> str:
    """A message if no event of ``kinds`` carries ``source`` in the events' ``source``."""
    valid = set().union(*(catalogue.event_sources(k) for k in kinds))
    if source in valid:
        return ""
    known = {
        e.source
        for c in (catalogue, catalogue.wider)
        if c is not None
        for e in c
        if e.kind.category == "event"
    }
    if source not in known:
        close = difflib.get_close_matches(source, sorted(known), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"unknown event source '{source}'{hint}"
    which = ", ".join(sorted(valid)) or "no source of this scenario"
    return (
        f"no event of the kinds {', '.join(kinds)} comes from '{source}' (they come from {which})"
    )


def published_lists(policies: list[Policy]) -> dict[str, tuple[str, bool]]:
    """Every list of ``policies`` as ``<system>.<list>``: (entity type, public)."""
    return {f"{p.system_name}.{x.id}": (x.entity, x.public) for p in policies for x in p.lists}


def check_list_references(
    policy: Policy, doc: LocatedYAML, published: dict[str, tuple[str, bool]], scope: str
) -> None:
    """Every other system's list ``policy`` reads must be a public list of ``published``
    (the lists of the policies that run with it: :func:`published_lists`), kept for the
    entity type it is read for.

    Args:
        scope: Who ``published`` is, for the message ("this run", ...).

    Raises:
        PolicyError: the first reference that is not, at its file, line and field, with
            the nearest published name.
    """
    for name, loc, entity in policy.list_references():
        found = published.get(name)
        problem = None
        if found is None:
            problem = f"no policy of {scope} publishes the list '{name}'"
            close = difflib.get_close_matches(name, list(published), n=1)
            if close:
                problem += f"; did you mean '{close[0]}'?"
            elif published:
                problem += f" (lists: {', '.join(sorted(published))})"
        elif not found[1]:
            problem = f"list '{name}' is not public (public: false): other systems cannot read it"
        elif found[0] != entity:
            problem = (
                f"list '{name}' lists {_PLURAL[found[0]]}, but it is read here for "
                f"{_PLURAL[entity]}"
            )
        if problem:
            raise PolicyError(problem, source=doc.source, line=doc.line_of(loc), field=dotted(loc))
