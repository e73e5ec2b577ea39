"""``joinedup virtual-wards news2`` as a clinician or a script runs it: JSON, gaps, refusals."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from joinedup.cli.main import app

runner = CliRunner()

# The known case: resp 22 (2), SpO2 95 scale 1 (1), air (0), systolic 105 (1), pulse 115 (2),
# alert (0), 38.5 °C (1): total 7, high (RCP NEWS2 2017, Charts 1 and 2).
KNOWN = [
    "--resp-rate", "22", "--spo2", "95", "--scale", "1", "--air", "--systolic", "105",
    "--pulse", "115", "--consciousness", "A", "--temperature", "38.5",
]  # fmt: skip


def _news2(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["virtual-wards", "news2", *args])
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_the_known_case_as_json() -> None:
    code, out, err = _news2(*KNOWN, "--format", "json")
    assert code == 0, err
    data = orjson.loads(out)
    assert {p["parameter"]: p["score"] for p in data["parameters"]} == {
        "respiratory_rate": 2,
        "spo2": 1,
        "air_or_oxygen": 0,
        "systolic": 1,
        "pulse": 2,
        "consciousness": 0,
        "temperature": 1,
    }
    assert data["total"] == 7
    assert data["band"] == "high"
    assert data["missing"] == []
    assert data["frequency"] == "continuous monitoring of vital signs"
    assert data["response"].startswith("Emergency response")
    assert data["code"]["code"] == "1104051000000101"


def test_the_known_case_as_text() -> None:
    code, out, err = _news2(*KNOWN)
    assert code == 0, err
    assert "total: 7 (high)" in out
    assert "monitoring: continuous monitoring of vital signs" in out
    assert "Emergency response" in out
    assert "adults" in out


def test_a_partial_set_shows_the_gap_and_no_total() -> None:
    partial = [arg for arg in KNOWN if arg not in {"--pulse", "115"}]
    code, out, err = _news2(*partial, "--format", "json")
    assert code == 0, err
    data = orjson.loads(out)
    assert data["total"] is None and data["band"] is None and data["response"] is None
    assert data["missing"] == ["pulse"]
    assert len(data["parameters"]) == 6

    code, out, _err = _news2(*partial)
    assert code == 0
    assert "total: not scored, missing: pulse" in out


def test_oxygen_on_scale_2() -> None:
    code, out, err = _news2("--spo2", "97", "--scale", "2", "--oxygen", "--format", "json")
    assert code == 0, err
    scores = {p["parameter"]: p["score"] for p in orjson.loads(out)["parameters"]}
    assert scores == {"spo2": 3, "air_or_oxygen": 2}


def test_implausible_readings_are_refused_with_a_clear_message() -> None:
    code, out, err = _news2("--spo2", "140", "--pulse", "-5", "--temperature", "95")
    assert code == 1
    assert out == ""
    assert "not scored" in err
    assert "spo2 140 is not plausible" in err
    assert "pulse -5 is not plausible" in err
    assert "°C expected" in err


def test_an_unknown_consciousness_level_is_refused() -> None:
    code, _out, err = _news2("--consciousness", "X", "--format", "json")
    assert code == 1
    assert "consciousness 'X'" in err
