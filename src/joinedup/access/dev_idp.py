"""The built-in development identity provider: demo users and signed tokens, for the demo only.

It is an OpenID Connect provider in miniature: an RSA signing key kept under
``var/dev-idp`` (mode 0600), a discovery document, its JWKS, and a token endpoint that signs
an RS256 token for any demo user by name (no password: it is for trying JoinedUp with
synthetic data, and is switched off unless ``JOINEDUP_DEV_IDP`` is on). JoinedUp verifies
its tokens exactly as it verifies a real provider's (:mod:`joinedup.access.tokens`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Form, HTTPException, Request
from jwt.algorithms import RSAAlgorithm

from joinedup.access.model import User
from joinedup.settings import Settings

#: The development provider's issuer, unless ``oidc_issuer`` is set.
DEV_ISSUER = "http://dev-idp.joinedup.local"
#: The claim listing the directory services a user works in (optional in any provider's token).
SERVICES_CLAIM = "joinedup_services"


@dataclass(frozen=True)
class DemoUser:
    """A made-up user of one role at a real organisation of the shipped directory."""

    subject: str
    name: str
    role: str
    organisation: str
    services: tuple[str, ...]
    description: str

    def user(self) -> User:
        """The :class:`User` a token for this demo user verifies as."""
        return User(self.subject, self.name, self.role, self.organisation, self.services)


#: One demo user per role, at organisations of cornwall-and-isles-of-scilly.yaml (names made up).
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("demo-gp", "Dr Morwenna Penrose", "gp", "L99021", (),
             "GP at Lemon Street Surgery, Truro"),
    DemoUser("demo-hospital-clinician", "Dr Jago Trelawny", "hospital_clinician", "REF",
             ("ed-royal-cornwall", "virtual-ward-respiratory"),
             "Emergency medicine, Royal Cornwall Hospitals NHS Trust"),
    DemoUser("demo-community-nurse", "Tamsin Rowe", "community_nurse", "RJ8",
             ("district-nursing-central", "ucr-central", "virtual-ward-frailty-central"),
             "District nurse, Cornwall Partnership NHS Foundation Trust"),
    DemoUser("demo-mental-health", "Kerensa Hicks", "mental_health_practitioner", "RJ8",
             ("cmht-central", "mental-health-crisis"),
             "Community mental-health nurse, Cornwall Partnership NHS Foundation Trust"),
    DemoUser("demo-social-worker", "Demelza Pascoe", "social_worker", "ZLA01",
             ("social-work-assessment",), "Adult social worker, Cornwall Council"),
    DemoUser("demo-care-coordinator", "Loveday Nance", "care_coordinator", "QT6",
             ("coordination-centre",),
             "Complex care coordinator, NHS Cornwall and Isles of Scilly ICB"),
    DemoUser("demo-paramedic", "Piran Jory", "paramedic", "RYF", ("ambulance-999",),
             "Paramedic, South Western Ambulance Service NHS Foundation Trust"),
    DemoUser("demo-vcse", "Jenna Carne", "voluntary_sector_worker", "ZV001", ("befriending",),
             "Community connector, Age UK Cornwall and the Isles of Scilly"),
    DemoUser("demo-analyst", "Elowen Tonkin", "analyst", "QT6", (),
             "Population health analyst, NHS Cornwall and Isles of Scilly ICB"),
    DemoUser("demo-privacy-officer", "Bryok Angove", "privacy_officer", "QT6", (),
             "Caldicott Guardian's office, NHS Cornwall and Isles of Scilly ICB"),
    DemoUser("demo-administrator", "Conan Spargo", "administrator", "QT6", (),
             "Platform administrator, NHS Cornwall and Isles of Scilly ICB"),
)  # fmt: skip


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    """The signing key at ``path``, made (RSA 2048, file mode 0600) the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Written to a private temporary file (mkstemp makes it 0600), then linked into
        # place: another process starting at the same moment keeps whichever came first.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".key-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(pem)
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    os.chmod(path, 0o600)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return loaded


class DevIdentityProvider:
    """The development provider for ``settings``: its key, its demo users, its tokens."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer = settings.oidc_issuer or DEV_ISSUER
        self.key_path = settings.var_dir / "dev-idp" / "signing-key.pem"
        self._key = _load_or_create_key(self.key_path)
        public = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        # The key id is the key's RFC 7638 thumbprint, so a new key gets a new id.
        self.kid = _thumbprint(public)
        self._public_jwk = {
            "kty": "RSA",
            "n": public["n"],
            "e": public["e"],
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
        }

    def demo_users(self) -> list[DemoUser]:
        """One demo user per role."""
        return list(DEMO_USERS)

    def demo_user(self, subject: str) -> DemoUser | None:
        """The demo user with this subject, if there is one."""
        return next((u for u in DEMO_USERS if u.subject == subject), None)

    def issue(self, subject: str, *, minutes: int = 60, now: datetime | None = None) -> str:
        """A signed RS256 token for the demo user ``subject`` (KeyError if there is none)."""
        user = self.demo_user(subject)
        if user is None:
            raise KeyError(subject)
        issued = now or datetime.now(UTC)
        claims = {
            "iss": self.issuer,
            "sub": user.subject,
            "aud": self.settings.oidc_audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + timedelta(minutes=minutes),
            "name": user.name,
            self.settings.role_claim: user.role,
            self.settings.organisation_claim: user.organisation,
            SERVICES_CLAIM: list(user.services),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def jwks(self) -> dict[str, Any]:
        """The public signing key as a JSON Web Key Set."""
        return {"keys": [dict(self._public_jwk)]}


def _thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of an RSA public key (base64url SHA-256 of its canonical JSON)."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# --- HTTP: discovery, JWKS and the token endpoint ----------------------------------------

router = APIRouter(prefix="/dev-idp", tags=["development identity provider"])


def provider_for(request: Request) -> DevIdentityProvider:
    """The app's development provider (one per app); 404 unless ``dev_idp`` is on."""
    settings: Settings = request.app.state.settings
    if not settings.dev_idp:
        raise HTTPException(status_code=404, detail="Not Found")
    provider: DevIdentityProvider | None = getattr(request.app.state, "dev_idp", None)
    if provider is None:
        provider = DevIdentityProvider(settings)
        request.app.state.dev_idp = provider
    return provider


@router.get("/.well-known/openid-configuration", include_in_schema=False)
def openid_configuration(request: Request) -> dict[str, Any]:
    """The provider's OpenID Connect discovery document."""
    provider = provider_for(request)
    return {
        "issuer": provider.issuer,
        "jwks_uri": str(request.url_for("dev_idp_jwks")),
        "token_endpoint": str(request.url_for("dev_idp_token")),
        "response_types_supported": ["token"],
        "grant_types_supported": ["password"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": [
            "sub",
            "name",
            provider.settings.role_claim,
            provider.settings.organisation_claim,
            SERVICES_CLAIM,
        ],
    }


@router.get("/jwks.json", name="dev_idp_jwks", include_in_schema=False)
def jwks(request: Request) -> dict[str, Any]:
    """The provider's public signing keys."""
    return provider_for(request).jwks()


@router.get("/users", include_in_schema=False)
def users(request: Request) -> list[dict[str, Any]]:
    """The demo users one can sign in as."""
    return [
        {
            "subject": u.subject,
            "name": u.name,
            "role": u.role,
            "organisation": u.organisation,
            "services": list(u.services),
            "description": u.description,
        }
        for u in provider_for(request).demo_users()
    ]


@router.post("/token", name="dev_idp_token", include_in_schema=False)
def token(request: Request, username: Annotated[str, Form()]) -> dict[str, Any]:
    """A signed token for the demo user ``username`` (no password: demo only)."""
    provider = provider_for(request)
    minutes = 60
    try:
        access_token = provider.issue(username, minutes=minutes)
    except KeyError:
        raise HTTPException(status_code=400, detail="invalid_grant: no such demo user") from None
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": minutes * 60}
