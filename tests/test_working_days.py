"""Deadlines in working days ("deleted within 3 working days of performance")."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.policy.today import Today

START = dt.date(2019, 7, 8)  # a Monday


def today(day: int) -> Today:
    sim = SimpleNamespace(date=lambda d: START + dt.timedelta(days=d))
    return Today(sim, day, "policy:test")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(day=st.integers(0, 400), n=st.integers(1, 15))
def test_n_working_days_later_is_the_nth_weekday_after_today(day: int, n: int) -> None:
    later = today(day).working_days_later(n)
    dates = [START + dt.timedelta(days=d) for d in range(day + 1, later + 1)]
    assert dates[-1].weekday() < 5, "the deadline is a working day"
    assert sum(d.weekday() < 5 for d in dates) == n, "exactly n working days after today"


def test_from_a_weekend_three_working_days_end_on_wednesday() -> None:
    saturday, sunday = 5, 6  # days of the run: 2019-07-13 and 2019-07-14
    for day in (saturday, sunday):
        assert (START + dt.timedelta(days=today(day).working_days_later(3))).isoformat() == (
            "2019-07-17"
        )


def test_zero_working_days_is_today() -> None:
    for day in range(7):
        assert today(day).working_days_later(0) == day
