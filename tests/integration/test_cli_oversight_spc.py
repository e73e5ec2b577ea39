"""``joinedup oversight spc`` as a user runs it: a CSV in, JSON, SVG or PNG out, clear errors.

The commands run through Typer's CliRunner on ``oversight_app`` itself; the real A&E data
(NHS England's monthly A&E attendances, from NHS-R's NHSRdatasets) is read from ../shared.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from joinedup.cli.oversight import oversight_app

runner = CliRunner()
SVG = "{http://www.w3.org/2000/svg}"

MONTHS = [f"{2023 + (3 + i) // 12}-{(3 + i) % 12 + 1:02d}" for i in range(24)]
VALUES = [5, 6] * 10 + [10, 5, 6, 1]


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def series_csv(tmp_path: Path) -> Path:
    # Given newest first, as many extracts are: the command puts them in date order.
    rows = [{"month": m, "org": "REF", "score": v} for m, v in zip(MONTHS, VALUES, strict=True)]
    return write_csv(tmp_path / "series.csv", rows[::-1])


def spc(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(oversight_app, ["spc", *args])
    return result.exit_code, result.stdout, result.stderr


BASE = ["--date-column", "month", "--value-column", "score"]


def test_help_documents_the_options() -> None:
    code, out, _ = spc("--help")
    assert code == 0
    for option in ("--improvement", "--target", "--no-screen", "--rebase", "--format", "--out"):
        assert option in out


def test_json(series_csv: Path) -> None:
    code, out, _ = spc(str(series_csv), *BASE, "--improvement", "increase", "--target", "7")
    assert code == 0
    data = json.loads(out)
    assert [p["date"] for p in data["points"]][:2] == ["2023-04-01", "2023-05-01"]
    assert [p["value"] for p in data["points"]] == VALUES
    assert data["points"][20]["point_type"] == "special_cause_improvement"
    assert data["points"][23]["point_type"] == "special_cause_concern"
    assert data["variation_icon"] == "special_cause_concern_low"
    assert data["assurance_icon"] == "inconsistent"
    assert data["screen"] is True


def test_json_options(series_csv: Path) -> None:
    code, out, _ = spc(
        str(series_csv), *BASE, "--improvement", "decrease", "--no-screen",
        "--rebase", "2024-04", "--rebase", "2024-10-01",
    )  # fmt: skip
    assert code == 0, out
    data = json.loads(out)
    assert data["screen"] is False and data["improvement"] == "decrease"
    assert [s["start_date"] for s in data["segments"]] == ["2023-04-01", "2024-04-01", "2024-10-01"]
    assert [s["trial_limits"] for s in data["segments"]] == [False, True, True]


def test_svg_to_standard_output_and_to_a_file(series_csv: Path, tmp_path: Path) -> None:
    code, out, _ = spc(str(series_csv), *BASE, "--improvement", "increase", "--format", "svg")
    assert code == 0
    root = ET.fromstring(out)
    assert root.tag == f"{SVG}svg"
    assert (root.find(f"{SVG}title") is not None) and root[0].text == "SPC chart of score"
    points = [el for el in root.iter() if el.get("data-mark") == "point"]
    assert len(points) == len(VALUES)

    target = tmp_path / "chart.svg"
    code, _, err = spc(
        str(series_csv), *BASE, "--improvement", "increase", "--format", "svg",
        "--out", str(target), "--title", "Score by month",
    )  # fmt: skip
    assert code == 0 and "wrote" in err
    assert ET.parse(target).getroot()[0].text == "Score by month"


def test_png(series_csv: Path, tmp_path: Path) -> None:
    target = tmp_path / "chart.png"
    code, out, _ = spc(
        str(series_csv), *BASE, "--improvement", "increase", "--format", "png", "--out", str(target)
    )
    assert code == 0 and out == ""
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_needs_a_file(series_csv: Path) -> None:
    code, _, err = spc(str(series_csv), *BASE, "--improvement", "increase", "--format", "png")
    assert code == 1 and "--out" in err


def test_json_to_a_file(series_csv: Path, tmp_path: Path) -> None:
    target = tmp_path / "spc.json"
    code, out, _ = spc(str(series_csv), *BASE, "--improvement", "neutral", "--out", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["improvement"] == "neutral"


@pytest.mark.parametrize(
    ("rows", "args", "message"),
    [
        ([{"month": "2023-04", "score": "1"}], ["--value-column", "value"], "no column 'value'"),
        (
            [{"month": "2023-04", "score": "1"}, {"month": "April 2023", "score": "2"}],
            [],
            "series.csv line 3: column 'month': 'April 2023' is not a date",
        ),
        (
            [{"month": "2023-04", "score": "1"}, {"month": "2023-13", "score": "2"}],
            [],
            "line 3: column 'month': '2023-13' is not a date",
        ),
        (
            [{"month": "2023-04", "score": "1"}, {"month": "2023-05", "score": "n/a"}],
            [],
            "series.csv line 3: column 'score': 'n/a' is not a number",
        ),
        (
            [{"month": "2023-04", "score": "1"}, {"month": "2023-05", "score": "nan"}],
            [],
            "line 3: column 'score': 'nan' is not a number",
        ),
        (
            [{"month": "2023-04", "score": "1"}, {"month": "2023-05", "score": ""}],
            [],
            "line 3: column 'score' is empty",
        ),
        (
            [{"month": "2023-04", "score": "1"}, {"month": "2023-04-01", "score": "2"}],
            [],
            "lines 2 and 3: column 'month' has 2023-04-01 twice",
        ),
        ([{"month": "2023-04", "score": "1"}], [], "at least 2 points"),
        (
            [{"month": "2023-04", "score": "1"}, {"month": "2023-05", "score": "2"}],
            ["--rebase", "2023-06"],
            "rebase date 2023-06-01 is not a date of the series",
        ),
        (
            [{"month": "2023-04", "score": "1"}, {"month": "2023-05", "score": "2"}],
            ["--rebase", "soon"],
            "--rebase: expected a date",
        ),
    ],
)
def test_clear_errors(
    tmp_path: Path, rows: list[dict[str, object]], args: list[str], message: str
) -> None:
    path = write_csv(tmp_path / "series.csv", rows)
    options = ["--date-column", "month", "--value-column", "score", *args]
    # a later --value-column overrides the first, as Click does
    code, out, err = spc(str(path), *options, "--improvement", "increase")
    assert code == 1 and out == ""
    assert message in " ".join(err.split())


def test_a_column_name_with_brackets_is_shown(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "series.csv", [{"month": "2023-04", "[score]": "1"}])
    code, _, err = spc(str(path), *BASE, "--improvement", "increase")
    assert code == 1 and "'[score]'" in err


@pytest.mark.shared
def test_royal_cornwall_four_hour_performance(shared_dir: Path, tmp_path: Path) -> None:
    """REF (Royal Cornwall Hospitals) type 1 A&E, April 2016 to March 2019: performance is
    1 - breaches / attendances, higher is better, against the 95% standard."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with (shared_dir / "data" / "nhsr" / "ae_attendances.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["org_code"] == "REF" and row["type"] == "1":
                totals[row["period"]][0] += int(row["attendances"])
                totals[row["period"]][1] += int(row["breaches"])
    rows = [
        {"period": period, "performance": 1 - breaches / attendances}
        for period, (attendances, breaches) in totals.items()
    ]
    path = write_csv(tmp_path / "ref.csv", rows)
    args = [
        str(path), "--date-column", "period", "--value-column", "performance",
        "--improvement", "increase", "--target", "0.95",
    ]  # fmt: skip
    code, out, _ = spc(*args)
    assert code == 0, out
    data = json.loads(out)
    points = data["points"]
    assert len(points) == 36
    assert (points[0]["date"], points[-1]["date"]) == ("2016-04-01", "2019-03-01")
    assert 0.7 < data["mean"] < data["upper_process_limit"] < 0.95
    # the 95% standard is above the upper limit: the process will consistently fail it
    assert data["assurance_icon"] == "consistent_fail"
    # winter 2017-18 (the worst on record nationally) falls below the lower limit
    winter = {p["date"]: p for p in points if p["date"] in ("2017-12-01", "2018-02-01")}
    assert {p["point_type"] for p in winter.values()} == {"special_cause_concern"}
    assert {p["rule"] for p in winter.values()} == {"outside_limits"}

    png = tmp_path / "ref.png"
    code, _, _ = spc(*args, "--format", "png", "--out", str(png), "--value-format", "share")
    assert code == 0 and png.read_bytes()[:4] == b"\x89PNG"
