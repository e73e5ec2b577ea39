"""Identity linkage end to end on DuckDB: quality, NHS numbers, the review band, the model.

Two data sets: Splink's ``fake_1000`` (third-party, in ``../shared``; its ``cluster``
column is the truth) and a small synthetic ICS from the linkage benchmark's generator,
into which hand-made cases are mixed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from benchmarks.linkage_scale import build_population, source_records

import joinedup.identity
from joinedup.identity.evaluate import pairwise_quality
from joinedup.identity.linkage import (
    LinkageModel,
    LinkageResult,
    link,
    linkage_settings,
    normalise,
    train,
)

# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------


def _nhs_number(stem: str) -> str:
    """A valid NHS number from a nine-digit stem (Modulus 11, NHS Data Dictionary)."""
    check = (11 - sum(int(d) * (10 - i) for i, d in enumerate(stem)) % 11) % 11
    assert check != 10, "this stem has no valid check digit"
    return stem + str(check)


def _record(unique_id: str, source: str, nhs: str | None, given: str, family: str,
            birth: str, sex: str, postcode: str, line: str | None) -> dict[str, str | None]:  # fmt: skip
    return {
        "unique_id": unique_id,
        "source": source,
        "nhs_number": nhs,
        "given_name": given,
        "family_name": family,
        "birth_date": birth,
        "sex": sex,
        "postcode": postcode,
        "address_line": line,
    }


NUMBER_A = "9434765919"  # the Data Dictionary's worked example
NUMBER_B = _nhs_number("401023213")
NUMBER_C = _nhs_number("401023214")
NUMBER_D = _nhs_number("401023215")
NUMBER_E = _nhs_number("401023218")

HAND_MADE = pd.DataFrame(
    [
        # One woman: GP record, and the council's with a nickname, day and month swapped,
        # her number spaced out, and her old address.
        _record("case-a1", "gp", NUMBER_A, "Margaret", "Pascoe", "1940-02-03", "female", "TR18 4AB", "1 Fore Street"),
        _record("case-a2", "social_care", "943 476 5919", "Maggie", "Pascoe", "1940-03-02", "female", "PL25 1AA", "9 Old Road"),
        # A stranger keyed with her number: names and birth date say otherwise.
        _record("case-a3", "acute", NUMBER_A, "Kevin", "Trebilcock", "1990-06-01", "male", "TR1 1AA", "5 Lemon Street"),
        # One man, no NHS number in social care: a nickname and a swapped date, then a typo.
        _record("case-b1", "gp", NUMBER_B, "Robert", "Penhaligon", "1955-11-07", "male", "TR26 1AB", "12 Harbour View"),
        _record("case-b2", "social_care", None, "Bob", "Penhaligon", "1955-07-11", "male", "TR26 1AB", "12 Harbour View"),
        _record("case-b3", "community", None, "Robert", "Penhaligan", "1955-11-07", "male", "TR26 1AB", "12 Harbour View"),
        # Twins: same family name, birth date and home; only the given name differs.
        _record("case-c1", "gp", NUMBER_C, "Jago", "Trewin", "2001-05-05", "male", "TR15 3CD", "7 Mount Pleasant"),
        _record("case-c2", "social_care", None, "Piran", "Trewin", "2001-05-05", "male", "TR15 3CD", "7 Mount Pleasant"),
        # Two valid NHS numbers on otherwise identical records: a person must look.
        _record("case-d1", "gp", NUMBER_D, "Tamsin", "Nance", "1980-01-01", "female", "TR20 8AA", "3 Chapel Street"),
        _record("case-d2", "acute", NUMBER_E, "Tamsin", "Nance", "1980-01-01", "female", "TR20 8AA", "3 Chapel Street"),
    ]
)  # fmt: skip


@pytest.fixture(scope="module")
def fake_1000(shared_dir: Path) -> pd.DataFrame:
    """Splink's fake_1000 mapped to source records: city stands in for the postcode."""
    raw = pd.read_csv(shared_dir / "data" / "splink" / "fake_1000.csv", dtype=str)
    return raw.rename(
        columns={
            "first_name": "given_name",
            "surname": "family_name",
            "dob": "birth_date",
            "city": "postcode",
        }
    ).assign(source="fake_1000")


@pytest.fixture(scope="module")
def fake_model(fake_1000: pd.DataFrame) -> LinkageModel:
    return train(fake_1000.drop(columns=["cluster"]))


@pytest.fixture(scope="module")
def fake_result(fake_1000: pd.DataFrame, fake_model: LinkageModel) -> LinkageResult:
    return link(fake_1000.drop(columns=["cluster"]), fake_model)


@pytest.fixture(scope="module")
def ics() -> tuple[pd.DataFrame, pd.Series]:
    """A small synthetic ICS's source records (3,000 people) and each record's person."""
    records = source_records(build_population(3_000, seed=7), seed=7)
    return records.drop(columns=["person"]), records.set_index("unique_id")["person"]


@pytest.fixture(scope="module")
def ics_model(ics: tuple[pd.DataFrame, pd.Series]) -> LinkageModel:
    return train(ics[0])


@pytest.fixture(scope="module")
def ics_result(ics: tuple[pd.DataFrame, pd.Series], ics_model: LinkageModel) -> LinkageResult:
    return link(ics[0], ics_model)


@pytest.fixture(scope="module")
def hand_made_result(
    ics: tuple[pd.DataFrame, pd.Series], ics_model: LinkageModel
) -> Iterator[LinkageResult]:
    # Among a population, so term frequencies and blocking behave as they would for real.
    yield link(pd.concat([ics[0], HAND_MADE], ignore_index=True), ics_model)


def _same_person(result: LinkageResult, a: str, b: str) -> bool:
    keys = result.person_keys()
    return keys[a] == keys[b]


def _review_pair(result: LinkageResult, a: str, b: str) -> pd.DataFrame:
    review = result.review
    return review[(review["unique_id_l"] == min(a, b)) & (review["unique_id_r"] == max(a, b))]


# ---------------------------------------------------------------------------------------
# Quality
# ---------------------------------------------------------------------------------------


def test_fake_1000_f1_at_least_0_9_unsupervised(
    fake_1000: pd.DataFrame, fake_result: LinkageResult
) -> None:
    quality = pairwise_quality(
        fake_result.persons.set_index("unique_id")["person_key"],
        fake_1000.set_index("unique_id")["cluster"],
    )
    # Measured: precision 1.0, recall 0.926, F1 0.962 (Splink quickstart settings: 0.665).
    assert quality.f1 >= 0.9
    assert quality.precision >= 0.99


def test_synthetic_ics_meets_the_precision_and_recall_targets(
    ics: tuple[pd.DataFrame, pd.Series], ics_result: LinkageResult
) -> None:
    quality = pairwise_quality(ics_result.persons.set_index("unique_id")["person_key"], ics[1])
    assert quality.precision >= 0.995
    assert quality.recall >= 0.99


# ---------------------------------------------------------------------------------------
# Deterministic step: NHS numbers
# ---------------------------------------------------------------------------------------


def test_shared_nhs_number_links_despite_nickname_swapped_date_and_old_address(
    hand_made_result: LinkageResult,
) -> None:
    assert _same_person(hand_made_result, "case-a1", "case-a2")
    links = hand_made_result.links
    pair = links[(links["unique_id_l"] == "case-a1") & (links["unique_id_r"] == "case-a2")]
    assert pair["method"].tolist() == ["nhs_number"]


def test_shared_nhs_number_contradicted_by_name_and_birth_date_goes_to_review(
    hand_made_result: LinkageResult,
) -> None:
    assert not _same_person(hand_made_result, "case-a1", "case-a3")
    assert not _same_person(hand_made_result, "case-a2", "case-a3")
    for other in ("case-a1", "case-a2"):
        flagged = _review_pair(hand_made_result, other, "case-a3")
        assert flagged["reason"].tolist() == ["nhs_number_conflict"]
        # The reviewer sees why: names and date of birth weigh against.
        row = flagged.iloc[0]
        assert row["mw_given_name"] < 0 and row["mw_family_name"] < 0
        assert row["mw_birth_date"] < 0


def test_two_different_valid_nhs_numbers_are_never_linked_unseen(
    hand_made_result: LinkageResult,
) -> None:
    assert not _same_person(hand_made_result, "case-d1", "case-d2")
    assert _review_pair(hand_made_result, "case-d1", "case-d2")["reason"].tolist() == [
        "different_nhs_numbers"
    ]


def test_invalid_nhs_numbers_are_ignored() -> None:
    table = normalise(
        pd.DataFrame(
            {
                "unique_id": ["1", "2", "3", "4", "5"],
                "nhs_number": ["943 476 5919", "9434765918", "0000000000", "12345", None],
            }
        )
    )
    assert table["nhs_number"].tolist()[0] == "9434765919"
    assert table["nhs_number"].isna().tolist() == [False, True, True, True, True]


# ---------------------------------------------------------------------------------------
# Probabilistic step and the review band
# ---------------------------------------------------------------------------------------


def test_hand_made_person_without_nhs_numbers_is_found(hand_made_result: LinkageResult) -> None:
    keys = hand_made_result.person_keys()
    assert keys["case-b1"] == keys["case-b2"] == keys["case-b3"]
    # The person key is the smallest unique_id in the cluster.
    assert keys["case-b1"] == "case-b1"


def test_twins_are_not_linked(hand_made_result: LinkageResult) -> None:
    assert not _same_person(hand_made_result, "case-c1", "case-c2")
    flagged = _review_pair(hand_made_result, "case-c1", "case-c2")
    assert flagged["reason"].tolist() in ([], ["given_names_differ"])


def test_review_band_lies_between_the_thresholds(ics_result: LinkageResult) -> None:
    probable = ics_result.review[ics_result.review["reason"] == "probable_match"]
    assert len(probable) > 0
    assert probable["match_probability"].between(0.8, 0.99, inclusive="left").all()
    # Each was left for a person because the two records are in different persons.
    assert (probable["person_key_l"] != probable["person_key_r"]).all()
    automatic = ics_result.links[ics_result.links["method"] == "probabilistic"]
    assert (automatic["match_probability"] >= 0.99).all()


def test_review_explanation_adds_up_to_the_match_weight(
    ics_result: LinkageResult, ics_model: LinkageModel
) -> None:
    prior = ics_model.splink_settings["probability_two_random_records_match"]
    review = ics_result.review
    parts = review[[c for c in review.columns if c.startswith("mw_")]].sum(axis=1)
    total = parts + math.log2(prior / (1 - prior))
    assert total.to_numpy() == pytest.approx(review["match_weight"].to_numpy(), abs=1e-6)
    assert {"mw_given_name", "mw_family_name", "mw_birth_date", "mw_residence"} <= set(
        review.columns
    )


def test_lowering_the_auto_link_threshold_empties_the_probable_band(
    ics: tuple[pd.DataFrame, pd.Series], ics_model: LinkageModel, ics_result: LinkageResult
) -> None:
    relaxed = link(ics[0], ics_model, auto_link_threshold=0.8, review_threshold=0.8)
    assert not (relaxed.review["reason"] == "probable_match").any()
    assert len(relaxed.links) > len(ics_result.links)


@pytest.mark.parametrize(("auto", "review"), [(0.8, 0.9), (1.2, 0.5), (0.9, 0.0)])
def test_thresholds_must_be_ordered_probabilities(
    ics_model: LinkageModel, auto: float, review: float
) -> None:
    with pytest.raises(ValueError):
        link(HAND_MADE, ics_model, auto_link_threshold=auto, review_threshold=review)


def test_person_keys_do_not_depend_on_record_order(
    ics: tuple[pd.DataFrame, pd.Series], ics_model: LinkageModel, ics_result: LinkageResult
) -> None:
    shuffled = ics[0].sample(frac=1.0, random_state=3)
    again = link(shuffled, ics_model)
    assert again.person_keys() == ics_result.person_keys()
    clusters = ics_result.persons.groupby("person_key")["unique_id"].min()
    assert (clusters.index == clusters.to_numpy()).all()


# ---------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------


def test_model_json_round_trip_gives_identical_predictions(
    fake_1000: pd.DataFrame, fake_model: LinkageModel, fake_result: LinkageResult
) -> None:
    loaded = LinkageModel.from_json(fake_model.to_json())
    assert loaded == fake_model
    again = link(fake_1000.drop(columns=["cluster"]), loaded)
    pd.testing.assert_frame_equal(again.persons, fake_result.persons)
    pd.testing.assert_frame_equal(again.links, fake_result.links)
    pd.testing.assert_frame_equal(again.review, fake_result.review)


def _parameters(model: LinkageModel) -> list[float]:
    settings = model.splink_settings
    values = [settings["probability_two_random_records_match"]]
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            values += [level.get("m_probability", -1.0), level.get("u_probability", -1.0)]
    return values


def test_training_is_deterministic(fake_1000: pd.DataFrame, fake_model: LinkageModel) -> None:
    again = train(fake_1000.drop(columns=["cluster"]))
    # Same seed, same sample, same estimates; DuckDB's parallel sums may differ in the
    # last bits (floating-point addition is not associative), never more.
    assert _parameters(again) == pytest.approx(_parameters(fake_model), rel=1e-9)


def test_model_rebuilt_for_spark_keeps_every_trained_parameter(fake_model: LinkageModel) -> None:
    trained = fake_model.splink_settings
    for_spark = fake_model.splink_settings_for("spark")
    assert for_spark["probability_two_random_records_match"] == pytest.approx(
        trained["probability_two_random_records_match"]
    )
    for new, old in zip(for_spark["comparisons"], trained["comparisons"], strict=True):
        for new_level, old_level in zip(
            new["comparison_levels"], old["comparison_levels"], strict=True
        ):
            assert new_level.get("m_probability") == old_level.get("m_probability")
            assert new_level.get("u_probability") == old_level.get("u_probability")
    assert "jaro_winkler(" in json.dumps(for_spark)


def test_model_json_is_checked() -> None:
    with pytest.raises(ValueError):
        LinkageModel.from_json('{"comparisons": []}')


def test_fake_1000_model_compares_email_and_town_but_not_absent_columns(
    fake_model: LinkageModel,
) -> None:
    assert fake_model.comparison_names == (
        "given_name",
        "family_name",
        "birth_date",
        "residence",
        "email",
    )


def test_settings_need_names_and_birth_date() -> None:
    with pytest.raises(ValueError):
        linkage_settings({"given_name", "postcode"})


# ---------------------------------------------------------------------------------------
# Normalisation and the package surface
# ---------------------------------------------------------------------------------------


def test_normalise_standardises_names_dates_sex_and_postcodes() -> None:
    table = normalise(
        pd.DataFrame(
            [
                _record("1", "gp", None, " Bob ", "O'Brien-Smith", "1955-07-11", "Male", "tr264ab", "12, Harbour View"),
                _record("2", "gp", None, "Zoë", "pascoe", "not a date", "unknown", "Truro", None),
            ]
        )
    ).set_index("unique_id")  # fmt: skip
    bob, zoe = table.loc["1"], table.loc["2"]
    assert (bob["given_name"], bob["given_name_canonical"]) == ("BOB", "ROBERT")
    assert bob["family_name"] == "OBRIEN SMITH"
    assert (bob["birth_year"], bob["birth_month"], bob["birth_day"]) == ("1955", "07", "11")
    assert bob["sex"] == "M"
    assert (bob["postcode"], bob["postcode_sector"], bob["postcode_district"]) == (
        "TR26 4AB",
        "TR26 4",
        "TR26",
    )
    assert bob["address_line"] == "12 HARBOUR VIEW"
    assert zoe["given_name"] == "ZOE"
    assert pd.isna(zoe["birth_date"]) and pd.isna(zoe["sex"])
    # Not a UK postcode: kept for comparison, with no sector or district.
    assert zoe["postcode"] == "TRURO" and pd.isna(zoe["postcode_sector"])


def test_normalise_refuses_repeated_ids_without_echoing_them() -> None:
    with pytest.raises(ValueError) as raised:
        normalise(pd.DataFrame({"unique_id": ["secret-1", "secret-1"], "given_name": ["A", "B"]}))
    assert "secret" not in str(raised.value)


def test_package_exports_resolve() -> None:
    for name in joinedup.identity.__all__:
        assert getattr(joinedup.identity, name) is not None
