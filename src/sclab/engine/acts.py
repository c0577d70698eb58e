"""Ground truth and the moments where the system bites.

Core objects:
    :class:`Acts`: a batch of true acts of one kind on one day (who really did what).
    :class:`ActLog`: today's true acts, for sensors to record (with errors) and for
        behaviour to learn from; running totals for calibration.
    :class:`Moments`: a batch of resource moments (buying a flight ticket, applying for a
        school place...), each with an outcome the policy stage may change.
    :class:`MomentLog`: today's moments; at the end of the day those a measure decided or
        watched go to ``resource_moments`` and every one is counted (``moment_counts``).
    :class:`Aggregates`: per-entity counters for high-volume streams (posts, purchases) that
        are stored as totals rather than one row per event.

True acts never go to the database as such: what the database holds is what the system
recorded (``events``) with the truth beside it. Acts live for one day, in memory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sclab.columns import constant_labels
from sclab.parallel import map_blocks

# Outcomes of a resource moment, decided by the policy stage (default: allowed).
ALLOWED, BLOCKED, PRICED_UP, FAVOURED = 0, 1, 2, 3
OUTCOMES = ("allowed", "blocked", "priced_up", "favoured")


@dataclass
class Acts:
    """True acts of one kind on one day."""

    day: int
    source: str
    kind: str
    actor: np.ndarray  # int64 person_id or company_id
    entity_type: str = "person"
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.actor.shape[0])


class ActLog:
    """Today's true acts, by kind, plus totals over the run."""

    def __init__(self) -> None:
        self.today: list[Acts] = []
        self.totals: dict[str, int] = {}

    def add(
        self,
        day: int,
        source: str,
        kind: str,
        actor: np.ndarray,
        entity_type: str = "person",
        **extra: np.ndarray,
    ) -> Acts:
        """Add a batch of true acts."""
        acts = Acts(
            day, source, kind, np.asarray(actor, dtype=np.int64), entity_type,
            {k: np.asarray(v) for k, v in extra.items()},
        )  # fmt: skip
        self.today.append(acts)
        self.totals[kind] = self.totals.get(kind, 0) + len(acts)
        return acts

    def tally(self, kind: str, n: int) -> None:
        """Count ``n`` true acts of ``kind`` that are kept only as totals, never as rows.

        For streams a source keeps per person in :class:`Aggregates` (or per place) because
        no sensor can see them: they still belong in the run's true act totals.
        """
        self.totals[kind] = self.totals.get(kind, 0) + int(n)

    def of_kind(self, *kinds: str) -> Iterator[Acts]:
        """Today's batches of the given kinds (all kinds if none given)."""
        for acts in self.today:
            if not kinds or acts.kind in kinds:
                yield acts

    def end_day(self) -> None:
        self.today = []


@functools.cache
def _outcome_labels() -> Any:
    # Made once: building an Arrow array from Python strings costs about 0.2 ms (pyarrow
    # probes for optional modules each time), and moments are written every day.
    import pyarrow as pa

    return pa.array(list(OUTCOMES))


@functools.cache
def _class_labels(classes: tuple[str, ...]) -> Any:
    import pyarrow as pa

    return pa.array(list(classes))


@dataclass
class Moments:
    """Resource moments of one kind on one day, with outcomes the policy stage may set."""

    day: int
    source: str
    kind: str
    actor: np.ndarray  # int64 person_id (or company_id): who makes the attempt
    entity_type: str = "person"
    outcome: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint8))
    price_factor: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))
    decided_by: list[str] = field(default_factory=list)
    # Whom the moment is for, when not the actor (a child's school place applied for by a
    # parent): the person a block harms. None means the actor.
    beneficiary: np.ndarray | None = None
    # The class of each attempt (uint8 code into ``classes``, the kind's classes in the
    # catalogue: a train and seat class); None for a kind without classes.
    cls: np.ndarray | None = None
    classes: tuple[str, ...] = ()
    # For a subset of a day's batch (see subset): each moment's position in the batch.
    positions: np.ndarray | None = None
    # Per moment, whether a measure's condition held for whom it names (see watch);
    # None: for none.
    watched: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.actor.shape[0])

    def watch(self, held: np.ndarray) -> None:
        """Mark the moments for whose actor (or beneficiary) a measure's condition held,
        whatever their outcome: they are stored one by one (``resource_moments``) even
        when allowed (a listed person buying a permitted seat)."""
        if held.any():
            if self.watched is None:
                self.watched = np.zeros(len(self), bool)
            self.watched |= held

    def subset(self, at: np.ndarray) -> Moments:
        """The moments at positions ``at`` (copies), remembering their positions for ids."""
        part = Moments(
            self.day, self.source, self.kind, self.actor[at], self.entity_type,
            self.outcome[at], self.price_factor[at], list(self.decided_by),
            None if self.beneficiary is None else self.beneficiary[at],
            None if self.cls is None else self.cls[at], self.classes,
        )  # fmt: skip
        part.positions = np.asarray(at, np.int64)
        return part

    def columns(self, first_id: int) -> dict[str, Any]:
        """Columns for the ``resource_moments`` table: ids from ``first_id`` on in the
        order of the day's attempts (a subset keeps its attempts' own ids)."""
        import pyarrow as pa

        n = len(self)
        offsets = np.arange(n, dtype=np.int64) if self.positions is None else self.positions
        columns = {
            "moment_id": first_id + offsets,
            "day": np.full(n, self.day, np.int32),
            "kind": constant_labels(self.kind, n),
            "entity_type": constant_labels(self.entity_type, n),
            "actor": self.actor,
            "beneficiary": self.actor if self.beneficiary is None else self.beneficiary,
            "outcome": pa.DictionaryArray.from_arrays(
                pa.array(self.outcome.astype(np.int32)), _outcome_labels()
            ),
            "price_factor": self.price_factor,
        }
        if self.cls is not None:  # else the class is NULL (a column left out)
            columns["class"] = pa.DictionaryArray.from_arrays(
                pa.array(self.cls.astype(np.int32)), _class_labels(self.classes)
            )
        return columns


class MomentLog:
    """Today's resource moments; at the end of the day, those a measure decided go to a
    sink and every moment is counted.

    Args:
        sink: Called with each day's batches of the moments a measure decided or
            watched (e.g. a database append): those whose outcome is not ``allowed`` or
            whose actor a measure's condition held for (:meth:`Moments.watch`), with their
            ids (every attempt is numbered, so the ids of the stored ones have gaps).
        record_kinds: Kinds whose decided moments are stored one row per moment; other
            kinds are only counted.
    """

    def __init__(
        self,
        sink: Callable[[Moments, int], None] | None = None,
        record_kinds: set[str] | None = None,
    ) -> None:
        self.sink = sink
        self.record_kinds = record_kinds
        self.today: list[Moments] = []
        self.next_id = 0
        self.totals: dict[tuple[str, str], int] = {}
        # Every attempt, per (day, kind, class, entity type, outcome): moment_counts.
        self._counts: dict[tuple[int, str, str | None, str, str], int] = {}

    def add(
        self,
        day: int,
        source: str,
        kind: str,
        actor: np.ndarray,
        entity_type: str = "person",
        beneficiary: np.ndarray | None = None,
        cls: np.ndarray | None = None,
        classes: tuple[str, ...] = (),
    ) -> Moments:
        """Add attempts; each starts allowed at price factor 1.

        Args:
            beneficiary: Whom each attempt is for, if not the actor (same length).
            cls: The class of each attempt (same length), a code into ``classes``, the
                kind's classes as the catalogue declares them.
        """
        actor = np.asarray(actor, dtype=np.int64)
        if beneficiary is not None:
            beneficiary = np.asarray(beneficiary, dtype=np.int64)
            if beneficiary.shape != actor.shape:
                raise ValueError("beneficiary must have one entry per actor")
        if cls is not None:
            cls = np.asarray(cls, dtype=np.uint8)
            if cls.shape != actor.shape:
                raise ValueError("cls must have one entry per actor")
            if len(cls) and int(cls.max()) >= len(classes):
                raise ValueError(f"class code {int(cls.max())} not among {classes}")
        m = Moments(
            day, source, kind, actor, entity_type,
            np.zeros(len(actor), np.uint8), np.ones(len(actor), np.float32),
            beneficiary=beneficiary, cls=cls, classes=tuple(classes),
        )  # fmt: skip
        self.today.append(m)
        return m

    def of_kind(self, *kinds: str) -> Iterator[Moments]:
        for m in self.today:
            if not kinds or m.kind in kinds:
                yield m

    def end_day(self) -> None:
        for m in self.today:
            if not len(m):
                continue
            n_out = len(OUTCOMES)
            classes = m.classes if m.cls is not None else (None,)
            cell = m.outcome.astype(np.int64)
            if m.cls is not None:
                cell += m.cls.astype(np.int64) * n_out
            per_cell = np.bincount(cell, minlength=len(classes) * n_out)
            for at in np.flatnonzero(per_cell):
                cls, label = classes[at // n_out], OUTCOMES[at % n_out]
                k = int(per_cell[at])
                self.totals[(m.kind, label)] = self.totals.get((m.kind, label), 0) + k
                key = (m.day, m.kind, cls, m.entity_type, label)
                self._counts[key] = self._counts.get(key, 0) + k
            stored = self.record_kinds is None or m.kind in self.record_kinds
            kept = m.outcome != ALLOWED
            if m.watched is not None:
                kept |= m.watched
            decided = np.flatnonzero(kept)
            if self.sink is not None and stored and len(decided):
                self.sink(m.subset(decided), self.next_id)
            self.next_id += len(m)
        self.today = []

    def count_columns(self) -> dict[str, Any]:
        """Columns for the ``moment_counts`` table: every attempt so far, counted."""
        import pyarrow as pa

        keys = sorted(self._counts, key=lambda k: (k[0], k[1], k[2] or "", k[3], k[4]))
        return {
            "day": np.array([k[0] for k in keys], np.int32),
            "kind": [k[1] for k in keys],
            "class": pa.array([k[2] for k in keys], type=pa.string()),  # NULL: no class
            "entity_type": [k[3] for k in keys],
            "outcome": [k[4] for k in keys],
            "attempts": np.array([self._counts[k] for k in keys], np.int64),
        }


class Aggregates:
    """Per-entity counters and amounts for high-volume act kinds.

    Two ways in: :meth:`add` (one entry per act, today) and :meth:`add_counts` (per-entity
    totals). A source whose stream only ever ends up as totals may also :meth:`defer` it:
    it accrues the stream's exposure cheaply each day and draws the totals in a ``settle``
    callback, which runs when ``counts[key]`` or ``amounts[key]`` of one of its kinds is
    read, or at :meth:`rows`. Readers therefore always see every act up to now. Whether
    a read splits the realisation is the source's affair: sclab's lazy streams draw each
    fixed period once, whoever reads (:class:`sclab.world.sampling.LazyPoisson`), so a
    read changes when acts are seen, not which.

    Args:
        sizes: Entities per type, e.g. ``{"person": n}``.

    Counters start as uint16 (2 bytes per entity and kind: most kinds never count past a
    few thousand acts per person in a run) and are widened to uint32 before an addition
    that could pass 65,535 for some entity, so a count never wraps. What may be added is
    bounded cheaply: per call, the largest addition (O(k)), checked against a running
    bound on the largest count, recomputed (one O(n) maximum) only when the bound is hit.

    Amounts of a deferred kind may also be *priced from its counts* (``defer(...,
    amount_of=...)``): its settle adds counts only, and the amounts of the acts counted
    since the last pricing are drawn from those counts when ``amounts[key]`` is read or
    at :meth:`rows`, the end of the run. A kind whose amounts nobody reads during the run
    then holds no amount array while it runs (4 bytes per entity), and its amounts are
    drawn once. This needs amounts whose law depends on the counts alone (independent
    purchase amounts, a fixed bill per person); the counts come out as before.

    A reader that reads the totals of one group often (a voluntary score's participants,
    monthly) declares it with :meth:`focus` and reads with ``counts.focused(key)``: the
    sources that support it then draw that group's pending totals alone, the others'
    waiting for a full read or the end (the same law: sums of Poisson counts are Poisson).

    Attributes:
        counts: ``(entity_type, kind)`` -> uint16 or uint32 count per entity (settled on
            read).
        amounts: ``(entity_type, kind)`` -> float32 summed amount per entity, for kinds
            with amounts (settled, and priced, on read). Single precision keeps each sum to
            about 7 significant digits (a yuan in a year's spending of 100,000 yuan, after
            hundreds of additions), and halves the largest per-person arrays of a run.
    """

    class Settled:
        """A dict-like view of per-entity arrays that settles deferred totals on read.

        Reading a value (``[key]``, ``get``, ``items``, ``values``) first settles that
        key's deferred totals; membership, iteration and length never settle (keys of
        deferred kinds exist from the moment they are deferred, their arrays from the
        first settle that adds to them or the first read).
        """

        def __init__(self, owner: Aggregates, amounts: bool) -> None:
            self._owner = owner
            self._amounts = amounts

        def _keys(self) -> list[tuple[str, str]]:
            return self._owner._keys(self._amounts)

        def __getitem__(self, key: tuple[str, str]) -> np.ndarray:
            return self._owner._read(key, self._amounts)

        def __setitem__(self, key: tuple[str, str], value: np.ndarray) -> None:
            (self._owner._amounts if self._amounts else self._owner._counts)[key] = value

        def get(self, key: tuple[str, str], default: Any = None) -> Any:
            if key not in self:
                return default
            return self[key]

        def focused(self, key: tuple[str, str], default: Any = None) -> Any:
            """Like ``get``, but only the entities of the focus group (see
            :meth:`Aggregates.focus`) are sure to be up to date: the others' pending acts
            may be drawn later."""
            if key not in self:
                return default
            return self._owner._read(key, self._amounts, focused=True)

        def __contains__(self, key: object) -> bool:
            return key in self._keys()

        def __iter__(self) -> Iterator[tuple[str, str]]:
            return iter(self._keys())

        def __len__(self) -> int:
            return len(self._keys())

        def keys(self) -> list[tuple[str, str]]:
            return self._keys()

        def items(self) -> Iterator[tuple[tuple[str, str], np.ndarray]]:
            for key in self._keys():
                yield key, self[key]

        def values(self) -> Iterator[np.ndarray]:
            for _, value in self.items():
                yield value

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self._counts: dict[tuple[str, str], np.ndarray] = {}
        self._amounts: dict[tuple[str, str], np.ndarray] = {}
        # settle() or, for the focusable kinds below, settle(focus_only=True).
        self._deferred: dict[tuple[str, str], Callable[..., None]] = {}
        self._deferred_amounts: set[tuple[str, str]] = set()  # deferred kinds with amounts
        # Kinds priced from their counts: the pricing function, and the counts priced so far
        # (absent: none; a copy is kept only when amounts are read before the end).
        self._amount_of: dict[tuple[str, str], Callable[[np.ndarray], np.ndarray]] = {}
        self._priced: dict[tuple[str, str], np.ndarray] = {}
        self._final: set[tuple[str, str]] = set()  # priced by rows(): no acts may follow
        self._bound: dict[tuple[str, str], int] = {}  # at least the largest count of a key
        self._declared: dict[tuple[str, str], None] = {}  # every key, first declared first
        self._settling = False
        # Kinds whose settle can draw the focus group alone (settle(focus_only=True)),
        # the callbacks that give their sources the group, and the groups declared.
        self._focusable: set[tuple[str, str]] = set()
        self._on_focus: dict[str, list[Callable[[np.ndarray], None]]] = {}
        self._focus: dict[str, np.ndarray] = {}
        self.counts = Aggregates.Settled(self, amounts=False)
        self.amounts = Aggregates.Settled(self, amounts=True)

    def _keys(self, amounts: bool) -> list[tuple[str, str]]:
        """Keys of the counters (or amounts), deferred kinds included, in declaration order."""
        made = self._amounts if amounts else self._counts
        pending = self._deferred_amounts if amounts else self._deferred
        return [k for k in self._declared if k in made or k in pending]

    def _read(self, key: tuple[str, str], amounts: bool, focused: bool = False) -> np.ndarray:
        """A key's array after settling it (for the focus group alone if ``focused`` and
        amounts are not read); created (zeros) if nothing was ever added."""
        self.settle(key, focus_only=focused and not amounts)
        made = self._amounts if amounts else self._counts
        if key not in made and key in self._deferred:
            if amounts and key not in self._deferred_amounts:
                raise KeyError(key)
            self._arrays(key[1], key[0], key in self._deferred_amounts)
        if amounts and key in self._amount_of:
            self._price(key, final=False)
        return made[key]

    def _price(self, key: tuple[str, str], *, final: bool) -> None:
        """Draw the amounts of the acts counted since the last pricing of ``key``.

        ``final`` (the end of the run) keeps no copy of the counts priced: no act may be
        added afterwards.
        """
        if key in self._final:
            return
        counts, amounts = self._arrays(key[1], key[0], True)
        assert amounts is not None
        done = self._priced.pop(key, None)
        new = counts if done is None else counts - done  # counts only grow: exact
        amounts += self._amount_of[key](new)
        if final:
            self._final.add(key)
        else:
            self._priced[key] = counts.copy()

    def _arrays(
        self, kind: str, entity_type: str, with_amount: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The counter (and, if ``with_amount``, amount) arrays of a kind, made on first use."""
        key = (entity_type, kind)
        n = self.sizes[entity_type]
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = np.zeros(n, np.uint16)
            self._declared.setdefault(key, None)
            self._bound[key] = 0
        if not with_amount:  # (a kind priced from its counts adds counts alone)
            return counts, None
        amounts = self._amounts.get(key)
        if amounts is None:
            amounts = self._amounts[key] = np.zeros(n, np.float32)
        return counts, amounts

    def add(
        self,
        kind: str,
        who: np.ndarray,
        amount: np.ndarray | None = None,
        entity_type: str = "person",
    ) -> None:
        """Count one act per entry of ``who`` (repeats count repeatedly), with its amount.

        Cost O(k) for k entries (an unbuffered scatter-add): only the entities concerned
        are touched, never the whole population.
        """
        self._still_open(kind, entity_type)
        counts, amounts = self._arrays(kind, entity_type, amount is not None)
        who = np.asarray(who, dtype=np.intp)
        if len(who) == 0:
            return
        counts = self._room((entity_type, kind), acts=who)
        np.add.at(counts, who, counts.dtype.type(1))
        if amounts is not None:
            np.add.at(amounts, who, np.asarray(amount, dtype=np.float32))

    def add_counts(
        self,
        kind: str,
        counts: np.ndarray,
        amount: np.ndarray | None = None,
        people: np.ndarray | None = None,
        entity_type: str = "person",
    ) -> None:
        """Add per-entity totals: ``counts[i]`` acts (and ``amount[i]``) of entity ``people[i]``.

        ``people`` must be distinct; None means entity i for every i (whole arrays). Cost
        O(len(counts)).
        """
        self._still_open(kind, entity_type)
        total, amounts = self._arrays(kind, entity_type, amount is not None)
        counts = np.asarray(counts)
        if len(counts) == 0:
            return
        key = (entity_type, kind)
        total = self._room(key, totals=counts)
        if people is None:
            # Whole arrays: added in place (no converted copies), block by block on the
            # cores (one read of each array, memory-bound).
            each = None if amount is None else np.asarray(amount)

            def add(_: int, lo: int, hi: int) -> None:
                np.add(total[lo:hi], counts[lo:hi], out=total[lo:hi], casting="unsafe")
                if amounts is not None and each is not None:
                    part = each[lo:hi] if each.ndim else each
                    np.add(amounts[lo:hi], part, out=amounts[lo:hi], casting="unsafe")

            map_blocks(add, len(total))
            return
        where = np.asarray(people)
        each = None if amount is None else np.asarray(amount, dtype=np.float32)

        def scatter(_: int, lo: int, hi: int) -> None:
            # Distinct people: blocks of them touch distinct entries, on the cores.
            at = where[lo:hi]
            total[at] += counts[lo:hi].astype(total.dtype)
            if amounts is not None and each is not None:
                amounts[at] += each[lo:hi] if each.ndim else each

        map_blocks(scatter, len(where))

    def _still_open(self, kind: str, entity_type: str) -> None:
        if (entity_type, kind) in self._final:
            raise RuntimeError(
                f"acts of '{kind}' added after its amounts were priced for the results "
                "(rows() ends the aggregation of a kind priced from its counts)"
            )

    def _room(
        self,
        key: tuple[str, str],
        *,
        acts: np.ndarray | None = None,
        totals: np.ndarray | None = None,
    ) -> np.ndarray:
        """The counter of ``key``, widened first if adding ``acts`` (one per entry) or
        ``totals`` (per entity) could take a count past the uint16 range.

        For acts nobody gains more than their number, on top of the largest count among
        the entities concerned (O(k)). For totals the running bound stands for the largest
        count, replaced by the true one (one O(n) maximum) before widening on its account.
        Nothing is checked once the counter is uint32.
        """
        counts = self._counts[key]
        if counts.dtype != np.uint16:
            return counts
        limit = int(np.iinfo(np.uint16).max)
        bound = self._bound[key]
        if acts is not None:
            largest = int(counts[acts].max()) + len(acts)
        else:
            assert totals is not None
            gain = max(map_blocks(lambda _, lo, hi: int(totals[lo:hi].max()), len(totals)))
            if bound + gain > limit:
                bound = int(counts.max())  # the running bound may be loose
            largest = bound + gain
        if largest > limit:
            self._counts[key] = counts = counts.astype(np.uint32)
        self._bound[key] = max(bound, largest)
        return counts

    def defer(
        self,
        kinds: list[str] | tuple[str, ...],
        settle: Callable[..., None],
        entity_type: str = "person",
        amounts: bool = False,
        amount_of: Callable[[str, np.ndarray], np.ndarray] | None = None,
        on_focus: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        """Register ``kinds`` as deferred: ``settle()`` adds their pending totals when read.

        Their keys exist from now on, their arrays from the first settle that adds to
        them (or the first read): a kind nobody reads during the run holds no memory
        until the end. ``settle`` must add through :meth:`add` or :meth:`add_counts` and
        be cheap when nothing is pending. One callback may serve several kinds (it
        settles them all).

        Args:
            kinds: Act kinds settled by ``settle``.
            settle: Adds the pending totals.
            entity_type: Who the kinds are counted for.
            amounts: The kinds have amounts, which ``settle`` adds with the counts.
            amount_of: The kinds have amounts priced from their counts instead (``settle``
                adds counts only): ``amount_of(kind, counts)`` returns the summed amounts
                (float, per entity) of ``counts[i]`` new acts of entity ``i``. Called when
                the amounts are read and at :meth:`rows`, never per act.
            on_focus: The source can draw a focus group alone: ``on_focus(mask)`` gives it
                the group (now if one is declared, else when one is), and
                ``settle(focus_only=True)`` must then add that group's pending totals.
        """
        if on_focus is not None:
            self._on_focus.setdefault(entity_type, []).append(on_focus)
            if entity_type in self._focus:
                on_focus(self._focus[entity_type])
        for kind in kinds:
            key = (entity_type, kind)
            if on_focus is not None:
                self._focusable.add(key)
            self._deferred[key] = settle
            self._declared.setdefault(key, None)
            if amounts or amount_of is not None:
                self._deferred_amounts.add(key)
            if amount_of is not None:
                self._amount_of[key] = functools.partial(amount_of, kind)

    def focus(self, entity_type: str, members: np.ndarray) -> None:
        """Declare a group whose totals are read often (``counts.focused``): ``members``
        is a per-entity bool mask, kept by reference (it must not change afterwards).

        A second group is joined to the first. Everything pending is drawn first, so
        that the sources start the group from a clean slate (nothing is pending before
        the first day, when policies declare their groups).
        """
        members = np.asarray(members, dtype=bool)
        if len(members) != self.sizes[entity_type]:
            raise ValueError(
                f"focus mask has {len(members)} entries for {self.sizes[entity_type]} "
                f"{entity_type} entities"
            )
        old = self._focus.get(entity_type)
        if old is not None:
            if np.array_equal(old, members):
                return
            members = old | members
        self.settle()
        self._focus[entity_type] = members
        for on_focus in self._on_focus.get(entity_type, []):
            on_focus(members)

    def settle(self, key: tuple[str, str] | None = None, focus_only: bool = False) -> None:
        """Draw the pending totals of ``key`` (all deferred kinds if None); with
        ``focus_only``, only the focus group's where the kind's source can."""
        if self._settling:
            return
        if key is None:
            settlers = list(dict.fromkeys(self._deferred.values()))
        else:
            settler = self._deferred.get(key)
            settlers = [] if settler is None else [settler]
        focus_only = (
            focus_only and key is not None and key in self._focusable and key[0] in self._focus
        )
        self._settling = True
        try:
            for settle in settlers:
                if focus_only:
                    settle(focus_only=True)
                else:
                    settle()
        finally:
            self._settling = False

    #: Entities per batch of :meth:`rows`: bounds the end-of-run temporaries (about 30
    #: bytes per row) whatever the population.
    ROWS_BLOCK = 1 << 21

    def rows(self) -> Iterator[dict[str, Any]]:
        """Non-zero aggregates as column batches for the ``aggregates`` table.

        Each kind is cut into blocks of :attr:`ROWS_BLOCK` entities, in entity order.
        """
        import pyarrow as pa

        self.settle()

        for entity_type, kind in self._declared:
            all_counts = self._counts.get((entity_type, kind))
            if all_counts is None:  # a deferred kind that never had an act
                continue
            if (entity_type, kind) in self._amount_of:
                self._price((entity_type, kind), final=True)
            all_amounts = self._amounts.get((entity_type, kind))
            for lo in range(0, len(all_counts), self.ROWS_BLOCK):
                block = slice(lo, lo + self.ROWS_BLOCK)
                counts = all_counts[block]
                amounts = None if all_amounts is None else all_amounts[block]
                who = np.flatnonzero(counts)
                if len(who) == 0:
                    continue
                yield {
                    "entity_id": (who + lo).astype(np.int64),
                    "entity_type": constant_labels(entity_type, len(who)),
                    "kind": constant_labels(kind, len(who)),
                    "count": counts[who].astype(np.int64),
                    "amount": (
                        amounts[who].astype(np.float64)
                        if amounts is not None
                        else pa.nulls(len(who))
                    ),
                }
