"""Unit tests for the condition model and the GP record it drives."""

from __future__ import annotations

import math
import random
from datetime import date

import numpy as np
import pytest

from joinedup.synthetic import codes
from joinedup.synthetic.health import (
    AF_ANTICOAGULATED_HIGH_RISK,
    LatentHealth,
    cha2ds2_vasc,
    draw_diagnoses,
    draw_gp_record,
    normal_upper_tail,
    prevalence,
)
from joinedup.synthetic.model import Address, Diagnosis, Person, Registration

START = date(2023, 4, 1)
END = date(2026, 4, 1)


def test_normal_upper_tail_matches_erfc() -> None:
    x = np.linspace(-6, 6, 241)
    expected = np.array([0.5 * math.erfc(v / math.sqrt(2)) for v in x])
    assert np.allclose(normal_upper_tail(x), expected, atol=2e-7)


def test_deprivation_multiplier_keeps_the_mean_and_sets_the_ratio() -> None:
    values = [codes.deprivation_multiplier(2.0, d) for d in range(1, 11)]
    assert sum(values) / 10 == pytest.approx(1.0)
    assert values[0] / values[9] == pytest.approx(2.0)


@pytest.mark.parametrize("key", sorted(codes.CONDITIONS))
def test_prevalence_is_calibrated_to_england(key: str) -> None:
    """On England's age structure, with both sexes and all deciles, the model gives the target."""
    model = codes.CONDITIONS[key]
    weights = codes.band_weights(codes.ENGLAND_AGE_PERCENT)
    cases = denominator = 0.0
    for start, weight in zip(codes.AGE_BAND_STARTS, weights, strict=True):
        width = 5 if start < 90 else 10
        share = min(1.0, max(0.0, (start + width - model.denominator_age) / width))
        age = np.full(20, start + width / 2)
        is_male = np.array([True, False] * 10)
        decile = np.repeat(np.arange(1, 11), 2)
        cases += weight * share * prevalence(model, age, is_male, decile).mean()
        denominator += weight * share
    assert cases / denominator == pytest.approx(model.england_prevalence, rel=0.03)


def test_prevalence_rises_with_deprivation_and_respects_sex() -> None:
    age = np.array([70.0, 70.0])
    male = np.array([True, True])
    copd = codes.CONDITIONS["copd"]
    most, least = prevalence(copd, age, male, np.array([1, 10]))
    assert most > 2 * least
    prostate = codes.CONDITIONS["prostate_cancer"]
    assert prevalence(prostate, age, np.array([False, False]), np.array([5, 5])).max() == 0.0


def _diagnose(n: int, age: float, seed: int = 1) -> list[tuple[Diagnosis, ...]]:
    rng = np.random.default_rng(seed)
    start = START.toordinal()
    birth = np.full(n, start - int(age * 365.25))
    return draw_diagnoses(
        rng=rng,
        latent=LatentHealth.draw(rng, n),
        is_male=rng.random(n) < 0.5,
        imd_decile=rng.integers(1, 11, n),
        birth_ord=birth,
        stop_ord=np.full(n, END.toordinal()),
        start_ord=start,
    )


def test_diagnoses_match_prevalence_and_some_are_incident() -> None:
    n = 40_000
    people = _diagnose(n, 72.0)
    hypertensive = [d for ds in people for d in ds if d.condition == "hypertension"]
    expected = prevalence(
        codes.CONDITIONS["hypertension"], np.full(n, 72.0), np.arange(n) % 2 == 0, np.full(n, 5)
    ).mean()
    at_start = sum(d.onset < START for d in hypertensive) / n
    assert at_start == pytest.approx(expected, rel=0.1)
    incident = [d for d in hypertensive if d.onset >= START]
    assert incident and all(START <= d.onset < END for d in incident)


def test_conditions_cluster() -> None:
    people = _diagnose(30_000, 70.0, seed=2)
    has = {
        key: np.array([any(d.condition == key for d in ds) for ds in people])
        for key in ("hypertension", "type_2_diabetes", "heart_failure", "atrial_fibrillation")
    }
    both = (has["hypertension"] & has["type_2_diabetes"]).mean()
    assert both > 1.3 * has["hypertension"].mean() * has["type_2_diabetes"].mean()
    assert (has["heart_failure"] & has["atrial_fibrillation"]).mean() > (
        has["heart_failure"].mean() * has["atrial_fibrillation"].mean()
    )


def test_ckd_has_one_stage_and_diabetes_one_type() -> None:
    for diagnoses in _diagnose(20_000, 80.0, seed=3):
        keys = [d.condition for d in diagnoses]
        assert sum(k in codes.CKD_3_TO_5 for k in keys) <= 1
        assert sum(k in codes.DIABETES for k in keys) <= 1


# --- The GP record --------------------------------------------------------------------------


def _person(
    *,
    age: int,
    sex: str = "female",
    conditions: tuple[str, ...] = (),
    frailty: float = 0.1,
    index: int = 0,
) -> Person:
    birth = date(START.year - age, 6, 1)
    address = Address("1 Fore Street", "Penzance", "TR18 4AB", "E01990001", 5, date(2000, 1, 1))
    return Person(
        index=index,
        person_id=f"P{index:07d}",
        nhs_number="9990000018",
        given="Jenna",
        family="Pascoe",
        sex=sex,
        birth_date=birth,
        death_date=None,
        ethnicity="A",
        addresses=(address,),
        registrations=(Registration("L99001", date(2000, 1, 1), None, "1234567"),),
        diagnoses=tuple(Diagnosis(c, date(2015, 1, 1)) for c in conditions),
        frailty=frailty,
        area="west",
    )


def test_cha2ds2_vasc_scores_as_published() -> None:
    """DOMAIN.md; NICE NG196: CHF 1, hypertension 1, age >= 75 2, diabetes 1, stroke/TIA 2,
    vascular disease 1, age 65-74 1, female 1."""
    on = date(2024, 1, 1)
    assert cha2ds2_vasc(_person(age=50, sex="male"), on) == 0
    assert cha2ds2_vasc(_person(age=50), on) == 1
    assert cha2ds2_vasc(_person(age=70, sex="male"), on) == 1
    assert cha2ds2_vasc(_person(age=80, sex="male"), on) == 2
    everything = (
        "heart_failure",
        "hypertension",
        "type_2_diabetes",
        "stroke",
        "ischaemic_heart_disease",
    )
    assert cha2ds2_vasc(_person(age=80, conditions=everything), on) == 9


def test_about_one_in_five_high_risk_af_patients_are_not_anticoagulated() -> None:
    rnd = random.Random(4)
    anticoagulants = {"apixaban", "apixaban_low", "rivaroxaban"}
    treated = 0
    n = 3000
    for i in range(n):
        person = _person(age=78, conditions=("atrial_fibrillation", "hypertension"), index=i)
        record = draw_gp_record(person, start=START, end=END, rnd=rnd)
        treated += any(m.medicine in anticoagulants for m in record.medications)
    assert treated / n == pytest.approx(AF_ANTICOAGULATED_HIGH_RISK, abs=0.03)


def test_hypertension_is_checked_yearly_and_some_is_above_target() -> None:
    rnd = random.Random(5)
    above = readings = 0
    for i in range(1000):
        record = draw_gp_record(
            _person(age=65, conditions=("hypertension",), index=i), start=START, end=END, rnd=rnd
        )
        bp = [m for m in record.measurements if m.kind == "blood_pressure"]
        for year in range(3):
            low = date(2023 + year, 4, 1)
            high = date(2024 + year, 3, 31)
            assert any(low <= m.day <= high for m in bp)
        readings += len(bp)
        above += sum(float(m.value) >= 140 for m in bp)
    assert 0.25 < above / readings < 0.6
    untreated = 0
    for i in range(1000):
        record = draw_gp_record(
            _person(age=65, conditions=("hypertension",), index=i), start=START, end=END, rnd=rnd
        )
        untreated += not any(m.reason == "hypertension" for m in record.medications)
    assert 0.1 < untreated / 1000 < 0.35


def test_diabetes_has_hba1c_with_a_share_above_58() -> None:
    rnd = random.Random(6)
    above = 0
    n = 2000
    for i in range(n):
        record = draw_gp_record(
            _person(age=60, conditions=("type_2_diabetes",), index=i), start=START, end=END, rnd=rnd
        )
        hba1c = [float(m.value) for m in record.measurements if m.kind == "hba1c"]
        assert len(hba1c) >= 3
        above += sum(hba1c) / len(hba1c) > 58
    assert 0.2 < above / n < 0.45


def test_ckd_has_egfr_in_its_stage() -> None:
    rnd = random.Random(7)
    record = draw_gp_record(
        _person(age=75, conditions=("ckd_stage_4",)), start=START, end=END, rnd=rnd
    )
    egfr = [float(m.value) for m in record.measurements if m.kind == "egfr"]
    assert len(egfr) >= 5 and all(15 <= v <= 29 for v in egfr)


def test_appointments_rise_with_age_and_multimorbidity() -> None:
    rnd = random.Random(8)

    def mean_per_year(**kwargs: object) -> float:
        total = sum(
            len(
                draw_gp_record(
                    _person(index=i, **kwargs), start=START, end=END, rnd=rnd
                ).appointments
            )  # type: ignore[arg-type]
            for i in range(400)
        )
        return total / 400 / 3

    young = mean_per_year(age=30, sex="male")
    old = mean_per_year(
        age=82, frailty=0.3, conditions=("hypertension", "atrial_fibrillation", "copd")
    )
    assert 1.5 < young < 4.5
    assert old > 2 * young


def test_flu_vaccination_goes_to_the_eligible() -> None:
    rnd = random.Random(9)
    old = [
        draw_gp_record(_person(age=75, index=i), start=START, end=END, rnd=rnd) for i in range(500)
    ]
    young = [
        draw_gp_record(_person(age=30, index=i), start=START, end=END, rnd=rnd) for i in range(500)
    ]
    seasons = sum(len(r.vaccinations) for r in old) / 500
    assert 1.8 < seasons < 2.8  # three seasons start within the period, about 75% uptake
    assert all(v.vaccine == codes.FLU_VACCINE_65_PLUS for r in old for v in r.vaccinations)
    assert sum(len(r.vaccinations) for r in young) == 0
    for record in old:
        assert all(9 <= v.day.month <= 12 for v in record.vaccinations)


def test_medicines_fit_conditions() -> None:
    rnd = random.Random(10)
    for i in range(300):
        record = draw_gp_record(
            _person(age=50, conditions=("hypothyroidism",), index=i), start=START, end=END, rnd=rnd
        )
        assert {m.medicine for m in record.medications} <= {"levothyroxine"}
    for course in record.medications:
        assert course.medicine in codes.MEDICINES


def test_annual_reviews_go_to_people_with_the_condition() -> None:
    """Diabetes gets its yearly review, severe mental illness its physical health check,
    each in most years but not all (the gaps the population cohorts look for)."""
    rnd = random.Random(9)
    for condition, kind, low, high in (
        ("type_2_diabetes", "diabetes_review", 0.75, 0.95),
        ("schizophrenia", "smi_health_check", 0.45, 0.65),
    ):
        reviewed_years = 0
        n = 600
        for i in range(n):
            record = draw_gp_record(
                _person(age=50, conditions=(condition,), index=i), start=START, end=END, rnd=rnd
            )
            reviewed_years += sum(a.kind == kind for a in record.appointments)
        assert low < reviewed_years / (3 * n) < high
        healthy = draw_gp_record(_person(age=50), start=START, end=END, rnd=rnd)
        assert not any(a.kind == kind for a in healthy.appointments)


def test_frailty_among_older_people_is_spread_as_clegg_found() -> None:
    """People aged 65 and over fall into the Electronic Frailty Index's categories about as
    in English primary care: Clegg et al., Age and Ageing 2016;45:353 (the development
    cohort: 50% fit, 35% mild, 12% moderate, 3% severe). The deficits are counted with the
    lake's code lists (joinedup.population.measures), polypharmacy from active medicines."""
    from joinedup.population.measures import CODE_LISTS, EFI_DEFICITS, efi_category
    from joinedup.synthetic.generate import default_directory, period_for
    from joinedup.synthetic.population import build_geography, draw_people

    deficit_of = {
        code: deficit
        for deficit, lists in EFI_DEFICITS.items()
        for name in lists
        for code in CODE_LISTS[name]
    }
    period = period_for(date(2026, 3, 31), 3)
    people = draw_people(
        geography=build_geography(default_directory(), 7),
        period=period,
        seed=7,
        chunk=0,
        first_index=0,
        count=12_000,
    )
    rnd = random.Random(1)
    categories: dict[str, int] = {}
    for person in people:
        if person.death_date or person.age_on(date(2026, 3, 31)) < 65:
            continue
        found = {
            deficit_of[codes.CONDITIONS[d.condition].code.code]
            for d in person.diagnoses
            if codes.CONDITIONS[d.condition].code.code in deficit_of
        }
        record = draw_gp_record(person, start=period.start, end=period.end, rnd=rnd)
        if len({m.medicine for m in record.medications if m.end is None}) >= 5:
            found.add("polypharmacy")
        category = efi_category(len(found) / len(EFI_DEFICITS))
        categories[category] = categories.get(category, 0) + 1
    older = sum(categories.values())
    assert older > 2500
    share = {k: v / older for k, v in categories.items()}
    assert share["fit"] == pytest.approx(0.50, abs=0.08)
    assert share["mild"] == pytest.approx(0.35, abs=0.08)
    assert share["moderate"] == pytest.approx(0.12, abs=0.05)
    assert share["severe"] == pytest.approx(0.03, abs=0.03)
