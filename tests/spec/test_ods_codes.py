"""ODS code formats, checked against the published definitions.

Source: NHS England, Organisation Data Service (ODS), and the NHS Data Model and
Dictionary entries ORGANISATION CODE, GENERAL MEDICAL PRACTICE CODE and NHS TRUST:
NHS trusts have 3-character codes beginning R (Royal Cornwall Hospitals NHS Trust REF,
Cornwall Partnership NHS Foundation Trust RJ8, South Western Ambulance Service NHS
Foundation Trust RYF); integrated care boards have 3-character codes beginning Q (NHS
Cornwall and Isles of Scilly ICB QT6); a GP practice code is 6 characters, a letter then
5 digits (L82001); primary care networks are published in ODS with U and 5 digits.
"""

from __future__ import annotations

import pytest

from joinedup.directory import (
    ODS_CODE_PATTERNS,
    PCN_CODE_PATTERN,
    DirectoryError,
    Organisation,
    OrganisationKind,
    PrimaryCareNetwork,
)

VALID = [
    ("QT6", OrganisationKind.INTEGRATED_CARE_BOARD),
    ("REF", OrganisationKind.ACUTE_TRUST),
    ("RJ8", OrganisationKind.COMMUNITY_AND_MENTAL_HEALTH_TRUST),
    ("RYF", OrganisationKind.AMBULANCE_TRUST),
    ("L82001", OrganisationKind.GP_PRACTICE),
]

INVALID = [
    ("REFX", OrganisationKind.ACUTE_TRUST, "a trust code has 3 characters"),
    ("XEF", OrganisationKind.ACUTE_TRUST, "a trust code begins R"),
    ("RT6", OrganisationKind.INTEGRATED_CARE_BOARD, "an ICB code begins Q"),
    ("L8200", OrganisationKind.GP_PRACTICE, "a practice code has 5 digits"),
    ("82001L", OrganisationKind.GP_PRACTICE, "a practice code begins with a letter"),
    ("LL2001", OrganisationKind.GP_PRACTICE, "a practice code has one letter"),
    ("ref", OrganisationKind.ACUTE_TRUST, "ODS codes are upper case"),
]


@pytest.mark.parametrize(("code", "kind"), VALID, ids=[c for c, _ in VALID])
def test_real_published_codes_are_valid(code: str, kind: OrganisationKind) -> None:
    """The codes of the Cornwall board and trusts, and an example practice code, are accepted."""
    assert ODS_CODE_PATTERNS[kind].fullmatch(code)
    assert Organisation(code, "An organisation", kind, place="x", pcn="U00001").ods_code == code


@pytest.mark.parametrize(("code", "kind", "rule"), INVALID, ids=[r for _, _, r in INVALID])
def test_codes_breaking_the_format_are_refused(
    code: str, kind: OrganisationKind, rule: str
) -> None:
    """Each format rule above, broken once."""
    with pytest.raises(DirectoryError, match="not a valid ODS code"):
        Organisation(code, "An organisation", kind, place="x", pcn="U00001")


@pytest.mark.parametrize(
    ("code", "valid"), [("U12345", True), ("U1234", False), ("P12345", False), ("U123456", False)]
)
def test_pcn_codes_are_u_and_five_digits(code: str, valid: bool) -> None:
    """ODS publishes primary care networks with codes of U and 5 digits."""
    assert (PCN_CODE_PATTERN.fullmatch(code) is not None) is valid
    if not valid:
        with pytest.raises(DirectoryError, match="U and 5 digits"):
            PrimaryCareNetwork(code, "A PCN", "west")
