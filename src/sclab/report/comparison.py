"""The comparison sections: what the system changed, against its twin or another run.

Core objects:
    :func:`summary_line`: one sentence for the headline (violations prevented, innocent
        people sanctioned in addition, posts not written).
    :func:`comparison`: the section, in the order of docs/effects.md: chilling, network
        effects, deterrence (and debts repaid), purchase shifting and tie pruning, and the
        price of the system.

Every number is read from the effects tables (:class:`~sclab.report.effects.Effects`),
never from the simulation: each is a paired difference run − twin signed as its name
says, with the mean and a 95% t interval over the replicates when there are several.
With one pair the charts draw bars of the difference; with several, a point per group
and its interval, and the per-replicate differences sit in a closed table.

COST MODEL: a chart per effect, each a few dozen rows (groups); nothing per person.
"""

from __future__ import annotations

from sclab.report import charts
from sclab.report.effects import Effects
from sclab.report.html import Page, fmt

#: Readable names of the act kinds whose prevention is deterrence.
VIOLATIONS = {
    "jaywalk": "jaywalks",
    "bill_late": "late bills",
    "loan_instalment_missed": "missed loan instalments",
    "non_performance": "judgments not performed",
}


def _total(eff: Effects, effect: str) -> float | None:
    """The sum of an effect's means over its groups (None when one is not defined)."""
    rows = eff.of(effect)
    if not rows or any(r["mean"] is None for r in rows):
        return None
    return float(sum(r["mean"] for r in rows))


def _n(x: float | None) -> str:
    return "n/a" if x is None else fmt(round(x, 1) if abs(x) >= 10 else x)


def summary_line(page: Page, eff: Effects) -> None:
    """The comparison's headline numbers, under the run's own headline."""
    prevented = _total(eff, "deterrence")
    innocent = _total(eff, "innocent_sanctioned")
    chilled = _total(eff, "chilling")
    mean = " (mean over the replicates)" if eff.replicates > 1 else ""
    page.p(
        f"Against {_against(eff)}{mean}: {_n(prevented)} violations prevented, "
        f"{_n(innocent)} more people sanctioned though they did nothing wrong (counted "
        "once in each system that sanctioned them), and "
        f'{_n(chilled)} lawful critical posts not written ("What the system changed", below).',
        "big",
    )


def _against(eff: Effects) -> str:
    if eff.baseline == "none":
        return "the same world without any policy (its twin)"
    if eff.baseline:
        return f"the same world under {eff.baseline} alone (its twin)"
    return f"another run of the same world ({eff.against})"


def comparison(page: Page, eff: Effects) -> None:
    """The section: each effect as a chart with its numbers."""
    page.section("effects", "What the system changed")
    k = eff.replicates
    page.p(
        f"This run against {_against(eff)}: the same people, the same seed and the same "
        "random numbers wherever behaviour is the same, so each difference is what the "
        "policies changed in this world, without the noise of another draw "
        "(docs/effects.md). Each effect is signed as its name says."
    )
    if k > 1:
        page.p(
            f"Over {k} replicates (seeds seed ... seed + {k - 1}, each with its twin): the "
            "mean of the paired differences and its 95% Student's t interval "
            f"({k - 1} degrees of freedom); each chart's per-replicate differences are in "
            "the table under it."
        )
    else:
        page.p(
            "One pair, so no interval: `sclab run --twin ... --replicates K` measures K "
            "seeds and gives each effect a 95% interval."
        )
    page.facts(
        [
            ("compared with", eff.against),
            ("twin's policies", eff.baseline),
            ("pairs (replicates)", k),
            ("numbers from", eff.source),
        ]
    )
    _chilling(page, eff)
    _network(page, eff)
    _deterrence(page, eff)
    _purchases(page, eff)
    _price(page, eff)


# ------------------------------------------------------------------------ the effects


def _chilling(page: Page, eff: Effects) -> None:
    page.heading("Chilling: lawful critical posts not written")
    page.p(
        "Critical posts are lawful; people who fear a score loss write fewer of them. "
        f"Posts not written, by education: {_n(_total(eff, 'chilling'))} in all."
    )
    _effect_chart(
        page, eff, "chilling", "chart-effects-chilling",
        "Lawful critical posts not written because of the system (twin − run), by "
        "education.",
        ("education", "posts not written"),
    )  # fmt: skip
    _effect_chart(
        page, eff, "chilling_by_group", "chart-effects-chilling-groups",
        "The same posts not written by sex, registration (local or migrant) and age band; "
        "each of the three adds up to the total above.",
        ("group", "posts not written"),
    )  # fmt: skip


def _network(page: Page, eff: Effects) -> None:
    page.heading("Network effects: decisions for someone else's conduct")
    page.p(
        "Adverse decisions (score losses, list entries, sanctions) that name someone other "
        "than the person whose record triggered them: a tie, a child, a company's legal "
        f"representative. In addition to the twin: {_n(_total(eff, 'network'))}."
    )
    _effect_chart(
        page, eff, "network", "chart-effects-network",
        "Adverse decisions on people for someone else's conduct, added by the system "
        "(run − twin), by system.",
        ("system", "decisions added"),
    )  # fmt: skip


def _deterrence(page: Page, eff: Effects) -> None:
    page.heading("Deterrence: violations prevented, debts repaid")
    repaid = _total(eff, "debts_repaid")
    page.p(
        f"True acts (recorded or not) the run has fewer of than its twin: "
        f"{_n(_total(eff, 'deterrence'))} violations prevented; {_n(repaid)} judgments "
        "performed in addition, debts repaid because of listing."
    )
    rename = {g: f"prevented: {name}" for g, name in VIOLATIONS.items()}
    rename["judgment_performed"] = "repaid because of listing"
    _effect_chart(
        page, eff, ("deterrence", "debts_repaid"), "chart-effects-deterrence",
        "Violations prevented (twin − run) by kind, and judgments performed in addition "
        "(run − twin).",
        ("act", "acts"), rename=rename,
    )  # fmt: skip


def _purchases(page: Page, eff: Effects) -> None:
    page.heading("Purchase shifting and tie pruning")
    page.p(
        "What people buy and whom they deal with change when purchases and ties are "
        "scored. Purchases are run − twin: negative, not made; online interactions lost "
        "are twin − run: likes and shares that pruned ties and posts not written no "
        f"longer bring ({_n(_total(eff, 'tie_pruning'))})."
    )
    _effect_chart(
        page, eff, "purchase_shifting", "chart-effects-purchases",
        "Purchases made in addition to the twin (run − twin; negative: not made), by "
        "category.",
        ("category", "purchases"),
    )  # fmt: skip
    _effect_table(page, eff, "tie_pruning", "Online interactions lost (twin − run)")


def _price(page: Page, eff: Effects) -> None:
    page.heading("The price of the system")
    prevented = _total(eff, "deterrence")
    innocent = _total(eff, "innocent_sanctioned")
    overall = (
        None if prevented is None or innocent is None or prevented == 0 else innocent / prevented
    )
    page.p(
        "People sanctioned though innocent (by error, for someone else's conduct, or by "
        "design for lawful conduct) in addition to the twin, counted once in each system "
        "that sanctioned them, and their number per violation prevented: "
        f"{_n(innocent)} people for {_n(prevented)} violations "
        f"prevented, {_n(overall)} per violation prevented over all systems. Per system, "
        "the price divides its own innocent people by all violations prevented (n/a when "
        "nothing was prevented)."
    )
    _effect_chart(
        page, eff, "innocent_sanctioned", "chart-effects-innocent",
        "People with an adverse decision though innocent, added by the system "
        "(run − twin), by system.",
        ("system", "people"),
    )  # fmt: skip
    _effect_chart(
        page, eff, "price", "chart-effects-price",
        "Innocent people sanctioned in addition per violation prevented, by system.",
        ("system", "innocent people per violation prevented"),
    )  # fmt: skip


# ------------------------------------------------------------------------ drawing


def _effect_chart(
    page: Page,
    eff: Effects,
    effect: str | tuple[str, ...],
    chart_id: str,
    caption: str,
    labels: tuple[str, str],
    *,
    rename: dict[str, str] | None = None,
) -> None:
    """One effect (or several drawn together) by group: bars of the difference (one
    pair) or points with their 95% intervals (replicates); a table where no value is
    defined (nothing to draw). ``rename`` gives groups a reader's name."""
    names = (effect,) if isinstance(effect, str) else effect
    rename = rename or {}
    rows = [r for e in names for r in eff.of(e)]
    group_label, value_label = labels
    what = names[0].replace("_", " ")
    if not rows:
        page.p(f"No {what} in these runs (no group has this effect).")
        return
    if all(r["mean"] is None for r in rows):
        _effect_table(page, eff, names[0], caption)
        return
    data = [
        {
            "group": rename.get(r["group"], r["group"]),
            "mean": r["mean"],
            "low": r["low"],
            "high": r["high"],
            "replicates": r["replicates"],
            "effect": r["effect"].replace("_", " "),
            # As stored in effects_summary: the spec's data names its rows there.
            "effect_id": r["effect"],
            "group_id": r["group"],
        }
        for r in rows
    ]
    if eff.replicates <= 1:
        page.chart(
            charts.bars(
                chart_id,
                caption,
                data,
                category=("group", group_label),
                value=("mean", value_label),
                columns=[("group", group_label), ("mean", value_label)],
            )
        )
        return
    page.chart(
        charts.intervals(
            chart_id,
            f"{caption} Mean over {eff.replicates} replicates with its 95% interval.",
            data,
            category=("group", group_label),
            value=("mean", value_label),
            lower="low",
            upper="high",
            series=("effect", "effect"),
            columns=[
                ("group", group_label),
                ("mean", f"{value_label} (mean)"),
                ("low", "95% low"),
                ("high", "95% high"),
                ("replicates", "replicates"),
            ],
        )
    )
    page.table(
        [("group", group_label), ("replicate", "replicate"), ("value", value_label)],
        [
            {
                "group": rename.get(v["group"], v["group"]),
                "replicate": int(v["replicate"]) + 1,
                "value": v["value"],
            }
            for e in names
            for v in eff.values(e)
        ],
        collapsed=f"Each replicate's paired difference ({what})",
    )


def _effect_table(page: Page, eff: Effects, effect: str, caption: str) -> None:
    rows = eff.of(effect)
    if not rows:
        return
    page.table(
        [
            ("group", "group"),
            ("mean", "mean" if eff.replicates > 1 else "value"),
            ("low", "95% low"),
            ("high", "95% high"),
            ("replicates", "replicates"),
        ],
        rows,
        caption,
    )
