"""The ``joinedup`` command as a user runs it: help, synth with --format json, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from joinedup.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize("command", ["synth", "demo", "serve"])
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_synth_prints_json_for_scripts(tmp_path: Path) -> None:
    out = tmp_path / "ics"
    result = runner.invoke(
        app,
        [
            "synth",
            "--people",
            "200",
            "--seed",
            "5",
            "--years",
            "1",
            "--out",
            str(out),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["people"] == 200
    assert summary["records"] and all(v >= 0 for v in summary["records"].values())
    assert (out / "truth").is_dir() and (out / "feeds").is_dir()


def test_synth_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something.txt").write_text("keep me")
    result = runner.invoke(app, ["synth", "--people", "50", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert (tmp_path / "something.txt").read_text() == "keep me"


def test_synth_names_the_entry_of_a_bad_directory_file(tmp_path: Path) -> None:
    bad = tmp_path / "ics.yaml"
    bad.write_text(
        "name: Broken\nicb: QT6\nareas: []\nplaces: []\npcns: []\n"
        "organisations:\n  - {ods_code: 'not-ods', name: X, kind: acute_trust}\n"
        "services: []\n"
    )
    result = runner.invoke(
        app, ["synth", "--people", "10", "--out", str(tmp_path / "o"), "--directory", str(bad)]
    )
    assert result.exit_code == 1
    assert "not-ods" in result.output


def test_the_installed_entry_point_runs() -> None:
    joinedup = Path(sys.executable).parent / "joinedup"
    result = subprocess.run([str(joinedup), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "synth" in result.stdout and "demo" in result.stdout and "serve" in result.stdout
