"""The values access control works with: users, relationships, decisions and refusals.

None of these carries patient data in its text: reasons are written for the user to read
and for log files, so they say *why* ("no legitimate relationship"), never *who*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class User:
    """A signed-in user, as their identity provider's token describes them."""

    subject: str  # the token's `sub`
    name: str
    role: str  # one of the policy's roles
    organisation: str  # ODS code of the user's organisation, e.g. "L99021" or "REF"
    services: tuple[str, ...] = ()  # ids of directory services the user works in


@dataclass(frozen=True)
class Relationship:
    """What the record knows about one person that could give a user a reason to see it."""

    registered_practices: frozenset[str] = frozenset()  # ODS codes of the person's practices
    open_care_organisations: frozenset[str] = frozenset()  # open encounter or episode with
    referred_services: frozenset[str] = frozenset()  # service ids with an open referral
    care_team_members: frozenset[str] = frozenset()  # user subjects and/or ODS codes
    objection: bool = False  # the person objects to sharing their record


@dataclass(frozen=True)
class Decision:
    """Whether a user may do a person-level action, and why (never naming the person)."""

    allowed: bool
    reason: str  # human words, e.g. "registered at your practice"
    basis: str  # registered | open_care | referral | care_team | break_glass | role | none
    break_glass: bool = False


@dataclass(frozen=True)
class BreakGlass:
    """An emergency access a user opened to one person's record, with their reason."""

    id: int
    user_subject: str
    user_name: str
    role: str
    organisation: str
    person_key: str
    reason: str
    opened_at: datetime
    expires_at: datetime
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_note: str | None = None

    def active(self, now: datetime) -> bool:
        """True while the access is open (from opening until it expires)."""
        return self.opened_at <= now < self.expires_at


@dataclass(eq=False)
class AccessDenied(Exception):
    """A refusal: 401 (not signed in, or a bad token) or 403 (signed in, not allowed).

    ``reason`` is safe to show to the user and to log: it never contains patient data or
    the token. ``code`` is a short machine code ("expired", "bad-signature", "forbidden", ...).
    """

    status: int
    reason: str
    code: str = field(default="forbidden")

    def __post_init__(self) -> None:
        super().__init__(self.reason)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.reason}"
