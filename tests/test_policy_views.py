"""The standings a policy publishes to behaviour stay equal to its scores.

The engine refreshes the published standing only for entities whose points changed that
day (and for everyone after a factor assessment); these tests compare it, day by day,
with a full recomputation from the scores themselves.
"""

from __future__ import annotations

import numpy as np
from tests.conftest import build_simulation, small_scenario

from sclab.policy.engine import PolicyEngine


def test_published_standings_match_the_scores_every_day(write_scenario) -> None:
    doc = small_scenario(
        days=40,
        population={"size": 6000},
        sources=[{"use": "payments"}, {"use": "state_data", "params": {"rate_multiplier": 30}}],
        sensors=[{"use": "records"}],
        policies=[{"use": "pack", "params": {"pack": "rongcheng"}},
                  {"use": "pack", "params": {"pack": "sesame"}}],
    )  # fmt: skip
    sim = build_simulation(write_scenario(doc))
    engines = [c for _, c in sim.components if isinstance(c, PolicyEngine)]
    changed = 0
    for _ in range(doc["days"]):
        before = {
            (e.system, sid): arr.copy() for e in engines for sid, arr in e._score_views.items()
        }
        sim.step()
        for e in engines:
            for sid, arr in e._score_views.items():
                src = e.points.get(sid) or e.factors[sid]
                np.testing.assert_array_equal(arr, e._normalised(src).astype(np.float32))
                changed += int(np.sum(~np.isclose(arr, before[(e.system, sid)], equal_nan=True)))
    assert changed > 100  # the standings did move: the comparison is not vacuous
