"""Taking in a drop folder as an operator does: ingest, the quarantine, a fixed replay, re-delivery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from joinedup.cli.main import app
from joinedup.settings import Settings

runner = CliRunner()

FEEDS = """
feeds:
  - feed: community-contacts
    partner: RJ8
    format: csv
    paths: ["community-RJ8/contacts/*.csv"]
    mapping:
      id: contact_id
      columns:
        contact_id: {type: string, required: true}
        local_patient_id: {type: string, required: true}
        nhs_number: {type: nhs_number}
        date_of_birth: {type: date, format: "%d/%m/%Y"}
        contact_start: {type: datetime, format: "%Y-%m-%d %H:%M", required: true}
      person: {local_id: local_patient_id, nhs_number: nhs_number, birth_date: date_of_birth}
      resources:
        - {resourceType: Encounter, id: "{contact_id}", status: finished,
           subject: {reference: "Patient/{local_patient_id}"}, period: {start: "{contact_start}"}}
  - feed: acute-adt
    partner: REF
    format: hl7v2
    paths: ["acute-REF/adt/*.hl7"]
"""
CSV = (
    "contact_id,local_patient_id,nhs_number,date_of_birth,contact_start\n"
    "C1,CP1,9434765919,04/03/1950,2025-07-01 09:30\n"
    "C2,CP2,,31/02/1950,2025-07-02 10:00\n"
    "C3,CP3,,01/01/1960,2025-07-03 11:00\n"
)


@pytest.fixture
def drop(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A drop folder with a CSV extract and an HL7 file, and the settings in the environment."""
    monkeypatch.setenv("JOINEDUP_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("JOINEDUP_DATABASE_URL", settings.operational_url)
    (tmp_path / "feeds.yaml").write_text(FEEDS)
    folder = tmp_path / "drop"
    (folder / "community-RJ8" / "contacts").mkdir(parents=True)
    (folder / "community-RJ8" / "contacts" / "2025-07.csv").write_text(CSV)
    (folder / "acute-REF" / "adt").mkdir(parents=True)
    (folder / "acute-REF" / "adt" / "2025-07.hl7").write_bytes(b"MSH|garbled\r")
    (folder / "stray.txt").write_text("not a feed")
    return folder


def invoke(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_ingest_quarantine_and_replay_a_fixed_row(drop: Path) -> None:
    feeds = str(drop.parent / "feeds.yaml")
    report = invoke("ingest", str(drop), "--feeds", feeds, "--workers", "1")
    assert report["feeds"]["RJ8/community-contacts"]["accepted"] == 2
    assert report["feeds"]["RJ8/community-contacts"]["rejected"] == 1
    assert report["feeds"]["REF/acute-adt"]["rejected"] == 1
    assert report["unknown_files"] == [str(drop / "stray.txt")]

    entries = invoke("feeds", "quarantine")
    assert [(e["feed"], e["label"]) for e in entries] == [
        ("acute-adt", "message 1"),
        ("community-contacts", "row 3"),
    ]
    bad_row = entries[1]
    assert bad_row["issues"][0]["location"] == "row 3, column date_of_birth"

    original = runner.invoke(app, ["feeds", "show", str(bad_row["id"])]).stdout
    fixed = drop.parent / "fixed.csv"
    fixed.write_text(original.replace("31/02/1950", "28/02/1950"))
    replayed = invoke("feeds", "replay", str(bad_row["id"]), "--file", str(fixed), "--feeds", feeds)
    assert [r["outcome"] for r in replayed] == ["accepted"]
    assert [e["label"] for e in invoke("feeds", "quarantine")] == ["message 1"]

    # The same extract delivered again is stored once.
    again = invoke("ingest", str(drop / "community-RJ8"), "--feeds", feeds, "--workers", "2")
    assert again["feeds"]["RJ8/community-contacts"]["duplicates"] == 2
    assert again["feeds"]["RJ8/community-contacts"]["accepted"] == 0


def test_a_replay_that_is_still_wrong_changes_nothing(drop: Path) -> None:
    feeds = str(drop.parent / "feeds.yaml")
    invoke("ingest", str(drop), "--feeds", feeds, "--workers", "1")
    [entry] = [e for e in invoke("feeds", "quarantine") if e["feed"] == "acute-adt"]
    result = runner.invoke(app, ["feeds", "replay", str(entry["id"]), "--feeds", feeds])
    assert result.exit_code == 1
    assert len(invoke("feeds", "quarantine")) == 2
