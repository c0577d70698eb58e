"""Policy state: window counters count per entity whatever the path taken (a sort for few
rows, a table for many) and queue a warm start's records by the day they leave their
window; a value's grade is the number of grade mins it does not reach; a voluntary
score finds its participants' positions alike for few entities and for many."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.policy.schema import Grade
from sclab.policy.state import (
    FactorState,
    WindowCounter,
    _runs,
    count_by_entity,
    grade_of,
)


def _reference(
    entity: np.ndarray, flags: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    people = np.unique(entity)
    counts = np.array([weight[entity == p].sum() for p in people], np.int64)
    flagged = np.array([(weight * flags)[entity == p].sum() for p in people], np.int64)
    return people, counts, flagged


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_counts_per_entity_agree_with_a_plain_count(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 40))
    k = data.draw(st.integers(1, 60))  # 4k >= n takes the table, else the sort
    entity = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)))
    if data.draw(st.booleans()):
        entity.sort()
    flags = np.array(data.draw(st.lists(st.booleans(), min_size=k, max_size=k)))
    weighted = data.draw(st.booleans())
    weight = np.array(
        data.draw(st.lists(st.integers(1, 5), min_size=k, max_size=k)), np.uint32
    ) if weighted else np.ones(k, np.uint32)  # fmt: skip
    # Rows left out by ``where`` count as if they were not there.
    where = np.array(data.draw(st.lists(st.booleans(), min_size=k, max_size=k)))
    # The same rows counted with a population just above and far above 4 k (table, sort).
    for size in (n, 4 * k + n):
        people, counts, flagged = count_by_entity(entity, size, flags, weight if weighted else None)
        want = _reference(entity, flags, weight)
        for got, expected in zip((people, counts, flagged), want, strict=True):
            np.testing.assert_array_equal(got, expected)
            assert got.dtype == np.int64
        picked = count_by_entity(entity, size, flags, weight if weighted else None, where)
        want = _reference(entity[where], flags[where], weight[where])
        for got, expected in zip(picked, want, strict=True):
            np.testing.assert_array_equal(got, expected)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_runs_of_picked_rows_are_the_runs_of_the_rows_picked_first(
    data: st.DataObject,
) -> None:
    # Rows as a warm start's bundles come: an event id's rows are consecutive, of one
    # entity and flag; the rows picked (those staying in a window) are whole bundles, as
    # a bundle's records share the day they leave (sclab.sensors.records).
    k = data.draw(st.integers(1, 60))
    new = np.array(data.draw(st.lists(st.booleans(), min_size=k, max_size=k)))
    bundle = np.cumsum(new) - new[0]  # (the bundle of each row, from 0)
    entity = np.array(data.draw(st.lists(st.integers(0, 3), min_size=k, max_size=k)))[bundle]
    wrongful = np.array(data.draw(st.lists(st.booleans(), min_size=k, max_size=k)))[bundle]
    event_id = 100 + bundle.astype(np.int64)
    where = np.array(data.draw(st.lists(st.booleans(), min_size=k, max_size=k)))[bundle]
    if not where.any():
        where[0] = True
    got = _runs(entity, wrongful, event_id, where)
    want = _runs(entity[where], wrongful[where], event_id[where])
    for a, b in zip(got[:3], want[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    if want[3] is None:
        assert got[3] is None
    else:
        assert got[3] is not None
        np.testing.assert_array_equal(got[3], want[3])


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_past_records_count_until_they_leave_their_window(data: st.DataObject) -> None:
    n, window, end = 12, data.draw(st.integers(1, 30)), data.draw(st.integers(1, 40))
    k = data.draw(st.integers(1, 50))
    entity = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)))
    made = np.array(data.draw(st.lists(st.integers(-40, -1), min_size=k, max_size=k)))
    bad = np.array(data.draw(st.lists(st.booleans(), min_size=k, max_size=k)))
    event = np.arange(k, dtype=np.int64)
    c = WindowCounter(n, window, end)
    rose = c.add(0, entity, bad, event, made)
    leave = np.minimum(made + window, end)
    inside = leave > 0
    np.testing.assert_array_equal(c.count, np.bincount(entity[inside], minlength=n))
    np.testing.assert_array_equal(c.bad, np.bincount(entity[inside & bad], minlength=n))
    np.testing.assert_array_equal(rose, np.unique(entity[inside]))
    # Each record is queued once, under the day it leaves, in its original order there.
    assert list(c._queue) == sorted(set(leave[inside].tolist()))
    for day, parts in c._queue.items():
        (ent, wrong, ev, weight), *more = parts
        assert not more and weight is None  # distinct event ids: no bundles
        at = np.flatnonzero(inside & (leave == day))
        np.testing.assert_array_equal(ev, event[at])
        np.testing.assert_array_equal(ent, entity[at])
        np.testing.assert_array_equal(wrong, bad[at])
    # And they leave on that day.
    for day in range(1, end + 1):
        c.expire(day)
    assert not c.count.any() and not c.bad.any()


@settings(max_examples=100, deadline=None)
@given(
    mins=st.lists(st.integers(-500, 1500), min_size=1, max_size=6, unique=True),
    values=st.lists(
        st.one_of(st.floats(-1000, 2000, width=32), st.just(float("nan"))), max_size=30
    ),
)
def test_a_grade_is_the_number_of_mins_a_value_does_not_reach(
    mins: list[int], values: list[float]
) -> None:
    mins = sorted(mins, reverse=True)  # highest grade first; the lowest has no min
    grades = [Grade(name=f"g{k}", min=m) for k, m in enumerate(mins)] + [Grade(name="low")]
    v = np.array(values, np.float32)
    want = np.array([sum(x < m for m in mins) for x in v.astype(np.float64)], np.uint8)
    np.testing.assert_array_equal(grade_of(grades, v), want)
    # Many values (compared with each min) as few (searched among the mins).
    many = 5000 // max(len(v), 1)
    np.testing.assert_array_equal(grade_of(grades, np.tile(v, many)), np.tile(want, many))
    # Values on a band's min belong to it.
    on = np.array(mins, np.float32)
    np.testing.assert_array_equal(grade_of(grades, on), np.arange(len(mins), dtype=np.uint8))


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_participant_positions_by_search_and_by_table_agree(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 200))
    joined = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    joined[data.draw(st.integers(0, n - 1))] = True
    who = np.flatnonzero(joined)
    f = FactorState(
        spec=None,  # type: ignore[arg-type]  # positions read no spec
        value=np.full(n, np.nan, np.float32),
        grade=np.zeros(n, np.uint8),
        who=who,
        hidden=[],
        decayed=[],
        last_total=[],
    )
    k = data.draw(st.sampled_from([1, 2, n // 8 + 1, n, 3 * n]))  # search, then table
    entities = who[
        np.array(data.draw(st.lists(st.integers(0, len(who) - 1), min_size=k, max_size=k)))
    ]
    got = f.positions(entities)
    assert got.dtype in (np.int32, np.int64)  # the table's int32, the search's int64
    np.testing.assert_array_equal(who[got], entities)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_events_of_entities_come_in_queue_order_however_batches_are_joined(
    data: st.DataObject,
) -> None:
    n = 200  # (up to 3 entities are searched for, more are looked up in a table)
    c = WindowCounter(n, window=10)
    for day in range(data.draw(st.integers(1, 12))):
        k = data.draw(st.integers(0, 8))
        entity = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)))
        c.add(day, entity.astype(np.int64), np.zeros(k, bool), 1000 * day + np.arange(k))
    who = np.unique(np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1))))
    # Each queued batch read alone, in the queue's order.
    rows = [(e, ev) for parts in c._queue.values() for e, _, ev, _ in parts]
    want_e = np.concatenate([e[np.isin(e, who)] for e, _ in rows] + [np.empty(0, np.int64)])
    want_id = np.concatenate([ev[np.isin(e, who)] for e, ev in rows] + [np.empty(0, np.int64)])
    for join in (1, 5, 1 << 16):
        c.JOIN_ROWS = join
        got_e, got_id = c.events_of(who)
        np.testing.assert_array_equal(got_e, want_e)
        np.testing.assert_array_equal(got_id, want_id)
