"""What people can see of the system: the interface between policies and behaviour.

Core objects:
    :class:`SystemView`: per-person arrays and per-kind settings that the policy stage
        fills (scores, list state, the sanction attached to each act kind, who was caught
        and sanctioned today) and that behaviour components read to adapt.
    :class:`ListJournal`: the entries one policy opened and closed on one of its public
        lists, day by day, so that another policy can read them sparsely (a points delta
        for an entry on the court's list, a factor input "is listed").
    :class:`ListedElsewhere`: in a region of several cities, the people here who
        represent a company listed in another city (exchanged at day boundaries).

Policies read each other's lists only through journals, and only as of the end of the
previous day (:meth:`ListJournal.day`): what one policy sees of another never depends on
which of them steps first. A journal keeps two days (the one being written and the one
being read); its cost is O(entries opened and closed).

Why an interface rather than direct calls: behaviour must respond to whatever policies a
scenario runs, including none (the no-policy counterfactual), several at once, or a user's
own YAML policy. Policies write here; behaviour reads here; neither knows the other.
Without any policy every field keeps its neutral value (nobody scored, nobody listed, no
sanction on any act), so behaviour stays at its baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sclab.parallel import map_blocks

#: A record horizon without end (:meth:`SystemView.reads_records`).
FOREVER = np.iinfo(np.int32).max

#: For listed companies, the event behind each entry and whether it is wrongful.
Provenance = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ListedElsewhere:
    """People of this city who represent a company of another city of the region that
    stood on a company list there at the end of yesterday (by person)."""

    person: np.ndarray  # int64, local person id
    company: np.ndarray  # int64, the company's region-wide id
    since: np.ndarray  # int32, the entry's first day
    event: np.ndarray  # int64, the region-wide id of the event behind the entry
    wrongful: np.ndarray  # bool, whether the entry rests on a wrong record


class ListJournal:
    """Entries opened and closed on one public list (``entity_type`` entities), by day.

    The publishing policy calls :meth:`opened` and :meth:`closed` as it decides; readers
    call :meth:`day` for a day that is over (yesterday). Each opened entry carries the
    recorded event it rests on and its ``wrongful`` flag, so that a decision a reader
    takes on the entry rests on the same record (provenance) and is wrongful exactly
    when the entry is.
    """

    def __init__(self, entity_type: str) -> None:
        self.entity_type = entity_type
        self._opened: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {}
        self._closed: dict[int, list[np.ndarray]] = {}

    def opened(
        self,
        day: int,
        entity: np.ndarray,
        event_id: np.ndarray,
        wrongful: np.ndarray,
        start: np.ndarray | int | None = None,
    ) -> None:
        """Entries opened on ``day``; ``start``: their start days (a warm start's entries,
        resting on records made before the run, started before ``day``; default ``day``)."""
        if len(entity):
            self._forget_before(day - 1)
            starts = np.broadcast_to(
                np.asarray(day if start is None else start, np.int64), (len(entity),)
            )
            self._opened.setdefault(day, []).append(
                (np.asarray(entity, np.int64), np.asarray(event_id, np.int64),
                 np.asarray(wrongful, bool), np.array(starts))
            )  # fmt: skip

    def closed(self, day: int, entity: np.ndarray) -> None:
        """Entries that ended on ``day``."""
        if len(entity):
            self._forget_before(day - 1)
            self._closed.setdefault(day, []).append(np.asarray(entity, np.int64))

    def day(self, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(entities entered, their events, their wrongful flags, their start days, entities
        that left) on ``day``, in the order the publisher decided them. Read only days that
        are over."""
        opened = self._opened.get(day, [])
        closed = self._closed.get(day, [])
        empty = np.empty(0, np.int64)

        def column(i: int, none: np.ndarray) -> np.ndarray:
            return np.concatenate([part[i] for part in opened]) if opened else none

        return (
            column(0, empty), column(1, empty), column(2, np.empty(0, bool)), column(3, empty),
            np.concatenate(closed) if closed else empty,
        )  # fmt: skip

    def _forget_before(self, day: int) -> None:
        for book in (self._opened, self._closed):
            for old in [d for d in book if d < day]:
                del book[old]


class SystemView:
    """Visible state of the scoring system, per person.

    Args:
        n_people: Population size.

    Attributes:
        score: A person's standing in [0, 1] (1 = best), NaN where nobody scores them.
            Policies map their own scales (350-950, 1000 points...) onto it.
        listed: On at least one blacklist.
        listed_since: Day of the current listing; read it only where ``listed`` (a
            listing made before the run has a negative day; unlisted people hold -1).
        severity: Per act kind, the perceived cost of being caught, in [0, 1] (0: no
            sanction; 1: the harshest the scenario knows, e.g. joint punishment).
        detection: Per act kind, the system's actual probability of recording an act
            (set by sensors; people do not see it directly, they learn it).
        scores_speech: Critical posts cost score points.
        scores_ties: Ties' scores count in one's own score.
        scored_purchases: Purchase category → weight in the score (negative: penalised).
        visible_sanctions_today: People publicly sanctioned today (displayed, shamed).
        barred_classes: Per resource-moment kind that some measure blocks, the classes it
            bars (None: every attempt of the kind), as the policies publish them: what a
            person blocked on the kind learns to avoid.
    """

    def __init__(self, n_people: int) -> None:
        self.n = n_people
        # The view's own arrays, beneath whatever policies publish: made when first read
        # without a published array (a scenario without policies, a test writing into
        # them), so a run whose policies publish never holds them (9 bytes per person).
        self._score: np.ndarray | None = None
        self._listed: np.ndarray | None = None
        self._listed_since: np.ndarray | None = None
        # Several policies publish at once; each registers its own arrays (by reference)
        # and the view combines them: the worst standing, any listing, the earliest entry.
        self._scores: dict[str, np.ndarray] = {}
        self._lists: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._journals: dict[str, ListJournal] = {}
        # Per recorded kind, how many days a policy of the run can still act on a record
        # of it after the record was made (FOREVER: as long as it lasts); kinds no policy
        # reads are absent. Policies fill it in setup; warm starts read it.
        self.record_horizons: dict[str, int] = {}
        # Per recorded kind, the shortest such horizon, and the kinds some policy reads
        # record by record (a rule, a list's counter, a deletion), which the records
        # sensor never bundles (see bundle_horizon).
        self._shortest_horizons: dict[str, int] = {}
        self._read_each: set[str] = set()
        self._company_lists: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._company_provenance: dict[str, Provenance] = {}
        # In a region of several cities: per company list, the people here who represent
        # a company that stood on it in another city at the end of yesterday (the region
        # exchanges them at day boundaries, sclab.region).
        self._elsewhere: dict[str, ListedElsewhere] = {}
        self.severity: dict[str, float] = {}
        self.detection: dict[str, float] = {}
        self.scores_speech = False
        self.scores_ties = False
        self.scored_purchases: dict[str, float] = {}
        self._caught: dict[str, list[np.ndarray]] = {}
        self.visible_sanctions_today = np.empty(0, dtype=np.int64)
        self.barred_classes: dict[str, frozenset[str] | None] = {}
        self._blocked: dict[str, list[tuple[np.ndarray, np.ndarray | None]]] = {}

    def publish_score(self, system: str, normalised: np.ndarray) -> None:
        """A policy shares its standing array (in [0, 1], NaN = not scored), by reference."""
        self._scores[system] = normalised

    def publish_list(self, name: str, listed: np.ndarray, since: np.ndarray) -> None:
        """A policy shares a blacklist's membership and entry days, by reference."""
        self._lists[name] = (listed, since)

    def reads_records(self, kind: str, days: int, *, one_by_one: bool = False) -> None:
        """A policy acts on records of ``kind`` for ``days`` days after they are made
        (:data:`FOREVER`: with no end); the view keeps the longest over the policies.

        ``one_by_one``: the policy reads each record as such (a rule on single events, a
        list's counter, a deletion), not only how many there are (a points delta, a
        factor score's window).
        """
        self.record_horizons[kind] = max(days, self.record_horizons.get(kind, 0))
        self._shortest_horizons[kind] = min(days, self._shortest_horizons.get(kind, FOREVER))
        if one_by_one:
            self._read_each.add(kind)

    def bundle_horizon(self, kind: str) -> int | None:
        """How long after they are made records of ``kind`` may be stored together (one
        events row for a person's records that no policy tells apart during the run):
        the shortest horizon of the policies reading the kind, or None when some policy
        reads its records one by one or none reads it (:mod:`sclab.sensors.records`)."""
        if kind in self._read_each or kind not in self._shortest_horizons:
            return None
        return self._shortest_horizons[kind]

    def publish_journal(self, name: str, journal: ListJournal) -> None:
        """A policy shares the journal of one of its public lists (``<system>.<list>``)."""
        self._journals[name] = journal

    def journal(self, name: str) -> ListJournal | None:
        """The journal of public list ``name`` (``<system>.<list>``), None if no policy of
        the run publishes it."""
        return self._journals.get(name)

    def journals(self) -> list[str]:
        """The names of every published journal."""
        return sorted(self._journals)

    def publish_company_list(
        self,
        name: str,
        listed: np.ndarray,
        since: np.ndarray,
        provenance: Provenance | None = None,
    ) -> None:
        """A policy shares a blacklist of companies (membership and entry days, per
        company_id), by reference: their legal representatives may be barred.

        ``provenance(companies)``: for listed companies, the event behind each entry and
        whether it is wrongful; what another city of a region is told along with the
        listing (:meth:`company_listings`)."""
        self._company_lists[name] = (listed, since)
        if provenance is not None:
            self._company_provenance[name] = provenance

    def company_lists(self) -> list[str]:
        """The names of the published company blacklists."""
        return list(self._company_lists)

    def company_listings(
        self, name: str, companies: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Of ``companies``, those on company list ``name`` now: (company, entry day, event,
        wrongful). What a city tells the others of a region about the companies they
        represent. O(len(companies))."""
        listed, since = self._company_lists[name]
        on = companies[listed[companies]]
        provenance = self._company_provenance.get(name)
        if provenance is None:
            event, wrongful = np.full(len(on), -1, np.int64), np.zeros(len(on), bool)
        else:
            event, wrongful = provenance(on)
        return on, since[on].astype(np.int32), event, wrongful

    def receive_listed_elsewhere(self, name: str, entries: ListedElsewhere) -> None:
        """The people here who represent a company on list ``name`` in another city (the
        region's exchange at the start of a day: the lists as they stood yesterday)."""
        self._elsewhere[name] = entries

    def listed_elsewhere(self, name: str) -> ListedElsewhere | None:
        """:meth:`receive_listed_elsewhere`'s entries of list ``name``, if any."""
        return self._elsewhere.get(name)

    def listed_representatives(self, legal_rep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """People representing a company on some company blacklist, here or in another
        city of the region, with the earliest entry day among those companies (unique,
        ascending). ``legal_rep``: per company here, its representative (-1: none here).
        O(companies x lists)."""
        people: list[np.ndarray] = []
        days: list[np.ndarray] = []
        local = self.listed_companies()
        if local is not None:
            on = np.flatnonzero(local[0] & (legal_rep >= 0))
            people.append(legal_rep[on].astype(np.int64))
            days.append(local[1][on].astype(np.int32))
        for entries in self._elsewhere.values():
            people.append(entries.person)
            days.append(entries.since)
        if not people:
            return np.empty(0, np.int64), np.empty(0, np.int32)
        who, day = np.concatenate(people), np.concatenate(days)
        order = np.lexsort((day, who))
        who, day = who[order], day[order]
        first = np.r_[True, who[1:] != who[:-1]] if len(who) else np.empty(0, bool)
        return who[first], day[first]

    def listed_companies(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(on some published company blacklist, the earliest entry day there) per
        company, or None when no policy publishes one. O(companies x lists)."""
        if not self._company_lists:
            return None
        arrays = list(self._company_lists.values())
        listed = np.zeros(len(arrays[0][0]), dtype=bool)
        big = np.iinfo(np.int32).max
        since = np.full(len(listed), big, dtype=np.int32)
        for on, day in arrays:
            listed |= on
            np.minimum(since, np.where(on, day, big), out=since)
        return listed, since

    @property
    def score(self) -> np.ndarray:
        """Standing in [0, 1] (1 = best); the lowest over all scoring policies."""
        if not self._scores:
            if self._score is None:
                self._score = np.full(self.n, np.nan, dtype=np.float32)
            return self._score
        out = np.full(self.n, np.nan, dtype=np.float32)
        for arr in self._standings():
            np.fmin(out, arr, out=out)
        return out

    @score.setter
    def score(self, value: np.ndarray) -> None:
        self._score = np.asarray(value, dtype=np.float32)

    def _standings(self) -> list[np.ndarray]:
        """Every published standing array, and the view's own if one was set."""
        return [*self._scores.values(), *([] if self._score is None else [self._score])]

    def score_below(self, threshold: float) -> np.ndarray:
        """Per person, whether :attr:`score` is below ``threshold`` (False where unscored).

        The lowest standing is below it exactly when some policy's standing is, so no
        combined float array of everyone is built (a whole-population temporary for a
        boolean answer): one compare per published array, block by block on the cores.
        """
        arrays = self._standings()
        out = np.zeros(self.n, dtype=bool)
        t = np.float32(threshold)

        def block(_: int, lo: int, hi: int) -> None:
            for arr in arrays:
                out[lo:hi] |= arr[lo:hi] < t  # NaN compares False: never below

        map_blocks(block, self.n)
        return out

    @property
    def listed(self) -> np.ndarray:
        """On at least one published blacklist."""
        if not self._lists:
            if self._listed is None:
                self._listed = np.zeros(self.n, dtype=bool)
            return self._listed
        out = np.zeros(self.n, dtype=bool) if self._listed is None else self._listed.copy()
        for listed, _ in self._lists.values():
            out |= listed
        return out

    @listed.setter
    def listed(self, value: np.ndarray) -> None:
        self._listed = np.asarray(value, dtype=bool)

    @property
    def listed_since(self) -> np.ndarray:
        """Day of the earliest current listing; meaningful only where :attr:`listed`.

        Warm-start listings (made before the run) have negative days, so -1 is not a
        sentinel to test for: unlisted people hold -1 but must be told apart by ``listed``.
        """
        if not self._lists:
            if self._listed_since is None:
                self._listed_since = np.full(self.n, -1, dtype=np.int32)
            return self._listed_since
        return self._earliest_listing(slice(None), self.n)

    @listed_since.setter
    def listed_since(self, value: np.ndarray) -> None:
        self._listed_since = np.asarray(value, dtype=np.int32)

    def listed_since_of(self, people: np.ndarray) -> np.ndarray:
        """:attr:`listed_since` of ``people`` only: O(len(people)) per list instead of O(n).

        A behaviour that reads the listing days of the listed (a fraction of a percent of
        everyone) then pays for those people, not for a whole-population array.
        """
        if not self._lists:
            return self.listed_since[people]
        return self._earliest_listing(people, len(people))

    def _earliest_listing(self, rows: slice | np.ndarray, size: int) -> np.ndarray:
        """The earliest listing day over every list (and the view's own), for ``rows``."""
        big = np.iinfo(np.int32).max
        out = np.full(size, big, dtype=np.int32)
        own = []
        if self._listed is not None and self._listed_since is not None:
            own = [(self._listed, self._listed_since)]
        for listed, since in [*self._lists.values(), *own]:
            np.minimum(out, np.where(listed[rows], since[rows], big), out=out)
        out[out == big] = -1
        return out

    def caught(self, kind: str, people: np.ndarray) -> None:
        """Policies report people sanctioned for an act of ``kind`` today."""
        self._caught.setdefault(kind, []).append(np.asarray(people, dtype=np.int64))

    def caught_today(self, kind: str) -> np.ndarray:
        """People sanctioned for ``kind`` today (possibly with repeats)."""
        parts = self._caught.get(kind)
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def bar(self, kind: str, classes: tuple[str, ...] | list[str] | None) -> None:
        """A policy blocks attempts of ``kind`` of ``classes`` (None or empty: every
        attempt); several measures add up."""
        if kind in self.barred_classes and self.barred_classes[kind] is None:
            return
        if not classes:
            self.barred_classes[kind] = None
            return
        self.barred_classes[kind] = frozenset(self.barred_classes.get(kind) or ()) | set(classes)

    def blocked(self, kind: str, people: np.ndarray, cls: np.ndarray | None = None) -> None:
        """Policies report attempts of ``kind`` blocked today: who made them (and their
        class codes, for a kind with classes)."""
        self._blocked.setdefault(kind, []).append(
            (np.asarray(people, dtype=np.int64), None if cls is None else np.asarray(cls))
        )

    def blocked_today(self, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
        """People whose attempts of ``kind`` were blocked today (repeats: several attempts),
        with the attempts' class codes (None for a kind without classes)."""
        parts = self._blocked.get(kind)
        if not parts:
            return np.empty(0, dtype=np.int64), None
        people = np.concatenate([p for p, _ in parts])
        if any(c is None for _, c in parts):
            return people, None
        return people, np.concatenate([c for _, c in parts if c is not None])

    def listed_of(self, people: np.ndarray) -> np.ndarray:
        """:attr:`listed` of ``people`` only: O(len(people)) per published list."""
        if not self._lists:
            return self.listed[people]
        out = np.zeros(len(people), dtype=bool)
        if self._listed is not None:
            out |= self._listed[people]
        for listed, _ in self._lists.values():
            out |= listed[people]
        return out

    def end_day(self) -> None:
        """Forget today's experiences (behaviour has consumed them)."""
        self._caught = {}
        self._blocked = {}
        self.visible_sanctions_today = np.empty(0, dtype=np.int64)
