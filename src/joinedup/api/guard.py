"""The one gate to person-level data, for the FHIR API and the pages alike.

Every read of a person's record goes through :class:`Guard`: it finds the person, works
out the user's relationship to them from the record, asks the policy, keeps only the items
the user may see, and writes the audit entry, refusals included. Audit entries are written
in a transaction of their own, so a refused or failed request is still on the record.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from joinedup.access import audit
from joinedup.access.decide import decide_person, item_visible
from joinedup.access.model import AccessDenied, Decision, Relationship, User
from joinedup.access.policy import CATEGORIES, Policy, load_policy
from joinedup.access.store import active_break_glass, has_objection
from joinedup.directory.store import read_directory
from joinedup.records.person import person_relationship
from joinedup.records.query import Source, StoredResource, person_resources, sources

#: The most items of one person filtered in memory for one search (far above any record).
MAX_FILTERED = 100_000


@dataclass(frozen=True)
class PersonAccess:
    """What one user may see of one person, and why."""

    person_key: str
    decision: Decision
    relationship: Relationship
    sources: list[Source]
    resources: list[StoredResource]  # the record the user may see (when asked for)


class Guard:
    """Person-level access for one user in one request."""

    def __init__(
        self,
        session: Session,
        sessions: sessionmaker[Session],
        user: User,
        policy: Policy,
        *,
        now: datetime | None = None,
    ) -> None:
        self.session = session
        self.sessions = sessions
        self.user = user
        self.policy = policy
        self.now = now or datetime.now(UTC)
        self._practices: frozenset[str] | None = None
        self._audit_lock: threading.Lock | None = None

    @classmethod
    def for_request(cls, request: Request, session: Session, user: User) -> Guard:
        """The guard for a request: the app's policy file and session factory."""
        settings = request.app.state.settings
        guard = cls(session, request.app.state.sessions, user, load_policy(settings.policy_file))
        guard._audit_lock = request.app.state.audit_lock  # made with the app
        # The practices change only when the directory is loaded again: read them once.
        known = getattr(request.app.state, "practices", None)
        if known:
            guard._practices = known
        else:
            request.app.state.practices = guard.practices
        return guard

    @property
    def practices(self) -> frozenset[str]:
        """The ODS codes of the ICS's GP practices (their feeds are registered lists)."""
        if self._practices is None:
            directory = read_directory(self.session)
            self._practices = frozenset(
                p.ods_code for p in (directory.practices if directory else ())
            )
        return self._practices

    def require(self, action: str, what: str) -> None:
        """Refuse (and audit) an action the user's role never has."""
        if not self.policy.allows(self.user.role, action):
            self.record(action, what, None, "refused", "your role does not allow this")
            raise AccessDenied(403, "your role does not allow this", "forbidden")

    def _decide(
        self, person_key: str, action: str
    ) -> tuple[list[Source], Relationship, Decision] | None:
        """The person's sources, the user's relationship and the policy's decision; None
        when there is no such person."""
        found = sources(self.session, person_key)
        if not found:
            return None
        related = person_relationship(
            self.session,
            person_key,
            found,
            practices=self.practices,
            objection=has_objection(self.session, person_key),
        )
        glass = active_break_glass(self.session, self.user.subject, person_key, self.now)
        decision = decide_person(
            self.policy, self.user, action, related, break_glass=glass, now=self.now
        )
        return found, related, decision

    def person_if_related(self, person_key: str, action: str, what: str) -> PersonAccess | None:
        """For a list the user did not ask for person by person (a cohort's worklist): the
        person, audited, if the user has a legitimate relationship with them and they have
        not objected to sharing; otherwise None, and nothing about them is shown (so there
        is nothing to audit). Break-glass never puts a person on a list."""
        decided = self._decide(person_key, action)
        if decided is None:
            return None
        found, related, decision = decided
        if not decision.allowed or decision.break_glass or related.objection:
            return None
        self.record(action, what, person_key, "success", decision.reason)
        return PersonAccess(person_key, decision, related, found, [])

    def person(
        self, person_key: str, action: str, what: str, *, whole_record: bool = False
    ) -> PersonAccess | None:
        """The person as this user may see them; None if there is no such person.

        With ``whole_record``, every resource of the record the user may see is loaded too
        (for the single patient view). Raises :class:`AccessDenied` (after auditing the
        refusal) without a legitimate relationship or active break-glass.
        """
        decided = self._decide(person_key, action)
        if decided is None:
            return None
        found, related, decision = decided
        if not decision.allowed:
            self.record(action, what, person_key, "refused", decision.reason)
            raise AccessDenied(403, decision.reason, "forbidden")
        self.record(
            action, what, person_key, "success", decision.reason, break_glass=decision.break_glass
        )
        access = PersonAccess(person_key, decision, related, found, [])
        if whole_record:
            everything = person_resources(self.session, person_key)
            access = replace(access, resources=self.visible(access, everything))
        return access

    def hides_items(self, access: PersonAccess) -> bool:
        """Whether some of the person's items may be hidden from this user (sensitive
        categories the role lacks, or the person's objection), so counts must be of what
        is visible rather than of what matches."""
        if access.relationship.objection and not access.decision.break_glass:
            return True
        return not all(self.policy.may_see_sensitive(self.user.role, c) for c in CATEGORIES)

    def page(
        self,
        access: PersonAccess,
        fetch: Callable[[int, int], tuple[int, list[StoredResource]]],
        count: int,
        offset: int,
    ) -> tuple[int, list[StoredResource]]:
        """One page of what ``fetch(count, offset)`` finds that the user may see, and the
        total of those. When items may be hidden, everything matching is fetched and
        filtered first, so neither the total nor the pages give a hidden item away."""
        if not self.hides_items(access):
            total, rows = fetch(count, offset)
            return total, self.visible(access, rows)
        _, rows = fetch(MAX_FILTERED, 0)
        shown = self.visible(access, rows)
        return len(shown), shown[offset : offset + count]

    def visible(
        self, access: PersonAccess, resources: Iterable[StoredResource]
    ) -> list[StoredResource]:
        """Of ``resources`` (all about the person), those the user may see."""
        return [
            r
            for r in resources
            if item_visible(
                self.policy, self.user, r.content, r.partner, access.relationship, access.decision
            )
        ]

    def record_many(
        self,
        action: str,
        entries: Sequence[tuple[str, str | None]],
        outcome: str,
        reason: str,
        *,
        break_glass: bool = False,
    ) -> None:
        """Write one audit entry per (what, person key), all in one transaction of its own
        (a list of people shown at once, such as a ward board, is one append).

        Within one process the app's threads take turns (a lock): the chain is appended one
        entry at a time anyway, and SQLite would otherwise make waiting writers sleep.
        """
        if not entries:
            return
        with self._audit_lock or contextlib.nullcontext(), self.sessions.begin() as session:
            audit.record_many(
                session,
                [
                    audit.entry_for(
                        self.user,
                        action,
                        what[:500],
                        person_key=person_key,
                        outcome=outcome,
                        reason=reason[:300],
                        break_glass=break_glass,
                        at=self.now,
                    )
                    for what, person_key in entries
                ],
            )

    def record(
        self,
        action: str,
        what: str,
        person_key: str | None,
        outcome: str,
        reason: str,
        *,
        break_glass: bool = False,
    ) -> None:
        """Write one audit entry in a transaction of its own."""
        self.record_many(action, [(what, person_key)], outcome, reason, break_glass=break_glass)


def people_visible(
    guard: Guard, person_keys: Sequence[str], action: str, what: str
) -> list[PersonAccess]:
    """Of the people a search found, those the user may see (the others are left out)."""
    allowed = []
    for key in person_keys:
        try:
            access = guard.person(key, action, what)
        except AccessDenied:
            continue
        if access is not None:
            allowed.append(access)
    return allowed
