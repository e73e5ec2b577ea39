"""Write what the hospital, community and mental-health trust and councils would send us.

:func:`write_partner_feeds` simulates a chunk's activity (:mod:`joinedup.synthetic.activity`)
and writes it the way each partner's system would: the acute trust's HL7 v2.4 ADT messages,
FHIR A&E attendances (ECDS-like), referral-to-treatment and cancer waiting-times extracts;
the community and mental-health trust's CSV contact extracts and minor injury unit
attendances; each council's social care CSVs, with the council's mistakes. Each partner knows
a person by its own local identifier; the ground truth ties every one to the person.
:func:`write_finance_ledger` writes the ICS's monthly finance ledger (not about people).

Layout, fields and models: ``docs/synthetic-partner-feeds.md``. Files are line-oriented
(HL7 messages one per line-group, NDJSON, CSV with a header) and named by partner and month,
so the generator can concatenate the chunks' files in chunk order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from joinedup.directory.model import Directory, Organisation, OrganisationKind
from joinedup.synthetic.activity import (
    DAY,
    ICS_LEVEL,
    SPECIALTIES,
    Activity,
    AeAttendance,
    CarePackage,
    Contact,
    HospitalStay,
    Partners,
    SocialCareAssessment,
    Stream,
    partners_of,
    random_stream,
    simulate_activity,
)
from joinedup.synthetic.model import Address, Person, TruthRow

__all__ = [
    "FEEDS",
    "client_id",
    "community_patient_id",
    "hospital_number",
    "mental_health_patient_id",
    "write_finance_ledger",
    "write_partner_feeds",
]

#: Feed names as they appear in the truth (TruthRow.feed), by what they carry.
FEEDS: Final = {
    "acute-adt": "HL7 v2 ADT from the acute trust's PAS",
    "acute-ecds": "FHIR A&E attendances from the acute trust (ED and its UTC)",
    "acute-rtt": "referral-to-treatment pathways (WLMDS-like CSV)",
    "acute-diagnostics": "diagnostic test waiting list (DM01-like CSV)",
    "acute-cancer": "urgent suspected cancer referrals (CWT-like CSV)",
    "community-ecds": "FHIR minor injury unit attendances from the community trust",
    "community-contacts": "community health contacts (CSDS-like CSV)",
    "mental-health-contacts": "mental-health contacts (MHSDS-like CSV)",
    "social-care-assessments": "council adult social care assessments (CSV)",
    "social-care-packages": "council packages of care (CSV)",
}

NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM: Final = "https://fhir.nhs.uk/Id/ods-organization-code"
_LOCAL: Final = "https://fhir.joinedup.example/"
_UK: Final = ZoneInfo("Europe/London")
_LOOKBACK_DAYS: Final = 1200  # the earliest day any record can name (old care packages)


# --- identifiers ----------------------------------------------------------------------------


# Each partner numbers its patients with its own bijection of the person's population index,
# so ids are stable across chunks and runs and never collide (x -> a*x + b mod 10^k, a odd and
# not a multiple of 5, is a bijection of 0..10^k-1).
def _scramble(value: int, a: int, b: int, digits: int) -> int:
    modulus: int = 10**digits
    return (value * a + b) % modulus


def hospital_number(index: int, duplicate: bool = False) -> str:
    """The acute trust's medical record number (MRN); a duplicate registration gets another."""
    return f"RCH{_scramble(2 * index + int(duplicate), 7_654_321, 1_234_567, 8):08d}"


def community_patient_id(index: int) -> str:
    """The community trust's community system (SystmOne-like) patient id."""
    return f"CP{_scramble(index, 3_141_593, 2_718_281, 7):07d}"


def mental_health_patient_id(index: int) -> str:
    """The community trust's mental-health system (RiO-like) patient id."""
    return f"{_scramble(index, 1_618_033, 4_142_135, 7) + 10_000_000:08d}"


def client_id(council_number: int, index: int, duplicate: bool = False) -> str:
    """A council's social care client id (council_number: the council's place in the directory)."""
    value = council_number * 2_000_000 + 2 * index + int(duplicate)
    return f"CL{_scramble(value, 9_876_543, 3_333_331, 8):08d}"


# --- dates and times ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Days:
    """Text forms of every day a record can name, indexed by day of the period + offset."""

    offset: int
    dates: tuple[date, ...]
    compact: tuple[str, ...]  # 20250401
    iso: tuple[str, ...]  # 2025-04-01
    uk: tuple[str, ...]  # 01/04/2025
    month: tuple[str, ...]  # 2025-04
    utc_offset: tuple[str, ...]  # +01:00

    def date(self, day: int) -> date:
        return self.dates[day + self.offset]

    def hl7(self, minute: int) -> str:
        day, hm = divmod(minute, DAY)
        return f"{self.compact[day + self.offset]}{hm // 60:02d}{hm % 60:02d}"

    def fhir(self, minute: int) -> str:
        day, hm = divmod(minute, DAY)
        i = day + self.offset
        return f"{self.iso[i]}T{hm // 60:02d}:{hm % 60:02d}:00{self.utc_offset[i]}"

    def local(self, minute: int) -> str:
        day, hm = divmod(minute, DAY)
        return f"{self.iso[day + self.offset]} {hm // 60:02d}:{hm % 60:02d}"

    def month_of(self, minute: int) -> str:
        return self.month[minute // DAY + self.offset]


@lru_cache(maxsize=4)
def _days(start: date, end: date) -> _Days:
    first = start - timedelta(days=_LOOKBACK_DAYS)
    count = (end - first).days + 800  # stays and messages can run past the period's end
    dates = tuple(first + timedelta(days=d) for d in range(count))
    offsets = []
    for day in dates:
        offset = datetime(day.year, day.month, day.day, 12, tzinfo=_UK).utcoffset()
        hours = int(offset.total_seconds() // 3600) if offset else 0
        offsets.append(f"+{hours:02d}:00")
    return _Days(
        offset=_LOOKBACK_DAYS,
        dates=dates,
        compact=tuple(d.strftime("%Y%m%d") for d in dates),
        iso=tuple(d.isoformat() for d in dates),
        uk=tuple(d.strftime("%d/%m/%Y") for d in dates),
        month=tuple(d.strftime("%Y-%m") for d in dates),
        utc_offset=tuple(offsets),
    )


# --- the acute trust's records: which hospital number each episode used -----------------------


@dataclass(frozen=True)
class _Duplicate:
    """A second hospital number the trust made by mistake, used from ``since`` until merged."""

    since: int  # minute
    merged: int | None  # minute of the A40 merge; None: not found out by the period's end
    with_nhs_number: bool


def _duplicates(
    activity: Activity, acute: str, rng: np.random.Generator, period_end: int
) -> dict[int, _Duplicate]:
    """About 3% of people with two or more hospital episodes get a duplicate registration.

    The duplicate starts at a later episode (the person arrived without their details, or
    under another spelling), is used until the trust notices and merges it (A40), a few days
    to two months after that episode; about one in five is still unmerged at the period's end.
    """
    episodes: dict[int, list[tuple[int, int]]] = {}
    for a in activity.attendances:
        if a.provider == acute:
            episodes.setdefault(a.person, []).append((a.arrival, a.departure))
    for s in activity.stays:
        episodes.setdefault(s.person, []).append((s.admitted, s.discharged))
    people = sorted(p for p, e in episodes.items() if len(e) >= 2)
    u = rng.random((len(people), 4))
    found: dict[int, _Duplicate] = {}
    for j, person in enumerate(people):
        if u[j, 0] >= 0.03:
            continue
        spans = sorted(episodes[person])
        first, last = spans[1 + int(u[j, 1] * (len(spans) - 1))]
        merged = last + int(1 + u[j, 2] * 60) * DAY
        found[person] = _Duplicate(
            since=first,
            merged=merged if merged < period_end and u[j, 3] < 0.8 else None,
            with_nhs_number=u[j, 3] < 0.4,
        )
    return found


# --- the council's mistakes -----------------------------------------------------------------

#: Given-name variants a council officer might take down (what people call themselves).
NAME_VARIANTS: Final[dict[str, tuple[str, ...]]] = {
    "Robert": ("Bob", "Rob", "Bobby"),
    "William": ("Bill", "Will", "Billy"),
    "Elizabeth": ("Liz", "Beth", "Betty", "Elisabeth"),
    "Catherine": ("Kathryn", "Cathy", "Kate", "Katherine"),
    "Katherine": ("Kate", "Kathy", "Catherine"),
    "Kathryn": ("Catherine", "Kate"),
    "Margaret": ("Maggie", "Peggy", "Margret"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "John": ("Jack", "Johnny", "Jon"),
    "Richard": ("Dick", "Rick", "Richie"),
    "Thomas": ("Tom", "Tommy"),
    "Michael": ("Mike", "Mick"),
    "Christopher": ("Chris",),
    "Anthony": ("Tony",),
    "Jennifer": ("Jenny", "Jen"),
    "Susan": ("Sue", "Susie"),
    "Patricia": ("Pat", "Trish"),
    "Deborah": ("Debbie", "Debra"),
    "Rebecca": ("Becky", "Becca"),
    "Samantha": ("Sam",),
    "Alexander": ("Alex", "Sandy"),
    "Edward": ("Ted", "Eddie", "Ed"),
    "Dorothy": ("Dot", "Dottie"),
    "Jacqueline": ("Jackie",),
    "Stephen": ("Steve", "Steven"),
    "Steven": ("Steve", "Stephen"),
    "Peter": ("Pete",),
    "David": ("Dave",),
    "Joseph": ("Joe",),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",),
    "Nicholas": ("Nick",),
    "Benjamin": ("Ben",),
    "Jonathan": ("Jon", "Johnny"),
    "Victoria": ("Vicky", "Tori"),
    "Kenneth": ("Ken", "Kenny"),
    "Ronald": ("Ron", "Ronnie"),
    "Gerald": ("Gerry",),
    "Pamela": ("Pam",),
    "Sandra": ("Sandy",),
    "Valerie": ("Val",),
    "Christine": ("Chris", "Christina"),
    "Josephine": ("Jo", "Josie"),
    "Joanne": ("Jo", "Joanna"),
    "Tamsin": ("Tammy", "Tamzin"),
    "Jennifer ": ("Jen",),
    "Frederick": ("Fred", "Freddie"),
    "Albert": ("Bert", "Albie"),
    "Henry": ("Harry",),
    "Sarah": ("Sara",),
    "Ann": ("Anne",),
    "Anne": ("Ann",),
    "Philip": ("Phil", "Phillip"),
    "Andrew": ("Andy", "Drew"),
    "Gillian": ("Gill", "Jill"),
    "Timothy": ("Tim",),
    "Lawrence": ("Laurence", "Larry"),
}
# Surnames a woman may be known by (maiden or former married names) at the council.
_OTHER_SURNAMES: Final = (
    "Pascoe", "Trewin", "Jenkin", "Rowe", "Williams", "Nance", "Penrose", "Hocking",
    "Tonkin", "Richards", "Thomas", "Curnow", "Hosking", "Roberts", "Smith", "Jones",
    "Mitchell", "Harvey", "Bennetts", "Uren",
)  # fmt: skip


def _typo(text: str, at: float, kind: float) -> str:
    """A keying error: two letters swapped, a letter dropped, or one doubled."""
    if len(text) < 4:
        return text
    i = 1 + int(at * (len(text) - 2))
    if kind < 0.45 and i < len(text) - 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind < 0.8:
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i] + text[i:]


@dataclass(frozen=True)
class _Demographics:
    """A person as one partner's system holds them."""

    local_id: str
    nhs_number: str
    given: str
    family: str
    birth_date: date
    dob_swapped: bool  # day and month keyed the wrong way round
    sex: str  # M | F
    address: Address


def _council_record(
    person: Person, local_id: str, created: date, u: np.ndarray[Any, np.dtype[np.float64]]
) -> _Demographics:
    """The council's client record, keyed when the person first came to it, with its errors.

    ``u`` holds ten uniform draws for this record. About 20% lack an NHS number, 12% carry a
    name variant, 7% a typo, 2% a swapped day and month of birth; women sometimes appear
    under a maiden or double-barrelled surname; the address is the one they had when the
    record was made (or, for some, the one before).
    """
    given, family = person.given, person.family
    variants = NAME_VARIANTS.get(given)
    if variants and u[1] < 0.3:
        given = variants[int(u[2] * len(variants))]
    if u[3] < 0.07:
        if u[4] < 0.6:
            family = _typo(family, u[5], u[6])
        else:
            given = _typo(given, u[5], u[6])
    if person.sex == "female" and u[7] < 0.05 and person.birth_date.year < 2000:
        other = _OTHER_SURNAMES[int(u[8] * len(_OTHER_SURNAMES))]
        if other != family:
            family = f"{other}-{family}" if u[6] < 0.4 else other
    birth = person.birth_date
    swapped = u[9] < 0.02 and birth.day <= 12 and birth.day != birth.month
    address = person.address_on(created)
    if len(person.addresses) > 1 and u[4] < 0.1:
        earlier = [a for a in person.addresses if a.since < address.since]
        if earlier:
            address = earlier[-1]
    return _Demographics(
        local_id=local_id,
        nhs_number="" if u[0] < 0.2 else person.nhs_number,
        given=given,
        family=family,
        birth_date=birth,
        dob_swapped=swapped,
        sex="F" if person.sex == "female" else "M",
        address=address,
    )


# --- HL7 v2 ---------------------------------------------------------------------------------

_HL7_SPECIAL: Final = str.maketrans({"|": r"\F\\", "^": r"\S\\", "~": r"\R\\", "&": r"\T\\"})
_MESSAGE_STRUCTURE: Final = {
    "A01": "ADT_A01",
    "A02": "ADT_A02",
    "A03": "ADT_A03",
    "A05": "ADT_A05",
    "A08": "ADT_A01",
    "A11": "ADT_A09",
    "A13": "ADT_A01",
    "A40": "ADT_A39",
}


def _hl7_text(value: str) -> str:
    """Escape HL7 delimiters in free text (names and addresses hardly ever have them)."""
    if "\\" in value:
        value = value.replace("\\", r"\E\\")
    return value.translate(_HL7_SPECIAL)


# --- writing -------------------------------------------------------------------------------------


class _Writer:
    """One chunk's feeds: collects lines per file and the truth per feed, then writes them."""

    def __init__(
        self,
        people: Sequence[Person],
        partners: Partners,
        days: _Days,
        activity: Activity,
        *,
        seed: int,
        chunk: int,
        period_days: int,
    ) -> None:
        self.people = people
        self.partners = partners
        self.days = days
        self.activity = activity
        self.chunk = chunk
        self.period_end = period_days * DAY
        self.lines: dict[str, list[str]] = {}
        self.rows: dict[str, list[Sequence[object]]] = {}
        self.headers: dict[str, Sequence[str]] = {}
        self.truth: dict[str, dict[str, tuple[str, str]]] = {}
        records = random_stream(seed, chunk, Stream.RECORDS)
        n = len(people)
        # Not yet traced to an NHS number: a few in the trust's systems.
        self.acute_untraced = records.random(n) < 0.005
        self.community_untraced = records.random(n) < 0.03
        self.mental_health_untraced = records.random(n) < 0.05
        self.duplicates = _duplicates(activity, partners.acute, records, self.period_end)
        self.adt_noise = records.random((len(activity.stays), 4))
        self.council_u = random_stream(seed, chunk, Stream.COUNCIL_ERRORS).random((n, 2, 10))
        self.dob_uk = [p.birth_date.strftime("%d/%m/%Y") for p in people]
        self.sex = ["F" if p.sex == "female" else "M" for p in people]

    # -- bookkeeping --

    def known(self, feed: str, partner: str, local_id: str, person: int) -> None:
        self.truth.setdefault(feed, {})[local_id] = (partner, self.people[person].person_id)

    def row(self, path: str, header: Sequence[str], values: Sequence[object]) -> None:
        self.headers.setdefault(path, header)
        self.rows.setdefault(path, []).append(values)

    def write(self, out: Path) -> None:
        for path, lines in self.lines.items():
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("".join(lines), encoding="utf-8", newline="")
        for path, rows in self.rows.items():
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(self.headers[path])
            writer.writerows(rows)
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(buffer.getvalue(), encoding="utf-8", newline="")

    def truth_rows(self) -> dict[str, list[TruthRow]]:
        return {
            feed: [
                TruthRow(partner, feed, local_id, person_id)
                for local_id, (partner, person_id) in sorted(ids.items())
            ]
            for feed, ids in sorted(self.truth.items())
        }

    # -- the acute trust's hospital number for an episode --

    def mrn(self, person: int, minute: int) -> tuple[str, bool]:
        """(MRN, whether the record has the NHS number) in use at ``minute``."""
        duplicate = self.duplicates.get(person)
        index = self.people[person].index
        if duplicate is not None and duplicate.since <= minute < (duplicate.merged or 1 << 62):
            return hospital_number(index, True), duplicate.with_nhs_number
        return hospital_number(index), not self.acute_untraced[person]

    # -- HL7 v2 ADT --

    def pid(self, person: int, mrn: str, nhs: bool, minute: int, died: int | None) -> str:
        p = self.people[person]
        acute = self.partners.acute
        ids = f"{mrn}^^^{acute}^MR" + (f"~{p.nhs_number}^^^NHS^NH" if nhs else "")
        a = p.address_on(self.days.date(minute // DAY))
        fields = [
            "PID",
            "1",
            "",
            ids,
            "",
            f"{_hl7_text(p.family.upper())}^{_hl7_text(p.given)}^^^^^L",
            "",
            p.birth_date.strftime("%Y%m%d"),
            self.sex[person],
            "",
            "",
            f"{_hl7_text(a.line)}^^{_hl7_text(a.town)}^^{a.postcode}^GBR^H",
        ]
        if died is not None:
            fields.extend([""] * 17)
            fields.extend([self.days.hl7(died), "Y"])
        return "|".join(fields)

    def pv1(self, stay: HospitalStay, at: int, **fields: str) -> str:
        """PV1 for ``stay`` as it stands at minute ``at`` (ward, dates)."""
        ward = stay.wards[0]
        for w in stay.wards:
            if w.start <= at:
                ward = w
        pv1 = [""] * 46
        pv1[0], pv1[1] = "PV1", "1"
        pv1[2] = "I"
        pv1[3] = f"{ward.ward}^^{ward.bed}^{self.partners.acute}"
        pv1[4] = stay.admission_method
        pv1[10] = stay.specialty
        pv1[14] = stay.admission_source
        pv1[19] = stay.id
        pv1[44] = self.days.hl7(stay.admitted)
        for name, value in fields.items():
            pv1[int(name[1:])] = value
        return "|".join(pv1).rstrip("|")

    def adt(self) -> None:
        """ADT messages for every stay, and A40 merges, in time order, one file per month."""
        acute = self.partners.acute
        events: list[tuple[int, int, str, str, str]] = []  # minute, order, trigger, EVN rest, body

        def add(minute: int, trigger: str, body: str, evn_extra: str = "") -> None:
            if 0 <= minute < self.period_end:
                events.append((minute, len(events), trigger, evn_extra, body))

        for k, stay in enumerate(self.activity.stays):
            person = stay.person
            mrn, nhs = self.mrn(person, stay.admitted)
            self.known_if_sent(stay, mrn)
            pid = self.pid(person, mrn, nhs, stay.admitted, None)
            noise = self.adt_noise[k]
            days = self.days
            if stay.elective and stay.decided < stay.admitted:
                # Pre-admission (A05) when the date is booked: no ward or admit time yet.
                pv2 = f"PV2||||||||{days.hl7(stay.admitted)}"
                add(
                    stay.decided,
                    "A05",
                    pid + "\r" + self.pv1(stay, stay.admitted, p2="P", p3="", p44="") + "\r" + pv2,
                    f"|{days.hl7(stay.admitted)}",
                )
            admit = pid + "\r" + self.pv1(stay, stay.admitted)
            add(stay.admitted, "A01", admit)
            if noise[0] < 0.01:
                # Admitted in error and cancelled (A11), then admitted again properly.
                cancel = stay.admitted + 10 + int(noise[3] * 80)
                add(cancel, "A11", admit)
                add(cancel + 5, "A01", admit)
            for previous, ward in zip(stay.wards, stay.wards[1:], strict=False):
                prior = f"{previous.ward}^^{previous.bed}^{acute}"
                add(
                    ward.start,
                    "A02",
                    pid + "\r" + self.pv1(stay, ward.start, p6=prior),
                    f"||||{days.hl7(ward.start)}",
                )
            if noise[1] < 0.06 and stay.discharged - stay.admitted > DAY:
                # A demographic or administrative correction during the stay (A08).
                middle = (stay.admitted + stay.discharged) // 2
                add(middle, "A08", pid + "\r" + self.pv1(stay, middle))
            died = stay.discharged if stay.died else None
            pid_end = self.pid(person, mrn, nhs, stay.discharged, died)
            pathway = "" if stay.d2a_pathway is None else str(stay.d2a_pathway)
            discharge_fields = {"p36": stay.destination, "p37": pathway}
            early = stay.discharged - 180
            if noise[2] < 0.01 and not stay.died and early > stay.wards[-1].start:
                # Discharged by mistake, cancelled (A13), then discharged for real.
                wrong = self.pv1(stay, early, p45=days.hl7(early), **discharge_fields)
                add(early, "A03", pid_end + "\r" + wrong)
                add(early + 30, "A13", pid_end + "\r" + self.pv1(stay, early + 30))
            done = self.pv1(
                stay, stay.discharged, p45=days.hl7(stay.discharged), **discharge_fields
            )
            if stay.ready is not None:
                # The discharge ready date (NHS England's "clinically ready for discharge"),
                # sent in PV2-9 (expected discharge date/time), as this trust's PAS does.
                done += "\r" + f"PV2|||||||||{days.hl7(stay.ready)}"
            add(stay.discharged, "A03", pid_end + "\r" + done)

        for person, duplicate in sorted(self.duplicates.items()):
            if duplicate.merged is None:
                continue
            index = self.people[person].index
            survivor = hospital_number(index)
            retired = hospital_number(index, True)
            if not self.truth.get("acute-adt", {}).get(retired):
                continue  # the duplicate was only used in A&E: merged there, not in the PAS
            body = (
                self.pid(person, survivor, True, duplicate.merged, None)
                + f"\rMRG|{retired}^^^{acute}^MR"
            )
            add(duplicate.merged, "A40", body)
            self.known("acute-adt", acute, survivor, person)

        events.sort()
        for sequence, (minute, _, trigger, evn_extra, body) in enumerate(events):
            ts = self.days.hl7(minute)
            control = f"{acute}{self.chunk:05d}{sequence:07d}"
            message = (
                f"MSH|^~\\&|PAS|{acute}|JOINEDUP|{self.partners.icb}|{ts}||"
                f"ADT^{trigger}^{_MESSAGE_STRUCTURE[trigger]}|{control}|P|2.4|||AL|NE|GBR\r"
                f"EVN|{trigger}|{ts}{evn_extra}\r{body}\n"
            )
            path = f"feeds/acute-{acute}/adt/{self.days.month_of(minute)}.hl7"
            self.lines.setdefault(path, []).append(message)

    def known_if_sent(self, stay: HospitalStay, mrn: str) -> None:
        # A stay whose first message falls after the period's end is never sent.
        first = stay.decided if stay.elective else stay.admitted
        if min(first, stay.admitted) < self.period_end:
            self.known("acute-adt", self.partners.acute, mrn, stay.person)

    # -- A&E attendances as FHIR (ECDS-like) --

    def attendance(self, number: int, a: AeAttendance) -> None:
        acute = self.partners.acute
        if a.provider == acute:
            local, _ = self.mrn(a.person, a.arrival)
            nhs = not self.acute_untraced[a.person]
            duplicate = self.duplicates.get(a.person)
            if duplicate is not None and local == hospital_number(
                self.people[a.person].index, True
            ):
                nhs = duplicate.with_nhs_number
            feed, folder, kind = "acute-ecds", f"acute-{acute}", "mrn"
        else:
            local = community_patient_id(self.people[a.person].index)
            nhs = not self.community_untraced[a.person]
            feed, folder, kind = "community-ecds", f"community-{a.provider}", "patient"
        if a.arrival >= self.period_end:
            return
        self.known(feed, a.provider, local, a.person)
        p = self.people[a.person]
        address = p.address_on(self.days.date(a.arrival // DAY))
        patient_url = f"urn:uuid:{self.chunk:08x}-0000-4000-8000-{2 * number:012x}"
        encounter_url = f"urn:uuid:{self.chunk:08x}-0000-4000-8000-{2 * number + 1:012x}"
        identifiers: list[dict[str, Any]] = [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "MR",
                        }
                    ]
                },
                "system": f"{_LOCAL}Id/ods/{a.provider}/{kind}",
                "value": local,
            }
        ]
        if nhs:
            identifiers.append({"system": NHS_NUMBER_SYSTEM, "value": p.nhs_number})
        patient = {
            "resourceType": "Patient",
            "identifier": identifiers,
            "name": [{"use": "official", "family": p.family, "given": [p.given]}],
            "gender": p.sex,
            "birthDate": p.birth_date.isoformat(),
            "address": [
                {
                    "use": "home",
                    "line": [address.line],
                    "city": address.town,
                    "postalCode": address.postcode,
                }
            ],
        }
        departed = a.departure < self.period_end
        period = {"start": self.days.fhir(a.arrival)}
        hospitalization: dict[str, Any] = {
            "admitSource": {
                "coding": [
                    {
                        "system": f"{_LOCAL}CodeSystem/ae-arrival-mode",
                        "code": "ambulance" if a.ambulance else "own-transport",
                    }
                ]
            }
        }
        if a.ambulance:
            hospitalization["origin"] = {
                "identifier": {"system": ODS_SYSTEM, "value": self.partners.ambulance}
            }
        encounter: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": a.id,
            "identifier": [{"system": f"{_LOCAL}Id/ods/{a.provider}/ae-attendance", "value": a.id}],
            "status": "finished" if departed else "in-progress",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "EMER",
                "display": "emergency",
            },
            "type": [
                {
                    "coding": [
                        {
                            "system": f"{_LOCAL}CodeSystem/ae-department-type",
                            "code": f"{a.department_type:02d}",
                            "display": _DEPARTMENT_TYPE[a.department_type],
                        }
                    ]
                }
            ],
            "subject": {"reference": patient_url},
            "period": period,
            "hospitalization": hospitalization,
            "location": [
                {"location": {"identifier": {"system": f"{_LOCAL}Id/service", "value": a.site}}}
            ],
            "serviceProvider": {"identifier": {"system": ODS_SYSTEM, "value": a.provider}},
        }
        if departed:
            period["end"] = self.days.fhir(a.departure)
            encounter["length"] = {
                "value": a.departure - a.arrival,
                "unit": "min",
                "system": "http://unitsofmeasure.org",
                "code": "min",
            }
            hospitalization["dischargeDisposition"] = {
                "coding": [{"system": f"{_LOCAL}CodeSystem/ae-outcome", "code": a.outcome}]
            }
        bundle = {
            "resourceType": "Bundle",
            "id": f"ecds-{a.id}",
            "type": "collection",
            "timestamp": self.days.fhir(min(a.departure, self.period_end - 1)),
            "entry": [
                {"fullUrl": patient_url, "resource": patient},
                {"fullUrl": encounter_url, "resource": encounter},
            ],
        }
        path = f"feeds/{folder}/ecds/{self.days.month_of(a.arrival)}.ndjson"
        self.lines.setdefault(path, []).append(orjson.dumps(bundle).decode() + "\n")

    # -- waiting lists --

    def rtt(self) -> None:
        acute = self.partners.acute
        census = self.period_end // DAY - 1
        iso = self.days.iso
        o = self.days.offset
        path = f"feeds/acute-{acute}/rtt/pathways.csv"
        for pathway in self.activity.rtt:
            p = self.people[pathway.person]
            mrn = hospital_number(p.index)
            self.known("acute-rtt", acute, mrn, pathway.person)
            stop = pathway.clock_stop
            waited = ((stop if stop is not None else census) - pathway.clock_start) // 7
            address = p.address_on(self.days.date(max(pathway.clock_start, -_LOOKBACK_DAYS)))
            self.row(
                path,
                _RTT_HEADER,
                (
                    pathway.id,
                    acute,
                    mrn,
                    "" if self.acute_untraced[pathway.person] else p.nhs_number,
                    p.family,
                    p.given,
                    p.birth_date.isoformat(),
                    self.sex[pathway.person],
                    address.postcode,
                    pathway.referrer,
                    iso[pathway.clock_start + o],
                    iso[pathway.clock_start + o],
                    pathway.specialty,
                    SPECIALTIES.get(pathway.specialty, ""),
                    pathway.priority,
                    "" if stop is None else iso[stop + o],
                    pathway.stop_reason,
                    "open" if stop is None else "closed",
                    waited,
                ),
            )

    def diagnostics(self) -> None:
        """The diagnostic waiting list extract: every request in the period, as it stands."""
        acute = self.partners.acute
        iso = self.days.iso
        o = self.days.offset
        path = f"feeds/acute-{acute}/diagnostics/waiting-list.csv"
        for test in self.activity.diagnostics:
            p = self.people[test.person]
            mrn = hospital_number(p.index)
            self.known("acute-diagnostics", acute, mrn, test.person)
            address = p.address_on(self.days.date(max(test.requested, -_LOOKBACK_DAYS)))
            self.row(
                path,
                _DIAGNOSTICS_HEADER,
                (
                    test.id,
                    acute,
                    mrn,
                    "" if self.acute_untraced[test.person] else p.nhs_number,
                    p.family,
                    p.given,
                    p.birth_date.isoformat(),
                    self.sex[test.person],
                    address.postcode,
                    test.test,
                    iso[test.requested + o],
                    "" if test.performed is None else iso[test.performed + o],
                    "waiting" if test.performed is None else "performed",
                ),
            )

    def cancer(self) -> None:
        acute = self.partners.acute
        iso = self.days.iso
        o = self.days.offset

        def day(value: int | None) -> str:
            return "" if value is None else iso[value + o]

        path = f"feeds/acute-{acute}/cancer/usc-referrals.csv"
        for referral in self.activity.cancer:
            p = self.people[referral.person]
            mrn = hospital_number(p.index)
            self.known("acute-cancer", acute, mrn, referral.person)
            told = referral.diagnosis_told
            self.row(
                path,
                _CANCER_HEADER,
                (
                    referral.id,
                    acute,
                    mrn,
                    "" if self.acute_untraced[referral.person] else p.nhs_number,
                    p.family,
                    p.given,
                    p.birth_date.isoformat(),
                    self.sex[referral.person],
                    p.address_on(self.days.date(referral.received)).postcode,
                    referral.referrer,
                    "urgent suspected cancer",
                    referral.suspected,
                    day(referral.received),
                    day(referral.first_seen),
                    day(told),
                    "" if told is None else ("confirmed" if referral.confirmed else "excluded"),
                    referral.icd10,
                    day(referral.decision_to_treat),
                    day(referral.first_treatment),
                    referral.modality,
                ),
            )

    # -- community and mental health --

    def contacts(
        self,
        contacts: Iterable[Contact],
        feed: str,
        folder: str,
        local_id: Callable[[int], str],
        untraced: np.ndarray[Any, np.dtype[np.bool_]],
    ) -> None:
        trust = self.partners.community
        for c in contacts:
            if c.start >= self.period_end:
                continue
            p = self.people[c.person]
            local = local_id(p.index)
            self.known(feed, trust, local, c.person)
            address = p.address_on(self.days.date(c.start // DAY))
            self.row(
                f"feeds/community-{trust}/{folder}/{self.days.month_of(c.start)}.csv",
                _CONTACT_HEADER,
                (
                    c.id,
                    trust,
                    c.service,
                    c.service_type,
                    c.referral,
                    local,
                    "" if untraced[c.person] else p.nhs_number,
                    p.given,
                    p.family,
                    self.dob_uk[c.person],
                    self.sex[c.person],
                    address.postcode,
                    address.line,
                    self.days.local(c.referred),
                    self.days.local(c.start),
                    c.minutes,
                    c.location,
                    c.medium,
                    c.attendance,
                ),
            )

    # -- social care --

    def social_care(self) -> None:
        councils = {code: n for n, code in enumerate(self.partners.councils)}
        start = self.activity.start
        # Which client record each row is keyed to: some people are on the council's system
        # twice (about 2.5% of clients), the second record made at a later contact.
        rows: list[tuple[str, int, int, SocialCareAssessment | CarePackage]] = [
            (a.council, a.person, a.completed, a) for a in self.activity.assessments
        ] + [(c.council, c.person, c.start, c) for c in self.activity.packages]
        by_client: dict[tuple[str, int], list[int]] = {}
        for council, person, day, _ in rows:
            by_client.setdefault((council, person), []).append(day)
        split: dict[tuple[str, int], int] = {}
        for key, days in by_client.items():
            if len(days) >= 2 and self.council_u[key[1], 1, 0] < 0.025:
                split[key] = sorted(days)[len(days) // 2]
        created: dict[tuple[str, int, bool], int] = {}
        for council, person, day, _ in rows:
            cut = split.get((council, person))
            record = (council, person, cut is not None and day >= cut)
            created[record] = min(created.get(record, day), day)
        records: dict[tuple[str, int, bool], _Demographics] = {}
        for council, person, duplicate in sorted(created):
            p = self.people[person]
            day = created[(council, person, duplicate)]
            records[(council, person, duplicate)] = _council_record(
                p,
                client_id(councils.get(council, 0), p.index, duplicate),
                start + timedelta(days=day),
                self.council_u[person, int(duplicate)],
            )
        uk = self.days.uk
        o = self.days.offset
        for council, person, day, item in rows:
            cut = split.get((council, person))
            r = records[(council, person, cut is not None and day >= cut)]
            self.known(
                "social-care-packages"
                if isinstance(item, CarePackage)
                else "social-care-assessments",
                council,
                r.local_id,
                person,
            )
            birth = r.birth_date
            dob = (
                f"{birth.month:02d}/{birth.day:02d}/{birth.year}"
                if r.dob_swapped
                else birth.strftime("%d/%m/%Y")
            )
            who = (
                r.local_id,
                r.nhs_number,
                r.given,
                r.family,
                dob,
                r.sex,
                r.address.line,
                r.address.town,
                r.address.postcode,
            )
            if isinstance(item, CarePackage):
                self.row(
                    f"feeds/council-{council}/packages.csv",
                    _PACKAGE_HEADER,
                    (
                        item.id,
                        council,
                        *who,
                        item.service,
                        item.provider,
                        uk[item.start + o],
                        "" if item.end is None else uk[item.end + o],
                        f"{item.hours_per_week:.1f}" if item.hours_per_week else "",
                        item.weekly_cost,
                        item.end_reason,
                    ),
                )
            else:
                self.row(
                    f"feeds/council-{council}/assessments/{self.days.month[item.completed + o]}.csv",
                    _ASSESSMENT_HEADER,
                    (
                        item.id,
                        council,
                        *who,
                        item.kind,
                        item.source,
                        uk[item.started + o],
                        uk[item.completed + o],
                        item.outcome,
                        item.support_reason,
                    ),
                )


_DEPARTMENT_TYPE: Final = {
    1: "Type 1: consultant-led 24-hour emergency department",
    3: "Type 3: urgent treatment centre / minor injury unit",
}
_RTT_HEADER: Final = (
    "pathway_id",
    "organisation_code",
    "local_patient_id",
    "nhs_number",
    "family_name",
    "given_name",
    "date_of_birth",
    "sex",
    "postcode",
    "referring_organisation_code",
    "referral_received_date",
    "rtt_period_start_date",
    "treatment_function_code",
    "treatment_function_name",
    "priority_type",
    "rtt_period_end_date",
    "rtt_period_status",
    "waiting_status",
    "weeks_waited",
)
_DIAGNOSTICS_HEADER: Final = (
    "request_id",
    "organisation_code",
    "local_patient_id",
    "nhs_number",
    "family_name",
    "given_name",
    "date_of_birth",
    "sex",
    "postcode",
    "diagnostic_test",
    "request_date",
    "test_date",
    "waiting_status",
)
_CANCER_HEADER: Final = (
    "referral_id",
    "organisation_code",
    "local_patient_id",
    "nhs_number",
    "family_name",
    "given_name",
    "date_of_birth",
    "sex",
    "postcode",
    "referring_organisation_code",
    "priority_type",
    "suspected_cancer_type",
    "referral_received_date",
    "first_seen_date",
    "faster_diagnosis_date",
    "faster_diagnosis_outcome",
    "primary_diagnosis_icd10",
    "decision_to_treat_date",
    "first_treatment_date",
    "treatment_modality",
)
_CONTACT_HEADER: Final = (
    "contact_id",
    "organisation_code",
    "service_id",
    "service_type",
    "referral_id",
    "local_patient_id",
    "nhs_number",
    "forename",
    "surname",
    "date_of_birth",
    "sex",
    "postcode",
    "address",
    "referral_received",
    "contact_start",
    "duration_minutes",
    "location",
    "consultation_medium",
    "attendance",
)
_CLIENT_COLUMNS: Final = (
    "client_id",
    "nhs_number",
    "forename",
    "surname",
    "date_of_birth",
    "sex",
    "address_line",
    "town",
    "postcode",
)
_ASSESSMENT_HEADER: Final = (
    "assessment_id",
    "council_code",
    *_CLIENT_COLUMNS,
    "assessment_type",
    "referral_source",
    "assessment_start_date",
    "assessment_end_date",
    "outcome",
    "primary_support_reason",
)
_PACKAGE_HEADER: Final = (
    "package_id",
    "council_code",
    *_CLIENT_COLUMNS,
    "service_type",
    "provider_code",
    "start_date",
    "end_date",
    "planned_hours_per_week",
    "weekly_cost_gbp",
    "end_reason",
)


def write_partner_feeds(
    people: Sequence[Person],
    *,
    directory: Directory,
    start: date,
    end: date,
    seed: int,
    chunk: int,
    out: Path,
) -> dict[str, list[TruthRow]]:
    """Simulate these people's hospital, community, mental-health and social-care activity over
    [start, end) and write the feeds into out/feeds/<partner>/... ; returns truth rows by feed name.

    Deterministic: the same people, period, seed and chunk give byte-identical files. Truth
    rows come one per (feed, local id), sorted by local id within each feed.
    """
    partners = partners_of(directory)
    activity = simulate_activity(
        people, partners=partners, start=start, end=end, seed=seed, chunk=chunk
    )
    writer = _Writer(
        people,
        partners,
        _days(start, end),
        activity,
        seed=seed,
        chunk=chunk,
        period_days=(end - start).days,
    )
    writer.adt()
    for number, attendance in enumerate(activity.attendances):
        writer.attendance(number, attendance)
    writer.rtt()
    writer.diagnostics()
    writer.cancer()
    writer.contacts(
        activity.community,
        "community-contacts",
        "contacts",
        community_patient_id,
        writer.community_untraced,
    )
    writer.contacts(
        activity.mental_health,
        "mental-health-contacts",
        "mental-health",
        mental_health_patient_id,
        writer.mental_health_untraced,
    )
    writer.social_care()
    writer.write(out)
    return writer.truth_rows()


# --- the finance ledger ---------------------------------------------------------------------

#: Annual envelope in pounds for each programme at the start of the first year, for an ICS
#: of Cornwall's size (order of magnitude from the ICB's and council's published accounts),
#: with the kind of partner that spends it and how far it tends to overrun (share a year).
_PROGRAMMES: Final = (
    ("acute", OrganisationKind.ACUTE_TRUST, 620_000_000, 0.025),
    ("community", OrganisationKind.COMMUNITY_AND_MENTAL_HEALTH_TRUST, 150_000_000, 0.005),
    ("mental health", OrganisationKind.COMMUNITY_AND_MENTAL_HEALTH_TRUST, 110_000_000, -0.01),
    ("primary care", OrganisationKind.INTEGRATED_CARE_BOARD, 105_000_000, 0.0),
    ("prescribing", OrganisationKind.INTEGRATED_CARE_BOARD, 120_000_000, 0.03),
    ("continuing healthcare", OrganisationKind.INTEGRATED_CARE_BOARD, 75_000_000, 0.06),
    ("social care", OrganisationKind.LOCAL_AUTHORITY, 230_000_000, 0.04),
)
# Extra spend by month of the financial year (April first): winter pressure on the
# urgent-care-heavy lines from December to March, a little in August (the summer peak).
_WINTER: Final = (0.0, 0.0, 0.0, 0.0, 0.01, 0.0, 0.0, 0.01, 0.04, 0.06, 0.05, 0.03)
_WINTER_SENSITIVE: Final = frozenset({"acute", "community", "continuing healthcare", "social care"})
_LEDGER_HEADER: Final = (
    "financial_year",
    "month",
    "period",
    "organisation_code",
    "organisation_name",
    "programme",
    "annual_budget_gbp",
    "budget_gbp",
    "actual_gbp",
    "variance_gbp",
    "ytd_budget_gbp",
    "ytd_actual_gbp",
)


def write_finance_ledger(
    *, directory: Directory, start: date, end: date, seed: int, out: Path
) -> None:
    """Write the partner finance ledger (not person-level) into out/feeds/...

    One row per month, partner and programme: the month's budget (a twelfth of the annual
    envelope), actual spend with winter pressure and each line's usual overrun, the variance
    (budget less actual: negative is an overspend) and the year to date. Envelopes grow about
    4.5% a year; a council's social care envelope is in proportion to its place's population
    where it serves one place (the Isles of Scilly), the rest going to the main council.
    """
    rng = random_stream(seed, ICS_LEVEL, Stream.FINANCE)
    organisations: list[tuple[str, Organisation | None, int, float]] = []
    total_population = sum(p.population for p in directory.places) or 1
    for programme, kind, envelope, overrun in _PROGRAMMES:
        found = directory.organisations_of_kind(kind)
        if kind is OrganisationKind.LOCAL_AUTHORITY and found:
            shares = {
                o.ods_code: sum(p.population for p in directory.places if p.name == o.place)
                / total_population
                for o in found
                if o.place is not None
            }
            rest = 1.0 - sum(shares.values())
            unplaced = [o for o in found if o.place is None] or [found[0]]
            for o in found:
                share = shares.get(o.ods_code, 0.0) + (
                    rest / len(unplaced) if o in unplaced else 0.0
                )
                organisations.append((programme, o, round(envelope * share), overrun))
        else:
            organisations.append((programme, found[0] if found else None, envelope, overrun))

    rows: list[tuple[object, ...]] = []
    month = date(start.year, start.month, 1)
    year_index = 0
    ytd: dict[tuple[str, str], tuple[int, int]] = {}
    while month < end:
        fy_start = month.year if month.month >= 4 else month.year - 1
        fy = f"{fy_start}/{(fy_start + 1) % 100:02d}"
        period = (month.month - 4) % 12 + 1
        year_index = fy_start - (start.year if start.month >= 4 else start.year - 1)
        noise = rng.normal(0.0, 0.012, len(organisations))
        for j, (programme, organisation, envelope, overrun) in enumerate(organisations):
            code = organisation.ods_code if organisation else directory.icb
            name = organisation.name if organisation else directory.name
            annual = round(envelope * 1.045**year_index)
            budget = round(annual / 12)
            pressure = _WINTER[period - 1] if programme in _WINTER_SENSITIVE else 0.0
            actual = round(budget * (1 + overrun + pressure + noise[j]))
            key = (code, programme)
            if period == 1:
                ytd[key] = (0, 0)
            ytd_budget, ytd_actual = ytd.get(key, (0, 0))
            ytd_budget, ytd_actual = ytd_budget + budget, ytd_actual + actual
            ytd[key] = (ytd_budget, ytd_actual)
            rows.append(
                (
                    fy,
                    month.strftime("%Y-%m"),
                    f"M{period:02d}",
                    code,
                    name,
                    programme,
                    annual,
                    budget,
                    actual,
                    budget - actual,
                    ytd_budget,
                    ytd_actual,
                )
            )
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_LEDGER_HEADER)
    writer.writerows(rows)
    target = out / "feeds" / f"icb-{directory.icb}" / "finance" / "ledger.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(buffer.getvalue(), encoding="utf-8", newline="")
