"""The catalogue of what can happen in a run: every act, event and resource-moment kind.

Core objects:
    :class:`Kind`: one kind and its facts (category, entity, domain, lawful, biometric,
        real-time, the act it stands for, meaning).
    :class:`Catalogue`: the kinds of a set of components, each with the component that
        produces it; answers lookups and says, in one line, why a name is not there.
    :func:`gather`: the catalogue of components, from their declarations.
    :data:`DOMAINS`: the vocabulary of domains, each with what it covers.
    :class:`KindError`: a component's parameter that names a kind wrongly.

Every kind is declared once, by the component that produces it, from its parameters
alone (like ``labels()``, before ``setup``): a component with kinds has
``kinds() -> Iterable[Kind]``. A sensor that records acts under the act's own kind (the
records sensor) has ``records(act: Kind) -> bool`` instead of declaring them: each act
kind declared before it (sources come first) that it records becomes an event of the same
name with the act's facts (:meth:`Kind.recorded`); acts kept only as totals reach no
sensor and are never recorded. The engine gathers a run's catalogue
from its components (:meth:`sclab.engine.simulation.Simulation.catalogue`); the database's
``act_kind`` and ``moment_kind`` label sets and its ``kinds`` table come from it, policies
check the kinds they name against it and behaviour learns acts through it (a decision on a
record tells behaviour about the act the record stands for).

The facts of a kind are defined in :data:`FACTS` (also the columns of the ``kinds``
table, printed in ``docs/catalogue.md`` and appended to :class:`Kind`'s docstring).

Lookups are by name and category: an act and the event that records it share their name
(``bill_late``), and the database's ``act_kind`` label set holds both.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from sclab.engine.registry import ParamsError

CATEGORIES = ("act", "event", "moment")
ENTITIES = ("person", "company")
KEPT = ("each", "totals", "both")

DOMAINS: dict[str, str] = {
    "finance": "money owed, lent and repaid: bills, loans and their instalments, "
    "utility arrears; applying for a loan or insurance",
    "consumption": "what people buy, by category",
    "speech": "posts by stance and the likes and shares they draw",
    "traffic": "use of the road: crossings, jaywalks, traffic tickets, drunk driving",
    "courts": "civil cases: suits, judgments and their performance",
    "crime": "criminal convictions (other than for conduct on the road)",
    "tax": "tax owed and not paid, by people and companies",
    "administration": "penalties of administrative authorities and violations found by "
    "regulators (environment, product quality)",
    "commerce": "companies' dealings with other parties: contracts",
    "civic": "conduct the state commends: heroic acts",
    "travel": "tickets, hotel bookings, rentals of bikes and cars, travel abroad",
    "education": "school places",
    "employment": "job applications",
}
"""The domains of kinds, each with what it covers (a kind's ``domain`` is one of these)."""

FACTS: dict[str, str] = {
    "category": "`act`: true conduct, what really happened (held for a day in `sim.acts`, "
    "or as per-person totals in `aggregates`; never stored one by one). `event`: what the "
    "system recorded (the `events` table), with its errors. `moment`: an attempt to obtain "
    "something (a ticket, a school place) where a measure can block, price up or favour "
    "(`resource_moments`).",
    "entity": "`person` or `company`: whose conduct or attempt it is.",
    "domain": "The area of life, one of the domains listed with their scope.",
    "lawful": "True when the conduct breaks no legal duty: no statute or regulation "
    "(criminal or administrative law) and no civil obligation (a contract, a court "
    "judgment). Breaches of contract are not lawful: a late bill, a missed instalment, a "
    "loan default, utility arrears and a company's contract breach break an obligation "
    "enforceable in civil law, and penalising them is a credit system's stated purpose. "
    "Being sued is lawful (it says nothing of the defendant's conduct until a court "
    "rules); losing a judgment is not (a court found a duty broken). Posting, buying, "
    "borrowing, paying on time, crossing a road, a heroic act and every attempt at a "
    "resource moment are lawful. For an event, the conduct it records: a record of a "
    "jaywalk is not lawful even when it names the wrong person (whether a record is right "
    "is told by `true_actor` and `error` in `events`). A penalty resting on a correct "
    "record of lawful conduct (a critical post, a purchase category, a friendship) is "
    "harm by design, not error.",
    "biometric": "The record rests on biometric identification: a face matched against "
    "a gallery of photos. Only events can be biometric.",
    "realtime": "The biometric identification is made as the act happens (a roadside "
    "camera), not later from stored images. Only biometric events can be real-time.",
    "of_act": "The act the kind stands for: what behaviour learns was caught when a "
    "decision rests on it. An event stands for the act it records (`jaywalk_identified`: "
    "`jaywalk`). An act stands for itself unless it is the outcome of other conduct: a "
    "lost judgment stands for failing an obligation, which behaviour models as "
    "`non_performance`. Moments stand for no act (empty).",
    "kept": "How the run keeps acts of this kind: `each` one by one (a day in `sim.acts`, "
    "where sensors record them), `totals` as per-person totals only (the `aggregates` "
    "table, which factor inputs from `platform` and `posts` read; no sensor sees them), "
    "`both` (jaywalks: those a camera captures are single acts, all are counted). "
    "Events and moments are kept `each`.",
    "produced_by": "`stage:component` of the component that produces it in the run.",
    "meaning": "What one such act, record or attempt is, in one line.",
    "classes": "Moments only: the classes an attempt of this kind is of (a train and seat "
    "class, `resource_moments.class`), which a joint measure may name to bar some of "
    "them only (`classes: [...]`); empty for a kind whose attempts have no class.",
}
"""The facts of every kind, defined (the columns of the ``kinds`` table besides ``name``)."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

#: The most classes a moment kind may have: a person's classes of a kind are one byte of
#: bits (:data:`sclab.engine.avoidance.AVOIDED`).
MAX_CLASSES = 8


class KindError(ParamsError):
    """A component's parameter names a kind that the catalogue does not have.

    ``loc`` is the parameter's path below the component's ``params`` (e.g.
    ``("kinds", 2)``), so that the scenario check can point at its line.
    """


@dataclass(frozen=True)
class Kind:
    """One kind of act, event or moment and its facts (see the module docstring).

    ``of_act`` may be left out: an act then stands for itself. An event must say which
    act it records; a moment stands for none.
    """

    name: str
    category: str
    entity: str
    domain: str
    lawful: bool
    meaning: str
    biometric: bool = False
    realtime: bool = False
    of_act: str | None = None
    kept: str = "each"
    classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"kind name '{self.name}': lower case letters, digits and _")
        for fact, value, allowed in (
            ("category", self.category, CATEGORIES),
            ("entity", self.entity, ENTITIES),
            ("domain", self.domain, tuple(DOMAINS)),
            ("kept", self.kept, KEPT),
        ):
            if value not in allowed:
                raise ValueError(
                    f"kind '{self.name}': unknown {fact} '{value}'; "
                    f"expected one of {', '.join(allowed)}"
                )
        if self.biometric and self.category != "event":
            raise ValueError(f"kind '{self.name}': only events rest on identification")
        if self.realtime and not self.biometric:
            raise ValueError(f"kind '{self.name}': real-time applies to biometric events")
        if self.kept != "each" and self.category != "act":
            raise ValueError(f"kind '{self.name}': only acts are kept as totals")
        if self.category == "act" and self.of_act is None:
            object.__setattr__(self, "of_act", self.name)
        if self.category == "event" and self.of_act is None:
            raise ValueError(f"event kind '{self.name}' must say which act it records")
        if self.category == "moment" and self.of_act is not None:
            raise ValueError(f"moment kind '{self.name}' stands for no act")
        if self.classes and self.category != "moment":
            raise ValueError(f"kind '{self.name}': only moments have classes")
        if len(set(self.classes)) != len(self.classes) or len(self.classes) > MAX_CLASSES:
            raise ValueError(
                f"kind '{self.name}': at most {MAX_CLASSES} distinct classes, got {self.classes}"
            )
        for c in self.classes:
            if not _NAME.match(c):
                raise ValueError(
                    f"kind '{self.name}': class '{c}': lower case letters, digits and _"
                )

    @classmethod
    def act(
        cls,
        name: str,
        domain: str,
        lawful: bool,
        meaning: str,
        entity: str = "person",
        of_act: str | None = None,
        kept: str = "each",
    ) -> Kind:
        """An act kind (true conduct)."""
        return cls(name, "act", entity, domain, lawful, meaning, of_act=of_act, kept=kept)

    @classmethod
    def moment(
        cls,
        name: str,
        domain: str,
        meaning: str,
        entity: str = "person",
        classes: tuple[str, ...] = (),
    ) -> Kind:
        """A resource-moment kind: an attempt, which is lawful; ``classes``: what an
        attempt may be of (a train and seat class), in the order of their codes."""
        return cls(name, "moment", entity, domain, True, meaning, classes=tuple(classes))

    def recorded(self) -> Kind:
        """The event that records this act under its own name, with the act's facts."""
        if self.category != "act" or self.kept == "totals":
            raise ValueError(f"only single acts are recorded; '{self.name}' is not one")
        return replace(self, category="event", kept="each", meaning=f"record of {self.meaning}")


Kind.__doc__ = (
    (Kind.__doc__ or "")
    + "\n    Facts:\n"
    + "".join(f"        ``{fact}``: {text}\n" for fact, text in FACTS.items())
)


@dataclass(frozen=True)
class Entry:
    """A kind in a catalogue, with who produces it.

    Attributes:
        kind: The kind.
        produced_by: ``stage:component`` of its producer.
        source: The component named in the events' ``source`` column: the producer, or
            for an act recorded under its own kind, the act's source.
        from_act: For an act recorded under its own kind, ``produced_by`` of the act.
    """

    kind: Kind
    produced_by: str
    source: str
    from_act: str | None = None


def gather(components: Iterable[tuple[str, Any]]) -> Catalogue:
    """The catalogue of ``(stage, component)`` pairs, taken in the order given (stage
    order: a recording sensor records the acts of the sources before it).

    Raises:
        ValueError: Two components declare the same kind (same name and category).
    """
    entries: dict[tuple[str, str], Entry] = {}
    running: list[str] = []

    def add(entry: Entry) -> None:
        key = (entry.kind.category, entry.kind.name)
        if key in entries:
            raise ValueError(
                f"{entry.kind.category} kind '{entry.kind.name}' is declared by both "
                f"{entries[key].produced_by} and {entry.produced_by}; each kind is declared "
                "once, by the component that produces it"
            )
        entries[key] = entry

    for stage, component in components:
        producer = f"{stage}:{component.name}"
        running.append(producer)
        declare = getattr(component, "kinds", None)
        for kind in declare() if declare is not None else ():
            add(Entry(kind, producer, component.name))
        records = getattr(component, "records", None)
        if records is not None:
            acts = [e for e in entries.values() if e.kind.category == "act"]
            for e in acts:
                if e.kind.kept != "totals" and records(e.kind):
                    add(Entry(e.kind.recorded(), producer, e.source, e.produced_by))
    return Catalogue(entries.values(), running)


class Catalogue:
    """The kinds of a set of components, by category and name.

    Args:
        entries: The kinds with their producers.
        running: ``stage:component`` of every component of the run (including those
            that declare no kind).
        wider: What sclab knows beyond this run (the catalogue of every built-in
            component), so that a name missing here can be told apart from a typo.
    """

    def __init__(
        self,
        entries: Iterable[Entry] = (),
        running: Iterable[str] = (),
        wider: Catalogue | None = None,
    ) -> None:
        self._entries = {(e.kind.category, e.kind.name): e for e in entries}
        self.running = tuple(running)
        self.wider = wider

    def within(self, wider: Catalogue) -> Catalogue:
        """This catalogue, with ``wider`` to explain names it lacks."""
        return Catalogue(self._entries.values(), self.running, wider)

    def __iter__(self) -> Iterator[Entry]:
        order = {c: i for i, c in enumerate(CATEGORIES)}
        entries = self._entries.values()
        return iter(sorted(entries, key=lambda e: (order[e.kind.category], e.kind.name)))

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: str, category: str) -> Entry | None:
        """The entry of ``name`` in ``category``, or None."""
        return self._entries.get((category, name))

    def get(self, name: str, category: str) -> Kind | None:
        """The kind ``name`` of ``category``, or None."""
        e = self._entries.get((category, name))
        return e.kind if e is not None else None

    def has(self, name: str, category: str) -> bool:
        return (category, name) in self._entries

    def names(self, category: str) -> list[str]:
        """Sorted names of the kinds of ``category``."""
        return sorted(n for c, n in self._entries if c == category)

    def kinds(self, category: str) -> list[Kind]:
        """The kinds of ``category``, by name."""
        return [self._entries[(category, n)].kind for n in self.names(category)]

    def act_of(self, name: str) -> str:
        """The act that a decision on a record of kind ``name`` tells behaviour about (the
        event's ``of_act``, else the act's; a name the catalogue lacks stands for itself)."""
        for category in ("event", "act"):
            kind = self.get(name, category)
            if kind is not None and kind.of_act is not None:
                return kind.of_act
        return name

    def event_sources(self, name: str) -> set[str]:
        """What the events' ``source`` column holds for events of kind ``name``."""
        e = self._entries.get(("event", name))
        return {e.source} if e is not None else set()

    def labels(self) -> dict[str, set[str]]:
        """The database label sets of kinds: ``act_kind`` (acts and events, which share
        the ``events``, ``aggregates`` and ``true_act_totals`` kind columns) and
        ``moment_kind``."""
        return {
            "act_kind": set(self.names("act")) | set(self.names("event")),
            "moment_kind": set(self.names("moment")),
            "moment_class": {c for k in self.kinds("moment") for c in k.classes},
        }

    def unknown_class(self, moment: str, name: str) -> str | None:
        """None if ``name`` is a class of the moment kind ``moment`` (or that kind is not
        in the catalogue: :meth:`problem` says so); else one line with the kind's classes
        and the nearest one."""
        kind = self.get(moment, "moment") or self._known.get(moment, "moment")
        if kind is None or name in kind.classes:
            return None
        if not kind.classes:
            return f"moment kind '{moment}' has no classes; leave out classes to bar it all"
        close = difflib.get_close_matches(name, kind.classes, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return (
            f"unknown class '{name}' of moment kind '{moment}' (its classes: "
            f"{', '.join(kind.classes)}){hint}"
        )

    def columns(self) -> dict[str, list[Any]]:
        """The ``kinds`` table's columns, one row per kind."""
        rows = list(self)
        return {
            "name": [e.kind.name for e in rows],
            "category": [e.kind.category for e in rows],
            "entity": [e.kind.entity for e in rows],
            "domain": [e.kind.domain for e in rows],
            "lawful": [e.kind.lawful for e in rows],
            "biometric": [e.kind.biometric for e in rows],
            "realtime": [e.kind.realtime for e in rows],
            "of_act": [e.kind.of_act for e in rows],
            "kept": [e.kind.kept for e in rows],
            "produced_by": [e.produced_by for e in rows],
            "meaning": [e.kind.meaning for e in rows],
            "classes": [",".join(e.kind.classes) or None for e in rows],
        }

    # -- explaining a missing name ------------------------------------------------------

    def problem(self, name: str, category: str) -> str | None:
        """None if this catalogue has ``name`` in ``category``; else one line saying why
        not: produced by a component this run does not run (or runs with parameters
        that do not produce it), a kind of another category, or unknown (with the
        nearest valid name)."""
        if self.has(name, category):
            return None
        entry = self._known.entry(name, category)
        if entry is None:
            return self.unknown(name, category)
        label = f"{category} kind '{name}'"
        chain = [entry.produced_by] + ([entry.from_act] if entry.from_act else [])
        made = entry.produced_by + (f" from the acts of {entry.from_act}" if entry.from_act else "")
        missing = [c for c in chain if c not in self.running]
        if not missing:
            return (
                f"{label} is produced by {made}, which this scenario runs with parameters "
                "that do not produce it"
            )
        if missing == chain or len(chain) == 1:
            return f"{label} is produced by {made}, which this scenario does not run"
        return f"{label} is produced by {made}; this scenario does not run {', '.join(missing)}"

    def unknown(self, name: str, category: str) -> str | None:
        """None if sclab knows ``name`` in ``category`` (here or in the wider catalogue),
        whether or not this run produces it; else one line: a kind of another category,
        or unknown with the nearest valid name."""
        if self.has(name, category) or self._known.has(name, category):
            return None
        for other in CATEGORIES:
            if other != category and (self.has(name, other) or self._known.has(name, other)):
                hint = self._standing_for(name, category)
                return f"'{name}' is {_a(other)} kind, not {_a(category)} kind{hint}"
        return f"unknown {category} kind '{name}'{self.suggest(name, category)}"

    @property
    def _known(self) -> Catalogue:
        return self.wider if self.wider is not None else self

    def suggest(self, name: str, category: str) -> str:
        """``"; did you mean 'x'?"`` with the nearest name of ``category`` (valid here
        first, then known to sclab), or ``""``."""
        for cat in (self, self.wider):
            if cat is None:
                continue
            close = difflib.get_close_matches(name, cat.names(category), n=1)
            if close:
                return f"; did you mean '{close[0]}'?"
        return ""

    def _standing_for(self, name: str, category: str) -> str:
        """A hint for ``name``, a kind of another category: the kind of ``category``
        that stands for it (a record of the act), or the act it stands for."""
        cats = (self, self._known)
        names = sorted(
            {k.name for c in cats for k in c.kinds(category) if k.of_act == name} - {name}
        )
        if names:
            return f"; did you mean '{names[0]}' (which stands for it)?"
        for c in cats:
            for other in CATEGORIES:
                kind = c.get(name, other)
                act = kind.of_act if kind is not None else None
                if act and act != name and any(x.has(act, category) for x in cats):
                    return f"; did you mean '{act}' (the act it stands for)?"
        return self.suggest(name, category)


def _a(category: str) -> str:
    return f"an {category}" if category[0] in "aeiou" else f"a {category}"


def markdown(catalogue: Catalogue) -> str:
    """The catalogue as Markdown: the facts, the domains and every kind by category.

    ``docs/catalogue.md`` is this text for sclab's own components with their default
    parameters (:func:`sclab.targets.builtin_catalogue`; a test keeps them equal).
    """
    out = [
        "# The catalogue: what can happen",
        "",
        "Every act, event (record) and resource-moment kind of sclab's own components with",
        "their default parameters, declared once by the component that produces it",
        "(`kinds()`), with its facts. A run writes its own catalogue to the `kinds` table of",
        "`run.duckdb` (join it on `events.kind`, `aggregates.kind` or",
        "`resource_moments.kind`), and policies are checked against it. Generated from the",
        "code (`make docs`).",
        "",
        "## The facts",
        "",
    ]
    out += [f"- **`{fact}`**: {text}" for fact, text in FACTS.items()]
    out += ["", "## Domains", "", "| domain | covers |", "| --- | --- |"]
    out += [f"| `{d}` | {text} |" for d, text in DOMAINS.items()]
    out.append("")
    titles = {"act": "Acts", "event": "Events (records)", "moment": "Resource moments"}
    for category in CATEGORIES:
        rows = [e for e in catalogue if e.kind.category == category]
        out += [f"## {titles[category]}", ""]
        out += [
            "| kind | entity | domain | lawful | biometric | real-time | of act | kept "
            "| produced by | meaning |" + (" classes |" if category == "moment" else ""),
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
            + (" --- |" if category == "moment" else ""),
        ]
        for e in rows:
            k = e.kind
            out.append(
                f"| `{k.name}` | {k.entity} | {k.domain} | {_yes(k.lawful)} | "
                f"{_yes(k.biometric)} | {_yes(k.realtime)} | {f'`{k.of_act}`' if k.of_act else ''} "
                f"| {k.kept} | {e.produced_by} | {k.meaning.replace('|', '/')} |"
                + (f" {', '.join(f'`{c}`' for c in k.classes)} |" if category == "moment" else "")
            )
        out.append("")
    return "\n".join(out)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
