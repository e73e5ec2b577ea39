"""``/healthz`` and the OpenAPI documents, through FastAPI's TestClient."""

from __future__ import annotations

import socket
from pathlib import Path

from fastapi.testclient import TestClient

import joinedup
from joinedup.api.app import create_app
from joinedup.settings import Settings


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_healthz_is_ok_when_the_database_answers(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": joinedup.__version__}


def test_healthz_is_503_when_postgresql_is_unreachable(tmp_path: Path) -> None:
    settings = Settings(
        var_dir=tmp_path,
        database_url=f"postgresql+psycopg://joinedup@127.0.0.1:{closed_port()}/joinedup",
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "unreachable"
    assert body["version"] == joinedup.__version__
    assert "SELECT 1" in body["detail"]
    # The driver's message (hosts, ports, users) stays in the log.
    assert "127.0.0.1" not in body["detail"]


def test_healthz_is_503_when_the_sqlite_file_cannot_be_opened(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "joinedup.sqlite"
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{missing}")
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_openapi_describes_the_api_but_not_the_pages(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(var_dir=tmp_path))) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "JoinedUp"
    assert document["info"]["version"] == joinedup.__version__
    assert "Integrated Care System" in document["info"]["description"]
    assert "/healthz" in document["paths"]
    assert set(document["paths"]["/healthz"]["get"]["responses"]) == {"200", "503"}
    assert "/" not in document["paths"]  # HTML pages are not API operations


def test_interactive_docs_are_served(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(var_dir=tmp_path))) as client:
        docs = client.get("/docs")
        redoc = client.get("/redoc")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text
    assert "/openapi.json" in docs.text
    assert redoc.status_code == 200


def test_one_engine_per_app_disposed_at_shutdown(tmp_path: Path) -> None:
    app = create_app(Settings(var_dir=tmp_path))
    with TestClient(app) as client:
        engine = app.state.engine
        pool = engine.pool
        client.get("/healthz")
        client.get("/healthz")
        assert app.state.engine is engine
        assert pool.checkedin() == 1  # both requests used one pooled connection
    assert pool.checkedin() == 0  # disposed at shutdown: the connection is closed
