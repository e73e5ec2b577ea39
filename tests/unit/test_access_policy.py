"""The policy file: the shipped one loads; a wrong one is refused naming the entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from joinedup.access.policy import ACT_CODE_SYSTEM, SNOMED_SYSTEM, PolicyError, load_policy
from joinedup.settings import DEFAULT_POLICY, Settings


def _write(tmp_path: Path, change: object) -> Path:
    data = yaml.safe_load(DEFAULT_POLICY.read_text())
    change(data)  # type: ignore[operator]
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_shipped_policy_loads_and_is_the_default() -> None:
    assert Settings().policy_file == DEFAULT_POLICY
    policy = load_policy(DEFAULT_POLICY)
    assert len(policy.roles) == 11
    assert policy.allows("gp", "record.read")
    assert not policy.allows("analyst", "record.read")
    assert not policy.allows("nobody", "record.read")
    assert not policy.allows("gp", "no.such.action")
    assert policy.break_glass_min_reason_length == 10
    assert policy.break_glass_duration.total_seconds() == 4 * 3600


def test_analysts_have_no_person_level_action() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert policy.roles["analyst"].actions.isdisjoint(policy.person_level_actions)
    assert {"record.read", "record.search", "record.write", "break_glass"} <= (
        policy.person_level_actions
    )


def test_a_policy_giving_analysts_a_person_level_action_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda d: d["roles"]["analyst"]["actions"].append("record.read"))
    with pytest.raises(PolicyError, match=r"roles\.analyst\.actions: analysts may not"):
        load_policy(path)


def test_a_mistake_names_the_entry(tmp_path: Path) -> None:
    def breaks(data: dict) -> None:  # type: ignore[type-arg]
        data["roles"]["gp"]["actions"][1] = "record.serch"
        data["roles"]["paramedic"]["sensitive"] = ["mental_health", "gossip"]
        data["break_glass"]["hours"] = 0
        data["sensitivity"]["safeguarding"]["snomed"][0]["code"] = 836881000000105

    with pytest.raises(PolicyError) as caught:
        load_policy(_write(tmp_path, breaks))
    message = str(caught.value)
    assert "policy.yaml: 4 problem(s)" in message
    assert "roles.gp.actions[1]: unknown name 'record.serch'" in message
    assert "roles.paramedic.sensitive[1]: unknown name 'gossip'" in message
    assert "break_glass.hours: must be a whole number of at least 1" in message
    assert "sensitivity.safeguarding.snomed[0].code: must be a SNOMED CT id in quotes" in message


def test_unknown_keys_and_missing_actions_are_refused(tmp_path: Path) -> None:
    def breaks(data: dict) -> None:  # type: ignore[type-arg]
        data["roles"]["gp"]["sees_everything"] = True
        del data["actions"]["audit.read"]
        data["roles"]["privacy_officer"]["actions"].remove("audit.read")

    with pytest.raises(PolicyError) as caught:
        load_policy(_write(tmp_path, breaks))
    assert "roles.gp: unknown key 'sees_everything'" in str(caught.value)
    assert "actions: missing action 'audit.read'" in str(caught.value)


def test_a_missing_or_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such policy file"):
        load_policy(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("roles: [\n")
    with pytest.raises(PolicyError, match=r"bad\.yaml: not valid YAML"):
        load_policy(tmp_path / "bad.yaml")


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Observation", "code": {"text": "Blood pressure"}}, set()),
        (
            {"meta": {"security": [{"system": ACT_CODE_SYSTEM, "code": "PSY"}]}},
            {"mental_health"},
        ),
        (
            {"meta": {"security": [{"system": ACT_CODE_SYSTEM, "code": "HIV"}]}},
            {"sexual_health"},
        ),
        (
            {"meta": {"security": [{"system": ACT_CODE_SYSTEM, "code": "SDV"}]}},
            {"safeguarding"},
        ),
        # A label from another code system is not a v3 ActCode sensitivity label.
        ({"meta": {"security": [{"system": "urn:other", "code": "PSY"}]}}, set()),
        (
            {"code": {"coding": [{"system": SNOMED_SYSTEM, "code": "35489007"}]}},
            {"mental_health"},
        ),
        (
            {"category": [{"coding": [{"system": SNOMED_SYSTEM, "code": "836881000000105"}]}]},
            {"safeguarding"},
        ),
        (
            {
                "type": [{"coding": [{"system": SNOMED_SYSTEM, "code": "86406008"}]}],
                "meta": {"security": [{"system": ACT_CODE_SYSTEM, "code": "SOC"}]},
            },
            {"sexual_health", "safeguarding"},
        ),
        ({"code": {"coding": [{"system": "http://loinc.org", "code": "35489007"}]}}, set()),
    ],
)
def test_sensitivity_from_labels_and_codes(resource: dict, expected: set[str]) -> None:  # type: ignore[type-arg]
    assert load_policy(DEFAULT_POLICY).sensitivity(resource) == expected
