"""The clauses a policy is read against, as data.

Core objects:
    :class:`Clause`: one clause: its id, a short label for tables, what it says (a
        paraphrase), its citation, how sclab decides each verdict and what sclab cannot
        know about it. ``docs/legal.md`` is generated from these.
    :data:`CLAUSES`: every clause, in the order of the tables.
    :data:`VERDICTS`: the four verdicts, from the most to the least serious.
    :data:`MINOR_CONDUCT`: the acts sclab treats as minor when it weighs gravity.
    :data:`RELATED_CONTEXTS`: pairs of catalogue domains treated as one social context.

The clauses are the EU AI Act's prohibitions of social scoring and of real-time remote
biometric identification, the GDPR's articles on automated decisions and biometric data,
and China's own stated principles for credit punishment and for the court defaulter list.
sclab's policies run in no jurisdiction: reading them against EU law is a benchmark (what
the same design would meet if it were put into service in the Union), and reading them
against China's own documents asks whether a system keeps the rules its own government
set. The verdict logic is in :mod:`sclab.legal.verdicts`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The verdicts, most serious first. ``needs review`` means the policy does not state what
#: the clause turns on, or the answer needs a judgement sclab cannot make.
VERDICTS = ("prohibited", "needs review", "permitted", "not applicable")


@dataclass(frozen=True)
class Clause:
    """One clause of a law or stated principle.

    Attributes:
        id: Stable identifier (the ``clause`` column of ``law_verdicts``).
        label: Short name for tables.
        short: Shorter still, for the columns of a matrix.
        title: The clause's subject in a few words.
        says: What it says, paraphrased.
        citation: Where it is published.
        decides: How sclab decides each verdict, one entry per verdict it can give.
        cannot_know: What the verdict cannot take into account.
    """

    id: str
    label: str
    short: str
    title: str
    says: str
    citation: str
    decides: tuple[tuple[str, str], ...]
    cannot_know: str


AI_ACT = (
    "Regulation (EU) 2024/1689 laying down harmonised rules on artificial intelligence "
    "(Artificial Intelligence Act), OJ L, 12 July 2024"
)
GDPR = "Regulation (EU) 2016/679 (General Data Protection Regulation), OJ L 119, 4 May 2016"
GUOBANFA_2020_49 = (
    "General Office of the State Council, Guiding Opinions on Further Improving the "
    "Systems for Restraining Untrustworthiness and Building a Long-Term Mechanism for "
    "Building Credibility (Guobanfa [2020] No. 49, 7 December 2020)"
)
SPC_2017 = (
    "Supreme People's Court, Several Provisions on Publishing the List of Dishonest "
    "Judgment Debtors (Fa Shi [2017] No. 7, in force 1 May 2017)"
)

CLAUSES: tuple[Clause, ...] = (
    Clause(
        id="eu-ai-act-5-1-c-i",
        label="AI 5(1)(c)(i)",
        short="c(i)",
        title="social scoring: detriment in an unrelated context",
        says="Prohibits AI systems that evaluate or classify natural persons over a period "
        "of time on their social behaviour or personal characteristics, where the score "
        "leads to detrimental or unfavourable treatment in social contexts unrelated to "
        "the contexts in which the data was originally generated or collected.",
        citation=f"{AI_ACT}, Art. 5(1)(c)(i); recital 31.",
        decides=(
            (
                "prohibited",
                "a rule or measure treats natural persons detrimentally, rests on an "
                "evaluation over time (a counter, a score or a grade, or a list entered "
                "through one), and the context its effects reach (the catalogue domain of "
                "the resource moments it blocks or prices up) is unrelated to the domain "
                "of some record, platform total, attribute or tie it rests on",
            ),
            (
                "needs review",
                "the same, but it acts on single records (not plainly an evaluation over "
                "time), or the evaluation is of a company whose legal representative "
                "bears the detriment, or a kind it rests on is not in the catalogue",
            ),
            (
                "permitted",
                "detrimental treatment only in contexts related to every source it rests on",
            ),
            (
                "not applicable",
                "no detrimental treatment of a natural person (rewards, favours, notices, "
                "or decisions on companies)",
            ),
        ),
        cannot_know="Whether the system is an AI system in the Act's sense (Art. 3(1)); "
        "whether it is placed on the market or used in the Union; whether national or "
        "Union law sets the evaluation for a specific purpose (recital 31). Contexts are "
        "compared by the catalogue's domains; two pairs are treated as one context "
        "(court judgments and finance: a judgment debt is money owed; tax and finance).",
    ),
    Clause(
        id="eu-ai-act-5-1-c-ii",
        label="AI 5(1)(c)(ii)",
        short="c(ii)",
        title="social scoring: unjustified or disproportionate detriment",
        says="Prohibits the same social scoring where it leads to detrimental or "
        "unfavourable treatment that is unjustified or disproportionate to the social "
        "behaviour or its gravity.",
        citation=f"{AI_ACT}, Art. 5(1)(c)(ii); recital 31.",
        decides=(
            (
                "prohibited",
                "the detriment falls on people for someone else's conduct (a child for a "
                "listed parent, a person for their ties), or it can follow from lawful "
                "conduct (a catalogue kind with `lawful` true, an attribute or ties that "
                "can lower the standing), or it is a block, a blacklisting or a public "
                "display resting on minor conduct only",
            ),
            (
                "needs review",
                "it can follow from minor conduct among other records, it falls on a "
                "company's legal representative, or a kind it rests on is not in the "
                "catalogue",
            ),
            (
                "permitted",
                "it rests only on the person's own unlawful conduct, none of it minor",
            ),
            ("not applicable", "no detrimental treatment of a natural person"),
        ),
        cannot_know="Gravity is not a fact of the catalogue: sclab's list of minor conduct "
        "(`MINOR_CONDUCT` in `sclab/legal/clauses.py`) is an Assumption. Whether a "
        "detriment is justified in a given case (circumstances, repetition, amounts).",
    ),
    Clause(
        id="eu-ai-act-5-1-h",
        label="AI 5(1)(h)",
        short="h",
        title="real-time remote biometric identification for law enforcement",
        says="Prohibits the use of real-time remote biometric identification systems in "
        "publicly accessible spaces for the purposes of law enforcement, unless strictly "
        "necessary for a targeted search for victims of abduction, trafficking or sexual "
        "exploitation or for missing persons, the prevention of a specific, substantial "
        "and imminent threat to life or of a terrorist attack, or the localisation or "
        "identification of a suspect of a serious criminal offence listed in Annex II "
        "(punishable by at least four years).",
        citation=f"{AI_ACT}, Art. 5(1)(h), 5(2)-(7) and Annex II.",
        decides=(
            (
                "prohibited",
                "a rule or measure rests on a biometric, real-time record (catalogue facts "
                "`biometric` and `realtime`: a roadside camera matching faces as the act "
                "happens) and the policy's `purpose` is `law_enforcement`: no catalogue "
                "kind is one of the exceptions (none is a search for victims, an imminent "
                "threat or a serious crime)",
            ),
            ("needs review", "the same with no stated `purpose`"),
            (
                "not applicable",
                "no real-time biometric record, or a stated purpose other than law enforcement",
            ),
        ),
        cannot_know="Whether a camera's place is publicly accessible (sclab's real-time "
        "kinds are roadside cameras, so it is taken to be); whether a prior authorisation "
        "by a judicial or independent authority exists (Art. 5(3)); what a policy's "
        "operator really uses the identifications for beyond its stated purpose.",
    ),
    Clause(
        id="gdpr-22",
        label="GDPR 22",
        short="22",
        title="solely automated decisions with significant effects",
        says="A person has the right not to be subject to a decision based solely on "
        "automated processing which produces legal effects concerning them or similarly "
        "significantly affects them, unless it is necessary for a contract, authorised by "
        "Union or Member State law with safeguards, or based on explicit consent; then "
        "at least the right to obtain human intervention, to express one's view and to "
        "contest the decision. Such decisions may not rest on special categories of data "
        "(Art. 9) without explicit consent or a law of substantial public interest.",
        citation=f"{GDPR}, Art. 22(1)-(4); recital 71.",
        decides=(
            (
                "prohibited",
                "a significant effect on a natural person (blocked, priced up, "
                "blacklisted, publicly displayed, downgraded) with `human_review: none`, "
                "or `on_objection` with due process switched off (no route to contest), "
                "or resting on biometric data while solely automated (Art. 22(4))",
            ),
            (
                "needs review",
                "`human_review` not stated; or `on_objection` with notice and objection: "
                "solely automated, lawful only under an exception of Art. 22(2), which "
                "sclab cannot establish",
            ),
            ("permitted", "`human_review: before`: a person reviews each decision"),
            ("not applicable", "no significant effect on a natural person"),
        ),
        cannot_know="Whether a contract, a law or explicit consent (Art. 22(2)) covers the "
        "decision; whether a stated human review is meaningful rather than a rubber stamp.",
    ),
    Clause(
        id="gdpr-9",
        label="GDPR 9",
        short="9",
        title="biometric data to identify a person",
        says="Processing biometric data for the purpose of uniquely identifying a natural "
        "person is prohibited, unless an exception of Art. 9(2) applies, such as explicit "
        "consent or reasons of substantial public interest on the basis of Union or "
        "Member State law that is proportionate and provides safeguards.",
        citation=f"{GDPR}, Art. 9(1)-(2), Art. 4(14).",
        decides=(
            (
                "prohibited",
                "a rule or measure rests on a biometric record of a mandatory policy (no "
                "consent) that states no legal basis",
            ),
            (
                "needs review",
                "a biometric record with a stated legal basis (whether it is a law of "
                "substantial public interest with safeguards is a judgement), or of a "
                "voluntary policy (explicit consent may apply)",
            ),
            ("not applicable", "no biometric record"),
        ),
        cannot_know="Whether the stated basis is Union or Member State law (sclab's packs "
        "cite Chinese law); whether consent to a voluntary scheme is explicit and free.",
    ),
    Clause(
        id="cn-2020-49-legality",
        label="CN 49 legality",
        short="legal",
        title="a legal basis for every record and measure",
        says="Measures that reduce an entity's rights or add to its obligations must rest "
        "on facts of its untrustworthy conduct and on laws, regulations or policy "
        "documents of the Party Central Committee and the State Council; measures are "
        "taken from the published national list of punishment measures, never beyond it.",
        citation=f"{GUOBANFA_2020_49}: the scope of public credit information, the "
        "serious-dishonesty lists and the punishment measures.",
        decides=(
            ("permitted", "the rule or measure (or its policy) states a `legal_basis`"),
            ("needs review", "no legal basis is stated"),
            (
                "not applicable",
                "no detrimental measure, or a commercial policy (`purpose: commercial`; "
                "the opinions govern public credit punishment)",
            ),
        ),
        cannot_know="Whether the cited text really authorises the measure, and whether "
        "the measure is on the national list (sclab takes a citation as given).",
    ),
    Clause(
        id="cn-2020-49-proportion",
        label="CN 49 proportion",
        short="prop",
        title="punishment commensurate with the conduct",
        says="Punishment must be commensurate with the conduct (过惩相当): fitting its "
        "nature, circumstances and social harm; serious-dishonesty lists are limited to "
        "serious conduct; measures rest on the entity's own conduct.",
        citation=f"{GUOBANFA_2020_49}: punishment according to law, commensurate with the conduct.",
        decides=(
            (
                "prohibited",
                "a blacklisting resting on minor conduct only, a measure resting on "
                "lawful conduct, or a measure on a parent's child or a person's ties",
            ),
            (
                "needs review",
                "a block that can follow from minor conduct among other records, a "
                "measure on a company's legal representative, or a kind not in the "
                "catalogue",
            ),
            ("permitted", "the entity's own unlawful conduct, none of it minor"),
            ("not applicable", "no detrimental measure, or a commercial policy"),
        ),
        cannot_know="Gravity beyond the catalogue's kinds (amounts, repetition, intent); "
        "the list of minor conduct is an Assumption.",
    ),
    Clause(
        id="cn-2020-49-process",
        label="CN 49 process",
        short="proc",
        title="notice, objection and credit repair",
        says="Entities are told of a listing or measure and can object; a system has a "
        "credit repair route by which an entity that corrects its conduct is removed "
        "from lists and its information shielded early.",
        citation=f"{GUOBANFA_2020_49}: protection of the rights of credit subjects and "
        "credit repair.",
        decides=(
            (
                "prohibited",
                "due process is switched off (`due_process.enabled: false`): no notice "
                "and no objection",
            ),
            (
                "needs review",
                "notice and objection, but a lasting effect (a listing or a score) with no "
                "repair route: no deletion on a correcting event, no `repair_after_days` "
                "and no lapse of deductions (`restore_after_days`)",
            ),
            ("permitted", "notice, objection and, for a lasting effect, a repair route"),
            ("not applicable", "no detrimental measure, or a commercial policy"),
        ),
        cannot_know="Whether notices reach people and objections are decided fairly "
        "(the run's due-process rows show what the model assumed).",
    ),
    Clause(
        id="spc-2017-defaulters",
        label="SPC 2017",
        short="SPC",
        title="the list of dishonest judgment debtors",
        says="A debtor is listed only on the six grounds of Art. 1; for grounds 2-6 the "
        "term is two years, extendable by one to three years (Art. 2); minors are not "
        "listed (Art. 4); the court deletes the entry within three working days once the "
        "debtor performs (Art. 10).",
        citation=f"{SPC_2017}, Art. 1, 2, 4, 10.",
        decides=(
            (
                "permitted",
                "a rule lists people for recorded non-performance on grounds 1-6 only, "
                "terms for grounds 2-6 are at most two years plus an extension of at most "
                "three, minors are excluded (`participation.requires: [adult]`) and the "
                "list is deleted on performance within at most 3 working days",
            ),
            ("prohibited", "any of these fails (the reason names which)"),
            ("not applicable", "the rule lists no one for non-performance of a judgment"),
        ),
        cannot_know="Whether the court's finding of the ground was right (the run's "
        "`events.error` and `true_actor` show recording errors).",
    ),
)

#: Acts treated as minor conduct when weighing gravity (Assumption: offences punished by a
#: warning or a small fine, and small civil debts). A jaywalk: a warning or a fine of 5 to
#: 50 yuan (Road Traffic Safety Law of the PRC, Art. 89); a traffic ticket: most carry a
#: fine of 20 to 200 yuan (Art. 90); an administrative penalty: a fine or a warning; a late
#: bill, a missed instalment or utility arrears: one overdue payment. Everything else in the
#: catalogue that breaks a duty (a loan default, a lost judgment, non-performance, tax
#: arrears, a company's violations and breaches) is not minor.
MINOR_CONDUCT = frozenset(
    {
        "jaywalk",
        "traffic_ticket",
        "administrative_penalty",
        "bill_late",
        "loan_instalment_missed",
        "utility_arrears",
    }
)

#: Pairs of catalogue domains treated as one social context for Art. 5(1)(c)(i): data from
#: one may be used for treatment in the other. A judgment debt and a tax debt are money
#: owed, so court and tax records are related to finance (lending, insurance).
RELATED_CONTEXTS = frozenset({("courts", "finance"), ("tax", "finance")})


def related(data_context: str, treatment_context: str) -> bool:
    """True when data from ``data_context`` may be used in ``treatment_context``."""
    pair = (data_context, treatment_context)
    return data_context == treatment_context or pair in RELATED_CONTEXTS


def clause(clause_id: str) -> Clause:
    """The clause with this id."""
    for c in CLAUSES:
        if c.id == clause_id:
            return c
    raise KeyError(clause_id)
