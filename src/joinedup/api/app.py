"""The JoinedUp web application: pages on the NHS design system, the health check and the API."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

import joinedup
from joinedup.access import dev_idp
from joinedup.api import fhir
from joinedup.api import referrals as referrals_api
from joinedup.api import virtual_wards as virtual_wards_api
from joinedup.api.routes import health
from joinedup.background import Periodic
from joinedup.referrals import notify
from joinedup.settings import Settings
from joinedup.storage import make_engine, session_factory
from joinedup.virtual_wards.sweep import Sweeper
from joinedup.web import (
    NHSUK_ASSETS_DIR,
    NHSUK_DIR,
    STATIC_DIR,
    identity_pages,
    oversight_pages,
    pages,
    population_pages,
    privacy_pages,
    record_pages,
    referral_dashboard,
    referral_pages,
    self_referral_pages,
    virtual_ward_pages,
    worklist_pages,
)

logger = logging.getLogger(__name__)

DESCRIPTION = """
JoinedUp is the open-source platform an NHS Integrated Care System (ICS) runs to join up
care across its partners: GP practices, trusts, councils and the voluntary sector.

The home page (`/`) shows the ICS: its areas, partners, services and registered population.
`/record` is the single patient view; `/population` is population health (dashboards,
cohorts, inequalities, the needs assessment; aggregate and pseudonymised); `/oversight` is
system oversight (the indicators read with statistical process control, the board report); `/fhir` is the shared care record as a FHIR R4 API
(bearer token from the ICS's OpenID Connect provider; every person-level request is
checked against the access policy and audited). `/healthz` says whether the service can
reach its operational store.
"""


class ServerTiming:
    """Adds ``Server-Timing: app;dur=<ms>``: how long the server took to start answering
    (for benchmarks and browsers' developer tools). Plain ASGI, so it costs next to nothing.
    The time the request arrived is ``request.state.received`` (``perf_counter``) for routes
    that report their own timings."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope.setdefault("state", {})["received"] = started

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                headers = [
                    *message.get("headers", []),
                    (b"server-timing", b"app;dur=%.1f" % elapsed),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application for ``settings`` (read from the environment if not given).

    The lifespan makes one database engine from the settings when the application starts
    and disposes of it when it stops; routes reach it through :mod:`joinedup.api.deps`.
    """
    settings = settings if settings is not None else Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not (NHSUK_DIR / "nhsuk-frontend.min.css").is_file():
            logger.warning(
                "the NHS.UK frontend is not installed in %s: pages will be unstyled "
                "(run `make frontend` or scripts/install-frontend.sh)",
                NHSUK_DIR,
            )
        engine = make_engine(settings)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        # Population health's dashboard, computed while the app starts serving.
        threading.Thread(
            target=population_pages.warm,
            args=(app.state.population_view,),
            name="population-warm-up",
            daemon=True,
        ).start()
        # Referral notifications to receiving teams, delivered from the outbox.
        # And escalations nobody acknowledged in time, escalated again.
        background: list[Periodic] = [Sweeper(app.state.sessions, settings.virtual_wards_file)]
        if settings.deliver_notifications:
            background.append(notify.Dispatcher(app.state.sessions))
        for work in background:
            work.start()
        # What start-up loaded (pandas, Ibis, pyarrow: a few hundred thousand objects) stays:
        # move it out of the collector's way, or a full collection every few requests costs
        # a page (the ward board) a couple of hundred milliseconds.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for work in background:
                work.stop()
            engine.dispose()

    app = FastAPI(
        title="JoinedUp",
        version=joinedup.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    # Audit entries are appended one at a time per process (see joinedup.api.guard).
    app.state.audit_lock = threading.Lock()
    app.state.population_view = population_pages.PopulationView(settings)
    # The home page lists every partner and service: about 170 kB of HTML, 9 kB compressed.
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.add_middleware(ServerTiming)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The nhsuk-frontend stylesheet refers to its icons as /assets/images/...; the page
    # template's favicons and manifest use the same path. It is absent until installed.
    app.mount("/assets", StaticFiles(directory=NHSUK_ASSETS_DIR, check_dir=False), name="assets")

    app.include_router(health.router)
    app.include_router(pages.router)
    app.include_router(identity_pages.router)
    app.include_router(record_pages.router)
    app.include_router(privacy_pages.router)
    app.include_router(population_pages.router)
    app.include_router(worklist_pages.router)
    app.include_router(oversight_pages.router)
    app.include_router(referral_dashboard.router)  # before /referrals/{id}
    app.include_router(self_referral_pages.router)  # before /referrals/{id}
    app.include_router(referral_pages.router)
    app.include_router(virtual_ward_pages.router)
    app.include_router(dev_idp.router)
    referrals_api.install(app)  # before the record's generic /fhir/{type} routes
    virtual_wards_api.install(app)
    fhir.install(app)
    return app
