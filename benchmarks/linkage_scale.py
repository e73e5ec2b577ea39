"""Benchmark: link every source record of a full-size synthetic ICS on DuckDB.

Builds a population (570,000 people by default) in households, writes the records each
partner system would hold about them (GP, acute, community and mental-health trusts with
NHS numbers; the council's social care with gaps, typos, nicknames, swapped day and month
and old addresses), then trains the linkage model unsupervised and links every record.
Reports seconds per step, peak memory (resident set of this process, DuckDB included)
and pairwise precision, recall and F1 against the generator's truth.

    .venv/bin/python benchmarks/linkage_scale.py                 # full size
    .venv/bin/python benchmarks/linkage_scale.py --people 20000  # a quick look

Targets (issue): <= 3 minutes and <= 6 GiB; precision >= 0.995 and recall >= 0.99.
"""

from __future__ import annotations

import argparse
import json
import resource
import string
import time
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from joinedup.identity.evaluate import pairwise_quality
from joinedup.identity.linkage import link, train
from joinedup.synthetic.population import (
    BRITISH_SURNAMES,
    CORNISH_SURNAMES,
    GIVEN_NAMES,
    NAME_ERAS,
    nhs_numbers_for_indices,
)

_STREETS = (
    "Trelawney Road",
    "Fore Street",
    "Chapel Street",
    "Market Jew Street",
    "Causewayhead",
    "Penwith Road",
    "Boscawen Street",
    "Lemon Street",
    "Kenwyn Road",
    "Station Hill",
    "Church Lane",
    "Harbour View",
    "Mount Pleasant",
    "Trevithick Close",
    "Polwithen Drive",
    "Tregenna Hill",
    "Parc Eglos",
    "Higher Fore Street",
    "Bodmin Road",
    "Pydar Street",
)
_DISTRICTS = tuple(f"TR{n}" for n in range(1, 28)) + tuple(f"PL{n}" for n in range(10, 36))
_NICKNAME_OF = {
    "ROBERT": "BOB",
    "WILLIAM": "BILL",
    "ELIZABETH": "LIZ",
    "MARGARET": "MAGGIE",
    "RICHARD": "DICK",
    "JAMES": "JIM",
    "MICHAEL": "MIKE",
    "CHRISTOPHER": "CHRIS",
    "KATHERINE": "KATE",
    "SUSAN": "SUE",
    "THOMAS": "TOM",
    "ANTHONY": "TONY",
    "DAVID": "DAVE",
    "EDWARD": "TED",
    "PATRICIA": "PAT",
    "JENNIFER": "JENNY",
    "SAMUEL": "SAM",
    "MATTHEW": "MATT",
    "ALEXANDER": "ALEX",
    "BENJAMIN": "BEN",
    "DANIEL": "DAN",
    "NICHOLAS": "NICK",
    "STEPHEN": "STEVE",
    "PETER": "PETE",
    "PHILIP": "PHIL",
    "KENNETH": "KEN",
    "FREDERICK": "FRED",
    "HENRY": "HARRY",
}


def build_population(people: int, seed: int) -> pd.DataFrame:
    """People in households: shared postcode and address, often a shared family name."""
    rng = np.random.default_rng(seed)
    household_sizes = rng.choice([1, 2, 3, 4, 5], size=people, p=[0.3, 0.35, 0.15, 0.15, 0.05])
    household = np.repeat(np.arange(people), household_sizes)[:people]
    households = int(household.max()) + 1

    postcodes = _postcodes(rng, max(households // 12, 1))
    home_postcode = postcodes[rng.integers(0, len(postcodes), households)]
    home_line = np.array(
        [
            f"{n} {s}"
            for n, s in zip(
                rng.integers(1, 200, households),
                np.array(_STREETS)[rng.integers(0, len(_STREETS), households)],
                strict=True,
            )
        ],
        dtype=object,
    )
    surnames = np.array([n.upper() for n in (*BRITISH_SURNAMES, *CORNISH_SURNAMES)], dtype=object)
    household_surname = surnames[_zipf_indices(rng, len(surnames), households)]
    # Most people share the household's family name; some (lodgers, partners) do not.
    family = np.where(
        rng.random(people) < 0.8,
        household_surname[household],
        surnames[_zipf_indices(rng, len(surnames), people)],
    )

    age_days = (rng.beta(1.6, 1.9, people) * 100 * 365.25).astype(np.int64)
    birth = np.datetime64("2025-01-01") - age_days.astype("timedelta64[D]")
    # Twins: the next person in the household, born the same day with the same surname.
    twin = np.zeros(people, dtype=bool)
    twin[1:] = (household[1:] == household[:-1]) & (rng.random(people - 1) < 0.02)
    for i in np.flatnonzero(twin):
        birth[i] = birth[i - 1]
        family[i] = family[i - 1]
    birth_year = birth.astype("datetime64[Y]").astype(int) + 1970
    sex = np.where(rng.random(people) < 0.51, "female", "male")
    era = np.searchsorted(np.array(NAME_ERAS), birth_year, side="right")
    given = np.empty(people, dtype=object)
    for s in ("female", "male"):
        for e, names in enumerate(GIVEN_NAMES[s]):
            chosen = (sex == s) & (era == e)
            pool = np.array([n.upper() for n in names], dtype=object)
            given[chosen] = pool[_zipf_indices(rng, len(pool), int(chosen.sum()))]

    return pd.DataFrame(
        {
            "person": np.arange(people),
            "nhs_number": nhs_numbers_for_indices(np.arange(people)),
            "given_name": given,
            "family_name": family,
            "birth_date": pd.to_datetime(birth).strftime("%Y-%m-%d"),
            "sex": sex,
            "postcode": home_postcode[household],
            "address_line": home_line[household],
            # Where they lived before: another household's home.
            "old_postcode": home_postcode[rng.integers(0, households, people)],
            "old_address_line": home_line[rng.integers(0, households, people)],
        }
    )


def source_records(population: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The records each partner's system holds, with each system's kinds of mistake."""
    rng = np.random.default_rng(seed + 1)
    # (source, share of people held, NHS number missing, name typo, moved since, duplicate)
    feeds = (
        ("gp", 1.00, 0.005, 0.005, 0.02, 0.01),
        ("acute", 0.75, 0.03, 0.01, 0.10, 0.03),
        ("community", 0.40, 0.05, 0.01, 0.10, 0.02),
        ("mental_health", 0.05, 0.05, 0.01, 0.10, 0.02),
        ("social_care", 0.20, 0.20, 0.05, 0.20, 0.03),
    )
    frames = []
    for source, share, no_nhs, typo, moved, duplicate in feeds:
        held = population[rng.random(len(population)) < share]
        again = held[rng.random(len(held)) < duplicate]
        records = pd.concat([held, again], ignore_index=True)
        n = len(records)
        records = records.assign(source=source)
        records["unique_id"] = [f"{source}-{i:07d}" for i in range(n)]
        records.loc[rng.random(n) < no_nhs, "nhs_number"] = None
        for column in ("given_name", "family_name"):
            hit = rng.random(n) < typo / 2
            records.loc[hit, column] = [_typo(rng, v) for v in records.loc[hit, column]]
        old = rng.random(n) < moved
        records.loc[old, "postcode"] = records.loc[old, "old_postcode"]
        records.loc[old, "address_line"] = records.loc[old, "old_address_line"]
        if source == "social_care":
            _social_care_mess(rng, records)
        frames.append(records)
    out = pd.concat(frames, ignore_index=True)
    return out[
        [
            "unique_id",
            "source",
            "nhs_number",
            "given_name",
            "family_name",
            "birth_date",
            "sex",
            "postcode",
            "address_line",
            "person",
        ]
    ]


def _social_care_mess(rng: np.random.Generator, records: pd.DataFrame) -> None:
    n = len(records)
    nick = rng.random(n) < 0.3
    records.loc[nick, "given_name"] = [
        _NICKNAME_OF.get(v, v) for v in records.loc[nick, "given_name"]
    ]
    swap = rng.random(n) < 0.03
    records.loc[swap, "birth_date"] = [_swap_day_month(v) for v in records.loc[swap, "birth_date"]]
    off = rng.random(n) < 0.01
    records.loc[off, "birth_date"] = [
        (date.fromisoformat(v) + timedelta(days=int(rng.integers(-40, 40)))).isoformat()
        for v in records.loc[off, "birth_date"]
    ]
    records.loc[rng.random(n) < 0.05, "sex"] = "unknown"
    records.loc[rng.random(n) < 0.1, "address_line"] = None
    records.loc[rng.random(n) < 0.02, "postcode"] = None


def _swap_day_month(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{year}-{day}-{month}" if int(day) <= 12 else iso


def _typo(rng: np.random.Generator, value: str) -> str:
    if len(value) < 3:
        return value
    i = int(rng.integers(1, len(value) - 1))
    kind = int(rng.integers(0, 4))
    letter = string.ascii_uppercase[int(rng.integers(0, 26))]
    if kind == 0:  # substitution
        return value[:i] + letter + value[i + 1 :]
    if kind == 1:  # deletion
        return value[:i] + value[i + 1 :]
    if kind == 2:  # insertion
        return value[:i] + letter + value[i:]
    return value[: i - 1] + value[i] + value[i - 1] + value[i + 1 :]  # transposition


def _postcodes(rng: np.random.Generator, count: int) -> np.ndarray:
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    district = np.array(_DISTRICTS)[rng.integers(0, len(_DISTRICTS), count)]
    sector = rng.integers(0, 10, count)
    unit = [
        letters[a] + letters[b]
        for a, b in zip(rng.integers(0, 20, count), rng.integers(0, 20, count), strict=True)
    ]
    return np.array(
        [f"{d} {s}{u}" for d, s, u in zip(district, sector, unit, strict=True)], dtype=object
    )


def _zipf_indices(rng: np.random.Generator, size: int, count: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1) ** 0.8
    return rng.choice(size, size=count, p=weights / weights.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=570_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB's memory limit")
    args = parser.parse_args()

    started = time.perf_counter()
    population = build_population(args.people, args.seed)
    records = source_records(population, args.seed)
    truth = records.set_index("unique_id")["person"]
    records = records.drop(columns=["person"])
    generated = time.perf_counter()

    connection = duckdb.connect(config={"threads": args.threads, "memory_limit": args.memory_limit})
    model = train(records, connection=connection)
    trained = time.perf_counter()
    result = link(records, model, connection=connection)
    linked = time.perf_counter()

    quality = pairwise_quality(result.persons.set_index("unique_id")["person_key"], truth)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    report = {
        "people": args.people,
        "source_records": len(records),
        "threads": args.threads,
        "seconds_generate": round(generated - started, 1),
        "seconds_train": round(trained - generated, 1),
        "seconds_link": round(linked - trained, 1),
        "seconds_train_and_link": round(linked - generated, 1),
        "peak_memory_gib": round(peak_gib, 2),
        "links": len(result.links),
        "review_pairs": len(result.review),
        **{k: (round(v, 5) if isinstance(v, float) else v) for k, v in quality.to_dict().items()},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
