"""Hospital, community, mental-health and social-care activity for one chunk of people.

:func:`simulate_activity` turns a chunk's people into what happened to them over the
period: A&E attendances, emergency and elective hospital stays (with ward transfers,
discharge-to-assess pathways, deaths and readmissions), referral-to-treatment pathways,
urgent suspected cancer referrals, community and mental-health contacts, and adult social
care assessments and packages. It holds no partner's identifiers or file formats: those are
:mod:`joinedup.synthetic.partner_feeds`' business.

Every count, time and attribute is drawn with numpy, vectorised over the chunk, from one
random stream per process (:class:`Stream`), derived from ``(seed, chunk, stream)``. Only the
hospital-stay pass (overlaps, deaths, readmissions) loops in Python, over the few people who
were admitted. Times are whole minutes from the start of the period, UK wall-clock time.

The rates are tuned on Cornwall's age structure to the published orders of magnitude (see
``docs/synthetic-partner-feeds.md`` for each and its source).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import IntEnum
from typing import Final

import numpy as np
import numpy.typing as npt

from joinedup.directory.model import Directory, OrganisationKind
from joinedup.synthetic.model import Person

__all__ = [
    "DAY",
    "ICS_LEVEL",
    "SPECIALTIES",
    "Activity",
    "AeAttendance",
    "CancerReferral",
    "CarePackage",
    "Contact",
    "HospitalStay",
    "Partners",
    "RttPathway",
    "SocialCareAssessment",
    "Stream",
    "WardStay",
    "council_for",
    "partners_of",
    "random_stream",
    "simulate_activity",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

DAY: Final = 1440  # minutes
_NEVER: Final = 10**9  # a minute (or day) after any period


class Stream(IntEnum):
    """One random stream per stochastic process: changing one leaves the others as they were."""

    AE = 1
    ADMISSIONS = 2
    RTT = 3
    CANCER = 4
    COMMUNITY = 5
    MENTAL_HEALTH = 6
    SOCIAL_CARE = 7
    RECORDS = 8  # duplicate hospital numbers, ADT corrections, missing NHS numbers
    COUNCIL_ERRORS = 9  # the council's typos, name variants and old addresses
    FINANCE = 10
    DIAGNOSTICS = 11


#: The chunk slot for streams that belong to the whole ICS (the finance ledger).
ICS_LEVEL: Final = 2**32 - 1


def random_stream(seed: int, chunk: int, stream: Stream) -> np.random.Generator:
    """The random stream ``stream`` of ``chunk`` under ``seed`` (independent of every other)."""
    return np.random.default_rng([seed, chunk, int(stream)])


# --- the partners ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Partners:
    """Who provides what, from the directory (with Cornwall's codes where it has none)."""

    acute: str
    community: str
    ambulance: str
    icb: str
    councils: tuple[str, ...]  # the first is the default council
    council_places: dict[str, str]  # place name -> council ODS code, for councils of one place
    care_homes: tuple[str, ...]
    ed_site: str
    urgent_care_sites: dict[str, tuple[tuple[str, str], ...]]  # area -> ((service id, provider))
    community_teams: dict[str, dict[str, str]]  # service type -> area -> service id


def partners_of(directory: Directory) -> Partners:
    """The partners and sites the simulation needs, read from ``directory``."""

    def first(kind: OrganisationKind, default: str) -> str:
        found = directory.organisations_of_kind(kind)
        return found[0].ods_code if found else default

    councils = directory.organisations_of_kind(OrganisationKind.LOCAL_AUTHORITY)
    acute = first(OrganisationKind.ACUTE_TRUST, "REF")
    ed_site = "ed"
    urgent: dict[str, list[tuple[str, str]]] = {a.code: [] for a in directory.areas}
    teams: dict[str, dict[str, str]] = {}
    for service in directory.services:
        if service.type == "emergency_department" and service.provider == acute:
            ed_site = service.id
        if service.type in ("urgent_treatment_centre", "minor_injury_unit"):
            for area in service.areas:
                urgent.setdefault(area, []).append((service.id, service.provider))
        for area in service.areas:
            teams.setdefault(service.type, {}).setdefault(area, service.id)
    return Partners(
        acute=acute,
        community=first(OrganisationKind.COMMUNITY_AND_MENTAL_HEALTH_TRUST, "RJ8"),
        ambulance=first(OrganisationKind.AMBULANCE_TRUST, "RYF"),
        icb=directory.icb,
        councils=tuple(c.ods_code for c in councils) or ("ZLA01",),
        council_places={c.place: c.ods_code for c in councils if c.place is not None},
        care_homes=tuple(
            c.ods_code for c in directory.organisations_of_kind(OrganisationKind.CARE_HOME)
        ),
        ed_site=ed_site,
        urgent_care_sites={a: tuple(s) for a, s in urgent.items() if s},
        community_teams=teams,
    )


# --- what happened ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AeAttendance:
    """One A&E attendance (ECDS-like). ``person`` is the position in the chunk's people."""

    id: str
    person: int
    provider: str  # ODS code of the trust running the department
    site: str  # the directory service id of the department
    department_type: int  # 1 = consultant-led 24-hour ED; 3 = UTC / minor injury unit
    arrival: int  # minute of the period
    departure: int
    ambulance: bool
    outcome: str  # discharged | admitted | referred | transferred


@dataclass(frozen=True, slots=True)
class WardStay:
    """A stretch of a hospital stay on one ward, from minute ``start``."""

    ward: str
    bed: str
    start: int


@dataclass(frozen=True, slots=True)
class HospitalStay:
    """An inpatient or day-case spell at the acute trust."""

    id: str
    person: int
    elective: bool
    day_case: bool
    admission_method: str  # NHS Data Dictionary ADMISSION METHOD: 11, 12, 21, 22, ...
    admission_source: str  # NHS Data Dictionary SOURCE OF ADMISSION: 19 usual residence, ...
    specialty: str  # treatment function code
    decided: int  # minute the admission was booked (electives; = admitted for emergencies)
    admitted: int
    discharged: int  # may be after the period: still in hospital at its end
    wards: tuple[WardStay, ...]
    died: bool
    destination: str  # NHS Data Dictionary DISCHARGE DESTINATION (79 = died)
    d2a_pathway: int | None  # discharge to assess 0-3 (adults discharged alive from a bed)
    ready: int | None  # minute clinically ready for discharge, when the discharge was delayed
    readmission: bool  # an emergency readmission within 30 days of a discharge
    attendance: str | None  # the A&E attendance it came through


@dataclass(frozen=True, slots=True)
class DiagnosticTest:
    """A request for one of the diagnostic tests on NHS England's DM01 waiting list (days of
    the period; ``performed`` is None while the person is still waiting)."""

    id: str
    person: int
    test: str  # DM01 test name
    requested: int
    performed: int | None


@dataclass(frozen=True, slots=True)
class RttPathway:
    """A consultant-led referral-to-treatment pathway (the clock in days of the period)."""

    id: str
    person: int
    specialty: str
    priority: str  # routine | urgent
    referrer: str  # ODS code of the referring GP practice ("" if none)
    clock_start: int  # day of the period (negative: before it)
    clock_stop: int | None  # None: still waiting at the period's end
    stop_reason: str  # RTT period status code at the stop (30, 34, 35, 36), "" if open


@dataclass(frozen=True, slots=True)
class CancerReferral:
    """An urgent suspected cancer referral and its Faster Diagnosis / 31 / 62-day milestones."""

    id: str
    person: int
    suspected: str  # suspected cancer type
    referrer: str
    received: int  # day of the period
    first_seen: int | None
    diagnosis_told: int | None  # diagnosis communicated or cancer ruled out (FDS end)
    confirmed: bool
    icd10: str  # primary diagnosis if confirmed
    decision_to_treat: int | None
    first_treatment: int | None
    modality: str


@dataclass(frozen=True, slots=True)
class Contact:
    """A community or mental-health care contact."""

    id: str
    person: int
    service: str  # the directory service id of the team
    service_type: str
    referral: str
    referred: int  # minute
    start: int  # minute
    minutes: int
    location: str  # home | clinic | care home | hospital | community venue
    medium: str  # face to face | telephone | video
    attendance: str  # attended | did not attend | cancelled by patient


@dataclass(frozen=True, slots=True)
class SocialCareAssessment:
    """A council adult social care assessment or review."""

    id: str
    person: int
    council: str
    kind: str  # needs assessment | review
    source: str  # hospital | GP | self | family | community health
    started: int  # day of the period
    completed: int
    outcome: str
    support_reason: str


@dataclass(frozen=True, slots=True)
class CarePackage:
    """A package of adult social care (``start`` may be before the period)."""

    id: str
    person: int
    council: str
    service: str  # home care | reablement | residential care | nursing care
    provider: str
    start: int  # day of the period
    end: int | None  # None: still in place at the period's end
    hours_per_week: float
    weekly_cost: int  # pounds
    end_reason: str


@dataclass
class Activity:
    """Everything that happened to a chunk's people in the period, each list in time order."""

    start: date
    end: date
    attendances: list[AeAttendance] = field(default_factory=list)
    stays: list[HospitalStay] = field(default_factory=list)
    rtt: list[RttPathway] = field(default_factory=list)
    diagnostics: list[DiagnosticTest] = field(default_factory=list)
    cancer: list[CancerReferral] = field(default_factory=list)
    community: list[Contact] = field(default_factory=list)
    mental_health: list[Contact] = field(default_factory=list)
    assessments: list[SocialCareAssessment] = field(default_factory=list)
    packages: list[CarePackage] = field(default_factory=list)
    death_minute: dict[int, int] = field(default_factory=dict)  # person -> minute of death


# --- the people as arrays --------------------------------------------------------------------

# Condition keys as health.py spells them, and as the brief to it did: accept both.
_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "diabetes": ("type_1_diabetes", "type_2_diabetes", "diabetes_type_1", "diabetes_type_2"),
    "copd": ("copd",),
    "asthma": ("asthma",),
    "heart_failure": ("heart_failure",),
    "af": ("atrial_fibrillation",),
    "ihd": ("ischaemic_heart_disease",),
    "ckd": ("ckd_stage_3", "ckd_stage_4", "ckd_stage_5", "ckd_3", "ckd_4", "ckd_5"),
    "depression": ("depression",),
    "smi": ("schizophrenia", "bipolar_disorder", "bipolar"),
    "dementia": ("dementia",),
    "stroke": ("stroke", "tia"),
    "housebound": ("housebound",),
    "falls": ("falls",),
}
_CANCERS: Final[dict[str, str]] = {
    "breast_cancer": "breast",
    "cancer_breast": "breast",
    "prostate_cancer": "prostate",
    "cancer_prostate": "prostate",
    "colon_cancer": "colon",
    "cancer_colon": "colon",
    "lung_cancer": "lung",
    "cancer_lung": "lung",
}


@dataclass
class _Cohort:
    """The chunk's people as numpy arrays, for vectorised draws."""

    days: int
    age0: Floats  # age in years at the period start (negative: born during it)
    female: Bools
    frailty: Floats
    imd: Ints
    lo: Ints  # first day at risk (birth or the period start)
    hi: Ints  # day after the last day at risk (death or the period end)
    n_ltc: Ints
    flags: dict[str, Bools]
    area: list[str]
    town: list[str]
    practice: list[str]
    cancer_onset: list[tuple[int, str] | None]
    dementia_onset: Ints


def _cohort(people: Sequence[Person], start: date, end: date) -> _Cohort:
    n = len(people)
    days = (end - start).days
    birth = np.array([(p.birth_date - start).days for p in people], dtype=np.int64)
    death = np.array(
        [(p.death_date - start).days if p.death_date else _NEVER for p in people], dtype=np.int64
    )
    flags = {g: np.zeros(n, dtype=np.bool_) for g in _GROUPS}
    key_group = {key: g for g, keys in _GROUPS.items() for key in keys}
    n_ltc = np.zeros(n, dtype=np.int64)
    cancer_onset: list[tuple[int, str] | None] = [None] * n
    dementia_onset = np.full(n, _NEVER, dtype=np.int64)
    for i, person in enumerate(people):
        count = 0
        for diagnosis in person.diagnoses:
            if diagnosis.onset >= end:
                continue
            count += 1
            group = key_group.get(diagnosis.condition)
            if group is not None:
                flags[group][i] = True
                if group == "dementia":
                    dementia_onset[i] = (diagnosis.onset - start).days
            site = _CANCERS.get(diagnosis.condition)
            if site is not None and diagnosis.onset >= start:
                cancer_onset[i] = ((diagnosis.onset - start).days, site)
        n_ltc[i] = count
    return _Cohort(
        days=days,
        age0=-birth / 365.25,
        female=np.array([p.sex == "female" for p in people], dtype=np.bool_),
        frailty=np.array([p.frailty for p in people], dtype=np.float64),
        imd=np.array([p.address_on(start).imd_decile for p in people], dtype=np.int64),
        lo=np.clip(birth, 0, days),
        hi=np.clip(death, 0, days),
        n_ltc=n_ltc,
        flags=flags,
        area=[p.area for p in people],
        town=[p.address_on(start).town for p in people],
        practice=[_practice_on(p, start) for p in people],
        cancer_onset=cancer_onset,
        dementia_onset=dementia_onset,
    )


def _practice_on(person: Person, day: date) -> str:
    current = ""
    for registration in person.registrations:
        if registration.start <= day or not current:
            current = registration.practice
    return current


def _seasonal_weights(start: date, days: int, by_month: Sequence[float]) -> Floats:
    """Cumulative day weights (length days + 1) from a month profile (Jan..Dec) and the weekday."""
    weekday = (1.12, 1.0, 0.98, 0.97, 0.98, 0.96, 0.99)  # Mondays are the busiest
    weights = np.empty(days, dtype=np.float64)
    for d in range(days):
        day = start + timedelta(days=d)
        weights[d] = by_month[day.month - 1] * weekday[day.weekday()]
    cumulative = np.zeros(days + 1, dtype=np.float64)
    np.cumsum(weights, out=cumulative[1:])
    return cumulative


def _draw_days(rng: np.random.Generator, lo: Ints, hi: Ints, cumulative: Floats) -> Ints:
    """A day in [lo, hi) for each event, with the probability of each day from ``cumulative``."""
    u = cumulative[lo] + rng.random(len(lo)) * (cumulative[hi] - cumulative[lo])
    days = np.searchsorted(cumulative, u, side="right").astype(np.int64) - 1
    return np.clip(days, lo, np.maximum(hi - 1, lo))


def _counts(rng: np.random.Generator, rate_per_year: Floats, lo: Ints, hi: Ints) -> Ints:
    """Poisson counts over each person's time at risk, with gamma heterogeneity (shape 2).

    The gamma term makes a few people frequent users, as in real A&E and admission data.
    """
    years = np.maximum(hi - lo, 0) / 365.25
    heterogeneity = rng.gamma(2.0, 0.5, len(rate_per_year))
    counts: Ints = rng.poisson(rate_per_year * heterogeneity * years).astype(np.int64)
    return counts


def _hours(rng: np.random.Generator, profile: Sequence[float], size: int) -> Ints:
    p = np.asarray(profile, dtype=np.float64)
    return rng.choice(24, size=size, p=p / p.sum()).astype(np.int64)


def _step(age: Floats, points: Sequence[tuple[float, float]]) -> Floats:
    """A piecewise-linear curve through ``points`` (age, value), flat beyond the ends."""
    xs, ys = zip(*points, strict=True)
    curve: Floats = np.interp(age, xs, ys)
    return curve


def _ids(prefix: str, chunk: int, count: int) -> list[str]:
    return [f"{prefix}{chunk:05d}{k:06d}" for k in range(count)]


# --- A&E ------------------------------------------------------------------------------------

# Arrivals by hour (ECDS national pattern: quiet at 4-6am, peak late morning, busy evenings).
_ED_HOURS: Final = (
    1.6,
    1.3,
    1.1,
    0.9,
    0.8,
    0.8,
    1.0,
    1.8,
    3.5,
    5.6,
    6.5,
    6.6,
    6.3,
    6.0,
    5.9,
    5.8,
    5.6,
    5.5,
    5.3,
    5.1,
    4.6,
    3.9,
    3.2,
    2.4,
)
# Minor injury units and urgent treatment centres: mostly 8am to 10pm.
_UTC_HOURS: Final = (
    0.2,
    0.1,
    0.1,
    0.1,
    0.1,
    0.1,
    0.3,
    1.5,
    6.5,
    9.0,
    9.0,
    8.5,
    8.0,
    7.8,
    7.5,
    7.2,
    6.8,
    6.5,
    6.0,
    5.2,
    4.0,
    2.5,
    0.8,
    0.3,
)
# Month profile (Jan..Dec) of residents' attendances: a winter and a summer-injury bump.
_AE_MONTHS: Final = (1.04, 0.97, 1.0, 0.98, 1.02, 1.02, 1.08, 1.1, 1.0, 0.98, 0.97, 1.04)
# Type 1 share of 4-hour breaches by month (Jan..Dec): worst in winter (NHS England A&E
# statistics, Royal Cornwall Hospitals 2016-19 in ../data/nhsr, and the 2023-25 trend).
_T1_BREACH_BY_MONTH: Final = (0.6, 0.56, 0.53, 0.46, 0.44, 0.43, 0.46, 0.48, 0.46, 0.48, 0.52, 0.6)
# Attendances a year per person by age, all types (before frailty and deprivation); tuned
# to about 0.35 a year on Cornwall's age structure (about 200,000 for 572,000 people).
_AE_RATE_BY_AGE: Final = (
    (0, 0.42),
    (5, 0.27),
    (16, 0.3),
    (25, 0.24),
    (45, 0.19),
    (65, 0.22),
    (75, 0.3),
    (85, 0.42),
    (95, 0.5),
)


def _attendances(
    rng: np.random.Generator,
    cohort: _Cohort,
    partners: Partners,
    start: date,
    chunk: int,
    extra: tuple[Ints, Ints] | None = None,
) -> tuple[list[AeAttendance], Bools, Floats]:
    """A&E attendances; returns them, whether each leads to admission, and the age at each."""
    rate = (
        _step(cohort.age0, _AE_RATE_BY_AGE)
        * (1.0 + 0.05 * (5.5 - cohort.imd))  # more in deprived areas
        * (1.0 + 2.0 * cohort.frailty)
        * (1.0 + 0.06 * np.minimum(cohort.n_ltc, 8))
    )
    counts = _counts(rng, rate, cohort.lo, cohort.hi)
    who = np.repeat(np.arange(len(rate), dtype=np.int64), counts)
    days = _draw_days(
        rng, cohort.lo[who], cohort.hi[who], _seasonal_weights(start, cohort.days, _AE_MONTHS)
    )
    n = len(who)
    age = cohort.age0[who] + days / 365.25
    frailty = cohort.frailty[who]
    # Older and frailer people go to the ED; most children and young adults' injuries go to
    # urgent treatment centres and minor injury units (type 1 about a third of all).
    p_type1 = np.clip(0.16 + 0.004 * np.maximum(age - 30, 0) + 0.6 * frailty, 0.1, 0.88)
    type1 = rng.random(n) < p_type1
    hours = np.where(type1, _hours(rng, _ED_HOURS, n), _hours(rng, _UTC_HOURS, n))
    arrival = days * DAY + hours * 60 + rng.integers(0, 60, n)
    p_ambulance = np.where(
        type1, np.clip(0.1 + 0.006 * np.maximum(age - 40, 0) + 0.4 * frailty, 0, 0.85), 0.01
    )
    ambulance = rng.random(n) < p_ambulance
    p_admit = np.where(
        type1,
        np.clip(0.04 + 0.0038 * np.maximum(age - 20, 0) + 0.4 * frailty + 0.1 * ambulance, 0, 0.9),
        0.0,
    )
    u = rng.random(n)
    admitted = u < p_admit
    # Of the rest: referred on (clinic, GP, other service), transferred (type 3 to the ED).
    rest = (u - p_admit) / np.maximum(1 - p_admit, 1e-9)
    transferred = ~admitted & (rest < np.where(type1, 0.015, 0.035))
    referred = ~admitted & ~transferred & (rest < np.where(type1, 0.135, 0.115))
    outcome = np.where(
        admitted,
        "admitted",
        np.where(transferred, "transferred", np.where(referred, "referred", "discharged")),
    )
    months = np.array([(start + timedelta(days=int(d))).month - 1 for d in days], dtype=np.int64)
    breach_t1 = np.asarray(_T1_BREACH_BY_MONTH)[months] + 0.2 * admitted - 0.15 * (age < 16)
    winter = np.isin(months, (0, 1, 11))
    p_breach = np.where(type1, np.clip(breach_t1, 0.02, 0.97), np.where(winter, 0.1, 0.07))
    breach = rng.random(n) < p_breach
    within = np.where(
        type1, 20 + 219 * rng.beta(2.4, 1.2, n), 10 + 229 * rng.beta(1.5, 3.0, n)
    ).astype(np.int64)
    # Breaches: a long tail, longest for people waiting for a bed (12-hour waits happen).
    over = 240 + rng.lognormal(np.log(np.where(admitted, 240.0, 80.0)), 0.85, n)
    duration = np.where(breach, np.minimum(over, 2880), within).astype(np.int64)

    ids = _ids("AE", chunk, n)
    result: list[AeAttendance] = []
    fallback = ((partners.ed_site, partners.acute),)
    site_pick = rng.random(n)
    for k in range(n):
        p = int(who[k])
        if type1[k]:
            site, provider = partners.ed_site, partners.acute
        else:
            sites = partners.urgent_care_sites.get(cohort.area[p], fallback)
            site, provider = sites[int(site_pick[k] * len(sites))]
        result.append(
            AeAttendance(
                id=ids[k],
                person=p,
                provider=provider,
                site=site,
                department_type=1 if type1[k] else 3,
                arrival=int(arrival[k]),
                departure=int(arrival[k] + duration[k]),
                ambulance=bool(ambulance[k]),
                outcome=str(outcome[k]),
            )
        )
    return result, admitted, age


# --- hospital stays ---------------------------------------------------------------------------

_ASSESSMENT_WARDS: Final = ("AMU", "SAU")  # acute medical / surgical assessment units
_MEDICAL_WARDS: Final = ("CARNKIE", "PHOENIX", "WELLINGTON", "KERENSA", "LOWEN", "ROSKEAR")
_ELDERLY_WARDS: Final = ("WHEAL AGAR", "WHEAL COATES", "TRELAWNY")
_SURGICAL_WARDS: Final = ("PENDENNIS", "ST MAWES", "TINTAGEL", "GRENVILLE")
_CHILDREN_WARD: Final = "POLKERRIS"
_DAY_UNIT: Final = "DSU"
# Treatment function codes and names (NHS Data Dictionary TREATMENT FUNCTION CODE).
SPECIALTIES: Final[dict[str, str]] = {
    "100": "General Surgery",
    "101": "Urology",
    "110": "Trauma and Orthopaedics",
    "120": "Ear Nose and Throat",
    "130": "Ophthalmology",
    "140": "Oral Surgery",
    "300": "General Internal Medicine",
    "301": "Gastroenterology",
    "320": "Cardiology",
    "330": "Dermatology",
    "340": "Respiratory Medicine",
    "400": "Neurology",
    "410": "Rheumatology",
    "420": "Paediatrics",
    "430": "Elderly Medicine",
    "502": "Gynaecology",
    "503": "Gynaecological Oncology",
}
# Elective specialties and their share of referrals; median wait in weeks.
_RTT_SPECIALTIES: Final = (
    ("110", 0.15, 17.0),
    ("130", 0.12, 15.0),
    ("120", 0.08, 16.0),
    ("100", 0.1, 13.0),
    ("101", 0.07, 12.0),
    ("301", 0.07, 11.0),
    ("320", 0.07, 10.0),
    ("330", 0.07, 12.0),
    ("502", 0.07, 14.0),
    ("340", 0.04, 10.0),
    ("400", 0.04, 15.0),
    ("410", 0.04, 13.0),
    ("140", 0.05, 18.0),
    ("300", 0.03, 8.0),
)
# Day-case share of admitted RTT treatment by specialty (cataracts, endoscopy: mostly day).
_DAY_CASE_SHARE: Final = {"130": 0.97, "301": 0.95, "330": 0.95, "140": 0.9, "120": 0.7}


@dataclass
class _Spell:
    """A candidate stay before the per-person pass settles overlaps and deaths."""

    person: int
    admitted: int
    los: int  # minutes
    elective: bool
    day_case: bool
    method: str
    specialty: str
    decided: int
    attendance: str | None
    template: int  # row of the spell-template arrays
    terminal: bool = False
    readmission: bool = False


@dataclass
class _Templates:
    """Pre-drawn attributes for emergency spells (drawn vectorised, used in the pass)."""

    los: Ints
    first_move: Floats  # fraction of the stay before leaving the assessment unit
    second_move: Floats
    moves: Ints
    ward_pick: Floats
    bed: Ints
    pathway_u: Floats
    delay_u: Floats  # how long a discharge waits once the person is ready (pathways 1-3)
    readmit_u: Floats
    gap: Ints  # minutes from discharge to the readmission
    ed_minutes: Ints


def _emergency_los(rng: np.random.Generator, age: Floats, frailty: Floats) -> Ints:
    """Length of stay in minutes: a third same-day, the rest log-normal, longer when old and frail."""
    n = len(age)
    same_day = rng.random(n) < np.clip(
        0.38 - 0.004 * np.maximum(age - 50, 0) - 0.4 * frailty, 0.08, 0.45
    )
    median_days = 1.6 * (1 + 0.035 * np.maximum(age - 50, 0)) * (1 + 2.5 * frailty)
    days = np.maximum(rng.lognormal(np.log(median_days), 0.95, n), 0.6)
    hours_same_day = rng.uniform(2, 11, n)
    return np.where(same_day, hours_same_day * 60, np.minimum(days, 180) * DAY).astype(np.int64)


def _templates(rng: np.random.Generator, age: Floats, frailty: Floats) -> _Templates:
    n = len(age)
    return _Templates(
        los=_emergency_los(rng, age, frailty),
        first_move=rng.uniform(0.08, 0.4, n),
        second_move=rng.uniform(0.45, 0.8, n),
        moves=rng.choice(3, size=n, p=(0.3, 0.55, 0.15)).astype(np.int64),
        ward_pick=rng.random(n),
        bed=rng.integers(1, 29, n).astype(np.int64),
        pathway_u=rng.random(n),
        delay_u=rng.random(n),
        readmit_u=rng.random(n),
        gap=(rng.exponential(8.0, n) * DAY + rng.integers(0, DAY, n)).astype(np.int64),
        ed_minutes=(240 + rng.lognormal(np.log(200.0), 0.8, n)).astype(np.int64),
    )


#: Mean days a discharge waits once the person is ready, by discharge-to-assess pathway
#: (order of magnitude from NHS England's discharge delays statistics, 2024: short for home
#: with support, longest for a new care-home placement; pathway 0 rarely waits).
_DISCHARGE_DELAY_DAYS: Final = {0: 0.3, 1: 1.5, 2: 4.0, 3: 8.0}
#: Share of each pathway's discharges that wait at all.
_DISCHARGE_DELAYED: Final = {0: 0.05, 1: 0.45, 2: 0.8, 3: 0.9}


def _discharge_ready(admitted: int, discharged: int, pathway: int | None, u: float) -> int | None:
    """The minute a person was ready to leave, when their discharge then waited (for home
    care, reablement, a community bed or a care home): at least a day into the stay."""
    if pathway is None or u >= _DISCHARGE_DELAYED[pathway]:
        return None
    # Exponential waits from the one uniform: -mean x log(1 - u / share).
    wait = -_DISCHARGE_DELAY_DAYS[pathway] * math.log(1.0 - u / _DISCHARGE_DELAYED[pathway])
    ready = discharged - int(max(wait, 0.25) * DAY)
    return ready if ready >= admitted + DAY else None


def _d2a_pathway(age: float, frailty: float, dementia: bool, u: float) -> int:
    """Discharge-to-assess pathway, rising with need (mix about 50/45/4/1 on adults)."""
    need = 4.0 * frailty + max(age - 65.0, 0.0) / 15.0
    weights = (
        1.0,
        0.42 * np.exp(0.55 * need),
        0.02 * np.exp(0.9 * need),
        0.0032 * np.exp(1.15 * need + (1.2 if dementia else 0.0)),
    )
    total = sum(weights)
    threshold = u * total
    running = 0.0
    for pathway, weight in enumerate(weights):
        running += weight
        if threshold < running:
            return pathway
    return 3


def _emergency_specialty(age: float, u: float) -> str:
    if age < 16:
        return "420"
    if age >= 75 and u < 0.5:
        return "430"
    for code, share in (("300", 0.45), ("100", 0.2), ("110", 0.12), ("320", 0.08), ("340", 0.08)):
        u -= share
        if u < 0:
            return code
    return "301"


def _ward_path(spell: _Spell, t: _Templates, age: float, discharged: int) -> tuple[WardStay, ...]:
    k = spell.template
    bed = f"B{int(t.bed[k]):02d}"
    if spell.day_case:
        return (WardStay(_DAY_UNIT, bed, spell.admitted),)
    if spell.elective:
        wards = _SURGICAL_WARDS if spell.specialty not in ("300", "320", "340") else _MEDICAL_WARDS
        return (WardStay(wards[int(t.ward_pick[k] * len(wards))], bed, spell.admitted),)
    if age < 16:
        return (WardStay(_CHILDREN_WARD, bed, spell.admitted),)
    surgical = spell.specialty in ("100", "110", "101")
    first = _ASSESSMENT_WARDS[1 if surgical else 0]
    stays = [WardStay(first, bed, spell.admitted)]
    length = discharged - spell.admitted
    if length < DAY or t.moves[k] == 0:
        return tuple(stays)
    base = _SURGICAL_WARDS if surgical else _MEDICAL_WARDS
    stays.append(
        WardStay(
            base[int(t.ward_pick[k] * len(base))],
            f"B{(int(t.bed[k]) * 7) % 28 + 1:02d}",
            spell.admitted + int(length * t.first_move[k]),
        )
    )
    if t.moves[k] == 2 and length >= 7 * DAY:
        # Long stays of older people often end on a care-of-the-elderly or rehab ward.
        last = _ELDERLY_WARDS if age >= 70 else base
        stays.append(
            WardStay(
                last[int(t.ward_pick[k] * 97) % len(last)],
                f"B{(int(t.bed[k]) * 11) % 28 + 1:02d}",
                spell.admitted + int(length * t.second_move[k]),
            )
        )
    return tuple(stays)


def _hospital_stays(
    rng: np.random.Generator,
    cohort: _Cohort,
    partners: Partners,
    attendances: list[AeAttendance],
    admitted: Bools,
    attendance_age: Floats,
    electives: list[tuple[int, int, str]],
    chunk: int,
) -> tuple[list[HospitalStay], list[AeAttendance], dict[int, int]]:
    """Settle each person's stays in time order: no overlaps, deaths, readmissions.

    Returns the stays, the attendances (some added for readmissions and deaths, some dropped
    because the person was in hospital) and the minute of each death in the period.
    """
    n_people = len(cohort.age0)
    days = cohort.days
    # Deaths in the period: about 45% in hospital (ONS place of death, England).
    death_minute: dict[int, int] = {}
    dying = np.flatnonzero(cohort.hi < days)
    death_time = rng.integers(0, DAY, len(dying))
    dies_in_hospital = rng.random(len(dying)) < 0.45
    for j, p in enumerate(dying.tolist()):
        death_minute[int(p)] = int(cohort.hi[p]) * DAY + int(death_time[j])

    # Direct emergency admissions (GP, bed bureau, clinic): about a quarter of emergencies.
    direct_rate = _step(cohort.age0, ((0, 0.01), (40, 0.008), (65, 0.02), (85, 0.05))) * (
        1 + 2 * cohort.frailty
    )
    direct_counts = _counts(rng, direct_rate, cohort.lo, cohort.hi)
    direct_who = np.repeat(np.arange(n_people, dtype=np.int64), direct_counts)
    direct_day = cohort.lo[direct_who] + (
        rng.random(len(direct_who)) * (cohort.hi[direct_who] - cohort.lo[direct_who])
    ).astype(np.int64)
    direct_minute = direct_day * DAY + rng.integers(10 * 60, 20 * 60, len(direct_who))

    spells: list[_Spell] = []
    from_ae = np.flatnonzero(admitted)
    n_candidates = len(from_ae) + len(direct_who) + len(electives) + len(dying)
    # Twice as many templates as candidates: the second half serves their readmissions.
    ages = np.concatenate(
        [
            attendance_age[from_ae],
            cohort.age0[direct_who] + direct_day / 365.25,
            np.array([cohort.age0[p] + d / 365.25 for p, d, _ in electives], dtype=np.float64),
            cohort.age0[dying] + cohort.hi[dying] / 365.25,
        ]
    )
    who_all = np.concatenate(
        [
            np.array([attendances[int(k)].person for k in from_ae], dtype=np.int64),
            direct_who,
            np.array([p for p, _, _ in electives], dtype=np.int64),
            dying,
        ]
    )
    both_ages = np.concatenate([ages, ages])
    both_frailty = np.concatenate([cohort.frailty[who_all], cohort.frailty[who_all]])
    t = _templates(rng, both_ages, both_frailty)
    specialty_u = rng.random(n_candidates)
    elective_los = (np.maximum(rng.lognormal(np.log(2.5), 0.7, max(len(electives), 1)), 1)).astype(
        np.int64
    )
    day_case_u = rng.random(max(len(electives), 1))
    elective_hour = rng.integers(7 * 60, 13 * 60, max(len(electives), 1))
    booked_ahead = rng.integers(7, 43, max(len(electives), 1))
    # Day cases go home the same afternoon; others after their nights, late morning onwards.
    day_case_minutes = rng.integers(3 * 60, 9 * 60, max(len(electives), 1))
    going_home = rng.integers(3 * 60, 8 * 60, max(len(electives), 1))

    row = 0
    for index in from_ae.tolist():
        a = attendances[index]
        spells.append(
            _Spell(
                person=a.person,
                admitted=a.departure,
                los=int(t.los[row]),
                elective=False,
                day_case=False,
                method="21",
                specialty=_emergency_specialty(float(ages[row]), float(specialty_u[row])),
                decided=a.departure,
                attendance=a.id,
                template=row,
            )
        )
        row += 1
    for j in range(len(direct_who)):
        spells.append(
            _Spell(
                person=int(direct_who[j]),
                admitted=int(direct_minute[j]),
                los=int(t.los[row]),
                elective=False,
                day_case=False,
                method="22" if specialty_u[row] < 0.7 else "23",
                specialty=_emergency_specialty(float(ages[row]), float(specialty_u[row])),
                decided=int(direct_minute[j]),
                attendance=None,
                template=row,
            )
        )
        row += 1
    for j, (p, day, specialty) in enumerate(electives):
        day_case = day_case_u[j] < _DAY_CASE_SHARE.get(specialty, 0.55)
        admit = day * DAY + int(elective_hour[j])
        los = (
            int(day_case_minutes[j])
            if day_case
            else int(elective_los[j]) * DAY + int(going_home[j])
        )
        spells.append(
            _Spell(
                person=p,
                admitted=admit,
                los=los,
                elective=True,
                day_case=day_case,
                method="11" if j % 5 else "12",
                specialty=specialty,
                decided=admit - int(booked_ahead[j]) * DAY,
                attendance=None,
                template=row,
            )
        )
        row += 1
    for j, p in enumerate(dying.tolist()):
        if not dies_in_hospital[j]:
            row += 1
            continue
        death = death_minute[int(p)]
        los = max(int(t.los[row]), 6 * 60)
        spells.append(
            _Spell(
                person=int(p),
                admitted=death - los,
                los=los,
                elective=False,
                day_case=False,
                method="21",
                specialty=_emergency_specialty(float(ages[row]), float(specialty_u[row])),
                decided=death - los,
                attendance=None,
                template=row,
                terminal=True,
            )
        )
        row += 1

    by_person: dict[int, list[tuple[int, int, _Spell]]] = {}
    for order, spell in enumerate(spells):
        by_person.setdefault(spell.person, []).append((spell.admitted, order, spell))

    # Attendances that fall inside a stay are dropped; readmissions add new ones.
    attendance_by_id = {a.id: a for a in attendances}
    dropped_attendances: set[str] = set()
    added_attendances: list[AeAttendance] = []
    stays: list[tuple[int, int, HospitalStay]] = []
    stay_counter = 0
    readmission_ids = _ids("AR", chunk, len(spells))
    stay_ids = _ids("SP", chunk, 2 * len(spells) + 1)
    readmit_row = n_candidates
    attendances_by_person: dict[int, list[AeAttendance]] = {}
    for a in attendances:
        attendances_by_person.setdefault(a.person, []).append(a)

    for person in sorted(by_person):
        queue = by_person[person]
        heapq.heapify(queue)
        busy_until = -_NEVER
        death = death_minute.get(person, _NEVER)
        age0 = float(cohort.age0[person])
        frailty = float(cohort.frailty[person])
        dementia = bool(cohort.flags["dementia"][person])
        order_extra = len(spells)
        intervals: list[tuple[int, int]] = []
        while queue:
            _, _, spell = heapq.heappop(queue)
            if spell.admitted < busy_until or spell.admitted >= death:
                if spell.attendance is not None and not spell.readmission:
                    dropped_attendances.add(spell.attendance)
                continue
            if spell.admitted < 0 or spell.admitted >= days * DAY:
                continue
            discharge = spell.admitted + spell.los
            died = spell.terminal or discharge >= death
            if died:
                discharge = death
            age = age0 + spell.admitted / (365.25 * DAY)
            pathway: int | None = None
            destination = "79" if died else "19"
            if not died and age >= 18 and not spell.day_case:
                pathway = _d2a_pathway(age, frailty, dementia, float(t.pathway_u[spell.template]))
                destination = {0: "19", 1: "19", 2: "51", 3: "85"}[pathway]
            ready = _discharge_ready(
                spell.admitted, discharge, pathway, float(t.delay_u[spell.template])
            )
            stay_id = stay_ids[stay_counter]
            stay_counter += 1
            attendance_id = spell.attendance
            if spell.terminal:
                # A death in hospital: most come in by ambulance through the ED.
                attendance_id = readmission_ids[len(added_attendances)]
                arrival = spell.admitted - int(t.ed_minutes[spell.template])
                added_attendances.append(
                    AeAttendance(
                        attendance_id,
                        person,
                        partners.acute,
                        partners.ed_site,
                        1,
                        arrival,
                        spell.admitted,
                        True,
                        "admitted",
                    )
                )
            stays.append(
                (
                    spell.admitted,
                    stay_counter,
                    HospitalStay(
                        id=stay_id,
                        person=person,
                        elective=spell.elective,
                        day_case=spell.day_case,
                        admission_method=spell.method,
                        admission_source="19",
                        specialty=spell.specialty,
                        decided=spell.decided,
                        admitted=spell.admitted,
                        discharged=discharge,
                        wards=_ward_path(spell, t, age, discharge),
                        died=died,
                        destination=destination,
                        d2a_pathway=pathway,
                        ready=ready,
                        readmission=spell.readmission,
                        attendance=attendance_id,
                    ),
                )
            )
            intervals.append((spell.admitted, discharge))
            busy_until = discharge
            # Emergency readmission within 30 days (about 14%, more for the old and frail).
            k = spell.template
            p_readmit = min(0.06 + 0.3 * frailty + 0.002 * max(age - 60, 0.0), 0.35)
            if (
                not died
                and not spell.elective
                and not spell.readmission
                and readmit_row < len(t.los)
                and t.readmit_u[k] < p_readmit
                and int(t.gap[k]) < 29 * DAY
            ):
                r = readmit_row
                readmit_row += 1
                admit = discharge + int(t.gap[k])
                attendance_id = readmission_ids[len(added_attendances)]
                order_extra += 1
                heapq.heappush(
                    queue,
                    (
                        admit,
                        order_extra,
                        _Spell(
                            person=person,
                            admitted=admit,
                            los=int(t.los[r]),
                            elective=False,
                            day_case=False,
                            method="21",
                            specialty=spell.specialty,
                            decided=admit,
                            attendance=attendance_id,
                            template=r,
                            readmission=True,
                        ),
                    ),
                )
                if admit < death and admit < days * DAY:
                    added_attendances.append(
                        AeAttendance(
                            attendance_id,
                            person,
                            partners.acute,
                            partners.ed_site,
                            1,
                            admit - int(t.ed_minutes[r]),
                            admit,
                            t.readmit_u[r] < 0.6,
                            "admitted",
                        )
                    )
        # A&E attendances (not admitted) while the person was an inpatient did not happen.
        for a in attendances_by_person.get(person, ()):
            if a.outcome != "admitted" and any(s < a.arrival < e for s, e in intervals):
                dropped_attendances.add(a.id)

    kept = [a for a in attendance_by_id.values() if a.id not in dropped_attendances]
    kept.extend(
        a
        for a in added_attendances
        if a.arrival < days * DAY and a.arrival < death_minute.get(a.person, _NEVER)
    )
    kept.sort(key=lambda a: (a.arrival, a.id))
    stays.sort(key=lambda s: (s[0], s[1]))
    return [s for _, _, s in stays], kept, death_minute


# --- diagnostics (DM01) ----------------------------------------------------------------------

#: The DM01 tests most requested, with their share of requests (order of magnitude from NHS
#: England's monthly diagnostics waiting times and activity, 2024: imaging dominates).
_DIAGNOSTIC_TESTS: Final = (
    ("Non-obstetric ultrasound", 0.34),
    ("Computed tomography", 0.22),
    ("Magnetic resonance imaging", 0.16),
    ("Echocardiography", 0.07),
    ("Gastroscopy", 0.05),
    ("Colonoscopy", 0.04),
    ("DEXA scan", 0.04),
    ("Audiology assessments", 0.04),
    ("Flexi sigmoidoscopy", 0.02),
    ("Cystoscopy", 0.02),
)
#: Diagnostic test requests a year per person by age.
_DIAGNOSTIC_RATE_BY_AGE: Final = ((0, 0.05), (18, 0.12), (45, 0.22), (65, 0.38), (80, 0.42))
#: Median wait in weeks: about a quarter wait six weeks or more (DM01's target is 1%; England
#: has run at 20-25% since 2020, and Cornwall much the same).
_DIAGNOSTIC_MEDIAN_WEEKS: Final = 3.2


def _diagnostic_tests(
    rng: np.random.Generator, cohort: _Cohort, chunk: int
) -> list[DiagnosticTest]:
    """Diagnostic test requests made in the period (and up to a year before it), with waits."""
    days = cohort.days
    rate = _step(cohort.age0, _DIAGNOSTIC_RATE_BY_AGE) * (1 + 0.1 * np.minimum(cohort.n_ltc, 6))
    birth = np.clip(np.round(-cohort.age0 * 365.25).astype(np.int64), -_NEVER, days)
    lo = np.maximum(birth, -365)
    counts = _counts(rng, rate, lo, cohort.hi)
    who = np.repeat(np.arange(len(rate), dtype=np.int64), counts)
    n = len(who)
    requested = lo[who] + (rng.random(n) * (cohort.hi[who] - lo[who])).astype(np.int64)
    shares = np.array([share for _, share in _DIAGNOSTIC_TESTS])
    pick = rng.choice(len(_DIAGNOSTIC_TESTS), size=n, p=shares / shares.sum())
    waited = np.maximum(
        (rng.lognormal(np.log(_DIAGNOSTIC_MEDIAN_WEEKS), 0.75, n) * 7).astype(np.int64), 1
    )
    ids = _ids("DG", chunk, n)
    tests = []
    for k in np.argsort(requested, kind="stable").tolist():
        performed = int(requested[k] + waited[k])
        if performed < 0:
            continue  # done before the period began
        gone = int(cohort.hi[who[k]])
        if performed >= gone:
            if gone < days:
                continue  # died or left while waiting: the request is withdrawn
            performed_or_none = None  # still waiting at the period's end
        else:
            performed_or_none = performed
        tests.append(
            DiagnosticTest(
                ids[k],
                int(who[k]),
                _DIAGNOSTIC_TESTS[int(pick[k])][0],
                int(requested[k]),
                performed_or_none,
            )
        )
    return tests


# --- referral to treatment --------------------------------------------------------------------

# Referrals a year per person by age (consultant-led RTT clock starts, England ~0.3 a year).
_RTT_RATE_BY_AGE: Final = ((0, 0.14), (16, 0.16), (45, 0.26), (65, 0.4), (80, 0.42), (95, 0.3))
_LOOKBACK_DAYS: Final = 730  # pathways that started up to two years before the period


def _rtt_pathways(
    rng: np.random.Generator, cohort: _Cohort, start: date, chunk: int
) -> tuple[list[RttPathway], list[tuple[int, int, str]]]:
    """RTT pathways open at some time in the period, and the elective admissions they end in."""
    days = cohort.days
    rate = _step(cohort.age0, _RTT_RATE_BY_AGE) * np.where(cohort.female, 1.1, 0.9)
    rate = rate * (1 + 0.05 * np.minimum(cohort.n_ltc, 6))
    birth = np.clip(np.round(-cohort.age0 * 365.25).astype(np.int64), -_NEVER, days)
    lo = np.maximum(birth, -_LOOKBACK_DAYS)
    counts = _counts(rng, rate, lo, cohort.hi)
    who = np.repeat(np.arange(len(rate), dtype=np.int64), counts)
    n = len(who)
    clock_start = lo[who] + (rng.random(n) * (cohort.hi[who] - lo[who])).astype(np.int64)
    shares = np.array([s for _, s, _ in _RTT_SPECIALTIES])
    pick = rng.choice(len(_RTT_SPECIALTIES), size=n, p=shares / shares.sum())
    # Gynaecology is for women: a man's referral goes to general surgery instead.
    codes = np.array([c for c, _, _ in _RTT_SPECIALTIES])[pick]
    codes = np.where((codes == "502") & ~cohort.female[who], "100", codes)
    median_weeks = np.array([w for _, _, w in _RTT_SPECIALTIES])[pick]
    urgent = rng.random(n) < 0.15
    # Waits: log-normal around each specialty's median (Cornwall's 18-week performance has
    # been about 55-60%, with a tail past 52 weeks); urgent referrals wait about half as long.
    weeks = rng.lognormal(np.log(median_weeks * np.where(urgent, 0.5, 1.0)), 0.7, n)
    clock_stop = clock_start + np.maximum((weeks * 7).astype(np.int64), 1)
    u = rng.random(n)
    # How clocks stop (RTT period status): admitted or outpatient treatment (30), a decision
    # not to treat or active monitoring (34), the patient declining (35).
    admitted = u < 0.22
    reason = np.where(u < 0.8, "30", np.where(u < 0.95, "34", "35"))
    death = cohort.hi[who]
    ids = _ids("RTT", chunk, n)
    pathways: list[RttPathway] = []
    electives: list[tuple[int, int, str]] = []
    for k in np.argsort(clock_start, kind="stable").tolist():
        p, begin, stop = int(who[k]), int(clock_start[k]), int(clock_stop[k])
        died = bool(death[k] < days and stop >= death[k])
        if died:
            stop, stop_reason = int(death[k]), "36"
        else:
            stop_reason = str(reason[k])
        if stop < 0:
            continue  # over before the period began
        open_at_end = stop >= days
        if admitted[k] and not open_at_end and not died and stop_reason == "30":
            electives.append((p, stop, str(codes[k])))
        pathways.append(
            RttPathway(
                id=ids[k],
                person=p,
                specialty=str(codes[k]),
                priority="urgent" if urgent[k] else "routine",
                referrer=cohort.practice[p],
                clock_start=begin,
                clock_stop=None if open_at_end else stop,
                stop_reason="" if open_at_end else stop_reason,
            )
        )
    return pathways, electives


# --- urgent suspected cancer ------------------------------------------------------------------

_SUSPECTED_FEMALE: Final = (
    ("breast", 0.32),
    ("lower gastrointestinal", 0.2),
    ("skin", 0.17),
    ("gynaecological", 0.12),
    ("upper gastrointestinal", 0.08),
    ("lung", 0.05),
    ("head and neck", 0.04),
    ("haematological", 0.02),
)
_SUSPECTED_MALE: Final = (
    ("urological", 0.26),
    ("lower gastrointestinal", 0.22),
    ("skin", 0.2),
    ("upper gastrointestinal", 0.1),
    ("head and neck", 0.09),
    ("lung", 0.09),
    ("haematological", 0.04),
)
_SITE: Final = {  # the person's cancer -> (suspected type, ICD-10, first treatments)
    "breast": ("breast", "C50.9", ("surgery", "surgery", "surgery", "chemotherapy")),
    "prostate": ("urological", "C61", ("hormone therapy", "radiotherapy", "surgery")),
    "colon": ("lower gastrointestinal", "C18.9", ("surgery", "surgery", "chemotherapy")),
    "lung": ("lung", "C34.9", ("chemotherapy", "radiotherapy", "surgery", "immunotherapy")),
}
_OTHER_SITES: Final = {  # suspected type -> (ICD-10, first treatments) for unmodelled cancers
    "skin": ("C44.9", ("surgery",)),
    "head and neck": ("C32.9", ("surgery", "radiotherapy")),
    "upper gastrointestinal": ("C16.9", ("surgery", "chemotherapy")),
    "gynaecological": ("C54.1", ("surgery",)),
    "haematological": ("C83.3", ("chemotherapy",)),
}
# Referrals a year by age that turn out not to be cancer (England: ~3m USC referrals a year,
# about 6% of which are cancer).
_USC_RATE_BY_AGE: Final = ((0, 0.004), (30, 0.02), (50, 0.05), (65, 0.09), (80, 0.11))

_Referral = tuple[int, int, str, int, int, bool, str, int, int, str]


def _fds_days(rng: np.random.Generator, n: int) -> Ints:
    """Days from referral to diagnosis communicated or ruled out: ~77% within 28 days."""
    fast = rng.random(n) < 0.77
    days: Ints = np.where(
        fast, rng.integers(4, 29, n), 29 + rng.exponential(14.0, n).astype(np.int64)
    ).astype(np.int64)
    return days


def _treatment_gaps(rng: np.random.Generator, n: int) -> tuple[Ints, Ints]:
    """Days from diagnosis to decision to treat, and from that to first treatment (~93% <= 31)."""
    decision = rng.integers(3, 22, n).astype(np.int64)
    treatment = np.where(
        rng.random(n) < 0.93,
        rng.integers(2, 32, n),
        32 + rng.exponential(12.0, n).astype(np.int64),
    ).astype(np.int64)
    return decision, treatment


def _pick(table: Sequence[tuple[str, float]], u: float) -> str:
    for name, share in table:
        u -= share
        if u < 0:
            return name
    return table[-1][0]


def _cancer_referrals(
    rng: np.random.Generator, cohort: _Cohort, chunk: int
) -> list[CancerReferral]:
    """Urgent suspected cancer referrals: most ruled out; the GP record's new cancers confirmed."""
    days = cohort.days
    rate = _step(cohort.age0, _USC_RATE_BY_AGE)
    counts = _counts(rng, rate, cohort.lo, cohort.hi)
    who = np.repeat(np.arange(len(rate), dtype=np.int64), counts)
    n = len(who)
    received = cohort.lo[who] + (rng.random(n) * (cohort.hi[who] - cohort.lo[who])).astype(np.int64)
    fds = _fds_days(rng, n)
    seen_after = rng.integers(3, 15, n)
    pick = rng.random(n)
    other_cancer = rng.random(n)
    dtt_n, treat_n = _treatment_gaps(rng, n)
    modality_n = rng.random(n)
    rows: list[_Referral] = []
    for k in range(n):
        p = int(who[k])
        suspected = _pick(
            _SUSPECTED_FEMALE if cohort.female[p] else _SUSPECTED_MALE, float(pick[k])
        )
        # Cancers the GP model does not hold (skin, head and neck, ...) are found here, at
        # about the national conversion rate; the modelled ones come from the GP record below.
        other = _OTHER_SITES.get(suspected)
        if other is not None and other_cancer[k] < 0.08:
            icd10, treatments = other
            modality = treatments[int(modality_n[k] * len(treatments))]
            rows.append(
                (
                    p,
                    int(received[k]),
                    suspected,
                    int(fds[k]),
                    int(seen_after[k]),
                    True,
                    icd10,
                    int(dtt_n[k]),
                    int(treat_n[k]),
                    modality,
                )
            )
            continue
        rows.append(
            (p, int(received[k]), suspected, int(fds[k]), int(seen_after[k]), False, "", 0, 0, "")
        )

    # People whose cancer is diagnosed in the period: ~70% through an urgent referral, with the
    # diagnosis (the GP record's onset) communicated at the end of the Faster Diagnosis clock.
    confirmed = [(p, onset) for p, onset in enumerate(cohort.cancer_onset) if onset is not None]
    m = len(confirmed)
    via_usc = rng.random(m) < 0.7
    c_fds = _fds_days(rng, m)
    c_seen = rng.integers(3, 15, m)
    dtt_gap, treat_gap = _treatment_gaps(rng, m)
    modality_u = rng.random(m)
    for j, (p, onset) in enumerate(confirmed):
        assert onset is not None
        day, site = onset
        if not via_usc[j] or day - int(c_fds[j]) < 0:
            continue
        suspected, icd10, treatments = _SITE[site]
        rows.append(
            (
                p,
                day - int(c_fds[j]),
                suspected,
                int(c_fds[j]),
                int(c_seen[j]),
                True,
                icd10,
                int(dtt_gap[j]),
                int(treat_gap[j]),
                treatments[int(modality_u[j] * len(treatments))],
            )
        )
    rows.sort(key=lambda r: (r[1], r[0]))
    ids = _ids("USC", chunk, len(rows))
    result: list[CancerReferral] = []
    for k, (
        p,
        got,
        suspected,
        fds_k,
        seen_k,
        is_cancer,
        icd10,
        dtt_k,
        treat_k,
        modality,
    ) in enumerate(rows):
        # Milestones after the period's end (or the person's death) have not happened yet.
        limit = min(days, int(cohort.hi[p]) + 1)

        def within(day: int, limit: int = limit) -> int | None:
            return day if day < limit else None

        told = within(got + fds_k)
        dtt = within(got + fds_k + dtt_k) if is_cancer and told is not None else None
        treated = within(got + fds_k + dtt_k + treat_k) if dtt is not None else None
        result.append(
            CancerReferral(
                id=ids[k],
                person=p,
                suspected=suspected,
                referrer=cohort.practice[p],
                received=got,
                first_seen=within(got + min(seen_k, fds_k)),  # seen by the time they are told
                diagnosis_told=told,
                confirmed=is_cancer and told is not None,
                icd10=icd10 if told is not None else "",
                decision_to_treat=dtt,
                first_treatment=treated,
                modality=modality if treated is not None else "",
            )
        )
    return result


# --- community and mental-health contacts ---------------------------------------------------


@dataclass(frozen=True)
class _TeamModel:
    """A community or mental-health team: how many contacts an episode has, and how."""

    service_type: str
    name: str
    contacts: float  # mean contacts per episode of care
    gap_days: tuple[int, int]  # days between contacts
    minutes: tuple[int, int]
    home: float  # share of contacts at home
    remote: float  # share by telephone or video


_COMMUNITY_TEAMS: Final = (
    _TeamModel("district_nursing", "District nursing", 7.0, (1, 8), (20, 50), 0.95, 0.03),
    _TeamModel(
        "urgent_community_response", "Urgent community response", 1.3, (1, 2), (45, 120), 0.97, 0.0
    ),
    _TeamModel("community_therapy", "Community therapy", 4.0, (5, 10), (30, 60), 0.5, 0.15),
    _TeamModel("community_respiratory", "Community respiratory", 3.0, (7, 21), (30, 60), 0.5, 0.3),
    _TeamModel(
        "heart_failure_nursing", "Heart failure nursing", 3.0, (14, 35), (30, 45), 0.4, 0.35
    ),
    _TeamModel("falls_prevention", "Falls prevention", 3.0, (7, 14), (45, 60), 0.6, 0.1),
)
_MENTAL_HEALTH_TEAMS: Final = (
    _TeamModel("talking_therapies", "NHS Talking Therapies", 6.0, (6, 9), (30, 55), 0.0, 0.65),
    _TeamModel(
        "community_mental_health",
        "Community mental health team",
        8.0,
        (14, 40),
        (30, 60),
        0.35,
        0.25,
    ),
    _TeamModel(
        "mental_health_crisis",
        "Crisis resolution and home treatment",
        2.5,
        (1, 3),
        (30, 90),
        0.6,
        0.3,
    ),
    _TeamModel(
        "memory_assessment", "Memory assessment service", 3.0, (14, 28), (45, 90), 0.3, 0.05
    ),
)


def _community_rates(cohort: _Cohort) -> dict[str, Floats]:
    """Episodes of care a year per person, by team (CSDS orders of magnitude, Cornwall's age)."""
    f = cohort.frailty
    old = cohort.age0 >= 65
    adult = cohort.age0 >= 18
    fl = cohort.flags
    return {
        "district_nursing": 0.005 * old
        + 1.2 * f**1.5
        + 0.4 * fl["housebound"]
        + 0.05 * (fl["diabetes"] & old),
        "urgent_community_response": 0.002 * old + 0.5 * f**2 + 0.1 * fl["falls"],
        "community_therapy": 0.015 * adult + 0.15 * f + 0.1 * fl["stroke"],
        "community_respiratory": 0.25 * fl["copd"],
        "heart_failure_nursing": 0.4 * fl["heart_failure"],
        "falls_prevention": 0.15 * fl["falls"] + 0.05 * f,
    }


def _mental_health_rates(cohort: _Cohort) -> dict[str, Floats]:
    """Episodes of care a year per person, by mental-health team."""
    fl = cohort.flags
    adult = cohort.age0 >= 16
    return {
        "talking_therapies": 0.1 * (fl["depression"] & adult) + 0.003 * adult,
        "community_mental_health": 0.45 * fl["smi"] + 0.01 * fl["depression"],
        "mental_health_crisis": 0.12 * fl["smi"] + 0.012 * fl["depression"],
        "memory_assessment": 0.05 * fl["dementia"],
    }


_ContactRow = tuple[int, int, int, str, int, str, int, str, str, str]


def _contacts(
    rng: np.random.Generator,
    cohort: _Cohort,
    partners: Partners,
    teams: Sequence[_TeamModel],
    rates: dict[str, Floats],
    prefix: str,
    chunk: int,
    extra_episodes: dict[str, list[tuple[int, int]]] | None = None,
) -> list[Contact]:
    """Contacts of each team: episodes (Poisson) of a geometric number of contacts.

    ``extra_episodes`` adds episodes that other events cause: (person, referral day) by team.
    """
    rows: list[_ContactRow] = []
    for team in teams:
        rate = rates[team.service_type]
        counts = _counts(rng, rate, cohort.lo, cohort.hi)
        who = np.repeat(np.arange(len(rate), dtype=np.int64), counts)
        referred_day = cohort.lo[who] + (
            rng.random(len(who)) * (cohort.hi[who] - cohort.lo[who])
        ).astype(np.int64)
        extra = (extra_episodes or {}).get(team.service_type, [])
        if extra:
            who = np.concatenate([who, np.array([p for p, _ in extra], dtype=np.int64)])
            referred_day = np.concatenate(
                [referred_day, np.array([d for _, d in extra], dtype=np.int64)]
            )
        n = len(who)
        if n == 0:
            continue
        per_episode = rng.geometric(1.0 / team.contacts, n)
        total = int(per_episode.sum())
        episode = np.repeat(np.arange(n), per_episode)
        gaps = rng.integers(team.gap_days[0], team.gap_days[1] + 1, total)
        # The first contact follows the referral in a day or two; the rest at the team's pace.
        first = np.r_[0, np.cumsum(per_episode)[:-1]]
        gaps[first] = rng.integers(0, 3, n)
        offsets = np.cumsum(gaps)
        offsets = offsets - np.repeat(offsets[first] - gaps[first], per_episode)
        referred_minute = referred_day * DAY + rng.integers(8 * 60, 18 * 60, n)
        minute = (referred_day[episode] + offsets) * DAY + rng.integers(8 * 60, 18 * 60, total)
        if team.service_type == "urgent_community_response":
            # The 2-hour standard (8am-8pm): ~80% of first visits within 2 hours of referral.
            response = np.where(
                rng.random(n) < 0.8,
                rng.integers(20, 121, n),
                121 + rng.exponential(100.0, n).astype(np.int64),
            )
            referred_minute = referred_day * DAY + rng.integers(8 * 60, 20 * 60, n)
            minute[first] = referred_minute + response
        length = rng.integers(team.minutes[0], team.minutes[1] + 1, total)
        u_place = rng.random(total)
        u_attend = rng.random(total)
        area_teams = partners.community_teams.get(team.service_type, {})
        default_service = min(area_teams.values(), default=team.service_type.replace("_", "-"))
        for k in range(total):
            e = int(episode[k])
            p = int(who[e])
            at = int(minute[k])
            if at < 0 or at >= int(cohort.hi[p]) * DAY or at >= cohort.days * DAY:
                continue  # before the period, after death, or after the period
            u = float(u_place[k])
            if u < team.remote:
                location, medium = "home", ("telephone" if u < team.remote * 0.7 else "video")
            else:
                location = "home" if u < team.remote + team.home else "clinic"
                medium = "face to face"
            a = float(u_attend[k])
            attendance = (
                "attended"
                if a < 0.93
                else ("did not attend" if a < 0.97 else "cancelled by patient")
            )
            rows.append(
                (
                    at,
                    p,
                    e,
                    area_teams.get(cohort.area[p], default_service),
                    int(referred_minute[e]),
                    team.service_type,
                    int(length[k]),
                    location,
                    medium,
                    attendance,
                )
            )
    rows.sort(key=lambda r: (r[0], r[1], r[3]))
    ids = _ids(prefix, chunk, len(rows))
    referral_ids: dict[tuple[str, int, int], str] = {}
    result: list[Contact] = []
    for k, (
        at,
        p,
        e,
        service,
        referred,
        service_type,
        minutes,
        location,
        medium,
        attended,
    ) in enumerate(rows):
        referral = referral_ids.setdefault(
            (service_type, p, e), f"{prefix}R{chunk:05d}{len(referral_ids):06d}"
        )
        result.append(
            Contact(
                id=ids[k],
                person=p,
                service=service,
                service_type=service_type,
                referral=referral,
                referred=referred,
                start=at,
                minutes=minutes,
                location=location,
                medium=medium,
                attendance=attended,
            )
        )
    return result


# --- adult social care ------------------------------------------------------------------------

_HOURLY_RATE: Final = 27  # pounds an hour of home care (Cornwall's framework rate, order of size)
_RESIDENTIAL_WEEK: Final = 850
_NURSING_WEEK: Final = 1050
_LONG_TERM: Final = frozenset({"home care", "residential care", "nursing care"})


def council_for(partners: Partners, town: str) -> str:
    """The council responsible for someone living in ``town``."""
    return partners.council_places.get(town, partners.councils[0])


def _social_care(
    rng: np.random.Generator,
    cohort: _Cohort,
    partners: Partners,
    stays: list[HospitalStay],
    chunk: int,
) -> tuple[list[SocialCareAssessment], list[CarePackage]]:
    """Assessments and packages: after hospital (discharge to assess) and from the community.

    Long-term care at the period's start comes first (about 3-4% of people 65 and over receive
    it: NHS England Adult Social Care Activity and Finance), then new needs.
    """
    days = cohort.days
    n = len(cohort.age0)
    f = cohort.frailty
    old = cohort.age0 >= 65
    dementia = cohort.flags["dementia"]
    # (person, start day, service, source, reason); "" service: advice only, no package.
    plans: list[tuple[int, int, str, str, str]] = []

    p_existing = np.clip(0.9 * f**2 * old + 0.12 * dementia + 0.004 * old, 0, 0.7)
    existing = np.flatnonzero((rng.random(n) < p_existing) & (cohort.lo == 0) & (cohort.hi > 0))
    existing_start = -rng.integers(30, 1100, len(existing))
    in_care_home = rng.random(len(existing)) < np.clip(
        0.15 + 0.3 * dementia[existing] + f[existing], 0, 0.8
    )
    for j, p in enumerate(existing.tolist()):
        if in_care_home[j]:
            service = "nursing care" if f[p] > 0.35 else "residential care"
        else:
            service = "home care"
        reason = _reason(bool(dementia[p]))
        plans.append((p, int(existing_start[j]), service, "community health", reason))

    # New needs from the community (GP, family, self), rising steeply with frailty.
    rate = 0.004 * old + 0.3 * f**2 + 0.06 * dementia
    counts = np.minimum(_counts(rng, rate, cohort.lo, cohort.hi), 1)
    who = np.flatnonzero(counts)
    day = cohort.lo[who] + (rng.random(len(who)) * (cohort.hi[who] - cohort.lo[who])).astype(
        np.int64
    )
    outcome_u = rng.random(len(who))
    source_u = rng.random(len(who))
    for j, p in enumerate(who.tolist()):
        u = float(outcome_u[j])
        # About a third of new requests lead to long-term support, a fifth to short-term
        # support (reablement), the rest to information and advice.
        if u < 0.32:
            service = "home care"
        elif u < 0.36 + 0.1 * float(dementia[p]):
            service = "residential care"
        elif u < 0.58:
            service = "reablement"
        else:
            service = ""
        source = "GP" if source_u[j] < 0.35 else "family" if source_u[j] < 0.7 else "self"
        plans.append((p, int(day[j]), service, source, _reason(bool(dementia[p]))))

    # Discharge to assess: pathway 1 -> reablement at home; 2 -> bed-based rehabilitation
    # first, then home care; 3 -> a care home placement.
    for stay in stays:
        if not stay.d2a_pathway or stay.discharged >= days * DAY:
            continue
        discharge_day = stay.discharged // DAY
        p = stay.person
        if stay.d2a_pathway == 1:
            # Not everyone on pathway 1 needs the council: many get NHS community support only.
            if _hash_unit(chunk, p, discharge_day) < 0.45:
                plans.append((p, discharge_day, "reablement", "hospital", "physical support"))
        elif stay.d2a_pathway == 2:
            plans.append((p, discharge_day + 21, "home care", "hospital", "physical support"))
        else:
            home = "nursing care" if f[p] > 0.35 else "residential care"
            plans.append((p, discharge_day, home, "hospital", _reason(bool(dementia[p]))))

    plans.sort(key=lambda r: (r[1], r[0], r[2]))
    m = len(plans)
    assess_len = rng.integers(3, 29, m)
    hours = np.round(
        rng.uniform(4, 12, m) + 25 * f[np.array([p for p, *_ in plans], dtype=np.int64)], 1
    )
    duration_u = rng.random(m)
    homes = partners.care_homes or ("ZC000",)
    home_pick = rng.integers(0, len(homes), m)
    assessments: list[SocialCareAssessment] = []
    packages: list[CarePackage] = []

    def package(
        p: int, council: str, service: str, provider: str, start: int, end: int | None
    ) -> CarePackage:
        return CarePackage(
            id=f"PKG{chunk:05d}{len(packages):06d}",
            person=p,
            council=council,
            service=service,
            provider=provider,
            start=start,
            end=end,
            hours_per_week=0.0,
            weekly_cost=0,
            end_reason="",
        )

    busy: dict[int, int] = {}  # person -> day their current long-term package ends
    for k, (p, begin, service, source, reason) in enumerate(plans):
        death = int(cohort.hi[p]) if cohort.hi[p] < days else None
        council = council_for(partners, cohort.town[p])
        if begin >= days or (death is not None and begin >= death):
            continue
        if service in _LONG_TERM and busy.get(p, -_NEVER) > begin:
            continue  # already supported: a review, not a new package (reviews come below)
        if begin >= 0:
            started = begin - int(assess_len[k]) if source != "hospital" else begin - 2
            assessments.append(
                SocialCareAssessment(
                    id=f"SCA{chunk:05d}{len(assessments):06d}",
                    person=p,
                    council=council,
                    kind="needs assessment",
                    source=source,
                    started=max(started, 0),
                    completed=begin,
                    outcome=_outcome(service),
                    support_reason=reason,
                )
            )
        if not service:
            continue
        week_hours = float(hours[k])
        follow_on: int | None = None  # home care after reablement, from this day
        end: int | None
        if service == "reablement":
            # Reablement is free for up to six weeks; about a third go on to home care.
            end, end_reason, weekly = begin + 7 + int(duration_u[k] * 35), "needs met", 0
            if duration_u[k] < 0.33 and (death is None or end < death):
                follow_on = end
                busy[p] = days + 1
        elif service == "home care":
            end, end_reason = None, ""
            if duration_u[k] < 0.12:
                end, end_reason = begin + 30 + int(duration_u[k] * 3000), "needs changed"
            weekly = round(week_hours * _HOURLY_RATE)
        else:
            end, end_reason, week_hours = None, "", 0.0
            weekly = _NURSING_WEEK if service == "nursing care" else _RESIDENTIAL_WEEK
        if death is not None and (end is None or end > death):
            end, end_reason = death, "died"
        if end is not None and end >= days:
            end, end_reason = None, ""
        if end is not None and end < 0:
            continue
        if service != "reablement":
            busy[p] = end if end is not None else days + 1
        care_home = service in ("residential care", "nursing care")
        provider = homes[int(home_pick[k])] if care_home else "HOMECARE"
        packages.append(
            replace(
                package(p, council, service, provider, begin, end),
                hours_per_week=week_hours,
                weekly_cost=weekly,
                end_reason=end_reason,
            )
        )
        if follow_on is not None and follow_on < days:
            packages.append(
                replace(
                    package(p, council, "home care", "HOMECARE", follow_on, death),
                    hours_per_week=float(hours[k]),
                    weekly_cost=round(float(hours[k]) * _HOURLY_RATE),
                    end_reason="" if death is None else "died",
                )
            )

    # A yearly review of every long-term package in place during the period.
    for care in list(packages):
        if care.service == "reablement":
            continue
        review = care.start + 365
        while review < days and (care.end is None or review < care.end):
            if review >= 0:
                assessments.append(
                    SocialCareAssessment(
                        id=f"SCA{chunk:05d}{len(assessments):06d}",
                        person=care.person,
                        council=care.council,
                        kind="review",
                        source="council",
                        started=review - 7,
                        completed=review,
                        outcome="long-term support continues",
                        support_reason="physical support",
                    )
                )
            review += 365
    assessments.sort(key=lambda a: (a.completed, a.id))
    packages.sort(key=lambda c: (c.start, c.id))
    return assessments, packages


def _hash_unit(*parts: int) -> float:
    """A deterministic number in [0, 1) from integers (for a choice made inside a loop)."""
    value = 0x9E3779B97F4A7C15
    for part in parts:
        value = ((value ^ (part & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        value ^= value >> 31
    return (value >> 11) / float(1 << 53)


def _reason(dementia: bool) -> str:
    return "memory and cognition" if dementia else "physical support: personal care"


def _outcome(service: str) -> str:
    return {
        "": "universal services / signposting",
        "reablement": "short-term support to maximise independence",
        "home care": "long-term support",
        "residential care": "long-term support",
        "nursing care": "long-term support",
    }[service]


# --- the whole chunk ----------------------------------------------------------------------------


def simulate_activity(
    people: Sequence[Person],
    *,
    partners: Partners,
    start: date,
    end: date,
    seed: int,
    chunk: int,
) -> Activity:
    """Simulate what happened to ``people`` over [``start``, ``end``) in every partner.

    The same people, period, seed and chunk always give the same activity.
    """
    activity = Activity(start=start, end=end)
    if not people:
        return activity
    cohort = _cohort(people, start, end)
    attendances, admitted, attendance_age = _attendances(
        random_stream(seed, chunk, Stream.AE), cohort, partners, start, chunk
    )
    activity.rtt, electives = _rtt_pathways(
        random_stream(seed, chunk, Stream.RTT), cohort, start, chunk
    )
    activity.stays, activity.attendances, activity.death_minute = _hospital_stays(
        random_stream(seed, chunk, Stream.ADMISSIONS),
        cohort,
        partners,
        attendances,
        admitted,
        attendance_age,
        electives,
        chunk,
    )
    activity.cancer = _cancer_referrals(random_stream(seed, chunk, Stream.CANCER), cohort, chunk)
    activity.diagnostics = _diagnostic_tests(
        random_stream(seed, chunk, Stream.DIAGNOSTICS), cohort, chunk
    )
    activity.community = _contacts(
        random_stream(seed, chunk, Stream.COMMUNITY),
        cohort,
        partners,
        _COMMUNITY_TEAMS,
        _community_rates(cohort),
        "CC",
        chunk,
    )
    # A memory assessment leads up to each dementia diagnosis made in the period.
    memory = [
        (p, onset - 70)
        for p, onset in enumerate(cohort.dementia_onset.tolist())
        if 70 <= onset < cohort.days
    ]
    activity.mental_health = _contacts(
        random_stream(seed, chunk, Stream.MENTAL_HEALTH),
        cohort,
        partners,
        _MENTAL_HEALTH_TEAMS,
        _mental_health_rates(cohort),
        "MH",
        chunk,
        extra_episodes={"memory_assessment": memory},
    )
    activity.assessments, activity.packages = _social_care(
        random_stream(seed, chunk, Stream.SOCIAL_CARE), cohort, partners, activity.stays, chunk
    )
    return activity
