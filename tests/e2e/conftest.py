"""The running web app (Uvicorn on a free loopback port) and Debian Chromium through Playwright.

``playwright install`` cannot download browsers here, so tests drive the system's
``/usr/bin/chromium`` (installed by ``make test``); without it they skip and say why.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from joinedup.api.app import create_app
from joinedup.directory.store import PopulationCount, save_directory, save_registered_population
from joinedup.settings import Settings
from joinedup.storage import make_engine, migrate, session_factory
from joinedup.web import NHSUK_DIR
from tests.support.directories import small_directory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _load_small_ics(settings: Settings) -> None:
    engine = make_engine(settings)
    try:
        migrate(engine)
        with session_factory(engine)() as session:
            save_directory(session, small_directory())
            save_registered_population(
                session,
                [
                    PopulationCount(practice, sex, band, count)
                    for practice in ("L00001", "L00002", "L00003")
                    for sex in ("F", "M")
                    for band, count in (("0-4", 60), ("20-24", 150), ("65-69", 90), ("85+", 30))
                ],
            )
            session.commit()
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app serving a small ICS from its own SQLite file, for the whole browser run."""
    if not (NHSUK_DIR / "nhsuk-frontend.min.css").is_file():
        pytest.fail("the NHS.UK frontend is not installed: run `make frontend` first")
    settings = Settings(var_dir=tmp_path_factory.mktemp("e2e-var"))
    _load_small_ics(settings)
    yield from serve(settings)


def serve(settings: Settings) -> Iterator[str]:
    """Serve the app for ``settings`` on a free loopback port until the generator closes."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, name="uvicorn-e2e", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"the web app did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# Module scope: Playwright's sync API keeps an event loop running in this thread while it is
# open, which would stop later (asyncio) tests in the same run from starting their own.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync API for the run."""
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless; the tests skip when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: `make test` installs Debian's chromium package")
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh browser page (its own context) with the app's address as the base URL."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()
