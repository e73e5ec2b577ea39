"""The analytical lake: pseudonymised, opt-outs left out, refreshed only where changed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import orjson
import pytest
from sqlalchemy.orm import Session, sessionmaker

from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.feeds.intake import ingest_message
from joinedup.feeds.model import Message, MessageFormat
from joinedup.population.lake import SCHEMAS, age_band, refresh_lake
from joinedup.settings import DEFAULT_DIRECTORY
from tests.support.records import ANN_NHS, BOB_NHS, People, load_people

AS_OF = date(2026, 11, 30)
IDENTIFYING = {"name", "given", "family", "nhs_number", "postcode", "address", "birth_date"}


@pytest.fixture
def loaded(sessions: sessionmaker[Session]) -> People:
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    return load_people(sessions, practice="L99021", other_practice="L99001")


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    folder = tmp_path / "published"
    folder.mkdir()
    (folder / "postcode-lookup.csv").write_text(
        "postcode,small_area,place,imd_decile\nTR18 2AB,E01990007,Penzance,2\n"
    )
    (folder / "national-data-opt-outs.csv").write_text(f"nhs_number\n{BOB_NHS}\n")
    return folder


def table(lake: Path, name: str) -> list[dict[str, object]]:
    relation = duckdb.sql(f"select * from '{lake / name}.parquet'")
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def refresh(sessions: sessionmaker[Session], lake: Path, reference: Path) -> dict[str, int]:
    with sessions() as session:
        return refresh_lake(session, lake, reference_dir=reference, as_of=AS_OF).written


def test_the_lake_is_pseudonymised_and_leaves_out_opt_outs(
    sessions: sessionmaker[Session], loaded: People, reference: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    written = refresh(sessions, lake, reference)
    assert set(written) == set(SCHEMAS)
    people = table(lake, "person")
    assert len(people) == 1  # Bob has a National Data Opt-out
    ann = people[0]
    assert ann["person_id"] != loaded.ann and len(str(ann["person_id"])) == 20
    assert (ann["sex"], ann["age"], ann["age_band"]) == ("female", 78, "75-79")
    assert (ann["practice"], ann["small_area"], ann["imd_decile"], ann["core20"]) == (
        "L99021",
        "E01990007",
        2,
        True,
    )
    assert (ann["ethnic_category"], ann["ethnicity"]) == ("A", "White")  # UK Core EthnicCategory
    for name, schema in SCHEMAS.items():
        assert not IDENTIFYING & set(schema.names), name
        raw = (lake / f"{name}.parquet").read_bytes()
        for identifier in (ANN_NHS, BOB_NHS, b"Smith", b"Jones", b"TR18", b"1948-03-27"):
            text = identifier if isinstance(identifier, bytes) else identifier.encode()
            assert text not in raw, (name, identifier)
    conditions = table(lake, "condition")
    assert [(c["code"], c["onset"]) for c in conditions] == [("38341003", date(2019, 5, 1))]
    medication = sorted(table(lake, "medication"), key=lambda m: str(m["kind"]))
    assert [(m["kind"], m["partner"]) for m in medication] == [
        ("request", "L99021"),
        ("statement", "REF"),
    ]
    assert sorted(o["value"] for o in table(lake, "observation")) == [139.0, 148.0]
    assert {o["person_id"] for o in table(lake, "observation")} == {ann["person_id"]}


def test_a_refresh_rewrites_only_what_changed(
    sessions: sessionmaker[Session], loaded: People, reference: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    first = refresh(sessions, lake, reference)
    before = {t["person_id"] for t in table(lake, "person")}
    assert refresh(sessions, lake, reference) == {}  # nothing changed
    observation = {
        "resourceType": "Observation",
        "id": "o-new",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "subject": {"reference": "Patient/x"},
        "effectiveDateTime": "2026-11-20",
        "valueQuantity": {"value": 151, "unit": "mmHg"},
    }
    patient = {
        "resourceType": "Patient",
        "id": "x",
        "identifier": [
            {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": ANN_NHS},
            {"system": "https://fhir.example.org/Id/local", "value": "A1"},
        ],
        "name": [{"family": "Smith", "given": ["Ann"]}],
        "birthDate": "1948-03-27",
    }
    body = orjson.dumps(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": patient}, {"resource": observation}],
        }
    )
    message = Message("L99021", "gp-fhir", MessageFormat.FHIR_JSON, body, datetime.now(UTC))
    ingest_message(sessions, message)
    second = refresh(sessions, lake, reference)
    assert "observation" in second and "condition" not in second and first
    assert len(table(lake, "observation")) == 3
    assert {t["person_id"] for t in table(lake, "person")} == before  # the same pseudonyms


@pytest.mark.parametrize(
    ("age", "band"), [(0, "0-4"), (4, "0-4"), (5, "5-9"), (89, "85-89"), (90, "90+"), (104, "90+")]
)
def test_age_bands(age: int, band: str) -> None:
    assert age_band(age) == band


def test_a_new_version_of_a_tables_schema_rewrites_it(
    sessions: sessionmaker[Session], loaded: People, reference: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    refresh(sessions, lake, reference)
    state = orjson.loads((lake / "_state.json").read_bytes())
    state["schemas"]["condition"] = "an older version"
    (lake / "_state.json").write_bytes(orjson.dumps(state))
    assert set(refresh(sessions, lake, reference)) == {"condition"}
