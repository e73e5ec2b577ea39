"""Cohorts declared in YAML: attrition rule by rule, on a lake built to know the answer."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from joinedup.cli.main import app
from joinedup.population.cohorts import (
    SHIPPED_COHORTS,
    CohortError,
    load_cohort,
    run_cohort,
)
from joinedup.population.measures import duckdb_lake
from tests.support.lake import write_lake

AS_OF = date(2026, 3, 31)
APIXABAN = "703908001"
SYSTOLIC = "271649006"


def person(pid: str, age: int, sex: str = "female") -> dict[str, object]:
    return {"person_id": pid, "age": age, "sex": sex}


def prescription(pid: str, status: str, issued: date) -> dict[str, object]:
    return {
        "person_id": pid,
        "kind": "request",
        "code": APIXABAN,
        "status": status,
        "issued": issued,
    }


def systolic(pid: str, value: float, on: date) -> dict[str, object]:
    return {"person_id": pid, "code": SYSTOLIC, "value": value, "effective": on}


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    people = [
        person("af-old-woman", 80),  # CHA2DS2-VASc 3, not anticoagulated: in the cohort
        person("af-treated", 80),  # 3, apixaban active: out at the last rule
        person("af-stopped", 80),  # 3, apixaban stopped: in
        person("af-young-man", 40, "male"),  # 0: out at the score rule
        person("htn-high", 60),  # last systolic 152: in
        person("htn-now-fine", 60),  # 160 a year ago, 128 last month: out
        person("htn-no-reading", 60),  # no reading in 12 months: out
    ]
    conditions = [
        (p, "atrial_fibrillation")
        for p in ("af-old-woman", "af-treated", "af-stopped", "af-young-man")
    ] + [(p, "hypertension") for p in ("htn-high", "htn-now-fine", "htn-no-reading")]
    medication = [
        prescription("af-treated", "active", date(2019, 5, 1)),
        prescription("af-stopped", "stopped", date(2024, 1, 1)),
    ]
    observation = [
        systolic("htn-high", 152, date(2026, 1, 10)),
        systolic("htn-now-fine", 160, date(2025, 6, 1)),
        systolic("htn-now-fine", 128, date(2026, 3, 1)),
        systolic("htn-no-reading", 170, date(2024, 2, 1)),
    ]
    return write_lake(
        tmp_path / "var" / "lake",
        people,
        conditions,
        medication=medication,
        observation=observation,
    )


def attrition(name: str, lake_dir: Path) -> list[tuple[int, int]]:
    result = run_cohort(load_cohort(SHIPPED_COHORTS / name), duckdb_lake(lake_dir), AS_OF)
    return [(s.remaining, s.removed) for s in result.attrition]


def test_af_without_anticoagulation(lake_dir: Path) -> None:
    assert attrition("af-anticoagulation.yaml", lake_dir) == [(4, 0), (3, 1), (2, 1)]
    result = run_cohort(
        load_cohort(SHIPPED_COHORTS / "af-anticoagulation.yaml"), duckdb_lake(lake_dir), AS_OF
    )
    people = sorted(r["person_id"] for r in result.people.to_pyarrow().to_pylist())
    assert people == ["af-old-woman", "af-stopped"]


def test_hypertension_uses_the_last_reading_in_the_year(lake_dir: Path) -> None:
    assert attrition("hypertension-above-target.yaml", lake_dir) == [(3, 0), (3, 0), (2, 1), (1, 1)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\n", "needs an entry"),
        ("entry: {condition: copd}\n", "needs a name"),
        ("name: x\nentry: {condition: gout}\n", "no code list called 'gout'"),
        ("name: x\nentry: {condition: copd, person: {core20: true}}\n", "exactly one of"),
        (
            "name: x\nentry: {condition: copd}\nrules:\n  - name: r\n    measure: qrisk\n",
            "rule 1 (r): unknown measure",
        ),
        ("name: [\n", "not valid YAML"),
    ],
)
def test_a_bad_definition_is_refused_naming_the_rule(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CohortError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_cohort(path)


def test_every_shipped_cohort_loads() -> None:
    shipped = sorted(SHIPPED_COHORTS.glob("*.yaml"))
    assert len(shipped) >= 5
    for path in shipped:
        load_cohort(path)


def test_the_command_runs_a_cohort_file(lake_dir: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "population",
            "cohort",
            str(SHIPPED_COHORTS / "af-anticoagulation.yaml"),
            "--as-of",
            "2026-03-31",
            "--format",
            "json",
        ],
        env={"JOINEDUP_VAR_DIR": str(lake_dir.parent)},
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["cohorts"][0]["size"] == 2


def test_frailty_with_repeated_emergency_admissions(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from joinedup.population.measures import EFI_DEFICITS

    coded = [names[0] for names in EFI_DEFICITS.values() if names][:9]  # 9 deficits: moderate
    people = [person(p, 84) for p in ("frail-twice", "frail-once", "fit-twice")]
    conditions = [(p, c) for p in ("frail-twice", "frail-once") for c in coded]

    def admitted(pid: str, day: date, emergency: bool = True) -> dict[str, object]:
        return {
            "person_id": pid,
            "admitted": datetime(day.year, day.month, day.day, 10, tzinfo=UTC),
            "emergency": emergency,
        }

    admissions = [
        admitted("frail-twice", date(2025, 9, 1)),
        admitted("frail-twice", date(2026, 2, 1)),
        admitted("frail-once", date(2026, 1, 1)),
        admitted("frail-once", date(2026, 2, 1), emergency=False),  # elective: not counted
        admitted("fit-twice", date(2025, 9, 1)),
        admitted("fit-twice", date(2026, 2, 1)),
    ]
    lake = write_lake(tmp_path / "lake", people, conditions, admission=admissions)
    assert attrition("frailty-emergency-admissions.yaml", lake) == [(2, 0), (2, 0), (1, 1)]


def test_a_breakdown_gives_rates_with_intervals_and_suppresses_small_groups(
    tmp_path: Path,
) -> None:
    from joinedup.population.inequalities import breakdown
    from joinedup.population.statistics import wilson_interval

    # 20 people with COPD in quintile 1 (12 unvaccinated), 6 in quintile 5 (3 unvaccinated).
    people = [{**person(f"q1-{i}", 70), "imd_quintile": 1, "core20": True} for i in range(20)] + [
        {**person(f"q5-{i}", 70), "imd_quintile": 5, "core20": False} for i in range(6)
    ]
    lake = duckdb_lake(
        write_lake(tmp_path / "lake", people, [(str(p["person_id"]), "copd") for p in people])
    )
    entered = lake.condition.select("person_id").distinct()
    unvaccinated = entered.filter(
        entered.person_id.isin([f"q1-{i}" for i in range(12)] + ["q5-0", "q5-1", "q5-2"])
    )
    groups = {g.group: g for g in breakdown(entered, unvaccinated, lake.person, "imd_quintile")}
    assert (groups[1].numerator, groups[1].denominator) == (12, 20)
    assert (groups[1].ci_low, groups[1].ci_high) == wilson_interval(12, 20)
    assert groups[5].suppressed and groups[5].numerator is None and groups[5].rate is None
    assert groups[5].denominator == 6


def _encounter(pid: str, code: str, day: date) -> dict[str, object]:
    from datetime import UTC, datetime

    start = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    return {"person_id": pid, "type_code": code, "start": start, "class": "AMB"}


DIABETES_REVIEW = "170777000"
HBA1C = "999791000000106"


def test_diabetes_above_target_or_not_reviewed(tmp_path: Path) -> None:
    """In the cohort: the last HbA1c in 12 months above 58 mmol/mol, or no annual review."""
    people = [
        person(p, 60)
        for p in ("high-reviewed", "fine-reviewed", "fine-unreviewed", "old-review", "no-data")
    ]
    conditions = [(str(p["person_id"]), "diabetes") for p in people]
    observation = [
        {"person_id": "high-reviewed", "code": HBA1C, "value": 49.0, "effective": date(2025, 9, 1)},
        {"person_id": "high-reviewed", "code": HBA1C, "value": 66.0, "effective": date(2026, 2, 1)},
        {"person_id": "fine-reviewed", "code": HBA1C, "value": 70.0, "effective": date(2025, 9, 1)},
        {"person_id": "fine-reviewed", "code": HBA1C, "value": 52.0, "effective": date(2026, 2, 1)},
        {
            "person_id": "fine-unreviewed",
            "code": HBA1C,
            "value": 50.0,
            "effective": date(2026, 1, 1),
        },
    ]
    encounter = [
        _encounter("high-reviewed", DIABETES_REVIEW, date(2025, 10, 1)),
        _encounter("fine-reviewed", DIABETES_REVIEW, date(2025, 10, 1)),
        _encounter("old-review", DIABETES_REVIEW, date(2024, 10, 1)),  # over a year ago
    ]
    lake = write_lake(
        tmp_path / "lake", people, conditions, observation=observation, encounter=encounter
    )
    result = run_cohort(
        load_cohort(SHIPPED_COHORTS / "diabetes-hba1c.yaml"), duckdb_lake(lake), AS_OF
    )
    assert [(s.remaining, s.removed) for s in result.attrition] == [(5, 0), (4, 1)]
    assert sorted(r["person_id"] for r in result.people.to_pyarrow().to_pylist()) == [
        "fine-unreviewed",
        "high-reviewed",
        "no-data",
        "old-review",
    ]


def test_severe_mental_illness_without_a_health_check(tmp_path: Path) -> None:
    people = [person("checked", 40), person("unchecked", 40), person("child", 15)]
    conditions = [(str(p["person_id"]), "severe_mental_illness") for p in people]
    encounter = [_encounter("checked", "smi-annual-health-check", date(2025, 12, 1))]
    lake = write_lake(tmp_path / "lake", people, conditions, encounter=encounter)
    assert attrition("smi-health-check.yaml", lake) == [(3, 0), (2, 1), (1, 1)]


def test_any_of_needs_two_known_criteria(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: x\nentry: {condition: copd}\nrules:\n  - name: r\n"
        "    with: {any_of: [{condition: copd}, {without: {encounter: gout}}]}\n"
    )
    with pytest.raises(CohortError, match="any_of option 2: no code list called 'gout'"):
        load_cohort(path)
    path.write_text("name: x\nentry: {any_of: [{condition: copd}]}\n")
    with pytest.raises(CohortError, match="two or more"):
        load_cohort(path)
