"""CHA2DS2-VASc, point by point as published.

Source: Lip GYH, Nieuwlaat R, Pisters R, Lane DA, Crijns HJGM. Refining clinical risk
stratification for predicting stroke and thromboembolism in atrial fibrillation using a
novel risk factor-based approach: the Euro Heart Survey on atrial fibrillation. Chest
2010;137(2):263-272, Table 2 ("CHA2DS2-VASc score"); the score NICE NG196 (2021, 1.7.1)
uses for stroke risk in atrial fibrillation. Points: congestive heart failure/LV
dysfunction 1, hypertension 1, age >= 75 2, diabetes mellitus 1, stroke/TIA/
thromboembolism 2, vascular disease (prior MI, PAD, aortic plaque) 1, age 65-74 1,
sex category (female) 1; maximum 9.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.population.measures import (
    CODE_LISTS,
    cha2ds2_vasc,
    cha2ds2_vasc_points,
    duckdb_lake,
)
from tests.support.lake import FACTORS, random_people, write_lake

# (age, female, CHF, hypertension, diabetes, stroke/TIA, vascular) -> points, from Table 2.
PUBLISHED = [
    ((50, False, False, False, False, False, False), 0),
    ((50, False, True, False, False, False, False), 1),  # C
    ((50, False, False, True, False, False, False), 1),  # H
    ((75, False, False, False, False, False, False), 2),  # A2
    ((74, False, False, False, False, False, False), 1),  # A (65-74)
    ((65, False, False, False, False, False, False), 1),
    ((64, False, False, False, False, False, False), 0),
    ((50, False, False, False, True, False, False), 1),  # D
    ((50, False, False, False, False, True, False), 2),  # S2
    ((50, False, False, False, False, False, True), 1),  # V
    ((50, True, False, False, False, False, False), 1),  # Sc
    ((80, True, True, True, True, True, True), 9),  # the maximum
]


@pytest.mark.parametrize(("factors", "points"), PUBLISHED)
def test_points_as_published(
    factors: tuple[int, bool, bool, bool, bool, bool, bool], points: int
) -> None:
    age, female, chf, htn, dm, stroke, vascular = factors
    score = cha2ds2_vasc_points(
        age=age,
        female=female,
        heart_failure=chf,
        hypertension=htn,
        diabetes=dm,
        stroke_tia=stroke,
        vascular_disease=vascular,
    )
    assert score == points


def test_the_lake_measure_scores_everyone_with_af_as_published(tmp_path: Path) -> None:
    people, conditions = random_people(400, seed=3)
    lake = duckdb_lake(write_lake(tmp_path / "lake", people, conditions))
    result = cha2ds2_vasc(lake).to_pyarrow().to_pylist()
    # What each person has recorded, as codes (as the lake holds them): a factor is present
    # if any of its codes is (one code can be in two lists, e.g. PAD in vascular disease).
    codes: dict[str, set[str]] = {}
    for pid, name in conditions:
        codes.setdefault(pid, set()).add(CODE_LISTS[name][0])

    def has(pid: str, factor: str) -> bool:
        return bool(codes.get(pid, set()) & set(CODE_LISTS[factor]))

    with_af = {p["person_id"]: p for p in people if has(p["person_id"], "atrial_fibrillation")}
    assert {r["person_id"] for r in result} == set(with_af)
    for row in result:
        person = with_af[row["person_id"]]
        expected = cha2ds2_vasc_points(
            age=person["age"],
            female=person["sex"] == "female",
            **{f: has(person["person_id"], f) for f in FACTORS},
        )
        assert row["score"] == expected, row
