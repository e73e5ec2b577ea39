"""The home page through FastAPI's TestClient, on a small ICS built in code (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from joinedup.api.app import create_app
from joinedup.directory.store import (
    PopulationCount,
    save_directory,
    save_registered_population,
)
from joinedup.settings import Settings
from joinedup.storage import make_engine, migrate, session_factory
from tests.support.directories import small_directory

#: Registered patients at the small directory's three practices (two in West, one in East).
POPULATION = (
    PopulationCount("L00001", "F", "0-4", 100),
    PopulationCount("L00001", "M", "65-69", 300),
    PopulationCount("L00002", "F", "85+", 100),
    PopulationCount("L00003", "M", "20-24", 400),
    PopulationCount("L00003", "F", "65-69", 100),
)


def prepare_store(settings: Settings, *, population: bool = True, directory: bool = True) -> None:
    """Migrate the test's database and save the small directory and its population into it."""
    engine = make_engine(settings)
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            if directory:
                save_directory(session, small_directory())
            if population:
                save_registered_population(session, POPULATION)
            session.commit()
    finally:
        engine.dispose()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app over a store holding the small directory and its registered population."""
    prepare_store(settings)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@dataclass
class Table:
    """A table as the page shows it: caption, column headers and the text of each row."""

    caption: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class PageParser(HTMLParser):
    """Headings and tables, as text, read from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[str, str]] = []
        self.tables: list[Table] = []
        self._heading: str | None = None
        self._text: list[str] = []
        self._in: str | None = None
        self._skip_depth = 0
        self._row: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if "nhsuk-table__heading" in classes:
            # The responsive table repeats the column header in each cell for small screens.
            self._skip_depth = 1
            return
        if self._skip_depth:
            self._skip_depth += 1
            return
        if tag in {"h1", "h2", "h3"}:
            self._heading, self._text = tag, []
        elif tag == "table":
            self.tables.append(Table())
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in {"caption", "th", "td"}:
            self._in, self._text = tag, []

    def handle_endtag(self, tag: str) -> None:
        if self._skip_depth:
            self._skip_depth -= 1
            return
        text = " ".join("".join(self._text).split())
        if tag == self._heading:
            self.headings.append((tag, text))
            self._heading = None
        elif tag == self._in:
            table = self.tables[-1]
            if tag == "caption":
                table.caption = text
            elif self._row is not None:
                self._row.append(text)
            self._in = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "tr" and self._row is not None:
            if self._in_head:
                self.tables[-1].headers = self._row
            else:
                self.tables[-1].rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if not self._skip_depth and (self._heading or self._in):
            self._text.append(data)


def parse(html: str) -> PageParser:
    """The page's headings and tables."""
    parser = PageParser()
    parser.feed(html)
    return parser


def table(page: PageParser, caption: str) -> Table:
    """The table with this caption."""
    for candidate in page.tables:
        if candidate.caption == caption:
            return candidate
    raise AssertionError(f"no table captioned {caption!r}: {[t.caption for t in page.tables]}")


def test_home_page_is_an_nhs_page_with_one_h1(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    page = parse(html)
    assert [text for level, text in page.headings if level == "h1"] == [
        "Test Integrated Care System"
    ]
    assert '<link rel="stylesheet" href="/static/nhsuk/nhsuk-frontend.min.css">' in html
    assert 'class="nhsuk-skip-link"' in html and 'href="#maincontent"' in html
    assert 'id="maincontent"' in html
    assert 'class="nhsuk-header__service-name"' in html and "JoinedUp" in html
    assert "<footer" in html
    assert ("h2", "Population") in page.headings
    assert ("h2", "Areas") in page.headings


def test_home_page_shows_the_population(client: TestClient) -> None:
    html = client.get("/").text
    page = parse(html)
    # 1,000 registered; 500 aged 65 or over.
    assert "1,000" in html
    assert "50.0%" in html
    by_band = table(page, "Registered patients by age band")
    assert by_band.headers == ["Age band", "Registered patients", "Share"]
    assert by_band.rows == [
        ["0-4", "100", "10.0%"],
        ["20-24", "400", "40.0%"],
        ["65-69", "400", "40.0%"],
        ["85+", "100", "10.0%"],
    ]
    by_area = table(page, "Registered patients by area")
    assert by_area.rows == [["West", "500", "50.0%"], ["East", "500", "50.0%"]]
    # The chart: one bar per band, the longest band full length.
    assert html.count('class="app-age-chart__bar"') == 4
    assert 'role="img"' in html


def test_home_page_shows_each_area(client: TestClient) -> None:
    html = client.get("/").text
    page = parse(html)
    assert ("h3", "West") in page.headings
    assert ("h3", "East") in page.headings
    assert "Penzance, Hayle" in html
    assert "About 30,000" in html  # West's residents: Penzance 21,000 and Hayle 9,000
    assert "Penwith PCN" in html


def test_home_page_lists_partners_by_kind_with_synthetic_codes_tagged(client: TestClient) -> None:
    page = parse(client.get("/").text)
    trusts = table(page, "Acute trust")
    assert trusts.headers == ["ODS code", "Name", "Kind", "Area"]
    # REF is a real public code: no tag.
    assert trusts.rows == [["REF", "Royal Cornwall Hospitals NHS Trust", "Acute trust", "West"]]
    practices = table(page, "GP practices")
    assert practices.rows[0] == ["L00001 Synthetic", "Morrab Surgery", "GP practice", "West"]
    assert len(practices.rows) == 3
    assert ("h3", "GP practices") in page.headings


def test_home_page_lists_services_in_words(client: TestClient) -> None:
    services = table(parse(client.get("/").text), "Services")
    assert services.headers == [
        "Service",
        "Provider",
        "Type",
        "Areas",
        "Ages",
        "Hours",
        "Capacity",
    ]
    assert services.rows == [
        [
            "Urgent community response (West)",
            "Royal Cornwall Hospitals NHS Trust",
            "Urgent community response",
            "West",
            "18 and over",
            "Every day, 8am to 8pm",
            "40 contacts per day",
        ],
        [
            "Emergency department",
            "Royal Cornwall Hospitals NHS Trust",
            "Emergency department",
            "All areas",
            "All ages",
            "24 hours a day, 7 days a week",
            "Not recorded",
        ],
        [
            "Evening crisis line",
            "Royal Cornwall Hospitals NHS Trust",
            "Mental health crisis",
            "East",
            "All ages",
            "Friday, 6pm to midnight",
            "Not recorded",
        ],
    ]


def test_every_table_has_column_headers(client: TestClient) -> None:
    page = parse(client.get("/").text)
    assert len(page.tables) >= 5
    for found in page.tables:
        assert found.caption, "every table is named by a caption"
        assert found.headers and all(found.headers), f"{found.caption}: missing column headers"


def test_home_page_without_population_says_so(settings: Settings) -> None:
    prepare_store(settings, population=False)
    with TestClient(create_app(settings)) as test_client:
        response = test_client.get("/")
    assert response.status_code == 200
    assert "No registered population has been loaded yet" in response.text
    assert "Morrab Surgery" in response.text


def test_before_a_directory_is_loaded_the_home_page_says_how(settings: Settings) -> None:
    prepare_store(settings, directory=False, population=False)
    with TestClient(create_app(settings)) as test_client:
        response = test_client.get("/")
    assert response.status_code == 200
    page = parse(response.text)
    assert [text for level, text in page.headings if level == "h1"] == [
        "No ICS has been loaded yet"
    ]
    assert "make demo" in response.text


def test_our_stylesheet_is_served(client: TestClient) -> None:
    response = client.get("/static/joinedup.css")
    assert response.status_code == 200
    assert ".app-age-chart" in response.text
