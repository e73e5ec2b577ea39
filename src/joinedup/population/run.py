"""The whole population run: every measure per person, every cohort, the needs assessment.

``joinedup population run`` (and the demo, and the population benchmark) call
:func:`run_population`. It trains the emergency-admission risk model on the lake's history,
writes one row of measures per person (``person-measures.parquet``: the table analysts and
worklists read), runs the cohorts with their attrition, and assesses needs, timing each
step. Its outputs live in the population folder beside the lake (``var/population/``):
pseudonymised, like the lake itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import orjson
import pyarrow.parquet as pq
from ibis.expr.types import Table

from joinedup.population import measures, risk
from joinedup.population.cohorts import SHIPPED_COHORTS, load_cohort, run_cohort
from joinedup.population.measures import Lake
from joinedup.population.needs import NeedsAssessment, assess_needs

PERSON_MEASURES: Final = "person-measures.parquet"
RISK_MODEL: Final = "risk-model.json"
COHORTS: Final = "cohorts.json"
NEEDS: Final = "needs-assessment.json"

#: The steps of a run, in order (for progress bars).
STEPS: Final = ("risk model", "person measures", "cohorts", "needs assessment")


def person_measures(lake: Lake, as_of: date, model: risk.RiskModel | None) -> Table:
    """One row per person in the lake: Bridges to Health segment, eFI (deficits, score and
    category), long-term conditions, CHA2DS2-VASc (people with AF; null otherwise), the
    vulnerability flag and, with a model, the emergency-admission risk and its band."""
    table = (
        lake.person.select("person_id")
        .left_join(measures.bridges_to_health(lake, as_of), "person_id")
        .drop("person_id_right")
    )
    frailty = measures.efi(lake).rename(
        efi_deficits="deficits", efi_score="score", efi_category="category"
    )
    table = table.left_join(frailty, "person_id").drop("person_id_right")
    table = table.left_join(measures.multimorbidity(lake), "person_id").drop("person_id_right")
    scored = measures.cha2ds2_vasc(lake).select("person_id", cha2ds2_vasc="score")
    table = table.left_join(scored, "person_id").drop("person_id_right")
    vulnerable = measures.vulnerability(lake, as_of).select("person_id", "vulnerable")
    table = table.left_join(vulnerable, "person_id").drop("person_id_right")
    if model is not None:
        table = table.left_join(risk.score(lake, model, as_of), "person_id").drop("person_id_right")
    return table


@dataclass(frozen=True)
class PopulationRun:
    """What a run did, how long each step took, and where its outputs are."""

    as_of: date
    people: int
    seconds: dict[str, float]
    out_dir: Path
    risk_model: risk.RiskModel | None
    cohorts: list[dict[str, Any]]
    needs: NeedsAssessment

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the needs assessment is in its own file)."""
        model = self.risk_model
        return {
            "as_of": self.as_of.isoformat(),
            "people": self.people,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "out_dir": str(self.out_dir),
            "risk_model": None
            if model is None
            else {
                "auc": model.performance.auc,
                "baseline_auc": model.baseline_performance.auc,
                "calibration_slope": model.performance.calibration_slope,
                "training_people": model.training_people,
            },
            "cohorts": self.cohorts,
        }


def run_population(
    lake: Lake,
    as_of: date,
    *,
    out_dir: Path,
    cohort_files: Sequence[Path] | None = None,
    progress: Callable[[str], None] | None = None,
) -> PopulationRun:
    """Run everything over the lake as at ``as_of`` and write the outputs to ``out_dir``.

    When the lake's history is too short or too small to train the risk model, the run
    goes on without risk scores (``risk_model`` is None) rather than failing.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    lake = lake.keeping()  # each measure computed once for all the steps that use it
    seconds: dict[str, float] = {}

    def step(name: str) -> float:
        if progress is not None:
            progress(name)
        return time.perf_counter()

    began = step("risk model")
    model: risk.RiskModel | None
    try:
        model = risk.train(lake, as_of)
        model.save(out_dir / RISK_MODEL)
    except ValueError:
        model = None  # too little history: said in the summary, no scores
    seconds["risk model"] = time.perf_counter() - began

    began = step("person measures")
    table = person_measures(lake, as_of, model).to_pyarrow()
    _write_parquet(table, out_dir / PERSON_MEASURES)
    seconds["person measures"] = time.perf_counter() - began

    began = step("cohorts")
    cohorts = [
        run_cohort(load_cohort(path), lake, as_of).to_dict()
        for path in (cohort_files or sorted(SHIPPED_COHORTS.glob("*.yaml")))
    ]
    _write_json(out_dir / COHORTS, {"as_of": as_of.isoformat(), "cohorts": cohorts})
    seconds["cohorts"] = time.perf_counter() - began

    began = step("needs assessment")
    needs = assess_needs(lake, as_of)
    _write_json(out_dir / NEEDS, needs.to_dict())
    seconds["needs assessment"] = time.perf_counter() - began
    seconds["total"] = sum(seconds.values())
    return PopulationRun(as_of, table.num_rows, seconds, out_dir, model, cohorts, needs)


def _write_parquet(table: Any, path: Path) -> None:
    partial = path.with_suffix(".parquet.partial")
    pq.write_table(table, partial, compression="zstd")
    os.replace(partial, path)


def _write_json(path: Path, data: Any) -> None:
    partial = path.with_suffix(".json.partial")
    partial.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    os.replace(partial, path)
