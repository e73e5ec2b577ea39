"""Unit tests for the partners' activity and feeds (synthetic/activity.py, partner_feeds.py).

People and the directory are built here in code, so these tests don't depend on the
population generator.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import hl7
import numpy as np
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
    Service,
)
from joinedup.synthetic.activity import DAY, Activity, partners_of, simulate_activity
from joinedup.synthetic.model import Address, Diagnosis, Person, Registration, TruthRow
from joinedup.synthetic.partner_feeds import (
    client_id,
    community_patient_id,
    hospital_number,
    mental_health_patient_id,
    write_finance_ledger,
    write_partner_feeds,
)

START = date(2023, 4, 1)
END = date(2026, 4, 1)
SEED = 11
CHUNK = 3

_GIVEN_F = ("Elizabeth", "Catherine", "Margaret", "Susan", "Tamsin", "Jennifer", "Ann", "Morwenna")
_GIVEN_M = ("Robert", "William", "James", "John", "Richard", "Thomas", "Jago", "Peter")
_FAMILY = ("Pascoe", "Trevithick", "Penrose", "Nance", "Rowe", "Jenkin", "Smith", "Williams")


def small_ics() -> Directory:
    """A small ICS: an acute trust with an ED and a UTC, the community trust with a minor
    injury unit and teams, two councils (one for a single place), care homes."""
    org = OrganisationKind
    return Directory(
        name="Test ICS",
        icb="QT6",
        areas=(Area("west", "West"), Area("east", "East")),
        places=(
            Place("Penzance", "west", ("TR18",), 20_000, 0.7),
            Place("Isles of Scilly", "west", ("TR21",), 2_000, 0.3),
            Place("Liskeard", "east", ("PL14",), 10_000, 0.4),
        ),
        pcns=(PrimaryCareNetwork("U00001", "West PCN", "west"),),
        organisations=(
            Organisation("QT6", "Test ICB", org.INTEGRATED_CARE_BOARD),
            Organisation("REF", "Royal Cornwall Hospitals", org.ACUTE_TRUST, beds=750),
            Organisation("RJ8", "Cornwall Partnership", org.COMMUNITY_AND_MENTAL_HEALTH_TRUST),
            Organisation("RYF", "South Western Ambulance", org.AMBULANCE_TRUST),
            Organisation("ZLA01", "Cornwall Council", org.LOCAL_AUTHORITY),
            Organisation("ZLA02", "Scilly Council", org.LOCAL_AUTHORITY, place="Isles of Scilly"),
            Organisation("ZC001", "Chy Care Home", org.CARE_HOME, place="Penzance", beds=30),
            Organisation(
                "L00001", "Morrab Surgery", org.GP_PRACTICE, place="Penzance", pcn="U00001"
            ),
        ),
        services=(
            Service("ed-rch", "ED", "REF", "emergency_department", ("west", "east")),
            Service("utc-west", "UTC", "REF", "urgent_treatment_centre", ("west",)),
            Service("miu-east", "MIU", "RJ8", "minor_injury_unit", ("east",)),
            Service("dn-west", "District nursing", "RJ8", "district_nursing", ("west",)),
            Service("ucr-east", "UCR", "RJ8", "urgent_community_response", ("east",)),
        ),
    )


def make_people(count: int, seed: int = 5) -> list[Person]:
    """People with an older, Cornwall-like age mix, some conditions, movers and deaths."""
    rng = np.random.default_rng(seed)
    towns = (("Penzance", "TR18", "west"), ("Isles of Scilly", "TR21", "west"))
    towns += (("Liskeard", "PL14", "east"),)
    people = []
    for i in range(count):
        age = float(min(rng.gamma(2.6, 17.0), 100))
        birth = START - timedelta(days=int(age * 365.25))
        female = bool(rng.random() < 0.51)
        frailty = float(np.clip(0.02 + 0.3 * max(age - 55, 0) ** 2 / 45**2, 0, 0.8))
        frailty = float(np.clip(frailty * rng.lognormal(0, 0.4), 0, 0.9))
        town, district, area = towns[int(rng.choice(3, p=(0.6, 0.05, 0.35)))]
        addresses = [
            Address(
                f"{i % 40 + 1} Fore Street",
                town,
                f"{district} {i % 9 + 1}AB",
                "E01990001",
                int(rng.integers(1, 11)),
                birth,
            )
        ]
        if rng.random() < 0.15:
            addresses.append(
                Address(
                    f"{i % 30 + 2} Chapel Row",
                    town,
                    f"{district} {i % 7 + 1}XY",
                    "E01990002",
                    int(rng.integers(1, 11)),
                    START + timedelta(days=int(rng.integers(0, 900))),
                )
            )
        diagnoses = []
        for key, p in (
            ("hypertension", 0.004 * age),
            ("type_2_diabetes", 0.0015 * age),
            ("copd", 0.0006 * age),
            ("heart_failure", 0.0004 * age),
            ("depression", 0.13),
            ("schizophrenia", 0.01),
            ("dementia", 0.0008 * max(age - 60, 0) ** 1.5 / 10),
            ("falls", 0.5 * frailty),
            ("housebound", 0.3 * frailty),
            ("an_unknown_condition", 0.05),
        ):
            if rng.random() < p:
                diagnoses.append(
                    Diagnosis(key, START - timedelta(days=int(rng.integers(-900, 3000))))
                )
        if age > 45 and rng.random() < 0.01:
            diagnoses.append(
                Diagnosis(
                    "breast_cancer" if female else "prostate_cancer",
                    START + timedelta(days=int(rng.integers(60, 1000))),
                )
            )
        died = rng.random() < min(0.6, 0.05 * (age / 75) ** 4)  # about 3% over 3 years
        death = START + timedelta(days=int(rng.integers(10, 1090))) if died else None
        given = (_GIVEN_F if female else _GIVEN_M)[i % 8]
        people.append(
            Person(
                index=10_000 + i,
                person_id=f"P{10_000 + i:07d}",
                nhs_number=f"999{i:07d}",
                given=given,
                family=_FAMILY[(i * 7) % 8],
                sex="female" if female else "male",
                birth_date=birth,
                death_date=death,
                ethnicity="A",
                addresses=tuple(addresses),
                registrations=(Registration("L00001", birth, death, f"{i:07d}"),),
                diagnoses=tuple(diagnoses),
                frailty=frailty,
                area=area,
            )
        )
    return people


@pytest.fixture(scope="module")
def people() -> list[Person]:
    return make_people(2000)


@pytest.fixture(scope="module")
def activity(people: list[Person]) -> Activity:
    partners = partners_of(small_ics())
    return simulate_activity(
        people, partners=partners, start=START, end=END, seed=SEED, chunk=CHUNK
    )


@pytest.fixture(scope="module")
def written(
    people: list[Person], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, list[TruthRow]]]:
    out = tmp_path_factory.mktemp("feeds")
    truth = write_partner_feeds(
        people, directory=small_ics(), start=START, end=END, seed=SEED, chunk=CHUNK, out=out
    )
    return out, truth


@pytest.fixture(scope="module")
def adt(written: tuple[Path, dict[str, list[TruthRow]]]) -> list[tuple[str, hl7.Message]]:
    """Every ADT message, as text and parsed by the ``hl7`` package (parsed once: it is slow)."""
    return [(text, hl7.parse(text)) for text in _hl7_messages(written[0])]


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _csv_rows(root: Path, pattern: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(root.glob(pattern)):
        rows.extend(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    return rows


def _hl7_messages(root: Path) -> list[str]:
    messages = []
    for path in sorted(root.glob("feeds/acute-REF/adt/*.hl7")):
        text = path.read_bytes().decode("utf-8")  # read_text would turn the \r into \n
        messages.extend(m for m in text.split("\n") if m)
    return messages


def _first_id(field: object) -> str:
    """The ID of the first repetition of a CX field (hl7 nests a lone repetition differently)."""
    return str(field).split("~")[0].split("^")[0]


# --- determinism -------------------------------------------------------------------------------


def test_same_inputs_give_the_same_bytes(
    people: list[Person], written: tuple[Path, dict[str, list[TruthRow]]], tmp_path: Path
) -> None:
    out, truth = written
    again = write_partner_feeds(
        people[:],
        directory=small_ics(),
        start=START,
        end=END,
        seed=SEED,
        chunk=CHUNK,
        out=tmp_path,
    )
    assert _files(tmp_path) == _files(out)
    assert again == truth


def test_another_seed_gives_other_activity(people: list[Person], activity: Activity) -> None:
    other = simulate_activity(
        people[:500],
        partners=partners_of(small_ics()),
        start=START,
        end=END,
        seed=SEED + 1,
        chunk=CHUNK,
    )
    assert [a.arrival for a in other.attendances[:20]] != [
        a.arrival for a in activity.attendances[:20]
    ]


# --- the acute trust's HL7 v2 ADT ----------------------------------------------------------------


def test_adt_messages_parse_and_have_their_segments(
    adt: list[tuple[str, hl7.Message]],
) -> None:
    assert len(adt) > 1000
    triggers: Counter[str] = Counter()
    control_ids = set()
    for _, message in adt:
        trigger = str(message.segment("MSH")[9][0][1])
        triggers[trigger] += 1
        names = [str(segment[0]) for segment in message]
        assert names[:2] == ["MSH", "EVN"]
        assert str(message.segment("MSH")[4]) == "REF"
        assert str(message.segment("MSH")[12]) == "2.4"
        required = ("PID", "MRG") if trigger == "A40" else ("PID", "PV1")
        assert all(name in names for name in required), trigger
        control_ids.add(str(message.segment("MSH")[10]))
        pid3 = str(message.segment("PID")[3])
        assert pid3.startswith("RCH") and "^^^REF^MR" in pid3
    assert len(control_ids) == len(adt)  # message control ids are unique
    for trigger in ("A01", "A02", "A03", "A05"):
        assert triggers[trigger] > 0, trigger


def test_a_death_in_hospital_carries_the_date_of_death(
    adt: list[tuple[str, hl7.Message]],
) -> None:
    died = [m for t, m in adt if "|79|" in t and "ADT^A03" in t]
    assert died
    pid = died[0].segment("PID")
    assert len(str(pid[29])) == 12 and str(pid[30]) == "Y"


def test_discharges_carry_destination_and_d2a_pathway(
    adt: list[tuple[str, hl7.Message]],
) -> None:
    pathways: Counter[str] = Counter()
    for text, message in adt:
        if "ADT^A03" not in text:
            continue
        pv1 = message.segment("PV1")
        assert str(pv1[36]) in {"19", "51", "79", "85"}
        assert str(pv1[45])
        pathways[str(pv1[37])] += 1
    assert set(pathways) <= {"", "0", "1", "2", "3"}
    assert pathways["0"] and pathways["1"]


def test_no_message_is_dated_after_the_period(
    written: tuple[Path, dict[str, list[TruthRow]]], adt: list[tuple[str, hl7.Message]]
) -> None:
    out, _ = written
    stamps = [m.segment("MSH")[7] for _, m in adt]
    assert max(str(s) for s in stamps) < END.strftime("%Y%m%d")
    months = {p.stem for p in out.glob("feeds/acute-REF/adt/*.hl7")}
    assert min(months) >= "2023-04" and max(months) <= "2026-03"


# --- A&E as FHIR ---------------------------------------------------------------------------------


def test_ae_attendances_parse_as_fhir_r4_bundles(
    written: tuple[Path, dict[str, list[TruthRow]]],
) -> None:
    out, _ = written
    lines = [
        line
        for path in sorted(out.glob("feeds/*/ecds/*.ndjson"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    assert len(lines) > 500
    providers = set()
    for line in lines[::10]:
        bundle = Bundle.model_validate(orjson.loads(line))
        assert bundle.type == "collection"
        patient, encounter = (e.resource for e in bundle.entry)
        assert patient.get_resource_type() == "Patient"
        assert encounter.class_fhir.code == "EMER"
        assert encounter.period.start is not None
        providers.add(encounter.serviceProvider.identifier.value)
    assert providers == {"REF", "RJ8"}  # the ED and UTC, and the minor injury unit


# --- the council's records ------------------------------------------------------------------------


def test_council_rows_lack_nhs_numbers_and_carry_mistakes(
    people: list[Person], written: tuple[Path, dict[str, list[TruthRow]]]
) -> None:
    out, truth = written
    rows = _csv_rows(out, "feeds/council-*/assessments/*.csv")
    rows += _csv_rows(out, "feeds/council-*/packages.csv")
    assert len(rows) > 300
    missing = sum(1 for r in rows if not r["nhs_number"]) / len(rows)
    assert 0.1 <= missing <= 0.3
    person_of = {
        t.local_id: t.person_id
        for feed in truth.values()
        for t in feed
        if t.feed.startswith("social")
    }
    by_id = {p.person_id: p for p in people}
    different = [
        r
        for r in rows
        if r["forename"] != by_id[person_of[r["client_id"]]].given
        or r["surname"] != by_id[person_of[r["client_id"]]].family
    ]
    assert len(different) / len(rows) > 0.05


def test_council_clients_with_two_records_are_in_the_truth(
    written: tuple[Path, dict[str, list[TruthRow]]],
) -> None:
    _, truth = written
    rows = truth["social-care-assessments"] + truth["social-care-packages"]
    ids_per_person: dict[str, set[str]] = {}
    for row in rows:
        ids_per_person.setdefault(row.person_id, set()).add(row.local_id)
    assert all(row.partner in {"ZLA01", "ZLA02"} for row in rows)
    assert max(len(ids) for ids in ids_per_person.values()) <= 2


# --- the truth ---------------------------------------------------------------------------------------


def test_truth_covers_every_local_id_in_the_feeds(
    written: tuple[Path, dict[str, list[TruthRow]]], adt: list[tuple[str, hl7.Message]]
) -> None:
    out, truth = written
    known = {(t.feed, t.local_id) for rows in truth.values() for t in rows}
    assert len(known) == sum(len(rows) for rows in truth.values())  # one row per (feed, id)
    seen: set[tuple[str, str]] = set()
    for text, message in adt:
        seen.add(("acute-adt", _first_id(message.segment("PID")[3])))
        if "\rMRG|" in text:
            seen.add(("acute-adt", _first_id(message.segment("MRG")[1])))
    for feed, folder in (("acute-ecds", "acute-REF"), ("community-ecds", "community-RJ8")):
        for path in out.glob(f"feeds/{folder}/ecds/*.ndjson"):
            for line in path.read_text(encoding="utf-8").splitlines():
                patient = orjson.loads(line)["entry"][0]["resource"]
                seen.add((feed, patient["identifier"][0]["value"]))
    for feed, pattern, column in (
        ("acute-rtt", "feeds/acute-REF/rtt/*.csv", "local_patient_id"),
        ("acute-diagnostics", "feeds/acute-REF/diagnostics/*.csv", "local_patient_id"),
        ("acute-cancer", "feeds/acute-REF/cancer/*.csv", "local_patient_id"),
        ("community-contacts", "feeds/community-RJ8/contacts/*.csv", "local_patient_id"),
        ("mental-health-contacts", "feeds/community-RJ8/mental-health/*.csv", "local_patient_id"),
        ("social-care-assessments", "feeds/council-*/assessments/*.csv", "client_id"),
        ("social-care-packages", "feeds/council-*/packages.csv", "client_id"),
    ):
        ids = {(feed, r[column]) for r in _csv_rows(out, pattern)}
        assert ids, feed
        seen |= ids
    assert seen == known


def test_truth_rows_are_sorted_and_person_ids_never_reach_a_feed(
    written: tuple[Path, dict[str, list[TruthRow]]],
) -> None:
    out, truth = written
    for rows in truth.values():
        assert [r.local_id for r in rows] == sorted(r.local_id for r in rows)
    for content in _files(out).values():
        assert b"P0010" not in content


def test_some_hospital_numbers_are_duplicates_merged_with_a40(
    written: tuple[Path, dict[str, list[TruthRow]]], adt: list[tuple[str, hl7.Message]]
) -> None:
    _, truth = written
    per_person = Counter(t.person_id for t in truth["acute-adt"])
    assert any(count == 2 for count in per_person.values())
    merges = [m for t, m in adt if "ADT^A40" in t]
    for message in merges:
        assert _first_id(message.segment("MRG")[1]) != _first_id(message.segment("PID")[3])


def test_local_identifiers_are_one_to_one() -> None:
    indexes = range(0, 200_000, 7)
    mrns = {hospital_number(i) for i in indexes} | {hospital_number(i, True) for i in indexes}
    assert len(mrns) == 2 * len(indexes)
    assert len({community_patient_id(i) for i in indexes}) == len(indexes)
    assert len({mental_health_patient_id(i) for i in indexes}) == len(indexes)
    clients = {client_id(c, i, d) for c in (0, 1) for i in indexes for d in (False, True)}
    assert len(clients) == 4 * len(indexes)


# --- the activity models ----------------------------------------------------------------------------


def test_four_hour_performance_is_as_cornwall_has_seen(activity: Activity) -> None:
    """NHS England A&E statistics: all types, Cornwall around 70-75% in recent years."""
    within = [a.departure - a.arrival <= 240 for a in activity.attendances]
    assert 0.65 <= sum(within) / len(within) <= 0.8
    type1 = [a for a in activity.attendances if a.department_type == 1]
    assert 0.2 <= len(type1) / len(activity.attendances) <= 0.5


def test_winter_is_worse_for_four_hours_in_the_ed(activity: Activity) -> None:
    def performance(months: set[int]) -> float:
        chosen = [
            a.departure - a.arrival <= 240
            for a in activity.attendances
            if a.department_type == 1 and (START + timedelta(days=a.arrival // DAY)).month in months
        ]
        return sum(chosen) / len(chosen)

    assert performance({12, 1, 2}) < performance({5, 6, 9})


def test_d2a_pathway_mix_is_near_the_national_one(activity: Activity) -> None:
    """DHSC hospital discharge guidance: pathway 0 ~50%, 1 ~45%, 2 ~4%, 3 ~1%."""
    pathways = Counter(s.d2a_pathway for s in activity.stays if s.d2a_pathway is not None)
    total = sum(pathways.values())
    share = {k: pathways[k] / total for k in range(4)}
    assert 0.38 <= share[0] <= 0.62
    assert 0.33 <= share[1] <= 0.57
    assert 0.01 <= share[2] <= 0.09
    assert 0.0 < share[3] <= 0.05


def test_stays_do_not_overlap_and_end_at_death(people: list[Person], activity: Activity) -> None:
    by_person: dict[int, list[tuple[int, int]]] = {}
    for stay in activity.stays:
        by_person.setdefault(stay.person, []).append((stay.admitted, stay.discharged))
        assert stay.discharged > stay.admitted
        if stay.died:
            assert activity.death_minute[stay.person] == stay.discharged
    for spans in by_person.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    stranded = [s for s in activity.stays if s.discharged - s.admitted >= 21 * DAY]
    assert stranded  # some super-stranded patients
    assert any(s.readmission for s in activity.stays)


def test_nothing_happens_after_death(people: list[Person], activity: Activity) -> None:
    for a in activity.attendances:
        assert a.arrival < activity.death_minute.get(a.person, 1 << 62)
    for c in activity.community + activity.mental_health:
        death = people[c.person].death_date
        assert death is None or START + timedelta(days=c.start // DAY) <= death


def test_waiting_lists_and_cancer_clocks(activity: Activity) -> None:
    open_paths = [p for p in activity.rtt if p.clock_stop is None]
    assert open_paths and any(p.clock_stop is not None for p in activity.rtt)
    days = (END - START).days
    assert any(days - p.clock_start > 52 * 7 for p in open_paths)  # long waiters
    told = [c for c in activity.cancer if c.diagnosis_told is not None]
    fds = sum(c.diagnosis_told - c.received <= 28 for c in told if c.diagnosis_told) / len(told)
    assert 0.68 <= fds <= 0.86
    assert all(
        c.first_seen is not None and c.first_seen <= c.diagnosis_told
        for c in told
        if c.diagnosis_told
    )
    treated = [c for c in activity.cancer if c.first_treatment is not None]
    assert treated and all(
        c.decision_to_treat is not None and c.received < c.decision_to_treat <= c.first_treatment
        for c in treated
        if c.first_treatment is not None
    )


def test_urgent_community_response_meets_two_hours_mostly(activity: Activity) -> None:
    first: dict[str, int] = {}
    for c in activity.community:
        if c.service_type == "urgent_community_response":
            first.setdefault(c.referral, c.start - c.referred)
    assert first
    assert 0.6 <= sum(m <= 120 for m in first.values()) / len(first) <= 0.95


def test_empty_chunk_writes_nothing(tmp_path: Path) -> None:
    truth = write_partner_feeds(
        [], directory=small_ics(), start=START, end=END, seed=SEED, chunk=0, out=tmp_path
    )
    assert all(not rows for rows in truth.values())


# --- the finance ledger ------------------------------------------------------------------------------


def test_finance_ledger_is_monthly_deterministic_and_overspends(tmp_path: Path) -> None:
    directory = small_ics()
    write_finance_ledger(directory=directory, start=START, end=END, seed=SEED, out=tmp_path / "a")
    write_finance_ledger(directory=directory, start=START, end=END, seed=SEED, out=tmp_path / "b")
    path = Path("feeds/icb-QT6/finance/ledger.csv")
    assert (tmp_path / "a" / path).read_bytes() == (tmp_path / "b" / path).read_bytes()
    rows = list(csv.DictReader(io.StringIO((tmp_path / "a" / path).read_text(encoding="utf-8"))))
    assert len({r["month"] for r in rows}) == 36
    programmes = {r["programme"] for r in rows}
    assert {"acute", "social care", "prescribing", "continuing healthcare"} <= programmes
    march = [r for r in rows if r["month"] == "2026-03" and r["programme"] == "acute"]
    assert int(march[0]["ytd_actual_gbp"]) > int(march[0]["ytd_budget_gbp"])  # acute overspends
    january = sum(int(r["actual_gbp"]) for r in rows if r["month"] == "2025-01")
    june = sum(int(r["actual_gbp"]) for r in rows if r["month"] == "2024-06")
    assert january > june  # winter pressure (and a year's growth)


def test_diagnostic_waits_are_as_dm01_sees_them(activity: Activity) -> None:
    """About a quarter of tests are done after six weeks or more (DM01, England 2024), some
    people are still waiting at the end, and no test is done before it was asked for."""
    tests = activity.diagnostics
    assert len(tests) > 500
    done = [t for t in tests if t.performed is not None]
    assert all(t.performed >= t.requested for t in done)  # type: ignore[operator]
    long = sum((t.performed - t.requested) >= 42 for t in done) / len(done)  # type: ignore[operator]
    assert 0.15 < long < 0.35
    assert any(t.performed is None for t in tests)


def test_delayed_discharges_have_a_ready_date_before_they_leave(activity: Activity) -> None:
    """Discharges on pathways 1-3 mostly wait once the person is ready (for home care,
    reablement, a bed or a care home); the ready date is in the stay, at least a day in."""
    delayed = [s for s in activity.stays if s.ready is not None]
    assert delayed
    assert all(s.admitted + DAY <= s.ready < s.discharged for s in delayed)  # type: ignore[operator]
    by_pathway = {
        p: [s for s in activity.stays if s.d2a_pathway == p and s.discharged - s.admitted > 2 * DAY]
        for p in (0, 1, 2, 3)
    }
    share = {p: sum(s.ready is not None for s in v) / len(v) for p, v in by_pathway.items() if v}
    assert share[0] < 0.1 < share[1]
