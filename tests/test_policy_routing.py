"""Event routing: each route gets exactly the events its filter accepts, attributed to
someone (and to a participant unless it reads everyone), route after route in order,
with the erroneous ones (misattributed, or with a record error) flagged."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.engine.events import NO_ENTITY, EventBatch
from sclab.policy.routing import EventRouter, Picked, Route
from sclab.policy.schema import EventFilter
from sclab.policy.today import Today


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_each_route_picks_matching_named_participants_in_order(data: st.DataObject) -> None:
    n_people = data.draw(st.integers(1, 30))
    members = np.array(data.draw(st.lists(st.booleans(), min_size=n_people, max_size=n_people)))
    size = data.draw(st.integers(0, 40))
    people = st.one_of(st.just(int(NO_ENTITY)), st.integers(0, n_people - 1))
    attributed = np.array(data.draw(st.lists(people, min_size=size, max_size=size)), np.int64)
    true_actor = np.array(data.draw(st.lists(people, min_size=size, max_size=size)), np.int64)
    amount = np.array(
        data.draw(st.lists(st.floats(0, 100), min_size=size, max_size=size)), np.float64
    )
    kind = data.draw(st.sampled_from(["fine", "loan_default"]))
    entity_type = data.draw(st.sampled_from(["person", "company"]))
    # Record errors (a nullable Arrow column, cut from a longer one at some offset).
    has_error = np.array(data.draw(st.lists(st.booleans(), min_size=size, max_size=size)))
    cut = data.draw(st.integers(0, 9))
    errors = pa.array(
        ["wrong date"] * cut + ["wrong date" if e else None for e in has_error]
    ).dictionary_encode()[cut:]
    batch = EventBatch(
        day=3, source="records", kind=kind, entity_type=entity_type, true_actor=true_actor,
        attributed_to=attributed, event_id=np.arange(100, 100 + size, dtype=np.int64),
        extra={"amount": amount, "error": errors},
    )  # fmt: skip
    # Four routes: two filters, each about persons only or any type, reading participants
    # only or everyone.
    seen: list[tuple[int, Picked]] = []
    routes = []
    for k, (min_amount, entity, participants_only) in enumerate(
        [(None, "person", True), (50.0, None, True), (None, None, False), (20.0, "company", False)]
    ):
        f = EventFilter(kinds=["fine"], min_amount=min_amount)

        def take(_: Today, p: Picked, k: int = k) -> None:
            seen.append((k, p))

        routes.append(Route(f, entity, take, participants_only))
    router = EventRouter({"person": members, "company": np.ones(n_people, bool)}, routes)

    router.deliver(None, batch)  # type: ignore[arg-type]  # no route reads the day here

    expected = []
    for k, route in enumerate(routes):
        if kind != "fine" or (route.entity not in (None, entity_type)):
            continue
        ok = attributed != NO_ENTITY
        if route.events.min_amount is not None:
            ok &= amount >= route.events.min_amount
        if route.participants_only and entity_type == "person":
            ok &= members[np.where(ok, attributed, 0)]
        if ok.any():
            expected.append((k, np.flatnonzero(ok)))
    assert [k for k, _ in seen] == [k for k, _ in expected]  # in the routes' order
    for (_, p), (_, at) in zip(seen, expected, strict=True):
        np.testing.assert_array_equal(p.at, at)
        np.testing.assert_array_equal(p.entity, attributed[at])
        np.testing.assert_array_equal(p.event_id, batch.event_id[at])
        misattributed = (attributed[at] != true_actor[at]) | (true_actor[at] == NO_ENTITY)
        np.testing.assert_array_equal(p.erroneous, misattributed | has_error[at])
