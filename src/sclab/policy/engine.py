"""The policy engine: one compiled policy pack, run as a component of the simulation.

Core objects:
    :class:`PackParams`: ``{pack: NAME_OR_FILE}``, how a scenario names a policy.
    :class:`PolicyEngine`: compiles a :class:`~sclab.policy.schema.Policy` into its parts
        in ``setup`` and, each day, runs them on what the system recorded (never the
        truth), handing each the day's :class:`~sclab.policy.today.Today`.

The parts, one job each:
    :mod:`~sclab.policy.routing` (which events each part reads),
    :mod:`~sclab.policy.counters` (sliding windows and threshold rules),
    :mod:`~sclab.policy.points` (score deltas, restoration),
    :mod:`~sclab.policy.factors` (factor-score assessments),
    :mod:`~sclab.policy.grades` (rules on grades and scores),
    :mod:`~sclab.policy.effects` (rule effects, and who behaviour hears was caught),
    :mod:`~sclab.policy.lists` with :mod:`~sclab.policy.due_process` (entries, terms,
    extensions, deletion, objections, appeals, repair),
    :mod:`~sclab.policy.joint` (measures at resource moments),
    :mod:`~sclab.policy.references` (other systems' public lists, read as of yesterday),
    :mod:`~sclab.policy.provenance` (erroneous events, the ``wrongful`` flag),
    :mod:`~sclab.policy.rows` (rows for the store),
    :mod:`~sclab.policy.publish` (what behaviour sees); their state lives in
    :mod:`~sclab.policy.scores` and :mod:`~sclab.policy.state`. Before a run,
    :mod:`~sclab.policy.vocabulary` checks the names the policy uses against the run's
    catalogue of kinds.

Several engines run side by side when a scenario names several packs (national, municipal,
commercial); each has its own random stream (``policy:<id>``) and its own state, and they
meet in the :class:`~sclab.engine.feedback.SystemView` (the worst standing, any listing) and
at resource moments (a blocked moment stays blocked). Within an engine the parts draw from
the day's stream in the order ``step`` calls them: that order is part of the results.

Provenance: every score change, list entry and sanction row names its rule and the recorded
event it rests on (``decision_events`` lists all the events behind a threshold decision);
``wrongful`` follows the but-for definition in ``docs/policies.md``
(:mod:`sclab.policy.provenance`).

Records made before the run (a source's warm start, delivered on day 0 with their past
``recorded_day``): a list entry resting on one starts on that past day, so its term runs
from the real listing; its due process (objection, appeal, repair) is timed from that day
too, and an expiring term may have been extended (``extension_probability``) in the past.
Entries that would have ended before today are not opened. One-off sanctions of such a
record (a notice) were served before the run and are not issued again, and the people are
not reported to behaviour as caught today; score deltas and counters apply as usual,
counted from the day the engine receives the record (``docs/policies.md``, "Warm start").

Cost model per day: O(recorded events + resource moments + entries opened or closed), plus
O(open entries) for expiry checks; factor scores cost O(people + ties) on update days only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sclab.engine.catalogue import Catalogue
from sclab.engine.registry import register
from sclab.policy.counters import Counters
from sclab.policy.effects import Effects
from sclab.policy.factors import FactorScores
from sclab.policy.grades import GradeRules
from sclab.policy.joint import JointMeasures
from sclab.policy.lists import Lists
from sclab.policy.loader import load_policy, read_policy
from sclab.policy.participation import participants
from sclab.policy.points import Points, delta_rule_id
from sclab.policy.provenance import Provenance
from sclab.policy.publish import Standings, publish_incentives, publish_record_horizons
from sclab.policy.references import ListReferences, list_delta_rule_id
from sclab.policy.routing import EventRouter
from sclab.policy.rows import Rows
from sclab.policy.schema import SANCTION_KINDS, FactorScore, Policy
from sclab.policy.scores import Scores
from sclab.policy.state import END_REASONS
from sclab.policy.today import Today
from sclab.policy.vocabulary import check_list_references, check_names

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation


class PackParams(BaseModel):
    """Which policy to run."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    pack: str = Field(min_length=1, description="A built-in pack name or a policy YAML file.")


@register("policies", "pack", PackParams)
class PolicyEngine:
    """Runs one policy pack: counters, scores, lists, rules, joint measures, due process."""

    @staticmethod
    def check_params(params: PackParams) -> None:
        """Validate the named pack or file before a run starts (one-line errors)."""
        load_policy(params.pack)

    def __init__(self, name: str, params: PackParams) -> None:
        self.policy: Policy
        self.policy, self._document = read_policy(params.pack)
        self.system = self.policy.system_name
        self.name = f"policy:{self.system}"

    def check_kinds(self, catalogue: Catalogue) -> None:
        """Every kind, source, attribute and moment the policy names must be produced by
        the run's components (:func:`sclab.policy.vocabulary.check_names`; errors are
        located in the policy file)."""
        check_names(self.policy, self._document, catalogue)

    def check_lists(self, published: dict[str, tuple[str, bool]], scope: str) -> None:
        """Every other system's list the policy reads must be a public list that a policy
        of the run publishes (``published``: :func:`sclab.policy.vocabulary.published_lists`
        of the run's policies; errors are located in the policy file)."""
        check_list_references(self.policy, self._document, published, scope)

    def labels(self) -> dict[str, set[str]]:
        """Every label this policy may write: its system, scores, rule ids, lists, grades,
        sanction domains and kinds, and the reasons list entries end."""
        pol = self.policy
        rules = {r.id for r in pol.rules} | {j.id for j in pol.joint}
        domains = {j.domain for j in pol.joint} | {m for j in pol.joint for m in j.moments}
        grades: set[str] = set()
        for score in pol.scores:
            grades |= {g.name for g in score.grades}
            if isinstance(score, FactorScore):
                rules.add(f"{score.id}:assessment")
            else:
                rules.add(f"{score.id}:restored")
                rules |= {delta_rule_id(score.id, d) for d in score.deltas}
                rules |= {list_delta_rule_id(score.id, d) for d in score.list_deltas}
        for rule in pol.rules:
            domains |= {e.sanction.domain for e in rule.effects if e.sanction is not None}
            domains |= {e.lift.domain for e in rule.effects if e.lift is not None}
        return {
            "system": {self.system},
            "score": {score.id for score in pol.scores},
            "rule_id": rules,
            "list_name": {spec.id for spec in pol.lists},
            "end_reason": set(END_REASONS),
            "domain": domains,
            "sanction_kind": set(SANCTION_KINDS),
            "grade": grades,
        }

    def setup(self, sim: Simulation) -> None:
        """Compile the policy into its parts and publish what behaviour may see."""
        p = self.policy
        sizes = {"person": len(sim.population.citizens), "company": len(sim.population.companies)}
        rng = sim.rng(f"{self.name}/setup")
        self.members = {t: participants(sim, p.participation, t, rng) for t in sizes}
        self.scores = Scores(p.scores, self.members, sim)
        self.rows = Rows(self.system, [r.id for r in p.rules])
        self.provenance = Provenance(self.scores)
        self.standings = Standings(self.scores, self.system, sim.view)
        self.lists = Lists(p, sizes, self.rows)
        self.grades = GradeRules(p.rules, self.scores, self.provenance)
        self.points = Points(self.scores.points, self.rows, self.standings, self.grades)
        self.factors = FactorScores(
            self.scores.factors, self.rows, self.standings, self.grades, self.provenance
        )
        self.effects = Effects(self.points, self.lists, self.rows)
        self.references = ListReferences(p, self.scores, self.members, self.points)
        # Effects change points and points changes fire grade rules, whose effects...: the
        # grade rules get the effects once both exist.
        self.grades.effects = self.effects
        self.counters = Counters(p.counters, p.rules, sizes, self.lists, self.effects, self.rows)
        self.joint = JointMeasures(
            p.joint, self.members, self.lists, self.scores, self.provenance, self.rows,
            system=self.system,
        )  # fmt: skip
        # Within a batch the consumers read in this order (their decisions draw from the
        # day's stream): counters, factor inputs, points deltas, rules on single events,
        # deletion on performance.
        self.router = EventRouter(
            self.members,
            [
                *self.counters.routes(),
                *self.factors.routes(),
                *self.points.routes(),
                *self.effects.routes(p.rules),
                *self.lists.routes(),
            ],
        )
        self.lists.publish(sim.view, self.system)
        self.joint.publish(sim.view)
        publish_incentives(p, self.scores, sim.view, sim.catalogue())
        publish_record_horizons(p, sim.view)
        self.standings.refresh(everyone=True)

    def step(self, sim: Simulation, day: int) -> None:
        """The policy's day, in the order its decisions are taken."""
        today = Today(sim, day, self.name)
        # Yesterday's state moves on first, so that today's records meet today's windows,
        # lists and scores: events recorded ``window_days`` ago stop counting, entries whose
        # end is today leave their lists (or are extended), deductions lapse.
        self.counters.expire(day)
        self.factors.expire(day)
        self.lists.close_due(today)
        self.points.restore(today)
        # What other systems' lists did yesterday (points for entries, "is listed" inputs).
        self.references.catch_up(today)
        # The day's records, batch by batch, to whichever parts read them.
        for batch in sim.events.by_kind():
            self.router.deliver(today, batch)
        # Thresholds are tested once all of today's records are counted (one decision per
        # crossing, however many records crossed it); then the assessments due today.
        self.counters.fire_rules(today)
        self.factors.assess_due(today)
        # Resource moments are decided on the records as they stand after today's decisions.
        self.joint.decide(today, sim.moments.today)
        # Behaviour reads the standings after the policies' stage.
        self.standings.refresh()

    def finish(self, sim: Simulation) -> None:
        """Rows of what is still open at the end of the run: entries and final scores."""
        self.lists.write_open(sim)
        for sid, s in self.scores.items():
            members = np.flatnonzero(~np.isnan(s.value))
            affected = self.provenance.affected_by_errors(sid, members)
            self.rows.final_scores(sim, sid, s, members, affected)
        sim.decisions.end_day()
