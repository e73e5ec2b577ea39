"""The directory loader: the shipped Cornwall file, every whole-file rule, opening hours and
service profiles."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import joinedup.directory as directory_package
from joinedup.directory import (
    SERVICE_TYPES,
    Directory,
    DirectoryError,
    OrganisationKind,
    Service,
    load_directory,
    parse_directory,
    parse_opening_hours,
)
from joinedup.directory.profiles import (
    DISPOSITIONS,
    NEEDS,
    PROFESSIONALS,
    REFERRERS,
    TYPE_PROFILES,
)
from joinedup.settings import DEFAULT_DIRECTORY

DOCS = Path(__file__).resolve().parents[2] / "docs" / "directory.md"
PROFILE_KEYS = ("needs", "dispositions", "referrers")

# --- the shipped file ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cornwall() -> Directory:
    return load_directory(DEFAULT_DIRECTORY)


def test_the_default_file_has_the_shape_of_cornwall(cornwall: Directory) -> None:
    assert cornwall.icb == "QT6"
    assert [a.code for a in cornwall.areas] == ["west", "central", "east"]
    assert len(cornwall.pcns) == 15
    assert 55 <= len(cornwall.practices) <= 65
    assert 40 <= len(cornwall.services) <= 60
    assert 18 <= len(cornwall.organisations_of_kind(OrganisationKind.CARE_HOME)) <= 22


def test_the_default_population_is_the_2021_census_within_2_percent(cornwall: Directory) -> None:
    population = sum(p.population for p in cornwall.places)
    assert abs(population - 572_000) <= 0.02 * 572_000
    scilly = next(p for p in cornwall.places if p.name == "Isles of Scilly")
    assert scilly.population == 2_200
    assert scilly.postcode_districts == ("TR21", "TR22", "TR23", "TR24", "TR25")


def test_royal_cornwall_hospitals_is_the_acute_trust_with_its_real_code(
    cornwall: Directory,
) -> None:
    trust = cornwall.organisation("REF")
    assert trust.kind is OrganisationKind.ACUTE_TRUST
    assert trust.synthetic is False
    assert trust.beds is not None and 700 <= trust.beds <= 800


def test_only_codes_known_to_be_real_are_marked_not_synthetic(cornwall: Directory) -> None:
    real = {o.ods_code for o in cornwall.organisations if not o.synthetic}
    assert real == {"QT6", "REF", "RJ8", "RYF"}
    assert all(p.synthetic for p in cornwall.practices)


def test_every_area_has_five_pcns_and_practices_share_their_pcns_area(
    cornwall: Directory,
) -> None:
    for area in cornwall.areas:
        assert sum(p.area == area.code for p in cornwall.pcns) == 5
    pcn_area = {p.code: p.area for p in cornwall.pcns}
    for practice in cornwall.practices:
        assert practice.pcn is not None
        assert practice.area == pcn_area[practice.pcn]


def test_the_default_services_cover_what_the_ics_needs(cornwall: Directory) -> None:
    types = {s.type for s in cornwall.services}
    assert set(SERVICE_TYPES) <= types  # every documented type is used at least once
    urgent_response = [s for s in cornwall.services if s.type == "urgent_community_response"]
    assert sorted(a for s in urgent_response for a in s.areas) == ["central", "east", "west"]
    for service in urgent_response:  # 8am-8pm, 7 days (NHS England two-hour UCR standard)
        for day in ("mon", "sat", "sun"):
            assert service.opening_hours.is_open(day, time(8))
            assert not service.opening_hours.is_open(day, time(20))
    assert any(s.age_max <= 17 for s in cornwall.services)
    assert (
        cornwall.organisation(
            next(s.provider for s in cornwall.services if s.type == "emergency_department")
        ).ods_code
        == "REF"
    )


def test_the_default_virtual_wards_have_about_35_beds_per_100000(cornwall: Directory) -> None:
    beds = sum(
        s.capacity.amount for s in cornwall.services if s.type == "virtual_ward" and s.capacity
    )
    per_100k = beds / sum(p.population for p in cornwall.places) * 100_000
    assert 30 <= per_100k <= 40


#: The Cornwall services whose profile differs from their type's, and in what.
CORNWALL_OVERRIDES = {
    "virtual-ward-respiratory": {"needs"},
    "little-harbour": {"referrers"},
}


def test_the_default_services_take_their_types_profile_unless_they_differ(
    cornwall: Directory,
) -> None:
    for service in cornwall.services:
        default = TYPE_PROFILES[service.type]
        for key in PROFILE_KEYS:
            if key not in CORNWALL_OVERRIDES.get(service.id, set()):
                assert getattr(service, key) == getattr(default, key), (service.id, key)
        assert service.sex is None, service.id  # no Cornwall service is for one sex only


def test_the_default_services_own_profiles_say_how_they_differ(cornwall: Directory) -> None:
    by_id = {s.id: s for s in cornwall.services}
    respiratory = by_id["virtual-ward-respiratory"]
    assert respiratory.needs == ("breathlessness", "acute_deterioration")
    assert respiratory.dispositions == TYPE_PROFILES["virtual_ward"].dispositions
    hospice = by_id["little-harbour"]
    assert "self" in hospice.referrers  # families refer a child to the children's hospice
    assert "self" not in TYPE_PROFILES["palliative_care"].referrers
    assert "self" not in by_id["hospice-st-julias"].referrers


# --- service profiles: the vocabulary and each type's defaults ---------------------------------


def test_every_service_type_has_a_profile_written_in_the_vocabulary() -> None:
    assert set(TYPE_PROFILES) == set(SERVICE_TYPES)
    vocabularies = {"needs": NEEDS, "dispositions": DISPOSITIONS, "referrers": REFERRERS}
    for service_type, profile in TYPE_PROFILES.items():
        for key, vocabulary in vocabularies.items():
            codes = getattr(profile, key)
            assert codes, (service_type, key)
            assert len(set(codes)) == len(codes), (service_type, key, "a code twice")
            assert set(codes) <= set(vocabulary), (service_type, key, set(codes) - set(vocabulary))


def test_every_need_and_disposition_has_a_type_that_takes_it() -> None:
    # A code no type takes could only ever be routed by a service's own profile.
    assert {n for p in TYPE_PROFILES.values() for n in p.needs} == set(NEEDS)
    assert {d for p in TYPE_PROFILES.values() for d in p.dispositions} == set(DISPOSITIONS)


def test_dispositions_run_from_most_to_least_urgent() -> None:
    within = [d.within for d in DISPOSITIONS.values()]
    assert within == sorted(within)
    assert all(code == d.code for code, d in DISPOSITIONS.items())


def test_the_type_defaults_follow_how_these_services_take_referrals() -> None:
    ucr = TYPE_PROFILES["urgent_community_response"]
    assert ucr.dispositions == ("two_hour", "same_day")
    assert ucr.referrers == PROFESSIONALS  # GPs, 999, 111, care homes...; not self-referral
    assert {"fall", "catheter_continence", "end_of_life"} <= set(ucr.needs)
    assert "emergency" not in TYPE_PROFILES["mental_health_crisis"].dispositions
    assert set(TYPE_PROFILES["memory_assessment"].referrers) == {"gp", "mental_health"}
    for takes_self_referral in (
        "social_work_assessment",
        "mental_health_crisis",
        "falls_prevention",
        "social_prescribing",
        "befriending",
        "carers_support",
        "minor_injury_unit",
        "urgent_treatment_centre",
    ):
        assert "self" in TYPE_PROFILES[takes_self_referral].referrers, takes_self_referral
    for professionals_only in ("district_nursing", "virtual_ward", "home_care", "reablement"):
        assert "self" not in TYPE_PROFILES[professionals_only].referrers, professionals_only


def _docs_table(heading: str) -> list[list[str]]:
    """The body rows of the first table after ``heading`` in docs/directory.md, cell by cell."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index(f"\n{heading}\n") + len(heading) + 2 :]
    rows = []
    for line in section.splitlines():
        if line.startswith("#"):
            break
        if line.startswith("| ") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # without the header


def _codes(cell: str) -> tuple[str, ...]:
    if cell.startswith("professionals"):
        return PROFESSIONALS + (("self",) if "`self`" in cell else ())
    return tuple(code.strip().strip("`") for code in cell.split(","))


def test_the_docs_list_the_vocabulary_and_each_types_defaults() -> None:
    assert [r[0] for r in _docs_table("### Needs")] == [f"`{n}`" for n in NEEDS]
    assert [r[0] for r in _docs_table("### Dispositions")] == [f"`{d}`" for d in DISPOSITIONS]
    assert [r[0] for r in _docs_table("### Referrers")] == [f"`{r}`" for r in REFERRERS]
    documented = {
        row[0].strip("`"): (_codes(row[1]), _codes(row[2]), _codes(row[3]))
        for row in _docs_table("### Each type's default profile")
    }
    assert documented == {
        t: (p.needs, p.dispositions, p.referrers) for t, p in TYPE_PROFILES.items()
    }


# --- a small valid file, and every way of breaking it -----------------------------------------


def small_file() -> dict[str, Any]:
    """The smallest file that uses every section: two areas, one PCN, one practice, one service."""
    return {
        "name": "Test ICS",
        "icb": "QT6",
        "areas": [{"code": "west", "name": "West"}, {"code": "east", "name": "East"}],
        "places": [
            {
                "name": "Penzance",
                "area": "west",
                "postcode_districts": ["TR18", "TR20"],
                "population": 21000,
                "deprivation": 0.7,
            },
            {
                "name": "Liskeard",
                "area": "east",
                "postcode_districts": ["PL14"],
                "population": 9000,
            },
        ],
        "pcns": [{"code": "U00001", "name": "Penwith PCN", "area": "west"}],
        "organisations": [
            {"ods_code": "QT6", "name": "The Board", "kind": "integrated_care_board"},
            {
                "ods_code": "L82001",
                "name": "Penzance Surgery",
                "kind": "gp_practice",
                "place": "Penzance",
                "pcn": "U00001",
            },
            {"ods_code": "REF", "name": "Royal Cornwall", "kind": "acute_trust", "beds": 750},
        ],
        "services": [
            {
                "id": "ucr-west",
                "name": "Urgent community response",
                "provider": "REF",
                "type": "urgent_community_response",
                "areas": ["west"],
                "age_min": 18,
                "eligibility": "Adults in a crisis at home.",
                "opening_hours": {"mon-sun": "08:00-20:00"},
                "capacity": {"amount": 12, "unit": "contacts per day"},
            }
        ],
    }


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "ics.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def load_error(tmp_path: Path, data: object) -> str:
    with pytest.raises(DirectoryError) as caught:
        load_directory(write(tmp_path, data))
    return str(caught.value)


def test_the_small_file_loads_with_areas_filled_in_from_places(tmp_path: Path) -> None:
    directory = load_directory(write(tmp_path, small_file()))
    practice = directory.organisation("L82001")
    assert practice.area == "west"  # from its place
    assert practice.synthetic is True  # the default: a code is made up unless said otherwise
    assert directory.places[1].deprivation == 0.5
    service = directory.services[0]
    assert service.age_max == 120
    assert service.capacity is not None and service.capacity.amount == 12


def test_optional_service_keys_take_their_defaults(tmp_path: Path) -> None:
    data = small_file()
    for key in ("age_min", "eligibility", "capacity"):
        del data["services"][0][key]
    service = load_directory(write(tmp_path, data)).services[0]
    assert (service.age_min, service.age_max, service.eligibility) == (0, 120, "")
    assert service.capacity is None


def test_a_service_that_gives_no_profile_takes_its_types(tmp_path: Path) -> None:
    data = small_file()
    data["services"].append({**data["services"][0], "id": "befriend", "type": "befriending"})
    ucr, befriending = load_directory(write(tmp_path, data)).services
    for service in (ucr, befriending):
        default = TYPE_PROFILES[service.type]
        assert (service.needs, service.dispositions, service.referrers) == (
            default.needs,
            default.dispositions,
            default.referrers,
        )
        assert service.sex is None
    assert "two_hour" in ucr.dispositions
    assert "self" in befriending.referrers and "self" not in ucr.referrers


def test_a_services_own_profile_replaces_its_types_key_by_key(tmp_path: Path) -> None:
    data = small_file()
    data["services"][0].update(needs=["fall"], referrers=["gp", "self"], sex="female")
    service = load_directory(write(tmp_path, data)).services[0]
    assert service.needs == ("fall",)  # replaced, not added to the type's
    assert service.referrers == ("gp", "self")
    assert service.dispositions == TYPE_PROFILES["urgent_community_response"].dispositions
    assert service.sex == "female"


def test_a_profile_key_left_empty_takes_the_types_like_any_optional_key(tmp_path: Path) -> None:
    data = small_file()
    data["services"][0].update(needs=None, sex=None)
    service = load_directory(write(tmp_path, data)).services[0]
    assert service.needs == TYPE_PROFILES["urgent_community_response"].needs
    assert service.sex is None


def test_a_service_for_another_sex_is_refused_by_the_model() -> None:
    assert Service("s", "S", "REF", "befriending", ("west",), sex="male").sex == "male"
    with pytest.raises(DirectoryError, match="service s: sex must be female or male"):
        Service("s", "S", "REF", "befriending", ("west",), sex="other")


Edit = Callable[[dict[str, Any]], None]


def _set(section: str, index: int, key: str, value: object) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data[section][index][key] = value

    return edit


def _drop(section: str, index: int, key: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        del data[section][index][key]

    return edit


def _append(section: str, index: int) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data[section].append(copy.deepcopy(data[section][index]))

    return edit


BAD_FILES: dict[str, tuple[Edit, str, str]] = {
    # name: (edit, the entry named, what the message says)
    "place in an unknown area": (
        _set("places", 0, "area", "wset"),
        'places[0] ("Penzance")',
        "area 'wset' is not an area in this file (did you mean 'west'?)",
    ),
    "PCN in an unknown area": (
        _set("pcns", 0, "area", "north"),
        'pcns[0] (U00001 "Penwith PCN")',
        "area 'north' is not an area in this file",
    ),
    "organisation in an unknown area": (
        _set("organisations", 2, "area", "north"),
        'organisations[2] (REF "Royal Cornwall")',
        "area 'north' is not an area in this file",
    ),
    "service in an unknown area": (
        _set("services", 0, "areas", ["west", "north"]),
        'services[0] (ucr-west "Urgent community response")',
        "areas 'north' is not an area in this file",
    ),
    "duplicate ODS code": (
        _set("organisations", 2, "ods_code", "L82001"),
        'organisations[2] (L82001 "Royal Cornwall")',
        "ODS code 'L82001' is used twice",
    ),
    "duplicate area code": (
        _set("areas", 1, "code", "west"),
        'areas[1] (west "East")',
        "area code 'west' is used twice",
    ),
    "duplicate PCN code": (
        _append("pcns", 0),
        'pcns[1] (U00001 "Penwith PCN")',
        "PCN code 'U00001' is used twice",
    ),
    "duplicate place name": (
        _set("places", 1, "name", "Penzance"),
        'places[1] ("Penzance")',
        "place name 'Penzance' is used twice",
    ),
    "duplicate service id": (
        _append("services", 0),
        "services[1] (ucr-west",
        "service id 'ucr-west' is used twice",
    ),
    "service with no provider": (
        _drop("services", 0, "provider"),
        "services[0] (ucr-west",
        "missing required key 'provider'",
    ),
    "service whose provider is not in the file": (
        _set("services", 0, "provider", "RXX"),
        "services[0] (ucr-west",
        "provider 'RXX' is not an organisation in this file",
    ),
    "GP practice code in the wrong format": (
        _set("organisations", 1, "ods_code", "L8201"),
        'organisations[1] (L8201 "Penzance Surgery")',
        "not a valid ODS code for a gp practice",
    ),
    "trust code in the wrong format": (
        _set("organisations", 2, "ods_code", "XEF"),
        "organisations[2] (XEF",
        "not a valid ODS code for a acute trust",
    ),
    "PCN code in the wrong format": (
        _set("pcns", 0, "code", "P00001"),
        "pcns[0] (P00001",
        "code must be U and 5 digits",
    ),
    "practice whose PCN is not in the file": (
        _set("organisations", 1, "pcn", "U99999"),
        'organisations[1] (L82001 "Penzance Surgery")',
        "pcn 'U99999' is not a PCN in this file",
    ),
    "practice whose place is not in the file": (
        _set("organisations", 1, "place", "Pensance"),
        'organisations[1] (L82001 "Penzance Surgery")',
        "place 'Pensance' is not a place in this file (did you mean 'Penzance'?)",
    ),
    "practice without a PCN": (
        _drop("organisations", 1, "pcn"),
        "organisations[1] (L82001",
        "GP practice L82001: no PCN",
    ),
    "practice whose PCN is in another area": (
        _set("organisations", 1, "place", "Liskeard"),
        "organisations[1] (L82001",
        "the practice is in area 'east' but its PCN U00001 is in 'west'",
    ),
    "area that disagrees with the place": (
        _set("organisations", 1, "area", "east"),
        "organisations[1] (L82001",
        "area 'east' disagrees with place 'Penzance', which is in 'west'",
    ),
    "a PCN on something other than a practice": (
        _set("organisations", 2, "pcn", "U00001"),
        "organisations[2] (REF",
        "only GP practices belong to a PCN",
    ),
    "unknown kind of organisation": (
        _set("organisations", 2, "kind", "acute"),
        "organisations[2] (REF",
        "kind 'acute' is not a kind of organisation",
    ),
    "unknown service type": (
        _set("services", 0, "type", "urgent_community_reponse"),
        "services[0] (ucr-west",
        "type 'urgent_community_reponse' is not a service type "
        "(did you mean 'urgent_community_response'?)",
    ),
    "typo in a place's key": (
        _set("places", 0, "deprivaton", 0.2),
        'places[0] ("Penzance")',
        "unknown key 'deprivaton' (did you mean 'deprivation'?)",
    ),
    "typo in an organisation's key": (
        _set("organisations", 2, "bed", 750),
        "organisations[2] (REF",
        "unknown key 'bed' (did you mean 'beds'?)",
    ),
    "typo in a service's key": (
        _set("services", 0, "age_maximum", 65),
        "services[0] (ucr-west",
        "unknown key 'age_maximum'",
    ),
    "typo in an area's key": (
        _set("areas", 0, "nmae", "x"),
        "areas[0] (west",
        "unknown key 'nmae'",
    ),
    "typo in a PCN's key": (
        _set("pcns", 0, "areas", "west"),
        "pcns[0] (U00001",
        "unknown key 'areas' (did you mean 'area'?)",
    ),
    "typo in capacity": (
        _set("services", 0, "capacity", {"amount": 12, "units": "beds"}),
        "services[0] (ucr-west",
        "capacity must have exactly the keys amount and unit; unknown 'units'; missing unit",
    ),
    "missing place population": (
        _drop("places", 1, "population"),
        'places[1] ("Liskeard")',
        "missing required key 'population'",
    ),
    "missing opening hours": (
        _drop("services", 0, "opening_hours"),
        "services[0] (ucr-west",
        "missing required key 'opening_hours'",
    ),
    "text where a number is expected": (
        _set("places", 1, "population", "about 9000"),
        'places[1] ("Liskeard")',
        "population: expected a whole number, got 'about 9000' (text)",
    ),
    "a boolean where a number is expected": (
        _set("organisations", 2, "beds", True),
        "organisations[2] (REF",
        "beds: expected a whole number, got true (a boolean)",
    ),
    "empty text": (
        _set("areas", 1, "name", "  "),
        'areas[1] (east "  ")',
        "name: is empty",
    ),
    "a number where text is expected": (
        _set("areas", 1, "name", 7),
        "areas[1] (east)",
        "name: expected text, got 7 (a number); put it in quotes",
    ),
    "text where true or false is expected": (
        _set("organisations", 2, "synthetic", "no"),
        "organisations[2] (REF",
        "synthetic: expected true or false, got 'no' (text)",
    ),
    "a single district instead of a list": (
        _set("places", 1, "postcode_districts", "PL14"),
        'places[1] ("Liskeard")',
        "postcode_districts: expected a list of text",
    ),
    "text where a fraction is expected": (
        _set("places", 0, "deprivation", "high"),
        'places[0] ("Penzance")',
        "deprivation: expected a number from 0 to 1",
    ),
    "deprivation out of range (the model's rule, located)": (
        _set("places", 0, "deprivation", 1.5),
        'places[0] ("Penzance")',
        "place Penzance: deprivation must be 0 to 1",
    ),
    "impossible age range": (
        _set("services", 0, "age_max", 12),
        "services[0] (ucr-west",
        "age range 18-12 is impossible",
    ),
    "negative capacity": (
        _set("services", 0, "capacity", {"amount": -1, "unit": "beds"}),
        "services[0] (ucr-west",
        "capacity: negative amount -1",
    ),
    "capacity amount as text": (
        _set("services", 0, "capacity", {"amount": "twelve", "unit": "beds"}),
        "services[0] (ucr-west",
        "capacity amount: expected a whole number",
    ),
    "postcode district in two places": (
        _set("places", 1, "postcode_districts", ["PL14", "TR18"]),
        'places[1] ("Liskeard")',
        "postcode district TR18 is already in 'Penzance'",
    ),
    "bad opening hours": (
        _set("services", 0, "opening_hours", {"mon-fry": "08:00-20:00"}),
        "services[0] (ucr-west",
        "opening_hours: unknown day 'fry' in 'mon-fry'",
    ),
    "an entry that is not a mapping": (
        _set("services", 0, "areas", "west"),
        "services[0] (ucr-west",
        "areas: expected a list of text",
    ),
    "a required key left empty": (
        _set("services", 0, "id", None),
        'services[0] ("Urgent community response")',
        "id: expected text, got nothing",
    ),
    "required opening hours left empty": (
        _set("services", 0, "opening_hours", None),
        "services[0] (ucr-west",
        "opening_hours must be '24/7' or a mapping",
    ),
    "a required name left empty": (
        _set("areas", 1, "name", None),
        "areas[1] (east)",
        "name: expected text, got nothing",
    ),
    "unknown need": (
        _set("services", 0, "needs", ["fall", "falls"]),
        'services[0] (ucr-west "Urgent community response")',
        "needs 'falls' is not a need (did you mean 'fall'?); the needs are listed in "
        "docs/directory.md",
    ),
    "unknown disposition": (
        _set("services", 0, "dispositions", ["two_hours"]),
        "services[0] (ucr-west",
        "dispositions 'two_hours' is not a disposition (did you mean 'two_hour'?)",
    ),
    "unknown referrer": (
        _set("services", 0, "referrers", ["GP"]),
        "services[0] (ucr-west",
        "referrers 'GP' is not a referrer (did you mean 'gp'?)",
    ),
    "no needs": (
        _set("services", 0, "needs", []),
        "services[0] (ucr-west",
        "needs: a service must handle at least one need",
    ),
    "no dispositions": (
        _set("services", 0, "dispositions", []),
        "services[0] (ucr-west",
        "dispositions: a service must respond with at least one disposition",
    ),
    "no referrers": (
        _set("services", 0, "referrers", []),
        "services[0] (ucr-west",
        "referrers: a service must take referrals from at least one referrer",
    ),
    "a code twice": (
        _set("services", 0, "dispositions", ["routine", "same_day", "routine"]),
        "services[0] (ucr-west",
        "dispositions: 'routine' is given twice",
    ),
    "a need instead of a list": (
        _set("services", 0, "needs", "fall"),
        "services[0] (ucr-west",
        "needs: expected a list of text, e.g. [fall, frailty], got 'fall' (text)",
    ),
    "unknown sex": (
        _set("services", 0, "sex", "Female"),
        "services[0] (ucr-west",
        "sex 'Female' is not female or male (did you mean 'female'?)",
    ),
    "sex not as text": (
        _set("services", 0, "sex", True),
        "services[0] (ucr-west",
        "sex: expected text, got true (a boolean)",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=str)
def test_each_broken_rule_names_the_file_and_the_entry(tmp_path: Path, case: str) -> None:
    edit, entry, what = BAD_FILES[case]
    data = small_file()
    edit(data)
    message = load_error(tmp_path, data)
    assert f"ics.yaml: {entry}" in message
    assert what in message


def test_the_icb_must_be_an_integrated_care_board_in_the_file(tmp_path: Path) -> None:
    data = small_file()
    data["icb"] = "QXX"
    assert "ics.yaml: icb: 'QXX' is not an organisation in this file" in load_error(tmp_path, data)
    data["icb"] = "REF"
    assert (
        "ics.yaml: icb: 'REF' is of kind acute_trust, not an integrated care board"
        in load_error(tmp_path, data)
    )


def test_unknown_and_missing_top_level_keys_are_errors(tmp_path: Path) -> None:
    data = small_file()
    data["service"] = data.pop("services")
    message = load_error(tmp_path, data)
    assert "ics.yaml: unknown key 'service' (did you mean 'services'?)" in message
    assert "ics.yaml: missing required key 'services'" in message


def test_an_entry_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    data = small_file()
    data["areas"].append("north")
    assert "ics.yaml: areas[2]: expected a mapping of keys, got 'north' (text)" in load_error(
        tmp_path, data
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed\n", "ics.yaml: not valid YAML"),
        ("- just\n- a list\n", "ics.yaml: the file must be a mapping of keys"),
        ("", "ics.yaml: the file must be a mapping of keys (name, icb, areas, ...), got nothing"),
        ("name: A\nname: B\n", "found the key 'name' twice"),
    ],
    ids=["not YAML", "a list", "empty", "a key twice"],
)
def test_a_file_that_is_not_a_yaml_mapping_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "ics.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DirectoryError, match=r"^ics\.yaml") as caught:
        load_directory(path)
    assert message in str(caught.value)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ics.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(DirectoryError, match=r"^ics\.yaml: not UTF-8 text"):
        load_directory(path)


def test_a_missing_file_is_a_directory_error(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match="no such directory file"):
        load_directory(tmp_path / "absent.yaml")


def test_every_problem_is_reported_at_once_one_a_line(tmp_path: Path) -> None:
    data = small_file()
    data["organisations"][1]["pcn"] = "U99999"
    data["services"][0]["provider"] = "RXX"
    data["places"][0]["populaton"] = 1
    lines = load_error(tmp_path, data).splitlines()
    assert len(lines) == 3
    assert all(line.startswith("ics.yaml: ") for line in lines)


def test_one_wrong_entry_is_not_reported_again_by_everything_that_refers_to_it(
    tmp_path: Path,
) -> None:
    data = small_file()
    data["pcns"][0]["name"] = 5  # a broken PCN is still a declared PCN for its practice
    lines = load_error(tmp_path, data).splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ics.yaml: pcns[0] (U00001)")


def test_parse_directory_is_pure_and_names_its_source() -> None:
    data = small_file()
    before = copy.deepcopy(data)
    assert parse_directory(data, source="memory").name == "Test ICS"
    assert data == before
    data["pcns"][0]["area"] = "north"
    with pytest.raises(DirectoryError, match=r"^memory: pcns\[0\]"):
        parse_directory(data, source="memory")


# --- opening hours ------------------------------------------------------------------------------


def test_all_hours() -> None:
    hours = parse_opening_hours("24/7")
    assert hours.all_hours
    assert hours.is_open("sun", time(3, 15))


def test_a_day_range_and_a_single_day() -> None:
    hours = parse_opening_hours({"mon-fri": "08:00-20:00", "sat": "09:00-13:00"})
    assert [day for day, _, _ in hours.sessions] == ["mon", "tue", "wed", "thu", "fri", "sat"]
    assert hours.is_open("mon", time(8))
    assert hours.is_open("fri", time(19, 59))
    assert not hours.is_open("fri", time(20))  # closing time is exclusive
    assert not hours.is_open("tue", time(7, 59))
    assert hours.is_open("sat", time(12))
    assert not hours.is_open("sat", time(13))
    assert not hours.is_open("sun", time(12))


def test_mon_sun_covers_every_day() -> None:
    hours = parse_opening_hours({"mon-sun": "08:00-20:00"})
    assert len(hours.sessions) == 7
    assert all(hours.is_open(day, time(12)) for day in directory_package.DAYS)


def test_several_sessions_a_day_and_midnight() -> None:
    by_text = parse_opening_hours({"mon": "09:00-12:30, 13:30-17:00", "sun": "20:00-24:00"})
    by_list = parse_opening_hours({"mon": ["09:00-12:30", "13:30-17:00"], "sun": "20:00-24:00"})
    assert by_text == by_list
    assert not by_text.is_open("mon", time(13))
    assert by_text.is_open("mon", time(13, 30))
    assert by_text.is_open("sun", time(23, 59, 59))


def test_hours_can_be_written_in_two_lines_that_do_not_overlap() -> None:
    hours = parse_opening_hours({"mon-fri": "08:00-12:00", "wed": "14:00-18:00"})
    assert hours.is_open("wed", time(15))
    assert not hours.is_open("thu", time(15))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("24x7", "opening_hours must be '24/7' or a mapping"),
        ({}, "opening_hours has no days"),
        ({"mon-fry": "08:00-20:00"}, "unknown day 'fry'"),
        ({"fri-mon": "08:00-20:00"}, "day range 'fri-mon' runs backwards"),
        ({"mon": "8am-8pm"}, "'8am' is not a time"),
        ({"mon": "25:00-26:00"}, "'25:00' is not a time of day"),
        ({"mon": "0800"}, "'0800' is not HH:MM-HH:MM"),
        ({"mon": "20:00-08:00"}, "closes before it opens"),
        ({"mon": "08:00-12:00, 11:00-14:00"}, "two sessions on mon overlap"),
        ({"mon-fri": "08:00-20:00", "wed": "19:00-21:00"}, "two sessions on wed overlap"),
        ({"mon": 480}, 'expected "HH:MM-HH:MM" in quotes, got 480 (a number)'),
        ({"mon": ""}, "no sessions"),
        ({True: "08:00-20:00"}, "true (a boolean) is not a day"),
    ],
)
def test_bad_opening_hours_say_what_is_wrong(value: object, message: str) -> None:
    with pytest.raises(DirectoryError) as caught:
        parse_opening_hours(value)
    assert message in str(caught.value)


# --- the package's public surface --------------------------------------------------------------


def test_the_package_exports_exactly_its_public_names() -> None:
    for name in directory_package.__all__:
        assert hasattr(directory_package, name), name
    public = {
        name
        for name, value in vars(directory_package).items()
        if not name.startswith("_") and not isinstance(value, type(directory_package))
    }
    assert public == set(directory_package.__all__)
