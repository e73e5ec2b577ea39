"""The electronic Frailty Index as published.

Source: Clegg A, Bates C, Young J, et al. Development and validation of an electronic
frailty index using routine primary care electronic health record data. Age and Ageing
2016;45(3):353-360: Table 1 (the 36 deficits) and the categories fit (0-0.12), mild
(>0.12-0.24), moderate (>0.24-0.36) and severe (>0.36); as in ../shared/design/DOMAIN.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.population.measures import EFI_DEFICITS, duckdb_lake, efi, efi_category
from tests.support.lake import write_lake

PUBLISHED_DEFICITS = {
    "activity limitation", "anaemia", "arthritis", "atrial fibrillation",
    "cerebrovascular disease", "chronic kidney disease", "diabetes", "dizziness", "dyspnoea",
    "falls", "foot problems", "fragility fracture", "hearing impairment", "heart failure",
    "heart valve disease", "housebound", "hypertension", "hypotension/syncope",
    "ischaemic heart disease", "memory and cognitive problems",
    "mobility and transfer problems", "osteoporosis", "Parkinsonism and tremor",
    "peptic ulcer", "peripheral vascular disease", "polypharmacy", "requirement for care",
    "respiratory disease", "skin ulcer", "sleep disturbance", "social vulnerability",
    "thyroid disease", "urinary incontinence", "urinary system disease", "visual impairment",
    "weight loss and anorexia",
}  # fmt: skip


def test_the_36_deficits() -> None:
    assert set(EFI_DEFICITS) == PUBLISHED_DEFICITS and len(EFI_DEFICITS) == 36


@pytest.mark.parametrize(
    ("score", "category"),
    [
        (0.0, "fit"),
        (0.12, "fit"),
        (0.1201, "mild"),
        (0.24, "mild"),
        (0.2401, "moderate"),
        (0.36, "moderate"),
        (0.3601, "severe"),
        (1.0, "severe"),
    ],
)
def test_categories_at_the_published_cut_offs(score: float, category: str) -> None:
    assert efi_category(score) == category


def test_the_lake_measure_counts_deficits_and_categorises_as_published(tmp_path: Path) -> None:
    # Person k has the first k coded deficits (each counted once however many codes).
    coded = [
        names[0] for names in EFI_DEFICITS.values() if names
    ]  # one code list per deficit that has one
    people = [{"person_id": f"p{k:02d}", "age": 80, "sex": "female"} for k in range(len(coded) + 1)]
    conditions = [(f"p{k:02d}", coded[i]) for k in range(len(coded) + 1) for i in range(k)]
    # p03 also has five different current medicines: polypharmacy, one more deficit.
    medication = [
        {"person_id": "p03", "kind": "request", "code": f"m{i}", "status": "active"}
        for i in range(5)
    ]
    lake = duckdb_lake(write_lake(tmp_path / "lake", people, conditions, medication=medication))
    rows = {r["person_id"]: r for r in efi(lake).to_pyarrow().to_pylist()}
    for k in range(len(coded) + 1):
        expected = k + (1 if k == 3 else 0)
        row = rows[f"p{k:02d}"]
        assert row["deficits"] == expected
        assert row["category"] == efi_category(expected / 36), row
