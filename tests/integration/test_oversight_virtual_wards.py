"""Virtual wards in the lake and in oversight: stays admitted and discharged through the
wards themselves, the lake refreshed from the record, and occupancy and step-up stays ending
at home computed from it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session, sessionmaker

from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.feeds.intake import ingest_message
from joinedup.feeds.model import Message, MessageFormat
from joinedup.feeds.pipeline import Outcome
from joinedup.oversight.catalogue import load_catalogue
from joinedup.oversight.compute import MEASURES, Context, compute_indicators
from joinedup.oversight.run import INDICATORS_FILE, refresh_oversight, virtual_beds
from joinedup.population import lake as lake_module
from joinedup.population.lake import lake_as_of, refresh_lake
from joinedup.population.measures import duckdb_lake
from joinedup.settings import DEFAULT_DIRECTORY, DEFAULT_VIRTUAL_WARDS
from joinedup.virtual_wards import store
from joinedup.virtual_wards.config import load_wards
from joinedup.virtual_wards.store import VirtualWards
from tests.support.records import ANN_NHS, People, load_people

FRAILTY = "virtual-ward-frailty-west"  # RJ8, 40 virtual beds
RESPIRATORY = "virtual-ward-respiratory"  # REF, 75 virtual beds
#: The lake's as-of date: Ann's last stay is still open on it.
AS_OF = date(2026, 12, 14)
SEPTEMBER, OCTOBER, NOVEMBER, DECEMBER = (date(2026, m, 1) for m in (9, 10, 11, 12))
CATALOGUE = load_catalogue(measures=frozenset(MEASURES))


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def wards() -> VirtualWards:
    return VirtualWards(load_wards(DEFAULT_VIRTUAL_WARDS, load_directory(DEFAULT_DIRECTORY)))


@pytest.fixture
def loaded(sessions: sessionmaker[Session]) -> People:
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    return load_people(sessions, practice="L99021", other_practice="L99001")


def stay(
    sessions: sessionmaker[Session],
    wards: VirtualWards,
    ward: str,
    person: str,
    kind: str,
    admitted: datetime,
    discharged: datetime | None = None,
    outcome: str = "recovered-at-home",
) -> None:
    """Admit through the ward (and discharge, unless the stay is still open)."""
    with sessions.begin() as s:
        admission, _ = wards.admit(
            s, ward, person, kind=kind, care_plan="Monitored at home; see plan.", by="nurse",
            now=admitted,
        )  # fmt: skip
    if discharged is not None:
        with sessions.begin() as s:
            wards.discharge(s, admission.id, outcome=outcome, note="", by="nurse", now=discharged)


def refresh(sessions: sessionmaker[Session], lake_dir: Path) -> Path:
    with sessions() as session:
        refresh_lake(session, lake_dir, reference_dir=None, as_of=AS_OF)
    return lake_dir


def rows(lake_dir: Path, table: str) -> list[dict[str, Any]]:
    relation = duckdb.sql(f"select * from '{lake_dir / table}.parquet'")
    assert relation is not None
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def send(sessions: sessionmaker[Session], partner: str, feed: str, *resources: Any) -> None:
    """Ann's Patient and ``resources`` from a partner's FHIR feed."""
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [
            {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": ANN_NHS},
            {"system": "https://fhir.example.org/Id/local", "value": f"{partner}-1"},
        ],
        "name": [{"family": "Smith", "given": ["Ann"]}],
        "birthDate": "1948-03-27",
    }
    body = orjson.dumps(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in (patient, *resources)],
        }
    )
    message = Message(partner, feed, MessageFormat.FHIR_JSON, body, at(date(2026, 12, 1)))
    assert [o.outcome for o in ingest_message(sessions, message)] == [Outcome.ACCEPTED]


def test_a_virtual_ward_stay_is_in_its_own_table_and_no_other(
    sessions: sessionmaker[Session], wards: VirtualWards, loaded: People, tmp_path: Path
) -> None:
    stay(sessions, wards, FRAILTY, loaded.ann, "step-up", at(date(2026, 10, 1)),
         at(date(2026, 10, 6), 15))  # fmt: skip
    stay(sessions, wards, RESPIRATORY, loaded.ann, "step-down", at(date(2026, 12, 5)))
    # Ann's other EpisodeOfCare: an RTT pathway at the hospital, a council care package.
    ods = "https://fhir.nhs.uk/Id/ods-organization-code"
    send(sessions, "REF", "acute-rtt", {
        "resourceType": "EpisodeOfCare", "id": "rtt-1", "status": "active",
        "identifier": [{"system": lake_module.RTT_PATHWAY_SYSTEM, "value": "rtt-1"}],
        "type": [{"coding": [{"system": "https://fhir.joinedup.example/CodeSystem/treatment-function", "code": "100"}]}],
        "patient": {"reference": "Patient/p1"},
        "managingOrganization": {"identifier": {"system": ods, "value": "REF"}},
        "period": {"start": "2026-09-01"},
    })  # fmt: skip
    send(sessions, "ZLA01", "social-care-packages", {
        "resourceType": "EpisodeOfCare", "id": "pkg-1", "status": "active",
        "type": [{"text": "social care package: home care"}],
        "patient": {"reference": "Patient/p1"},
        "managingOrganization": {"identifier": {"system": ods, "value": "ZLA01"}},
        "period": {"start": "2026-10-07"},
    })  # fmt: skip
    lake_dir = refresh(sessions, tmp_path / "lake")
    (ann,) = [p["person_id"] for p in rows(lake_dir, "person") if p["practice"] == "L99021"]
    stays = sorted(rows(lake_dir, "virtual_ward_stay"), key=lambda r: r["start"])
    assert [
        (r["person_id"], r["partner"], r["feed"], r["provider"], r["ward"], r["pathway"],
         r["kind"], r["start"], r["end"], r["outcome"])
        for r in stays
    ] == [
        (ann, "RJ8", "virtual-wards", "RJ8", FRAILTY, "frailty", "step-up",
         at(date(2026, 10, 1)), at(date(2026, 10, 6), 15), "recovered-at-home"),
        (ann, "REF", "virtual-wards", "REF", RESPIRATORY, "oximetry-at-home", "step-down",
         at(date(2026, 12, 5)), None, None),
    ]  # fmt: skip
    assert [(r["partner"], r["treatment_function"]) for r in rows(lake_dir, "rtt_pathway")] == [
        ("REF", "100")
    ]
    assert [(r["partner"], r["kind"]) for r in rows(lake_dir, "social_care")] == [
        ("ZLA01", "package")
    ]
    assert rows(lake_dir, "cancer_pathway") == []
    # The lake reads the extension and the care setting the wards write.
    assert lake_module.STAY_EXTENSION == store.STAY_EXTENSION
    assert lake_module.CARE_SETTING_SYSTEM == store.CARE_SETTING_SYSTEM


def test_a_virtual_ward_episode_on_a_social_care_feed_is_still_a_stay() -> None:
    """The care setting decides, whatever feed it came by: never a care package too."""
    episode = {
        "resourceType": "EpisodeOfCare",
        "status": "active",
        "type": [{"coding": [{"system": store.CARE_SETTING_SYSTEM, "code": "virtual-ward"}]}],
        "identifier": [{"system": lake_module.RTT_PATHWAY_SYSTEM, "value": "x"}],
        "period": {"start": "2026-10-01T10:00:00+00:00"},
    }
    makers = lake_module._ROW_MAKERS
    assert makers["social_care"](episode, "social-care-packages") is None
    assert makers["rtt_pathway"](episode, "social-care-packages") is None
    made = makers["virtual_ward_stay"](episode, "social-care-packages")
    assert isinstance(made, dict) and made["start"] == at(date(2026, 10, 1))


def admit_the_autumn(sessions: sessionmaker[Session], wards: VirtualWards, people: People) -> None:
    """Ann on the frailty ward (RJ8), Bob on the respiratory ward (REF).

    October (31 days): Ann step-up 1-6 (5 midnights, home); Bob step-up 3-8 (5, admitted),
    step-down 10-15 (5, home). November (30 days): Ann step-up 2-12 (10, home); Bob
    step-down 20-30 (10, admitted). December: Ann step-up from the 5th, still open on the
    lake's as-of date, the 14th (10 midnights to the end of the 14th)."""
    ann, bob = people.ann, people.bob
    stay(sessions, wards, FRAILTY, ann, "step-up", at(date(2026, 10, 1)), at(date(2026, 10, 6)))
    stay(sessions, wards, RESPIRATORY, bob, "step-up", at(date(2026, 10, 3)),
         at(date(2026, 10, 8)), "admitted")  # fmt: skip
    stay(sessions, wards, RESPIRATORY, bob, "step-down", at(date(2026, 10, 10)),
         at(date(2026, 10, 15)))  # fmt: skip
    stay(sessions, wards, FRAILTY, ann, "step-up", at(date(2026, 11, 2)),
         at(date(2026, 11, 12), 15))  # fmt: skip
    stay(sessions, wards, RESPIRATORY, bob, "step-down", at(date(2026, 11, 20), 9),
         at(date(2026, 11, 30), 11), "admitted")  # fmt: skip
    stay(sessions, wards, FRAILTY, ann, "step-up", at(date(2026, 12, 5)))


def values(table: Any, indicator: str, level: str = "system") -> dict[tuple[str, date], Any]:
    return {
        (r["group"], r["period"]): (r["numerator"], r["denominator"], r["value"])
        for r in table.to_pylist()
        if r["indicator"] == indicator and r["level"] == level
    }


def test_occupancy_and_step_up_stays_ending_at_home(
    sessions: sessionmaker[Session], wards: VirtualWards, loaded: People, tmp_path: Path
) -> None:
    admit_the_autumn(sessions, wards, loaded)
    lake_dir = refresh(sessions, tmp_path / "lake")
    beds = virtual_beds(load_directory(DEFAULT_DIRECTORY))
    assert beds == {"RJ8": 40 + 45 + 40, "REF": 75}
    ctx = Context(
        months=(SEPTEMBER, OCTOBER, NOVEMBER, DECEMBER),
        beds={},
        virtual_beds=beds,
        as_of=lake_as_of(lake_dir),
    )
    result = compute_indicators(duckdb_lake(lake_dir), CATALOGUE, ctx)

    occupancy = values(result, "virtual_ward_occupancy")
    assert occupancy[("ICS", SEPTEMBER)] == (0, 0, None)  # before the first stay: no value
    assert occupancy[("ICS", OCTOBER)] == (15, 200 * 31, pytest.approx(100 * 15 / 6200))
    assert occupancy[("ICS", NOVEMBER)] == (20, 200 * 30, pytest.approx(100 * 20 / 6000))
    # Ann's open stay counts to the as-of date (10 midnights), not to the month's end (27).
    assert occupancy[("ICS", DECEMBER)] == (10, 200 * 31, pytest.approx(100 * 10 / 6200))
    by_provider = values(result, "virtual_ward_occupancy", "partner")
    assert by_provider[("RJ8", NOVEMBER)] == (10, 125 * 30, pytest.approx(100 * 10 / 3750))
    assert by_provider[("REF", NOVEMBER)] == (10, 75 * 30, pytest.approx(100 * 10 / 2250))
    assert by_provider[("REF", DECEMBER)] == (0, 75 * 31, 0.0)  # beds, nobody on them
    assert by_provider[("RJ8", OCTOBER)][0] == 5 and by_provider[("REF", OCTOBER)][0] == 10

    home = values(result, "virtual_ward_admissions_avoided")
    # October: Ann home, Bob admitted (his step-down stay is not counted); November: Ann
    # home (Bob's was a step-down); December: Ann's stay has not ended.
    assert home[("ICS", OCTOBER)] == (1, 2, pytest.approx(50.0))
    assert home[("ICS", NOVEMBER)] == (1, 1, pytest.approx(100.0))
    assert home[("ICS", DECEMBER)] == (0, 0, None)
    home_by_provider = values(result, "virtual_ward_admissions_avoided", "partner")
    assert home_by_provider[("RJ8", OCTOBER)] == (1, 1, pytest.approx(100.0))
    assert home_by_provider[("REF", OCTOBER)] == (0, 1, 0.0)
    areas = {p["practice"]: p["area"] for p in rows(lake_dir, "person")}
    home_by_area = values(result, "virtual_ward_admissions_avoided", "area")
    if areas["L99021"] != areas["L99001"]:
        assert home_by_area[(areas["L99021"], OCTOBER)][2] == pytest.approx(100.0)
        assert home_by_area[(areas["L99001"], OCTOBER)][2] == 0.0


def test_the_refresh_counts_each_providers_virtual_beds(
    sessions: sessionmaker[Session], wards: VirtualWards, loaded: People, tmp_path: Path
) -> None:
    admit_the_autumn(sessions, wards, loaded)
    lake_dir = refresh(sessions, tmp_path / "lake")
    out = tmp_path / "oversight"
    refresh_oversight(
        duckdb_lake(lake_dir),
        directory=load_directory(DEFAULT_DIRECTORY),
        out_dir=out,
        as_of=AS_OF,
        months=3,  # September to November: December is not over on the 14th
    )
    result = pq.read_table(out / INDICATORS_FILE)
    occupancy = values(result, "virtual_ward_occupancy")
    assert sorted(m for _, m in occupancy) == [SEPTEMBER, OCTOBER, NOVEMBER]
    assert occupancy[("ICS", NOVEMBER)] == (20, 6000, pytest.approx(100 * 20 / 6000))
    by_provider = values(result, "virtual_ward_occupancy", "partner")
    assert by_provider[("RJ8", NOVEMBER)] == (10, 3750, pytest.approx(100 * 10 / 3750))
    assert values(result, "virtual_ward_admissions_avoided")[("ICS", OCTOBER)][2] == 50.0
