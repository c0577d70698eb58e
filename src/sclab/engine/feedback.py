"""What people can see of the system: the interface between policies and behaviour.

Core object:
    :class:`SystemView`: per-person arrays and per-kind settings that the policy stage
        fills (scores, list state, the sanction attached to each act kind, who was caught
        and sanctioned today) and that behaviour components read to adapt.

Why an interface rather than direct calls: behaviour must respond to whatever policies a
scenario runs, including none (the no-policy counterfactual), several at once, or a user's
own YAML policy. Policies write here; behaviour reads here; neither knows the other.
Without any policy every field keeps its neutral value (nobody scored, nobody listed, no
sanction on any act), so behaviour stays at its baseline.
"""

from __future__ import annotations

import numpy as np


class SystemView:
    """Visible state of the scoring system, per person.

    Args:
        n_people: Population size.

    Attributes:
        score: A person's standing in [0, 1] (1 = best), NaN where nobody scores them.
            Policies map their own scales (350-950, 1000 points...) onto it.
        listed: On at least one blacklist.
        listed_since: Day of the current listing, -1 if not listed.
        severity: Per act kind, the perceived cost of being caught, in [0, 1] (0: no
            sanction; 1: the harshest the scenario knows, e.g. joint punishment).
        detection: Per act kind, the system's actual probability of recording an act
            (set by sensors; people do not see it directly, they learn it).
        scores_speech: Critical posts cost score points.
        scores_ties: Ties' scores count in one's own score.
        scored_purchases: Purchase category → weight in the score (negative: penalised).
        visible_sanctions_today: People publicly sanctioned today (displayed, shamed).
    """

    def __init__(self, n_people: int) -> None:
        self.n = n_people
        self.score = np.full(n_people, np.nan, dtype=np.float32)
        self.listed = np.zeros(n_people, dtype=bool)
        self.listed_since = np.full(n_people, -1, dtype=np.int32)
        self.severity: dict[str, float] = {}
        self.detection: dict[str, float] = {}
        self.scores_speech = False
        self.scores_ties = False
        self.scored_purchases: dict[str, float] = {}
        self._caught: dict[str, list[np.ndarray]] = {}
        self.visible_sanctions_today = np.empty(0, dtype=np.int64)

    def caught(self, kind: str, people: np.ndarray) -> None:
        """Policies report people sanctioned for an act of ``kind`` today."""
        self._caught.setdefault(kind, []).append(np.asarray(people, dtype=np.int64))

    def caught_today(self, kind: str) -> np.ndarray:
        """People sanctioned for ``kind`` today (possibly with repeats)."""
        parts = self._caught.get(kind)
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def caught_kinds(self) -> list[str]:
        return sorted(self._caught)

    def end_day(self) -> None:
        """Forget today's experiences (behaviour has consumed them)."""
        self._caught = {}
        self.visible_sanctions_today = np.empty(0, dtype=np.int64)
