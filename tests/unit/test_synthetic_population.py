"""Unit tests for the synthetic population: NHS numbers, geography, people and their moves."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

import numpy as np
import pytest

from joinedup.directory.model import (
    Area,
    Directory,
    Organisation,
    OrganisationKind,
    Place,
    PrimaryCareNetwork,
)
from joinedup.synthetic.generate import period_for
from joinedup.synthetic.model import Person
from joinedup.synthetic.population import (
    MAX_PEOPLE,
    build_geography,
    draw_people,
    is_valid_nhs_number,
    nhs_numbers_for_indices,
    practice_local_id,
    random_stream,
)


def small_directory() -> Directory:
    """Two areas, four places (one without a practice), five practices."""
    areas = (Area("west", "West"), Area("east", "East"))
    places = (
        Place("Penzance", "west", ("TR18", "TR20"), 20_000, deprivation=0.8),
        Place("St Ives", "west", ("TR26",), 11_000, deprivation=0.5),
        Place("Launceston", "east", ("PL15",), 9_000, deprivation=0.2),
        Place("Bude", "east", ("EX23",), 8_000, deprivation=0.4),  # no practice of its own
    )
    pcns = (
        PrimaryCareNetwork("U10001", "West PCN", "west"),
        PrimaryCareNetwork("U10002", "East PCN", "east"),
    )
    practice = OrganisationKind.GP_PRACTICE
    organisations = (
        Organisation("QT6", "Test ICB", OrganisationKind.INTEGRATED_CARE_BOARD),
        Organisation(
            "L99001", "Penzance One", practice, area="west", place="Penzance", pcn="U10001"
        ),
        Organisation(
            "L99002", "Penzance Two", practice, area="west", place="Penzance", pcn="U10001"
        ),
        Organisation(
            "L99003", "St Ives Surgery", practice, area="west", place="St Ives", pcn="U10001"
        ),
        Organisation(
            "L99004", "Launceston One", practice, area="east", place="Launceston", pcn="U10002"
        ),
        Organisation(
            "L99005", "Launceston Two", practice, area="east", place="Launceston", pcn="U10002"
        ),
    )
    return Directory("Test ICS", "QT6", areas, places, pcns, organisations, ())


PERIOD = period_for(date(2026, 3, 31), 3)


@pytest.fixture(scope="module")
def people() -> list[Person]:
    geography = build_geography(small_directory(), 11)
    result: list[Person] = []
    for chunk in range(4):
        result += draw_people(
            geography=geography,
            period=PERIOD,
            seed=11,
            chunk=chunk,
            first_index=chunk * 5000,
            count=5000,
        )
    return result


# --- NHS numbers ----------------------------------------------------------------------------


def test_nhs_numbers_are_valid_unique_and_in_the_test_range() -> None:
    indices = np.concatenate([np.arange(0, 30_000), np.arange(MAX_PEOPLE - 1000, MAX_PEOPLE)])
    numbers = nhs_numbers_for_indices(indices)
    assert len(set(numbers)) == len(numbers)
    assert all(n.startswith("999") and len(n) == 10 for n in numbers)
    assert all(is_valid_nhs_number(n) for n in numbers)


def test_nhs_numbers_skip_stems_whose_check_digit_would_be_ten() -> None:
    numbers = nhs_numbers_for_indices(np.arange(0, 9 * 200))
    stems = {n[:9] for n in numbers}
    # 200 blocks of ten stems, nine used from each: no stem whose check digit is 10 among them.
    all_stems = {f"{999_000_000 + s:09d}" for s in range(2000)}
    assert len(stems) == 1800
    assert stems <= all_stems
    invalid = {s for s in all_stems if _check_is_ten(s)}
    assert invalid
    assert not stems & invalid


def _check_is_ten(stem: str) -> bool:
    total = sum(int(d) * w for d, w in zip(stem, range(10, 1, -1), strict=True))
    return 11 - total % 11 == 10


def test_nhs_numbers_depend_only_on_the_index() -> None:
    assert (
        nhs_numbers_for_indices(np.array([12_345]))
        == nhs_numbers_for_indices(np.arange(12_340, 12_350))[5:6]
    )


def test_nhs_numbers_refuse_indices_beyond_the_test_range() -> None:
    with pytest.raises(ValueError, match="at most"):
        nhs_numbers_for_indices(np.array([MAX_PEOPLE]))


def test_practice_local_ids_are_unique_within_a_practice() -> None:
    ids = {practice_local_id("L99001", i, s) for i in range(20_000) for s in range(3)}
    assert len(ids) == 60_000
    assert all(re.fullmatch(r"\d{7}", i) for i in ids)
    assert practice_local_id("L99001", 5, 0) != practice_local_id("L99002", 5, 0)


# --- Geography ------------------------------------------------------------------------------


def test_geography_small_areas_are_synthetic_and_lean_with_deprivation() -> None:
    geography = build_geography(small_directory(), 11)
    codes = [a.code for a in geography.small_areas]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"E0199\d{4}", c) for c in codes)
    postcodes = [p for a in geography.small_areas for p in a.postcodes]
    assert len(postcodes) == len(set(postcodes))
    assert all(re.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]? \d[ABD-HJLNP-UW-Z]{2}", p) for p in postcodes)

    def mean_decile(place: int) -> float:
        deciles = [geography.small_areas[a].imd_decile for a in geography.areas_of_place[place]]
        return sum(deciles) / len(deciles)

    assert mean_decile(0) < mean_decile(2)  # Penzance (0.8) more deprived than Launceston (0.2)


def test_geography_is_the_same_for_the_same_seed() -> None:
    first, again = build_geography(small_directory(), 3), build_geography(small_directory(), 3)
    assert first.small_areas == again.small_areas


def test_a_place_without_a_practice_is_served_by_its_area() -> None:
    geography = build_geography(small_directory(), 11)
    bude = [p.ods_code for p in geography.practices_of_place[3]]
    assert bude == ["L99004", "L99005"]


def test_random_streams_are_independent_and_reproducible() -> None:
    a = random_stream(1, 0, "population").random(5)
    assert np.array_equal(a, random_stream(1, 0, "population").random(5))
    assert not np.array_equal(a, random_stream(1, 1, "population").random(5))
    assert not np.array_equal(a, random_stream(1, 0, "diagnoses").random(5))


# --- People ---------------------------------------------------------------------------------


def test_people_are_deterministic() -> None:
    geography = build_geography(small_directory(), 5)
    first = draw_people(
        geography=geography, period=PERIOD, seed=5, chunk=2, first_index=10_000, count=300
    )
    again = draw_people(
        geography=geography, period=PERIOD, seed=5, chunk=2, first_index=10_000, count=300
    )
    assert first == again
    assert [p.index for p in first] == list(range(10_000, 10_300))


def test_age_structure_is_older_than_englands(people: list[Person]) -> None:
    ages = np.array([p.age_on(PERIOD.start) for p in people if p.alive_on(PERIOD.start)])
    assert 0.24 < (ages >= 65).mean() < 0.28
    assert 0.14 < (ages < 16).mean() < 0.18


def test_births_deaths_and_moves_happen_at_realistic_rates(people: list[Person]) -> None:
    residents = sum(p.alive_on(PERIOD.start) for p in people)
    births = [p for p in people if p.birth_date >= PERIOD.start]
    deaths = [p for p in people if p.death_date is not None]
    assert all(PERIOD.start <= p.birth_date < PERIOD.end for p in births)
    assert 0.006 < len(births) / residents / PERIOD.years < 0.011
    assert 0.008 < len(deaths) / residents / PERIOD.years < 0.014
    assert all(
        p.death_date is not None and p.birth_date <= p.death_date < PERIOD.end for p in deaths
    )
    moves = sum(len(p.addresses) - 1 for p in people) / len(people) / PERIOD.years
    assert 0.02 < moves < 0.08


def test_registrations_follow_moves_and_deaths(people: list[Person]) -> None:
    by_practice: Counter[tuple[str, str]] = Counter()
    for person in people:
        for before, after in zip(person.registrations, person.registrations[1:], strict=False):
            assert before.end == after.start
            assert before.practice != after.practice
        if person.registrations:
            last = person.registrations[-1]
            assert last.end == person.death_date
        for registration in person.registrations:
            by_practice[(registration.practice, registration.local_id)] += 1
    assert max(by_practice.values()) == 1  # practice-local ids are unique within a practice
    changed = sum(len(p.registrations) > 1 for p in people)
    assert 0.01 < changed / len(people) < 0.15
    unregistered = sum(not p.registrations for p in people)
    assert unregistered / len(people) < 0.02


def test_people_live_and_register_in_their_places(people: list[Person]) -> None:
    directory = small_directory()
    districts = {p.name: p.postcode_districts for p in directory.places}
    practice_place = {o.ods_code: o.place for o in directory.practices}
    for person in people[:3000]:
        for address in person.addresses:
            assert address.postcode.split(" ")[0] in districts[address.town]
            assert 1 <= address.imd_decile <= 10
        if person.registrations:
            first = person.registrations[0]
            town = person.address_on(first.start).town
            assert practice_place[first.practice] == town or town == "Bude"
        for registration in person.registrations[1:]:
            town = person.address_on(registration.start).town
            assert practice_place[registration.practice] == town or town == "Bude"


def test_names_and_ethnicity_reflect_cornwall(people: list[Person]) -> None:
    ethnicity = Counter(p.ethnicity for p in people)
    assert 0.92 < ethnicity["A"] / len(people) < 0.97
    surnames = Counter(p.family for p in people)
    assert len(surnames) > 200
    assert any(s in surnames for s in ("Pascoe", "Trevithick", "Penrose", "Nance"))
    assert all(p.given and p.family for p in people)
    assert Counter(p.sex for p in people)["female"] / len(people) > 0.49


def test_frailty_rises_with_age(people: list[Person]) -> None:
    day = date(2024, 10, 1)
    young = [p.frailty for p in people if p.alive_on(day) and p.age_on(day) < 40]
    old = [p.frailty for p in people if p.alive_on(day) and p.age_on(day) >= 85]
    assert min(young) >= 0.0
    assert max(old) <= 1.0
    assert sum(old) / len(old) > 4 * sum(young) / len(young)
