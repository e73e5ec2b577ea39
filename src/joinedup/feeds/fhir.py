"""FHIR R4 intake: JSON bundles and resources, and NDJSON bulk files, split into units.

What is accepted (anything else is a rejected unit with issues; these functions never raise):

* a ``transaction`` or ``collection`` Bundle: **one** unit, all or nothing. Every entry is
  checked; any problem rejects the whole unit and every problem is listed with its path
  (``Bundle.entry[3].resource.identifier[0].value``);
* a ``batch`` Bundle: one unit per entry (``entry[i]``), so a bad entry is quarantined while
  the good ones beside it are taken; an entry about a patient finds its Patient in the batch;
* a single resource: one unit;
* NDJSON: one unit per non-blank line (``line N``); a resource line finds its Patient among the
  file's other lines, a Bundle line gives that bundle's units (``line N entry[i]``).

Each resource is checked once against its ``fhir.resources`` **R4B** model (the default models
are R5 and silently drop R4 elements) and then against our UK Core rules
(:mod:`joinedup.feeds.uk_core`). The model is used only to check: a resource is kept as the
sender's JSON object, changed only by the reference rewriting below, because re-serialising
through the model is slow and loses nothing we need.

References: ``urn:uuid:X`` full URLs become resource ids (``id = X``) and references to them
``Type/X``; references to the unit's Patient become ``Patient/<person.local_id>`` (the contract
with the pipeline, which keeps the Patient under that id). A ``urn:`` reference to nothing is an
error (``not-found``); conditional (``Organization?identifier=…``), absolute and contained
(``#x``) references are kept as they are.

This module reads row-level patient data. Issues and logs name element paths, never values.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import orjson
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from joinedup.feeds import r4b_memo, uk_core
from joinedup.feeds.model import Issue, IssueCode, Message, PersonDetails, Unit

__all__ = [
    "MAX_BUNDLE_ENTRIES",
    "MAX_DEPTH",
    "MAX_ISSUES",
    "MAX_MESSAGE_BYTES",
    "SUPPORTED_BUNDLE_TYPES",
    "parse_fhir_json",
    "parse_fhir_ndjson",
]

log = logging.getLogger(__name__)

r4b_memo.install()  # each process that parses FHIR remembers the elements that passed

MAX_MESSAGE_BYTES: Final = 50 * 1024 * 1024
"""A message body longer than this is rejected unread (``too-long``)."""

MAX_BUNDLE_ENTRIES: Final = 20_000
"""A Bundle with more entries than this is rejected unchecked (``too-long``)."""

MAX_DEPTH: Final = 64
"""Deepest nesting of JSON objects and arrays in a resource; real resources stay under 20."""

MAX_ISSUES: Final = 100
"""Most issues listed for one unit; the last says how many more there were."""

SUPPORTED_BUNDLE_TYPES: Final = ("transaction", "batch", "collection")

_UK: Final = ZoneInfo("Europe/London")
_FHIR_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_RESOURCE_TYPE: Final = re.compile(r"[A-Z][A-Za-z]{1,63}")
_ABSTRACT_TYPES: Final = frozenset({"Resource", "DomainResource"})
_BUNDLE_LOCAL_PREFIXES: Final = ("urn:uuid:", "urn:oid:")
_MEDICAL_RECORD_NUMBER: Final = ("http://terminology.hl7.org/CodeSystem/v2-0203", "MR")
_MAX_LOCAL_ID: Final = 200  # identity's source-record local id column
_MAX_MESSAGE_ID: Final = 200  # the receipt's message id column

# pydantic error types → the OperationOutcome issue code that says what kind of problem it is.
_REQUIRED_ERRORS: Final = frozenset({"missing", "model_field_validation.missing"})
_STRUCTURE_ERRORS: Final = frozenset(
    {"extra_forbidden", "fhir-validation-wrong-resource-type", "model_validation_format"}
)


def parse_fhir_json(
    message: Message,
    *,
    max_bytes: int = MAX_MESSAGE_BYTES,
    max_entries: int = MAX_BUNDLE_ENTRIES,
) -> list[Unit]:
    """Split a FHIR JSON message (a Bundle or one resource) into units, each checked.

    Never raises for bad input: a message that cannot be read at all is one rejected unit.
    """
    context = _Context(_received_on(message), max_entries)
    if len(message.body) > max_bytes:
        return [_too_big("message", message.body, max_bytes)]
    return _guarded("message", message.body, lambda: _document_units(message.body, context))


def parse_fhir_ndjson(
    message: Message,
    *,
    max_bytes: int = MAX_MESSAGE_BYTES,
    max_entries: int = MAX_BUNDLE_ENTRIES,
) -> list[Unit]:
    """Split an NDJSON file into units: one per resource line, a bundle's units per bundle line.

    Resource lines about a patient find their Patient among the file's lines (by ``Patient/id``
    or a conditional ``Patient?identifier=system|value`` reference). Never raises for bad input.
    """
    context = _Context(_received_on(message), max_entries)
    if len(message.body) > max_bytes:
        return [_too_big("message", message.body, max_bytes)]
    return _guarded("message", message.body, lambda: _ndjson_units(message.body, context))


# --- reading documents and lines -------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    received_on: date  # the UK date the message arrived, for "not in the future" rules
    max_entries: int


@dataclass
class _Checked:
    """One resource after its checks: its problems and the Reference objects inside it."""

    resource: dict[str, Any]
    path: str
    issues: list[Issue]
    references: list[tuple[dict[str, Any], str]]  # (Reference object, its element path)


@dataclass
class _Item:
    """A resource that is a unit of its own: a lone resource, a batch entry or an NDJSON line."""

    label: str
    message_id: str
    original: bytes
    path: str
    resource: dict[str, Any] | None
    full_url: str | None = None
    issues: list[Issue] = field(default_factory=list)
    checked: _Checked | None = None
    person: PersonDetails | None = None


def _guarded(label: str, body: bytes, parse: Callable[[], list[Unit]]) -> list[Unit]:
    """Run a parse; a bug must not lose the message, so it becomes one rejected unit to replay."""
    try:
        return parse()
    except Exception as error:  # the parsers' contract: bad input never raises
        log.warning("FHIR message could not be parsed: %s", type(error).__name__)
        issue = Issue(IssueCode.EXCEPTION, label, "could not be parsed; kept for replay")
        return [_rejected(label, body, [issue])]


def _loads(raw: bytes, line: int = 1) -> tuple[Any, Issue | None]:
    """JSON from bytes, or an issue giving the line and column where reading failed.

    ``line`` is the line number of ``raw``'s first line within the message.
    """
    try:
        return orjson.loads(raw.removeprefix(b"\xef\xbb\xbf")), None
    except orjson.JSONDecodeError as error:
        # orjson's messages say what was expected, never quote the input.
        location = f"line {error.lineno + line - 1}, column {error.colno}"
        return None, Issue(IssueCode.STRUCTURE, location, f"not valid JSON: {error.msg}")


def _document_units(raw: bytes, context: _Context) -> list[Unit]:
    """The units of a JSON message: a Bundle's, or one resource's."""
    label = "message"
    data, problem = _loads(raw)
    if problem is not None:
        return [_rejected(label, raw, [problem])]
    type_problem = _resource_type_problem(data, "")
    if type_problem is not None:
        return [_rejected(label, raw, [type_problem])]
    digest = _document_digest(data)
    if digest is None:
        return [_rejected(label, raw, [_TOO_DEEP])]
    if data["resourceType"] == "Bundle":
        return _bundle_units(data, raw, "", digest, context)
    item = _Item(label, digest, raw, data["resourceType"], data)
    return _group_units([item], context, lone=True)


def _ndjson_units(body: bytes, context: _Context) -> list[Unit]:
    slots: list[list[Unit] | _Item] = []
    items: list[_Item] = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        label = f"line {number}"
        data, problem = _loads(line, number)
        if problem is not None:
            slots.append([_rejected(label, line, [problem])])
            continue
        type_problem = _resource_type_problem(data, "")
        digest = _document_digest(data) if type_problem is None else None
        if type_problem is not None or digest is None:
            slots.append([_rejected(label, line, [type_problem or _TOO_DEEP])])
        elif data["resourceType"] == "Bundle":
            slots.append(_bundle_units(data, line, f"{label} ", digest, context))
        else:
            item = _Item(label, digest, line, data["resourceType"], data)
            items.append(item)
            slots.append(item)
    taken = dict(zip(map(id, items), _group_units(items, context, lone=False), strict=True))
    units: list[Unit] = []
    for slot in slots:
        if isinstance(slot, _Item):
            units.append(taken[id(slot)])
        else:
            units.extend(slot)
    return units


# --- bundles ---------------------------------------------------------------------------------


def _bundle_units(
    bundle: dict[str, Any], raw: bytes, prefix: str, digest: str, context: _Context
) -> list[Unit]:
    label = prefix.strip() or "message"
    bundle_type = bundle.get("type")
    if bundle_type is None:
        return [_rejected(label, raw, [Issue(IssueCode.REQUIRED, "Bundle.type", "missing")])]
    if bundle_type not in SUPPORTED_BUNDLE_TYPES:
        issue = Issue(
            IssueCode.NOT_SUPPORTED,
            "Bundle.type",
            "only transaction, batch and collection bundles are taken",
        )
        return [_rejected(label, raw, [issue])]
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        issue = Issue(IssueCode.STRUCTURE, "Bundle.entry", "must be a list of entries")
        return [_rejected(label, raw, [issue])]
    if len(entries) > context.max_entries:
        issue = Issue(
            IssueCode.TOO_LONG,
            "Bundle.entry",
            f"{len(entries)} entries; at most {context.max_entries} are taken in one bundle",
        )
        return [_rejected(label, raw, [issue])]
    own_id = _bundle_message_id(bundle)
    bundle_issues, entry_issues = _shell_issues(bundle, entries)
    if bundle_type == "batch" and entries:
        if bundle_issues:
            return [_rejected(label, raw, bundle_issues)]
        return _batch_units(entries, own_id, prefix, entry_issues, context)
    # A transaction or collection, or an empty batch (one empty unit, so its receipt is kept).
    message_id = own_id or digest
    for index in sorted(entry_issues):
        bundle_issues += entry_issues[index]
    return [_whole_bundle_unit(entries, raw, label, message_id, bundle_issues, context)]


def _shell_issues(
    bundle: dict[str, Any], entries: list[Any]
) -> tuple[list[Issue], dict[int, list[Issue]]]:
    """The Bundle's own structure, checked without its entries' resources (checked one by one).

    Returns the issues about the bundle as a whole and those about each entry, by index.
    """
    shell = dict(bundle)
    if "entry" in bundle:
        shell["entry"] = [
            {k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
            for e in entries
        ]
    whole: list[Issue] = []
    by_entry: dict[int, list[Issue]] = {}
    for loc, issue in _model_issues(get_fhir_model_class("Bundle"), shell, "Bundle"):
        if len(loc) >= 2 and loc[0] == "entry" and isinstance(loc[1], int):
            by_entry.setdefault(loc[1], []).append(issue)
        else:
            whole.append(issue)
    for index, entry in enumerate(entries):
        # The model reports these; make sure, as such an entry is skipped from here on.
        if not isinstance(entry, dict) and index not in by_entry:
            issue = Issue(IssueCode.STRUCTURE, f"Bundle.entry[{index}]", "must be a JSON object")
            by_entry[index] = [issue]
    return whole, by_entry


def _entry_problem(entry: dict[str, Any], path: str) -> Issue | None:
    """What makes an entry unusable before its resource is checked, if anything."""
    if "resource" not in entry:
        request = entry.get("request")
        method = request.get("method") if isinstance(request, dict) else None
        if method in ("DELETE", "GET", "HEAD", "PATCH"):
            return Issue(
                IssueCode.NOT_SUPPORTED,
                f"{path}.request.method",
                "only entries with a resource are taken",
            )
        return Issue(IssueCode.REQUIRED, f"{path}.resource", "the entry has no resource")
    resource = entry["resource"]
    problem = _resource_type_problem(resource, f"{path}.resource")
    if problem is not None:
        return problem
    if resource["resourceType"] == "Bundle":
        return Issue(
            IssueCode.NOT_SUPPORTED,
            f"{path}.resource.resourceType",
            "a Bundle inside a Bundle is not taken",
        )
    return None


def _whole_bundle_unit(
    entries: list[Any],
    raw: bytes,
    label: str,
    message_id: str,
    issues: list[Issue],
    context: _Context,
) -> Unit:
    """A transaction or collection: one unit, rejected whole if anything in it is wrong."""
    checked: list[_Checked] = []
    full_urls: dict[str, _Checked] = {}
    entry_urls: dict[int, str] = {}  # id(resource) → its entry's fullUrl
    for index, entry in enumerate(entries):
        path = f"Bundle.entry[{index}]"
        if not isinstance(entry, dict):
            continue  # the Bundle's own check has reported it
        problem = _entry_problem(entry, path)
        full_url = entry.get("fullUrl")
        if problem is not None:
            issues.append(problem)
            continue
        one = _check_resource(entry["resource"], f"{path}.resource", context)
        issues += one.issues
        checked.append(one)
        if isinstance(full_url, str):
            if full_url in full_urls:
                issues.append(
                    Issue(IssueCode.DUPLICATE, f"{path}.fullUrl", "another entry has this fullUrl")
                )
            else:
                full_urls[full_url] = one
                entry_urls[id(one.resource)] = full_url
                issues += _full_url_issues(full_url, path)

    patients = [c for c in checked if c.resource["resourceType"] == "Patient"]
    issues += [
        Issue(
            IssueCode.INVARIANT,
            p.path,
            "a second Patient: a transaction or collection is about one person "
            "(send one bundle per person, or a batch)",
        )
        for p in patients[1:]
    ]
    patient = patients[0] if patients else None
    patient_keys = (
        _patient_keys(patient.resource, entry_urls.get(id(patient.resource))) if patient else set()
    )

    targets: list[tuple[dict[str, Any], _Checked]] = []  # Reference → what it names here
    for one in checked:
        for reference, where in one.references:
            text = reference["reference"]
            target = full_urls.get(text)
            if target is None and patient is not None and _normal(text) in patient_keys:
                target = patient
            if target is not None:
                targets.append((reference, target))
            elif text.startswith("urn:"):
                issues.append(
                    Issue(
                        IssueCode.NOT_FOUND,
                        f"{where}.reference",
                        "no entry in the bundle has this fullUrl",
                    )
                )
            elif patient is None and _names_a_patient(reference):
                issues.append(
                    Issue(
                        IssueCode.REQUIRED,
                        f"{where}.reference",
                        "refers to a Patient, but there is no Patient in the bundle",
                    )
                )

    person: PersonDetails | None = None
    if patient is not None and not issues:
        person, person_issues = _person(patient, entry_urls.get(id(patient.resource)))
        issues += person_issues
    if issues:
        return _rejected(label, raw, issues, message_id)

    # Accepted: give resources their ids, then point references at them.
    for one in checked:
        _take_full_url_id(one.resource, entry_urls.get(id(one.resource)))
    for reference, target in targets:
        if target is patient and person is not None:
            reference["reference"] = f"Patient/{person.local_id}"
        else:
            local = _local_reference(target.resource, entry_urls.get(id(target.resource)))
            if local is not None:
                reference["reference"] = local
    return Unit(
        label=label,
        message_id=message_id,
        resources=tuple(c.resource for c in checked),
        person=person,
        original=raw,
    )


def _batch_units(
    entries: list[Any],
    bundle_id: str | None,
    prefix: str,
    entry_issues: dict[int, list[Issue]],
    context: _Context,
) -> list[Unit]:
    items: list[_Item] = []
    for index, entry in enumerate(entries):
        path = f"Bundle.entry[{index}]"
        original = orjson.dumps(entry)
        message_id = f"{bundle_id}/entry[{index}]" if bundle_id else _digest(entry)
        if len(message_id) > _MAX_MESSAGE_ID:
            message_id = _digest(entry)
        item = _Item(f"{prefix}entry[{index}]", message_id, original, f"{path}.resource", None)
        item.issues += entry_issues.get(index, [])
        if not isinstance(entry, dict):
            items.append(item)  # the Bundle's own check has reported it
            continue
        problem = _entry_problem(entry, path)
        if problem is not None:
            item.issues.append(problem)
        else:
            item.resource = entry["resource"]
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str):
                item.full_url = full_url
                item.issues += _full_url_issues(full_url, path)
        items.append(item)
    return _group_units(items, context, lone=False)


# --- resources that are units of their own ---------------------------------------------------


def _group_units(items: list[_Item], context: _Context, *, lone: bool) -> list[Unit]:
    """Units for resources taken one by one, each finding its Patient among the group.

    ``lone``: the group is a single resource, so a reference to a Patient not in it means the
    unit has no Patient (``required``); in a batch or file it names one that isn't there.
    """
    by_url: dict[str, _Item] = {}
    patient_keys: dict[str, _Item] = {}
    for item in items:
        if item.resource is None:
            continue
        item.checked = _check_resource(item.resource, item.path, context)
        item.issues += item.checked.issues
        if item.full_url is not None:
            if item.full_url in by_url:
                item.issues.append(
                    Issue(
                        IssueCode.DUPLICATE,
                        item.path.removesuffix(".resource") + ".fullUrl",
                        "another entry has this fullUrl",
                    )
                )
            else:
                by_url[item.full_url] = item
        if item.resource["resourceType"] == "Patient":
            for key in _patient_keys(item.resource, item.full_url):
                patient_keys.setdefault(key, item)
    # Patients first: the others take their person from them.
    for item in items:
        if item.checked is not None and _is_patient(item) and not item.issues:
            item.person, person_issues = _person(item.checked, item.full_url)
            item.issues += person_issues
    units: list[Unit] = []
    for item in items:
        units.append(_item_unit(item, by_url, patient_keys, lone=lone))
    return units


def _is_patient(item: _Item) -> bool:
    return item.resource is not None and item.resource["resourceType"] == "Patient"


def _item_unit(
    item: _Item, by_url: dict[str, _Item], patient_keys: dict[str, _Item], *, lone: bool
) -> Unit:
    checked = item.checked
    if checked is None or item.resource is None:
        return _rejected(item.label, item.original, item.issues, item.message_id)
    issues = list(item.issues)
    is_patient = item.resource["resourceType"] == "Patient"
    rewrites: list[tuple[dict[str, Any], _Item]] = []
    about: dict[int, _Item] = {}  # the Patients this resource refers to
    for reference, where in checked.references:
        text = reference["reference"]
        target = by_url.get(text) or (
            patient_keys.get(_normal(text)) if text.startswith("Patient") else None
        )
        if target is not None:
            rewrites.append((reference, target))
            if target.resource is not None and target.resource["resourceType"] == "Patient":
                about[id(target)] = target
        elif text.startswith("urn:"):
            issues.append(
                Issue(
                    IssueCode.NOT_FOUND,
                    f"{where}.reference",
                    "nothing in the message has this fullUrl",
                )
            )
        elif _names_a_patient(reference) and not is_patient:
            if lone:
                issues.append(
                    Issue(
                        IssueCode.REQUIRED,
                        f"{where}.reference",
                        "refers to a Patient, but there is no Patient in the unit",
                    )
                )
            else:
                issues.append(
                    Issue(
                        IssueCode.NOT_FOUND,
                        f"{where}.reference",
                        "refers to a Patient that is not here",
                    )
                )
    person = item.person
    if not is_patient and about:
        if len(about) > 1:
            issues.append(Issue(IssueCode.INVARIANT, item.path, "refers to more than one Patient"))
        else:
            (patient,) = about.values()
            if patient.person is None:
                issues.append(
                    Issue(
                        IssueCode.NOT_FOUND,
                        item.path,
                        f"the Patient it refers to ({patient.label}) was rejected",
                    )
                )
            person = patient.person
    if issues:
        return _rejected(item.label, item.original, issues, item.message_id)
    message_id = item.message_id
    if person is not None and not is_patient and message_id.startswith("sha256:"):
        # The same entry text can be about someone else in another message (urn:uuid
        # references are local to their bundle), so who it is about is part of its identity.
        salted = f"{message_id}|{person.local_id}".encode()
        message_id = "sha256:" + hashlib.sha256(salted).hexdigest()
    _take_full_url_id(item.resource, item.full_url)
    for reference, target in rewrites:
        if (
            target.person is not None
            and target.resource is not None
            and target.resource["resourceType"] == "Patient"
        ):
            reference["reference"] = f"Patient/{target.person.local_id}"
        elif target.resource is not None:
            # The target is its own unit: name it as it will be stored.
            local = _local_reference(target.resource, target.full_url)
            if local is not None:
                reference["reference"] = local
    return Unit(
        label=item.label,
        message_id=message_id,
        resources=(item.resource,),
        person=person,
        original=item.original,
    )


# --- checking one resource -------------------------------------------------------------------


def _resource_type_problem(value: Any, path: str) -> Issue | None:
    """Why ``value`` is not a resource of a type we know, if it isn't."""
    where = f"{path}.resourceType" if path else "resourceType"
    if not isinstance(value, dict):
        return Issue(
            IssueCode.STRUCTURE, path or "(root)", "expected a JSON object (a FHIR resource)"
        )
    resource_type = value.get("resourceType")
    if resource_type is None:
        return Issue(IssueCode.REQUIRED, where, "missing: every FHIR resource names its type")
    if not isinstance(resource_type, str):
        return Issue(IssueCode.STRUCTURE, where, "must be a string")
    if _model_class(resource_type) is None:
        # The name is not quoted: it is the sender's text and could be anything.
        return Issue(IssueCode.NOT_SUPPORTED, where, "not a FHIR R4 resource type")
    return None


def _model_class(resource_type: str) -> Any:
    """The R4B model class of a resource type, or None if it is not a (concrete) resource."""
    if resource_type in _ABSTRACT_TYPES or not _RESOURCE_TYPE.fullmatch(resource_type):
        return None
    try:
        model = get_fhir_model_class(resource_type)
    except ValueError:
        return None
    return model if issubclass(model, Resource) else None


def _check_resource(resource: dict[str, Any], path: str, context: _Context) -> _Checked:
    """Check one resource once: nesting, FHIR R4 structure, then our UK Core rules."""
    too_deep, references, identifiers = _scan(resource)
    if too_deep:
        issue = Issue(IssueCode.TOO_LONG, path, f"nested more than {MAX_DEPTH} levels deep")
        return _Checked(resource, path, [issue], [])
    issues = [
        issue for _, issue in _model_issues(_model_class(resource["resourceType"]), resource, path)
    ]
    issues += uk_core.check_person_fields(resource, path, received_on=context.received_on)
    for parts, identifier in identifiers:
        issues += uk_core.check_identifier(identifier, uk_core.element_path((path, *parts)))
    paths = [(reference, uk_core.element_path((path, *parts))) for parts, reference in references]
    return _Checked(resource, path, issues, paths)


_Parts = tuple[str | int, ...]


def _scan(
    resource: dict[str, Any],
) -> tuple[bool, list[tuple[_Parts, dict[str, Any]]], list[tuple[_Parts, dict[str, Any]]]]:
    """One walk over a resource: too deep?, its Reference objects, its NHS/ODS identifiers.

    Iterative, so a hostile nesting depth can't exhaust the interpreter's stack.
    """
    references: list[tuple[_Parts, dict[str, Any]]] = []
    identifiers: list[tuple[_Parts, dict[str, Any]]] = []
    checked_systems = (
        uk_core.NHS_NUMBER_SYSTEM,
        uk_core.ODS_ORGANIZATION_SYSTEM,
        uk_core.ODS_SITE_SYSTEM,
    )
    stack: list[tuple[Any, _Parts]] = [(resource, ())]
    while stack:
        node, parts = stack.pop()
        if len(parts) > MAX_DEPTH:
            return True, [], []
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str):
                references.append((parts, node))
            if node.get("system") in checked_systems:
                identifiers.append((parts, node))
            children: list[tuple[Any, _Parts]] = [
                (v, (*parts, k)) for k, v in node.items() if isinstance(v, (dict, list))
            ]
        else:
            children = [(v, (*parts, i)) for i, v in enumerate(node) if isinstance(v, (dict, list))]
        stack.extend(reversed(children))  # reversed: visit in document order
    return False, references, identifiers


def _model_issues(model: Any, value: dict[str, Any], path: str) -> list[tuple[_Parts, Issue]]:
    """``value`` checked against an R4B model: each problem's location parts and issue."""
    try:
        model.model_validate(value)
    except ValidationError as error:
        found: list[tuple[_Parts, Issue]] = []
        for detail in error.errors(include_url=False, include_context=False):
            loc = tuple(p for p in detail["loc"] if p not in ("root", "resource_type"))
            where = uk_core.element_path((path, *loc))
            found.append((loc, Issue(_issue_code(detail["type"]), where, _diagnostics(detail))))
        return found
    except (KeyError, TypeError):
        # fhir.resources looks up a contained resource's type without checking it first.
        issue = Issue(IssueCode.STRUCTURE, path, "contains a resource of an unknown type")
        return [((), issue)]
    except Exception as error:
        # Any other failure inside the model is about this resource alone: keep its
        # neighbours (a batch's other entries) out of it.
        log.warning("FHIR model check failed: %s", type(error).__name__)
        issue = Issue(IssueCode.STRUCTURE, path, "could not be checked against the FHIR R4 model")
        return [((), issue)]
    return []


def _issue_code(error_type: str) -> IssueCode:
    if error_type in _REQUIRED_ERRORS:
        return IssueCode.REQUIRED
    if error_type in _STRUCTURE_ERRORS or error_type.endswith(("_type", "_parsing")):
        return IssueCode.STRUCTURE
    return IssueCode.VALUE


def _diagnostics(detail: Any) -> str:
    """pydantic's message without the input: it must not quote the patient's values."""
    message = str(detail["msg"]).removeprefix("Value error, ")
    message = " ".join(message.split())  # fhir.resources has multi-line messages
    value = detail.get("input")
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = str(value)
        if len(text) >= 2 and text in message:
            message = message.replace(text, "…")
    return message


# --- the person and the references -----------------------------------------------------------


def _person(patient: _Checked, full_url: str | None) -> tuple[PersonDetails | None, list[Issue]]:
    """The person as the sender holds them, from a Patient that passed its checks."""
    resource = patient.resource
    listed = resource.get("identifier")
    identifiers = [
        (index, i)
        for index, i in enumerate(listed if isinstance(listed, list) else [])
        if isinstance(i, dict) and isinstance(i.get("value"), str)
    ]
    nhs_number = next(
        (i["value"] for _, i in identifiers if i.get("system") == uk_core.NHS_NUMBER_SYSTEM), None
    )
    local_id, where = _local_id(resource, identifiers, full_url)
    if local_id is None:
        issue = Issue(
            IssueCode.REQUIRED,
            f"{patient.path}.identifier",
            "no identifier, id or fullUrl to know this Patient by",
        )
        return None, [issue]
    if len(local_id) > _MAX_LOCAL_ID:
        issue = Issue(
            IssueCode.TOO_LONG,
            f"{patient.path}{where}",
            f"the sender's identifier is longer than {_MAX_LOCAL_ID} characters (system|value)",
        )
        return None, [issue]
    name = _official_name(resource.get("name"))
    given = name.get("given") if name else None
    address = _current_address(resource.get("address"))
    lines = address.get("line") if address else None
    gender = resource.get("gender")
    return (
        PersonDetails(
            local_id=local_id,
            nhs_number=nhs_number,
            given=_text(given[0]) if isinstance(given, list) and given else None,
            family=_text(name.get("family")) if name else None,
            birth_date=full_date(resource.get("birthDate")),
            sex=gender if isinstance(gender, str) and gender in uk_core.GENDERS else None,
            postcode=_text(address.get("postalCode")) if address else None,
            address_line=_text(lines[0]) if isinstance(lines, list) and lines else None,
            death_date=full_date(resource.get("deceasedDateTime")),
        ),
        [],
    )


def _local_id(
    resource: dict[str, Any], identifiers: list[tuple[int, dict[str, Any]]], full_url: str | None
) -> tuple[str | None, str]:
    """The id the sender knows this Patient by, and the path (suffix) it came from.

    A medical record number if typed as one, else the first identifier that isn't the NHS
    number, else ``Patient.id``, else the fullUrl, else the NHS number itself.
    """
    others = [(n, i) for n, i in identifiers if i.get("system") != uk_core.NHS_NUMBER_SYSTEM]
    typed = [(n, i) for n, i in others if _is_medical_record_number(i)]
    chosen = next(iter(typed or others), None)
    if chosen is None and isinstance(resource.get("id"), str):
        return resource["id"], ".id"
    if chosen is None and full_url is not None:
        return full_url, ""
    if chosen is None and identifiers:
        chosen = identifiers[0]
    if chosen is None:
        return None, ""
    index, identifier = chosen
    system = identifier.get("system")
    value = identifier["value"]
    return (f"{system}|{value}" if isinstance(system, str) else value), f".identifier[{index}]"


def _is_medical_record_number(identifier: dict[str, Any]) -> bool:
    kind = identifier.get("type")
    codings = kind.get("coding") if isinstance(kind, dict) else None
    if not isinstance(codings, list):
        return False
    return any(
        isinstance(c, dict) and (c.get("system"), c.get("code")) == _MEDICAL_RECORD_NUMBER
        for c in codings
    )


def _official_name(names: Any) -> dict[str, Any] | None:
    if not isinstance(names, list):
        return None
    candidates = [n for n in names if isinstance(n, dict)]
    official = [n for n in candidates if n.get("use") == "official"]
    return next(iter(official or candidates), None)


def _current_address(addresses: Any) -> dict[str, Any] | None:
    """The first address not marked ``old`` (senders often list past addresses first)."""
    if not isinstance(addresses, list):
        return None
    candidates = [a for a in addresses if isinstance(a, dict)]
    current = [a for a in candidates if a.get("use") != "old"]
    return next(iter(current or candidates), None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def full_date(value: Any) -> date | None:
    """The date of a FHIR date or dateTime with a whole date (``1950-03-04``), else None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _patient_keys(resource: dict[str, Any], full_url: str | None) -> set[str]:
    """Every reference that names this Patient: its fullUrl, ``Patient/id``, by identifier."""
    keys = {full_url} if full_url else set()
    if isinstance(resource.get("id"), str):
        keys.add(f"Patient/{resource['id']}")
    for identifier in (
        resource.get("identifier", []) if isinstance(resource.get("identifier"), list) else []
    ):
        if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
            system = identifier.get("system")
            keys.add(
                f"Patient?identifier={system}|{identifier['value']}"
                if isinstance(system, str)
                else f"Patient?identifier={identifier['value']}"
            )
    return keys


def _normal(reference: str) -> str:
    """A reference as compared with :func:`_patient_keys` (conditional ones URL-decoded)."""
    return unquote(reference) if "?" in reference else reference


def _names_a_patient(reference: dict[str, Any]) -> bool:
    """Whether a Reference points at a Patient (other than by a bundle-local ``urn:``)."""
    text = reference["reference"]
    return (
        text.startswith(("Patient/", "Patient?"))
        or "/Patient/" in text
        or reference.get("type") == "Patient"
    )


def _full_url_issues(full_url: str, path: str) -> list[Issue]:
    for prefix in _BUNDLE_LOCAL_PREFIXES:
        if full_url.startswith(prefix) and not _FHIR_ID.fullmatch(full_url.removeprefix(prefix)):
            return [
                Issue(
                    IssueCode.VALUE,
                    f"{path}.fullUrl",
                    f"a {prefix} fullUrl must end in a UUID or OID",
                )
            ]
    return []


def _bundle_local_id(full_url: str | None) -> str | None:
    """``X`` of a ``urn:uuid:X`` (or ``urn:oid:X``) fullUrl: the resource's id once taken."""
    if full_url is not None:
        for prefix in _BUNDLE_LOCAL_PREFIXES:
            if full_url.startswith(prefix):
                return full_url.removeprefix(prefix)
    return None


def _take_full_url_id(resource: dict[str, Any], full_url: str | None) -> None:
    """``urn:uuid:X`` → ``id = X``: the bundle-local name becomes the resource's id."""
    local = _bundle_local_id(full_url)
    if local is not None:
        resource["id"] = local


def _local_reference(resource: dict[str, Any], full_url: str | None) -> str | None:
    """``Type/id`` for a resource in the same message, by the id it has or will be given."""
    local = _bundle_local_id(full_url) or resource.get("id")
    if isinstance(local, str) and _FHIR_ID.fullmatch(local):
        return f"{resource['resourceType']}/{local}"
    return None


# --- units, ids and digests ------------------------------------------------------------------


def _rejected(
    label: str, original: bytes, issues: list[Issue], message_id: str | None = None
) -> Unit:
    if len(issues) > MAX_ISSUES:
        more = len(issues) - (MAX_ISSUES - 1)
        issues = [
            *issues[: MAX_ISSUES - 1],
            Issue(IssueCode.TOO_LONG, label, f"and {more} more issues"),
        ]
    return Unit(
        label=label,
        message_id=message_id or "sha256:" + hashlib.sha256(original).hexdigest(),
        issues=tuple(issues),
        original=original,
    )


def _too_big(label: str, body: bytes, limit: int) -> Unit:
    issue = Issue(
        IssueCode.TOO_LONG,
        label,
        f"{len(body):,} bytes; messages over {limit:,} bytes are not read",
    )
    return _rejected(label, body, [issue])


def _document_digest(value: Any) -> str | None:
    """:func:`_digest` of a whole document, or None if it is nested too deeply to serialise.

    orjson refuses more than 254 levels; no FHIR resource comes near that, and everything
    after this point may then serialise parts of the document safely.
    """
    try:
        return _digest(value)
    except TypeError:
        return None


_TOO_DEEP: Final = Issue(IssueCode.TOO_LONG, "(root)", "JSON nested too deeply to be FHIR")


def _digest(value: Any) -> str:
    """A message id from content: the SHA-256 of its canonical JSON (keys sorted, compact)."""
    return "sha256:" + hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _bundle_message_id(bundle: Mapping[str, Any]) -> str | None:
    """The sender's id for a bundle: ``Bundle.id``, else ``Bundle.identifier`` as system|value."""
    own = bundle.get("id")
    if isinstance(own, str) and _FHIR_ID.fullmatch(own):
        return own
    identifier = bundle.get("identifier")
    if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
        system = identifier.get("system")
        text = f"{system}|{identifier['value']}" if isinstance(system, str) else identifier["value"]
        if text and len(text) <= _MAX_MESSAGE_ID - 20:  # room for "/entry[19999]"
            return text
        return _digest(identifier) if text else None
    return None


def _received_on(message: Message) -> date:
    at = message.received_at
    return at.astimezone(_UK).date() if at.tzinfo is not None else at.date()
