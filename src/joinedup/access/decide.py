"""The access rule for one person, as pure functions (no database, no clock).

:func:`decide_person` says whether a user may read, search or write one person's record:
the role must allow the action, and the user needs a legitimate relationship with the
person or an active break-glass. :func:`item_visible` then filters the record item by item:
sensitive items only for the roles the policy allows, and, when the person objects to
sharing, only the items the user's own organisation recorded (unless break-glass).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from joinedup.access.model import BreakGlass, Decision, Relationship, User
from joinedup.access.policy import Policy

#: The actions that need a legitimate relationship with the person.
PERSON_ACTIONS = ("record.read", "record.search", "record.write")


def relationship_basis(user: User, relationship: Relationship) -> Decision | None:
    """The user's legitimate relationship with the person, as an allowing decision, or None."""
    if user.organisation in relationship.registered_practices:
        return Decision(True, "registered at your practice", "registered")
    if user.organisation in relationship.open_care_organisations:
        return Decision(True, "open encounter or episode with your organisation", "open_care")
    if relationship.referred_services & set(user.services):
        return Decision(True, "referred to your service", "referral")
    if {user.subject, user.organisation} & relationship.care_team_members:
        return Decision(True, "you are on their care team", "care_team")
    return None


def decide_person(
    policy: Policy,
    user: User,
    action: str,
    relationship: Relationship,
    *,
    break_glass: BreakGlass | None,
    now: datetime,
) -> Decision:
    """May ``user`` do ``action`` on one person's record? The whole rule, in order.

    1. The user's role must allow the action (an analyst's never does).
    2. A legitimate relationship allows it: registered at the user's practice, an open
       encounter or episode with the user's organisation, a referral to one of the user's
       services, or membership of the person's care team.
    3. Otherwise an active break-glass of this user for this person allows it (and the
       role must still be one that may break glass).
    4. Otherwise it is refused: no legitimate relationship.

    An objection does not refuse the action here; :func:`item_visible` limits what is seen.
    """
    if not policy.allows(user.role, action):
        return Decision(False, "your role does not allow this", "role")
    glass_open = (
        break_glass is not None
        and break_glass.user_subject == user.subject
        and break_glass.active(now)
        and policy.allows(user.role, "break_glass")
    )
    basis = relationship_basis(user, relationship)
    if basis is not None and not (glass_open and relationship.objection):
        return basis
    if glass_open:
        return Decision(True, "break-glass access (emergency, reviewed)", "break_glass", True)
    if basis is not None:
        return basis
    return Decision(False, "no legitimate relationship", "none")


def item_visible(
    policy: Policy,
    user: User,
    resource: Mapping[str, Any],
    partner_of_item: str,
    relationship: Relationship,
    decision: Decision,
) -> bool:
    """May the user see this one item of a person's record, given the person's decision?

    Sensitive items (sexual health, mental health, safeguarding) only for the roles the
    policy allows, break-glass or not. With an objection, only items the user's own
    organisation recorded (``partner_of_item == user.organisation``), unless break-glass
    and the policy lets break-glass override an objection.
    """
    if not decision.allowed:
        return False
    if not all(policy.may_see_sensitive(user.role, c) for c in policy.sensitivity(resource)):
        return False
    if relationship.objection and partner_of_item != user.organisation:
        return decision.break_glass and policy.objection_break_glass_overrides
    return True
