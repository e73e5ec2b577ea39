"""The identity review page: pairs linkage could not decide, side by side, with the model's reasons.

Person-level data: this page is for the ICS's identity (data quality) staff. Until the
shared care record's access control arrives, JoinedUp serves on 127.0.0.1 only by default.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from joinedup.api.deps import SessionDep
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
def review_page(request: Request, session: SessionDep, message: str | None = None) -> HTMLResponse:
    """The open review queue, most probable pairs first."""
    items = review_items(session, limit=25)
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
    review_id: int,
    session: SessionDep,
    decision: Annotated[str, Form()],
    reviewer: Annotated[str, Form(min_length=1, max_length=100)],
) -> RedirectResponse:
    """Record a link or not-link decision, then back to the queue."""
    try:
        with session.begin():
            decide(session, review_id, decision, by=reviewer, at=datetime.now(UTC))
        message = f"Pair {review_id}: {'linked' if decision == 'link' else 'kept apart'}."
    except ReviewError as error:
        message = str(error)
    # 303: the browser follows with a GET, so a refresh doesn't post the decision again.
    return RedirectResponse("/identity/review?" + urlencode({"message": message}), status_code=303)
