"""Warm starts: the acts of a stream before day 0, drawn from the stream's own rates.

A scoring system is a stock built over years: points earned and lost, records inside
5-year windows, entries on lists. A run that starts every stream empty starts every
system at its base. Every source therefore draws, at setup, the acts its streams would
have produced before day 0 (with base rates: behaviour multipliers are not known before
the run), and hands them to the run on day 0 with their true past day. The records
sensor records them as of that day (``occurred_day``, see :mod:`sclab.sensors.records`)
and the policies count them from the day their records were made
(``docs/policies.md``, "Warm start").

Core objects:
    :func:`days_since`: how many days of history a stream draws (since a date, or a given
        number of days).
    :func:`past_events`: per past day, who in a pool had an event at a daily probability:
        (who, day) with day < 0.
    :func:`adult_on`: whether each person had reached an age on a (past) day.
    :func:`by_person_then_day`: (who, day) pairs in the order of every history.
    :class:`PastActs`: the acts drawn at setup, emitted once on the first step, by
        person then oldest first, outside the run's totals (``true_act_totals`` counts
        the run's acts).

Law: the stream's own. A pool of m members each with probability p of an event on a day
has Binomial(m, p) events that day, on uniform members (drawn with replacement: a member
may have two on one day, at probability of order p, which the daily draw of the run never
gives; immaterial at the rates of sclab's streams). So the stock of past events inside a
window of w days has mean m p w, as in a run that had lasted that long.

Only what a policy can see is recorded: the acts are drawn at setup (always all of them,
so that the draws never depend on which policies run), and on the first step a kind that
no policy of the run reads is dropped, as are acts older than the longest time after
which a policy can still act on their records (a window, a lapse; points that never
lapse are seen for ever) by more than :data:`RECORDING_MARGIN_DAYS`. A run of the Nanjing
jaywalking rule alone therefore records no history of bills or tickets.

Cost model: O(days) binomial draws and O(events drawn) per stream, once; the acts that a
policy can see are then processed like any act on day 0 (the records sensor batches them
by kind and delivery day).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from sclab.arrays import lex_order
from sclab.engine.acts import Acts
from sclab.engine.ages import ages
from sclab.engine.feedback import FOREVER

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation


#: How much older than the longest horizon of the policies an act may be and still have
#: a record they can see: a record is made after its act, by the records sensor's delay
#: (means 0 to 30 days by default: a geometric delay of mean 30 exceeds 365 days with
#: probability 6e-6), so acts older than the horizon by more than this are not recorded.
RECORDING_MARGIN_DAYS = 365


def days_since(start_date: dt.date, since: dt.date | None, days: int | None) -> int:
    """Days of history before ``start_date``: ``days`` if given, else the days since
    ``since`` (0 if that is not before the start), else 0."""
    if days is not None:
        return days
    if since is None:
        return 0
    return max(0, (start_date - since).days)


def past_events(
    rng: np.random.Generator, pool: np.ndarray, daily: float, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Who in ``pool`` had an event on each of the ``days`` days before day 0.

    Returns (who as int64, day as int32 in [-days, -1]) by person, then oldest first:
    the order in which the records sensor keeps a history (by the entity a record is
    attributed to, mostly its actor), so that its sorts and gathers run over nearly
    ordered data instead of moving tens of millions of rows at random.
    """
    if days <= 0 or daily <= 0 or len(pool) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int32)
    counts = rng.binomial(len(pool), min(daily, 1.0), size=days)  # day -1, -2, ...
    total = int(counts.sum())
    who = np.asarray(pool)[rng.integers(0, len(pool), total)].astype(np.int64)
    day = -np.repeat(np.arange(1, days + 1, dtype=np.int32), counts)
    return by_person_then_day(who, day)


def by_person_then_day(who: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(who, day) pairs sorted by person, then day: ``lex_order(day, who)`` applied to both.

    Only the pairs' values are wanted, and equal pairs are interchangeable, so both are
    packed into one int64 and the packed values sorted: no order array, no gathers (about
    2.5 times faster on millions of pairs). Falls back to lex_order if they do not fit.
    """
    if len(who) == 0:
        return who, day
    lo, d_lo = int(who.min()), int(day.min())
    who_bits = (int(who.max()) - lo).bit_length()
    day_bits = (int(day.max()) - d_lo).bit_length()
    if who_bits + day_bits > 63:
        order = lex_order(day, who)
        return who[order], day[order]
    key = who - lo
    key <<= day_bits
    key |= day.astype(np.int64) - d_lo
    key.sort()
    day_sorted = (key & ((1 << day_bits) - 1)).astype(np.int32)
    day_sorted += d_lo
    key >>= day_bits
    key += lo
    return key, day_sorted


def adult_on(sim: Simulation, who: np.ndarray, day: np.ndarray, age: int) -> np.ndarray:
    """Whether each person had reached ``age`` on (past) simulation day ``day``.

    Date arithmetic only where it can matter: people younger than ``age`` on day 0 were
    younger before, and people who on day 0 are older than ``age`` by more whole years
    than the oldest day lies back were of age on every day; the rest (a few birth years)
    are dated exactly.
    """
    who = np.asarray(who)
    day = np.asarray(day)
    if len(who) == 0:
        return np.zeros(0, bool)
    now = ages(sim)[who]
    years_back = int(-min(int(day.min()), 0)) // 365 + 1
    out = now >= age + years_back
    edge = np.flatnonzero(~out & (now >= age))
    if len(edge):
        out[edge] = _adult_on_exact(sim, who[edge], day[edge], age)
    return out


def _adult_on_exact(sim: Simulation, who: np.ndarray, day: np.ndarray, age: int) -> np.ndarray:
    born = sim.population.citizens.birth_day[who].astype(np.int64).astype("datetime64[D]")
    month = born.astype("datetime64[M]")
    # The birthday in the year of majority (29 February rolls to 1 March, as age_on).
    adult_from = (month + 12 * age).astype("datetime64[D]") + (born - month)
    on = np.datetime64(sim.scenario.start_date, "D") + np.asarray(day).astype("timedelta64[D]")
    return adult_from <= on


class PastActs:
    """Acts from before the run, emitted on the first step (``emit``) and then forgotten."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._acts: list[Acts] = []

    def add(
        self,
        kind: str,
        who: np.ndarray,
        day: np.ndarray,
        extra: dict[str, np.ndarray] | None = None,
        entity_type: str = "person",
    ) -> None:
        """Acts of ``kind`` by ``who`` on past days ``day`` (< 0), with their extras."""
        if len(who):
            extra = {**(extra or {}), "occurred_day": np.asarray(day, np.int32)}
            who = np.asarray(who)
            if who.dtype.itemsize > 4 and int(who.max()) <= np.iinfo(np.int32).max:
                # A history is most of day 0's records; every column the records sensor
                # gathers from it (actor, attributed entity) is then half as wide.
                who = who.astype(np.int32)
            self._acts.append(Acts(0, self.source, kind, who, entity_type, extra))

    def __len__(self) -> int:
        return sum(len(a) for a in self._acts)

    def emit(self, sim: Simulation, day: int) -> None:
        """Hand the acts to the day's acts, once: those whose records a policy of the run
        can still act on (:attr:`sclab.engine.feedback.SystemView.record_horizons`, filled
        by the policies in setup). They are appended without ``ActLog.add``, which would
        count them in the run's totals."""
        horizons = sim.view.record_horizons
        for acts in self._acts:
            horizon = horizons.get(acts.kind)
            if horizon is None:
                continue  # no policy reads this kind: its past changes nothing
            if horizon < FOREVER:
                keep = acts.extra["occurred_day"] > -(horizon + RECORDING_MARGIN_DAYS)
                if not keep.all():
                    acts = Acts(
                        acts.day, acts.source, acts.kind, acts.actor[keep], acts.entity_type,
                        {k: np.asarray(v)[keep] for k, v in acts.extra.items()},
                    )  # fmt: skip
            acts.day = day
            if len(acts):
                sim.acts.today.append(acts)
        self._acts = []
