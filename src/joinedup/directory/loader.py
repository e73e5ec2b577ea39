"""Reading an ICS directory file (YAML) into a :class:`~joinedup.directory.model.Directory`.

The model checks each value on its own; this module checks the whole file: every entry
has exactly the keys it should, with the right types, and every reference (area, place,
PCN, provider) points at something declared in the same file. It reports every problem it
finds, one per line, each naming the file and the entry, and builds nothing unless the
whole file is right. The format is described in ``docs/directory.md``.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import time
from pathlib import Path
from typing import Any, TypeVar

import yaml

from joinedup.directory.model import (
    DAYS,
    Area,
    Capacity,
    Directory,
    DirectoryError,
    OpeningHours,
    Organisation,
    OrganisationKind,
    Place,
    PrimaryCareNetwork,
    Service,
)
from joinedup.directory.profiles import (
    DISPOSITIONS,
    NEEDS,
    REFERRERS,
    SEXES,
    TYPE_PROFILES,
    TypeProfile,
)

#: The kinds of service a directory file may name in a service's ``type``, with what each
#: means. A short, closed list, so that a typo is an error and referrals can route by type.
SERVICE_TYPES: dict[str, str] = {
    "emergency_department": "A type 1 A&E department: consultant-led, 24 hours, resuscitation.",
    "urgent_treatment_centre": "A GP-led urgent treatment centre (type 3 A&E), open 12+ hours.",
    "minor_injury_unit": "A nurse-led minor injury unit (type 3 A&E): cuts, sprains, fractures.",
    "emergency_ambulance": "999 emergency ambulance response.",
    "urgent_community_response": "A two-hour urgent community response team (8am-8pm, 7 days).",
    "district_nursing": "District and community nursing visits at home.",
    "community_hospital": "Community hospital beds: rehabilitation, step-up and step-down care.",
    "virtual_ward": "Hospital-level care at home with remote monitoring, counted in virtual beds.",
    "reablement": "Short-term support at home (up to about six weeks) to regain independence.",
    "home_care": "Longer-term paid care at home (domiciliary care).",
    "care_home_placement": "Finding and funding a residential or nursing care-home place.",
    "social_work_assessment": "A social worker's assessment of care and support needs (Care Act).",
    "mental_health_crisis": "Urgent mental-health assessment and home treatment in a crisis.",
    "community_mental_health": "A community mental-health team for ongoing care.",
    "memory_assessment": "Assessment and diagnosis of memory problems and dementia.",
    "falls_prevention": "Strength and balance programmes and falls risk assessment.",
    "community_respiratory": "Community respiratory team: COPD, pulmonary rehab, home oxygen.",
    "heart_failure_nursing": "Specialist heart failure nurses.",
    "palliative_care": "Specialist palliative and end-of-life care, including hospice beds.",
    "social_prescribing": "Link workers connecting people to community groups and support.",
    "befriending": "Regular contact with a volunteer for people who are lonely or isolated.",
    "carers_support": "Advice, breaks and assessment for unpaid carers.",
    "childrens_community_nursing": "Nursing at home for children and young people.",
}

#: Opening hours that mean round the clock, every day.
ALL_HOURS = "24/7"

#: How many problems one error message lists before it stops (the rest are counted).
MAX_PROBLEMS_LISTED = 50

_T = TypeVar("_T")

_TIME = re.compile(r"(\d{2}):(\d{2})")
# "24:00" as a closing time. time() stops at 23:59:59.999999, and is_open compares with <,
# so this keeps a service open right up to midnight.
_END_OF_DAY = time.max


def load_directory(path: Path) -> Directory:
    """Read and check the directory file at ``path``.

    Raises :class:`DirectoryError` naming the file (and the entry, where there is one) if the
    file cannot be read, is not YAML, or breaks any rule in ``docs/directory.md``.
    """
    try:
        # Read from the open file, not a string, so that YAML's own messages give its path.
        with path.open(encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=_SafeLoaderRefusingDuplicateKeys)  # a SafeLoader
    except FileNotFoundError:
        raise DirectoryError(f"{path}: no such directory file") from None
    except UnicodeDecodeError:
        raise DirectoryError(f"{path.name}: not UTF-8 text") from None
    except OSError as error:
        raise DirectoryError(f"{path}: cannot be read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise DirectoryError(f"{path.name}: not valid YAML: {error}") from None
    return parse_directory(data, source=path.name)


def parse_directory(data: object, *, source: str) -> Directory:
    """Build a :class:`Directory` from a parsed directory file (``yaml.safe_load``'s result).

    ``source`` names the file in error messages. Either every rule holds and the whole
    directory is returned, or :class:`DirectoryError` lists every problem found, one a line.
    """
    if not isinstance(data, dict):
        raise DirectoryError(
            f"{source}: the file must be a mapping of keys (name, icb, areas, ...), "
            f"got {_describe(data)}"
        )
    problems = _Problems(source)
    top = _Entry(data, "", problems)
    top.has_keys(required=_TOP_KEYS, optional=())
    name = top.text("name")
    icb = top.text("icb")
    sections = {key: top.sequence(key) for key in _SECTION_KEYS}
    problems.raise_if_any()  # nothing below makes sense without the file's outline
    assert name is not None and icb is not None

    known = _Known()
    areas = _parse_areas(sections["areas"], problems, known)
    places = _parse_places(sections["places"], problems, known)
    pcns = _parse_pcns(sections["pcns"], problems, known)
    organisations = _parse_organisations(sections["organisations"], problems, known)
    _check_icb(icb, organisations, problems, known)
    services = _parse_services(sections["services"], problems, known)
    problems.raise_if_any()
    return Directory(
        name=name,
        icb=icb,
        areas=tuple(areas),
        places=tuple(places),
        pcns=tuple(pcns),
        organisations=tuple(organisations),
        services=tuple(services),
    )


def parse_opening_hours(value: object) -> OpeningHours:
    """Opening hours from a directory file: ``"24/7"`` or a mapping of days to sessions.

    Days are ``mon`` .. ``sun`` or a range such as ``mon-fri``; each takes ``"HH:MM-HH:MM"``,
    several sessions separated by commas or given as a list, with ``24:00`` for midnight at
    the end of the day. Raises :class:`DirectoryError` saying what is wrong.
    """
    if value == ALL_HOURS:
        return OpeningHours(all_hours=True)
    if not isinstance(value, dict):
        raise DirectoryError(
            f"opening_hours must be {ALL_HOURS!r} or a mapping such as "
            f'{{mon-fri: "08:00-18:00"}}, got {_describe(value)}'
        )
    if not value:
        raise DirectoryError(f"opening_hours has no days; write {ALL_HOURS!r} or give days")
    sessions: list[tuple[str, time, time]] = []
    for days, hours in value.items():
        for day in _days(days):
            sessions.extend((day, opens, closes) for opens, closes in _sessions(days, hours))
    sessions.sort(key=lambda s: (DAYS.index(s[0]), s[1]))
    for (day, _, closes), (next_day, opens, _) in itertools.pairwise(sessions):
        if day == next_day and opens < closes:
            raise DirectoryError(f"opening_hours: two sessions on {day} overlap")
    return OpeningHours(sessions=tuple(sessions))


# --- the file's outline ------------------------------------------------------------------

_SECTION_KEYS = ("areas", "places", "pcns", "organisations", "services")
_TOP_KEYS = ("name", "icb", *_SECTION_KEYS)
_AREA_KEYS = ("code", "name")
_PLACE_KEYS = ("name", "area", "postcode_districts", "population")
_PLACE_OPTIONAL = ("deprivation",)
_PCN_KEYS = ("code", "name", "area")
_ORGANISATION_KEYS = ("ods_code", "name", "kind")
_ORGANISATION_OPTIONAL = ("synthetic", "area", "place", "pcn", "beds")
_SERVICE_KEYS = ("id", "name", "provider", "type", "areas", "opening_hours")
_SERVICE_OPTIONAL = (
    "age_min",
    "age_max",
    "eligibility",
    "capacity",
    "needs",
    "dispositions",
    "referrers",
    "sex",
)
_CAPACITY_KEYS = ("amount", "unit")


class _Known:
    """What the file declares, for checking references.

    Codes are recorded even when their entry is wrong, so that one bad entry gives one
    problem rather than one for everything that refers to it.
    """

    def __init__(self) -> None:
        self.areas: set[str] = set()
        self.places: dict[str, str | None] = {}  # place name -> its area
        self.pcns: dict[str, str | None] = {}  # PCN code -> its area
        self.organisations: set[str] = set()


# --- each section --------------------------------------------------------------------------


def _parse_areas(entries: list[object], problems: _Problems, known: _Known) -> list[Area]:
    areas: list[Area] = []
    for where, entry in _entries("areas", entries, problems, "code", "name"):
        entry.has_keys(_AREA_KEYS, ())
        code, name = entry.text("code"), entry.text("name")
        if code is not None:
            if code in known.areas:
                problems.add(where, f"area code {code!r} is used twice")
                continue
            known.areas.add(code)
        if code is None or name is None or not entry.ok:
            continue
        area = problems.build(where, Area, code=code, name=name)
        if area is not None:
            areas.append(area)
    if not entries:
        problems.add("areas", "the ICS has no areas; give at least one")
    return areas


def _parse_places(entries: list[object], problems: _Problems, known: _Known) -> list[Place]:
    places: list[Place] = []
    district_owner: dict[str, str] = {}
    for where, entry in _entries("places", entries, problems, None, "name"):
        entry.has_keys(_PLACE_KEYS, _PLACE_OPTIONAL)
        name, area = entry.text("name"), entry.text("area")
        districts = entry.text_list("postcode_districts")
        population = entry.whole_number("population")
        deprivation = entry.fraction("deprivation", default=0.5)
        if name is not None:
            if name in known.places:
                problems.add(where, f"place name {name!r} is used twice")
                continue
            known.places[name] = area
        if area is not None and area not in known.areas:
            problems.add(where, _unknown("area", area, known.areas, "an area"))
            area = None
        for district in districts or ():
            if district in district_owner:
                problems.add(
                    where,
                    f"postcode district {district} is already in {district_owner[district]!r}",
                )
            elif name is not None:
                district_owner[district] = name
        if None in (name, area, districts, population, deprivation) or not entry.ok:
            continue
        assert name is not None and area is not None and districts is not None
        assert population is not None and deprivation is not None
        place = problems.build(
            where,
            Place,
            name=name,
            area=area,
            postcode_districts=districts,
            population=population,
            deprivation=deprivation,
        )
        if place is not None:
            places.append(place)
    return places


def _parse_pcns(
    entries: list[object], problems: _Problems, known: _Known
) -> list[PrimaryCareNetwork]:
    pcns: list[PrimaryCareNetwork] = []
    for where, entry in _entries("pcns", entries, problems, "code", "name"):
        entry.has_keys(_PCN_KEYS, ())
        code, name, area = entry.text("code"), entry.text("name"), entry.text("area")
        if code is not None:
            if code in known.pcns:
                problems.add(where, f"PCN code {code!r} is used twice")
                continue
            known.pcns[code] = area
        if area is not None and area not in known.areas:
            problems.add(where, _unknown("area", area, known.areas, "an area"))
            continue
        if code is None or name is None or area is None or not entry.ok:
            continue
        pcn = problems.build(where, PrimaryCareNetwork, code=code, name=name, area=area)
        if pcn is not None:
            pcns.append(pcn)
    return pcns


def _parse_organisations(
    entries: list[object], problems: _Problems, known: _Known
) -> list[Organisation]:
    organisations: list[Organisation] = []
    for where, entry in _entries("organisations", entries, problems, "ods_code", "name"):
        entry.has_keys(_ORGANISATION_KEYS, _ORGANISATION_OPTIONAL)
        ods_code, name = entry.text("ods_code"), entry.text("name")
        kind = entry.choice("kind", OrganisationKind)
        synthetic = entry.boolean("synthetic", default=True)
        area, place, pcn = entry.text("area"), entry.text("place"), entry.text("pcn")
        beds = entry.whole_number("beds", None)
        if ods_code is not None:
            if ods_code in known.organisations:
                problems.add(where, f"ODS code {ods_code!r} is used twice")
                continue
            known.organisations.add(ods_code)
        if not entry.ok or ods_code is None or name is None or kind is None or synthetic is None:
            continue
        problems_before = len(problems)
        if area is not None and area not in known.areas:
            problems.add(where, _unknown("area", area, known.areas, "an area"))
        if place is not None:
            if place not in known.places:
                problems.add(where, _unknown("place", place, known.places, "a place"))
            else:
                # An organisation in a place is in that place's area; saying so twice
                # must agree, and saying it once is enough.
                place_area = known.places[place]
                if area is None:
                    area = place_area
                elif place_area is not None and area != place_area:
                    problems.add(
                        where,
                        f"area {area!r} disagrees with place {place!r}, which is in {place_area!r}",
                    )
        if pcn is not None:
            if kind is not OrganisationKind.GP_PRACTICE:
                problems.add(
                    where, f"only GP practices belong to a PCN; this is of kind {kind.value}"
                )
            elif pcn not in known.pcns:
                problems.add(where, _unknown("pcn", pcn, known.pcns, "a PCN"))
            elif area is not None and known.pcns[pcn] not in (None, area):
                problems.add(
                    where,
                    f"the practice is in area {area!r} but its PCN {pcn} is in {known.pcns[pcn]!r}",
                )
        if len(problems) > problems_before:
            continue
        organisation = problems.build(
            where,
            Organisation,
            ods_code=ods_code,
            name=name,
            kind=kind,
            synthetic=synthetic,
            area=area,
            place=place,
            pcn=pcn,
            beds=beds,
        )
        if organisation is not None:
            organisations.append(organisation)
    return organisations


def _check_icb(
    icb: str, organisations: list[Organisation], problems: _Problems, known: _Known
) -> None:
    board = next((o for o in organisations if o.ods_code == icb), None)
    if board is None:
        if icb not in known.organisations:  # else its own entry is already reported
            problems.add(
                "icb",
                f"{icb!r} is not an organisation in this file; list the board under "
                f"organisations with kind {OrganisationKind.INTEGRATED_CARE_BOARD.value}",
            )
    elif board.kind is not OrganisationKind.INTEGRATED_CARE_BOARD:
        problems.add("icb", f"{icb!r} is of kind {board.kind.value}, not an integrated care board")


def _parse_services(entries: list[object], problems: _Problems, known: _Known) -> list[Service]:
    services: list[Service] = []
    ids: set[str] = set()
    for where, entry in _entries("services", entries, problems, "id", "name"):
        entry.has_keys(_SERVICE_KEYS, _SERVICE_OPTIONAL)
        service_id, name, provider = entry.text("id"), entry.text("name"), entry.text("provider")
        service_type = entry.text("type")
        areas = entry.text_list("areas")
        age_min = entry.whole_number("age_min", default=0)
        age_max = entry.whole_number("age_max", default=120)
        eligibility = entry.text("eligibility", default="")
        opening_hours = entry.convert("opening_hours", parse_opening_hours)
        capacity = entry.convert("capacity", _capacity, default=None)
        profile = _profile(entry, TYPE_PROFILES.get(service_type or ""))
        if service_id is not None:
            if service_id in ids:
                problems.add(where, f"service id {service_id!r} is used twice")
                continue
            ids.add(service_id)
        if provider is not None and provider not in known.organisations:
            problems.add(
                where, _unknown("provider", provider, known.organisations, "an organisation")
            )
        if service_type is not None and service_type not in SERVICE_TYPES:
            problems.add(
                where,
                _unknown("type", service_type, SERVICE_TYPES, "a service type", in_file=False)
                + "; the types are listed in docs/directory.md",
            )
        for area in areas or ():
            if area not in known.areas:
                problems.add(where, _unknown("areas", area, known.areas, "an area"))
        if not entry.ok or len(problems.at(where)) > 0:
            continue
        assert service_id is not None and name is not None and provider is not None
        assert service_type is not None and areas is not None and opening_hours is not None
        assert age_min is not None and age_max is not None and eligibility is not None
        service = problems.build(
            where,
            Service,
            id=service_id,
            name=name,
            provider=provider,
            type=service_type,
            areas=areas,
            age_min=age_min,
            age_max=age_max,
            eligibility=eligibility,
            opening_hours=opening_hours,
            capacity=capacity,
            **profile,
        )
        if service is not None:
            services.append(service)
    return services


#: A service's profile keys: the vocabulary each code must be in, and what one code is called.
_PROFILE_KEYS: tuple[tuple[str, Mapping[str, object], str, str], ...] = (
    ("needs", NEEDS, "need", "[fall, frailty]"),
    ("dispositions", DISPOSITIONS, "disposition", "[same_day, routine]"),
    ("referrers", REFERRERS, "referrer", "[gp, self]"),
)

#: What an empty list says is wrong, for each profile key.
_PROFILE_EMPTY = {
    "needs": "a service must handle at least one need",
    "dispositions": "a service must respond with at least one disposition",
    "referrers": "a service must take referrals from at least one referrer",
}


def _profile(entry: _Entry, default: TypeProfile | None) -> dict[str, Any]:
    """A service's needs, dispositions, referrers and sex: its own where given, else its type's.

    Problems are recorded against the entry; with an unknown type the defaults are empty (the
    type itself is reported).
    """
    profile: dict[str, Any] = {}
    for key, vocabulary, one, example in _PROFILE_KEYS:
        given = entry.text_list(key, example)
        if given is None:  # absent (or not a list, already reported): the type's
            profile[key] = getattr(default, key) if default is not None else ()
            continue
        if not given:
            entry.problem(f"{key}: {_PROFILE_EMPTY[key]} (or leave {key} out to take its type's)")
        for code in given:
            if code not in vocabulary:
                entry.problem(
                    _unknown(key, code, vocabulary, f"a {one}", in_file=False)
                    + f"; the {key} are listed in docs/directory.md"
                )
        for code in sorted({c for c in given if given.count(c) > 1}):
            entry.problem(f"{key}: {code!r} is given twice")
        profile[key] = given
    sex = entry.text("sex", default=None)
    if sex is not None and sex not in SEXES:
        entry.problem(
            _unknown("sex", sex, SEXES, " or ".join(SEXES), in_file=False)
            + "; leave sex out for a service open to anyone"
        )
        sex = None
    profile["sex"] = sex
    return profile


def _capacity(value: object) -> Capacity:
    if not isinstance(value, dict):
        raise DirectoryError(
            f"capacity must be a mapping such as {{amount: 12, unit: beds}}, got {_describe(value)}"
        )
    unknown = [key for key in value if key not in _CAPACITY_KEYS]
    missing = [key for key in _CAPACITY_KEYS if key not in value]
    if unknown or missing:
        raise DirectoryError(
            "capacity must have exactly the keys amount and unit"
            + (f"; unknown {', '.join(map(repr, unknown))}" if unknown else "")
            + (f"; missing {', '.join(missing)}" if missing else "")
        )
    amount, unit = value["amount"], value["unit"]
    if not _is_whole_number(amount):
        raise DirectoryError(f"capacity amount: expected a whole number, got {_describe(amount)}")
    if not isinstance(unit, str):
        raise DirectoryError(f"capacity unit: expected text, got {_describe(unit)}")
    return Capacity(amount=amount, unit=unit)


# --- opening hours ----------------------------------------------------------------------------


def _days(spec: object) -> tuple[str, ...]:
    if not isinstance(spec, str):
        raise DirectoryError(
            f"opening_hours: {_describe(spec)} is not a day (use mon..sun or mon-fri)"
        )
    first, _, last = spec.strip().lower().partition("-")
    last = last or first
    for day in (first, last):
        if day not in DAYS:
            raise DirectoryError(
                f"opening_hours: unknown day {day!r} in {spec!r} "
                f"(use {', '.join(DAYS)}, or a range like mon-fri)"
            )
    start, end = DAYS.index(first), DAYS.index(last)
    if start > end:
        raise DirectoryError(
            f"opening_hours: day range {spec!r} runs backwards (write it mon..sun order)"
        )
    return DAYS[start : end + 1]


def _sessions(days: str, hours: object) -> list[tuple[time, time]]:
    if isinstance(hours, str):
        texts = [part for part in hours.split(",") if part.strip()]
    elif isinstance(hours, list) and all(isinstance(h, str) for h in hours):
        texts = hours
    else:
        raise DirectoryError(
            f'opening_hours {days}: expected "HH:MM-HH:MM" in quotes, got {_describe(hours)}'
        )
    if not texts:
        raise DirectoryError(f"opening_hours {days}: no sessions; leave out days that are closed")
    sessions = []
    for text in texts:
        opens_text, dash, closes_text = text.strip().partition("-")
        if not dash:
            raise DirectoryError(f"opening_hours {days}: {text.strip()!r} is not HH:MM-HH:MM")
        opens = _time(days, opens_text.strip(), closing=False)
        closes = _time(days, closes_text.strip(), closing=True)
        if opens >= closes:
            raise DirectoryError(
                f"opening_hours {days}: {text.strip()!r} closes before it opens; split a session "
                "past midnight into two, ending at 24:00 and starting at 00:00"
            )
        sessions.append((opens, closes))
    return sessions


def _time(days: str, text: str, *, closing: bool) -> time:
    match = _TIME.fullmatch(text)
    if match is None:
        raise DirectoryError(f"opening_hours {days}: {text!r} is not a time (HH:MM, e.g. 08:00)")
    hour, minute = int(match[1]), int(match[2])
    if closing and (hour, minute) == (24, 0):
        return _END_OF_DAY
    if hour > 23 or minute > 59:
        raise DirectoryError(f"opening_hours {days}: {text!r} is not a time of day")
    return time(hour, minute)


# --- reading one entry ------------------------------------------------------------------------


class _Problems:
    """Every problem found in one file, each as ``source: where: what``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._found: list[tuple[str, str]] = []

    def __len__(self) -> int:
        return len(self._found)

    def add(self, where: str, what: str) -> None:
        self._found.append((where, what))

    def at(self, where: str) -> list[str]:
        return [what for w, what in self._found if w == where]

    def build(self, where: str, make: Callable[..., _T], **fields: Any) -> _T | None:
        """``make(**fields)``, or None with the model's complaint recorded against ``where``."""
        try:
            return make(**fields)
        except DirectoryError as error:
            self.add(where, str(error))
            return None

    def raise_if_any(self) -> None:
        if not self._found:
            return
        lines = [
            f"{self.source}: {where}: {what}" if where else f"{self.source}: {what}"
            for where, what in self._found[:MAX_PROBLEMS_LISTED]
        ]
        if len(self._found) > MAX_PROBLEMS_LISTED:
            lines.append(
                f"{self.source}: ... and {len(self._found) - MAX_PROBLEMS_LISTED} more problems"
            )
        raise DirectoryError("\n".join(lines))


def _entries(
    section: str,
    entries: list[object],
    problems: _Problems,
    code_key: str | None,
    name_key: str,
) -> Iterable[tuple[str, _Entry]]:
    """Each entry of a section with its label, e.g. ``organisations[12] (L82001 "Morrab")``."""
    for index, raw in enumerate(entries):
        where = f"{section}[{index}]"
        if isinstance(raw, dict):
            code, name = raw.get(code_key) if code_key else None, raw.get(name_key)
            label = " ".join(
                part
                for part in (
                    str(code) if isinstance(code, str) else "",
                    f'"{name}"' if isinstance(name, str) else "",
                )
                if part
            )
            if label:
                where = f"{where} ({label})"
            yield where, _Entry(raw, where, problems)
        else:
            problems.add(where, f"expected a mapping of keys, got {_describe(raw)}")


class _Entry:
    """One mapping from the file, read key by key with its type checked.

    Each getter returns ``None`` (and records the problem) when the value is wrong, so one
    entry can report several problems at once; ``ok`` says whether all were right.
    """

    def __init__(self, data: Mapping[Any, Any], where: str, problems: _Problems) -> None:
        self.data, self.where, self.problems, self.ok = data, where, problems, True
        self.required: frozenset[str] = frozenset()

    def problem(self, what: str) -> None:
        """Record a problem with this entry (and mark it not ok)."""
        self.ok = False
        self.problems.add(self.where, what)

    def has_keys(self, required: Iterable[str], optional: Iterable[str]) -> None:
        """Record a problem for each required key missing and each key not allowed."""
        required, allowed = list(required), [*required, *optional]
        self.required = frozenset(required)
        for key in self.data:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                self.problem(
                    f"unknown key {key!r}"
                    + (
                        f" (did you mean {hint[0]!r}?)"
                        if hint
                        else f" (allowed: {', '.join(allowed)})"
                    )
                )
        for key in required:
            if key not in self.data:
                self.problem(f"missing required key {key!r}")

    def _get(
        self, key: str, default: object, check: Callable[[object], bool], expected: str
    ) -> Any:
        if key not in self.data:
            return default
        value = self.data[key]
        # An optional key left empty (`capacity:`) means its default; a required one is wrong.
        if value is None and default is None and key not in self.required:
            return None
        if not check(value):
            hint = "; put it in quotes" if expected == "text" and value is not None else ""
            self.problem(f"{key}: expected {expected}, got {_describe(value)}{hint}")
            return None
        return value

    def text(self, key: str, default: str | None = None) -> str | None:
        value: str | None = self._get(key, default, lambda v: isinstance(v, str), "text")
        if key in self.data and value is not None and not value.strip():
            self.problem(f"{key}: is empty")
            return None
        return value

    def text_list(self, key: str, example: str = "[TR1, TR2]") -> tuple[str, ...] | None:
        value = self._get(
            key,
            None,
            lambda v: isinstance(v, list) and all(isinstance(item, str) for item in v),
            f"a list of text, e.g. {example}",
        )
        return tuple(value) if value is not None else None

    def whole_number(self, key: str, default: int | None = None) -> int | None:
        result: int | None = self._get(key, default, _is_whole_number, "a whole number")
        return result

    def fraction(self, key: str, default: float) -> float | None:
        value = self._get(
            key,
            default,
            lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "a number from 0 to 1",
        )
        return float(value) if value is not None else None

    def boolean(self, key: str, default: bool) -> bool | None:
        result: bool | None = self._get(
            key, default, lambda v: isinstance(v, bool), "true or false"
        )
        return result

    def sequence(self, key: str) -> list[object]:
        result: list[object] | None = self._get(key, [], lambda v: isinstance(v, list), "a list")
        return result if result is not None else []

    def choice(self, key: str, kind: type[OrganisationKind]) -> OrganisationKind | None:
        value = self.text(key)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            self.problem(
                _unknown(
                    key, value, [k.value for k in kind], "a kind of organisation", in_file=False
                )
                + f" (kinds: {', '.join(k.value for k in kind)})"
            )
            return None

    def convert(
        self, key: str, parse: Callable[[object], _T], default: _T | None = None
    ) -> _T | None:
        if key not in self.data or (
            self.data[key] is None and default is None and key not in self.required
        ):
            return default
        try:
            return parse(self.data[key])
        except DirectoryError as error:
            self.problem(str(error))
            return None


def _unknown(key: str, value: str, known: Iterable[str], what: str, *, in_file: bool = True) -> str:
    """``pcn 'U99999' is not a PCN in this file``, with the nearest name when there is one."""
    known = list(known)
    hint = difflib.get_close_matches(value, known, n=1)
    if not hint:  # 'GP' for 'gp': difflib compares case
        lowered = {k.lower(): k for k in known}
        hint = [lowered[h] for h in difflib.get_close_matches(value.lower(), list(lowered), n=1)]
    message = f"{key} {value!r} is not {what}" + (" in this file" if in_file else "")
    return message + (f" (did you mean {hint[0]!r}?)" if hint else "")


def _is_whole_number(value: object) -> bool:
    # YAML reads `true` as a bool, and bool is an int in Python: refuse it here.
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: object) -> str:
    """A value as the file's author would recognise it, with what YAML made of it."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"{value!r} (text)"
    if isinstance(value, int | float):
        return f"{value!r} (a number)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class _SafeLoaderRefusingDuplicateKeys(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, except that a key given twice in one mapping is an error.

    Plain YAML keeps the last of two equal keys and drops the first without a word, which
    would hide exactly the kind of slip (two ``mon-fri`` lines, two ``areas``) this file
    format promises to catch.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
