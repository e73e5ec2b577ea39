"""The needs assessment on lakes built to know the answer, and its reference file."""

from __future__ import annotations

import runpy
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest

from joinedup.population.measures import duckdb_lake
from joinedup.population.needs import REFERENCE_PREVALENCE, assess_needs
from joinedup.population.statistics import exact_poisson_interval
from tests.support.lake import write_lake

AS_OF = date(2026, 3, 31)
ROOT = Path(__file__).resolve().parents[2]


def reference(tmp_path: Path, rows: list[tuple[str, str, str, float]]) -> Path:
    path = tmp_path / "reference.csv"
    lines = ["condition,sex,age_band,prevalence", *(f"{c},{s},{b},{p}" for c, s, b, p in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_recorded_prevalence_against_expected(tmp_path: Path) -> None:
    """Ten women of 72, four with hypertension, where the reference expects half: recorded
    4, expected 5, ratio 0.8 with the exact Poisson interval of 4 over 5 (OHID uses the
    exact interval below 10 events). Diabetes counts from 17: a child is not in its
    denominator."""
    people = [{"person_id": f"w{i}", "age": 72, "sex": "female"} for i in range(10)]
    people.append({"person_id": "child", "age": 10, "sex": "female"})
    conditions = [(f"w{i}", "hypertension") for i in range(4)] + [("w0", "diabetes")]
    lake = duckdb_lake(write_lake(tmp_path / "lake", people, conditions))
    ref = reference(
        tmp_path,
        [("hypertension", "female", "70-74", 0.5), ("diabetes", "female", "70-74", 0.1)],
    )
    needs = assess_needs(lake, AS_OF, reference=ref)
    found = {p.key: p for p in needs.prevalence}
    hypertension = found["hypertension"]
    assert (hypertension.recorded, hypertension.denominator) == (4, 11)
    assert hypertension.expected == pytest.approx(5.0)
    assert hypertension.ratio == pytest.approx(0.8)
    low, high = exact_poisson_interval(4)
    assert (hypertension.ratio_low, hypertension.ratio_high) == pytest.approx((low / 5, high / 5))
    diabetes = found["diabetes"]
    assert (diabetes.recorded, diabetes.denominator) == (1, 10)
    assert diabetes.expected == pytest.approx(1.0)


def test_the_population_is_aged_forward_with_its_own_death_rates(tmp_path: Path) -> None:
    """100 women of 62 alive, 25 of their age band died in the last year: a death rate of
    25 / 125 = 0.2 a year in 60-64. Aged a year at a time, they die at that rate at 62, 63
    and 64 and at none in 65-69 (no deaths there): 100 x 0.8 ** 3 = 51.2 are left at five
    years, all 65 and over; no babies, as none were born this year."""
    alive = [{"person_id": f"a{i}", "age": 62, "sex": "female"} for i in range(100)]
    dead = [{"person_id": f"d{i}", "age": 62, "sex": "female", "died": True} for i in range(25)]
    deaths = [{"person_id": f"d{i}", "month": date(2025, 10, 1), "age": 62} for i in range(25)]
    admissions = [
        {"person_id": f"a{i}", "admitted": datetime(2025, 12, 1, tzinfo=UTC), "emergency": True}
        for i in range(10)
    ]
    lake = duckdb_lake(
        write_lake(tmp_path / "lake", alive + dead, [], death=deaths, admission=admissions)
    )
    needs = assess_needs(lake, AS_OF, reference=reference(tmp_path, []))
    projected = {p.measure: p for p in needs.projections}
    population = projected["Registered population"]
    assert population.now == 100
    assert population.later[5] == pytest.approx(100 * 0.8**3)
    assert projected["Aged 65 and over"].later[5] == pytest.approx(100 * 0.8**3)
    # Today's emergency admission rate in 60-64 (10 a year among 100) follows the people
    # only while they are in that band: by year 5 they have left it.
    assert projected["Emergency admissions a year"].now == pytest.approx(10)
    assert projected["Emergency admissions a year"].later[5] == pytest.approx(0)
    orjson.dumps(needs.to_dict(), option=orjson.OPT_NON_STR_KEYS)  # JSON-ready


def test_the_deprivation_gap_is_age_standardised(tmp_path: Path) -> None:
    """Quintile 1's people are younger but have more multimorbidity at every age: the gap
    survives standardisation and the ratio is above 1."""
    people = []
    conditions = []
    for quintile, share in ((1, 0.5), (5, 0.2)):
        for i in range(200):
            pid = f"q{quintile}-{i}"
            age = 40 + (i % 40) if quintile == 1 else 50 + (i % 40)
            people.append({"person_id": pid, "age": age, "sex": "male", "imd_quintile": quintile})
            if i % 10 < share * 10:
                conditions += [(pid, "hypertension"), (pid, "diabetes")]
    lake = duckdb_lake(write_lake(tmp_path / "lake", people, conditions))
    needs = assess_needs(lake, AS_OF, reference=reference(tmp_path, []))
    gap = next(g for g in needs.gaps if g.indicator == "multimorbidity")
    assert gap.most_deprived is not None and gap.least_deprived is not None
    assert gap.most_deprived.standardised_rate == pytest.approx(0.5, abs=0.05)
    assert gap.least_deprived.standardised_rate == pytest.approx(0.2, abs=0.05)
    assert gap.ratio is not None and gap.ratio > 2


def test_the_shipped_reference_is_the_generators_england() -> None:
    """The shipped England prevalence file is what scripts/make-england-prevalence.py makes
    from the synthetic ICS's condition model (so the two never drift apart)."""
    script = runpy.run_path(str(ROOT / "scripts" / "make-england-prevalence.py"))
    assert script["render"]() == REFERENCE_PREVALENCE.read_text(encoding="utf-8")
