"""Verifying the bearer tokens (JWTs) an OpenID Connect provider issues.

Only RS256 is accepted: ``alg: none`` and HMAC algorithms are refused before the signature
is looked at, so a token "signed" with the provider's public key as an HMAC secret gets
nowhere. The issuer, audience and signing keys (JWKS, from a URL or a file, or the
development provider's) come from the settings; see ``docs/access.md``. Every refusal is
an :class:`~joinedup.access.model.AccessDenied` with status 401 and a code; none repeats
the token or any claim's value.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from joinedup.access.dev_idp import SERVICES_CLAIM, DevIdentityProvider
from joinedup.access.model import AccessDenied, User
from joinedup.access.policy import Policy, load_policy
from joinedup.settings import Settings

#: Seconds a fetched JWKS is used before it is fetched again.
JWKS_TTL = 300.0
#: At most one extra fetch this often when a token names a key we don't have (key rotation).
JWKS_REFETCH_AFTER = 30.0
#: Clock difference tolerated between the provider and JoinedUp, in seconds.
LEEWAY = 30

_ERRORS: tuple[tuple[type[Exception], str, str], ...] = (
    (jwt.ExpiredSignatureError, "expired", "the token has expired"),
    (jwt.ImmatureSignatureError, "not-yet-valid", "the token is not valid yet"),
    (jwt.InvalidAudienceError, "wrong-audience", "the token was not issued for JoinedUp"),
    (jwt.InvalidIssuerError, "wrong-issuer", "the token was not issued by the trusted provider"),
    (jwt.InvalidSignatureError, "bad-signature", "the token's signature is not valid"),
    (jwt.MissingRequiredClaimError, "missing-claim", "the token lacks a required claim"),
    (jwt.InvalidAlgorithmError, "bad-algorithm", "tokens must be signed with RS256"),
    (jwt.DecodeError, "malformed", "the token is not a valid JWT"),
    (jwt.InvalidTokenError, "invalid", "the token is not valid"),
)


def _refused(code: str, reason: str) -> AccessDenied:
    return AccessDenied(401, reason, code)


def parse_jwks(jwks: object) -> dict[str | None, RSAPublicKey]:
    """The RS256 signing keys of a JWKS, by key id (``None`` for a key without one)."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise ValueError("a JWKS is an object with a 'keys' list")
    keys: dict[str | None, RSAPublicKey] = {}
    for jwk in jwks["keys"]:
        if not isinstance(jwk, Mapping) or jwk.get("kty") != "RSA":
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
            continue
        key = RSAAlgorithm.from_jwk(dict(jwk))
        if isinstance(key, RSAPublicKey):
            keys[jwk.get("kid")] = key
    return keys


class TokenVerifier:
    """Checks a bearer token and says which :class:`User` it is, or refuses it (401).

    Keys come from ``oidc_jwks_file`` (read once), ``oidc_jwks_url`` (fetched with httpx,
    cached for :data:`JWKS_TTL` seconds and fetched again when a token names an unknown
    key) and, with ``dev_idp`` on, the development provider. One verifier per app.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        policy: Policy | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy if policy is not None else load_policy(settings.policy_file)
        self._http = http
        self._lock = threading.Lock()
        self._static: dict[str | None, RSAPublicKey] = {}
        self._fetched: dict[str | None, RSAPublicKey] = {}
        self._fetched_at = float("-inf")
        self.issuer = settings.oidc_issuer
        if settings.dev_idp:
            provider = DevIdentityProvider(settings)
            self.issuer = provider.issuer
            self._static.update(parse_jwks(provider.jwks()))
        if settings.oidc_jwks_file is not None:
            self._static.update(parse_jwks(orjson.loads(settings.oidc_jwks_file.read_bytes())))

    def _fetch(self) -> None:
        url = self.settings.oidc_jwks_url
        if url is None:
            return
        try:
            if self._http is not None:
                response = self._http.get(url, timeout=10.0)
            else:
                response = httpx.get(url, timeout=10.0)
            response.raise_for_status()
            self._fetched = parse_jwks(response.json())
        except (httpx.HTTPError, ValueError):
            raise _refused(
                "keys-unavailable", "the identity provider's signing keys cannot be fetched"
            ) from None
        finally:
            self._fetched_at = time.monotonic()

    def _key(self, kid: str | None) -> RSAPublicKey:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if self.settings.oidc_jwks_url is not None and (
                age > JWKS_TTL or (kid not in self._fetched and age > JWKS_REFETCH_AFTER)
            ):
                self._fetch()
            keys = {**self._static, **self._fetched}
        if not keys:
            raise _refused("not-configured", "no identity provider is configured")
        if kid in keys:
            return keys[kid]
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))
        raise _refused("unknown-key", "the token was signed with an unknown key")

    def verify(self, token: str) -> User:
        """The user ``token`` speaks for; :class:`AccessDenied` (401) if it is not good."""
        if self.issuer is None:
            raise _refused("not-configured", "no identity provider is configured")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _refused("malformed", "the token is not a valid JWT") from None
        if header.get("alg") != "RS256":
            raise _refused("bad-algorithm", "tokens must be signed with RS256")
        kid = header.get("kid")
        key = self._key(kid if isinstance(kid, str) else None)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self.settings.oidc_audience,
                issuer=self.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError as error:
            for kind, code, reason in _ERRORS:
                if isinstance(error, kind):
                    raise _refused(code, reason) from None
            raise  # pragma: no cover - _ERRORS ends with the base class
        return self._user(claims)

    def _user(self, claims: Mapping[str, Any]) -> User:
        role = claims.get(self.settings.role_claim)
        if isinstance(role, list) and len(role) == 1:
            role = role[0]
        if not isinstance(role, str) or not role:
            raise _refused("missing-claim", f"the token has no '{self.settings.role_claim}' role")
        if role not in self.policy.roles:
            raise _refused("unknown-role", "the token's role is not one the policy knows")
        organisation = claims.get(self.settings.organisation_claim)
        if not isinstance(organisation, str) or not organisation:
            raise _refused(
                "missing-claim",
                f"the token has no '{self.settings.organisation_claim}' organisation",
            )
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise _refused("missing-claim", "the token has no subject")
        services = claims.get(SERVICES_CLAIM) or []
        if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
            raise _refused("bad-claim", f"'{SERVICES_CLAIM}' must be a list of service ids")
        name = claims.get("name")
        return User(
            subject=subject,
            name=name if isinstance(name, str) and name else subject,
            role=role,
            organisation=organisation,
            services=tuple(services),
        )
