"""The emergency-admission risk model on a lake whose truth is known, and on Spark."""

from __future__ import annotations

import importlib.util
import itertools
import math
import random
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from joinedup.population.lake import SCHEMAS
from joinedup.population.measures import CODE_LISTS, duckdb_lake, spark_lake
from joinedup.population.risk import (
    BASELINE_FEATURES,
    FEATURES,
    RISK_BANDS,
    RiskModel,
    auc,
    calibration_intercept_slope,
    features,
    held_out,
    report,
    score,
    train,
    training_table,
)
from tests.support.lake import write_lake

AS_OF = date(2026, 3, 31)
T0 = AS_OF - timedelta(days=365)

#: The truth the synthetic history is drawn from: log odds of an emergency admission in
#: the year after t0.
TRUE_INTERCEPT = -2.8
TRUE_AGE_PER_YEAR = 0.02  # centred on 55
TRUE_PRIOR_ADMISSION = 0.9  # per emergency admission in the year before t0
TRUE_COPD = 1.0


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def some_day(rnd: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rnd.randrange((last - first).days + 1))


def poisson(rnd: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small means here.
    limit, k, p = math.exp(-mean), 0, rnd.random()
    while p > limit:
        k += 1
        p *= rnd.random()
    return k


def synthetic_history(
    folder: Path, n: int, seed: int, *, signal: bool = True
) -> tuple[Path, dict[str, int]]:
    """A lake of ``n`` people whose admissions in the year after t0 follow the true model
    (or, without ``signal``, a fair coin for everyone); the outcome by person."""
    rnd = random.Random(seed)
    people, conditions = [], []
    admissions: list[dict[str, Any]] = []
    attendances: list[dict[str, Any]] = []
    outcomes: dict[str, int] = {}
    for i in range(n):
        pid = f"r{i:05d}"
        age = rnd.randrange(18, 96)  # on AS_OF; a year less at t0
        quintile = rnd.choice([1, 2, 3, 4, 5, None])
        people.append(
            {
                "person_id": pid,
                "age": age,
                "sex": rnd.choice(["female", "male"]),
                "imd_decile": 2 * quintile if quintile else None,
                "imd_quintile": quintile,
            }
        )
        copd = rnd.random() < 0.15
        if copd:
            conditions.append((pid, "copd"))
        # Noise the model must learn to ignore, and that blurs the baseline's count.
        for name, share in (("hypertension", 0.25), ("diabetes", 0.1), ("depression", 0.12)):
            if rnd.random() < share:
                conditions.append((pid, name))
        # Overdispersed, as use is: a minority of frequent users, more of them when older.
        frequent = rnd.random() < 0.1 + 0.002 * (age - 18)
        prior = poisson(rnd, 1.8 if frequent else 0.2)
        for _ in range(prior):
            day = some_day(rnd, T0 - timedelta(days=364), T0)
            admissions.append(stay(pid, day, emergency=True, days=rnd.randrange(0, 10)))
        if rnd.random() < 0.2:  # history older than the look-back counts for nothing
            day = some_day(rnd, T0 - timedelta(days=900), T0 - timedelta(days=400))
            admissions.append(stay(pid, day, emergency=True, days=3))
        for _ in range(poisson(rnd, 0.3)):
            attendances.append(
                {"person_id": pid, "arrival": noon(some_day(rnd, T0 - timedelta(days=364), T0))}
            )
        if signal:
            lp = (
                TRUE_INTERCEPT
                + TRUE_AGE_PER_YEAR * (age - 1 - 55)
                + TRUE_PRIOR_ADMISSION * prior
                + TRUE_COPD * copd
            )
            admitted = rnd.random() < 1 / (1 + math.exp(-lp))
        else:
            admitted = rnd.random() < 0.5
        outcomes[pid] = int(admitted)
        if admitted:
            day = some_day(rnd, T0 + timedelta(days=1), AS_OF)
            admissions.append(stay(pid, day, emergency=True, days=rnd.randrange(0, 10)))
        if rnd.random() < 0.1:  # planned stays after t0 are not the outcome
            day = some_day(rnd, T0 + timedelta(days=1), AS_OF)
            admissions.append(stay(pid, day, emergency=False, days=1))
    folder = write_lake(folder, people, conditions, admission=admissions, ae_attendance=attendances)
    return folder, outcomes


def stay(pid: str, day: date, *, emergency: bool, days: int) -> dict[str, Any]:
    return {
        "person_id": pid,
        "partner": "RK950",
        "admitted": noon(day),
        "discharged": noon(day + timedelta(days=days)),
        "length_of_stay_days": days,
        "admission_method": "21" if emergency else "11",
        "emergency": emergency,
    }


def rewrite(folder: Path, table: str, rows: list[dict[str, Any]]) -> None:
    """Replace one table of a test lake (write_lake writes conditions without dates)."""
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMAS[table]), folder / f"{table}.parquet")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    return synthetic_history(tmp_path_factory.mktemp("risk"), 3000, seed=5)


@pytest.fixture(scope="module")
def model(history: tuple[Path, dict[str, int]]) -> RiskModel:
    return train(duckdb_lake(history[0]), AS_OF)


def test_the_model_recovers_the_signal_and_beats_the_baseline(model: RiskModel) -> None:
    m, b = model.performance, model.baseline_performance
    assert m.auc > 0.7
    assert m.auc > b.auc + 0.05
    coefficients = model.model.coefficients
    assert coefficients["emergency_admissions_12m"] > 0
    assert coefficients["ltc_copd"] > 0.5
    # Risk rises with age: the oldest band above the reference (40-54), the youngest below.
    assert coefficients["age_85_plus"] > 0 > coefficients["age_18_39"]
    # Conditions with no effect in the truth get small coefficients.
    for name in ("ltc_depression", "ltc_diabetes", "ltc_hypertension"):
        assert abs(coefficients[name]) < 0.5, name
    assert model.training_people + m.people == 3000
    assert set(model.baseline.features) == set(BASELINE_FEATURES)


def test_the_model_is_calibrated_on_the_held_out_people(model: RiskModel) -> None:
    m = model.performance
    # The intercept makes the training people's mean risk their rate exactly; held out,
    # the two differ by sampling alone: within three standard errors of both samples'.
    rate = m.observed_rate
    sampling = math.sqrt(rate * (1 - rate) * (1 / m.people + 1 / model.training_people))
    assert abs(m.mean_predicted - rate) < 3 * sampling
    assert abs(m.calibration_in_the_large) < 0.35
    assert 0.7 < m.calibration_slope < 1.3
    assert m.brier < m.observed_rate * (1 - m.observed_rate)  # better than the event rate alone
    assert len(m.deciles) == 10
    assert sum(d.people for d in m.deciles) == m.people
    for d in m.deciles:
        # Within three standard errors of the predicted rate (plus a little for the fit).
        spread = 3 * math.sqrt(d.mean_predicted * (1 - d.mean_predicted) / d.people) + 0.02
        assert abs(d.observed_rate - d.mean_predicted) < spread, d
    rates = [d.mean_predicted for d in m.deciles]
    assert rates == sorted(rates)
    assert m.deciles[-1].observed_rate > 3 * m.deciles[0].observed_rate


def test_a_history_without_signal_gives_an_auc_near_a_half(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder, _ = synthetic_history(tmp_path_factory.mktemp("noise"), 3000, seed=9, signal=False)
    fitted = train(duckdb_lake(folder), AS_OF)
    assert abs(fitted.performance.auc - 0.5) < 0.07


def test_the_training_outcome_is_the_year_after_t0(history: tuple[Path, dict[str, int]]) -> None:
    folder, outcomes = history
    rows = training_table(duckdb_lake(folder), AS_OF).select("person_id", "admitted")
    assert {r["person_id"]: r["admitted"] for r in rows.to_pyarrow().to_pylist()} == outcomes


def brute_force_auc(risk: list[float], outcome: list[int]) -> float:
    pairs = [
        1.0 if p > q else 0.5 if p == q else 0.0
        for (p, a), (q, b) in itertools.product(zip(risk, outcome, strict=True), repeat=2)
        if a == 1 and b == 0
    ]
    return sum(pairs) / len(pairs)


@pytest.mark.parametrize("seed", range(8))
def test_the_auc_is_the_pairwise_chance_of_ranking_right_ties_counting_half(seed: int) -> None:
    rnd = np.random.default_rng(seed)
    n = int(rnd.integers(5, 60))
    risk = np.round(rnd.random(n), 1)  # rounded, so there are plenty of ties
    outcome = rnd.integers(0, 2, n)
    outcome[:2] = [0, 1]
    assert auc(risk, outcome) == pytest.approx(
        brute_force_auc(risk.tolist(), outcome.tolist()), abs=1e-12
    )


def test_the_auc_of_a_constant_is_a_half_and_needs_both_outcomes() -> None:
    assert auc(np.full(6, 0.3), np.array([0, 1, 0, 1, 1, 0])) == 0.5
    with pytest.raises(ValueError, match="with and without"):
        auc(np.array([0.1, 0.2]), np.array([1, 1]))


def test_recalibration_of_true_risks_gives_intercept_zero_and_slope_one() -> None:
    rnd = np.random.default_rng(3)
    risk = 1 / (1 + np.exp(-rnd.normal(-1.5, 1.0, 40_000)))
    outcome = (rnd.random(len(risk)) < risk).astype(int)
    intercept, slope = calibration_intercept_slope(risk, outcome)
    assert abs(intercept) < 0.05
    assert abs(slope - 1) < 0.05
    # Too extreme (logit doubled): the slope says so.
    extreme = 1 / (1 + np.exp(-2 * np.log(risk / (1 - risk))))
    assert calibration_intercept_slope(extreme, outcome)[1] == pytest.approx(0.5, abs=0.05)


def test_the_split_is_deterministic_disjoint_and_about_thirty_percent() -> None:
    ids = [f"person-{i}" for i in range(5000)]
    first = [held_out(i) for i in ids]
    assert first == [held_out(i) for i in ids]
    assert 0.27 < sum(first) / len(ids) < 0.33
    # The split depends only on the person: any order, any subset, the same answer.
    assert [held_out(i) for i in reversed(ids)] == first[::-1]


def test_the_model_saves_and_loads(model: RiskModel, tmp_path: Path) -> None:
    path = tmp_path / "_risk_model.json"
    model.save(path)
    assert RiskModel.load(path) == model
    text = path.read_text()
    assert "r0" not in text  # parameters and aggregates only: no person_id
    assert "AUC" in report(model)


def test_a_model_from_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text('{"format": "something-else"}')
    with pytest.raises(ValueError, match="not a risk model"):
        RiskModel.load(path)


def test_no_outcome_events_and_too_few_people_are_clear_errors(tmp_path: Path) -> None:
    people = [{"person_id": f"q{i}", "age": 40 + i % 40, "sex": "female"} for i in range(400)]
    with pytest.raises(ValueError, match="no outcome events") as raised:
        train(duckdb_lake(write_lake(tmp_path / "none", people, [])), AS_OF)
    assert "q1" not in str(raised.value)
    few = [stay(f"q{i}", T0 + timedelta(days=30), emergency=True, days=1) for i in range(5)]
    with pytest.raises(ValueError, match="too few outcome events"):
        train(duckdb_lake(write_lake(tmp_path / "few", people, [], admission=few)), AS_OF)
    with pytest.raises(ValueError, match="too few people"):
        train(duckdb_lake(write_lake(tmp_path / "small", people[:50], [], admission=few)), AS_OF)


@pytest.fixture(scope="module")
def edges(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few people at the edges of the windows."""
    people = [
        {"person_id": "alive", "age": 80, "sex": "female", "imd_quintile": 2},
        {"person_id": "died-before-t0", "age": 70, "sex": "male", "died": True},
        {"person_id": "died-after-t0", "age": 75, "sex": "male", "died": True},
        {"person_id": "no-age", "age": 0, "sex": None},
    ]
    folder = write_lake(
        tmp_path_factory.mktemp("edges"),
        people,
        [],
        death=[
            {"person_id": "died-before-t0", "month": date(2025, 1, 1), "age": 70},
            {"person_id": "died-after-t0", "month": date(2025, 10, 1), "age": 75},
        ],
        admission=[
            stay("alive", T0, emergency=True, days=4),  # on t0: before
            stay("alive", T0 - timedelta(days=364), emergency=True, days=2),  # in the year
            stay("alive", T0 - timedelta(days=365), emergency=True, days=9),  # a year back: out
            stay("alive", T0 - timedelta(days=10), emergency=False, days=5),  # planned: days only
            stay("alive", T0 + timedelta(days=1), emergency=True, days=1),  # the outcome
        ],
        ae_attendance=[
            {"person_id": "alive", "arrival": noon(T0)},
            {"person_id": "alive", "arrival": noon(T0 + timedelta(days=1))},
        ],
        medication=[
            {
                "person_id": "alive",
                "code": f"m{i}",
                "issued": T0 - timedelta(days=i),
                "status": "active",
            }
            for i in range(6)
        ]
        + [
            {
                "person_id": "alive",
                "code": "later",
                "issued": T0 + timedelta(days=5),
                "status": "active",
            },
            {
                "person_id": "alive",
                "code": "gone",
                "issued": T0 - timedelta(days=5),
                "status": "stopped",
            },
        ],
        social_care=[
            {
                "person_id": "alive",
                "kind": "package",
                "start": T0 - timedelta(days=30),
                "end": None,
            },
            {"person_id": "alive", "kind": "assessment", "start": T0 - timedelta(days=40)},
        ],
    )
    code = {name: CODE_LISTS[name][0] for name in ("copd", "diabetes", "asthma", "hypertension")}
    rewrite(
        folder,
        "condition",
        [
            {"person_id": "alive", "code": code["copd"], "onset": T0 - timedelta(days=1)},
            {"person_id": "alive", "code": code["diabetes"], "onset": T0 + timedelta(days=1)},
            {"person_id": "alive", "code": code["asthma"]},  # no date: before
            {
                "person_id": "alive",
                "code": code["hypertension"],
                "onset": None,
                "recorded": T0 + timedelta(days=2),
            },
        ],
    )
    # The lake's age 0 stands for a person with no date of birth here.
    person = pq.read_table(folder / "person.parquet").to_pylist()
    for row in person:
        if row["person_id"] == "no-age":
            row["age"] = row["age_band"] = None
    rewrite(folder, "person", person)
    return folder


def test_features_count_only_what_was_known_at_t0(edges: Path) -> None:
    lake = duckdb_lake(edges)
    at_t0 = {r["person_id"]: r for r in features(lake, T0, ages_on=AS_OF).to_pyarrow().to_pylist()}
    assert set(at_t0) == {"alive", "died-after-t0", "no-age"}
    alive = at_t0["alive"]
    assert alive["age_75_84"] == 1.0  # 80 on the as-of date, 79 at t0
    assert alive["sex_female"] == 1.0 and alive["imd_q2"] == 1.0
    assert (alive["ltc_copd"], alive["ltc_asthma"]) == (1.0, 1.0)
    assert (alive["ltc_diabetes"], alive["ltc_hypertension"]) == (0.0, 0.0)
    assert alive["conditions"] == 2.0
    assert alive["emergency_admissions_12m"] == 2.0
    assert alive["bed_days_12m_log"] == pytest.approx(math.log(1 + 4 + 2 + 5))
    assert alive["ae_attendances_12m"] == 1.0
    assert alive["medicines"] == 6.0
    assert alive["social_care_package"] == alive["social_care_assessment_12m"] == 1.0
    # Copd, asthma (both respiratory disease: one deficit) and polypharmacy: fit.
    assert alive["efi_mild"] == 0.0
    assert at_t0["died-after-t0"]["age_75_84"] == 1.0  # age at death, months after t0
    assert at_t0["no-age"]["age_unknown"] == at_t0["no-age"]["sex_other_or_unknown"] == 1.0
    assert at_t0["no-age"]["imd_unknown"] == 1.0
    outcome = {
        r["person_id"]: r["admitted"]
        for r in training_table(lake, AS_OF)
        .select("person_id", "admitted")
        .to_pyarrow()
        .to_pylist()
    }
    assert outcome == {"alive": 1, "died-after-t0": 0, "no-age": 0}
    later = {r["person_id"]: r for r in features(lake, AS_OF).to_pyarrow().to_pylist()}
    assert set(later) == {"alive", "no-age"}
    assert later["alive"]["ltc_diabetes"] == later["alive"]["ltc_hypertension"] == 1.0
    assert later["alive"]["medicines"] == 7.0
    assert set(FEATURES) <= set(alive)


def scores(table: Any) -> dict[str, tuple[float, str]]:
    return {r["person_id"]: (r["risk"], r["risk_band"]) for r in table.to_pyarrow().to_pylist()}


def test_scoring_on_the_engine_matches_the_fit_and_bands_by_share(
    history: tuple[Path, dict[str, int]], model: RiskModel
) -> None:
    lake = duckdb_lake(history[0])
    scored = scores(score(lake, model, AS_OF))
    assert len(scored) == 3000
    matrix = features(lake, AS_OF).to_pyarrow()
    x = np.column_stack([matrix.column(f).to_numpy() for f in model.model.features])
    expected = dict(
        zip(matrix.column("person_id").to_pylist(), model.model.predict(x), strict=True)
    )
    assert max(abs(scored[p][0] - expected[p]) for p in scored) < 1e-12
    # A person's band is set by the share of people at or above their risk (ties together).
    risks = np.sort(np.array([r for r, _ in scored.values()]))
    for risk, band in scored.values():
        share = (len(risks) - np.searchsorted(risks, risk, side="left")) / len(risks)
        assert band == next(name for upper, name in RISK_BANDS if share <= upper)
    counts = {name: sum(b == name for _, b in scored.values()) for _, name in RISK_BANDS}
    assert counts["very high"] <= 15 and counts["very high"] + counts["high"] <= 150
    assert counts["moderate"] > 0 and counts["low"] >= 0.8 * 3000


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    if importlib.util.find_spec("pyspark") is None or shutil.which("java") is None:
        pytest.skip("needs PySpark and a Java runtime")
    from joinedup.identity.linkage import local_spark_session

    session = local_spark_session(cores=2)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
)
def test_spark_scores_what_duckdb_scores(
    history: tuple[Path, dict[str, int]], model: RiskModel, edges: Path, spark: Any
) -> None:
    for folder in (history[0], edges):
        on_duckdb = scores(score(duckdb_lake(folder), model, AS_OF))
        on_spark = scores(score(spark_lake(folder, spark), model, AS_OF))
        assert on_duckdb  # the comparison must compare something
        assert set(on_spark) == set(on_duckdb)
        for pid, (risk, band) in on_duckdb.items():
            assert on_spark[pid][0] == pytest.approx(risk, abs=1e-9)
            assert on_spark[pid][1] == band
    # The features at the edges of the windows, too (the timestamps are UTC instants).
    at_t0 = features(spark_lake(edges, spark), T0, ages_on=AS_OF).to_pyarrow().to_pylist()
    expected = features(duckdb_lake(edges), T0, ages_on=AS_OF).to_pyarrow().to_pylist()
    assert sorted(at_t0, key=lambda r: r["person_id"]) == sorted(
        expected, key=lambda r: r["person_id"]
    )
