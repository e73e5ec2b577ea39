"""Write src/joinedup/population/reference/england-prevalence.csv: England's recorded
prevalence of each long-term condition by sex and 5-year age band.

The rates are the synthetic ICS's condition model (src/joinedup/synthetic/codes.py): age
curves shaped on QOF/CPRD age-specific prevalence and scaled so England's 2021 age structure
gives England's QOF 2022/23 prevalence (DOMAIN.md), with the model's sex ratios, averaged
over the ten national deprivation deciles. Conditions the lake counts together (CKD stages
3 to 5, types of diabetes, cancers) are combined as the chance of having any of them.

An ICS replaces the file with its own reference rates (JOINEDUP_REFERENCE_DIR); this
script only keeps the shipped file in step with the generator:

    .venv/bin/python scripts/make-england-prevalence.py
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np

from joinedup.population.lake import age_band
from joinedup.population.measures import CODE_LISTS
from joinedup.population.needs import PREVALENCE_CONDITIONS, REFERENCE_PREVALENCE
from joinedup.synthetic import codes
from joinedup.synthetic.health import prevalence


def rows() -> list[tuple[str, str, str, str]]:
    out = []
    deciles = np.arange(1, 11)
    for condition in PREVALENCE_CONDITIONS:
        models = [m for m in codes.CONDITIONS.values() if m.code.code in CODE_LISTS[condition.key]]
        if not models:
            raise SystemExit(f"no synthetic condition for {condition.key}")
        for sex in ("female", "male"):
            for start in codes.AGE_BAND_STARTS:
                age = np.full(10, start + (2.5 if start < 90 else 4.0))
                is_male = np.full(10, sex == "male")
                none = 1.0
                for model in models:
                    none *= 1.0 - float(prevalence(model, age, is_male, deciles).mean())
                out.append((condition.key, sex, age_band(start), f"{1.0 - none:.6f}"))
    return out


def render() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("condition", "sex", "age_band", "prevalence"))
    writer.writerows(rows())
    return buffer.getvalue()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REFERENCE_PREVALENCE
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
