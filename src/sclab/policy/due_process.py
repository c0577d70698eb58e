"""Due process on blacklists: objection, review, appeal and credit repair.

Core object:
    :class:`DueProcess`: when an entry is opened, draws whether the listed entity objects,
        whether the objection is upheld after notice and review, whether a failed objection
        is appealed and won, and whether the entity completes credit repair; the entry's
        scheduled end becomes the earliest of its term and these exits. The odds differ
        for wrongful and rightful entries (``docs/policies.md``).

Every draw is made at entry, from the day's stream, so an entry's fate does not depend on
what else happens while it is open.
"""

from __future__ import annotations

import numpy as np

from sclab.policy.schema import DueProcess as DueProcessSpec
from sclab.policy.schema import ListSpec
from sclab.policy.state import END_REASONS
from sclab.policy.today import Today


class DueProcess:
    """The due process of one policy (``spec``: its ``due_process`` section)."""

    def __init__(self, spec: DueProcessSpec) -> None:
        self.spec = spec

    def exits(
        self,
        today: Today,
        lst: ListSpec,
        end: np.ndarray,
        reason: np.ndarray,
        wrongful: np.ndarray,
        start: int | np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw each new entry's objection, appeal and repair; keep the earliest exit.

        ``end``/``reason``: each entry's scheduled end so far (its term); times run from
        ``start``, the entry's first day. Redlists have no due process.
        """
        dp = self.spec
        if not dp.enabled or lst.kind != "blacklist":
            return end, reason
        rng, n, day = today.rng, len(end), start
        objects = rng.random(n) < np.where(
            wrongful, dp.objection_share_if_wrongful, dp.objection_share_if_rightful
        )
        upheld = objects & (
            rng.random(n) < np.where(wrongful, dp.success_if_wrongful, dp.success_if_rightful)
        )
        decided = day + dp.notice_delay_days + dp.review_days
        appeal = objects & ~upheld & (rng.random(n) < dp.appeal_share)
        won = appeal & wrongful & (rng.random(n) < dp.appeal_success_if_wrongful)
        for mask, when, why in (
            (upheld, decided, "objection_upheld"),
            (won, decided + dp.appeal_days, "appeal_upheld"),
        ):
            earlier = mask & (when < end)
            end = np.where(earlier, when, end)
            reason = np.where(earlier, END_REASONS.index(why), reason).astype(np.uint8)
        if dp.repair_after_days and dp.repair_share > 0:
            repaired = rng.random(n) < dp.repair_share
            when = day + dp.repair_after_days
            earlier = repaired & (when < end)
            end = np.where(earlier, when, end)
            reason = np.where(earlier, END_REASONS.index("repaired"), reason).astype(np.uint8)
        return end, reason
