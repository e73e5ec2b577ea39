"""System oversight through the app: the summary matrix with its icons, drill-down, an
indicator's SPC chart (and national benchmarking), the board report as a page and a PDF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.api.app import create_app
from joinedup.directory.loader import load_directory
from joinedup.directory.store import read_directory, save_directory
from joinedup.oversight.catalogue import load_catalogue
from joinedup.oversight.compute import MEASURES
from joinedup.oversight.dashboard import IndicatorValues
from joinedup.oversight.run import INDICATORS_FILE, import_national, refresh_oversight
from joinedup.population.measures import duckdb_lake
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from tests.support.lake import write_lake

AS_OF = date(2025, 12, 31)


def attendances() -> list[dict[str, Any]]:
    """Two years of A&E at REF: 20 type 1 attendances a month, a steady 70% within 4 hours,
    then the last 8 months all within (special cause improvement)."""
    rows = []
    month = date(2024, 1, 1)
    k = 0
    while month <= AS_OF:
        late = month >= date(2025, 5, 1)
        for i in range(20):
            minutes = 120 if late or i < 14 else 300
            arrival = datetime(month.year, month.month, 1 + i, 10, tzinfo=UTC)
            rows.append(
                {
                    "person_id": f"p{k % 7}",
                    "partner": "REF",
                    "department_type": "1",
                    "arrival": arrival,
                    "departure": arrival + timedelta(minutes=minutes),
                    "minutes": minutes,
                    "within_4_hours": minutes <= 240,
                }
            )
            k += 1
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return rows


@pytest.fixture
def refreshed(settings: Settings, sessions: sessionmaker[Session]) -> Settings:
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    people = [{"person_id": f"p{i}", "age": 50, "sex": "male", "area": "west"} for i in range(7)]
    write_lake(settings.lake_dir, people, [], ae_attendance=attendances())
    with sessions() as session:
        directory = read_directory(session)
    refresh_oversight(
        duckdb_lake(settings.lake_dir),
        directory=directory,
        out_dir=settings.oversight_dir,
        as_of=AS_OF,
        months=24,
    )
    return settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"dev_idp": True}))) as c:
        yield c


def sign_in(client: TestClient, settings: Settings, username: str) -> None:
    provider = DevIdentityProvider(settings.model_copy(update={"dev_idp": True}))
    client.cookies.set("joinedup_session", provider.issue(username))


def test_the_spc_of_the_refreshed_values(refreshed: Settings) -> None:
    values = IndicatorValues.read(refreshed.oversight_dir / INDICATORS_FILE)
    indicators = load_catalogue(measures=frozenset(MEASURES))
    four_hour = next(i for i in indicators if i.key == "ae_4h_all")
    series = values.series(four_hour, "system", "ICS")
    assert series is not None and series.spc is not None
    assert series.latest == (date(2025, 12, 1), pytest.approx(100.0))
    assert series.spc.variation_icon.value == "special_cause_improvement_high"
    earlier = values.until(date(2025, 3, 1)).series(four_hour, "system", "ICS")
    assert earlier is not None and earlier.latest == (date(2025, 3, 1), pytest.approx(70.0))
    assert earlier.spc is not None and earlier.spc.variation_icon.value == "common_cause"


def test_the_summary_matrix_for_the_system_and_a_partner(
    client: TestClient, refreshed: Settings
) -> None:
    sign_in(client, refreshed, "demo-paramedic")
    assert client.get("/oversight").status_code == 403
    sign_in(client, refreshed, "demo-analyst")
    page = client.get("/oversight")
    assert page.status_code == 200
    row = page.text.split('data-indicator="ae_4h_all"')[1].split("</tr>")[0]
    assert "100.0%" in row and "78.0%" in row  # latest and the interim target
    assert "Special cause variation: improvement (higher)" in row
    icons = re.findall(r"<svg [^>]*>.*?</svg>", row, flags=re.DOTALL)
    for icon in icons:
        ElementTree.fromstring(icon)
    # Every indicator in the catalogue is computed now (virtual wards' included).
    assert 'data-indicator="virtual_ward_occupancy"' in page.text
    assert "Not collected yet" not in page.text
    partner = client.get("/oversight", params={"drill": "partner|REF"})
    assert "Royal Cornwall Hospitals NHS Trust" in partner.text
    indicator = client.get(
        "/oversight/indicators/ae_4h_all", params={"level": "partner", "group": "REF"}
    )
    assert indicator.status_code == 200 and "Statistical process control" in indicator.text
    assert client.get("/oversight/indicators/no-such").status_code == 404


def test_the_board_report_as_a_page_and_a_pdf(client: TestClient, refreshed: Settings) -> None:
    sign_in(client, refreshed, "demo-gp")
    page = client.get("/oversight/report", params={"month": "2025-06"})
    assert page.status_code == 200
    assert "Integrated performance report: June 2025" in page.text
    assert "Narrative" in page.text and "Executive summary" in page.text
    pdf = client.get("/oversight/report.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


@pytest.mark.shared
def test_national_benchmarking_on_the_indicator_page(
    client: TestClient, refreshed: Settings, shared_dir: Path
) -> None:
    import_national(shared_dir / "data" / "nhsr" / "ae_attendances.csv", refreshed.oversight_dir)
    sign_in(client, refreshed, "demo-analyst")
    page = client.get(
        "/oversight/indicators/ae_4h_type1", params={"level": "partner", "group": "REF"}
    )
    assert "Against its peers and England" in page.text and "Peers&#39; median" in page.text


def test_before_a_refresh_the_pages_say_so(
    client: TestClient, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    sign_in(client, settings, "demo-analyst")
    page = client.get("/oversight")
    assert page.status_code == 503 and "oversight refresh" in page.text
