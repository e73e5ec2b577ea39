"""The population measures and cohorts in plain pandas: the reference the benchmark times.

Issue 5's benchmark runs the whole population (every measure, every shipped cohort) on the
full-size synthetic ICS on DuckDB through Ibis, and, in the same run, the same measures
written the way an analyst writes them in pandas today: read the Parquet files into
DataFrames, then merges, group-bys and boolean masks. No DuckDB and no Ibis here, no
deliberately slow code (no row loops, no ``apply``) and no heroic optimisation either: each
function follows its Ibis definition in ``joinedup.population.measures`` and
``joinedup.population.cohorts`` step by step, and gives the same rows
(``tests/integration/test_population_pandas_reference.py`` holds it to that).

Only the computation is pandas: the code lists, the eFI deficits, the multimorbidity
conditions, the Bridges to Health segments and the cohort files (read and checked by
``load_cohort``) are the project's own.

    from benchmarks.population_pandas import run_all      # with PYTHONPATH=.
    results = run_all(Path("var/lake"), date(2026, 3, 31))
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from joinedup.population.cohorts import CODE_LISTS, SHIPPED_COHORTS, load_cohort
from joinedup.population.lake import SCHEMAS
from joinedup.population.measures import (
    BRIDGES_TO_HEALTH,
    EFI_DEFICITS,
    MULTIMORBIDITY_CONDITIONS,
)

#: The lake as DataFrames, by table name (docs/lake.md describes the columns).
PandasLake = dict[str, pd.DataFrame]

#: One line of a cohort's attrition: (rule, remaining, removed), as cohorts.Step.
Attrition = list[tuple[str, int, int]]

# Nullable integers and booleans, so a missing age or core20 stays missing (pyarrow's
# default turns an int column with nulls into floats and a bool column into objects).
_NULLABLE: Final[dict[pa.DataType, Any]] = {
    pa.int32(): pd.Int32Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}

# A criterion without ``within_days`` looks back 200 years, as cohorts._matching does.
_FOREVER: Final = 365 * 200


def read_lake(lake_dir: Path) -> PandasLake:
    """Every table of the lake under ``lake_dir`` as a DataFrame (dates as datetime64,
    timestamps as UTC datetime64, nullable integers and booleans)."""
    return {
        table: pq.read_table(lake_dir / f"{table}.parquet").to_pandas(
            date_as_object=False, types_mapper=_NULLABLE.get
        )
        for table in SCHEMAS
    }


def _day(on: date) -> pd.Timestamp:
    """A calendar date as the lake's date columns hold them (midnight, no time zone)."""
    return pd.Timestamp(on)


def _utc_date(times: pd.Series) -> pd.Series:
    """The UTC calendar date of a UTC timestamp column (Ibis's ``.date()`` on DuckDB, whose
    session time zone Ibis sets to UTC), as a date column (midnight, no time zone)."""
    return times.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()


def _codes(*names: str) -> list[str]:
    return [code for name in names for code in CODE_LISTS[name]]


def _lookup(groups: Mapping[str, tuple[str, ...]], column: str) -> pd.DataFrame:
    """A (code, ``column``) table: each code of each group's code lists, to merge on."""
    pairs = [(code, group) for group, lists in groups.items() for code in _codes(*lists)]
    return pd.DataFrame(pairs, columns=["code", column])


def registered_population(lake: PandasLake) -> pd.DataFrame:
    """The living people registered with one of the ICS's practices (their ``person`` rows):
    ``measures.registered_population``. A missing ``died`` is neither (a SQL filter drops
    the null that ``NOT died`` gives)."""
    person = lake["person"]
    return person[person["died"].eq(False).fillna(False) & person["practice"].notna()]


def has_condition(lake: PandasLake, *names: str) -> pd.Series:
    """The people (``person_id``, each once) with any code of the named code lists."""
    condition = lake["condition"]
    return condition.loc[condition["code"].isin(_codes(*names)), "person_id"].drop_duplicates()


def _flag(people: pd.DataFrame, ids: pd.Series) -> pd.Series:
    """0/1 (int8, as Ibis's ``literal(1)`` after ``fill_null(0)``): is each person in ``ids``."""
    return people["person_id"].isin(ids).astype("int8")


def cha2ds2_vasc(lake: PandasLake) -> pd.DataFrame:
    """CHA2DS2-VASc for everyone with atrial fibrillation, with each component's points
    (``measures.cha2ds2_vasc``)."""
    af = has_condition(lake, "atrial_fibrillation").to_frame()
    # An inner join: someone with an AF code but no person row is not scored.
    scored = af.merge(lake["person"][["person_id", "age", "sex"]], on="person_id")
    for name in ("heart_failure", "hypertension", "diabetes", "stroke_tia", "vascular_disease"):
        scored[name] = _flag(scored, has_condition(lake, name))
    age = scored["age"]
    # A missing age is in no band (SQL's CASE: a null comparison is not true): 0 points.
    scored["age_points"] = (
        pd.Series(0, index=scored.index, dtype="int8")
        .case_when([(age.ge(75).fillna(False), 2), (age.ge(65).fillna(False), 1)])
        .astype("int8")
    )
    # A missing sex gives a missing ``female`` and so a missing score, as in SQL (null + n).
    sex = scored["sex"]
    scored["female"] = (sex == "female").astype("Int8").mask(sex.isna())
    scored["score"] = (
        scored["heart_failure"]
        + scored["hypertension"]
        + scored["age_points"]
        + scored["diabetes"]
        + 2 * scored["stroke_tia"]
        + scored["vascular_disease"]
        + scored["female"]
    ).astype("Int32")
    return scored[
        [
            "person_id",
            "heart_failure",
            "hypertension",
            "age_points",
            "diabetes",
            "stroke_tia",
            "vascular_disease",
            "female",
            "score",
        ]
    ].reset_index(drop=True)


def efi(lake: PandasLake) -> pd.DataFrame:
    """The electronic Frailty Index for every person: ``deficits``, ``score`` (÷ 36, to 4
    places) and ``category`` (``measures.efi``)."""
    deficits = _lookup({d: lists for d, lists in EFI_DEFICITS.items() if lists}, "deficit")
    coded = lake["condition"][["person_id", "code"]].merge(deficits, on="code")[
        ["person_id", "deficit"]
    ]
    # Polypharmacy: five or more different medicines (codes) on active prescriptions.
    medication = lake["medication"]
    medicines = medication[medication["status"] == "active"].groupby("person_id")["code"].nunique()
    many = medicines[medicines >= 5].index.to_series(name="person_id")
    found = pd.concat(
        [coded, pd.DataFrame({"person_id": many.to_numpy(), "deficit": "polypharmacy"})],
        ignore_index=True,
    )
    counts = found.groupby("person_id")["deficit"].nunique()
    scored = lake["person"][["person_id"]].copy()
    scored["deficits"] = scored["person_id"].map(counts).fillna(0).astype("int32")
    scored["score"] = (scored["deficits"] / len(EFI_DEFICITS)).round(4)
    # By whole deficits: fit 0-4, mild 5-8, moderate 9-12, severe 13+ (the cut-offs x 36).
    n = scored["deficits"]
    scored["category"] = pd.Series("severe", index=scored.index, dtype="str").case_when(
        [(n <= 4, "fit"), (n <= 8, "mild"), (n <= 12, "moderate")]
    )
    return scored.reset_index(drop=True)


def multimorbidity(lake: PandasLake) -> pd.DataFrame:
    """For every person, how many of the multimorbidity conditions they have recorded
    (``conditions``; each counts once however coded)."""
    clusters = _lookup({name: (name,) for name in MULTIMORBIDITY_CONDITIONS}, "condition")
    recorded = lake["condition"][["person_id", "code"]].merge(clusters, on="code")
    counts = recorded.groupby("person_id")["condition"].nunique()
    result = lake["person"][["person_id"]].copy()
    result["conditions"] = result["person_id"].map(counts).fillna(0).astype("int32")
    return result.reset_index(drop=True)


def emergency_admissions(lake: PandasLake, as_of: date, days: int = 365) -> pd.DataFrame:
    """Emergency admissions admitted (UTC date) in (as_of - days, as_of], per person who had
    one: ``person_id``, ``admissions``."""
    admission = lake["admission"]
    admitted = _utc_date(admission["admitted"])
    # A missing ``emergency`` is not an emergency (a SQL filter drops nulls).
    window = (
        admission["emergency"].fillna(False)
        & (admitted > _day(as_of - timedelta(days=days)))
        & (admitted <= _day(as_of))
    )
    counts = admission[window].groupby("person_id").size()
    return counts.rename("admissions").reset_index()


def bridges_to_health(lake: PandasLake, as_of: date) -> pd.DataFrame:
    """Each person's Bridges to Health segment: ``segment_order`` 1 to 8 and ``segment``
    (``measures.bridges_to_health``: the first segment that applies, highest need first)."""
    since = as_of - timedelta(days=365)
    admitted = emergency_admissions(lake, as_of)["person_id"]
    ae = lake["ae_attendance"]
    arrived = _utc_date(ae["arrival"])
    attended = ae.loc[(arrived > _day(since)) & (arrived <= _day(as_of)), "person_id"]
    frailty = efi(lake)
    people = lake["person"][["person_id", "age"]]

    def flag(ids: pd.Series) -> pd.Series:
        return people["person_id"].isin(ids)

    cancer = flag(has_condition(lake, "cancer"))
    dementia = flag(has_condition(lake, "dementia"))
    organ_failure = flag(has_condition(lake, "heart_failure", "copd", "ckd_4_5"))
    disability = flag(has_condition(lake, "severe_mental_illness", "parkinsonism", "stroke"))
    chronic = flag(has_condition(lake, *MULTIMORBIDITY_CONDITIONS))
    was_admitted = flag(admitted)
    was_attended = flag(attended)
    severe = flag(frailty.loc[frailty["category"] == "severe", "person_id"])
    moderate = flag(frailty.loc[frailty["category"] == "moderate", "person_id"])
    # A missing age is neither under 65 nor under one (a null comparison is not true).
    under_65 = people["age"].lt(65).fillna(False).astype(bool)
    infant = people["age"].lt(1).fillna(False).astype(bool)
    order = np.select(
        [
            cancer & was_admitted,
            dementia | severe,
            organ_failure & was_admitted,
            disability | (moderate & under_65),
            chronic,
            was_admitted | was_attended,
            infant,
        ],
        [1, 2, 3, 4, 5, 6, 7],
        default=8,
    ).astype("int32")
    result = people[["person_id"]].copy()
    result["segment_order"] = order
    result["segment"] = result["segment_order"].map(dict(enumerate(BRIDGES_TO_HEALTH, start=1)))
    return result.reset_index(drop=True)


def vulnerability(lake: PandasLake, as_of: date) -> pd.DataFrame:
    """Everyone, with a 0/1 column per vulnerability reason and ``vulnerable`` (1 when any
    applies) (``measures.vulnerability``)."""
    frailty = efi(lake)
    alone = has_condition(lake, "social_vulnerability")
    copd = has_condition(lake, "copd")
    admitted = emergency_admissions(lake, as_of)["person_id"]
    reasons = {
        "severe_frailty": frailty.loc[frailty["category"] == "severe", "person_id"],
        "lung_cancer": has_condition(lake, "lung_cancer"),
        "ckd_stage_5": has_condition(lake, "ckd_5"),
        "severe_respiratory": copd[copd.isin(admitted)],
        "alone_and_housebound": alone[alone.isin(has_condition(lake, "housebound"))],
        "alone_with_dementia": alone[alone.isin(has_condition(lake, "dementia"))],
    }
    result = lake["person"][["person_id"]].copy()
    for name, ids in reasons.items():
        result[name] = _flag(result, ids)
    result["vulnerable"] = (result[list(reasons)].sum(axis=1) > 0).astype("int8")
    return result.reset_index(drop=True)


def _describe(criterion: Mapping[str, Any]) -> str:
    """The entry line's text, as cohorts.run_cohort words it."""
    return ", ".join(f"{k} {v}" for k, v in criterion.items())


def run_cohort(
    definition: Mapping[str, Any], lake: PandasLake, as_of: date
) -> tuple[Attrition, set[str]]:
    """A cohort (as ``load_cohort`` reads it): the attrition, (rule, remaining, removed) for
    the entry and each rule in order, and the person_ids in the cohort at the end."""
    # Only the living people registered with a practice enter (a cohort is for acting on).
    entered = _matching(definition["entry"], lake, as_of)
    people = entered[entered.isin(registered_population(lake)["person_id"])]
    attrition: Attrition = [("entry: " + _describe(definition["entry"]), len(people), 0)]
    for rule in definition.get("rules") or []:
        if "without" in rule:
            people = people[~people.isin(_matching(rule["without"], lake, as_of))]
        else:
            people = people[people.isin(_matching(rule.get("with", rule), lake, as_of))]
        attrition.append((rule["name"], len(people), attrition[-1][1] - len(people)))
    return attrition, set(people)


def _matching(c: Mapping[str, Any], lake: PandasLake, as_of: date) -> pd.Series:
    """The people (``person_id``) a criterion holds for (``cohorts._matching``, kind by kind)."""
    since, until = _day(as_of - timedelta(days=int(c.get("within_days", _FOREVER)))), _day(as_of)
    if "condition" in c:
        return has_condition(lake, c["condition"])
    if "medication" in c:
        medication = lake["medication"]
        issued = medication["code"].isin(_codes(c["medication"])) & (medication["issued"] <= until)
        if c.get("current"):
            issued &= medication["status"] == "active"
        else:
            issued &= medication["issued"] >= since
        return medication.loc[issued, "person_id"].drop_duplicates()
    if "any_of" in c:
        everyone = lake["person"]["person_id"]
        options = [
            everyone[~everyone.isin(_matching(option["without"], lake, as_of))]
            if "without" in option
            else _matching(option, lake, as_of)
            for option in c["any_of"]
        ]
        return pd.concat(options, ignore_index=True).drop_duplicates()
    if "encounter" in c:
        encounter = lake["encounter"]
        started = _utc_date(encounter["start"])
        seen = (
            encounter["type_code"].isin(_codes(c["encounter"]))
            & (started >= since)
            & (started <= until)
        )
        return encounter.loc[seen, "person_id"].drop_duplicates()
    if "immunisation" in c:
        given = lake["immunisation"]
        window = (
            given["code"].isin(_codes(c["immunisation"]))
            & (given["administered"] >= since)
            & (given["administered"] <= until)
        )
        return given.loc[window, "person_id"].drop_duplicates()
    if "observation" in c:
        observation = lake["observation"]
        seen = observation[
            observation["code"].isin(_codes(c["observation"]))
            & (observation["effective"] >= since)
            & (observation["effective"] <= until)
            & observation["value"].notna()
        ]
        if "last_above" not in c and "last_at_least" not in c:
            return seen["person_id"].drop_duplicates()
        # The most recent reading; of two on the same day, the higher (Ibis's row_number
        # ordered by effective then value, both descending).
        newest = seen.sort_values(
            ["person_id", "effective", "value"], ascending=[True, False, False]
        ).drop_duplicates("person_id")
        if "last_above" in c:
            newest = newest[newest["value"] > float(c["last_above"])]
        else:
            newest = newest[newest["value"] >= float(c["last_at_least"])]
        return newest["person_id"]
    if c.get("measure") == "efi":
        frailty = efi(lake)
        return frailty.loc[frailty["category"].isin(list(c["category_in"])), "person_id"]
    if c.get("measure") == "bridges_to_health":
        segments = bridges_to_health(lake, as_of)
        return segments.loc[segments["segment"].isin(list(c["segment_in"])), "person_id"]
    if c.get("measure") == "vulnerability":
        vulnerable = vulnerability(lake, as_of)
        return vulnerable.loc[vulnerable["vulnerable"] == 1, "person_id"]
    if "measure" in c:
        scored = cha2ds2_vasc(lake)
        # A missing score (missing sex) is not at least anything.
        return scored.loc[scored["score"].ge(int(c.get("at_least", 0))).fillna(False), "person_id"]
    if "emergency_admissions" in c:
        days = int(c.get("within_days", _FOREVER))
        counts = emergency_admissions(lake, as_of, days=days)
        return counts.loc[counts["admissions"] >= int(c["emergency_admissions"]), "person_id"]
    rules = c["person"]
    person = lake["person"]
    keep = pd.Series(True, index=person.index)
    # Missing core20 or age matches no rule (a SQL filter drops nulls).
    if "core20" in rules:
        keep &= person["core20"].eq(bool(rules["core20"])).fillna(False)
    if "age_at_least" in rules:
        keep &= person["age"].ge(int(rules["age_at_least"])).fillna(False)
    if "age_below" in rules:
        keep &= person["age"].lt(int(rules["age_below"])).fillna(False)
    return person.loc[keep.astype(bool), "person_id"]


def run_all(lake_dir: Path, as_of: date) -> dict[str, Any]:
    """Read the lake and run every measure and every shipped cohort, as a benchmark times
    it end to end: ``{"measures": {name: DataFrame}, "cohorts": {file stem: {"name",
    "attrition", "people"}}}``."""
    lake = read_lake(lake_dir)
    measures = {
        "cha2ds2_vasc": cha2ds2_vasc(lake),
        "efi": efi(lake),
        "multimorbidity": multimorbidity(lake),
        "emergency_admissions": emergency_admissions(lake, as_of),
        "bridges_to_health": bridges_to_health(lake, as_of),
        "vulnerability": vulnerability(lake, as_of),
    }
    cohorts = {}
    for path in sorted(SHIPPED_COHORTS.glob("*.yaml")):
        definition = load_cohort(path)
        attrition, people = run_cohort(definition, lake, as_of)
        cohorts[path.stem] = {"name": definition["name"], "attrition": attrition, "people": people}
    return {"measures": measures, "cohorts": cohorts}
