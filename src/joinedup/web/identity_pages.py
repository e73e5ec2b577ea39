"""The identity review page: pairs linkage could not decide, side by side, with the model's reasons.

Person-level data: only roles the access policy gives ``identity.review`` (the platform's
administrators) see it, and every view and decision is audited. Decisions are recorded
under the signed-in user's name.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from joinedup.access.deps import CurrentUser
from joinedup.api.deps import SessionDep
from joinedup.api.guard import Guard
from joinedup.identity.review import ReviewError, decide, review_items
from joinedup.web.pages import templates

router = APIRouter(include_in_schema=False)

#: The comparisons as a reviewer would name them.
COMPARISON_NAMES = {
    "given_name": "Given name",
    "family_name": "Family name",
    "birth_date": "Date of birth",
    "sex": "Sex",
    "residence": "Postcode and address",
    "postcode": "Postcode",
    "address_line": "Address",
    "nhs_number": "NHS number",
    "email": "Email",
}

FIELDS = (
    ("NHS number", "nhs_number"),
    ("Given name", "given"),
    ("Family name", "family"),
    ("Date of birth", "birth_date"),
    ("Sex", "sex"),
    ("Postcode", "postcode"),
    ("Address", "address_line"),
    ("Partner and feed", "source"),
    ("Local id", "local_id"),
)


@router.get("/identity/review", response_class=HTMLResponse)
def review_page(
    request: Request, session: SessionDep, user: CurrentUser, message: str | None = None
) -> HTMLResponse:
    """The open review queue, most probable pairs first."""
    guard = Guard.for_request(request, session, user)
    guard.require("identity.review", "identity review queue")
    items = review_items(session, limit=25)
    guard.record(
        "identity.review", f"identity review queue ({len(items)} pairs)", None, "success", "review"
    )
    pairs = []
    for item in items:
        left = {**item.left.__dict__, "source": f"{item.left.partner} {item.left.feed}"}
        right = {**item.right.__dict__, "source": f"{item.right.partner} {item.right.feed}"}
        rows = [
            {
                "label": label,
                "left": left[key] or "",
                "right": right[key] or "",
                "same": (left[key] or "") == (right[key] or ""),
            }
            for label, key in FIELDS
        ]
        reasons = [
            {
                "name": COMPARISON_NAMES.get(name.removeprefix("tf_adj_"), name)
                + (" (how common)" if name.startswith("tf_adj_") else ""),
                "weight": weight,
                "width": min(abs(weight) * 8, 100),
            }
            for name, weight in item.explanation.items()
            if abs(weight) >= 0.05
        ]
        pairs.append({"item": item, "rows": rows, "reasons": reasons})
    return templates.TemplateResponse(
        request, "identity_review.html", {"pairs": pairs, "message": message}
    )


@router.post("/identity/review/{review_id}")
def review_decision(
    request: Request,
    review_id: int,
    session: SessionDep,
    user: CurrentUser,
    decision: Annotated[str, Form()],
) -> RedirectResponse:
    """Record a link or not-link decision, then back to the queue."""
    guard = Guard.for_request(request, session, user)
    what = f"identity review pair {review_id}: {decision}"
    guard.require("identity.review", what)
    try:
        with request.app.state.sessions.begin() as writing:
            decide(writing, review_id, decision, by=user.name, at=guard.now)
        message = f"Pair {review_id}: {'linked' if decision == 'link' else 'kept apart'}."
        guard.record("identity.review", what, None, "success", "decided")
    except ReviewError as error:
        message = str(error)
    # 303: the browser follows with a GET, so a refresh doesn't post the decision again.
    return RedirectResponse("/identity/review?" + urlencode({"message": message}), status_code=303)
