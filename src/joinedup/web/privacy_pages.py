"""The privacy officer's page: break-glass uses to review, and unusual access.

Only roles the policy gives ``audit.review`` see it; every view of it is audited too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from joinedup.access import audit
from joinedup.access.deps import CurrentUser
from joinedup.access.store import break_glass_for_review, mark_reviewed
from joinedup.api.deps import SessionDep
from joinedup.api.guard import Guard
from joinedup.web.pages import templates
from joinedup.web.record_pages import ROLE_NAMES

router = APIRouter(include_in_schema=False)


@router.get("/privacy", response_class=HTMLResponse)
def privacy_page(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """Break-glass uses awaiting review and unusual access over the last week."""
    guard = Guard.for_request(request, session, user)
    guard.require("audit.review", "privacy review page")
    guard.record("audit.review", "privacy review page", None, "success", "privacy review")
    return templates.TemplateResponse(
        request,
        "privacy.html",
        {
            "user": user,
            "role_name": ROLE_NAMES.get(user.role, user.role),
            "grants": break_glass_for_review(session),
            "unusual": audit.unusual_access(session, guard.now - timedelta(days=7), guard.now),
        },
    )


@router.post("/privacy/break-glass/{grant_id}/reviewed")
def reviewed(
    request: Request,
    grant_id: int,
    session: SessionDep,
    user: CurrentUser,
    note: Annotated[str, Form()] = "",
) -> Response:
    """Mark one break-glass use as reviewed, with the reviewer's note."""
    guard = Guard.for_request(request, session, user)
    guard.require("audit.review", f"break-glass {grant_id}")
    with request.app.state.sessions.begin() as writing:
        mark_reviewed(writing, grant_id, user.subject, note.strip(), guard.now)
    guard.record("audit.review", f"break-glass {grant_id}", None, "success", "reviewed")
    return RedirectResponse("/privacy", status_code=303)
