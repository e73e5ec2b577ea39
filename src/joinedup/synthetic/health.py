"""People's health: long-term conditions, and what their GP record holds over the period.

Conditions follow a liability-threshold model (Falconer's, as used for comorbidity): each
person has a shared latent health term and a term for each cluster of conditions
(cardiometabolic, respiratory, mental health, cancer, frailty); a condition's liability mixes
them with its own noise, and the person has the condition once the liability passes the
threshold set by the prevalence for their age, sex and deprivation
(:data:`joinedup.synthetic.codes.CONDITIONS`). Since prevalence rises with age, people cross
thresholds as they age: those are the incident diagnoses during the period. The marginal
prevalence is exactly the calibrated one; the shared terms make conditions cluster.

The GP record (:func:`draw_gp_record`) then adds what the practice records: appointments,
blood pressures, HbA1c, eGFR, BMI and smoking status, repeat medicines that fit the
conditions (with the real gaps: about one in five people with atrial fibrillation and
CHA2DS2-VASc of 2 or more not anticoagulated, some hypertension untreated), and flu
vaccinations for those eligible.

This module holds row-level (synthetic) person data: it never logs a person.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Final

import numpy as np

from joinedup.synthetic import codes
from joinedup.synthetic.model import Diagnosis, Person

# --- Latent health and diagnoses -------------------------------------------------------------

_LATENT_CLUSTERS = tuple(c for c in codes.CLUSTERS if c != "none")


@dataclass(frozen=True, slots=True)
class LatentHealth:
    """Standard normal latent terms for n people: one general, one per condition cluster."""

    general: np.ndarray
    clusters: dict[str, np.ndarray]

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int) -> LatentHealth:
        """Independent standard normal terms for ``n`` people."""
        general = rng.standard_normal(n)
        clusters = {name: rng.standard_normal(n) for name in _LATENT_CLUSTERS}
        clusters["none"] = np.zeros(n)
        return cls(general=general, clusters=clusters)


def normal_upper_tail(x: np.ndarray) -> np.ndarray:
    """P(Z > x) for a standard normal Z (Abramowitz and Stegun 7.1.26, error below 1.5e-7)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erfc = poly * np.exp(-z * z)
    tail: np.ndarray = np.where(x >= 0, 0.5 * erfc, 1.0 - 0.5 * erfc)
    return tail


@cache
def _scale(key: str) -> float:
    return codes.calibrated_scale(codes.CONDITIONS[key])


def prevalence(
    model: codes.ConditionModel, age: np.ndarray, is_male: np.ndarray, imd_decile: np.ndarray
) -> np.ndarray:
    """The probability of having the condition at ``age`` for each person (vectorised)."""
    xs = np.array([a for a, _ in model.age_curve])
    ys = np.array([v for _, v in model.age_curve])
    base = np.interp(age, xs, ys) * _scale(model.key)
    if model.sex is not None:
        sex_factor = np.where(is_male == (model.sex == "male"), 2.0, 0.0)
    else:
        r = model.male_ratio
        sex_factor = np.where(is_male, 2.0 * r / (1.0 + r), 2.0 / (1.0 + r))
    deprivation = np.array(
        [codes.deprivation_multiplier(model.deprivation_ratio, d) for d in range(1, 11)]
    )
    p = base * sex_factor * deprivation[imd_decile - 1]
    return np.clip(np.where(age < 0, 0.0, p), 0.0, 0.95)


#: Conditions that replace others when both are drawn (a person's CKD has one stage).
_SUPERSEDES: Final = {
    "ckd_stage_5": ("ckd_stage_4", "ckd_stage_3"),
    "ckd_stage_4": ("ckd_stage_3",),
    "type_1_diabetes": ("type_2_diabetes",),
}


def draw_diagnoses(
    *,
    rng: np.random.Generator,
    latent: LatentHealth,
    is_male: np.ndarray,
    imd_decile: np.ndarray,
    birth_ord: np.ndarray,
    stop_ord: np.ndarray,
    start_ord: int,
) -> list[tuple[Diagnosis, ...]]:
    """Each person's long-term conditions with onsets, oldest first.

    Prevalent conditions (present at the period start) get an onset up to the condition's
    usual duration back; incident ones (the liability passes the threshold between the
    start and the person's last day in the period, ``stop_ord``) an onset within it.
    """
    n = is_male.shape[0]
    age_start = (start_ord - birth_ord) / 365.25
    age_stop = (stop_ord - birth_ord) / 365.25
    found: list[list[Diagnosis]] = [[] for _ in range(n)]
    drawn: dict[str, np.ndarray] = {}
    onsets: dict[str, np.ndarray] = {}
    for key, model in codes.CONDITIONS.items():
        noise = math.sqrt(1.0 - model.general**2 - model.cluster_loading**2)
        liability = (
            model.general * latent.general
            + model.cluster_loading * latent.clusters[model.cluster]
            + noise * rng.standard_normal(n)
        )
        tail = normal_upper_tail(liability)
        has_at_start = tail < prevalence(model, age_start, is_male, imd_decile)
        has_at_stop = tail < prevalence(model, age_stop, is_male, imd_decile)
        prevalent = has_at_start & (age_start > model.earliest_onset_age)
        incident = has_at_stop & ~prevalent

        # Prevalent: onset a uniform share of the way back, within the condition's usual span.
        span_years = np.clip(age_start - model.earliest_onset_age, 0.0, model.max_duration_years)
        back = (rng.random(n) * span_years * 365.25).astype(np.int64) + 1
        # Incident: onset uniform between the start (or the earliest onset age) and the stop.
        earliest = np.maximum(start_ord, birth_ord + int(model.earliest_onset_age * 365.25))
        window = stop_ord - earliest
        incident &= window > 0
        within = (rng.random(n) * np.maximum(window, 1)).astype(np.int64)
        onset = np.where(prevalent, start_ord - back, earliest + within)
        drawn[key] = prevalent | incident
        onsets[key] = onset

    for key, superseded in _SUPERSEDES.items():
        for other in superseded:
            drawn[other] &= ~drawn[key]

    for key in codes.CONDITIONS:
        onset = onsets[key]
        for i in np.flatnonzero(drawn[key]).tolist():
            found[i].append(Diagnosis(condition=key, onset=date.fromordinal(int(onset[i]))))
    return [tuple(sorted(d, key=lambda x: (x.onset, x.condition))) for d in found]


# --- The GP record ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Appointment:
    """A GP appointment: day, time (minutes after midnight) and kind (codes.ENCOUNTER_TYPES)."""

    day: date
    minute: int
    kind: str


@dataclass(frozen=True, slots=True)
class Measurement:
    """A recorded observation. ``value`` is a number, or a smoking-status key; blood pressure
    has its diastolic in ``value2``. ``appointment`` indexes the appointment it was taken at."""

    kind: str
    day: date
    value: float | str
    value2: float | None = None
    appointment: int | None = None


@dataclass(frozen=True, slots=True)
class MedicationCourse:
    """A repeat medicine from ``start`` until ``end`` (None: still taken at the period end)."""

    medicine: str
    start: date
    end: date | None
    reason: str  # the condition it treats


@dataclass(frozen=True, slots=True)
class Vaccination:
    """A seasonal flu vaccination."""

    day: date
    vaccine: codes.Code


@dataclass(frozen=True, slots=True)
class GpRecord:
    """What the GP record holds about a person over the period, in date order."""

    appointments: tuple[Appointment, ...]
    measurements: tuple[Measurement, ...]
    medications: tuple[MedicationCourse, ...]
    vaccinations: tuple[Vaccination, ...]


#: GP appointments a year by age (NHS Digital appointments data and the QResearch consultation
#: rates, order of magnitude: about 5 a person a year on an older population's structure).
_APPOINTMENT_RATE_BY_AGE: Final = (
    (1, 6.5), (5, 3.0), (15, 1.9), (25, 2.8), (45, 3.2), (65, 4.1), (75, 5.4), (85, 6.7), (200, 7.5),
)  # fmt: skip
#: Extra appointments for each long-term condition and for frailty.
_PER_CONDITION: Final = 0.12
_PER_FRAILTY: Final = 1.5

#: Yearly reviews: (appointment kind, conditions reviewed, share of people reviewed each year).
#: Order of magnitude: about 85% of people with diabetes have their annual review (the NDA's
#: care processes); about 55% of people with severe mental illness had a physical health
#: check in 2023/24 (NHS England's SMI physical health check statistics).
_ANNUAL_REVIEWS: Final = (
    ("diabetes_review", codes.DIABETES, 0.85),
    ("smi_health_check", codes.SERIOUS_MENTAL_ILLNESS, 0.55),
)

#: Share of hypertension that is treated (NICE NG136 audits: a sizeable minority untreated).
HYPERTENSION_TREATED: Final = 0.8
#: Share of people with AF and CHA2DS2-VASc >= 2 who are anticoagulated (about 80%).
AF_ANTICOAGULATED_HIGH_RISK: Final = 0.8
#: Share of hypertensives whose treatment keeps them at target.
BP_CONTROLLED: Final = 0.65
#: Share of people with diabetes whose HbA1c runs above 58 mmol/mol.
HBA1C_ABOVE_58: Final = 0.32

_RISK_GROUP_CONDITIONS: Final = frozenset(
    {
        "type_1_diabetes", "type_2_diabetes", "asthma", "copd", "heart_failure",
        "ischaemic_heart_disease", "ckd_stage_3", "ckd_stage_4", "ckd_stage_5", "stroke",
        "tia", "atrial_fibrillation", "schizophrenia", "bipolar_disorder", "dementia",
    }
)  # fmt: skip
_LONG_TERM = frozenset(k for k, m in codes.CONDITIONS.items() if not m.frailty_deficit)
_BLACK = frozenset({"M", "N", "P"})


def cha2ds2_vasc(person: Person, on: date) -> int:
    """CHA2DS2-VASc score on ``on`` (DOMAIN.md; NICE NG196)."""
    age = person.age_on(on)
    score = 0
    score += 1 if person.has("heart_failure", on) else 0
    score += 1 if person.has("hypertension", on) else 0
    score += 2 if age >= 75 else 1 if age >= 65 else 0
    score += 1 if any(person.has(c, on) for c in codes.DIABETES) else 0
    score += 2 if person.has("stroke", on) or person.has("tia", on) else 0
    score += 1 if any(person.has(c, on) for c in codes.VASCULAR_DISEASE) else 0
    score += 1 if person.sex == "female" else 0
    return score


def draw_gp_record(person: Person, *, start: date, end: date, rnd: random.Random) -> GpRecord:
    """The person's GP record over [start, end) (their time in the ICS within it)."""
    first = max(start, person.birth_date).toordinal()
    stop = (person.death_date or end).toordinal()
    stop = min(stop, end.toordinal())
    if stop <= first:
        return GpRecord((), (), (), ())
    onsets = {d.condition: d.onset.toordinal() for d in person.diagnoses}
    appointments = _appointments(person, first, stop, onsets, rnd)
    medications = _medications(person, start, stop, onsets, rnd)
    bp_treated = any(m.reason == "hypertension" for m in medications)
    measurements = _measurements(person, first, stop, onsets, appointments, bp_treated, rnd)
    vaccinations = _vaccinations(person, first, stop, onsets, rnd)
    return GpRecord(appointments, measurements, medications, vaccinations)


def _age_years(person: Person, day_ord: int) -> float:
    return (day_ord - person.birth_date.toordinal()) / 365.25


def _weekday(day: int) -> int:
    """Move a Saturday back to Friday and a Sunday on to Monday (practices shut at weekends)."""
    weekday = date.fromordinal(day).weekday()
    if weekday == 5:
        return day - 1
    if weekday == 6:
        return day + 1
    return day


def _poisson(rnd: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method for small means, normal approximation above 30)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rnd.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    k = 0
    product = rnd.random()
    while product > limit:
        k += 1
        product *= rnd.random()
    return k


def _appointments(
    person: Person, first: int, stop: int, onsets: dict[str, int], rnd: random.Random
) -> tuple[Appointment, ...]:
    age = _age_years(person, (first + stop) // 2)
    rate = next(r for upper, r in _APPOINTMENT_RATE_BY_AGE if age < upper)
    if person.sex == "female" and 15 <= age < 50:
        rate += 1.0  # contraception, pregnancy and cervical screening
    conditions = sum(1 for c, o in onsets.items() if c in _LONG_TERM and o < stop)
    rate *= 1.0 + _PER_CONDITION * conditions + _PER_FRAILTY * max(0.0, person.frailty - 0.1)
    years = (stop - first) / 365.25
    count = _poisson(rnd, rate * years)
    home_share = 0.4 if "housebound" in onsets else 0.0
    days: list[tuple[int, int, str]] = []
    for _ in range(count):
        day = min(max(_weekday(first + int(rnd.random() * (stop - first))), first), stop - 1)
        minute = 8 * 60 + 10 * rnd.randrange(60)  # ten-minute slots from 08:00 to 17:50
        pick = rnd.random()
        if pick < home_share:
            kind = "home_visit"
        elif pick < home_share + 0.3:
            kind = "telephone"
        elif conditions and pick < home_share + 0.45:
            kind = "review"
        else:
            kind = "surgery"
        days.append((day, minute, kind))
    # The yearly reviews, each year from diagnosis (a share of people miss them).
    for kind, conditions_reviewed, yearly in _ANNUAL_REVIEWS:
        since = min((onsets[c] for c in conditions_reviewed if c in onsets), default=None)
        if since is None:
            continue
        for low, high in _yearly_windows(max(first, since), stop):
            if rnd.random() < yearly * (high - low) / 365:  # a part-year: that share
                day = min(max(_weekday(low + int(rnd.random() * (high - low))), first), stop - 1)
                days.append((day, 8 * 60 + 10 * rnd.randrange(60), kind))
    days.sort()
    return tuple(Appointment(date.fromordinal(d), m, k) for d, m, k in days)


def _appointment_near(
    appointments: tuple[Appointment, ...], low: int, high: int, rnd: random.Random
) -> tuple[int, int | None]:
    """A day in [low, high): an appointment's if there is one in the window, else any day."""
    inside = [
        i
        for i, a in enumerate(appointments)
        if low <= a.day.toordinal() < high and a.kind != "telephone"
    ]
    if inside:
        i = rnd.choice(inside)
        return appointments[i].day.toordinal(), i
    return min(high - 1, max(low, _weekday(low + int(rnd.random() * (high - low))))), None


def _yearly_windows(first: int, stop: int) -> list[tuple[int, int]]:
    windows = []
    low = first
    while low < stop:
        windows.append((low, min(stop, low + 365)))
        low += 365
    return windows


def _measurements(
    person: Person,
    first: int,
    stop: int,
    onsets: dict[str, int],
    appointments: tuple[Appointment, ...],
    treated: bool,
    rnd: random.Random,
) -> tuple[Measurement, ...]:
    out: list[Measurement] = []
    age = _age_years(person, first)
    adult = age >= 18 or _age_years(person, stop) >= 18
    hypertensive_from = onsets.get("hypertension")
    diabetic_from = min((onsets[c] for c in codes.DIABETES if c in onsets), default=None)
    ckd_stage = next(
        (s for s, c in ((5, "ckd_stage_5"), (4, "ckd_stage_4"), (3, "ckd_stage_3")) if c in onsets),
        None,
    )

    # Blood pressure: hypertensives at least once a year; other adults over 40 now and then.
    controlled = rnd.random() < BP_CONTROLLED
    for low, high in _yearly_windows(first, stop):
        if hypertensive_from is not None and hypertensive_from < high:
            readings = 1 + _poisson(rnd, 0.8)
            mean = 132.0 if treated and controlled else 150.0 if treated else 156.0
        elif adult and age >= 40:
            readings = _poisson(rnd, 0.35)
            mean = 118.0 + 0.35 * (age - 40)
        else:
            readings = 0
            mean = 118.0
        for _ in range(readings):
            day, appt = _appointment_near(
                appointments, max(low, hypertensive_from or low), high, rnd
            )
            systolic = round(min(220.0, max(90.0, rnd.gauss(mean, 11.0))))
            diastolic = round(min(125.0, max(50.0, 38.0 + 0.3 * systolic + rnd.gauss(0.0, 6.0))))
            out.append(
                Measurement("blood_pressure", date.fromordinal(day), systolic, diastolic, appt)
            )

    # HbA1c: people with diabetes twice a year, a share of them above 58 mmol/mol.
    if diabetic_from is not None:
        above = rnd.random() < HBA1C_ABOVE_58
        person_mean = rnd.gauss(68.0, 9.0) if above else rnd.gauss(50.0, 4.5)
        for low, high in _yearly_windows(max(first, diabetic_from), stop):
            for _ in range(1 + (rnd.random() < 0.75)):
                day = _weekday(low + int(rnd.random() * (high - low)))
                value = round(max(35.0, rnd.gauss(person_mean, 4.0)))
                out.append(Measurement("hba1c", date.fromordinal(min(day, stop - 1)), value))
    elif adult and age >= 40 and rnd.random() < 0.1 * (stop - first) / 365.25:
        day = _weekday(first + int(rnd.random() * (stop - first)))
        out.append(
            Measurement("hba1c", date.fromordinal(min(day, stop - 1)), round(rnd.gauss(38.0, 3.0)))
        )

    # eGFR: CKD twice a year in its stage's band; diabetes and hypertension once a year.
    if ckd_stage is not None or diabetic_from is not None or hypertensive_from is not None:
        low_high = {3: (30.0, 59.0), 4: (15.0, 29.0), 5: (5.0, 14.0)}
        for low, high in _yearly_windows(first, stop):
            readings = 2 if ckd_stage else 1
            for _ in range(readings):
                day = _weekday(low + int(rnd.random() * (high - low)))
                if ckd_stage:
                    lo, hi = low_high[ckd_stage]
                    value = round(rnd.uniform(lo, hi))
                else:
                    value = round(
                        min(120.0, max(60.0, rnd.gauss(95.0 - 0.45 * max(0.0, age - 30), 10.0)))
                    )
                out.append(Measurement("egfr", date.fromordinal(min(day, stop - 1)), value))

    if adult:
        # BMI now and then; smoking status recorded once for most adults.
        bmi = min(55.0, max(16.0, rnd.gauss(27.5 + (2.5 if diabetic_from else 0.0), 4.8)))
        for _ in range(_poisson(rnd, 0.35 * (stop - first) / 365.25)):
            day, appt = _appointment_near(appointments, first, stop, rnd)
            out.append(
                Measurement("bmi", date.fromordinal(day), round(rnd.gauss(bmi, 0.6), 1), None, appt)
            )
        if rnd.random() < 0.8:
            day, appt = _appointment_near(appointments, first, stop, rnd)
            out.append(
                Measurement(
                    "smoking_status",
                    date.fromordinal(day),
                    _smoking(person, onsets, age, rnd),
                    None,
                    appt,
                )
            )
    out.sort(key=lambda m: (m.day, m.kind))
    return tuple(out)


def _smoking(person: Person, onsets: dict[str, int], age: float, rnd: random.Random) -> str:
    if "copd" in onsets or "lung_cancer" in onsets:
        return "smoker" if rnd.random() < 0.35 else "ex_smoker" if rnd.random() < 0.9 else "never"
    decile = person.addresses[0].imd_decile
    smoker = 0.21 - 0.015 * (decile - 1)  # about 21% in the most deprived, 8% in the least
    ex = min(0.5, 0.1 + 0.005 * max(0.0, age - 18))
    pick = rnd.random()
    return "smoker" if pick < smoker else "ex_smoker" if pick < smoker + ex else "never"


# Medicines for each condition: (probability treated, ((medicine, weight), ...) alternatives,
# further medicines each with its own probability). Shares are order of magnitude from
# OpenPrescribing and NICE guidance (NG136 hypertension, NG28 diabetes, NG196 AF, NG106 heart
# failure, NG245 asthma, NG115 COPD, NG222 depression, NG97 dementia).
_SIMPLE_TREATMENTS: Final = {
    "type_1_diabetes": ((1.0, (("insulin_glargine", 1.0),)), ()),
    "asthma": ((0.9, (("salbutamol", 1.0),)), (("beclometasone", 0.6),)),
    "copd": ((0.9, (("salbutamol", 1.0),)), (("tiotropium", 0.55),)),
    "depression": (
        (0.5, (("sertraline", 0.45), ("citalopram", 0.25), ("fluoxetine", 0.15), ("mirtazapine", 0.15))),
        (),
    ),
    "schizophrenia": ((0.85, (("olanzapine", 0.45), ("aripiprazole", 0.35), ("quetiapine", 0.2))), ()),
    "bipolar_disorder": ((0.85, (("lithium", 0.45), ("quetiapine", 0.35), ("olanzapine", 0.2))), ()),
    "dementia": ((0.6, (("donepezil", 0.8), ("memantine", 0.2))), ()),
    "hypothyroidism": ((0.97, (("levothyroxine", 1.0),)), ()),
    "osteoporosis": ((0.6, (("alendronic_acid", 1.0),)), ()),
    "breast_cancer": ((0.4, (("letrozole", 1.0),)), ()),
    "heart_failure": (
        (0.8, (("bisoprolol", 1.0),)),
        (("ramipril", 0.7), ("furosemide", 0.75), ("spironolactone", 0.3), ("empagliflozin", 0.25)),
    ),
}  # fmt: skip
#: Medicines people stop during the period (share of courses that end), others continue.
_STOPS: Final = {"sertraline": 0.35, "citalopram": 0.35, "fluoxetine": 0.35, "mirtazapine": 0.35}


def _pick(rnd: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    pick = rnd.random() * sum(w for _, w in options)
    for medicine, weight in options:
        pick -= weight
        if pick < 0:
            return medicine
    return options[-1][0]


def _medications(
    person: Person, start: date, stop: int, onsets: dict[str, int], rnd: random.Random
) -> tuple[MedicationCourse, ...]:
    courses: dict[str, tuple[int, str]] = {}  # medicine -> (start day, reason)

    def give(medicine: str, day: int, reason: str) -> None:
        if day < stop and (medicine not in courses or courses[medicine][0] > day):
            courses[medicine] = (day, reason)

    def begin(condition: str) -> int:
        return onsets[condition] + rnd.randint(0, 60)

    for condition, ((p_treated, options), extras) in _SIMPLE_TREATMENTS.items():
        if condition in onsets and rnd.random() < p_treated:
            give(_pick(rnd, options), begin(condition), condition)
            for medicine, p in extras:
                if rnd.random() < p:
                    give(medicine, begin(condition), condition)

    if "hypertension" in onsets and rnd.random() < HYPERTENSION_TREATED:
        day = begin("hypertension")
        age = _age_years(person, day)
        if age < 55 and person.ethnicity not in _BLACK:
            first_line = "ramipril" if rnd.random() < 0.7 else "losartan"
            second = "amlodipine"
        else:
            first_line, second = "amlodipine", "ramipril"
        give(first_line, day, "hypertension")
        if rnd.random() < 0.4:
            give(second, day + rnd.randint(90, 720), "hypertension")
            if rnd.random() < 0.3:
                give("indapamide", day + rnd.randint(365, 1500), "hypertension")

    if "type_2_diabetes" in onsets:
        day = begin("type_2_diabetes")
        if rnd.random() < 0.85:
            give("metformin", day, "type_2_diabetes")
        if rnd.random() < 0.35:
            give(
                "empagliflozin" if rnd.random() < 0.6 else "gliclazide",
                day + rnd.randint(180, 1500),
                "type_2_diabetes",
            )
        if rnd.random() < 0.07:
            give("insulin_glargine", day + rnd.randint(700, 3000), "type_2_diabetes")

    anticoagulated = False
    if "atrial_fibrillation" in onsets:
        day = begin("atrial_fibrillation")
        score = cha2ds2_vasc(person, date.fromordinal(min(max(day, start.toordinal()), stop - 1)))
        p = (
            AF_ANTICOAGULATED_HIGH_RISK
            if score >= 2
            else 0.5
            if score == 1 and person.sex == "male"
            else 0.1
        )
        if rnd.random() < p:
            anticoagulated = True
            if rnd.random() < 0.65:
                low_dose = _age_years(person, day) >= 80 and rnd.random() < 0.35
                give("apixaban_low" if low_dose else "apixaban", day, "atrial_fibrillation")
            else:
                give("rivaroxaban", day, "atrial_fibrillation")
        if rnd.random() < 0.6:
            give("bisoprolol", day, "atrial_fibrillation")

    secondary = [
        c
        for c in ("ischaemic_heart_disease", "stroke", "tia", "peripheral_arterial_disease")
        if c in onsets
    ]
    if secondary:
        first_event = min(secondary, key=lambda c: onsets[c])
        if rnd.random() < 0.8:
            give("atorvastatin", begin(first_event), first_event)
        if not anticoagulated and rnd.random() < 0.75:
            medicine = "aspirin" if first_event == "ischaemic_heart_disease" else "clopidogrel"
            give(medicine, begin(first_event), first_event)
    else:
        for condition, p, min_age in (
            ("type_2_diabetes", 0.65, 40),
            ("ckd_stage_3", 0.5, 0),
            ("hypertension", 0.35, 55),
        ):
            if (
                condition in onsets
                and _age_years(person, onsets[condition]) >= min_age
                and rnd.random() < p
            ):
                give("atorvastatin", begin(condition), condition)
                break
    if (
        any(c in onsets for c in codes.CKD_3_TO_5)
        and "ramipril" not in courses
        and rnd.random() < 0.5
    ):
        condition = next(c for c in codes.CKD_3_TO_5 if c in onsets)
        give("ramipril", begin(condition), condition)

    result: list[MedicationCourse] = []
    start_ord = start.toordinal()
    for medicine, (day, reason) in sorted(courses.items(), key=lambda kv: (kv[1][0], kv[0])):
        end: date | None = None
        if rnd.random() < _STOPS.get(medicine, 0.05):
            stop_day = max(day, start_ord) + rnd.randint(60, 540)
            if stop_day < stop:
                end = date.fromordinal(stop_day)
        result.append(MedicationCourse(medicine, date.fromordinal(day), end, reason))
    return tuple(result)


def _vaccinations(
    person: Person, first: int, stop: int, onsets: dict[str, int], rnd: random.Random
) -> tuple[Vaccination, ...]:
    """Seasonal flu vaccination (UKHSA programme): 65 and over, clinical risk groups 18-64,
    children aged 2 and 3 at the GP (older children are vaccinated at school)."""
    out: list[Vaccination] = []
    first_year = date.fromordinal(first).year - 1
    last_year = date.fromordinal(stop - 1).year
    acceptor = rnd.random()
    for year in range(first_year, last_year + 1):
        season_start = date(year, 9, 1).toordinal()
        season_end = date(year, 12, 31).toordinal()
        if season_start < first or season_start >= stop:
            continue
        age = person.age_on(date(year, 8, 31))
        at_risk = any(c in _RISK_GROUP_CONDITIONS and o <= season_start for c, o in onsets.items())
        if age >= 65:
            uptake, vaccine = 0.78, codes.FLU_VACCINE_65_PLUS
        elif (18 <= age < 65 and at_risk) or 2 <= age <= 3:
            uptake, vaccine = 0.45, codes.FLU_VACCINE_UNDER_65
        else:
            continue
        # People tend to accept every year or not at all.
        p = 0.93 if acceptor < uptake else 0.05
        if rnd.random() < p:
            day = season_start + 14 + min(int(rnd.expovariate(1 / 25.0)), 100)
            day = _weekday(min(day, season_end))
            if day < stop:
                out.append(Vaccination(date.fromordinal(day), vaccine))
    return tuple(out)


__all__ = [
    "Appointment",
    "GpRecord",
    "LatentHealth",
    "Measurement",
    "MedicationCourse",
    "Vaccination",
    "cha2ds2_vasc",
    "draw_diagnoses",
    "draw_gp_record",
    "normal_upper_tail",
    "prevalence",
]
