"""The HTML pages: read through the store functions, format for people, render.

Formatting follows the NHS.UK content style (``8am to 8pm``, ``Monday to Friday``,
``18 and over``). The pages show the ICS as a whole and counts of registered patients;
never anything about one patient.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, FileSystemLoader, PackageLoader

from joinedup.api.deps import SessionDep
from joinedup.directory.model import DAYS, Directory, OpeningHours, OrganisationKind, Service
from joinedup.directory.store import (
    RegisteredPopulation,
    read_directory,
    read_registered_population,
)
from joinedup.feeds.model import Issue
from joinedup.web import TEMPLATES_DIR

router = APIRouter(include_in_schema=False)

#: The age from which the home page counts older people (the usual NHS cut for "65 and over").
OLDER_PEOPLE_AGE = 65

#: How each kind of partner is named on the page: (one, several).
KIND_NAMES: dict[OrganisationKind, tuple[str, str]] = {
    OrganisationKind.INTEGRATED_CARE_BOARD: ("Integrated care board", "Integrated care boards"),
    OrganisationKind.ACUTE_TRUST: ("Acute trust", "Acute trusts"),
    OrganisationKind.COMMUNITY_AND_MENTAL_HEALTH_TRUST: (
        "Community and mental health trust",
        "Community and mental health trusts",
    ),
    OrganisationKind.AMBULANCE_TRUST: ("Ambulance trust", "Ambulance trusts"),
    OrganisationKind.LOCAL_AUTHORITY: ("Local authority", "Local authorities"),
    OrganisationKind.GP_PRACTICE: ("GP practice", "GP practices"),
    OrganisationKind.HOSPICE: ("Hospice", "Hospices"),
    OrganisationKind.VOLUNTARY_SECTOR: (
        "Voluntary sector organisation",
        "Voluntary, community and social enterprise organisations",
    ),
    OrganisationKind.CARE_HOME: ("Care home", "Care homes"),
}

DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}


# What the templates get: plain, already formatted values.


@dataclass(frozen=True)
class AgeBar:
    """One bar of the age-structure chart: a band, its count and its length (0 to 1)."""

    band: str
    count: int
    share: float
    length: float


@dataclass(frozen=True)
class AreaPopulation:
    """Registered patients at the practices of one area."""

    name: str
    registered: int
    share: float


@dataclass(frozen=True)
class PopulationSummary:
    """The registered population in figures: total, older people, age structure, by area."""

    total: int
    share_older: float
    older_age: int
    bars: tuple[AgeBar, ...]
    by_area: tuple[AreaPopulation, ...]


@dataclass(frozen=True)
class AreaSummary:
    """An Integrated Care Area with its places, PCNs, practices and registered patients."""

    code: str
    name: str
    places: tuple[str, ...]
    residents: int
    pcns: tuple[str, ...]
    practices: int
    registered: int


@dataclass(frozen=True)
class PartnerRow:
    """A partner organisation as one table row."""

    ods_code: str
    name: str
    kind: str
    area: str
    synthetic: bool


@dataclass(frozen=True)
class PartnerGroup:
    """The partners of one kind, under one heading."""

    id: str
    heading: str
    rows: tuple[PartnerRow, ...]


@dataclass(frozen=True)
class ServiceRow:
    """A service as one table row, every field in words."""

    name: str
    provider: str
    type: str
    areas: str
    ages: str
    hours: str
    capacity: str


@dataclass(frozen=True)
class HomePage:
    """Everything the home page shows about the ICS."""

    ics_name: str
    board_name: str
    board_code: str
    population: PopulationSummary | None
    areas: tuple[AreaSummary, ...]
    partner_groups: tuple[PartnerGroup, ...]
    partner_count: int
    services: tuple[ServiceRow, ...]


# Routes


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> HTMLResponse:
    """The ICS at a glance, or how to load one if the store is still empty."""
    directory = read_directory(session)
    if directory is None:
        return templates.TemplateResponse(request, "no_directory.html", {})
    page = home_page(directory, read_registered_population(session))
    return templates.TemplateResponse(
        request, "home.html", {"page": page, "ics_name": page.ics_name}
    )


# Formatting


def home_page(directory: Directory, population: RegisteredPopulation) -> HomePage:
    """The home page's content for ``directory`` and its registered ``population``."""
    by_practice = population.by_practice()
    try:
        board_name = directory.organisation(directory.icb).name
    except KeyError:
        board_name = directory.icb
    return HomePage(
        ics_name=directory.name,
        board_name=board_name,
        board_code=directory.icb,
        population=population_summary(directory, population) if population.total else None,
        areas=tuple(
            AreaSummary(
                code=area.code,
                name=area.name,
                places=tuple(p.name for p in directory.places_in(area.code)),
                residents=sum(p.population for p in directory.places_in(area.code)),
                pcns=tuple(p.name for p in directory.pcns if p.area == area.code),
                practices=sum(1 for p in directory.practices if p.area == area.code),
                registered=sum(
                    by_practice.get(p.ods_code, 0)
                    for p in directory.practices
                    if p.area == area.code
                ),
            )
            for area in directory.areas
        ),
        partner_groups=partner_groups(directory),
        partner_count=len(directory.organisations),
        services=tuple(service_row(directory, s) for s in directory.services),
    )


def population_summary(directory: Directory, population: RegisteredPopulation) -> PopulationSummary:
    """Total, share of older people, age bars and registered patients by area."""
    total = population.total
    bands = population.by_age_band()
    largest = max(bands.values(), default=0) or 1
    by_practice = population.by_practice()
    by_area = [
        (
            area.name,
            sum(by_practice.get(p.ods_code, 0) for p in directory.practices if p.area == area.code),
        )
        for area in directory.areas
    ]
    # Counts from practices the directory doesn't list still belong in the total.
    unplaced = total - sum(count for _, count in by_area)
    if unplaced:
        by_area.append(("Practices not in the directory", unplaced))
    return PopulationSummary(
        total=total,
        share_older=population.share_aged(OLDER_PEOPLE_AGE),
        older_age=OLDER_PEOPLE_AGE,
        bars=tuple(
            AgeBar(band=band, count=count, share=count / total, length=count / largest)
            for band, count in bands.items()
        ),
        by_area=tuple(
            AreaPopulation(name=name, registered=count, share=count / total)
            for name, count in by_area
        ),
    )


def partner_groups(directory: Directory) -> tuple[PartnerGroup, ...]:
    """The partners grouped by kind, in the order of :class:`OrganisationKind`."""
    groups = []
    for kind in OrganisationKind:
        organisations = directory.organisations_of_kind(kind)
        if not organisations:
            continue
        one, several = kind_names(kind)
        groups.append(
            PartnerGroup(
                id=f"partners-{kind.value.replace('_', '-')}",
                heading=one if len(organisations) == 1 else several,
                rows=tuple(
                    PartnerRow(
                        ods_code=o.ods_code,
                        name=o.name,
                        kind=one,
                        area=area_name(directory, o.area),
                        synthetic=o.synthetic,
                    )
                    for o in organisations
                ),
            )
        )
    return tuple(groups)


def service_row(directory: Directory, service: Service) -> ServiceRow:
    """A service with every field in words."""
    try:
        provider = directory.organisation(service.provider).name
    except KeyError:
        provider = service.provider
    if set(service.areas) >= {a.code for a in directory.areas}:
        areas = "All areas"
    else:
        areas = ", ".join(area_name(directory, code) for code in service.areas)
    capacity = service.capacity
    return ServiceRow(
        name=service.name,
        provider=provider,
        type=service.type.replace("_", " ").capitalize(),
        areas=areas,
        ages=describe_ages(service.age_min, service.age_max),
        hours=describe_hours(service.opening_hours),
        capacity=f"{capacity.amount:,} {capacity.unit}" if capacity else "Not recorded",
    )


def kind_names(kind: OrganisationKind) -> tuple[str, str]:
    """What to call one, and several, partners of ``kind``."""
    if kind in KIND_NAMES:
        return KIND_NAMES[kind]
    one = kind.value.replace("_", " ").capitalize()
    return one, f"{one}s"


def area_name(directory: Directory, code: str | None) -> str:
    """The area's name; ``Whole ICS`` for an organisation that serves every area."""
    if code is None:
        return "Whole ICS"
    try:
        return directory.area(code).name
    except KeyError:
        return code


def describe_ages(age_min: int, age_max: int) -> str:
    """An age range in words: ``All ages``, ``18 and over``, ``Under 18``, ``5 to 17``."""
    if age_min == 0 and age_max >= 120:
        return "All ages"
    if age_max >= 120:
        return f"{age_min} and over"
    if age_min == 0:
        return f"Under {age_max + 1}"
    return f"{age_min} to {age_max}"


def describe_hours(hours: OpeningHours) -> str:
    """Opening hours in words, days with the same hours run together.

    For example ``Monday to Friday, 8am to 8pm; Saturday and Sunday, 10am to 4pm``.
    """
    if hours.all_hours:
        return "24 hours a day, 7 days a week"
    groups: list[tuple[list[str], tuple[tuple[time, time], ...]]] = []
    for day in DAYS:
        sessions = tuple((opens, closes) for d, opens, closes in hours.sessions if d == day)
        if not sessions:
            continue
        previous = groups[-1] if groups else None
        if (
            previous is not None
            and previous[1] == sessions
            and DAYS.index(previous[0][-1]) == DAYS.index(day) - 1
        ):
            previous[0].append(day)
        else:
            groups.append(([day], sessions))
    if not groups:
        return "Closed"
    return "; ".join(
        f"{_days(days)}, {' and '.join(f'{_clock(o)} to {_clock(c)}' for o, c in sessions)}"
        for days, sessions in groups
    )


def _days(days: list[str]) -> str:
    if len(days) == len(DAYS):
        return "Every day"
    if len(days) == 1:
        return DAY_NAMES[days[0]]
    joiner = " and " if len(days) == 2 else " to "
    return f"{DAY_NAMES[days[0]]}{joiner}{DAY_NAMES[days[-1]]}"


def _clock(at: time) -> str:
    # NHS.UK style: 8am, 8:30pm, midday, midnight (a session to midnight closes at time.max).
    if at in (time.min, time.max):
        return "midnight"
    if at == time(12):
        return "midday"
    hour = at.hour % 12 or 12
    suffix = "am" if at.hour < 12 else "pm"
    return f"{hour}{suffix}" if at.minute == 0 else f"{hour}:{at.minute:02d}{suffix}"


def group_name(group: object) -> str:
    """A breakdown's group as people read it (None is "Not known"; Core20 flags named)."""
    if group is None:
        return "Not known"
    if group is True:
        return "Core20"
    if group is False:
        return "Not Core20"
    return str(group)


def form_errors(
    issues: Iterable[Issue], fields: Iterable[str]
) -> tuple[dict[str, str], list[dict[str, str | None]]]:
    """A form's problems as the NHS.UK error pattern wants them: the message beside each
    field (the first for it), and the error summary's entries, each linked to its field
    when the issue is about one of ``fields``."""
    known = frozenset(fields)
    errors: dict[str, str] = {}
    summary: list[dict[str, str | None]] = []
    for issue in issues:
        field = issue.location if issue.location in known else None
        if field is not None:
            errors.setdefault(field, issue.diagnostics)
        summary.append({"href": f"#{field}" if field else None, "text": issue.diagnostics})
    return errors, summary


def long_date(day: date) -> str:
    """A date as NHS.UK writes it: ``31 March 2026``."""
    return f"{day.day} {day:%B %Y}"


def _environment() -> Environment:
    # Our templates first, then nhsuk-frontend-jinja's page template and components, which
    # need ChainableUndefined to read optional nested parameters.
    environment = Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(TEMPLATES_DIR), PackageLoader("nhsuk_frontend_jinja")]
        ),
        undefined=ChainableUndefined,
        autoescape=True,
        # The components are written for Nunjucks without trimming; trimming keeps pages small.
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["thousands"] = lambda number: f"{number:,}"
    environment.filters["percent"] = lambda share: f"{share:.1%}"
    environment.filters["group_name"] = group_name
    environment.filters["long_date"] = long_date
    return environment


templates = Jinja2Templates(env=_environment())
