"""State-held records about people: civil court cases, arrears, tickets, penalties, honours.

Core objects:
    :class:`StateDataParams`: rates, delays and shares of every stream, each documented.
    :class:`StateData`: the ``("sources", "state_data")`` component.
    :class:`CaseBook`: the active civil cases, one compact struct-of-arrays that grows by
        doubling and is compacted when closed cases dominate.

Arrival streams are drawn with :func:`sclab.world.sampling.draw_with_multiplier` (who, in a
pool, has an event at a common base probability times a per-entity behaviour multiplier,
by sparse thinning) and amounts with :func:`sclab.world.sampling.lognormal_amounts`.

Streams (each can be switched off with ``enabled_streams`` or by setting its rate to 0):
    * ``court``: an adult is sued ("sued"); after a delay the court decides; a lost case
      ("judgment_lost", with ``amount``, 0 when the obligation is not monetary) with a money
      obligation gets a performance deadline; at the deadline the debtor performs
      ("judgment_performed", ``late`` False) or not ("non_performance", with ``amount`` and
      ``ground`` 1..6, the grounds of Art. 1 of the Supreme People's Court 2017 Provisions on
      Publishing the List of Dishonest Judgment Debtors); an unresolved debtor may perform
      later at a daily hazard ("judgment_performed", ``late`` True). Every court act carries
      ``case_id`` so that sensors and tests can follow one case.
    * ``tax_arrears`` (self-employed people), ``utility_arrears`` (adults),
      ``traffic_ticket`` (driving-licence holders), ``administrative_penalty`` (adults), all
      with ``amount`` in CNY, and ``heroic_act`` (adults; e.g. Rongcheng adds 30 points for
      heroic deeds), without amount.
    * The gravest records, without amount: ``criminal_conviction`` (adults: a
      first-instance conviction for any offence but dangerous driving) and
      ``drunk_driving`` (driving-licence holders: a conviction for drunk driving, a crime
      since 1 May 2011), each drawn by sex (:meth:`StateData._by_sex`: men's and women's
      pools at the rates that give the published overall rate and the assumed men's
      share). No published breakdown by age was found: every adult (licence holder) of a
      sex has the same rate.
    * Civic conduct that points schemes reward, without amount: ``volunteer_service`` (a
      session of a registered volunteer, a fixed share of adults drawn at setup),
      ``voluntary_blood_donation`` (people aged 18 to 55, at the national rate per head
      of everyone) and ``charitable_donation`` (adults).
    All acts have entity_type "person".

Warm start of the streams other than the court (``history_since``, default 5 January 2016,
or ``history_days``): their acts before day 0 are drawn at setup from sub-streams
``<name>/history/<kind>`` with base rates, by people of age on the act's day, and emitted
on the first step with ``occurred_day`` (:mod:`sclab.world.history`). Cost: O(history
days) binomial draws and O(acts drawn), once; at the defaults about 3.5 years of every
stream (traffic tickets are most of it: about 1.05 per driver).

Behaviour hooks: the arrival rate of each stream is multiplied by ``propensity(kind)`` for
its act kind ("sued", "tax_arrears", ...); the probability of not performing at the deadline
by ``propensity("non_performance")``; the later-performance hazard by
``propensity("perform_judgment")`` (so that a "repay once listed" behaviour can raise it).

Calibration of the court pipeline (defaults):
    * Filings: about 10-13 million first-instance civil and commercial cases a year in
      2015-2019 (SPC statistics: 11.5 million first-instance cases in 2015, 88.6 % civil or
      commercial). Taking 12 million, of which 60 % (Assumption) have a natural person as
      defendant, over about 1.14 billion adults gives 12e6 × 0.6 / 1.14e9 ≈ 0.0063 per adult
      per year, i.e. a daily hazard of 0.0063 / 365 ≈ 1.7e-5 per adult.
    * Flow into non-performance: 0.0063 × 0.6 (lost) × 0.85 (money) × 0.625 (mean
      non-performance probability) ≈ 0.20 % of adults a year; 12.88 million listings from
      October 2013 to end-2018 (SPC), if about three quarters are natural persons
      (Assumption), imply about 0.16 % of adults listed a year, and only some non-performers
      are listed.
    * Later performance: by end-2018, 3.51 million of the 12.88 million listed had performed
      (≈ 27 %, SPC). With listings arriving evenly over the 5.25 years since October 2013, a
      constant hazard h gives a performed share 1 - (1 - e^{-hT}) / (hT) = 0.27 at
      hT ≈ 0.666, h ≈ 0.127 a year ≈ 3.5e-4 a day. This figure already includes whatever
      listing did to debtors; a behaviour that raises ``perform_judgment`` on listing should
      be read against it.

Warm start of the court pipeline (``court_history_days`` H > 0, the default): day 0 is the
pipeline's own steady state, not an empty court. In ``setup``, from the sub-stream
``<name>/court_history`` (day 0), with the source's own rates (base rates: behaviour
multipliers are not known before the run; ``rate_multiplier`` applies):
    * cases PENDING judgment: for each past day -a (1 <= a <= min(H, judgment delay max)),
      Binomial(adults, s × P(D >= a)) suits, s the daily suing probability and D the
      judgment delay; each gets D uniform on [max(a, D_min), D_max], so it is due on day
      D - a >= 0. Stock: s × E[D] per adult.
    * debtors AWAITING their deadline, likewise with the deadline delay L and the daily
      flow s × lose_share × money_judgment_share of money judgments (stock: that flow ×
      E[L]), each with a drawn amount.
    * UNRESOLVED debtors: per past day -a (1 <= a <= H) and income decile k,
      Binomial(adults of decile k, s × lose × money × nonperform_k × (1 - h)^(a - 1)), h the
      later-performance hazard (the discrete form of e^(-h a): a debtor who defaults on day
      t is at risk from day t + 1); who uniform within the decile. Each has a ground, an
      amount and a case id, sits in the :class:`CaseBook` as UNRESOLVED (so it may perform
      in the run, "judgment_performed" with ``late`` True) and is emitted on the first step
      as a "non_performance" act whose extra ``occurred_day`` (int32, < 0) is its true past
      day. The records sensor records such an act as of that day (its usual capture, delay
      and linkage errors; records whose recording day falls before the run are delivered
      on day 0 with their past ``recorded_day``), and the policy engine starts a list entry
      resting on it on that past recording day (``docs/policies.md``, "Warm start").
      These acts are not added to ``sim.acts.totals`` (``true_act_totals`` counts the run).
    Every drawn case requires its person to have been an adult (``adult_age``) on its past
    day (for PENDING the day of suit, otherwise the day of judgment or of
    non-performance), so the stock is slightly below the formulas above. Cost: O(H × 10)
    binomial draws plus O(cases drawn), once. Cases are drawn with replacement over people
    (one person may hold several), as in the run. Past suits, judgments and performances
    are state only, not acts: a pack scoring ``judgment_lost`` sees the run's judgments.

Calibration of the warm start (defaults, H = 2106 days from 1 October 2013 to 8 July 2019,
computed analytically, before the age condition and the records sensor's capture):
    * pending judgment 0.21 % of adults, awaiting a deadline 0.05 %;
    * unresolved debtors f × (1 - (1 - h)^H) / h = 5.50e-6 × 1490 = 0.82 % of adults
      (f = 0.0063 / 365 × 0.6 × 0.85 × 0.625 = 5.50e-6 a day);
    * listed on day 0 (court-defaulters pack): ground 1 (45 %) without term, 0.37 %;
      grounds 2-6 within their 730-day term, 0.19 %; expired but extended (10 % by
      365-1095 days), 0.015 %: together 0.58 % of adults.
    SPC comparison: 12.88 million listed by end-2018, three quarters natural persons
    (Assumption), over 1.10-1.14 billion adults, is 0.85-0.88 % of adults ever listed and
    (12.88 - 3.51) million not performed is 0.62-0.64 %. The model over the same span
    (H = 1917 days to end-2018) gives 1.05 % ever defaulting and 0.77 % unresolved, about
    20-25 % above: the default flow into non-performance is 0.20 % of adults a year where
    the SPC figures imply 0.16 % (see the flow above), while the performed share matches
    (27 %). The SPC does not publish how many grounds 2-6 entries had expired, so the
    0.58 % listed on day 0 has no direct counterpart; it is below the 0.62-0.64 % ceiling.
    With ``repay_when_listed`` the source's own hazard is only the voluntary part
    (1.75e-4), which alone would leave 0.97 % unresolved; set
    ``court_history_hazard_per_day`` to the all-in 3.5e-4 in such scenarios.
    Simulated (tests/test_court_warm_start.py): 100,000 people (83,500 adults), seeds
    11-13: 677, 676 and 614 unresolved against 661-664 expected with the age condition
    (s.d. 26), 0.74-0.81 % of adults; 0.45-0.50 % of adults listed on day 0 once the
    records sensor's capture (migrants at 0.6) applies. At 1,000,000 people: 0.50 %.

Eligibility (adult, self-employed, driver) is fixed from the population on day 0.

COST MODEL: a day costs O(k) random draws for k events of the arrival streams (each drawn
as a count, then who, :mod:`sclab.world.sampling`); with a behaviour multiplier present,
candidates are drawn at ``max_propensity`` times the base rate and thinned, so at most
``max_propensity`` × k draws. The court pipeline additionally makes O(active cases)
vectorised comparisons (cases awaiting judgment or a deadline, about 0.3 % of adults with
defaults, plus the unresolved debtors whose later performance is drawn daily). Nothing is
drawn per person per day. Setup is O(people) once, plus the warm start (above).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
from pydantic import Field, field_validator, model_validator

from sclab.arrays import lex_order, stable_order
from sclab.engine.ages import ages
from sclab.engine.catalogue import Kind
from sclab.engine.propensity import propensity
from sclab.engine.registry import register
from sclab.engine.simulation import DAYS_PER_MONTH, DAYS_PER_YEAR
from sclab.population.citizens import OCCUPATIONS
from sclab.world.base import SourceParams
from sclab.world.history import PastActs, adult_on, days_since, past_events
from sclab.world.sampling import draw_with_multiplier, lognormal_amounts, thinned

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

StreamName = Literal[
    "court",
    "tax_arrears",
    "utility_arrears",
    "traffic_ticket",
    "administrative_penalty",
    "heroic_act",
    "criminal_conviction",
    "drunk_driving",
    "volunteer_service",
    "voluntary_blood_donation",
    "charitable_donation",
]
STREAMS: tuple[StreamName, ...] = get_args(StreamName)

# The six grounds of Art. 1, SPC Provisions on Publishing the List of Dishonest Judgment
# Debtors (2017 revision); the act's ``ground`` is the 1-based position in this tuple.
GROUNDS = (
    "able_to_perform_but_refuses",
    "obstructs_enforcement_by_forgery_violence_or_threat",
    "evades_enforcement_by_sham_litigation_or_hiding_property",
    "violates_property_reporting",
    "violates_consumption_restriction",
    "refuses_settlement_agreement",
)


# The SPC's list of dishonest judgment debtors started on 1 October 2013, when the SPC's
# Several Provisions on Publishing Information on the List of Dishonest Judgment Debtors
# (Fa Shi [2013] No. 17) took effect.
LIST_LAUNCH = dt.date(2013, 10, 1)
#: Act kinds of the court stream. Being sued breaks no duty; losing a judgment does (a
#: court found one broken), and it stands for failing the obligation, the conduct that
#: behaviour models as ``non_performance`` (:data:`sclab.engine.catalogue.FACTS`).
COURT_KINDS = (
    Kind.act("sued", "courts", True, "a suit naming the person as defendant (civil or commercial)"),
    Kind.act("judgment_lost", "courts", False, "a civil judgment against the person (an "
             "obligation found unmet)", of_act="non_performance"),
    Kind.act("judgment_performed", "courts", True, "a judgment's obligation performed, by "
             "the deadline or later"),
    Kind.act("non_performance", "courts", False, "a judgment's obligation not performed by "
             "its deadline, on one of the six grounds of the SPC's 2017 provisions"),
)  # fmt: skip
#: The act kind of each other stream (named after it).
STREAM_KINDS = {
    "tax_arrears": Kind.act("tax_arrears", "tax", False, "tax due and not paid (self-employed)"),
    "utility_arrears": Kind.act("utility_arrears", "finance", False, "water, power or gas "
                                "charges in arrears (a contract with the utility)"),
    "traffic_ticket": Kind.act("traffic_ticket", "traffic", False, "a traffic offence "
                               "ticketed (driving-licence holders)"),
    "administrative_penalty": Kind.act("administrative_penalty", "administration", False,
                                       "a penalty under administrative law (a fine, "
                                       "a warning)"),
    "heroic_act": Kind.act("heroic_act", "civic", True, "a heroic deed commended by the "
                           "authorities"),
    "criminal_conviction": Kind.act("criminal_conviction", "crime", False, "a first-instance "
                                    "criminal conviction (any offence but dangerous driving)"),
    "drunk_driving": Kind.act("drunk_driving", "traffic", False, "a conviction for drunk "
                              "driving (the crime of dangerous driving, Criminal Law Art. "
                              "133-1, since 1 May 2011; driving-licence holders)"),
    "volunteer_service": Kind.act("volunteer_service", "civic", True, "a session of "
                                  "registered volunteer service (about two hours)"),
    "voluntary_blood_donation": Kind.act("voluntary_blood_donation", "civic", True,
                                         "an unpaid blood donation (donors aged 18 to 55)"),
    "charitable_donation": Kind.act("charitable_donation", "civic", True, "a donation to a "
                                    "registered charity, recorded through official channels"),
}  # fmt: skip


class StateDataParams(SourceParams):
    """Rates, delays and shares of the state-data streams.

    ``rate_multiplier`` scales the arrival rates (suits, arrears, tickets, penalties,
    commendations); shares, delays and the later-performance hazard are not scaled.
    """

    enabled_streams: tuple[StreamName, ...] = Field(
        STREAMS, description="Streams to produce; the others are silent."
    )
    adult_age: int = Field(
        18, ge=14, le=30, description="Age of majority (Civil Code Art. 17): who can be sued."
    )
    max_propensity: float = Field(
        10.0,
        ge=1.0,
        le=1000.0,
        description="Bound on behaviour multipliers used for thinning; larger multipliers "
        "count as this bound (bookkeeping, not a rate).",
    )
    # --- court pipeline -------------------------------------------------------------
    sued_per_adult_year: float = Field(
        0.0063,
        ge=0,
        le=10,
        description="12e6 first-instance civil cases a year (SPC statistics 2015-2019: "
        "10-13 million) x 0.6 with a natural-person defendant (Assumption) / 1.14e9 adults.",
    )
    judgment_delay_min_days: int = Field(
        60,
        ge=1,
        le=3650,
        description="Civil Procedure Law (2017) Art. 161: summary procedure within 3 months; "
        "Assumption: a case takes at least 60 days from filing to judgment.",
    )
    judgment_delay_max_days: int = Field(
        180,
        ge=1,
        le=3650,
        description="Civil Procedure Law (2017) Art. 149: ordinary procedure within 6 months.",
    )
    lose_share: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Assumption: share of sued people who lose (the rest win, withdraw "
        "or settle without obligation).",
    )
    money_judgment_share: float = Field(
        0.85,
        ge=0,
        le=1,
        description="Assumption: share of lost judgments that order a payment.",
    )
    judgment_amount_median_cny: float = Field(
        20_000.0, gt=0, le=1e9, description="Assumption: median amount owed under a judgment."
    )
    judgment_amount_sigma: float = Field(
        1.2, ge=0, le=5, description="Assumption: log-normal spread of judgment amounts."
    )
    deadline_min_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Assumption: days from judgment to the performance deadline (the 15-day "
        "appeal period plus the period the judgment sets), at least.",
    )
    deadline_max_days: int = Field(90, ge=1, le=3650, description="Assumption: the same, at most.")
    nonperform_by_decile: tuple[float, ...] = Field(
        (0.80, 0.76, 0.72, 0.68, 0.645, 0.605, 0.57, 0.53, 0.49, 0.45),
        description="Assumption: probability of not performing by the deadline, income decile "
        "0 (lowest) to 9; mean 0.625, chosen with the other court defaults to give about 0.2 % "
        "of adults a year in non-performance (module docstring).",
    )
    ground_shares: tuple[float, ...] = Field(
        (0.45, 0.03, 0.07, 0.35, 0.05, 0.05),
        description="Assumption: shares of the six Art. 1 grounds among non-performers, "
        "(1) able but refuses, (2) obstruction by forgery/violence/threats, (3) sham "
        "litigation or hidden property, (4) property reporting, (5) consumption restriction, "
        "(6) settlement agreement.",
    )
    performance_hazard_per_day: float = Field(
        3.5e-4,
        ge=0,
        le=1,
        description="Daily probability that an unresolved debtor performs; calibrated to SPC "
        "end-2018: 3.51M of 12.88M listed had performed (27 %) with listings arriving evenly "
        "since Oct 2013 (h = 0.127/year). This is the whole observed rate; scenarios that "
        "also run the repay_when_listed behaviour set the voluntary part, 1.75e-4 (see "
        "sclab.behaviour.repayment), so the two together reproduce the 27 %.",
    )
    court_history_days: int | None = Field(
        None,
        ge=0,
        le=36_500,
        description="Warm start: days of court history before day 0 whose cases still pending, "
        "awaiting a deadline or unresolved on day 0 are drawn at setup (the pipeline's own "
        "steady state). None (default): the days from 1 October 2013, when the SPC list of "
        "dishonest judgment debtors went online, to the scenario's start_date (2106 for 8 "
        "July 2019); 0 switches the warm start off (empty courts, nobody listed). At the "
        "defaults and 2106 days: 0.82 % of adults unresolved, 0.58 % listed by the "
        "court-defaulters pack; SPC end-2018: 0.62-0.64 % of adults listed and not performed "
        "(12.88M - 3.51M, 3/4 natural persons, 1.10-1.14 billion adults), the model's flow "
        "being about 25 % higher (module docstring).",
    )
    court_history_hazard_per_day: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Later-performance hazard used for the warm start's history; None: "
        "performance_hazard_per_day. Set it to the all-in 3.5e-4 (SPC end-2018 calibration) "
        "when a behaviour (repay_when_listed) supplies part of the hazard in the run, since "
        "behaviour multipliers are unknown before day 0.",
    )
    # --- other streams --------------------------------------------------------------
    tax_arrears_per_self_employed_year: float = Field(
        0.02,
        ge=0,
        le=50,
        description="Assumption: individual income tax arrears notices per self-employed "
        "person per year.",
    )
    tax_arrears_median_cny: float = Field(
        2_000.0, gt=0, le=1e9, description="Assumption: median tax arrears of a person."
    )
    tax_arrears_sigma: float = Field(
        1.0, ge=0, le=5, description="Assumption: log-normal spread of tax arrears."
    )
    utility_arrears_per_adult_month: float = Field(
        0.005,
        ge=0,
        le=30,
        description="Assumption: overdue water, power, gas or property bills recorded per "
        "adult per month; billing cycles are staggered, so spread evenly over days.",
    )
    utility_arrears_median_cny: float = Field(
        150.0, gt=0, le=1e7, description="Assumption: median overdue utility bill."
    )
    utility_arrears_sigma: float = Field(
        0.7, ge=0, le=5, description="Assumption: log-normal spread of utility arrears."
    )
    traffic_tickets_per_driver_year: float = Field(
        1.0,
        ge=0,
        le=100,
        description="Assumption: recorded traffic violations per licence holder per year "
        "(no national per-driver figure found; order of magnitude only).",
    )
    traffic_fine_min_cny: float = Field(
        20.0,
        ge=0,
        le=1e6,
        description="Road Traffic Safety Law Art. 90: fines of 20-200 CNY for drivers' "
        "violations of traffic rules (uniform within the range: Assumption).",
    )
    traffic_fine_max_cny: float = Field(
        200.0, ge=0, le=1e6, description="Road Traffic Safety Law Art. 90 upper bound."
    )
    administrative_penalty_per_adult_year: float = Field(
        0.003,
        ge=0,
        le=10,
        description="Assumption: administrative penalty decisions (public order, market, "
        "other) per adult per year.",
    )
    administrative_penalty_median_cny: float = Field(
        500.0, gt=0, le=1e9, description="Assumption: median administrative fine."
    )
    administrative_penalty_sigma: float = Field(
        1.0, ge=0, le=5, description="Assumption: log-normal spread of administrative fines."
    )
    heroic_acts_per_adult_year: float = Field(
        1e-5,
        ge=0,
        le=1,
        description="Assumption: officially commended heroic deeds (jianyi yongwei) per adult "
        "per year; very rare.",
    )
    criminal_convictions_per_adult_year: float = Field(
        1.09e-3,
        ge=0,
        le=1,
        description="Criminal convictions other than for dangerous driving per adult per "
        "year: the SPC's 2021 work report gives 1,527,000 people convicted at first instance "
        "in 2020 and 289,000 dangerous-driving cases (drunk driving and the like) concluded; "
        "(1.527M - 0.289M) / 1.14 billion adults = 1.09e-3 (2015: 1,232,000 convicted in "
        "all, SPC 2016 work report).",
    )
    criminal_conviction_male_share: float = Field(
        0.88,
        ge=0,
        le=1,
        description="Assumption (range 0.85-0.92): men's share of those convicted; no "
        "national breakdown by sex was found. Drawn among adults, men and women at the "
        "rates that give this share and the overall rate.",
    )
    drunk_driving_per_driver_year: float = Field(
        6.1e-4,
        ge=0,
        le=1,
        description="Drunk-driving convictions per driving-licence holder per year: 289,000 "
        "dangerous-driving cases concluded in 2020 (SPC 2021 work report) over 476 million "
        "licence holders (Ministry of Public Security, September 2021); the police handled "
        "247,000 drunk-driving cases from January to mid-October 2019 (Ministry of Public "
        "Security via Xinhua, 17 October 2019), about 310,000 a year.",
    )
    drunk_driving_male_share: float = Field(
        0.95,
        ge=0,
        le=1,
        description="Assumption (range 0.90-0.98): men's share of drunk-driving convictions; "
        "no national breakdown by sex was found. Drawn among licence holders as for "
        "convictions.",
    )

    volunteer_share_of_adults: float = Field(
        0.055,
        ge=0,
        le=1,
        description="Registered volunteers among adults: 60 million registered volunteers "
        "on the mainland (Ministry of Civil Affairs, China Daily, 4 December 2012) over "
        "about 1.1 billion adults. Shanghai: 1.27 million of about 21 million adults "
        "(Youth League Shanghai Committee, March 2019), 6 %. Drawn once at setup.",
    )
    volunteer_sessions_per_year: float = Field(
        4.0,
        ge=0,
        le=365,
        description="Assumption (range 1-12): recorded sessions of volunteer service per "
        "registered volunteer per year, about two hours each (Shanghai's volunteers at the "
        "2018 import expo averaged 27.75 hours over the event: Youth League Shanghai "
        "Committee, 2019; the typical volunteer serves far less).",
    )
    blood_donations_per_1000_people: float = Field(
        11.2,
        ge=0,
        le=1000,
        description="Unpaid blood donations per 1,000 people (everyone) per year: National "
        "Health Commission via Xinhua, 25 May 2019 (14.99 million donations in 2018, 'nearly "
        "11.2 blood donors in every 1,000 people'); drawn among people aged 18 to 55 (Blood "
        "Donation Law, 1998, art. 2) at the rate that gives this figure over everyone.",
    )
    charitable_donations_per_adult_year: float = Field(
        0.05,
        ge=0,
        le=50,
        description="Assumption (range 0.01-0.2): donations to registered charities per "
        "adult per year that reach the public credit record (through a charity's receipt "
        "or an official drive); no published per-person figure found.",
    )
    history_since: dt.date | None = Field(
        dt.date(2016, 1, 5),
        description="Warm start of every stream but the court pipeline (which has "
        "court_history_days): the acts since this date are drawn at setup with the streams' "
        "own rates and recorded as of their past days (sclab.world.history), so that points "
        "earned and lost before the run are there on day 0. Default: 5 January 2016, when "
        "Rongcheng's Measures on the Management of Natural Persons' Credit Information (Rong "
        "Zheng Fa [2016] No. 1) took effect; the measures we could read give no period "
        "after which a deduction lapses, so every act since then counts. None: no history.",
    )
    history_days: int | None = Field(
        None,
        ge=0,
        le=36_500,
        description="Days of history of those streams, instead of history_since (0: none).",
    )

    @field_validator("enabled_streams")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError("enabled_streams lists a stream twice")
        return v

    @field_validator("nonperform_by_decile")
    @classmethod
    def _deciles(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) != 10 or not all(0.0 <= x <= 1.0 for x in v):
            raise ValueError("expected 10 probabilities in [0, 1], income decile 0 to 9")
        return v

    @field_validator("ground_shares")
    @classmethod
    def _grounds(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if len(v) != len(GROUNDS) or any(x < 0 for x in v) or abs(sum(v) - 1.0) > 1e-3:
            raise ValueError(f"expected {len(GROUNDS)} non-negative shares summing to 1")
        return tuple(x / sum(v) for x in v)

    @model_validator(mode="after")
    def _ranges(self) -> StateDataParams:
        for lo, hi in (
            ("judgment_delay_min_days", "judgment_delay_max_days"),
            ("deadline_min_days", "deadline_max_days"),
            ("traffic_fine_min_cny", "traffic_fine_max_cny"),
        ):
            if getattr(self, hi) < getattr(self, lo):
                raise ValueError(f"{hi} must be >= {lo}")
        return self


# Case stages; CLOSED marks a hole that the next compaction removes.
PENDING, AWAITING, UNRESOLVED, CLOSED = 0, 1, 2, 255


class CaseBook:
    """Active civil cases as parallel arrays (index = slot, not case id).

    A case is PENDING judgment until ``due``, then AWAITING its performance deadline
    (``due``), then UNRESOLVED (non-performed, since ``since``) until performed. Closed
    slots are holes; :meth:`compact` drops them once they are the majority.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.n = 0
        self.closed = 0
        self.next_id = 0
        self.case_id = np.empty(capacity, np.int64)
        self.person = np.empty(capacity, np.int64)
        self.amount = np.empty(capacity, np.float64)
        self.due = np.empty(capacity, np.int32)
        self.since = np.empty(capacity, np.int32)
        self.stage = np.empty(capacity, np.uint8)

    _ARRAYS = ("case_id", "person", "amount", "due", "since", "stage")

    def open(self, person: np.ndarray, due: np.ndarray) -> np.ndarray:
        """Open PENDING cases; returns their case ids."""
        k = len(person)
        if self.n + k > len(self.stage):
            self._grow(self.n + k)
        sl = slice(self.n, self.n + k)
        ids = np.arange(self.next_id, self.next_id + k, dtype=np.int64)
        self.case_id[sl] = ids
        self.person[sl] = person
        self.amount[sl] = 0.0
        self.due[sl] = due
        self.since[sl] = -1
        self.stage[sl] = PENDING
        self.n += k
        self.next_id += k
        return ids

    def close(self, slots: np.ndarray) -> None:
        self.stage[slots] = CLOSED
        self.closed += len(slots)

    def slots(self, stage: int, due: int | None = None) -> np.ndarray:
        """Slots at ``stage`` (and due on day ``due``), in slot order."""
        mask = self.stage[: self.n] == stage
        if due is not None:
            mask &= self.due[: self.n] == due
        return np.flatnonzero(mask)

    def compact(self) -> None:
        """Drop closed slots if they are more than half of the used ones (amortised O(1))."""
        if self.closed * 2 <= self.n or self.n < 64:
            return
        keep = np.flatnonzero(self.stage[: self.n] != CLOSED)
        for name in self._ARRAYS:
            arr = getattr(self, name)
            arr[: len(keep)] = arr[keep]
        self.n = len(keep)
        self.closed = 0

    def _grow(self, need: int) -> None:
        cap = max(need, 2 * len(self.stage))
        for name in self._ARRAYS:
            old = getattr(self, name)
            new = np.empty(cap, old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in self._ARRAYS)


def _merged(drawn: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Past events of a stream's parts (:func:`past_events` each) as one: by person, then
    oldest first."""
    if len(drawn) == 1:
        return drawn[0]
    if not drawn:
        return np.empty(0, np.int64), np.empty(0, np.int32)
    who = np.concatenate([w for w, _ in drawn])
    day = np.concatenate([d for _, d in drawn])
    order = lex_order(day, who)  # np.lexsort's order, from one packed sort
    return who[order], day[order]


@register("sources", "state_data", StateDataParams)
class StateData:
    """Civil court cases and judgment performance, arrears, tickets, penalties, honours."""

    def __init__(self, name: str, params: StateDataParams) -> None:
        self.name = name
        self.params = params
        self.cases = CaseBook()

    def kinds(self) -> list[Kind]:
        """Act kinds of the enabled streams."""
        enabled = self.params.enabled_streams
        simple = [STREAM_KINDS[s] for s in enabled if s != "court"]
        return simple + (list(COURT_KINDS) if "court" in enabled else [])

    def setup(self, sim: Simulation) -> None:
        c = sim.population.citizens
        adult = ages(sim) >= self.params.adult_age
        # Eligible pools as int32 ids (half the bytes; what is drawn from them is int64).
        ids = np.int32 if len(c) < 2**31 else np.int64
        self.adults = np.flatnonzero(adult).astype(ids)
        self.self_employed = np.flatnonzero(
            adult & (c.occupation == OCCUPATIONS.index("self_employed"))
        ).astype(ids)
        self.drivers = np.flatnonzero(c.driver_licence).astype(ids)
        # Convictions are drawn by sex (each sex's pool at its own rate), from pools made
        # once here: a day costs O(events), as for the other streams.
        p = self.params
        self.convictions = self._by_sex(
            c.male, self.adults, p.criminal_convictions_per_adult_year / DAYS_PER_YEAR,
            p.criminal_conviction_male_share,
        )  # fmt: skip
        self.drunk_drivers = self._by_sex(
            c.male, self.drivers, p.drunk_driving_per_driver_year / DAYS_PER_YEAR,
            p.drunk_driving_male_share,
        )  # fmt: skip
        self.decile = c.income_decile
        self.enabled = frozenset(self.params.enabled_streams)
        age = ages(sim)
        # Blood donors: 18 to 55 (Blood Donation Law, art. 2), at the rate per eligible
        # person that gives the published rate over everyone.
        self.donor_ages = np.flatnonzero((age >= 18) & (age <= 55)).astype(ids)
        self.blood_rate = (
            self.params.blood_donations_per_1000_people / 1000 * len(c) / len(self.donor_ages)
            if len(self.donor_ages)
            else 0.0
        )
        # Registered volunteers: a fixed share of adults, drawn once.
        pick = sim.rng(f"{self.name}/volunteers")
        chosen = pick.random(len(self.adults)) < self.params.volunteer_share_of_adults
        self.volunteers = self.adults[chosen]
        self._past = PastActs(self.name)
        if "court" in self.enabled:
            days = self.history_days(sim.scenario.start_date)
            if days > 0 and len(self.adults):
                self._warm_start(sim, days)
        days = days_since(sim.scenario.start_date, p.history_since, p.history_days)
        if days > 0:
            self._simple_history(sim, days)

    @staticmethod
    def _by_sex(
        male: np.ndarray, pool: np.ndarray, daily: float, male_share: float
    ) -> list[tuple[np.ndarray, float]]:
        """``pool`` split into its men and women, each with the daily probability that
        gives ``male_share`` of the events and ``daily`` per member overall; empty parts
        are left out."""
        is_male = male[pool]
        parts = []
        for members, share in ((pool[is_male], male_share), (pool[~is_male], 1 - male_share)):
            if len(members):
                parts.append((members, daily * share * len(pool) / len(members)))
        return parts

    def history_days(self, start_date: dt.date) -> int:
        """Days of court history before day 0 (``court_history_days``, see its description)."""
        days = self.params.court_history_days
        if days is None:
            days = max(0, (start_date - LIST_LAUNCH).days)
        return days

    # -- warm start ------------------------------------------------------------------

    def _adult_on(self, sim: Simulation, who: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Whether each person had reached ``adult_age`` on (past) simulation day ``day``."""
        return adult_on(sim, who, day, self.params.adult_age)

    def _past_cases(
        self,
        sim: Simulation,
        rng: np.random.Generator,
        days: int,
        daily: float,
        lo: int,
        hi: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cases that entered a stage on a past day and are still in it on day 0.

        A case enters with probability ``daily`` per adult per day and stays a delay
        uniform on [lo, hi]; on past day -a (1 <= a <= min(days, hi)) those entering number
        Binomial(adults, daily × P(delay >= a)), and each one's delay is uniform on
        [max(a, lo), hi]. Returns (person, due day >= 0) of those whose person was adult on
        day -a.
        """
        if daily <= 0:
            return np.empty(0, np.int64), np.empty(0, np.int32)
        age = np.arange(1, min(days, hi) + 1)
        still = (hi - np.maximum(age, lo) + 1) / (hi - lo + 1)
        counts = rng.binomial(len(self.adults), np.clip(daily * still, 0.0, 1.0))
        age = np.repeat(age, counts)
        delay = rng.integers(np.maximum(age, lo), hi + 1)
        who = self.adults[rng.integers(0, len(self.adults), len(age))].astype(np.int64)
        ok = self._adult_on(sim, who, -age)
        return who[ok], (delay - age)[ok].astype(np.int32)

    def _warm_start(self, sim: Simulation, days: int) -> None:
        """Fill the CaseBook with the court pipeline's state on day 0 (module docstring)."""
        p = self.params
        rng = sim.rng(f"{self.name}/court_history", 0)
        book = self.cases
        sued = p.sued_per_adult_year * p.rate_multiplier / DAYS_PER_YEAR
        money = sued * p.lose_share * p.money_judgment_share

        who, due = self._past_cases(
            sim, rng, days, sued, p.judgment_delay_min_days, p.judgment_delay_max_days
        )
        book.open(who, due)

        who, due = self._past_cases(sim, rng, days, money, p.deadline_min_days, p.deadline_max_days)
        first = book.n
        book.open(who, due)
        slots = np.arange(first, book.n)
        book.stage[slots] = AWAITING
        book.amount[slots] = lognormal_amounts(
            rng, len(slots), p.judgment_amount_median_cny, p.judgment_amount_sigma
        )

        # Unresolved debtors: per past day and income decile, count then who.
        hazard = p.court_history_hazard_per_day
        hazard = p.performance_hazard_per_day if hazard is None else hazard
        age = np.arange(1, days + 1)
        survival = (1.0 - hazard) ** (age - 1.0)
        # The adults by decile (in id order within one), from one radix sort.
        decile = self.decile[self.adults]
        by_decile = self.adults[stable_order(decile)]
        per_decile = np.bincount(decile, minlength=len(p.nonperform_by_decile))
        bounds = np.concatenate([[0], np.cumsum(per_decile)])
        parts_who, parts_age = [], []
        for k, fail in enumerate(p.nonperform_by_decile):
            pool = by_decile[bounds[k] : bounds[k + 1]]
            if len(pool) == 0 or fail <= 0:
                continue
            counts = rng.binomial(len(pool), np.clip(money * fail * survival, 0.0, 1.0))
            parts_age.append(np.repeat(age, counts))
            parts_who.append(pool[rng.integers(0, len(pool), int(counts.sum()))].astype(np.int64))
        if not parts_who:
            return
        who, age = np.concatenate(parts_who), np.concatenate(parts_age)
        ok = self._adult_on(sim, who, -age)
        who, age = who[ok], age[ok]
        # By person, then oldest first: the order of every history (sclab.world.history).
        order = lex_order(-age, who)
        who, day = who[order], (-age[order]).astype(np.int32)
        k = len(who)
        first = book.n
        ids = book.open(who, np.zeros(k, np.int32))
        slots = np.arange(first, book.n)
        amount = lognormal_amounts(rng, k, p.judgment_amount_median_cny, p.judgment_amount_sigma)
        ground = (1 + rng.choice(len(GROUNDS), size=k, p=p.ground_shares)).astype(np.uint8)
        book.stage[slots] = UNRESOLVED
        book.since[slots] = day
        book.amount[slots] = amount
        self._past.add(
            "non_performance", who, day, {"case_id": ids, "amount": amount, "ground": ground}
        )

    def _simple_streams(
        self,
    ) -> list[tuple[str, list[tuple[np.ndarray, float]], tuple[float, float] | None]]:
        """(act kind = stream name, parts: (eligible pool, daily probability before
        ``rate_multiplier``) each, log-normal amount (median, sigma) or None) of each
        stream but the court pipeline. A stream with several parts (one pool per sex)
        draws them one after the other from its one random stream."""
        p = self.params
        return [
            ("tax_arrears",
             [(self.self_employed, p.tax_arrears_per_self_employed_year / DAYS_PER_YEAR)],
             (p.tax_arrears_median_cny, p.tax_arrears_sigma)),
            ("utility_arrears", [(self.adults, p.utility_arrears_per_adult_month / DAYS_PER_MONTH)],
             (p.utility_arrears_median_cny, p.utility_arrears_sigma)),
            ("traffic_ticket", [(self.drivers, p.traffic_tickets_per_driver_year / DAYS_PER_YEAR)],
             None),
            ("administrative_penalty",
             [(self.adults, p.administrative_penalty_per_adult_year / DAYS_PER_YEAR)],
             (p.administrative_penalty_median_cny, p.administrative_penalty_sigma)),
            ("heroic_act", [(self.adults, p.heroic_acts_per_adult_year / DAYS_PER_YEAR)], None),
            ("criminal_conviction", self.convictions, None),
            ("drunk_driving", self.drunk_drivers, None),
            ("volunteer_service",
             [(self.volunteers, p.volunteer_sessions_per_year / DAYS_PER_YEAR)], None),
            ("voluntary_blood_donation", [(self.donor_ages, self.blood_rate / DAYS_PER_YEAR)],
             None),
            ("charitable_donation",
             [(self.adults, p.charitable_donations_per_adult_year / DAYS_PER_YEAR)], None),
        ]  # fmt: skip

    def _amounts(
        self, rng: np.random.Generator, kind: str, k: int, lognormal: tuple[float, float] | None
    ) -> np.ndarray | None:
        """Amounts of ``k`` acts of ``kind`` (None: the kind has none)."""
        p = self.params
        if lognormal is not None:
            return lognormal_amounts(rng, k, *lognormal)
        if kind == "traffic_ticket":
            return np.round(rng.uniform(p.traffic_fine_min_cny, p.traffic_fine_max_cny, k))
        return None  # commendations, service and donations carry no amount

    def _simple_history(self, sim: Simulation, days: int) -> None:
        """The streams' acts on the ``days`` days before day 0 (:mod:`sclab.world.history`):
        each stream from its own sub-stream ``<name>/history/<kind>``, at base rates, by
        people who were adults (18 for blood donors) on the act's day."""
        for kind, parts, lognormal in self._simple_streams():
            if kind not in self.enabled:
                continue
            rng = sim.rng(f"{self.name}/history/{kind}", 0)
            drawn = [past_events(rng, pool, rate * self.params.rate_multiplier, days)
                     for pool, rate in parts]  # fmt: skip
            who, day = _merged(drawn)
            adult = self.params.adult_age if kind != "voluntary_blood_donation" else 18
            ok = adult_on(sim, who, day, adult)
            who, day = who[ok], day[ok]
            amount = self._amounts(rng, kind, len(who), lognormal)
            self._past.add(kind, who, day, None if amount is None else {"amount": amount})

    def step(self, sim: Simulation, day: int) -> None:
        # The warm start's acts, once, before today's acts.
        self._past.emit(sim, day)
        if "court" in self.enabled:
            self._court(sim, day)
        scale = self.params.rate_multiplier
        for kind, parts, lognormal in self._simple_streams():
            if kind not in self.enabled:
                continue
            if not parts:
                continue
            rng = sim.rng(f"{self.name}/{kind}", day)
            mult = propensity(sim, kind)
            drawn = [draw_with_multiplier(rng, pool, rate * scale, mult, self.params.max_propensity)
                     for pool, rate in parts]  # fmt: skip
            who = drawn[0] if len(drawn) == 1 else np.sort(np.concatenate(drawn))
            if len(who) == 0:
                continue
            amount = self._amounts(rng, kind, len(who), lognormal)
            if amount is None:
                sim.acts.add(day, self.name, kind, who)
            else:
                sim.acts.add(day, self.name, kind, who, amount=amount)

    def _court(self, sim: Simulation, day: int) -> None:
        """Advance every active case due today, then open today's new cases."""
        p = self.params
        rng = sim.rng(f"{self.name}/court", day)
        book = self.cases

        # Later performance first, so a debtor who defaults today is at risk from tomorrow.
        slots = book.slots(UNRESOLVED)
        if len(slots) and p.performance_hazard_per_day > 0:
            hazard = np.full(len(slots), p.performance_hazard_per_day)
            mult = propensity(sim, "perform_judgment")
            if mult is not None:
                hazard *= mult[book.person[slots]]
            done = slots[thinned(rng, np.clip(hazard, 0.0, 1.0))]
            if len(done):
                self._performed(sim, day, done, late=True)

        slots = book.slots(AWAITING, due=day)
        if len(slots):
            prob = np.asarray(p.nonperform_by_decile)[self.decile[book.person[slots]]]
            mult = propensity(sim, "non_performance")
            if mult is not None:
                prob = prob * mult[book.person[slots]]
            fails = rng.random(len(slots)) < prob
            self._performed(sim, day, slots[~fails], late=False)
            bad = slots[fails]
            if len(bad):
                ground = 1 + rng.choice(len(GROUNDS), size=len(bad), p=p.ground_shares)
                book.stage[bad] = UNRESOLVED
                book.since[bad] = day
                sim.acts.add(
                    day, self.name, "non_performance", book.person[bad],
                    case_id=book.case_id[bad], amount=book.amount[bad],
                    ground=ground.astype(np.uint8),
                )  # fmt: skip

        slots = book.slots(PENDING, due=day)
        if len(slots):
            lost = rng.random(len(slots)) < p.lose_share
            money = rng.random(len(slots)) < p.money_judgment_share
            book.close(slots[~lost])
            lost_slots = slots[lost]
            if len(lost_slots):
                owed = money[lost]
                amount = np.zeros(len(lost_slots))
                amount[owed] = lognormal_amounts(
                    rng, int(owed.sum()), p.judgment_amount_median_cny, p.judgment_amount_sigma
                )
                book.amount[lost_slots] = amount
                sim.acts.add(
                    day, self.name, "judgment_lost", book.person[lost_slots],
                    case_id=book.case_id[lost_slots], amount=amount,
                )  # fmt: skip
                debt = lost_slots[owed]
                book.close(lost_slots[~owed])
                book.stage[debt] = AWAITING
                book.due[debt] = day + rng.integers(
                    p.deadline_min_days, p.deadline_max_days + 1, len(debt)
                )

        sued = draw_with_multiplier(
            rng,
            self.adults,
            p.sued_per_adult_year * p.rate_multiplier / DAYS_PER_YEAR,
            propensity(sim, "sued"),
            p.max_propensity,
        )
        if len(sued):
            delay = rng.integers(
                p.judgment_delay_min_days, p.judgment_delay_max_days + 1, len(sued)
            )
            ids = book.open(sued, day + delay)
            sim.acts.add(day, self.name, "sued", sued, case_id=ids)
        book.compact()

    def _performed(self, sim: Simulation, day: int, slots: np.ndarray, late: bool) -> None:
        if len(slots) == 0:
            return
        book = self.cases
        sim.acts.add(
            day, self.name, "judgment_performed", book.person[slots],
            case_id=book.case_id[slots], amount=book.amount[slots],
            late=np.full(len(slots), late),
        )  # fmt: skip
        book.close(slots)

    def finish(self, sim: Simulation) -> None:
        pass
