"""The access policy: one YAML file mapping roles to actions and sensitive categories.

:func:`load_policy` reads and checks the whole file and reports every problem it finds, one
a line, each naming the entry (``roles.gp.actions[2]: unknown action 'record.raed'``), and
builds nothing unless the whole file is right. The format is described in ``docs/access.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

#: Security labels in ``meta.security`` are HL7 v3 ActCode sensitivity codes.
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SNOMED_SYSTEM = "http://snomed.info/sct"

#: Actions JoinedUp's code asks about: every policy file must declare them.
REQUIRED_ACTIONS = (
    "record.read",
    "record.search",
    "record.write",
    "break_glass",
    "audit.read",
    "audit.review",
    "identity.review",
)
#: The sensitive categories the record knows about.
CATEGORIES = ("sexual_health", "mental_health", "safeguarding")


class PolicyError(ValueError):
    """The policy file cannot be used; the message lists every problem, one a line."""


@dataclass(frozen=True)
class Role:
    """A role: what it may do and which sensitive categories it may see."""

    name: str
    description: str
    actions: frozenset[str]
    sensitive: frozenset[str]


@dataclass(frozen=True)
class Category:
    """A sensitive category: the security labels and SNOMED CT codes that put an item in it."""

    name: str
    description: str
    security_labels: frozenset[str]
    snomed: Mapping[str, str]  # code -> display


@dataclass(frozen=True)
class UnusualAccessRule:
    """Per user per day (UTC): more than these is flagged for the privacy officer."""

    refused_per_day: int
    distinct_persons_per_day: int
    break_glass_per_day: int


@dataclass(frozen=True)
class Policy:
    """A checked access policy."""

    roles: Mapping[str, Role]
    actions: Mapping[str, str]  # action -> description
    person_level_actions: frozenset[str]
    categories: Mapping[str, Category]
    break_glass_min_reason_length: int
    break_glass_duration: timedelta
    objection_break_glass_overrides: bool
    unusual_access: UnusualAccessRule

    def allows(self, role: str, action: str) -> bool:
        """True if ``role`` may do ``action`` (unknown roles and actions may do nothing)."""
        known = self.roles.get(role)
        return known is not None and action in known.actions

    def may_see_sensitive(self, role: str, category: str) -> bool:
        """True if ``role`` may see items in the sensitive ``category``."""
        known = self.roles.get(role)
        return known is not None and category in known.sensitive

    def sensitivity(self, resource: Mapping[str, Any]) -> frozenset[str]:
        """The sensitive categories a FHIR resource (as a dict) falls into; empty if none.

        From its ``meta.security`` labels (v3 ActCode) and from SNOMED CT codes on its
        ``code``, ``category`` and ``type``.
        """
        labels = {
            coding.get("code")
            for coding in _list(_dict(resource.get("meta")).get("security"))
            if isinstance(coding, Mapping) and coding.get("system") == ACT_CODE_SYSTEM
        }
        codes = {
            coding.get("code")
            for element in ("code", "category", "type")
            for concept in _list(resource.get(element))
            if isinstance(concept, Mapping)
            for coding in _list(concept.get("coding"))
            if isinstance(coding, Mapping) and coding.get("system") == SNOMED_SYSTEM
        }
        return frozenset(
            name
            for name, category in self.categories.items()
            if labels & category.security_labels or codes & category.snomed.keys()
        )


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


@lru_cache(maxsize=8)
def _cached(path: Path, mtime_ns: int) -> Policy:
    return _load(path)


def load_policy(path: Path) -> Policy:
    """Read and check the policy file at ``path`` (cached until the file changes).

    Raises :class:`PolicyError` naming the file and every entry that breaks a rule.
    """
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return _load(path)  # reports the missing file
    return _cached(path, mtime)


def _load(path: Path) -> Policy:
    try:
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise PolicyError(f"{path}: no such policy file") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path.name}: not UTF-8 text") from None
    except OSError as error:
        raise PolicyError(f"{path}: cannot be read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise PolicyError(f"{path.name}: not valid YAML: {error}") from None
    return parse_policy(data, source=path.name)


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{where}: {message}" if where else message)

    def raise_if_any(self) -> None:
        if self.lines:
            listed = "\n".join(f"  {line}" for line in self.lines)
            raise PolicyError(f"{self.source}: {len(self.lines)} problem(s):\n{listed}")


def _keys(
    value: object,
    where: str,
    problems: _Problems,
    *,
    required: Iterable[str],
    optional: Iterable[str] = (),
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        problems.add(where, f"must be a mapping, got {type(value).__name__}")
        return {}
    required = tuple(required)
    allowed = set(required) | set(optional)
    for key in required:
        if key not in value:
            problems.add(where, f"missing key '{key}'")
    for key in value:
        if key not in allowed:
            problems.add(where, f"unknown key '{key}' (expected: {', '.join(sorted(allowed))})")
    return value


def _text(value: object, where: str, problems: _Problems) -> str:
    if not isinstance(value, str) or not value.strip():
        problems.add(where, "must be non-empty text")
        return ""
    return value


def _names(value: object, where: str, problems: _Problems, known: Iterable[str]) -> frozenset[str]:
    if not isinstance(value, list):
        problems.add(where, f"must be a list, got {type(value).__name__}")
        return frozenset()
    known = set(known)
    names: set[str] = set()
    for index, item in enumerate(value):
        if not isinstance(item, str) or item not in known:
            problems.add(f"{where}[{index}]", f"unknown name {item!r}")
        elif item in names:
            problems.add(f"{where}[{index}]", f"{item!r} is listed twice")
        else:
            names.add(item)
    return frozenset(names)


def _count(value: object, where: str, problems: _Problems, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.add(where, f"must be a whole number of at least {minimum}, got {value!r}")
        return minimum
    return value


def parse_policy(data: object, *, source: str) -> Policy:
    """Build a :class:`Policy` from a parsed policy file, or raise :class:`PolicyError`."""
    problems = _Problems(source)
    top = _keys(
        data,
        "",
        problems,
        required=(
            "version",
            "actions",
            "roles",
            "sensitivity",
            "break_glass",
            "objection",
            "unusual_access",
        ),
    )
    problems.raise_if_any()
    if top["version"] != 1:
        problems.add("version", f"must be 1, got {top['version']!r}")

    actions: dict[str, str] = {}
    person_level: set[str] = set()
    raw_actions = top["actions"]
    if not isinstance(raw_actions, Mapping):
        problems.add("actions", "must be a mapping of action names")
        raw_actions = {}
    for name, entry in raw_actions.items():
        where = f"actions.{name}"
        fields = _keys(entry, where, problems, required=("person_level", "description"))
        if not fields:
            continue
        actions[str(name)] = _text(fields.get("description"), f"{where}.description", problems)
        if not isinstance(fields.get("person_level"), bool):
            problems.add(f"{where}.person_level", "must be true or false")
        elif fields["person_level"]:
            person_level.add(str(name))
    for name in REQUIRED_ACTIONS:
        if name not in actions and name not in raw_actions:
            problems.add("actions", f"missing action '{name}' (JoinedUp asks about it)")

    categories: dict[str, Category] = {}
    raw_sensitivity = top["sensitivity"]
    _keys(raw_sensitivity, "sensitivity", problems, required=CATEGORIES)
    for name in CATEGORIES if isinstance(raw_sensitivity, Mapping) else ():
        where = f"sensitivity.{name}"
        fields = _keys(
            raw_sensitivity.get(name),
            where,
            problems,
            required=("description", "security_labels", "snomed"),
        )
        if not fields:
            continue
        labels = fields.get("security_labels")
        if not isinstance(labels, list) or not all(
            isinstance(label, str) and label for label in labels
        ):
            problems.add(f"{where}.security_labels", "must be a list of v3 ActCode codes")
            labels = []
        snomed: dict[str, str] = {}
        raw_codes = fields.get("snomed")
        if not isinstance(raw_codes, list):
            problems.add(f"{where}.snomed", "must be a list of {code, display}")
            raw_codes = []
        for index, item in enumerate(raw_codes):
            code_where = f"{where}.snomed[{index}]"
            code_fields = _keys(item, code_where, problems, required=("code", "display"))
            code = code_fields.get("code")
            if code_fields and (not isinstance(code, str) or not code.isdigit()):
                problems.add(
                    f"{code_where}.code", f"must be a SNOMED CT id in quotes, got {code!r}"
                )
            elif code_fields and isinstance(code, str):
                snomed[code] = _text(code_fields.get("display"), f"{code_where}.display", problems)
        categories[name] = Category(
            name=name,
            description=_text(fields.get("description"), f"{where}.description", problems),
            security_labels=frozenset(labels),
            snomed=snomed,
        )

    roles: dict[str, Role] = {}
    raw_roles = top["roles"]
    if not isinstance(raw_roles, Mapping) or not raw_roles:
        problems.add("roles", "must be a mapping of role names")
        raw_roles = {}
    for name, entry in raw_roles.items():
        where = f"roles.{name}"
        fields = _keys(entry, where, problems, required=("description", "actions", "sensitive"))
        if not fields:
            continue
        roles[str(name)] = Role(
            name=str(name),
            description=_text(fields.get("description"), f"{where}.description", problems),
            actions=_names(fields.get("actions"), f"{where}.actions", problems, raw_actions),
            sensitive=_names(fields.get("sensitive"), f"{where}.sensitive", problems, CATEGORIES),
        )
    analyst = roles.get("analyst")
    if analyst is not None and analyst.actions & person_level:
        problems.add(
            "roles.analyst.actions",
            "analysts may not hold person-level actions: "
            + ", ".join(sorted(analyst.actions & person_level)),
        )

    glass = _keys(
        top["break_glass"], "break_glass", problems, required=("min_reason_length", "hours")
    )
    min_reason = _count(glass.get("min_reason_length"), "break_glass.min_reason_length", problems)
    hours = _count(glass.get("hours"), "break_glass.hours", problems)
    if hours > 24:
        problems.add("break_glass.hours", f"at most 24 hours, got {hours}")
    objection = _keys(top["objection"], "objection", problems, required=("break_glass_overrides",))
    overrides = objection.get("break_glass_overrides")
    if objection and not isinstance(overrides, bool):
        problems.add("objection.break_glass_overrides", "must be true or false")
    unusual = _keys(
        top["unusual_access"],
        "unusual_access",
        problems,
        required=("refused_per_day", "distinct_persons_per_day", "break_glass_per_day"),
    )
    rule = UnusualAccessRule(
        refused_per_day=_count(
            unusual.get("refused_per_day"), "unusual_access.refused_per_day", problems
        ),
        distinct_persons_per_day=_count(
            unusual.get("distinct_persons_per_day"),
            "unusual_access.distinct_persons_per_day",
            problems,
        ),
        break_glass_per_day=_count(
            unusual.get("break_glass_per_day"), "unusual_access.break_glass_per_day", problems
        ),
    )
    problems.raise_if_any()
    return Policy(
        roles=roles,
        actions=actions,
        person_level_actions=frozenset(person_level),
        categories=categories,
        break_glass_min_reason_length=min_reason,
        break_glass_duration=timedelta(hours=hours),
        objection_break_glass_overrides=bool(overrides),
        unusual_access=rule,
    )
