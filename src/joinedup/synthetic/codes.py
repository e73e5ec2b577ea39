"""The clinical codes the synthetic ICS uses, and the condition model's parameters.

Every code carries its code system and display. Conditions, findings and observables are
SNOMED CT (with LOINC alongside for observations, as UK Core allows); medicines are dm+d
(NHS Dictionary of Medicines and Devices), whose concepts live in the SNOMED CT UK Drug
Extension and so are sent with the SNOMED CT system URI, as UK Core does.

Verification: condition codes are the ones the platform's brief names (checked against
NHS England's QOF refsets as published through OpenCodelists where possible). Medicine
codes were checked against public listings where this could be done offline; the ones
that could not be checked against the dm+d release are listed in :data:`UNVERIFIED_CODES`
and marked in a comment. They are plausible, realistic-looking codes for a synthetic
record, not a reference: never use this module to code real patients' data.

The condition model (see :mod:`joinedup.synthetic.health`) is a liability-threshold
model: each condition has an age curve of prevalence, scaled so that on England's age
structure (ONS 2021 Census) it gives England's QOF prevalence (2022/23, approximate, from
DOMAIN.md); a sex multiplier; a deprivation gradient; and loadings on a shared latent
health term and on a cluster term (cardiometabolic, respiratory, mental health...), so
that multimorbidity clusters as it does in real populations.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

SNOMED: Final = "http://snomed.info/sct"
LOINC: Final = "http://loinc.org"
UCUM: Final = "http://unitsofmeasure.org"


@dataclass(frozen=True, slots=True)
class Code:
    """A coded concept: code system URI, code and display."""

    system: str
    code: str
    display: str

    def coding(self) -> dict[str, str]:
        """The FHIR ``Coding`` for this code."""
        return {"system": self.system, "code": self.code, "display": self.display}


def snomed(code: str, display: str) -> Code:
    """A SNOMED CT code."""
    return Code(SNOMED, code, display)


def loinc(code: str, display: str) -> Code:
    """A LOINC code."""
    return Code(LOINC, code, display)


def dmd(code: str, display: str) -> Code:
    """A dm+d medicine (a SNOMED CT UK Drug Extension concept, sent with the SNOMED URI)."""
    return Code(SNOMED, code, display)


# --- England's and Cornwall's age structure -------------------------------------------------

#: Five-year age bands used everywhere in the generator (the last is open: 90 and over).
AGE_BAND_STARTS: Final = tuple(range(0, 95, 5))

#: England, Census 2021 (ONS, usual residents), per cent of all people in each 5-year band,
#: rounded to one decimal place (order of magnitude; 65+ = about 18.4%).
ENGLAND_AGE_PERCENT: Final = (
    5.4, 5.9, 6.0, 5.6, 6.0, 6.7, 6.9, 6.6, 6.3, 6.4,
    6.9, 6.7, 5.8, 4.9, 5.0, 3.6, 2.5, 1.5, 0.8,
)  # fmt: skip

#: Cornwall and the Isles of Scilly, Census 2021 (ONS), per cent in each 5-year band (order of
#: magnitude): an older population than England's, with about 26% aged 65 and over and about
#: 16% under 16.
CORNWALL_AGE_PERCENT: Final = (
    4.5, 5.1, 5.4, 5.0, 4.6, 5.2, 5.6, 5.5, 5.3, 5.8,
    7.0, 7.4, 7.3, 6.9, 7.5, 5.4, 3.5, 2.0, 1.1,
)  # fmt: skip

#: Share of men in each band (Census 2021 order of magnitude: slightly more boys than girls,
#: more women than men from the late 60s as men die younger).
MALE_SHARE_BY_BAND: Final = (
    0.512, 0.512, 0.512, 0.512, 0.505, 0.495, 0.492, 0.490, 0.490, 0.490,
    0.490, 0.488, 0.485, 0.480, 0.472, 0.460, 0.440, 0.400, 0.320,
)  # fmt: skip


def band_weights(percent: tuple[float, ...]) -> tuple[float, ...]:
    """Band percentages normalised to proportions that sum to 1."""
    total = sum(percent)
    return tuple(p / total for p in percent)


# --- Conditions --------------------------------------------------------------------------------

#: Latent clusters a condition can load on, besides the general health term.
CLUSTERS: Final = ("cardiometabolic", "respiratory", "mental", "cancer", "frailty", "none")


@dataclass(frozen=True, slots=True)
class ConditionModel:
    """How common a long-term condition is, by age, sex and deprivation, and what clusters it.

    ``age_curve`` gives (age, relative prevalence) anchors, interpolated linearly between;
    :func:`calibrated_scale` scales them so that on England's age structure the prevalence in
    the denominator (people aged ``denominator_age`` and over, as in QOF) is
    ``england_prevalence``. ``male_ratio`` is the male:female prevalence ratio (``None`` for
    a one-sex condition, see ``sex``). ``deprivation_ratio`` is the prevalence in the most
    deprived decile over the least deprived. ``general`` and ``cluster_loading`` are the
    liability's loadings on the shared health term and its cluster's term.
    """

    key: str
    code: Code
    england_prevalence: float
    age_curve: tuple[tuple[float, float], ...]
    denominator_age: int = 0
    male_ratio: float = 1.0
    sex: str | None = None  # "female" or "male" for a one-sex condition
    deprivation_ratio: float = 1.5
    general: float = 0.4
    cluster: str = "none"
    cluster_loading: float = 0.0
    earliest_onset_age: int = 18
    max_duration_years: float = 20.0
    frailty_deficit: bool = False  # an Electronic Frailty Index deficit recorded as a finding

    def __post_init__(self) -> None:
        if self.cluster not in CLUSTERS:
            raise ValueError(f"condition {self.key}: unknown cluster {self.cluster}")
        if self.general**2 + self.cluster_loading**2 >= 1.0:
            raise ValueError(f"condition {self.key}: loadings leave no room for noise")


def _c(code: str, display: str) -> Code:
    return snomed(code, display)


_CV = "cardiometabolic"

#: How findings recorded mostly in later life rise with age (relative; scaled to prevalence).
_LATER_LIFE: Final = ((0, 0), (30, 0.01), (50, 0.04), (65, 0.12), (75, 0.22), (85, 0.35), (90, 0.4))
#: How findings recorded at any adult age rise with age.
_ADULT_LIFE: Final = ((0, 0), (18, 0.04), (40, 0.07), (60, 0.11), (75, 0.16), (90, 0.2))


def _finding(
    key: str,
    code: str,
    display: str,
    prevalence: float,
    curve: tuple[tuple[float, float], ...] = _LATER_LIFE,
    *,
    male_ratio: float = 1.0,
    earliest_onset_age: int = 18,
) -> ConditionModel:
    """An Electronic Frailty Index deficit recorded as a finding or a disorder: it loads on
    the frailty cluster, so deficits gather in the frail as Clegg et al. (2016) found."""
    return ConditionModel(
        key,
        _c(code, display),
        prevalence,
        curve,
        male_ratio=male_ratio,
        deprivation_ratio=1.4,
        general=0.2,
        cluster="frailty",
        cluster_loading=0.25,
        earliest_onset_age=earliest_onset_age,
        max_duration_years=15,
        frailty_deficit=True,
    )


#: The other deficits of the eFI's 36 (Clegg et al., Age and Ageing 2016;45:353, Table 1),
#: one coded finding each (the published eFI code sets hold many codes per deficit). The
#: prevalences are all-age figures chosen so that, with the conditions above, people aged 65
#: and over fall into the eFI categories about as Clegg et al. report for English primary
#: care: about half fit, a third mildly frail, an eighth moderately and a few per cent
#: severely frail (checked by tests/unit/test_synthetic_health.py).
_EFI_FINDINGS: Final = (
    _finding(
        "activity_limitation", "284545001", "Difficulty performing personal care activity", 0.05
    ),
    _finding("anaemia", "271737000", "Anemia", 0.08, _ADULT_LIFE, male_ratio=0.6),
    _finding("dizziness", "404640003", "Dizziness", 0.1, _ADULT_LIFE),
    _finding("dyspnoea", "267036007", "Dyspnea", 0.09),
    _finding("foot_problems", "202855006", "Hallux valgus", 0.08, male_ratio=0.5),
    _finding(
        "fragility_fracture",
        "5913000",
        "Fracture of neck of femur",
        0.024,
        male_ratio=0.4,
        earliest_onset_age=50,
    ),
    _finding("heart_valve_disease", "368009", "Heart valve disorder", 0.03),
    _finding("hypotension_syncope", "271594007", "Syncope", 0.06, _ADULT_LIFE),
    _finding("mobility_problems", "8510008", "Reduced mobility", 0.06, earliest_onset_age=40),
    _finding(
        "parkinsonism",
        "49049000",
        "Parkinson's disease",
        0.008,
        male_ratio=1.5,
        earliest_onset_age=40,
    ),
    _finding("peptic_ulcer", "13200003", "Peptic ulcer", 0.03, _ADULT_LIFE),
    _finding(
        "requirement_for_care", "224974001", "Receives care from carer", 0.04, earliest_onset_age=50
    ),
    _finding("skin_ulcer", "46742003", "Skin ulcer", 0.03),
    _finding("sleep_disturbance", "193462001", "Insomnia", 0.12, _ADULT_LIFE),
    _finding("social_vulnerability", "105529008", "Lives alone", 0.1),
    _finding(
        "urinary_system_disease",
        "68566005",
        "Urinary tract infectious disease",
        0.12,
        _ADULT_LIFE,
        male_ratio=0.3,
    ),
    _finding("weight_loss", "89362005", "Weight loss", 0.04),
)

#: Every condition the generator models, by key (the key is what ``Diagnosis.condition`` holds).
#: Age curves are shaped on QOF/CPRD age-specific prevalence (order of magnitude).
CONDITIONS: Final = MappingProxyType(
    {
        m.key: m
        for m in (
            ConditionModel(
                "hypertension",
                _c("38341003", "Hypertensive disorder, systemic arterial"),
                0.145,
                (
                    (0, 0),
                    (17, 0),
                    (20, 0.01),
                    (30, 0.03),
                    (40, 0.08),
                    (50, 0.2),
                    (60, 0.36),
                    (70, 0.52),
                    (80, 0.62),
                    (90, 0.65),
                ),
                male_ratio=1.1,
                deprivation_ratio=1.3,
                general=0.35,
                cluster=_CV,
                cluster_loading=0.45,
                earliest_onset_age=25,
                max_duration_years=25,
            ),
            ConditionModel(
                "type_2_diabetes",
                _c("44054006", "Diabetes mellitus type 2"),
                0.07,
                (
                    (0, 0),
                    (15, 0),
                    (20, 0.005),
                    (30, 0.015),
                    (40, 0.04),
                    (50, 0.09),
                    (60, 0.14),
                    (70, 0.19),
                    (80, 0.2),
                    (90, 0.15),
                ),
                denominator_age=17,
                male_ratio=1.3,
                deprivation_ratio=2.0,
                general=0.35,
                cluster=_CV,
                cluster_loading=0.45,
                earliest_onset_age=25,
            ),
            ConditionModel(
                "type_1_diabetes",
                _c("46635009", "Diabetes mellitus type 1"),
                0.005,
                (
                    (0, 0),
                    (2, 0.001),
                    (10, 0.003),
                    (20, 0.006),
                    (50, 0.006),
                    (80, 0.004),
                    (90, 0.002),
                ),
                denominator_age=17,
                male_ratio=1.2,
                deprivation_ratio=1.1,
                general=0.1,
                earliest_onset_age=1,
                max_duration_years=60,
            ),
            ConditionModel(
                "asthma",
                _c("195967001", "Asthma"),
                0.065,
                (
                    (0, 0),
                    (3, 0.03),
                    (8, 0.08),
                    (15, 0.09),
                    (30, 0.07),
                    (60, 0.07),
                    (80, 0.06),
                    (90, 0.05),
                ),
                male_ratio=0.85,
                deprivation_ratio=1.3,
                general=0.2,
                cluster="respiratory",
                cluster_loading=0.4,
                earliest_onset_age=2,
                max_duration_years=50,
            ),
            ConditionModel(
                "copd",
                _c("13645005", "Chronic obstructive lung disease"),
                0.019,
                (
                    (0, 0),
                    (34, 0),
                    (40, 0.003),
                    (50, 0.012),
                    (60, 0.035),
                    (70, 0.06),
                    (80, 0.075),
                    (90, 0.065),
                ),
                male_ratio=1.15,
                deprivation_ratio=3.0,
                general=0.45,
                cluster="respiratory",
                cluster_loading=0.4,
                earliest_onset_age=38,
                max_duration_years=15,
            ),
            ConditionModel(
                "atrial_fibrillation",
                _c("49436004", "Atrial fibrillation"),
                0.021,
                (
                    (0, 0),
                    (30, 0),
                    (40, 0.002),
                    (50, 0.006),
                    (60, 0.02),
                    (70, 0.055),
                    (80, 0.11),
                    (90, 0.16),
                ),
                male_ratio=1.4,
                deprivation_ratio=1.0,
                general=0.4,
                cluster=_CV,
                cluster_loading=0.3,
                earliest_onset_age=35,
                max_duration_years=15,
            ),
            ConditionModel(
                "heart_failure",
                _c("84114007", "Heart failure"),
                0.01,
                (
                    (0, 0),
                    (35, 0),
                    (45, 0.001),
                    (55, 0.004),
                    (65, 0.012),
                    (75, 0.035),
                    (85, 0.08),
                    (90, 0.1),
                ),
                male_ratio=1.4,
                deprivation_ratio=1.8,
                general=0.5,
                cluster=_CV,
                cluster_loading=0.35,
                earliest_onset_age=40,
                max_duration_years=10,
            ),
            ConditionModel(
                "ischaemic_heart_disease",
                _c("414545008", "Ischemic heart disease"),
                0.03,
                (
                    (0, 0),
                    (30, 0),
                    (40, 0.004),
                    (50, 0.018),
                    (60, 0.05),
                    (70, 0.1),
                    (80, 0.15),
                    (90, 0.17),
                ),
                male_ratio=1.8,
                deprivation_ratio=2.0,
                general=0.4,
                cluster=_CV,
                cluster_loading=0.4,
                earliest_onset_age=35,
            ),
            ConditionModel(
                "ckd_stage_3",
                _c("433144002", "Chronic kidney disease stage 3"),
                0.037,
                (
                    (0, 0),
                    (25, 0),
                    (40, 0.005),
                    (50, 0.015),
                    (60, 0.04),
                    (70, 0.1),
                    (80, 0.22),
                    (90, 0.32),
                ),
                denominator_age=18,
                male_ratio=0.8,
                deprivation_ratio=1.4,
                general=0.45,
                cluster=_CV,
                cluster_loading=0.35,
                earliest_onset_age=35,
                max_duration_years=12,
            ),
            ConditionModel(
                "ckd_stage_4",
                _c("431857002", "Chronic kidney disease stage 4"),
                0.0025,
                ((0, 0), (30, 0), (50, 0.001), (70, 0.006), (80, 0.015), (90, 0.025)),
                denominator_age=18,
                male_ratio=1.0,
                deprivation_ratio=1.5,
                general=0.55,
                cluster=_CV,
                cluster_loading=0.35,
                earliest_onset_age=40,
                max_duration_years=6,
            ),
            ConditionModel(
                "ckd_stage_5",
                _c("433146000", "Chronic kidney disease stage 5"),
                0.0008,
                ((0, 0), (20, 0.0002), (50, 0.0008), (70, 0.0015), (90, 0.002)),
                denominator_age=18,
                male_ratio=1.3,
                deprivation_ratio=1.6,
                general=0.55,
                cluster=_CV,
                cluster_loading=0.3,
                earliest_onset_age=20,
                max_duration_years=8,
            ),
            ConditionModel(
                "depression",
                _c("35489007", "Depressive disorder"),
                0.13,
                (
                    (0, 0),
                    (12, 0),
                    (18, 0.1),
                    (25, 0.15),
                    (40, 0.16),
                    (55, 0.15),
                    (70, 0.11),
                    (85, 0.1),
                    (90, 0.1),
                ),
                denominator_age=18,
                male_ratio=0.55,
                deprivation_ratio=1.7,
                general=0.3,
                cluster="mental",
                cluster_loading=0.45,
                earliest_onset_age=14,
            ),
            ConditionModel(
                "schizophrenia",
                _c("58214004", "Schizophrenia"),
                0.0055,
                ((0, 0), (16, 0), (20, 0.004), (30, 0.007), (50, 0.007), (70, 0.005), (90, 0.003)),
                male_ratio=1.6,
                deprivation_ratio=3.0,
                general=0.3,
                cluster="mental",
                cluster_loading=0.5,
                earliest_onset_age=16,
                max_duration_years=40,
            ),
            ConditionModel(
                "bipolar_disorder",
                _c("13746004", "Bipolar disorder"),
                0.0045,
                ((0, 0), (16, 0), (20, 0.003), (30, 0.006), (50, 0.006), (70, 0.004), (90, 0.002)),
                male_ratio=0.9,
                deprivation_ratio=2.0,
                general=0.25,
                cluster="mental",
                cluster_loading=0.5,
                earliest_onset_age=16,
                max_duration_years=40,
            ),
            ConditionModel(
                "dementia",
                _c("52448006", "Dementia"),
                0.0075,
                (
                    (0, 0),
                    (55, 0),
                    (60, 0.002),
                    (65, 0.006),
                    (70, 0.014),
                    (75, 0.03),
                    (80, 0.06),
                    (85, 0.11),
                    (90, 0.2),
                ),
                male_ratio=0.75,
                deprivation_ratio=1.3,
                general=0.45,
                cluster="frailty",
                cluster_loading=0.4,
                earliest_onset_age=55,
                max_duration_years=8,
            ),
            ConditionModel(
                "stroke",
                _c("230690007", "Cerebrovascular accident"),
                0.012,
                (
                    (0, 0),
                    (30, 0),
                    (40, 0.002),
                    (50, 0.006),
                    (60, 0.015),
                    (70, 0.035),
                    (80, 0.06),
                    (90, 0.08),
                ),
                male_ratio=1.2,
                deprivation_ratio=1.6,
                general=0.45,
                cluster=_CV,
                cluster_loading=0.35,
                earliest_onset_age=30,
                max_duration_years=15,
            ),
            ConditionModel(
                "tia",
                _c("266257000", "Transient ischemic attack"),
                0.006,
                (
                    (0, 0),
                    (35, 0),
                    (45, 0.001),
                    (55, 0.004),
                    (65, 0.01),
                    (75, 0.02),
                    (85, 0.03),
                    (90, 0.03),
                ),
                male_ratio=1.1,
                deprivation_ratio=1.4,
                general=0.35,
                cluster=_CV,
                cluster_loading=0.35,
                earliest_onset_age=35,
                max_duration_years=15,
            ),
            ConditionModel(
                "breast_cancer",
                _c("254837009", "Malignant neoplasm of breast"),
                0.012,
                (
                    (0, 0),
                    (25, 0),
                    (35, 0.002),
                    (45, 0.01),
                    (55, 0.025),
                    (65, 0.04),
                    (75, 0.05),
                    (85, 0.055),
                    (90, 0.05),
                ),
                sex="female",
                deprivation_ratio=0.9,
                general=0.15,
                cluster="cancer",
                cluster_loading=0.3,
                earliest_onset_age=25,
            ),
            ConditionModel(
                "prostate_cancer",
                _c("399068003", "Malignant tumor of prostate"),
                0.008,
                ((0, 0), (45, 0), (55, 0.006), (65, 0.03), (75, 0.07), (85, 0.1), (90, 0.1)),
                sex="male",
                deprivation_ratio=0.9,
                general=0.15,
                cluster="cancer",
                cluster_loading=0.3,
                earliest_onset_age=45,
                max_duration_years=15,
            ),
            ConditionModel(
                "colon_cancer",
                _c("363406005", "Malignant neoplasm of colon"),
                0.005,
                (
                    (0, 0),
                    (35, 0),
                    (45, 0.001),
                    (55, 0.004),
                    (65, 0.01),
                    (75, 0.02),
                    (85, 0.025),
                    (90, 0.025),
                ),
                male_ratio=1.2,
                deprivation_ratio=1.1,
                general=0.2,
                cluster="cancer",
                cluster_loading=0.3,
                earliest_onset_age=35,
                max_duration_years=12,
            ),
            ConditionModel(
                "lung_cancer",
                _c("363358000", "Malignant tumor of lung"),
                0.0015,
                ((0, 0), (40, 0), (50, 0.0005), (60, 0.002), (70, 0.005), (80, 0.007), (90, 0.006)),
                male_ratio=1.2,
                deprivation_ratio=2.5,
                general=0.35,
                cluster="cancer",
                cluster_loading=0.3,
                earliest_onset_age=40,
                max_duration_years=5,
            ),
            ConditionModel(
                "peripheral_arterial_disease",
                _c("400047006", "Peripheral vascular disease"),
                0.006,
                ((0, 0), (40, 0), (50, 0.003), (60, 0.01), (70, 0.022), (80, 0.035), (90, 0.04)),
                male_ratio=1.6,
                deprivation_ratio=2.0,
                general=0.4,
                cluster=_CV,
                cluster_loading=0.4,
                earliest_onset_age=40,
                max_duration_years=12,
            ),
            ConditionModel(
                "osteoporosis",
                _c("64859006", "Osteoporosis"),
                0.012,
                ((0, 0), (45, 0), (55, 0.01), (65, 0.03), (75, 0.06), (85, 0.1), (90, 0.12)),
                male_ratio=0.2,
                deprivation_ratio=1.1,
                general=0.3,
                cluster="frailty",
                cluster_loading=0.4,
                earliest_onset_age=45,
                max_duration_years=15,
            ),
            ConditionModel(
                "hypothyroidism",
                _c("40930008", "Hypothyroidism"),
                0.035,
                ((0, 0), (15, 0.002), (30, 0.015), (45, 0.035), (60, 0.06), (75, 0.08), (90, 0.08)),
                male_ratio=0.2,
                deprivation_ratio=1.0,
                general=0.15,
                earliest_onset_age=15,
                max_duration_years=30,
            ),
            # Frailty itself, coded by the practice for people whose frailty is moderate or severe.
            ConditionModel(
                "frailty",
                _c("248279007", "Frailty"),
                0.025,
                ((0, 0), (60, 0), (65, 0.02), (75, 0.07), (85, 0.2), (90, 0.35)),
                male_ratio=0.75,
                deprivation_ratio=1.5,
                general=0.5,
                cluster="frailty",
                cluster_loading=0.6,
                earliest_onset_age=60,
                max_duration_years=5,
            ),
            # Electronic Frailty Index deficits (Clegg et al. 2016) recorded as findings: they
            # load strongly on the frailty cluster so they gather in the frail.
            ConditionModel(
                "falls",
                _c("161898004", "Falls"),
                0.03,
                ((0, 0), (50, 0), (60, 0.01), (70, 0.04), (80, 0.12), (90, 0.25)),
                male_ratio=0.8,
                deprivation_ratio=1.2,
                general=0.45,
                cluster="frailty",
                cluster_loading=0.55,
                earliest_onset_age=50,
                max_duration_years=5,
                frailty_deficit=True,
            ),
            ConditionModel(
                "urinary_incontinence",
                _c("165232002", "Urinary incontinence"),
                0.025,
                ((0, 0), (40, 0), (50, 0.01), (65, 0.03), (80, 0.09), (90, 0.15)),
                male_ratio=0.5,
                deprivation_ratio=1.1,
                general=0.35,
                cluster="frailty",
                cluster_loading=0.5,
                earliest_onset_age=40,
                max_duration_years=10,
                frailty_deficit=True,
            ),
            ConditionModel(
                "hearing_loss",
                _c("15188001", "Hearing loss"),
                0.04,
                ((0, 0), (40, 0.005), (55, 0.02), (70, 0.08), (80, 0.16), (90, 0.25)),
                male_ratio=1.3,
                deprivation_ratio=1.1,
                general=0.2,
                cluster="frailty",
                cluster_loading=0.4,
                earliest_onset_age=40,
                max_duration_years=20,
                frailty_deficit=True,
            ),
            ConditionModel(
                "visual_impairment",
                _c("397540003", "Visual impairment"),
                0.015,
                ((0, 0), (40, 0.002), (60, 0.006), (75, 0.03), (85, 0.08), (90, 0.12)),
                male_ratio=0.9,
                deprivation_ratio=1.2,
                general=0.3,
                cluster="frailty",
                cluster_loading=0.45,
                earliest_onset_age=40,
                max_duration_years=15,
                frailty_deficit=True,
            ),
            ConditionModel(
                "memory_impairment",
                _c("386807006", "Memory impairment"),
                0.01,
                ((0, 0), (50, 0), (60, 0.005), (70, 0.015), (80, 0.04), (90, 0.07)),
                male_ratio=0.9,
                deprivation_ratio=1.2,
                general=0.4,
                cluster="frailty",
                cluster_loading=0.5,
                earliest_onset_age=50,
                max_duration_years=5,
                frailty_deficit=True,
            ),
            ConditionModel(
                "osteoarthritis",
                _c("396275006", "Osteoarthritis"),
                0.09,
                (
                    (0, 0),
                    (35, 0.005),
                    (45, 0.04),
                    (55, 0.1),
                    (65, 0.18),
                    (75, 0.26),
                    (85, 0.3),
                    (90, 0.3),
                ),
                male_ratio=0.7,
                deprivation_ratio=1.3,
                general=0.3,
                cluster="frailty",
                cluster_loading=0.35,
                earliest_onset_age=35,
                max_duration_years=25,
                frailty_deficit=True,
            ),
            ConditionModel(
                "housebound",
                _c("160689007", "Housebound"),
                0.008,
                ((0, 0), (60, 0), (70, 0.01), (80, 0.04), (85, 0.09), (90, 0.16)),
                male_ratio=0.7,
                deprivation_ratio=1.3,
                general=0.5,
                cluster="frailty",
                cluster_loading=0.55,
                earliest_onset_age=60,
                max_duration_years=4,
                frailty_deficit=True,
            ),
            *_EFI_FINDINGS,
        )
    }
)

#: Conditions grouped as the indicators in DOMAIN.md count them.
CANCERS: Final = ("breast_cancer", "prostate_cancer", "colon_cancer", "lung_cancer")
CKD_3_TO_5: Final = ("ckd_stage_3", "ckd_stage_4", "ckd_stage_5")
SERIOUS_MENTAL_ILLNESS: Final = ("schizophrenia", "bipolar_disorder")
DIABETES: Final = ("type_1_diabetes", "type_2_diabetes")
VASCULAR_DISEASE: Final = ("ischaemic_heart_disease", "peripheral_arterial_disease")


def age_curve_value(model: ConditionModel, age: float) -> float:
    """The condition's relative prevalence at ``age`` (linear between the anchors)."""
    anchors = model.age_curve
    if age <= anchors[0][0]:
        return anchors[0][1]
    for (a0, v0), (a1, v1) in itertools.pairwise(anchors):
        if age <= a1:
            return v0 + (v1 - v0) * (age - a0) / (a1 - a0)
    return anchors[-1][1]


def deprivation_multiplier(ratio: float, decile: int) -> float:
    """Relative prevalence in IMD ``decile`` (1 most deprived) for a most:least ``ratio``.

    Log-linear across deciles and normalised so the mean over the ten national deciles is 1:
    the national prevalence is unchanged and only its spread across deciles changes.
    """
    slope = math.log(ratio) / 9.0
    norm = sum(math.exp(slope * (10 - d)) for d in range(1, 11)) / 10.0
    return math.exp(slope * (10 - decile)) / norm


def calibrated_scale(model: ConditionModel) -> float:
    """Scale for ``model.age_curve`` so England's age structure gives ``england_prevalence``.

    Evaluated at each band's middle year; people in the denominator only (QOF counts
    depression and CKD among adults, diabetes from age 17). A one-sex condition's curve is
    per head of the whole population: :func:`joinedup.synthetic.health.prevalence` doubles it
    for that sex and zeroes it for the other.
    """
    weights = band_weights(ENGLAND_AGE_PERCENT)
    cases = 0.0
    denominator = 0.0
    for start, weight in zip(AGE_BAND_STARTS, weights, strict=True):
        width = 5 if start < 90 else 10
        in_denominator = min(1.0, max(0.0, (start + width - model.denominator_age) / width))
        value = age_curve_value(model, start + width / 2)
        cases += weight * in_denominator * value
        denominator += weight * in_denominator
    if cases == 0.0:
        raise ValueError(f"condition {model.key}: age curve is zero everywhere")
    return model.england_prevalence * denominator / cases


# --- Observations ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObservationCode:
    """An observable: its SNOMED CT and LOINC codes, FHIR category and UCUM unit."""

    key: str
    snomed: Code
    loinc: Code | None
    category: str  # FHIR observation-category code: vital-signs, laboratory, social-history
    unit: str  # UCUM code ("" where the value is a code)
    unit_display: str


OBSERVATIONS: Final = MappingProxyType(
    {
        o.key: o
        for o in (
            ObservationCode(
                "blood_pressure",
                snomed("75367002", "Blood pressure"),
                loinc("85354-9", "Blood pressure panel with all children optional"),
                "vital-signs",
                "mm[Hg]",
                "mmHg",
            ),
            ObservationCode(
                "systolic",
                snomed("271649006", "Systolic blood pressure"),
                loinc("8480-6", "Systolic blood pressure"),
                "vital-signs",
                "mm[Hg]",
                "mmHg",
            ),
            ObservationCode(
                "diastolic",
                snomed("271650006", "Diastolic blood pressure"),
                loinc("8462-4", "Diastolic blood pressure"),
                "vital-signs",
                "mm[Hg]",
                "mmHg",
            ),
            ObservationCode(
                "bmi",
                snomed("60621009", "Body mass index"),
                loinc("39156-5", "Body mass index (BMI) [Ratio]"),
                "vital-signs",
                "kg/m2",
                "kg/m2",
            ),
            ObservationCode(
                "hba1c",
                snomed(
                    "999791000000106",
                    "Haemoglobin A1c level - International Federation of Clinical Chemistry "
                    "and Laboratory Medicine standardised",
                ),
                loinc("59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol"),
                "laboratory",
                "mmol/mol",
                "mmol/mol",
            ),
            ObservationCode(
                "egfr",
                snomed("80274001", "Glomerular filtration rate"),  # unverified: see below
                loinc(
                    "62238-1",
                    "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, "
                    "Plasma or Blood by Creatinine-based formula (CKD-EPI)",
                ),
                "laboratory",
                "mL/min/{1.73_m2}",
                "mL/min/1.73m2",
            ),
            ObservationCode(
                "smoking_status",
                snomed("229819007", "Tobacco use and exposure"),
                loinc("72166-2", "Tobacco smoking status"),
                "social-history",
                "",
                "",
            ),
        )
    }
)

#: Smoking status findings (the value of a smoking-status observation).
SMOKING_STATUS: Final = MappingProxyType(
    {
        "smoker": snomed("77176002", "Smoker"),
        "ex_smoker": snomed("8517006", "Ex-smoker"),
        "never": snomed("266919005", "Never smoked tobacco"),
    }
)

# --- Encounters and immunisations ----------------------------------------------------------

#: JoinedUp's own code for a review SNOMED CT has no single concept for here (an ICS maps
#: its own reference set, e.g. the six checks of the SMI physical health check, onto it).
GP_REVIEW_SYSTEM: Final = "https://fhir.joinedup.example/CodeSystem/gp-review"

#: GP appointment types: (type, HL7 v3 ActCode class code, class display).
ENCOUNTER_TYPES: Final = MappingProxyType(
    {
        "surgery": (snomed("185347001", "Encounter for problem"), "AMB", "ambulatory"),
        "review": (snomed("390906007", "Follow-up encounter"), "AMB", "ambulatory"),
        "telephone": (snomed("185317003", "Telephone encounter"), "VR", "virtual"),
        "home_visit": (snomed("439708006", "Home visit"), "HH", "home health"),
        # The yearly reviews QOF and NHS England count (the diabetes care processes; the
        # physical health check for people with severe mental illness).
        "diabetes_review": (snomed("170777000", "Diabetic annual review"), "AMB", "ambulatory"),
        "smi_health_check": (
            Code(
                GP_REVIEW_SYSTEM,
                "smi-annual-health-check",
                "Severe mental illness annual physical health check",
            ),
            "AMB",
            "ambulatory",
        ),
    }
)
ACT_CODE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

#: Seasonal flu vaccination (the procedure, sent in UK Core's VaccinationProcedure extension).
FLU_VACCINATION_PROCEDURE = snomed("822851000000102", "Seasonal influenza vaccination")
#: The vaccines: adjuvanted vaccine for 65 and over (a dm+d AMP seen in public records), and a
#: generic influenza vaccine product for younger people (not verified against dm+d).
FLU_VACCINE_65_PLUS = dmd(
    "40085311000001103",
    "Adjuvanted quadrivalent influenza vaccine (surface antigen, inactivated) suspension for "
    "injection 0.5ml pre-filled syringes (Seqirus UK Ltd)",
)
FLU_VACCINE_UNDER_65 = snomed("1181000221105", "Influenza virus antigen only vaccine product")

# --- Medicines ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Medicine:
    """A medicine as a GP prescribes it: the dm+d product and its usual dosage."""

    key: str
    code: Code
    dosage: str
    quantity: int  # units per 28-day issue
    unit: str


#: dm+d virtual medicinal products (VMPs). Checked: amlodipine, metformin and apixaban against
#: OpenSAFELY codelists and public records; ramipril, losartan, bisoprolol, furosemide,
#: spironolactone and empagliflozin against a public listing of the SNOMED CT clinical-drug
#: concepts whose ids dm+d VMPs share. The rest are in UNVERIFIED_CODES.
MEDICINES: Final = MappingProxyType(
    {
        m.key: m
        for m in (
            Medicine(
                "amlodipine",
                dmd("319283006", "Amlodipine 5mg tablets"),
                "One tablet once a day",
                28,
                "tablet",
            ),
            Medicine(
                "ramipril",
                dmd("318902004", "Ramipril 5mg capsules"),
                "One capsule once a day",
                28,
                "capsule",
            ),
            Medicine(
                "losartan",
                dmd("318956006", "Losartan 50mg tablets"),
                "One tablet once a day",
                28,
                "tablet",
            ),
            Medicine(
                "indapamide",
                dmd("317919004", "Indapamide 2.5mg tablets"),  # unverified
                "One tablet each morning",
                28,
                "tablet",
            ),
            Medicine(
                "bisoprolol",
                dmd("318590006", "Bisoprolol 5mg tablets"),
                "One tablet once a day",
                28,
                "tablet",
            ),
            Medicine(
                "furosemide",
                dmd("317972000", "Furosemide 40mg tablets"),
                "One tablet each morning",
                28,
                "tablet",
            ),
            Medicine(
                "spironolactone",
                dmd("318056008", "Spironolactone 25mg tablets"),
                "One tablet once a day",
                28,
                "tablet",
            ),
            Medicine(
                "metformin",
                dmd("325278007", "Metformin 500mg tablets"),
                "One tablet twice a day with food",
                56,
                "tablet",
            ),
            Medicine(
                "gliclazide",
                dmd("325238001", "Gliclazide 80mg tablets"),  # unverified
                "One tablet twice a day",
                56,
                "tablet",
            ),
            Medicine(
                "empagliflozin",
                dmd("703896005", "Empagliflozin 10mg tablets"),
                "One tablet once a day",
                28,
                "tablet",
            ),
            Medicine(
                "insulin_glargine",  # unverified
                dmd(
                    "10347711000001105",
                    "Insulin glargine 100units/ml solution for "
                    "injection 3ml pre-filled disposable devices",
                ),
                "Inject as directed once a day",
                5,
                "pre-filled disposable injection",
            ),
            Medicine(
                "atorvastatin",
                dmd("320000009", "Atorvastatin 20mg tablets"),  # unverified
                "One tablet at night",
                28,
                "tablet",
            ),
            Medicine(
                "apixaban",
                dmd("703908001", "Apixaban 5mg tablets"),
                "One tablet twice a day",
                56,
                "tablet",
            ),
            Medicine(
                "apixaban_low",
                dmd("703907006", "Apixaban 2.5mg tablets"),
                "One tablet twice a day",
                56,
                "tablet",
            ),
            Medicine(
                "rivaroxaban",
                dmd("442031002", "Rivaroxaban 20mg tablets"),  # unverified
                "One tablet once a day with food",
                28,
                "tablet",
            ),
            Medicine(
                "aspirin",
                dmd("318418001", "Aspirin 75mg dispersible tablets"),  # unverified
                "One tablet once a day",
                28,
                "tablet",
            ),
            Medicine(
                "clopidogrel",
                dmd("408155001", "Clopidogrel 75mg tablets"),  # unverified
                "One tablet once a day",
                28,
                "tablet",
            ),
            Medicine(
                "salbutamol",
                dmd("320176004", "Salbutamol 100micrograms/dose inhaler CFC free"),
                "Two puffs when required",
                1,
                "inhaler",
            ),
            Medicine(
                "beclometasone",  # unverified
                dmd("320121009", "Beclometasone 100micrograms/dose inhaler CFC free"),
                "Two puffs twice a day",
                1,
                "inhaler",
            ),
            Medicine(
                "tiotropium",  # unverified
                dmd("407873000", "Tiotropium bromide 18microgram inhalation powder capsules"),
                "Inhale the contents of one capsule once a day",
                30,
                "capsule",
            ),
            Medicine(
                "sertraline",
                dmd("321964000", "Sertraline 50mg tablets"),  # unverified
                "One tablet once a day",
                28,
                "tablet",
            ),
            Medicine(
                "citalopram",
                dmd("321988005", "Citalopram 20mg tablets"),  # unverified
                "One tablet once a day",
                28,
                "tablet",
            ),
            Medicine(
                "fluoxetine",
                dmd("321949006", "Fluoxetine 20mg capsules"),  # unverified
                "One capsule once a day",
                28,
                "capsule",
            ),
            Medicine(
                "mirtazapine",
                dmd("322004004", "Mirtazapine 15mg tablets"),  # unverified
                "One tablet at night",
                28,
                "tablet",
            ),
            Medicine(
                "olanzapine",
                dmd("320093003", "Olanzapine 10mg tablets"),  # unverified
                "One tablet at night",
                28,
                "tablet",
            ),
            Medicine(
                "aripiprazole",
                dmd("408160006", "Aripiprazole 10mg tablets"),  # unverified
                "One tablet once a day",
                28,
                "tablet",
            ),
            Medicine(
                "quetiapine",
                dmd("321987000", "Quetiapine 100mg tablets"),  # unverified
                "One tablet twice a day",
                56,
                "tablet",
            ),
            Medicine(
                "lithium",  # unverified
                dmd("10312611000001108", "Lithium carbonate 400mg modified-release tablets"),
                "One tablet at night",
                28,
                "tablet",
            ),
            Medicine(
                "donepezil",
                dmd("407651007", "Donepezil 10mg tablets"),  # unverified
                "One tablet at night",
                28,
                "tablet",
            ),
            Medicine(
                "memantine",
                dmd("407704009", "Memantine 10mg tablets"),  # unverified
                "One tablet twice a day",
                56,
                "tablet",
            ),
            Medicine(
                "levothyroxine",  # seen in a public record; not checked against dm+d
                dmd("374296008", "Levothyroxine sodium 100microgram tablets"),
                "One tablet each morning",
                28,
                "tablet",
            ),
            Medicine(
                "alendronic_acid",
                dmd("384453002", "Alendronic acid 70mg tablets"),  # unv.
                "One tablet once a week",
                4,
                "tablet",
            ),
            Medicine(
                "letrozole",
                dmd("385484001", "Letrozole 2.5mg tablets"),  # unverified
                "One tablet once a day",
                28,
                "tablet",
            ),
        )
    }
)

#: Codes that could not be checked against their authoritative release offline. They are kept
#: because a synthetic record needs a code and these are plausible; a real deployment's
#: terminology server would reject the wrong ones, which is a useful test in itself.
UNVERIFIED_CODES: Final = frozenset(
    {
        "80274001",  # eGFR observable (the LOINC code is the one to rely on)
        "229819007",  # tobacco use and exposure (the LOINC code is the one to rely on)
        "1181000221105",  # influenza vaccine product
        "317919004", "325238001", "10347711000001105", "320000009", "442031002", "318418001",
        "408155001", "320121009", "407873000", "321964000", "321988005", "321949006",
        "322004004", "320093003", "408160006", "321987000", "10312611000001108", "407651007",
        "407704009", "374296008", "384453002", "385484001",
        # eFI findings whose concept ids could not be checked offline.
        "284545001", "202855006", "8510008", "224974001", "46742003",
        "170777000",  # diabetic annual review
    }
)  # fmt: skip

# --- Ethnicity ------------------------------------------------------------------------------

#: NHS ethnic category codes (NHS Data Dictionary, "Ethnic Category", 2001 Census classes).
ETHNIC_CATEGORY_SYSTEM: Final = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"
ETHNIC_CATEGORIES: Final = MappingProxyType(
    {
        "A": "White - British",
        "B": "White - Irish",
        "C": "White - Any other White background",
        "D": "Mixed - White and Black Caribbean",
        "E": "Mixed - White and Black African",
        "F": "Mixed - White and Asian",
        "G": "Mixed - Any other mixed background",
        "H": "Asian or Asian British - Indian",
        "J": "Asian or Asian British - Pakistani",
        "K": "Asian or Asian British - Bangladeshi",
        "L": "Asian or Asian British - Any other Asian background",
        "M": "Black or Black British - Caribbean",
        "N": "Black or Black British - African",
        "P": "Black or Black British - Any other Black background",
        "R": "Other Ethnic Groups - Chinese",
        "S": "Other Ethnic Groups - Any other ethnic group",
        "Z": "Not stated",
    }
)
