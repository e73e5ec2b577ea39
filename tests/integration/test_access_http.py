"""The access layer over HTTP: the development provider's endpoints and the current user."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from joinedup.access import dev_idp
from joinedup.access.deps import SESSION_COOKIE, CurrentUser, install, require
from joinedup.access.model import User
from joinedup.settings import Settings


def _app(settings: Settings) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    install(app)

    @app.get("/me")
    def me(user: CurrentUser) -> dict[str, str]:
        return {"subject": user.subject, "role": user.role, "organisation": user.organisation}

    @app.get("/audit")
    def audit_page(user: User = Depends(require("audit.read"))) -> dict[str, str]:
        return {"subject": user.subject}

    return app


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(_app(Settings(var_dir=tmp_path, dev_idp=True)))


def _token(client: TestClient, username: str) -> str:
    response = client.post("/dev-idp/token", data={"username": username})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    return str(body["access_token"])


def test_discovery_and_keys(client: TestClient) -> None:
    config = client.get("/dev-idp/.well-known/openid-configuration").json()
    assert config["issuer"] == dev_idp.DEV_ISSUER
    assert config["jwks_uri"].endswith("/dev-idp/jwks.json")
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    keys = client.get(config["jwks_uri"]).json()["keys"]
    assert [k["alg"] for k in keys] == ["RS256"] and "d" not in keys[0]
    assert len(client.get("/dev-idp/users").json()) == 11


def test_a_demo_users_token_signs_them_in(client: TestClient) -> None:
    token = _token(client, "demo-hospital-clinician")
    me = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {
        "subject": "demo-hospital-clinician",
        "role": "hospital_clinician",
        "organisation": "REF",
    }
    # Web pages carry the same token in the session cookie.
    client.cookies.set(SESSION_COOKIE, _token(client, "demo-gp"))
    assert client.get("/me").json()["role"] == "gp"


def test_refusals_are_401_and_403_operation_outcomes(client: TestClient) -> None:
    missing = client.get("/me")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["resourceType"] == "OperationOutcome"
    bad = client.get("/me", headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    basic = client.get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401
    gp = {"Authorization": f"Bearer {_token(client, 'demo-gp')}"}
    forbidden = client.get("/audit", headers=gp)
    assert forbidden.status_code == 403
    assert forbidden.json()["issue"][0]["code"] == "forbidden"
    officer = {"Authorization": f"Bearer {_token(client, 'demo-privacy-officer')}"}
    assert client.get("/audit", headers=officer).status_code == 200
    assert client.post("/dev-idp/token", data={"username": "nobody"}).status_code == 400


def test_the_development_provider_is_off_unless_switched_on(tmp_path: Path) -> None:
    client = TestClient(_app(Settings(var_dir=tmp_path)))
    for path in (
        "/dev-idp/.well-known/openid-configuration",
        "/dev-idp/jwks.json",
        "/dev-idp/users",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post("/dev-idp/token", data={"username": "demo-gp"}).status_code == 404
    assert not (tmp_path / "dev-idp").exists()  # no key made either
