"""Oversight's indicators computed from events, on lakes built to know the answer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from joinedup.oversight.catalogue import CatalogueError, load_catalogue
from joinedup.oversight.compute import MEASURES, Context, compute_indicators, months_ending
from joinedup.population.measures import duckdb_lake
from tests.support.lake import write_lake

MONTHS = (date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1))
CATALOGUE = load_catalogue(measures=frozenset(MEASURES))


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def people(*ids_areas: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"person_id": pid, "age": 60, "sex": "female", "area": area} for pid, area in ids_areas]


def values(table: pa.Table, indicator: str, level: str = "system") -> dict[tuple[str, date], Any]:
    return {
        (r["group"], r["period"]): r["value"]
        for r in table.to_pylist()
        if r["indicator"] == indicator and r["level"] == level
    }


def run(tmp_path: Path, person_rows: list[dict[str, Any]], **tables: Any) -> pa.Table:
    lake = duckdb_lake(write_lake(tmp_path / "lake", person_rows, [], **tables))
    keys = {i.key for i in CATALOGUE}
    assert keys
    return compute_indicators(lake, CATALOGUE, Context(months=MONTHS, beds={"REF": 10}))


def test_the_shipped_catalogue_loads_every_standard() -> None:
    keys = {i.key for i in CATALOGUE}
    for key in ("ae_4h_all", "ae_4h_type1", "ae_12h", "rtt_18w", "rtt_52w", "rtt_65w", "rtt_78w",
                "cancer_fds", "cancer_31d", "cancer_62d", "diagnostics_6w", "stranded",
                "super_stranded", "bed_occupancy", "emergency_admissions_rate", "readmissions_30d",
                "gp_appointments_rate", "delayed_discharges", "finance_spend"):  # fmt: skip
        assert key in keys
    four_hour = next(i for i in CATALOGUE if i.key == "ae_4h_all")
    assert four_hour.target is not None
    assert (
        four_hour.target.on(date(2026, 3, 1)) == 78 and four_hour.target.on(date(2026, 4, 1)) == 95
    )


def test_a_bad_catalogue_names_every_mistake(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "version: 1\nindicators:\n"
        "  - {key: a, name: A, numerator: n, unit: furlongs, factor: 1, improvement: up, source: s, measure: ghost}\n"
    )
    with pytest.raises(CatalogueError) as raised:
        load_catalogue(path, measures=frozenset(MEASURES))
    message = str(raised.value)
    for part in ("indicators[0] (a): unit", "improvement", "no measure called 'ghost'"):
        assert part in message


def test_four_hour_performance_by_type_partner_and_area(tmp_path: Path) -> None:
    rows = [
        # January: 3 type 1 at REF (2 within 4 hours), 1 type 3 at RJ8 (within).
        ("a", "REF", "1", date(2025, 1, 5), 100),
        ("a", "REF", "1", date(2025, 1, 6), 300),
        ("b", "REF", "1", date(2025, 1, 7), 239),
        ("b", "RJ8", "3", date(2025, 1, 8), 60),
        # February: one at 12 hours or more.
        ("a", "REF", "1", date(2025, 2, 1), 720),
    ]
    attendances = [
        {"person_id": p, "partner": partner, "department_type": t, "arrival": at(d),
         "departure": at(d) + timedelta(minutes=m), "minutes": m, "within_4_hours": m <= 240}
        for p, partner, t, d, m in rows
    ]  # fmt: skip
    result = run(tmp_path, people(("a", "west"), ("b", "east")), ae_attendance=attendances)
    assert values(result, "ae_4h_all")[("ICS", MONTHS[0])] == pytest.approx(75.0)
    assert values(result, "ae_4h_type1")[("ICS", MONTHS[0])] == pytest.approx(200 / 3)
    assert values(result, "ae_4h_all", "partner")[("RJ8", MONTHS[0])] == pytest.approx(100.0)
    assert values(result, "ae_4h_all", "area")[("west", MONTHS[0])] == pytest.approx(50.0)
    assert values(result, "ae_12h")[("ICS", MONTHS[1])] == pytest.approx(100.0)
    assert values(result, "ae_4h_all")[("ICS", MONTHS[2])] is None  # no attendances: no rate


def test_waiting_lists_are_counted_at_each_months_end(tmp_path: Path) -> None:
    """At 31 January 2025: one pathway 10 weeks in, one 60 weeks, one 80 weeks; another
    stopped on 15 January is not waiting. 18-week share 1/3; 52+ = 2, 65+ = 1, 78+ = 1."""
    end = date(2025, 1, 31)
    pathways = [
        {"person_id": "a", "partner": "REF", "clock_start": end - timedelta(weeks=10)},
        {"person_id": "a", "partner": "REF", "clock_start": end - timedelta(weeks=60)},
        {"person_id": "b", "partner": "REF", "clock_start": end - timedelta(weeks=80)},
        {"person_id": "b", "partner": "REF", "clock_start": date(2024, 1, 1), "clock_stop": date(2025, 1, 15)},
    ]  # fmt: skip
    tests = [
        {"person_id": "a", "partner": "REF", "test": "CT", "requested": end - timedelta(days=42)},
        {"person_id": "a", "partner": "REF", "test": "CT", "requested": end - timedelta(days=41)},
        {"person_id": "b", "partner": "REF", "test": "MRI", "requested": date(2024, 12, 1), "performed": date(2025, 1, 10)},
    ]  # fmt: skip
    result = run(
        tmp_path, people(("a", "west"), ("b", "east")), rtt_pathway=pathways, diagnostic_wait=tests
    )
    january = ("ICS", MONTHS[0])
    assert values(result, "rtt_18w")[january] == pytest.approx(100 / 3)
    assert (values(result, "rtt_52w")[january], values(result, "rtt_65w")[january]) == (2, 1)
    assert values(result, "rtt_78w")[january] == 1
    assert values(result, "diagnostics_6w")[january] == pytest.approx(50.0)  # 42 days is 6 weeks


def test_cancer_standards(tmp_path: Path) -> None:
    def pathway(referral: date, told: int, treated: int | None, dtt: int | None) -> dict[str, Any]:
        return {
            "person_id": "a",
            "partner": "REF",
            "referral": referral,
            "faster_diagnosis": referral + timedelta(days=told),
            "decision_to_treat": None if dtt is None else referral + timedelta(days=dtt),
            "first_treatment": None if treated is None else referral + timedelta(days=treated),
        }

    start = date(2024, 12, 10)  # told in January, treated in February
    rows = [
        pathway(start, 28, 62, 40),  # told on day 28: within; treated day 62: within; 22 days
        pathway(start, 29, 63, 30),  # told day 29: not; day 63: not; DTT to treatment 33: not
        pathway(start + timedelta(days=5), 30, None, None),  # told day 30: not
    ]
    result = run(tmp_path, people(("a", "west")), cancer_pathway=rows)
    assert values(result, "cancer_fds")[("ICS", MONTHS[0])] == pytest.approx(100 / 3)
    assert values(result, "cancer_62d")[("ICS", MONTHS[1])] == pytest.approx(50.0)
    assert values(result, "cancer_31d")[("ICS", MONTHS[1])] == pytest.approx(50.0)


def test_midnight_censuses_stranded_occupancy_and_delays(tmp_path: Path) -> None:
    """One stay from 1 to 31 January (30 midnights, days 0-29), ready to leave on 21 January.
    Stranded (7+ days in) at the midnights of 8-30 January: 23 of 31 days; super-stranded
    (21+) at 22-30: 9; occupancy 30 bed-nights of 10 beds x 31 days; delayed 21-30: 10."""
    stay = {
        "person_id": "a",
        "partner": "REF",
        "admitted": at(date(2025, 1, 1)),
        "discharged": at(date(2025, 1, 31)),
        "emergency": True,
        "discharge_ready": at(date(2025, 1, 21), 9),
    }
    result = run(tmp_path, people(("a", "west")), admission=[stay])
    january = ("ICS", MONTHS[0])
    assert values(result, "stranded")[january] == pytest.approx(23 / 31)
    assert values(result, "super_stranded")[january] == pytest.approx(9 / 31)
    assert values(result, "bed_occupancy")[january] == pytest.approx(100 * 30 / 310)
    assert values(result, "delayed_discharges")[january] == pytest.approx(10 / 31)
    assert values(result, "emergency_admissions_rate")[january] == pytest.approx(1000.0)


def test_readmissions_within_30_days(tmp_path: Path) -> None:
    def stay(
        pid: str, admitted: date, discharged: date, emergency: bool = True, died: bool = False
    ) -> dict[str, Any]:
        return {"person_id": pid, "partner": "REF", "admitted": at(admitted), "discharged": at(discharged),
                "emergency": emergency, "discharge_destination": "79" if died else "19"}  # fmt: skip

    stays = [
        stay("a", date(2025, 1, 2), date(2025, 1, 5)),
        stay("a", date(2025, 2, 4), date(2025, 2, 6)),  # 30 days after: a readmission
        stay("b", date(2025, 1, 2), date(2025, 1, 5)),
        stay("b", date(2025, 2, 5), date(2025, 2, 8)),  # 31 days: not
        stay("c", date(2025, 1, 3), date(2025, 1, 9), died=True),  # died: not a discharge
    ]
    result = run(tmp_path, people(("a", "west"), ("b", "west"), ("c", "east")), admission=stays)
    assert values(result, "readmissions_30d")[("ICS", MONTHS[0])] == pytest.approx(50.0)


def test_months_ending() -> None:
    assert months_ending(date(2026, 3, 31), 3) == (
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    )
    assert months_ending(date(2026, 3, 30), 2) == (date(2026, 1, 1), date(2026, 2, 1))


def test_two_hour_urgent_community_response(tmp_path: Path) -> None:
    def referral(
        person: str, provider: str, day: date, minutes: int | None, **over: Any
    ) -> dict[str, Any]:
        received = at(day)
        return {
            "person_id": person, "partner": "L99021", "feed": "referrals", "code": "fall",
            "display": "a fall", "authored": day, "status": "completed", "priority": "asap",
            "urgency": "two_hour", "service_type": "urgent_community_response",
            "provider": provider, "received": received, "due": received + timedelta(hours=2),
            "first_contact": None if minutes is None else received + timedelta(minutes=minutes),
            **over,
        }  # fmt: skip

    rows = [
        # January at RJ8: seen in 90 minutes, in exactly 2 hours, in 3 hours, never.
        referral("a", "RJ8", date(2025, 1, 5), 90),
        referral("a", "RJ8", date(2025, 1, 6), 120),
        referral("b", "RJ8", date(2025, 1, 7), 180),
        referral("b", "RJ8", date(2025, 1, 8), None),
        # Not counted: a same-day referral, and a two-hour one routed to district nursing.
        referral("a", "RJ8", date(2025, 1, 9), 600, urgency="same_day"),
        referral("a", "RJ8", date(2025, 1, 9), 600, service_type="district_nursing"),
    ]
    result = run(tmp_path, people(("a", "west"), ("b", "east")), referral=rows)
    assert values(result, "ucr_2h")[("ICS", MONTHS[0])] == pytest.approx(50.0)
    assert values(result, "ucr_2h", "partner")[("RJ8", MONTHS[0])] == pytest.approx(50.0)
    assert values(result, "ucr_2h", "area")[("west", MONTHS[0])] == pytest.approx(100.0)
    assert values(result, "ucr_2h")[("ICS", MONTHS[1])] is None
