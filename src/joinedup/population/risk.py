"""A 12-month emergency-admission risk score trained on the ICS's own history.

In the spirit of PARR-30 and the Combined Predictive Model (Billings et al., BMJ Open
2012;2:e001667): a logistic regression on prior use of services and recorded diagnoses.
docs/population-risk.md describes the model for the people who read its output.

* **Features** (:data:`FEATURES`) are Ibis expressions over the :class:`~joinedup.population.
  measures.Lake`, for each person as at an index date ``t0`` (:func:`features`), so they run
  on DuckDB and on Spark alike.
* **Outcome**: one or more emergency admissions in ``(t0, t0 + 365 days]`` (:func:`outcome`).
* **Training** (:func:`train`): ``t0 = as_of - 365 days``; the people alive at ``t0`` are
  split by a hash of ``person_id`` (:func:`held_out`), 70% to fit, 30% held out. A
  logistic regression with a small ridge penalty is fitted by Newton's method in numpy,
  beside a baseline of age bands and the number of long-term conditions; both are
  measured on the held-out people (AUC, calibration by tenths, calibration-in-the-large
  and slope, Brier score: :class:`Performance`).
* **Scoring** (:func:`score`): everyone alive at ``as_of``, features at ``t0 = as_of``; the
  linear predictor and the bands are Ibis expressions, so scoring runs on the engine.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

import ibis
import numpy as np
import orjson
from ibis import _
from ibis.expr.types import BooleanValue, NumericValue, Table

from joinedup.population.measures import (
    CODE_LISTS,
    EFI_CATEGORIES,
    EFI_DEFICITS,
    MULTIMORBIDITY_CONDITIONS,
    Lake,
)

#: The look-back and the outcome window, in days (a year, as PARR-30 and the CPM use).
WINDOW_DAYS: Final = 365

#: Age bands at t0 (lower bound inclusive); 40-54 is the reference level. Coarser than
#: the lake's five-year bands so each level has enough people and admissions to estimate.
AGE_BANDS: Final = (
    ("age_0_17", 0, 18),
    ("age_18_39", 18, 40),
    ("age_55_64", 55, 65),
    ("age_65_74", 65, 75),
    ("age_75_84", 75, 85),
    ("age_85_plus", 85, 1000),
)

#: Caps on the counts, so a handful of very frequent users don't set the slope for
#: everyone (PARR and the CPM also band their counts).
COUNT_CAP: Final = 10
MEDICINES_CAP: Final = 20

#: Whole eFI deficits at the top of each category: fit up to 4, mild up to 8, moderate up
#: to 12, severe above (measures.EFI_CATEGORIES' score cut-offs x 36).
_EFI_MAX_DEFICITS: Final = {
    name: math.floor(upper * len(EFI_DEFICITS) + 1e-9) for upper, name in EFI_CATEGORIES
}

#: Every feature of the model, with what it is (docs/population-risk.md has the same table).
FEATURES: Final[dict[str, str]] = {
    **{
        name: f"age {lo}-{hi - 1} at t0" if hi < 1000 else f"age {lo}+ at t0"
        for name, lo, hi in AGE_BANDS
    },
    "age_unknown": "age not recorded",
    "sex_female": "sex recorded as female (male is the reference)",
    "sex_other_or_unknown": "sex neither female nor male, or not recorded",
    **{
        f"imd_q{q}": f"IMD quintile {q} (1 = most deprived; 5 is the reference)"
        for q in range(1, 5)
    },
    "imd_unknown": "IMD quintile not known (no small area)",
    **{
        f"ltc_{name}": f"{name.replace('_', ' ')} recorded on or before t0"
        for name in MULTIMORBIDITY_CONDITIONS
    },
    "ltc_4_plus": f"4 or more of the {len(MULTIMORBIDITY_CONDITIONS)} long-term conditions",
    "efi_mild": "eFI mild frailty at t0 (fit is the reference)",
    "efi_moderate": "eFI moderate frailty at t0",
    "efi_severe": "eFI severe frailty at t0",
    "emergency_admissions_12m": f"emergency admissions in the year before t0 (capped at {COUNT_CAP})",
    "ae_attendances_12m": f"A&E attendances in the year before t0 (capped at {COUNT_CAP})",
    "bed_days_12m_log": "log(1 + bed days of stays admitted in the year before t0)",
    "medicines": f"different medicines started by t0 and still active (capped at {MEDICINES_CAP})",
    "social_care_package": "a social care package in place at t0",
    "social_care_assessment_12m": "a social care assessment in the year before t0",
}

#: The baseline the model is judged beside: age bands and the number of conditions.
BASELINE_FEATURES: Final = (
    *(name for name, _lo, _hi in AGE_BANDS),
    "age_unknown",
    "conditions",
)

#: Counts: standardised (mean 0, SD 1 on the training people) before fitting. The other
#: features are 0/1 indicators, left as they are so their coefficients are log odds ratios.
NUMERIC_FEATURES: Final = frozenset(
    {
        "emergency_admissions_12m",
        "ae_attendances_12m",
        "bed_days_12m_log",
        "medicines",
        "conditions",
    }
)

#: Risk bands by the share of the scored population above a person (their cumulative
#: share when ranked from the highest risk): the top 0.5% "very high", the next 4.5%
#: "high", the next 15% "moderate", the rest "low" (the "Kaiser pyramid" bands England's
#: risk stratification tools report).
RISK_BANDS: Final = ((0.005, "very high"), (0.05, "high"), (0.20, "moderate"), (1.0, "low"))

#: The share of people held out from fitting to measure the model on.
HELD_OUT_SHARE: Final = 0.30

#: Mixed into the split's hash so it is not the same as any other use of person_id's hash.
_SPLIT_SALT: Final = b"joinedup-risk-split/1:"

#: The ridge penalty on the coefficients (not the intercept), on the log-likelihood scale:
#: small enough to leave a well-determined coefficient alone, large enough to keep a
#: level with no events (or a feature that is constant) finite.
DEFAULT_PENALTY: Final = 1.0

#: Below these the fit or the held-out measures mean little: an error, not a model.
MIN_TRAINING_PEOPLE: Final = 100
MIN_TRAINING_EVENTS: Final = 20
MIN_HELD_OUT_EVENTS: Final = 10

#: A linear predictor is clipped to this before the logistic function (exp overflows
#: beyond ~700; at 40 the risk is already within 1e-17 of 0 or 1).
_LP_LIMIT: Final = 40.0

_FORMAT: Final = "joinedup-risk-model/1"


# --- features and outcome, as Ibis expressions -------------------------------------------


def _start_of(day: date) -> datetime:
    """Midnight UTC at the start of ``day``: timestamps are compared with instants, not
    with their date in the engine's session time zone (DuckDB's and Spark's may differ)."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def _in_window(column: Any, first: date, last: date) -> BooleanValue:
    """A UTC timestamp falls on a day in ``[first, last]``."""
    start = ibis.literal(_start_of(first), type="timestamp('UTC')")
    end = ibis.literal(_start_of(last + timedelta(days=1)), type="timestamp('UTC')")
    result: BooleanValue = (column >= start) & (column < end)
    return result


def _death_months(lake: Lake) -> Table:
    return lake.death.group_by("person_id").aggregate(death_month=_.month.min())


def alive_at(lake: Lake, on: date) -> Table:
    """The people alive on ``on``: ``person_id, age, sex, imd_quintile, died, death_month``.

    The lake keeps only the month of death, so a death in ``on``'s own month counts as
    before it (a list of people to act on should not hold the dead). Someone marked as
    dead with no month can't be placed in time and is left out.
    """
    person = lake.person.select("person_id", "age", "sex", "imd_quintile", "died")
    joined = person.left_join(_death_months(lake), "person_id")
    joined = joined.select("person_id", "age", "sex", "imd_quintile", "died", "death_month")
    dead = ibis.ifelse(
        joined.death_month.isnull(),
        joined.died.fill_null(False),
        joined.death_month <= ibis.literal(on),
    )
    return joined.filter(~dead)


def _age_at(people: Table, t0: date, ages_on: date) -> NumericValue:
    """Age at t0 from the lake's age (on ``ages_on``, or at death): less one for each whole
    365 days from t0 to that date. The lake keeps no date of birth, so this is right to
    within a year; at scoring (t0 = ages_on) it is the lake's age."""
    years = (ages_on - t0).days // WINDOW_DAYS
    back: Any = ibis.literal(0)
    for k in range(1, years + 1):
        boundary = t0 + timedelta(days=WINDOW_DAYS * k)
        # Died before the k-th anniversary of t0: their age stopped before it.
        reached = people.death_month.isnull() | (people.death_month >= ibis.literal(boundary))
        back = back + reached.cast("int32")
    age: NumericValue = people.age - back
    return age


def features(lake: Lake, t0: date, *, ages_on: date | None = None) -> Table:
    """Every person alive at ``t0`` with each of :data:`FEATURES` (and ``conditions``, the
    baseline's count) as float64: ``person_id, <features>``.

    ``ages_on`` is the date the lake's ages are on (its as-of date; by default ``t0``).
    Only what was recorded by ``t0`` is counted: conditions with an onset or recorded date
    on or before it (neither date recorded counts as before), stays admitted and A&E
    arrivals in the year up to it.
    """
    ages_on = ages_on or t0
    if ages_on < t0:
        raise ValueError("the lake's ages must be on or after t0")
    year_start = t0 - timedelta(days=WINDOW_DAYS - 1)  # the year before t0: (t0 - 365, t0]
    t0_lit = ibis.literal(t0)
    people = alive_at(lake, t0)
    base = people.select("person_id", "sex", "imd_quintile", age_t0=_age_at(people, t0, ages_on))

    # One pass over the conditions known by t0: an indicator per condition and per eFI
    # deficit (a code may stand for several of either).
    known = lake.condition.filter(
        (_.onset <= t0_lit) | (_.recorded <= t0_lit) | (_.onset.isnull() & _.recorded.isnull())
    )
    flags: dict[str, Any] = {
        f"ltc_{name}": known.code.isin(list(CODE_LISTS[name])).any()
        for name in MULTIMORBIDITY_CONDITIONS
    }
    deficit_lists = {
        deficit: [code for name in lists for code in CODE_LISTS[name]]
        for deficit, lists in EFI_DEFICITS.items()
        if lists
    }
    flags |= {
        f"deficit_{i}": known.code.isin(codes).any()
        for i, codes in enumerate(deficit_lists.values())
    }
    recorded = known.group_by("person_id").aggregate(**flags)

    # Medicines on t0: started by then and still active. The lake keeps no stop date, so a
    # course stopped between t0 and the as-of date is missed (exact at scoring).
    medicines = (
        lake.medication.filter(_.status == "active", _.issued <= t0_lit)
        .group_by("person_id")
        .aggregate(medicines_raw=_.code.nunique())
    )

    stays = lake.admission.filter(_in_window(_.admitted, year_start, t0))
    use = stays.group_by("person_id").aggregate(
        emergency_raw=(stays.emergency.fill_null(False)).cast("int64").sum(),
        bed_days_raw=stays.length_of_stay_days.fill_null(0).sum(),
    )
    ae = (
        lake.ae_attendance.filter(_in_window(_.arrival, year_start, t0))
        .group_by("person_id")
        .aggregate(ae_raw=_.count())
    )
    care = lake.social_care
    package = (
        care.filter(
            _.kind == "package",
            _.start.isnull() | (_.start <= t0_lit),
            _.end.isnull() | (_.end >= t0_lit),
        )
        .select("person_id")
        .distinct()
        .mutate(package_raw=ibis.literal(1))
    )
    assessment = (
        care.filter(
            _.kind == "assessment",
            _.start >= ibis.literal(year_start),
            _.start <= t0_lit,
        )
        .select("person_id")
        .distinct()
        .mutate(assessment_raw=ibis.literal(1))
    )

    table = base
    for part in (recorded, medicines, use, ae, package, assessment):
        table = table.left_join(part, "person_id").drop("person_id_right")

    def flag(value: Any) -> Any:
        return value.fill_null(False).cast("int32")

    ltc = {f"ltc_{name}": flag(table[f"ltc_{name}"]) for name in MULTIMORBIDITY_CONDITIONS}
    medicines_count = table.medicines_raw.fill_null(0)
    # The counts as columns of their own, so the final projection refers to them rather
    # than repeating their sums in every feature that uses them.
    table = table.select(
        "person_id",
        "age_t0",
        "sex",
        "imd_quintile",
        **ltc,
        conditions_n=sum(list(ltc.values())[1:], next(iter(ltc.values()))),
        deficits_n=sum(
            (flag(table[f"deficit_{i}"]) for i in range(len(deficit_lists))),
            (medicines_count >= 5).cast("int32"),  # polypharmacy, as measures.efi counts it
        ),
        medicines_n=medicines_count,
        emergency_n=table.emergency_raw.fill_null(0),
        bed_days_n=table.bed_days_raw.fill_null(0),
        ae_n=table.ae_raw.fill_null(0),
        package_n=table.package_raw.fill_null(0),
        assessment_n=table.assessment_raw.fill_null(0),
    )
    conditions, deficits = table.conditions_n, table.deficits_n
    age = table.age_t0
    sex = table.sex
    quintile = table.imd_quintile

    def indicator(condition: Any) -> Any:
        return condition.fill_null(False).cast("float64")

    columns: dict[str, Any] = {
        name: indicator((age >= lo) & (age < hi)) for name, lo, hi in AGE_BANDS
    }
    columns["age_unknown"] = indicator(age.isnull())
    columns["sex_female"] = indicator(sex == "female")
    columns["sex_other_or_unknown"] = indicator(~sex.isin(["female", "male"]) | sex.isnull())
    for q in range(1, 5):
        columns[f"imd_q{q}"] = indicator(quintile == q)
    columns["imd_unknown"] = indicator(quintile.isnull())
    for name in MULTIMORBIDITY_CONDITIONS:
        columns[f"ltc_{name}"] = table[f"ltc_{name}"].cast("float64")
    columns["ltc_4_plus"] = indicator(conditions >= 4)
    columns["efi_mild"] = indicator(
        (deficits > _EFI_MAX_DEFICITS["fit"]) & (deficits <= _EFI_MAX_DEFICITS["mild"])
    )
    columns["efi_moderate"] = indicator(
        (deficits > _EFI_MAX_DEFICITS["mild"]) & (deficits <= _EFI_MAX_DEFICITS["moderate"])
    )
    columns["efi_severe"] = indicator(deficits > _EFI_MAX_DEFICITS["moderate"])
    columns["emergency_admissions_12m"] = ibis.least(table.emergency_n, COUNT_CAP).cast("float64")
    columns["ae_attendances_12m"] = ibis.least(table.ae_n, COUNT_CAP).cast("float64")
    columns["bed_days_12m_log"] = (table.bed_days_n.cast("float64") + 1.0).ln()
    columns["medicines"] = ibis.least(table.medicines_n, MEDICINES_CAP).cast("float64")
    columns["social_care_package"] = table.package_n.cast("float64")
    columns["social_care_assessment_12m"] = table.assessment_n.cast("float64")
    columns["conditions"] = conditions.cast("float64")
    return table.select("person_id", **columns)


def outcome(lake: Lake, t0: date) -> Table:
    """``person_id, admitted``: 1 for each person with an emergency admission in
    ``(t0, t0 + 365 days]`` (only those people: join it to a population and fill 0)."""
    after = lake.admission.filter(
        _.emergency.fill_null(False),
        _in_window(_.admitted, t0 + timedelta(days=1), t0 + timedelta(days=WINDOW_DAYS)),
    )
    return after.select("person_id").distinct().mutate(admitted=ibis.literal(1, type="int32"))


def training_table(lake: Lake, as_of: date) -> Table:
    """The ICS's history as training data: everyone alive at ``t0 = as_of - 365 days``,
    their features at t0 and ``admitted`` (0 or 1) in the year after. Someone who died in
    that year without an emergency admission counts as not admitted."""
    t0 = as_of - timedelta(days=WINDOW_DAYS)
    table = features(lake, t0, ages_on=as_of).left_join(outcome(lake, t0), "person_id")
    return table.drop("person_id_right").mutate(admitted=_.admitted.fill_null(0))


def held_out(person_id: str) -> bool:
    """Whether a person is in the held-out 30%: from a SHA-256 of their ``person_id``, so
    the split is the same on every engine, every run and every refresh."""
    digest = hashlib.sha256(_SPLIT_SALT + person_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < HELD_OUT_SHARE


# --- the logistic regression ---------------------------------------------------------------


@dataclass(frozen=True)
class LogisticFit:
    """A fitted logistic regression. Coefficients are on the standardised scale: feature
    ``f`` enters as ``(x - means[f]) / scales[f]`` (mean 0 and scale 1 for indicators)."""

    features: tuple[str, ...]
    intercept: float
    coefficients: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]

    def raw_weights(self) -> tuple[float, dict[str, float]]:
        """(intercept, weight per feature) on the features' own scales: the same linear
        predictor with the standardisation folded in (one multiply-add per feature)."""
        weights = {f: self.coefficients[f] / self.scales[f] for f in self.features}
        intercept = self.intercept - sum(weights[f] * self.means[f] for f in self.features)
        return intercept, weights

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Risks for a matrix whose columns are :attr:`features` in order."""
        intercept, weights = self.raw_weights()
        lp = intercept + x @ np.array([weights[f] for f in self.features])
        return _logistic(lp)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "features": list(self.features),
            "intercept": self.intercept,
            "coefficients": self.coefficients,
            "means": self.means,
            "scales": self.scales,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogisticFit:
        """From :meth:`to_dict`'s form."""
        return cls(
            features=tuple(data["features"]),
            intercept=float(data["intercept"]),
            coefficients={k: float(v) for k, v in data["coefficients"].items()},
            means={k: float(v) for k, v in data["means"].items()},
            scales={k: float(v) for k, v in data["scales"].items()},
        )


def _logistic(lp: np.ndarray) -> np.ndarray:
    clipped = np.clip(lp, -_LP_LIMIT, _LP_LIMIT)
    result: np.ndarray = 1.0 / (1.0 + np.exp(-clipped))
    return result


def _newton(
    x: np.ndarray,
    y: np.ndarray,
    *,
    penalty: float,
    offset: np.ndarray | None = None,
    max_iterations: int = 100,
) -> np.ndarray:
    """Penalised maximum likelihood by Newton's method (IRLS) with step halving.

    ``x``'s first column is the intercept, which is not penalised. Minimises
    ``-loglik + penalty / 2 * |beta[1:]|^2``; the objective is convex, so the steps
    converge from zero.
    """
    n, p = x.shape
    ridge = np.full(p, penalty)
    ridge[0] = 0.0
    off = np.zeros(n) if offset is None else offset
    beta = np.zeros(p)

    def objective(b: np.ndarray) -> float:
        eta = off + x @ b
        # log(1 + exp(eta)) - y * eta, computed without overflow.
        loss = np.logaddexp(0.0, eta) - y * eta
        return float(loss.sum() + 0.5 * np.sum(ridge * b * b))

    current = objective(beta)
    for _iteration in range(max_iterations):
        eta = off + x @ beta
        mu = _logistic(eta)
        gradient = x.T @ (mu - y) + ridge * beta
        w = mu * (1.0 - mu)
        hessian = (x * w[:, None]).T @ x + np.diag(ridge)
        # A whisker of jitter keeps the solve defined when a column is constant or zero.
        hessian[np.diag_indices(p)] += 1e-10
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        for _halving in range(40):
            candidate = beta - size * step
            value = objective(candidate)
            if value <= current + 1e-12 * max(1.0, abs(current)):
                break
            size /= 2
        beta, previous, current = candidate, current, value
        if np.max(np.abs(size * step)) < 1e-9 or abs(previous - current) < 1e-13 * max(
            1.0, abs(current)
        ):
            return beta
    raise ValueError("the logistic regression did not converge")


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    *,
    penalty: float = DEFAULT_PENALTY,
    numeric: frozenset[str] = NUMERIC_FEATURES,
) -> LogisticFit:
    """A ridge-penalised logistic regression of ``y`` (0/1) on ``x`` (columns ``names``).

    Columns named in ``numeric`` are standardised on these rows first (a constant one is
    left unscaled); the others are taken as indicators.
    """
    if x.shape != (len(y), len(names)):
        raise ValueError("the matrix must have one row per outcome and one column per name")
    means = {n: float(x[:, i].mean()) if n in numeric else 0.0 for i, n in enumerate(names)}
    scales = {}
    for i, n in enumerate(names):
        sd = float(x[:, i].std()) if n in numeric else 1.0
        scales[n] = sd if sd > 1e-12 else 1.0
    standard = (x - np.array([means[n] for n in names])) / np.array([scales[n] for n in names])
    design = np.column_stack([np.ones(len(y)), standard])
    beta = _newton(design, y.astype(float), penalty=penalty)
    return LogisticFit(
        features=tuple(names),
        intercept=float(beta[0]),
        coefficients={n: float(b) for n, b in zip(names, beta[1:], strict=True)},
        means=means,
        scales=scales,
    )


# --- how good the predictions are ----------------------------------------------------------


def auc(risk: np.ndarray, outcome: np.ndarray) -> float:
    """The c-statistic (area under the ROC curve) by the Mann-Whitney rank method: the
    chance a random person with the outcome has a higher risk than one without, a tie
    counting a half (ties get their average rank)."""
    risk, outcome = np.asarray(risk, dtype=float), np.asarray(outcome).astype(bool)
    positives = int(outcome.sum())
    negatives = len(outcome) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("the AUC needs people with and without the outcome")
    inverse, counts = np.unique(risk, return_inverse=True, return_counts=True)[1:]
    ends = np.cumsum(counts)
    average_rank = ends - (counts - 1) / 2.0  # ranks from 1; a tied group shares its mean
    rank_sum = float(average_rank[inverse][outcome].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


@dataclass(frozen=True)
class Decile:
    """One tenth of the people by predicted risk (1 = the lowest risks)."""

    tenth: int
    people: int
    events: int
    mean_predicted: float
    observed_rate: float


def calibration_deciles(risk: np.ndarray, outcome: np.ndarray) -> tuple[Decile, ...]:
    """Mean predicted risk beside the observed rate in each tenth of the people ranked by
    predicted risk (equal-sized groups; ties split by a stable sort)."""
    risk, outcome = np.asarray(risk, dtype=float), np.asarray(outcome, dtype=float)
    order = np.argsort(risk, kind="stable")
    groups = np.array_split(order, 10)
    return tuple(
        Decile(
            tenth=i + 1,
            people=len(g),
            events=int(outcome[g].sum()),
            mean_predicted=float(risk[g].mean()),
            observed_rate=float(outcome[g].mean()),
        )
        for i, g in enumerate(groups)
        if len(g)
    )


def calibration_intercept_slope(risk: np.ndarray, outcome: np.ndarray) -> tuple[float, float]:
    """(calibration-in-the-large, calibration slope) (Van Calster et al., J Clin Epidemiol
    2016;74:167): the intercept of a logistic regression of the outcome on the linear
    predictor as an offset (0 is ideal; above 0, the model under-predicts), and the slope
    on the linear predictor (1 is ideal; below 1, predictions are too extreme)."""
    p = np.clip(np.asarray(risk, dtype=float), 1e-15, 1 - 1e-15)
    lp = np.log(p / (1 - p))
    y = np.asarray(outcome, dtype=float)
    ones = np.ones((len(y), 1))
    intercept = float(_newton(ones, y, penalty=0.0, offset=lp)[0])
    slope = float(_newton(np.column_stack([ones, lp]), y, penalty=0.0)[1])
    return intercept, slope


def brier(risk: np.ndarray, outcome: np.ndarray) -> float:
    """The Brier score: the mean squared difference of risk and outcome (0 is perfect;
    predicting everyone's risk as the event rate ``r`` scores ``r(1 - r)``)."""
    return float(np.mean((np.asarray(risk, float) - np.asarray(outcome, float)) ** 2))


@dataclass(frozen=True)
class Performance:
    """How predictions did on a set of people (the held-out ones)."""

    people: int
    events: int
    auc: float
    brier: float
    calibration_in_the_large: float
    calibration_slope: float
    mean_predicted: float
    observed_rate: float
    deciles: tuple[Decile, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            **{k: v for k, v in self.__dict__.items() if k != "deciles"},
            "deciles": [d.__dict__ for d in self.deciles],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Performance:
        """From :meth:`to_dict`'s form."""
        return cls(
            **{k: v for k, v in data.items() if k != "deciles"},
            deciles=tuple(Decile(**d) for d in data["deciles"]),
        )


def performance(risk: np.ndarray, outcome: np.ndarray) -> Performance:
    """Discrimination, calibration and Brier score of ``risk`` against ``outcome`` (0/1)."""
    citl, slope = calibration_intercept_slope(risk, outcome)
    return Performance(
        people=len(outcome),
        events=int(np.sum(outcome)),
        auc=auc(risk, outcome),
        brier=brier(risk, outcome),
        calibration_in_the_large=citl,
        calibration_slope=slope,
        mean_predicted=float(np.mean(risk)),
        observed_rate=float(np.mean(outcome)),
        deciles=calibration_deciles(risk, outcome),
    )


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskModel:
    """The trained risk model and its baseline, with how both did on the held-out people.

    Saved as JSON beside the lake (e.g. ``var/lake/_risk_model.json``): parameters and
    aggregate measures only, nothing about any one person.
    """

    as_of: date
    t0: date
    model: LogisticFit
    baseline: LogisticFit
    performance: Performance
    baseline_performance: Performance
    training_people: int
    training_events: int
    penalty: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "format": _FORMAT,
            "as_of": self.as_of.isoformat(),
            "t0": self.t0.isoformat(),
            "model": self.model.to_dict(),
            "baseline": self.baseline.to_dict(),
            "performance": self.performance.to_dict(),
            "baseline_performance": self.baseline_performance.to_dict(),
            "training_people": self.training_people,
            "training_events": self.training_events,
            "penalty": self.penalty,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskModel:
        """From :meth:`to_dict`'s form."""
        if data.get("format") != _FORMAT:
            raise ValueError(f"not a risk model this version reads (expected {_FORMAT})")
        return cls(
            as_of=date.fromisoformat(data["as_of"]),
            t0=date.fromisoformat(data["t0"]),
            model=LogisticFit.from_dict(data["model"]),
            baseline=LogisticFit.from_dict(data["baseline"]),
            performance=Performance.from_dict(data["performance"]),
            baseline_performance=Performance.from_dict(data["baseline_performance"]),
            training_people=int(data["training_people"]),
            training_events=int(data["training_events"]),
            penalty=float(data["penalty"]),
        )

    def save(self, path: Path) -> None:
        """Write the model as JSON, atomically (a reader never sees half a file)."""
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2))
        os.replace(partial, path)

    @classmethod
    def load(cls, path: Path) -> RiskModel:
        """Read a model :meth:`save` wrote."""
        data = orjson.loads(path.read_bytes())
        if not isinstance(data, dict):
            raise ValueError("not a risk model")
        return cls.from_dict(data)


def train(lake: Lake, as_of: date, *, penalty: float = DEFAULT_PENALTY) -> RiskModel:
    """Fit the model and the baseline on the year to ``as_of`` (the lake's as-of date: its
    ages are on it) and measure both on the held-out people."""
    table = training_table(lake, as_of)
    names = list(FEATURES)
    columns = ["person_id", *names, "conditions", "admitted"]
    data = table.select(*columns).to_pyarrow()
    # Engines return rows in any order; sorting makes the fit the same on all of them.
    everyone = data.column("person_id").to_pylist()
    order = np.argsort(np.asarray(everyone, dtype=object))
    ids = [everyone[i] for i in order]
    matrix = {c: data.column(c).to_numpy(zero_copy_only=False)[order] for c in columns[1:]}
    y = matrix["admitted"].astype(float)
    if len(ids) < MIN_TRAINING_PEOPLE / (1 - HELD_OUT_SHARE):
        raise ValueError(
            f"too few people alive at t0 to fit a risk model (needs at least "
            f"{math.ceil(MIN_TRAINING_PEOPLE / (1 - HELD_OUT_SHARE))})"
        )
    if not y.any():
        raise ValueError(
            "no outcome events: nobody alive at t0 had an emergency admission in the year after"
        )
    test = np.array([held_out(i) for i in ids])
    fit_rows, test_rows = ~test, test
    events = int(y[fit_rows].sum())
    if min(events, int(fit_rows.sum()) - events) < MIN_TRAINING_EVENTS:
        raise ValueError(
            f"too few outcome events to fit a risk model: the training people need at least "
            f"{MIN_TRAINING_EVENTS} with an emergency admission and {MIN_TRAINING_EVENTS} without"
        )
    held_events = int(y[test_rows].sum())
    if min(held_events, int(test_rows.sum()) - held_events) < MIN_HELD_OUT_EVENTS:
        raise ValueError(
            f"too few outcome events to measure a risk model: the held-out people need at "
            f"least {MIN_HELD_OUT_EVENTS} with an emergency admission and "
            f"{MIN_HELD_OUT_EVENTS} without"
        )

    def fitted(feature_names: Sequence[str]) -> tuple[LogisticFit, Performance]:
        x = np.column_stack([matrix[n] for n in feature_names]).astype(float)
        fit = fit_logistic(x[fit_rows], y[fit_rows], feature_names, penalty=penalty)
        return fit, performance(fit.predict(x[test_rows]), y[test_rows])

    model, model_performance = fitted(names)
    baseline, baseline_performance = fitted(BASELINE_FEATURES)
    return RiskModel(
        as_of=as_of,
        t0=as_of - timedelta(days=WINDOW_DAYS),
        model=model,
        baseline=baseline,
        performance=model_performance,
        baseline_performance=baseline_performance,
        training_people=int(fit_rows.sum()),
        training_events=events,
        penalty=penalty,
    )


def linear_predictor(fit: LogisticFit, table: Table) -> NumericValue:
    """The fit's linear predictor as an Ibis expression over a :func:`features` table."""
    intercept, weights = fit.raw_weights()
    lp: Any = ibis.literal(intercept, type="float64")
    for name in fit.features:
        lp = lp + table[name] * ibis.literal(weights[name], type="float64")
    result: NumericValue = lp
    return result


def score(lake: Lake, model: RiskModel, as_of: date) -> Table:
    """``person_id, risk, risk_band`` for everyone alive at ``as_of`` (the lake's as-of
    date), with features at ``t0 = as_of``; computed on the lake's engine.

    Bands are relative to the people scored (:data:`RISK_BANDS`): a person's band is set
    by the share of people whose risk is at least theirs, so tied risks share a band.
    """
    table = features(lake, as_of, ages_on=as_of)
    lp = linear_predictor(model.model, table).clip(lower=-_LP_LIMIT, upper=_LP_LIMIT)
    scored = table.select("person_id", risk=1.0 / (1.0 + (-lp).exp()))
    share = ibis.cume_dist().over(order_by=ibis.desc(scored.risk))
    band = ibis.cases(
        *((share <= upper, name) for upper, name in RISK_BANDS[:-1]), else_=RISK_BANDS[-1][1]
    )
    return scored.mutate(risk_band=band)


def report(model: RiskModel) -> str:
    """The held-out measures of the model and the baseline side by side, as plain text."""
    m, b = model.performance, model.baseline_performance
    lines = [
        f"Emergency-admission risk, trained on t0 {model.t0} to {model.as_of}: "
        f"{model.training_people} people to fit ({model.training_events} admitted), "
        f"{m.people} held out ({m.events} admitted).",
        "",
        f"{'held out':<28}{'model':>10}{'baseline':>10}",
    ]
    for label, attribute in (
        ("AUC (c-statistic)", "auc"),
        ("Brier score", "brier"),
        ("calibration-in-the-large", "calibration_in_the_large"),
        ("calibration slope", "calibration_slope"),
        ("mean predicted", "mean_predicted"),
        ("observed rate", "observed_rate"),
    ):
        lines.append(f"{label:<28}{getattr(m, attribute):>10.3f}{getattr(b, attribute):>10.3f}")
    lines += ["", f"{'tenth':<8}{'people':>8}{'predicted':>11}{'observed':>10}   baseline"]
    for dm, db in zip(m.deciles, b.deciles, strict=True):
        lines.append(
            f"{dm.tenth:<8}{dm.people:>8}{dm.mean_predicted:>11.3f}{dm.observed_rate:>10.3f}"
            f"   {db.mean_predicted:.3f} / {db.observed_rate:.3f}"
        )
    return "\n".join(lines)
