"""The whole generator: determinism, FHIR validity, NHS numbers, ground truth, and realism."""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle

from joinedup.directory.model import (
    Area,
    Directory,
    Organisation,
    OrganisationKind,
    Place,
    PrimaryCareNetwork,
)
from joinedup.synthetic import GenerationError, GenerationSummary, generate_ics
from joinedup.synthetic.gp_feed import NHS_NUMBER_SYSTEM
from joinedup.synthetic.population import is_valid_nhs_number

SEED = 7
PEOPLE = 2000


def small_directory() -> Directory:
    """Two areas, three places, four practices: enough to exercise the generator quickly."""
    practice = OrganisationKind.GP_PRACTICE
    return Directory(
        name="Test ICS",
        icb="QT6",
        areas=(Area("west", "West"), Area("east", "East")),
        places=(
            Place("Penzance", "west", ("TR18", "TR20"), 20_000, deprivation=0.8),
            Place("Truro", "west", ("TR1",), 19_000, deprivation=0.4),
            Place("Launceston", "east", ("PL15",), 9_000, deprivation=0.2),
        ),
        pcns=(
            PrimaryCareNetwork("U10001", "West", "west"),
            PrimaryCareNetwork("U10002", "East", "east"),
        ),
        organisations=(
            Organisation("QT6", "Test ICB", OrganisationKind.INTEGRATED_CARE_BOARD),
            Organisation(
                "L99001", "Penzance One", practice, area="west", place="Penzance", pcn="U10001"
            ),
            Organisation(
                "L99002", "Penzance Two", practice, area="west", place="Penzance", pcn="U10001"
            ),
            Organisation(
                "L99003", "Truro Surgery", practice, area="west", place="Truro", pcn="U10001"
            ),
            Organisation(
                "L99004",
                "Launceston Surgery",
                practice,
                area="east",
                place="Launceston",
                pcn="U10002",
            ),
        ),
        services=(),
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationSummary]:
    out = tmp_path_factory.mktemp("synth") / "two-workers"
    done: list[int] = []
    summary = generate_ics(
        directory=small_directory(), people=PEOPLE, seed=SEED, years=3, out=out,
        workers=2, chunk_size=500, progress=done.append,
    )  # fmt: skip
    assert sum(done) == PEOPLE and len(done) == 4
    return out, summary


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _bundles(out: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line)
        for path in sorted(out.glob("feeds/gp-*/bundles-*.ndjson"))
        for line in path.read_bytes().splitlines()
    ]


def test_same_seed_gives_a_byte_identical_tree_whatever_the_workers(
    generated: tuple[Path, GenerationSummary], tmp_path: Path
) -> None:
    out, _ = generated
    again = tmp_path / "one-worker"
    generate_ics(
        directory=small_directory(), people=PEOPLE, seed=SEED, years=3, out=again,
        workers=1, chunk_size=500,
    )  # fmt: skip
    first, second = _tree(out), _tree(again)
    assert first.keys() == second.keys()
    assert first == second
    assert not any(name.startswith(".staging") for name in first)


def test_a_different_seed_gives_different_people(
    generated: tuple[Path, GenerationSummary], tmp_path: Path
) -> None:
    out, _ = generated
    other = tmp_path / "other"
    generate_ics(
        directory=small_directory(), people=200, seed=SEED + 1, years=3, out=other, workers=1
    )
    assert (other / "truth" / "records.csv").read_bytes() != (
        out / "truth" / "records.csv"
    ).read_bytes()


def test_every_gp_bundle_parses_as_fhir_r4(tmp_path: Path) -> None:
    out = tmp_path / "small"
    generate_ics(directory=small_directory(), people=300, seed=SEED, years=3, out=out, workers=1)
    bundles = _bundles(out)
    assert len(bundles) >= 290
    kinds: Counter[str] = Counter()
    for data in bundles:
        bundle = Bundle.model_validate(data)
        assert bundle.type == "transaction"
        for entry in bundle.entry or []:
            kinds[entry.resource.get_resource_type()] += 1
    for kind in (
        "Patient",
        "Condition",
        "MedicationRequest",
        "Observation",
        "Encounter",
        "Immunization",
    ):
        assert kinds[kind] > 0, kind
    assert 15 <= sum(kinds.values()) / kinds["Patient"] <= 30


def test_patients_carry_uk_core_identifiers(generated: tuple[Path, GenerationSummary]) -> None:
    out, _ = generated
    for bundle in _bundles(out)[:200]:
        patient = bundle["entry"][0]["resource"]
        assert patient["resourceType"] == "Patient"
        systems = [i["system"] for i in patient["identifier"]]
        assert systems.count(NHS_NUMBER_SYSTEM) == 1
        nhs = next(i for i in patient["identifier"] if i["system"] == NHS_NUMBER_SYSTEM)
        assert nhs["extension"][0]["url"].endswith("Extension-UKCore-NHSNumberVerificationStatus")
        gp = patient["generalPractitioner"][0]["identifier"]
        assert gp["system"] == "https://fhir.nhs.uk/Id/ods-organization-code"
        assert re.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}", patient["address"][0]["postalCode"])
        assert bundle["entry"][0]["request"]["method"] == "PUT"
        assert all(e["fullUrl"].startswith("urn:uuid:") for e in bundle["entry"])


def test_every_nhs_number_in_the_output_passes_modulus_11(
    generated: tuple[Path, GenerationSummary],
) -> None:
    out, _ = generated
    pattern = re.compile(rb"(?<![\d.])999 ?\d{3} ?\d{4}(?!\d)")
    found = 0
    for path in (out / "feeds").rglob("*"):
        if path.is_file():
            for match in pattern.findall(path.read_bytes()):
                found += 1
                assert is_valid_nhs_number(match.decode().replace(" ", ""))
    assert found >= PEOPLE * 0.9


def test_truth_covers_every_gp_record(generated: tuple[Path, GenerationSummary]) -> None:
    out, summary = generated
    with (out / "truth" / "records.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    truth = {(r["partner"], r["feed"], r["local_id"]): r["person_id"] for r in rows}
    assert len(truth) == len(rows)  # no record appears twice
    patients = 0
    for bundle in _bundles(out):
        patient = bundle["entry"][0]["resource"]
        practice = patient["generalPractitioner"][0]["identifier"]["value"]
        local = next(i["value"] for i in patient["identifier"] if i["system"] != NHS_NUMBER_SYSTEM)
        assert (practice, "gp-fhir", local) in truth
        patients += 1
    assert summary.records["gp-fhir"] == patients
    # One person, one NHS number, however many practices they were registered with.
    numbers: dict[str, set[str]] = {}
    for bundle in _bundles(out):
        patient = bundle["entry"][0]["resource"]
        practice = patient["generalPractitioner"][0]["identifier"]["value"]
        local = next(i["value"] for i in patient["identifier"] if i["system"] != NHS_NUMBER_SYSTEM)
        nhs = next(i["value"] for i in patient["identifier"] if i["system"] == NHS_NUMBER_SYSTEM)
        numbers.setdefault(truth[(practice, "gp-fhir", local)], set()).add(nhs)
    assert all(len(n) == 1 for n in numbers.values())


def test_published_registered_patients_match_the_feed(
    generated: tuple[Path, GenerationSummary],
) -> None:
    out, _ = generated
    with (out / "published" / "gp-registered-patients.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["extract_date", "practice", "sex", "age_band", "count"]
    assert len(rows) == 4 * 2 * 20
    assert {r["sex"] for r in rows} == {"female", "male"}
    assert {r["extract_date"] for r in rows} == {"2026-03-31"}
    total = sum(int(r["count"]) for r in rows)
    active = sum(b["entry"][0]["resource"]["active"] for b in _bundles(out))
    assert total == active
    older = sum(int(r["count"]) for r in rows if int(r["age_band"].rstrip("+").split("-")[0]) >= 65)
    assert 0.22 < older / total < 0.31  # Cornwall: about 26% aged 65 and over


def test_prevalence_is_plausible(generated: tuple[Path, GenerationSummary]) -> None:
    out, _ = generated
    codes_by_patient: list[set[str]] = []
    for bundle in _bundles(out):
        if not bundle["entry"][0]["resource"]["active"]:
            continue
        codes_by_patient.append(
            {
                e["resource"]["code"]["coding"][0]["code"]
                for e in bundle["entry"]
                if e["resource"]["resourceType"] == "Condition"
            }
        )
    n = len(codes_by_patient)

    def share(code: str) -> float:
        return sum(code in c for c in codes_by_patient) / n

    assert 0.12 < share("38341003") < 0.25  # hypertension (England 14.5%; Cornwall older)
    assert 0.045 < share("44054006") < 0.11  # type 2 diabetes
    assert 0.012 < share("49436004") < 0.05  # atrial fibrillation


def test_manifest_and_summary(generated: tuple[Path, GenerationSummary]) -> None:
    out, summary = generated
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["seed"] == SEED and manifest["people"] == PEOPLE and manifest["years"] == 3
    assert manifest["period"] == {"start": "2023-04-01", "end": "2026-03-31"}
    assert manifest["records"] == summary.records
    data = orjson.loads(orjson.dumps(summary.to_dict()))
    assert data["people"] == PEOPLE and data["records_per_second"]["gp-fhir"] > 0
    assert summary.start == date(2023, 4, 1) and summary.files > 4


def test_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    with pytest.raises(GenerationError, match="not empty"):
        generate_ics(directory=small_directory(), people=10, seed=1, years=1, out=tmp_path)


def test_refuses_impossible_sizes(tmp_path: Path) -> None:
    with pytest.raises(GenerationError):
        generate_ics(directory=small_directory(), people=0, seed=1, years=1, out=tmp_path / "a")
    with pytest.raises(GenerationError):
        generate_ics(directory=small_directory(), people=10, seed=1, years=0, out=tmp_path / "b")


def test_public_api_is_explicit() -> None:
    import joinedup.synthetic as synthetic

    assert set(synthetic.__all__) >= {"generate_ics", "GenerationSummary", "default_directory"}
    assert all(hasattr(synthetic, name) for name in synthetic.__all__)


def test_published_counts_load_with_the_directory_store(
    generated: tuple[Path, GenerationSummary],
) -> None:
    from joinedup.directory.store import read_population_csv

    out, _ = generated
    counts = read_population_csv(out / "published" / "gp-registered-patients.csv")
    assert len(counts) == 4 * 2 * 20
    assert max(c.band_start for c in counts) == 95


def test_reference_data_covers_every_address_and_opts_some_people_out(
    generated: tuple[Path, GenerationSummary],
) -> None:
    out, _ = generated
    with (out / "published" / "postcode-lookup.csv").open() as handle:
        lookup = {row["postcode"]: row for row in csv.DictReader(handle)}
    assert all(1 <= int(r["imd_decile"]) <= 10 for r in lookup.values())
    postcodes = {
        p["address"][0]["postalCode"] for p in (b["entry"][0]["resource"] for b in _bundles(out))
    }
    assert postcodes <= set(lookup)
    with (out / "published" / "national-data-opt-outs.csv").open() as handle:
        opted = [row["nhs_number"] for row in csv.DictReader(handle)]
    assert all(is_valid_nhs_number(n) for n in opted)
    assert 0.02 * PEOPLE <= len(opted) <= 0.10 * PEOPLE  # about 5.4%
