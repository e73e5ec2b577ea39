"""The access matrix: role x relationship x sensitivity x objection x break-glass.

Pins the shipped policy (src/joinedup/access/policy.yaml) and the rule in
src/joinedup/access/decide.py against the requirements written down in docs/access.md:

- a person-level read needs a legitimate relationship: registered at the user's practice,
  an open encounter or episode with the user's organisation, a referral to the user's
  service, or membership of the person's care team;
- sensitive items (sexual health, mental health, safeguarding) only for the roles the
  policy allows, break-glass or not;
- with an objection to sharing, a user sees only the items their own organisation recorded,
  unless break-glass;
- break-glass (HL7 v3 ActReason ``BTG``, "break the glass") opens access for a limited time
  (4 hours) with a typed reason; paramedics and clinicians may, analysts never;
- analysts get no person-level data at all.

The expected outcomes are the two tables below, written out by hand; the test checks every
one of the 1,600 combinations against them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from joinedup.access.decide import decide_person, item_visible
from joinedup.access.model import BreakGlass, Relationship, User
from joinedup.access.policy import ACT_CODE_SYSTEM, load_policy
from joinedup.settings import DEFAULT_POLICY

POLICY = load_policy(DEFAULT_POLICY)
NOW = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)

# What each role may do and see. Y = yes, - = no. "counts" is population health's
# aggregate figures (analytics.read); "worklist" a cohort's people by name, only those the
# user has a relationship with (population.worklist, a person-level action).
#                              read search write glass sexual mental safeguarding counts worklist
ROLE_TABLE = """
gp                             Y    Y      Y     Y     Y      Y      Y            Y      Y
hospital_clinician             Y    Y      Y     Y     Y      Y      Y            Y      -
community_nurse                Y    Y      Y     Y     -      -      Y            Y      Y
mental_health_practitioner     Y    Y      Y     Y     -      Y      Y            Y      Y
social_worker                  Y    Y      Y     -     -      -      Y            Y      -
care_coordinator               Y    Y      Y     -     -      -      -            Y      Y
paramedic                      Y    Y      -     Y     -      Y      Y            -      -
voluntary_sector_worker        -    -      -     -     -      -      -            -      -
analyst                        -    -      -     -     -      -      -            Y      -
privacy_officer                -    -      -     -     -      -      -            -      -
administrator                  -    -      -     -     -      -      -            -      -
"""

# For a role that may read (and, where "glass" is Y, may break glass): is a non-sensitive
# item visible, and on what basis? "rel" is the relationship's own basis.
#  relationship objection glass item    visible basis
OUTCOME_TABLE = """
none           no        no    own     -       none
none           no        no    other   -       none
none           no        yes   own     Y       break_glass
none           no        yes   other   Y       break_glass
none           yes       no    own     -       none
none           yes       no    other   -       none
none           yes       yes   own     Y       break_glass
none           yes       yes   other   Y       break_glass
some           no        no    own     Y       rel
some           no        no    other   Y       rel
some           no        yes   own     Y       rel
some           no        yes   other   Y       rel
some           yes       no    own     Y       rel
some           yes       no    other   -       rel
some           yes       yes   own     Y       break_glass
some           yes       yes   other   Y       break_glass
"""

COLUMNS = (
    "read",
    "search",
    "write",
    "glass",
    "sexual_health",
    "mental_health",
    "safeguarding",
    "counts",
    "worklist",
)
ROLES = {
    line.split()[0]: dict(zip(COLUMNS, (c == "Y" for c in line.split()[1:]), strict=True))
    for line in ROLE_TABLE.strip().splitlines()
}
OUTCOMES = {
    (rel, objection == "yes", glass == "yes", item): (visible == "Y", basis)
    for rel, objection, glass, item, visible, basis in (
        line.split() for line in OUTCOME_TABLE.strip().splitlines()
    )
}
RELATIONSHIPS = ("none", "registered", "open_care", "referral", "care_team")
SENSITIVITY = ("none", "sexual_health", "mental_health", "safeguarding")
LABEL = {"sexual_health": "STD", "mental_health": "PSY", "safeguarding": "SDV"}
OWN, OTHER = "ZZ001", "ZZ999"


def _user(role: str) -> User:
    return User(f"u-{role}", "A User", role, OWN, ("svc-1",))


def _relationship(kind: str, user: User, objection: bool) -> Relationship:
    # "none" still has relationships, but with other organisations, services and people.
    return Relationship(
        registered_practices=frozenset({user.organisation if kind == "registered" else "L99001"}),
        open_care_organisations=frozenset({user.organisation if kind == "open_care" else "REF"}),
        referred_services=frozenset({"svc-1" if kind == "referral" else "svc-2"}),
        care_team_members=frozenset({user.subject if kind == "care_team" else "someone-else"}),
        objection=objection,
    )


def _glass(user: User, opened: datetime = NOW - timedelta(minutes=5)) -> BreakGlass:
    return BreakGlass(
        1, user.subject, user.name, user.role, user.organisation, "p1",
        "Unconscious in ED, no history available", opened, opened + POLICY.break_glass_duration,
    )  # fmt: skip


def _item(sensitivity: str) -> dict[str, object]:
    if sensitivity == "none":
        return {"resourceType": "Observation", "status": "final"}
    return {
        "resourceType": "Observation",
        "meta": {"security": [{"system": ACT_CODE_SYSTEM, "code": LABEL[sensitivity]}]},
    }


def test_the_tables_cover_every_role_in_the_policy() -> None:
    assert set(ROLES) == set(POLICY.roles)
    for role, row in ROLES.items():
        assert POLICY.allows(role, "record.read") is row["read"]
        assert POLICY.allows(role, "record.search") is row["search"]
        assert POLICY.allows(role, "record.write") is row["write"]
        assert POLICY.allows(role, "break_glass") is row["glass"]
        assert POLICY.allows(role, "analytics.read") is row["counts"]
        assert POLICY.allows(role, "population.worklist") is row["worklist"]
        for category in SENSITIVITY[1:]:
            assert POLICY.may_see_sensitive(role, category) is row[category], (role, category)


def test_analysts_never_break_glass_and_have_no_person_level_action() -> None:
    assert not POLICY.allows("analyst", "break_glass")
    assert POLICY.roles["analyst"].actions.isdisjoint(POLICY.person_level_actions)


@pytest.mark.parametrize("item_from", ["own", "other"])
@pytest.mark.parametrize("glass", [False, True], ids=["no-glass", "glass"])
@pytest.mark.parametrize("objection", [False, True], ids=["no-objection", "objection"])
@pytest.mark.parametrize("sensitivity", SENSITIVITY)
@pytest.mark.parametrize("relationship", RELATIONSHIPS)
@pytest.mark.parametrize("role", list(ROLES))
def test_the_matrix(
    role: str, relationship: str, sensitivity: str, objection: bool, glass: bool, item_from: str
) -> None:
    user = _user(role)
    rel = _relationship(relationship, user, objection)
    row = ROLES[role]
    decision = decide_person(
        POLICY, user, "record.read", rel, break_glass=_glass(user) if glass else None, now=NOW
    )
    partner = OWN if item_from == "own" else OTHER
    visible = item_visible(POLICY, user, _item(sensitivity), partner, rel, decision)

    if not row["read"]:
        assert (decision.allowed, decision.basis, visible) == (False, "role", False)
        return
    key = (
        "none" if relationship == "none" else "some",
        objection,
        glass and row["glass"],
        item_from,
    )
    expected_visible, expected_basis = OUTCOMES[key]
    if sensitivity != "none" and not row[sensitivity]:
        expected_visible = False  # sensitive: only for the roles the policy allows
    assert visible is expected_visible
    assert decision.basis == (relationship if expected_basis == "rel" else expected_basis)
    assert decision.allowed is (expected_basis != "none")
    assert decision.break_glass is (expected_basis == "break_glass")


@pytest.mark.parametrize(
    ("relationship", "reason"),
    [
        ("registered", "registered at your practice"),
        ("open_care", "open encounter or episode with your organisation"),
        ("referral", "referred to your service"),
        ("care_team", "you are on their care team"),
        ("none", "no legitimate relationship"),
    ],
)
def test_decisions_say_why(relationship: str, reason: str) -> None:
    user = _user("gp")
    decision = decide_person(
        POLICY,
        user,
        "record.read",
        _relationship(relationship, user, False),
        break_glass=None,
        now=NOW,
    )
    assert decision.reason == reason


def test_a_care_team_can_name_an_organisation() -> None:
    user = _user("community_nurse")
    rel = Relationship(care_team_members=frozenset({OWN}))
    assert (
        decide_person(POLICY, user, "record.read", rel, break_glass=None, now=NOW).basis
        == "care_team"
    )


def test_break_glass_expires_after_the_policy_time() -> None:
    """Break-glass opens access for 4 hours (policy.yaml break_glass.hours), then it is gone."""
    user = _user("paramedic")
    none = _relationship("none", user, False)
    glass = _glass(user, opened=NOW)
    for at, allowed in [
        (NOW - timedelta(seconds=1), False),  # not yet open
        (NOW, True),
        (NOW + timedelta(hours=3, minutes=59), True),
        (NOW + timedelta(hours=4), False),  # expired
        (NOW + timedelta(days=1), False),
    ]:
        decision = decide_person(POLICY, user, "record.read", none, break_glass=glass, now=at)
        assert decision.allowed is allowed, at


def test_someone_elses_break_glass_opens_nothing() -> None:
    user = _user("gp")
    colleague = _glass(_user("hospital_clinician"))
    decision = decide_person(
        POLICY,
        user,
        "record.read",
        _relationship("none", user, False),
        break_glass=colleague,
        now=NOW,
    )
    assert not decision.allowed


def test_a_break_glass_record_for_a_role_that_may_not_break_glass_opens_nothing() -> None:
    for role in ("analyst", "social_worker", "care_coordinator"):
        user = _user(role)
        decision = decide_person(
            POLICY,
            user,
            "record.read",
            _relationship("none", user, False),
            break_glass=_glass(user),
            now=NOW,
        )
        assert not decision.allowed, role


@pytest.mark.parametrize("action", ["record.read", "record.search", "record.write"])
def test_analysts_are_refused_every_person_level_action(action: str) -> None:
    user = _user("analyst")
    rel = _relationship("registered", user, False)
    decision = decide_person(POLICY, user, action, rel, break_glass=_glass(user), now=NOW)
    assert (decision.allowed, decision.basis) == (False, "role")


def test_paramedics_may_not_write() -> None:
    user = _user("paramedic")
    rel = _relationship("open_care", user, False)
    assert not decide_person(POLICY, user, "record.write", rel, break_glass=None, now=NOW).allowed
    assert decide_person(POLICY, user, "record.read", rel, break_glass=None, now=NOW).allowed
