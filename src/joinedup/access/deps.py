"""FastAPI wiring: the signed-in user, the policy, and refusals as HTTP responses.

The verifier and policy are made once per app and kept on ``app.state``; settings are at
``request.app.state.settings``. Install with :func:`install` (exception handler and the
development provider's router), then declare ``user: CurrentUser`` in a route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from joinedup.access import dev_idp
from joinedup.access.model import AccessDenied, User
from joinedup.access.policy import Policy, load_policy
from joinedup.access.tokens import TokenVerifier
from joinedup.settings import Settings

#: The cookie web pages keep the signed-in user's token in.
SESSION_COOKIE = "joinedup_session"


def get_policy(request: Request) -> Policy:
    """The app's access policy (read once from ``settings.policy_file``)."""
    policy: Policy | None = getattr(request.app.state, "access_policy", None)
    if policy is None:
        settings: Settings = request.app.state.settings
        policy = load_policy(settings.policy_file)
        request.app.state.access_policy = policy
    return policy


def token_verifier(request: Request) -> TokenVerifier:
    """The app's one :class:`TokenVerifier` (its JWKS cache lives as long as the app)."""
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        verifier = TokenVerifier(request.app.state.settings, policy=get_policy(request))
        request.app.state.token_verifier = verifier
    return verifier


def bearer_token(request: Request) -> str | None:
    """The token from ``Authorization: Bearer ...`` or, for pages, the session cookie."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AccessDenied(401, "use an Authorization: Bearer token", "malformed")
        return token.strip()
    return request.cookies.get(SESSION_COOKIE) or None


def current_user(request: Request) -> User:
    """The signed-in user; :class:`AccessDenied` (401) if there is no good token."""
    token = bearer_token(request)
    if token is None:
        raise AccessDenied(401, "sign in first: no bearer token or session", "missing")
    return token_verifier(request).verify(token)


CurrentUser = Annotated[User, Depends(current_user)]
PolicyDep = Annotated[Policy, Depends(get_policy)]


def require(action: str) -> Callable[..., User]:
    """A dependency: the signed-in user, if their role may do ``action`` (else 403)."""

    def dependency(user: CurrentUser, policy: PolicyDep) -> User:
        if not policy.allows(user.role, action):
            raise AccessDenied(403, "your role does not allow this", "forbidden")
        return user

    return dependency


def access_denied_response(error: AccessDenied) -> JSONResponse:
    """A refusal as a FHIR ``OperationOutcome``; a 401 also says how to authenticate."""
    body: dict[str, Any] = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "login" if error.status == 401 else "forbidden",
                "details": {"text": error.reason},
                "diagnostics": error.code,
            }
        ],
    }
    headers = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = (
            f'Bearer error="invalid_token", error_description="{error.reason}"'
            if error.code != "missing"
            else "Bearer"
        )
    return JSONResponse(
        body, status_code=error.status, headers=headers, media_type="application/fhir+json"
    )


async def _handle_access_denied(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AccessDenied)
    return access_denied_response(error)


def install(app: FastAPI) -> None:
    """Turn :class:`AccessDenied` into 401/403 responses and mount the development provider
    (its routes answer 404 unless ``settings.dev_idp`` is on)."""
    app.add_exception_handler(AccessDenied, _handle_access_denied)
    app.include_router(dev_idp.router)
