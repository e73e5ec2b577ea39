"""Measures per person, written once as Ibis expressions over the lake, run on any engine.

The same expressions run on DuckDB (the embedded default: :func:`duckdb_lake`) and on
Apache Spark (:func:`spark_lake`, local mode or a cluster), and give the same answers
(``tests/integration/test_population_measures.py`` compares them).

Code lists are SNOMED CT concepts as the GP record codes them (:data:`CODE_LISTS`); an ICS
replaces them with its own reference sets (for example the QOF business rules' clusters).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Concatenate, Final, ParamSpec

import ibis
from ibis import _
from ibis.expr.types import Table

#: SNOMED CT concepts for each condition the measures use (the synthetic ICS's codes; the
#: real QOF clusters are longer lists of the same concepts' descendants).
CODE_LISTS: Final[dict[str, tuple[str, ...]]] = {
    "atrial_fibrillation": ("49436004",),
    "heart_failure": ("84114007",),
    "hypertension": ("38341003",),
    "diabetes": ("44054006", "46635009"),
    # Stroke, TIA or thromboembolism.
    "stroke_tia": ("230690007", "266257000"),
    # Vascular disease as CHA2DS2-VASc counts it: prior myocardial infarction, peripheral
    # artery disease, aortic plaque. (Ischaemic heart disease as such is not in the score.)
    "vascular_disease": ("22298006", "400047006"),
    "asthma": ("195967001",),
    "copd": ("13645005",),
    "chd": ("414545008",),
    "ckd_3_5": ("433144002", "431857002", "433146000"),
    "depression": ("35489007",),
    "severe_mental_illness": ("58214004", "13746004"),
    "dementia": ("52448006",),
    "cancer": ("254837009", "399068003", "363406005", "363358000"),
    "lung_cancer": ("363358000",),
    "ckd_4_5": ("431857002", "433146000"),
    "ckd_5": ("433146000",),
    "stroke": ("230690007",),
    "osteoporosis": ("64859006",),
    "hypothyroidism": ("40930008",),
    "peripheral_vascular_disease": ("400047006",),
    "falls": ("161898004",),
    "urinary_incontinence": ("165232002",),
    "hearing_impairment": ("15188001",),
    "visual_impairment": ("397540003",),
    "memory_problems": ("386807006",),
    "arthritis": ("396275006",),
    "housebound": ("160689007",),
    "activity_limitation": ("284545001",),
    "anaemia": ("271737000",),
    "dizziness": ("404640003",),
    "dyspnoea": ("267036007",),
    "foot_problems": ("202855006",),
    "fragility_fracture": ("5913000",),
    "heart_valve_disease": ("368009",),
    "hypotension_syncope": ("271594007", "45007003"),
    "mobility_problems": ("8510008",),
    "parkinsonism": ("49049000",),
    "peptic_ulcer": ("13200003",),
    "requirement_for_care": ("224974001",),
    "skin_ulcer": ("46742003",),
    "sleep_disturbance": ("193462001",),
    "social_vulnerability": ("105529008",),
    "urinary_system_disease": ("68566005",),
    "weight_loss": ("89362005",),
}

#: The electronic Frailty Index's 36 deficits (Clegg et al., Age and Ageing 2016;45:353,
#: Table 1), each with the code lists that record it here. Deficits without a list yet are
#: still counted in the denominator (36), so a missing list can only under-score; an ICS
#: supplies the published Read/SNOMED code sets for them. Polypharmacy is five or more
#: different current medicines, counted from prescriptions.
EFI_DEFICITS: Final[dict[str, tuple[str, ...]]] = {
    "activity limitation": ("activity_limitation",),
    "anaemia": ("anaemia",),
    "arthritis": ("arthritis",),
    "atrial fibrillation": ("atrial_fibrillation",),
    "cerebrovascular disease": ("stroke_tia",),
    "chronic kidney disease": ("ckd_3_5",),
    "diabetes": ("diabetes",),
    "dizziness": ("dizziness",),
    "dyspnoea": ("dyspnoea",),
    "falls": ("falls",),
    "foot problems": ("foot_problems",),
    "fragility fracture": ("fragility_fracture",),
    "hearing impairment": ("hearing_impairment",),
    "heart failure": ("heart_failure",),
    "heart valve disease": ("heart_valve_disease",),
    "housebound": ("housebound",),
    "hypertension": ("hypertension",),
    "hypotension/syncope": ("hypotension_syncope",),
    "ischaemic heart disease": ("chd",),
    "memory and cognitive problems": ("memory_problems", "dementia"),
    "mobility and transfer problems": ("mobility_problems",),
    "osteoporosis": ("osteoporosis",),
    "Parkinsonism and tremor": ("parkinsonism",),
    "peptic ulcer": ("peptic_ulcer",),
    "peripheral vascular disease": ("peripheral_vascular_disease",),
    "polypharmacy": (),  # counted from prescriptions, not codes
    "requirement for care": ("requirement_for_care",),
    "respiratory disease": ("asthma", "copd"),
    "skin ulcer": ("skin_ulcer",),
    "sleep disturbance": ("sleep_disturbance",),
    "social vulnerability": ("social_vulnerability",),
    "thyroid disease": ("hypothyroidism",),
    "urinary incontinence": ("urinary_incontinence",),
    "urinary system disease": ("urinary_system_disease",),
    "visual impairment": ("visual_impairment",),
    "weight loss and anorexia": ("weight_loss",),
}

#: eFI categories by score (DOMAIN.md; Clegg et al. 2016): fit <= 0.12, mild > 0.12 to 0.24,
#: moderate > 0.24 to 0.36, severe > 0.36.
EFI_CATEGORIES: Final = ((0.12, "fit"), (0.24, "mild"), (0.36, "moderate"), (1.0, "severe"))


def efi_category(score: float) -> str:
    """The eFI category of a score."""
    return next(name for upper, name in EFI_CATEGORIES if score <= upper + 1e-12)


#: The long-term conditions counted for multimorbidity (each counts once however coded).
MULTIMORBIDITY_CONDITIONS: Final = (
    "atrial_fibrillation",
    "heart_failure",
    "hypertension",
    "diabetes",
    "stroke_tia",
    "asthma",
    "copd",
    "chd",
    "ckd_3_5",
    "depression",
    "severe_mental_illness",
    "dementia",
    "cancer",
    "osteoporosis",
    "hypothyroidism",
)


@dataclass(frozen=True)
class Lake:
    """The lake's tables on one engine (docs/lake.md describes their columns)."""

    person: Table
    registration: Table
    condition: Table
    medication: Table
    observation: Table
    immunisation: Table
    encounter: Table
    ae_attendance: Table
    admission: Table
    rtt_pathway: Table
    diagnostic_wait: Table
    cancer_pathway: Table
    referral: Table
    social_care: Table
    virtual_ward_stay: Table
    death: Table
    backend: Any
    #: Measures already computed on the engine, by name and arguments; None: not kept.
    kept: dict[tuple[Any, ...], Table] | None = field(default=None, compare=False, repr=False)

    def keeping(self) -> Lake:
        """This lake, keeping each person-level measure once computed.

        A run that asks for the same measure many times (the population run: person
        measures, then cohorts, then the needs assessment) gets it computed once and held on
        the engine (Ibis ``cache``: a temporary table on DuckDB, a cached DataFrame on
        Spark), and every later expression refers to that table, so it is also compiled
        once. Only for a lake whose files do not change while it is used.
        """
        return replace(self, kept={})


_TABLES: Final = tuple(f for f in Lake.__dataclass_fields__ if f not in ("backend", "kept"))

_P = ParamSpec("_P")


def _kept(build: Callable[Concatenate[Lake, _P], Table]) -> Callable[Concatenate[Lake, _P], Table]:
    """A measure that a :meth:`Lake.keeping` lake computes once per set of arguments."""

    def measure(lake: Lake, /, *args: _P.args, **kwargs: _P.kwargs) -> Table:
        if lake.kept is None:
            return build(lake, *args, **kwargs)
        key = (build.__name__, args, tuple(sorted(kwargs.items())))
        if key not in lake.kept:
            lake.kept[key] = build(lake, *args, **kwargs).cache()
        return lake.kept[key]

    functools.update_wrapper(measure, build)
    return measure


def duckdb_lake(lake_dir: Path) -> Lake:
    """The lake on an in-memory DuckDB reading the Parquet files where they are."""
    con = ibis.duckdb.connect()
    tables = {t: con.read_parquet(lake_dir / f"{t}.parquet", table_name=t) for t in _TABLES}
    return Lake(**tables, backend=con)


def spark_lake(lake_dir: Path | str, session: Any) -> Lake:
    """The lake on a Spark session (``local[*]`` or a cluster that can read ``lake_dir``).

    ``lake_dir`` is a local folder or a URI the cluster reads (``s3a://bucket/lake``,
    ``abfss://...``, ``hdfs://...``), given as a string: a ``Path`` would fold its ``//``.
    """
    con = ibis.pyspark.connect(session)
    root = str(lake_dir).rstrip("/")
    tables = {t: con.read_parquet(f"{root}/{t}.parquet", table_name=t) for t in _TABLES}
    return Lake(**tables, backend=con)


def registered_population(lake: Lake) -> Table:
    """The living people registered with one of the ICS's practices: the population that
    prevalence, indicators and the needs assessment count (the lake's ``person`` rows)."""
    return lake.person.filter(~_.died, _.practice.notnull())


def has_condition(lake: Lake, name: str) -> Table:
    """The people with any code of a condition (one row each): ``person_id``."""
    codes = list(CODE_LISTS[name])
    return lake.condition.filter(_.code.isin(codes)).select("person_id").distinct()


@_kept
def cha2ds2_vasc(lake: Lake) -> Table:
    """CHA2DS2-VASc for everyone with atrial fibrillation, with each component's points.

    Lip GYH et al., Chest 2010;137(2):263-272, as NICE NG196 (2021) uses it: congestive
    heart failure 1, hypertension 1, age 75 or over 2, diabetes 1, stroke/TIA/
    thromboembolism 2, vascular disease 1, age 65 to 74 1, female 1 (0 to 9).
    """

    def flag(name: str) -> Table:
        return has_condition(lake, name).mutate(**{name: ibis.literal(1)})

    af = has_condition(lake, "atrial_fibrillation")
    scored = af.join(lake.person, "person_id").select("person_id", "age", "sex")
    for name in ("heart_failure", "hypertension", "diabetes", "stroke_tia", "vascular_disease"):
        scored = scored.left_join(flag(name), "person_id").drop("person_id_right")
        scored = scored.mutate(**{name: scored[name].fill_null(0)})
    scored = scored.mutate(
        age_points=ibis.cases((_.age >= 75, 2), (_.age >= 65, 1), else_=0),
        female=(_.sex == "female").cast("int8"),
    )
    return scored.mutate(
        score=(
            _.heart_failure
            + _.hypertension
            + _.age_points
            + _.diabetes
            + 2 * _.stroke_tia
            + _.vascular_disease
            + _.female
        ).cast("int32")
    ).select(
        "person_id",
        "heart_failure",
        "hypertension",
        "age_points",
        "diabetes",
        "stroke_tia",
        "vascular_disease",
        "female",
        "score",
    )


@_kept
def efi(lake: Lake) -> Table:
    """The electronic Frailty Index for every person: deficits, score (deficits / 36) and
    category. Polypharmacy: five or more different medicines on active prescriptions."""
    found = []
    for deficit, lists in EFI_DEFICITS.items():
        codes = [code for name in lists for code in CODE_LISTS[name]]
        if codes:
            people = lake.condition.filter(_.code.isin(codes)).select("person_id").distinct()
            found.append(people.mutate(deficit=ibis.literal(deficit)))
    active = lake.medication.filter(_.status == "active")
    many = (
        active.group_by("person_id")
        .aggregate(medicines=_.code.nunique())
        .filter(_.medicines >= 5)
        .select("person_id")
    )
    found.append(many.mutate(deficit=ibis.literal("polypharmacy")))
    counts = ibis.union(*found).group_by("person_id").aggregate(deficits=_.deficit.nunique())
    joined = lake.person.select("person_id").left_join(counts, "person_id")
    scored = joined.select("person_id", deficits=joined.deficits.fill_null(0).cast("int32")).mutate(
        score=(_.deficits / len(EFI_DEFICITS)).round(4)
    )
    # By whole deficits: fit 0-4, mild 5-8, moderate 9-12, severe 13+ (the cut-offs x 36).
    return scored.mutate(
        category=ibis.cases(
            (_.deficits <= 4, "fit"),
            (_.deficits <= 8, "mild"),
            (_.deficits <= 12, "moderate"),
            else_="severe",
        )
    )


@_kept
def multimorbidity(lake: Lake) -> Table:
    """For every person, how many of :data:`MULTIMORBIDITY_CONDITIONS` they have recorded."""
    clusters = [
        has_condition(lake, name).mutate(condition=ibis.literal(name))
        for name in MULTIMORBIDITY_CONDITIONS
    ]
    recorded = ibis.union(*clusters)
    counts = recorded.group_by("person_id").aggregate(conditions=_.condition.nunique())
    joined = lake.person.select("person_id").left_join(counts, "person_id")
    return joined.select("person_id", conditions=joined.conditions.fill_null(0).cast("int32"))


@_kept
def emergency_admissions(lake: Lake, as_of: date, *, days: int = 365) -> Table:
    """Emergency admissions in the ``days`` before ``as_of`` per person who had one:
    ``person_id``, ``admissions``."""
    since = as_of - timedelta(days=days)
    admitted = lake.admission.filter(
        _.emergency, _.admitted.date() > since, _.admitted.date() <= as_of
    )
    return admitted.group_by("person_id").aggregate(admissions=_.count())


#: Bridges to Health segments (Lynn J et al., Milbank Quarterly 2007;85(2):185-208), in the
#: order a person is assigned: the first that applies, highest need first.
BRIDGES_TO_HEALTH: Final = (
    "Short period of decline before dying",
    "Long-term frailty",
    "Advanced organ system failure",
    "Serious but stable disability",
    "Stable chronic conditions",
    "Acutely ill, likely to recover",
    "Maternal and infant health",
    "Healthy",
)


def _flag(people: Table, name: str, table: Table) -> Table:
    """``people`` with a 0/1 column ``name``: whether each person is in ``table``."""
    marked = table.select("person_id").distinct().mutate(**{name: ibis.literal(1)})
    joined = people.left_join(marked, "person_id").drop("person_id_right")
    return joined.mutate(**{name: joined[name].fill_null(0)})


@_kept
def bridges_to_health(lake: Lake, as_of: date) -> Table:
    """Each person's Bridges to Health segment (``segment``, and ``segment_order`` 1 to 8
    in :data:`BRIDGES_TO_HEALTH`'s order), from what the joined-up record holds.

    Lynn et al. define the segments by need, not by code; these rules make them
    operational on a GP-led record, as NHS population-health segmentations do:

    1. decline before dying: a cancer and an emergency admission in the last 12 months;
    2. long-term frailty: dementia, or severe frailty (eFI);
    3. advanced organ failure: heart failure, COPD or CKD stage 4-5, with an emergency
       admission in the last 12 months;
    4. serious but stable disability: severe mental illness, Parkinsonism, a stroke, or
       moderate frailty under 65;
    5. stable chronic conditions: any long-term condition of the multimorbidity count;
    6. acutely ill: an emergency admission or an A&E attendance in the last 12 months;
    7. maternal and infant health: infants under one (pregnancy is not in the lake yet);
    8. healthy: everyone else.
    """
    since = as_of - timedelta(days=365)
    admitted = emergency_admissions(lake, as_of)
    attended = lake.ae_attendance.filter(
        _.arrival.date() > since, _.arrival.date() <= as_of
    ).select("person_id")
    frailty = efi(lake)

    def condition_in(*names: str) -> Table:
        codes = [code for name in names for code in CODE_LISTS[name]]
        return lake.condition.filter(_.code.isin(codes)).select("person_id")

    people = lake.person.select("person_id", "age")
    flags: dict[str, Table] = {
        "cancer": condition_in("cancer"),
        "dementia": condition_in("dementia"),
        "organ_failure": condition_in("heart_failure", "copd", "ckd_4_5"),
        "disability": condition_in("severe_mental_illness", "parkinsonism", "stroke"),
        "chronic": condition_in(*MULTIMORBIDITY_CONDITIONS),
        "admitted": admitted,
        "attended": attended,
        "severe_frailty": frailty.filter(_.category == "severe"),
        "moderate_frailty": frailty.filter(_.category == "moderate"),
    }
    for name, table in flags.items():
        people = _flag(people, name, table)
    p = people
    segment = ibis.cases(
        ((p.cancer == 1) & (p.admitted == 1), 1),
        ((p.dementia == 1) | (p.severe_frailty == 1), 2),
        ((p.organ_failure == 1) & (p.admitted == 1), 3),
        ((p.disability == 1) | ((p.moderate_frailty == 1) & (p.age < 65)), 4),
        (p.chronic == 1, 5),
        ((p.admitted == 1) | (p.attended == 1), 6),
        (p.age < 1, 7),
        else_=8,
    )
    ordered = people.select("person_id", segment_order=segment.cast("int32"))
    names = ibis.cases(
        *((ordered.segment_order == i, name) for i, name in enumerate(BRIDGES_TO_HEALTH, 1))
    )
    return ordered.mutate(segment=names)


#: What makes a person vulnerable enough to be offered proactive support (shielding in the
#: sense of the seeds: "identify and shield the most vulnerable"): each a column of
#: :func:`vulnerability`. The clinical groups follow NHS Digital's Shielded Patient List
#: (clinically extremely vulnerable: specific cancers, severe respiratory disease, CKD stage
#: 5); the social ones the ICS's own concern for people at home alone.
VULNERABILITY_REASONS: Final = {
    "severe_frailty": "severe frailty (eFI)",
    "lung_cancer": "lung cancer",
    "ckd_stage_5": "chronic kidney disease stage 5",
    "severe_respiratory": "COPD with an emergency admission in the last 12 months",
    "alone_and_housebound": "lives alone and housebound",
    "alone_with_dementia": "lives alone with dementia",
}


@_kept
def vulnerability(lake: Lake, as_of: date) -> Table:
    """Everyone, with a 0/1 column per reason in :data:`VULNERABILITY_REASONS` and
    ``vulnerable`` (1 when any reason applies)."""

    def condition_in(*names: str) -> Table:
        codes = [code for name in names for code in CODE_LISTS[name]]
        return lake.condition.filter(_.code.isin(codes)).select("person_id")

    def both(a: Table, b: Table) -> Table:
        return a.distinct().semi_join(b, "person_id")

    alone = condition_in("social_vulnerability")
    reasons: dict[str, Table] = {
        "severe_frailty": efi(lake).filter(_.category == "severe"),
        "lung_cancer": condition_in("lung_cancer"),
        "ckd_stage_5": condition_in("ckd_5"),
        "severe_respiratory": both(condition_in("copd"), emergency_admissions(lake, as_of)),
        "alone_and_housebound": both(alone, condition_in("housebound")),
        "alone_with_dementia": both(alone, condition_in("dementia")),
    }
    people = lake.person.select("person_id")
    for name, table in reasons.items():
        people = _flag(people, name, table)
    any_reason = sum((people[name] for name in reasons), ibis.literal(0))
    return people.mutate(vulnerable=(any_reason > 0).cast("int8"))


def cha2ds2_vasc_points(
    *,
    age: int,
    female: bool,
    heart_failure: bool,
    hypertension: bool,
    diabetes: bool,
    stroke_tia: bool,
    vascular_disease: bool,
) -> int:
    """CHA2DS2-VASc by hand, term by term as published (the reference the tests hold the
    Ibis expression to)."""
    return (
        int(heart_failure)
        + int(hypertension)
        + (2 if age >= 75 else 1 if age >= 65 else 0)
        + int(diabetes)
        + 2 * int(stroke_tia)
        + int(vascular_disease)
        + int(female)
    )
