"""The verdict of each clause on one decision: pure functions of a :class:`Decision`.

Core objects:
    :data:`RULES`: clause id -> its function ``(Decision) -> (verdict, reason)``; the
        reason is one sentence naming what the verdict turns on.

Each function follows the clause's ``decides`` text in :mod:`sclab.legal.clauses`
(``docs/legal.md`` prints both). A fact the policy does not state gives "needs review",
never "permitted": stating less can never make a policy look more lawful.
"""

from __future__ import annotations

from collections.abc import Callable

from sclab.legal.clauses import related
from sclab.legal.decisions import Decision, Evidence
from sclab.policy.schema import PointsScore

Verdict = tuple[str, str]

PROHIBITED, REVIEW, PERMITTED, NA = "prohibited", "needs review", "permitted", "not applicable"


def _names(evidence: list[Evidence], most: int = 4) -> str:
    names = list(dict.fromkeys(e.name for e in evidence))
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def _effects(d: Decision) -> str:
    return ", ".join(sorted(d.effects))


def _spill_over(d: Decision) -> list[str]:
    return [t for t in d.treated if t in ("parent", "ties")]


def _unknown(d: Decision) -> list[Evidence]:
    return [e for e in d.evidence if e.domain is None]


def social_scoring_context(d: Decision) -> Verdict:
    """EU AI Act Art. 5(1)(c)(i)."""
    if not d.detrimental or not d.treats_people:
        return NA, "no detrimental treatment of a natural person"
    if _unknown(d):
        return REVIEW, f"rests on kinds the catalogue lacks: {_names(_unknown(d))}"
    if not d.contexts:
        return PERMITTED, (
            f"its effects ({_effects(d)}) block or price up no resource moment in another context"
        )
    unrelated = [e for e in d.evidence if any(not related(str(e.domain), c) for c in d.contexts)]
    if not unrelated:
        return PERMITTED, (
            f"detriment in {', '.join(d.contexts)}, related to every source it rests on"
        )
    domains = ", ".join(dict.fromkeys(str(e.domain) for e in unrelated))
    what = f"data from {domains} ({_names(unrelated)}) used for detriment in " + ", ".join(
        d.contexts
    )
    if d.entity == "company":
        return REVIEW, f"{what}; the evaluation is of a company, borne by a natural person"
    if not d.over_time:
        return REVIEW, f"{what}, but it acts on single records, not an evaluation over time"
    return PROHIBITED, f"{what}, an unrelated context"


def social_scoring_proportion(d: Decision) -> Verdict:
    """EU AI Act Art. 5(1)(c)(ii)."""
    if not d.detrimental or not d.treats_people:
        return NA, "no detrimental treatment of a natural person"
    spill = _spill_over(d)
    if spill:
        return PROHIBITED, f"detriment for someone else's conduct (applies to {', '.join(spill)})"
    lowering = d.lowering()
    lawful = [e for e in lowering if e.lawful]
    if lawful:
        return PROHIBITED, f"detriment that can follow from lawful conduct ({_names(lawful)})"
    if _unknown(d):
        return REVIEW, f"rests on kinds the catalogue lacks: {_names(_unknown(d))}"
    harsh = d.effects & {"blocked", "blacklist", "public_display"}
    minor = [e for e in lowering if e.minor]
    if lowering and len(minor) == len(lowering) and harsh:
        return PROHIBITED, (f"{', '.join(sorted(harsh))} for minor conduct only ({_names(minor)})")
    if "legal_representative" in d.treated:
        return REVIEW, "detriment borne by a company's legal representative"
    if minor:
        return REVIEW, f"{_effects(d)} can follow from minor conduct ({_names(minor)})"
    return PERMITTED, f"rests on the person's own unlawful conduct ({_names(lowering)})"


def realtime_biometric_identification(d: Decision) -> Verdict:
    """EU AI Act Art. 5(1)(h)."""
    live = [e for e in d.evidence if e.biometric and e.realtime]
    if not live:
        return NA, "no real-time biometric identification"
    purpose = d.policy.purpose
    what = f"real-time face identification in public places ({_names(live)})"
    if purpose is None:
        return REVIEW, f"{what}; the policy states no purpose"
    if purpose != "law_enforcement":
        return NA, f"{what}, for a stated purpose other than law enforcement ({purpose})"
    return PROHIBITED, (
        f"{what} for law enforcement, for conduct outside the exceptions of Art. 5(1)(h)"
    )


def automated_decision(d: Decision) -> Verdict:
    """GDPR Art. 22."""
    if not d.significant or not d.treats_people:
        return NA, "no legal or similarly significant effect on a natural person"
    review = d.human_review
    effect = _effects(d)
    if review is None:
        return REVIEW, f"{effect} with no stated human review"
    if review == "before":
        return PERMITTED, "a person reviews each decision before it takes effect"
    biometric = [e for e in d.evidence if e.biometric]
    if biometric:
        return PROHIBITED, (
            f"solely automated {effect} resting on biometric data ({_names(biometric)})"
        )
    if review == "none":
        return PROHIBITED, f"solely automated {effect}, no person reviews it"
    if not d.policy.due_process.enabled:
        return PROHIBITED, f"solely automated {effect}, no route to object"
    return REVIEW, (
        f"solely automated {effect} with objection and review; lawful only under an "
        "exception of Art. 22(2)"
    )


def biometric_data(d: Decision) -> Verdict:
    """GDPR Art. 9."""
    biometric = [e for e in d.evidence if e.biometric]
    if not biometric:
        return NA, "no biometric data"
    what = f"biometric identification ({_names(biometric)})"
    if d.policy.participation.mode == "voluntary":
        return REVIEW, f"{what} in a voluntary scheme: explicit consent may apply"
    if d.legal_basis is None:
        return PROHIBITED, f"{what} without consent and with no stated legal basis"
    return REVIEW, f"{what} on a stated basis; whether it meets Art. 9(2)(g) is a judgement"


def _public(d: Decision) -> bool:
    return d.detrimental and d.policy.purpose != "commercial"


def credit_legality(d: Decision) -> Verdict:
    """Guobanfa [2020] No. 49: legal basis."""
    if not _public(d):
        return NA, "no detrimental measure under public credit punishment"
    if d.legal_basis is None:
        return REVIEW, f"{_effects(d)} with no stated legal basis"
    return PERMITTED, f"states a legal basis: {d.legal_basis}"


def credit_proportion(d: Decision) -> Verdict:
    """Guobanfa [2020] No. 49: punishment commensurate with the conduct."""
    if not _public(d):
        return NA, "no detrimental measure under public credit punishment"
    spill = _spill_over(d)
    if spill:
        return PROHIBITED, f"punishes {', '.join(spill)} for the entity's conduct"
    lowering = d.lowering()
    lawful = [e for e in lowering if e.lawful]
    if lawful:
        return PROHIBITED, f"punishes conduct that breaks no duty ({_names(lawful)})"
    if _unknown(d):
        return REVIEW, f"rests on kinds the catalogue lacks: {_names(_unknown(d))}"
    minor = [e for e in lowering if e.minor]
    blacklisting = "blacklist" in d.effects or (
        d.on_list is not None and d.on_list.kind == "blacklist"
    )
    if lowering and len(minor) == len(lowering) and blacklisting:
        return PROHIBITED, f"a blacklisting for minor conduct only ({_names(minor)})"
    if "legal_representative" in d.treated:
        return REVIEW, "punishes the legal representative for the company's conduct"
    if minor and d.effects & {"blocked", "blacklist", "priced_up"}:
        return REVIEW, f"{_effects(d)} can follow from minor conduct ({_names(minor)})"
    return PERMITTED, f"rests on the entity's own unlawful conduct ({_names(lowering)})"


def _repair_route(d: Decision) -> bool:
    policy = d.policy
    if policy.due_process.repair_after_days is not None and policy.due_process.repair_share > 0:
        return True
    lists = [*d.lists, *([d.on_list] if d.on_list is not None else [])]
    if lists:
        return all(x.delete_on is not None for x in lists)
    return any(isinstance(s, PointsScore) and s.restore_after_days for s in policy.scores)


def credit_process(d: Decision) -> Verdict:
    """Guobanfa [2020] No. 49: notice, objection, credit repair."""
    if not _public(d):
        return NA, "no detrimental measure under public credit punishment"
    dp = d.policy.due_process
    if not dp.enabled:
        return PROHIBITED, "due process is off: no notice and no objection"
    lasting = d.effects & {"blacklist", "score_down", "blocked", "priced_up", "downgrade"}
    if lasting and not _repair_route(d):
        return REVIEW, (
            f"notice and objection (review in {dp.review_days} days), but no credit repair "
            "route for a lasting effect"
        )
    return PERMITTED, f"notice and objection (review in {dp.review_days} days) and repair"


def defaulter_list(d: Decision) -> Verdict:
    """SPC 2017 provisions on the list of dishonest judgment debtors."""
    court = [e for e in d.evidence if e.name == "non_performance"]
    listed = [x for x in d.lists if x.kind == "blacklist" and x.entity == "person"]
    if d.part != "rule" or not court or not listed:
        return NA, "lists no one for non-performance of a judgment"
    rule = next(r for r in d.policy.rules if r.id == d.rule_id)
    problems: list[str] = []
    other = [e.name for e in d.evidence if e.name != "non_performance"]
    if other:
        problems.append(f"lists on {', '.join(other)}, not a ground of Art. 1")
    if rule.when.events is not None and any(g not in range(1, 7) for g in rule.when.events.grounds):
        problems.append("a ground outside 1-6")
    for x in listed:
        terms = [x.term_days_by_ground.get(g, x.term_days) for g in range(2, 7)]
        if any(t is None or t > 730 for t in terms):
            problems.append(f"'{x.id}' keeps grounds 2-6 longer than two years")
        if x.extension_days is not None and x.extension_days[1] > 1095:
            problems.append(f"'{x.id}' extends by more than three years")
        performed = x.delete_on is not None and "judgment_performed" in x.delete_on.kinds
        if not performed:
            problems.append(f"'{x.id}' is not deleted on performance")
        elif x.deletion_delay_working_days > 3:
            problems.append(
                f"'{x.id}' is deleted {x.deletion_delay_working_days} working days after "
                "performance, not within 3"
            )
    if "adult" not in d.policy.participation.requires:
        problems.append("minors are not excluded")
    if problems:
        return PROHIBITED, "; ".join(problems)
    return PERMITTED, (
        "grounds 1-6 only, terms within Art. 2, minors excluded, deleted within "
        f"{max(x.deletion_delay_working_days for x in listed)} working days of performance"
    )


RULES: dict[str, Callable[[Decision], Verdict]] = {
    "eu-ai-act-5-1-c-i": social_scoring_context,
    "eu-ai-act-5-1-c-ii": social_scoring_proportion,
    "eu-ai-act-5-1-h": realtime_biometric_identification,
    "gdpr-22": automated_decision,
    "gdpr-9": biometric_data,
    "cn-2020-49-legality": credit_legality,
    "cn-2020-49-proportion": credit_proportion,
    "cn-2020-49-process": credit_process,
    "spc-2017-defaulters": defaulter_list,
}
