"""``joinedup oversight refresh | finance | national | report`` as an operator runs them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from joinedup.cli.main import app
from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.oversight.run import FINANCE_FILE, INDICATORS_FILE, NATIONAL_FILE
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from tests.support.lake import write_lake

LEDGER = (
    "financial_year,month,period,organisation_code,organisation_name,programme,"
    "annual_budget_gbp,budget_gbp,actual_gbp,variance_gbp,ytd_budget_gbp,ytd_actual_gbp\n"
    "2025/26,2026-02,M11,REF,Royal Cornwall,acute,1200,100,104,-4,1100,1110\n"
    "2025/26,2026-03,M12,REF,Royal Cornwall,acute,1200,100,98,2,1200,1208\n"
)


@pytest.fixture
def operator(settings: Settings, sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    arrival = datetime(2026, 3, 2, 9, tzinfo=UTC)
    attendance = {
        "person_id": "p1", "partner": "REF", "department_type": "1", "arrival": arrival,
        "departure": arrival + timedelta(hours=2), "minutes": 120, "within_4_hours": True,
    }  # fmt: skip
    write_lake(settings.lake_dir, [{"person_id": "p1", "age": 70, "sex": "female"}], [],
               ae_attendance=[attendance])  # fmt: skip
    (settings.lake_dir / "_state.json").write_bytes(orjson.dumps({"as_of": "2026-03-31"}))
    return {
        "JOINEDUP_VAR_DIR": str(settings.var_dir),
        "JOINEDUP_DATABASE_URL": settings.operational_url,
    }


def test_finance_then_refresh_then_report(
    operator: dict[str, str], tmp_path: Path, settings: Settings
) -> None:
    runner = CliRunner()
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(LEDGER)
    result = runner.invoke(app, ["oversight", "finance", str(ledger)], env=operator)
    assert result.exit_code == 0, result.output
    assert pq.read_table(settings.oversight_dir / FINANCE_FILE).num_rows == 2

    result = runner.invoke(
        app, ["oversight", "refresh", "--months", "3", "--format", "json"], env=operator
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["to"] == "2026-03-01"
    values = pq.read_table(settings.oversight_dir / INDICATORS_FILE).to_pylist()
    spend = {
        (r["group"], r["period"]): r["value"]
        for r in values
        if r["indicator"] == "finance_spend" and r["level"] == "partner"
    }
    assert spend[("REF", date(2026, 3, 1))] == pytest.approx(98.0)
    four_hour = [r for r in values if r["indicator"] == "ae_4h_all" and r["level"] == "system"]
    assert [r["value"] for r in four_hour] == [None, None, 100.0]

    out = tmp_path / "ipr"
    result = runner.invoke(
        app, ["oversight", "report", "--month", "2026-03", "--out", str(out)], env=operator
    )
    assert result.exit_code == 0, result.output
    assert "March 2026" in out.with_suffix(".html").read_text()
    assert out.with_suffix(".pdf").read_bytes().startswith(b"%PDF")


def test_bad_input_is_refused_naming_where(operator: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(LEDGER.replace(",98,", ",ninety,"))
    result = runner.invoke(app, ["oversight", "finance", str(ledger)], env=operator)
    assert result.exit_code == 1 and "row 3, actual_gbp" in result.output
    result = runner.invoke(app, ["oversight", "report", "--month", "March"], env=operator)
    assert result.exit_code == 1


@pytest.mark.shared
def test_national_statistics_are_imported(
    operator: dict[str, str], settings: Settings, shared_dir: Path
) -> None:
    result = CliRunner().invoke(
        app,
        ["oversight", "national", str(shared_dir / "data" / "nhsr" / "ae_attendances.csv")],
        env=operator,
    )
    assert result.exit_code == 0, result.output
    assert pq.read_table(settings.oversight_dir / NATIONAL_FILE).num_rows > 10_000
