"""The report's last section, "Glossary": the technical terms in plain words.

:data:`GLOSSARY` holds one or two plain sentences per term. The section lists them,
each with an anchor ``g-<slug>``, and asks the builder to link each section's first use
of a term (in its text and table headers) to its entry, with the definition as the
link's hover title (:meth:`hxmetrics.report.builder.Report.link_terms`). Nothing here
is computed from the data: the section shows no number.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from hxmetrics.privacy import Disclosure
from hxmetrics.report.builder import Report, Term

if TYPE_CHECKING:
    from hxmetrics.report.sections.context import Context

__all__ = ["FORMS", "GLOSSARY", "plan", "section", "slug", "terms"]

#: Each technical term of the report, in plain words (one or two sentences).
GLOSSARY: dict[str, str] = {
    "interval": (
        "The range of values the true number is likely to be in, given how many people "
        "answered (a 95% interval misses the true value about 1 time in 20). Narrow means "
        "precise; when two groups' intervals overlap a lot, their difference may be chance."
    ),
    "significance": (
        "A difference is called significant when it would rarely arise by chance alone "
        "(here: adjusted p-value below 0.05). It says the difference is probably real, "
        "not that it is large or important."
    ),
    "p-value": (
        "How often a difference at least this large would appear by chance if the groups "
        "were really the same. Small (below 0.05) means chance is an unlikely explanation."
    ),
    "Holm adjustment": (
        "When many groups are compared at once, some will look different by luck. The "
        "Holm adjustment raises each p-value to allow for the number of comparisons made, "
        "so that a flag stays trustworthy however many rows the table has."
    ),
    "NPS": (
        "Net Promoter Score: the share of people who would recommend the company (9 or "
        "10 out of 10) minus the share who would not (0 to 6), from -100 to +100."
    ),
    "eNPS": (
        "Employee Net Promoter Score: the same question asked of workers about the "
        "company as a place to work, counted the same way (-100 to +100)."
    ),
    "CSAT": (
        "Customer satisfaction: the share of customers who rate a contact 4 or 5 out of "
        "5 (the 'top two boxes')."
    ),
    "CES": (
        "Customer effort score: how easy the company made it to get things done, from 1 "
        "to 7; the report shows the average, and higher means easier."
    ),
    "promoter/passive/detractor": (
        "On the 0-10 recommend question, promoters answer 9 or 10, passives 7 or 8 and "
        "detractors 0 to 6. NPS is promoters minus detractors; passives count only in "
        "the total."
    ),
    "censored": (
        "A case whose end we have not seen yet (a ticket still open, a person still "
        "employed). It still counts: we know it lasted at least this long."
    ),
    "median time (Kaplan-Meier)": (
        "The time by which half of the cases are resolved, estimated with the "
        "Kaplan-Meier method so that cases still open (censored) are used, not dropped."
    ),
    "SLA attainment": (
        "The share of cases handled within the promised time (the service-level agreement)."
    ),
    "closed loop": (
        "Following up with a person after they gave feedback (calling back a detractor, "
        "say). The closed-loop rate is the share of such answers that got a follow-up."
    ),
    "control chart": (
        "A chart of a number over time with limits of ordinary variation around its "
        "average; a point outside the limits, or a long run on one side, marks a real "
        "shift rather than noise."
    ),
    "relative importance (Shapley)": (
        "How much of the differences in the overall score each driver explains, shared "
        "out fairly between drivers that overlap (Shapley values); the shares add up to "
        "the variance explained."
    ),
    "quadrant": (
        "The importance by performance chart split in four: drivers that matter a lot "
        "but score low are where improvement pays most."
    ),
    "sentiment": (
        "Whether a comment's wording is positive, neutral or negative, scored by a "
        "word-list model from -1 (very negative) to +1 (very positive)."
    ),
    "theme": (
        "A topic that many comments share (billing, waiting, staff), found by grouping "
        "comments that use similar words."
    ),
    "response rate": (
        "The share of people invited to a survey who answered it. Low rates leave room "
        "for the people who answered to differ from those who did not."
    ),
    "weights/raking": (
        "Weights make the people who answered look like the people invited (by role, "
        "say): under-represented groups count a little more. Raking adjusts the weights "
        "one characteristic at a time until every total matches."
    ),
    "design effect": (
        "How much weighting or grouping widens the intervals, compared with a simple "
        "random sample of the same size; 1.5 means the sample is worth two thirds of "
        "its size."
    ),
    "reliability": (
        "Whether a set of questions measures one thing consistently, so that adding "
        "the answers up makes sense. Coefficients of 0.8 or more are good, below 0.7 weak."
    ),
    "alpha": (
        "Cronbach's alpha, the classic reliability coefficient (0 to 1): how strongly "
        "the answers to the questions go together. 0.8 or more is good."
    ),
    "omega": (
        "McDonald's omega, a reliability coefficient (0 to 1) from a factor model that "
        "lets questions count unequally; usually close to alpha, and 0.8 or more is good."
    ),
    "CFI": (
        "Comparative fit index: how well the model of the questions fits the answers, "
        "from 0 to 1; 0.95 or more is a good fit, below 0.90 poor."
    ),
    "RMSEA": (
        "Root mean square error of approximation: how far the model of the questions is "
        "from the answers, per degree of freedom; 0.06 or less is a good fit, above 0.10 "
        "poor."
    ),
    "SRMR": (
        "Standardised root mean square residual: the typical gap between the observed "
        "and the modelled correlations of the questions; 0.08 or less is a good fit."
    ),
    "invariance": (
        "Measurement invariance: whether the questions mean the same to every group. "
        "Only then can the groups' scores (scalar level) or driver weights (metric "
        "level) be compared fairly."
    ),
    "suppression": (
        "Hiding a number computed from too few people (fewer than the report's minimum), "
        "and any number from which it could be worked out, so that no one can be "
        "singled out."
    ),
    "boomerang": ("A worker who left and was later hired again."),
    "touchpoint": (
        "A place where a person meets the company: a store visit, a call, the app, an invoice."
    ),
    "journey": (
        "The sequence of touchpoints one person goes through, in time order, within one "
        "visit or episode."
    ),
    "removal effect": (
        "How much the outcome of journeys would drop if one touchpoint were taken out; "
        "it credits each touchpoint with its share of the result."
    ),
    "team ledger": (
        "One table per team that puts side by side its people's experience, its "
        "customers' experience and how fast it responds."
    ),
    "zero-distance gap": (
        "The difference between how a team's workers feel and how its customers feel; "
        "'zero distance' is the aim that the two move together."
    ),
    "unified vs siloed": (
        "Siloed: each department counts its own survey, so a person who is both worker "
        "and customer counts twice. Unified, the number to quote: each person counts once, "
        "with every answer filed under the role they held when answering."
    ),
    "hybrid": (
        "A person who holds, or has held, more than one role (a worker who is also a "
        "customer, a former worker now a partner). The hybrid type names the pattern."
    ),
    "HX index": (
        "The human experience index: the six core questions put on one scale from 0 "
        "(every answer 1 of 5) to 100 (every answer 5 of 5)."
    ),
    "control limits and signals": (
        "The band a control chart expects a measure to stay in by chance alone. A point "
        "outside it, or a long run on one side of the centre line, is a signal: "
        "something probably changed."
    ),
    "R²": (
        "The share of the differences in the outcome (here the 0-10 recommend score) "
        "that the questions together account for, from 0 (none) to 1 (all)."
    ),
    "difference in differences": (
        "Compares how much a score moved for those followed up with how much it moved "
        "for those not: the effect, if both would otherwise have moved alike."
    ),
    "Wilson interval": (
        "An interval for a share (a response rate, an SLA attainment) that stays "
        "sensible for small groups and shares near 0% or 100%."
    ),
    "effective sample size": (
        "How many unweighted answers would give the same precision as the weighted "
        "ones: the number of answers divided by the design effect."
    ),
    "turnover": (
        "Leavers in a period divided by the average headcount of the period (start and "
        "end): 50% means as many left as half the people usually there."
    ),
    "engagement kind": (
        "How a worker or partner is engaged: full time, part time, gig, contractor; "
        "for partners, supplier, reseller, driver and the like."
    ),
    "desk": (
        "The team that handles a ticket (the tickets' team), as opposed to the team "
        "that owns a touchpoint in the team ledger."
    ),
}

#: The words linked to each entry in the report's text (see :class:`Term`'s forms: a
#: form in lower case matches any case and the plural, one with a capital exactly).
FORMS: dict[str, tuple[str, ...]] = {
    "interval": ("interval", "confidence interval", "CI"),
    "significance": ("significance", "significant", "significantly"),
    "p-value": ("p-value", "adjusted p"),
    "Holm adjustment": ("Holm adjustment", "Holm"),
    "NPS": ("NPS", "Net Promoter Score"),
    "eNPS": ("eNPS", "Employee NPS"),
    "CSAT": ("CSAT",),
    "CES": ("CES",),
    "promoter/passive/detractor": ("promoter", "passive", "detractor"),
    "censored": ("censored",),
    "median time (Kaplan-Meier)": ("Kaplan-Meier", "median time"),
    "SLA attainment": ("SLA attainment", "SLA"),
    "closed loop": ("closed loop", "closed-loop"),
    "control chart": ("control chart",),
    "relative importance (Shapley)": ("relative importance", "Shapley"),
    "quadrant": ("quadrant",),
    "sentiment": ("sentiment",),
    "theme": ("theme",),
    "response rate": ("response rate",),
    "weights/raking": ("raking", "survey weights", "weighted"),
    "design effect": ("design effect",),
    "reliability": ("reliability",),
    "alpha": ("alpha", "Cronbach's alpha"),
    "omega": ("omega", "McDonald's omega"),
    "CFI": ("CFI",),
    "RMSEA": ("RMSEA",),
    "SRMR": ("SRMR",),
    "invariance": ("invariance",),
    "suppression": ("suppression", "suppressed"),
    "boomerang": ("boomerang",),
    "touchpoint": ("touchpoint",),
    "journey": ("journey",),
    "removal effect": ("removal effect",),
    "team ledger": ("team ledger", "ledger"),
    "zero-distance gap": ("zero-distance gap", "zero distance gap", "zero distance"),
    "unified vs siloed": ("unified", "siloed"),
    "hybrid": ("hybrid",),
    "HX index": ("HX index",),
    "control limits and signals": ("control limits", "signal"),
    "R²": ("R²",),
    "difference in differences": ("difference in differences",),
    "Wilson interval": ("Wilson interval", "Wilson"),
    "effective sample size": ("effective sample size", "effective n"),
    "turnover": ("turnover",),
    "engagement kind": ("engagement kind",),
    "desk": ("desk",),
}


def slug(term: str) -> str:
    """The anchor's name of a term: lower case, words joined by hyphens.

    Examples
    --------
    >>> slug("median time (Kaplan-Meier)"), slug("promoter/passive/detractor")
    ('median-time-kaplan-meier', 'promoter-passive-detractor')
    """
    return "-".join(re.findall(r"[a-z0-9]+", term.lower()))


def terms() -> list[Term]:
    """The glossary's entries as the builder links them, in the glossary's order."""
    return [
        Term(f"g-{slug(term)}", definition, FORMS.get(term, (term,)))
        for term, definition in GLOSSARY.items()
    ]


def plan(ctx: Context, d: Disclosure) -> None:
    """The glossary shows no number: nothing to register."""


def section(report: Report, ctx: Context) -> None:
    """List every term with its plain definition and link the report's uses to it."""
    glossary = report.add_section(
        "glossary",
        "Glossary",
        intro=(
            "The technical words of this report in plain language, in the order a reader "
            "meets them. In every section, the first use of each of these words is a link "
            "to its entry here; resting the pointer on it shows the definition."
        ),
    )
    glossary.add_definitions(
        (f"g-{slug(term)}", term, definition) for term, definition in GLOSSARY.items()
    )
    report.link_terms(terms(), skip=("glossary",))
