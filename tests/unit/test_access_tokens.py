"""Bearer tokens: what the verifier accepts and every way it refuses (all 401)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from joinedup.access.dev_idp import DEV_ISSUER, DevIdentityProvider
from joinedup.access.model import AccessDenied, User
from joinedup.access.tokens import TokenVerifier
from joinedup.directory import load_directory
from joinedup.settings import Settings

ISSUER = "https://idp.example.nhs.uk/realms/ics"
NOW = datetime.now(UTC)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return _key()


def _jwks(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {
        "keys": [
            {
                "kty": "RSA",
                "n": public["n"],
                "e": public["e"],
                "kid": kid,
                "alg": "RS256",
                "use": "sig",
            }
        ]
    }


def _claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "joinedup",
        "sub": "u-123",
        "name": "Dr Test",
        "iat": NOW,
        "exp": NOW + timedelta(minutes=30),
        "joinedup_role": "gp",
        "joinedup_org": "L99021",
        "joinedup_services": ["district-nursing-west"],
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def settings(tmp_path: Path, key: rsa.RSAPrivateKey) -> Settings:
    """Settings trusting ISSUER, with its JWKS in a file (overrides the database fixture)."""
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(_jwks(key, "k1")))
    return Settings(var_dir=tmp_path / "var", oidc_issuer=ISSUER, oidc_jwks_file=jwks_file)


@pytest.fixture
def sign(key: rsa.RSAPrivateKey) -> Callable[..., str]:
    def sign(claims: dict[str, Any], *, kid: str | None = "k1", with_key: Any = None) -> str:
        headers = {"kid": kid} if kid else {}
        return jwt.encode(claims, with_key or key, algorithm="RS256", headers=headers)

    return sign


def _refusal(verifier: TokenVerifier, token: str) -> AccessDenied:
    with pytest.raises(AccessDenied) as caught:
        verifier.verify(token)
    assert caught.value.status == 401
    return caught.value


def test_a_good_token_gives_the_user(settings: Settings, sign: Callable[..., str]) -> None:
    user = TokenVerifier(settings).verify(sign(_claims()))
    assert user == User("u-123", "Dr Test", "gp", "L99021", ("district-nursing-west",))


def test_a_tampered_token_is_refused(settings: Settings, sign: Callable[..., str]) -> None:
    header, _payload, signature = sign(_claims()).split(".")
    forged = _b64(json.dumps(_claims(joinedup_role="hospital_clinician"), default=str).encode())
    refusal = _refusal(TokenVerifier(settings), f"{header}.{forged}.{signature}")
    assert refusal.code in {"bad-signature", "malformed"}
    # A flipped signature byte is refused as a bad signature.
    token = sign(_claims())
    flipped = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert _refusal(TokenVerifier(settings), flipped).code == "bad-signature"


def test_a_token_signed_by_another_key_with_our_kid_is_refused(
    settings: Settings, sign: Callable[..., str]
) -> None:
    refusal = _refusal(TokenVerifier(settings), sign(_claims(), with_key=_key()))
    assert refusal.code == "bad-signature"


def test_an_expired_token_is_refused(settings: Settings, sign: Callable[..., str]) -> None:
    old = NOW - timedelta(hours=2)
    token = sign(_claims(iat=old, exp=old + timedelta(minutes=60)))
    refusal = _refusal(TokenVerifier(settings), token)
    assert (refusal.code, refusal.reason) == ("expired", "the token has expired")


def test_a_token_from_another_issuer_is_refused(
    settings: Settings, sign: Callable[..., str]
) -> None:
    token = sign(_claims(iss="https://evil.example.com"))
    assert _refusal(TokenVerifier(settings), token).code == "wrong-issuer"


def test_a_token_for_another_audience_is_refused(
    settings: Settings, sign: Callable[..., str]
) -> None:
    token = sign(_claims(aud="another-app"))
    assert _refusal(TokenVerifier(settings), token).code == "wrong-audience"


def test_alg_none_is_refused(settings: Settings) -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    payload = _b64(json.dumps(_claims(), default=lambda d: int(d.timestamp())).encode())
    refusal = _refusal(TokenVerifier(settings), f"{header}.{payload}.")
    assert refusal.code == "bad-algorithm"


def test_hs256_signed_with_the_public_key_is_refused(
    settings: Settings, key: rsa.RSAPrivateKey
) -> None:
    """The classic confusion attack: an HMAC 'signed' with the provider's public key."""
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    payload = _b64(json.dumps(_claims(), default=lambda d: int(d.timestamp())).encode())
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    refusal = _refusal(TokenVerifier(settings), f"{header}.{payload}.{_b64(mac)}")
    assert refusal.code == "bad-algorithm"


def test_an_unknown_key_id_is_refused(settings: Settings, sign: Callable[..., str]) -> None:
    assert _refusal(TokenVerifier(settings), sign(_claims(), kid="k9")).code == "unknown-key"


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        (_claims(joinedup_role=None), "missing-claim"),
        (_claims(joinedup_org=None), "missing-claim"),
        (_claims(joinedup_role="surgeon-general"), "unknown-role"),
        (_claims(sub=None), "missing-claim"),
        (_claims(exp=None), "missing-claim"),
    ],
    ids=["no-role", "no-organisation", "unknown-role", "no-subject", "no-expiry"],
)
def test_tokens_missing_what_access_needs_are_refused(
    settings: Settings, sign: Callable[..., str], claims: dict[str, Any], code: str
) -> None:
    assert _refusal(TokenVerifier(settings), sign(claims)).code == code


def test_garbage_is_refused(settings: Settings) -> None:
    assert _refusal(TokenVerifier(settings), "not-a-jwt").code == "malformed"


def test_refusals_never_repeat_the_token_or_claims(
    settings: Settings, sign: Callable[..., str]
) -> None:
    token = sign(_claims(joinedup_role="surgeon-general", sub="9990001234"))
    refusal = _refusal(TokenVerifier(settings), token)
    assert "9990001234" not in str(refusal) and "surgeon-general" not in str(refusal)
    assert token not in str(refusal)


def test_the_claim_names_are_configurable(
    tmp_path: Path, key: rsa.RSAPrivateKey, sign: Callable[..., str]
) -> None:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(_jwks(key, "k1")))
    settings = Settings(
        var_dir=tmp_path,
        oidc_issuer=ISSUER,
        oidc_jwks_file=jwks_file,
        oidc_audience="ics-portal",
        role_claim="ics_role",
        organisation_claim="ods",
    )
    token = sign(
        _claims(
            aud="ics-portal", joinedup_role=None, joinedup_org=None, ics_role="paramedic", ods="RYF"
        )
    )
    assert TokenVerifier(settings).verify(token).role == "paramedic"


def test_keys_are_fetched_from_the_jwks_url_and_refetched_for_a_new_key(
    tmp_path: Path, key: rsa.RSAPrivateKey, sign: Callable[..., str]
) -> None:
    published = {"jwks": _jwks(key, "k1")}
    fetches: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetches.append(str(request.url))
        return httpx.Response(200, json=published["jwks"])

    settings = Settings(
        var_dir=tmp_path, oidc_issuer=ISSUER, oidc_jwks_url="https://idp.example.nhs.uk/jwks"
    )
    verifier = TokenVerifier(settings, http=httpx.Client(transport=httpx.MockTransport(handler)))
    assert verifier.verify(sign(_claims())).subject == "u-123"
    assert verifier.verify(sign(_claims())).subject == "u-123"
    assert fetches == ["https://idp.example.nhs.uk/jwks"]  # cached

    # The provider rotates its key: a token with the new kid triggers one more fetch.
    new_key = _key()
    published["jwks"] = _jwks(new_key, "k2")
    verifier._fetched_at -= 60  # as if the last fetch were a minute ago
    assert verifier.verify(sign(_claims(), kid="k2", with_key=new_key)).subject == "u-123"
    assert len(fetches) == 2


def test_an_unreachable_jwks_url_refuses_without_crashing(
    tmp_path: Path, sign: Callable[..., str]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    settings = Settings(
        var_dir=tmp_path, oidc_issuer=ISSUER, oidc_jwks_url="https://idp.example.nhs.uk/jwks"
    )
    verifier = TokenVerifier(settings, http=httpx.Client(transport=httpx.MockTransport(handler)))
    assert _refusal(verifier, sign(_claims())).code == "keys-unavailable"


def test_without_a_provider_nothing_is_accepted(tmp_path: Path, sign: Callable[..., str]) -> None:
    verifier = TokenVerifier(Settings(var_dir=tmp_path))
    assert _refusal(verifier, sign(_claims())).code == "not-configured"


# --- the development provider ---------------------------------------------------------


def test_dev_provider_tokens_verify(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, dev_idp=True)
    provider = DevIdentityProvider(settings)
    assert provider.issuer == DEV_ISSUER
    user = TokenVerifier(settings).verify(provider.issue("demo-paramedic"))
    assert (user.role, user.organisation, user.services) == ("paramedic", "RYF", ("ambulance-999",))
    expired = provider.issue("demo-gp", minutes=5, now=NOW - timedelta(hours=1))
    assert _refusal(TokenVerifier(settings), expired).code == "expired"
    with pytest.raises(KeyError):
        provider.issue("nobody")


def test_dev_provider_keeps_one_private_key(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, dev_idp=True)
    first = DevIdentityProvider(settings)
    mode = stat.S_IMODE(first.key_path.stat().st_mode)
    assert mode == 0o600
    second = DevIdentityProvider(settings)
    assert second.jwks() == first.jwks()
    assert TokenVerifier(settings).verify(first.issue("demo-gp")).subject == "demo-gp"
    assert "d" not in first.jwks()["keys"][0]  # only the public half is published


def test_dev_provider_tokens_are_refused_when_it_is_off(
    tmp_path: Path, sign: Callable[..., str]
) -> None:
    on = Settings(var_dir=tmp_path, dev_idp=True)
    token = DevIdentityProvider(on).issue("demo-gp")
    off = Settings(var_dir=tmp_path, oidc_issuer=ISSUER, oidc_jwks_url=None)
    assert _refusal(TokenVerifier(off), token).code in {"not-configured", "unknown-key"}


def test_one_demo_user_per_role_at_organisations_of_the_directory(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, dev_idp=True)
    provider = DevIdentityProvider(settings)
    users = provider.demo_users()
    roles = [u.role for u in users]
    assert sorted(roles) == sorted(
        [
            "gp",
            "hospital_clinician",
            "community_nurse",
            "mental_health_practitioner",
            "social_worker",
            "care_coordinator",
            "paramedic",
            "voluntary_sector_worker",
            "analyst",
            "privacy_officer",
            "administrator",
        ]
    )
    directory = load_directory(settings.directory_file)
    organisations = {o.ods_code: o for o in directory.organisations}
    # The coordination centre is the single point of access itself, not a directory service.
    services = {s.id for s in directory.services} | {"coordination-centre"}
    for user in users:
        assert user.organisation in organisations, user.subject
        assert set(user.services) <= services, user.subject
    by_role = {u.role: u for u in users}
    assert organisations[by_role["gp"].organisation].kind.value == "gp_practice"
    assert by_role["hospital_clinician"].organisation == "REF"
    assert by_role["paramedic"].organisation == "RYF"
    assert {by_role[r].organisation for r in ("analyst", "privacy_officer", "administrator")} == {
        directory.icb
    }
