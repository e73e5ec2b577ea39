"""Remembering which small FHIR elements have already passed their R4B model check.

Checking a resource against its ``fhir.resources`` model validates every complex element in
it (each ``Coding``, ``CodeableConcept``, ``Reference``, ``Period``, ``meta``...) by building a
pydantic model for it, and that costs far more than the JSON it reads. Partners' feeds repeat
the same elements endlessly: the same SNOMED codings, the same practice reference, the same
``meta.profile``. Whether an element is valid depends only on its model class and its JSON,
so a feed's intake remembers the elements that passed and does not build them again.

This hooks ``fhir_core``'s validator for nested elements (``FhirBase.fhir_model_validator``),
the one seam it offers. Only elements that *passed* are remembered: a failing element is
checked afresh every time, so every error is reported exactly as without the memo, with its
path. Large elements (whole resources inside bundle entries) are not remembered. The memo is
per process and bounded. :func:`installed` says whether the hook is in place; if a future
``fhir_core`` moves the seam, intake is slower but checks exactly the same.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from fhir_core import types as fhir_types

MAX_ELEMENT_BYTES: Final = 512
"""Elements whose JSON is longer than this are checked every time (they rarely repeat)."""

MAX_ENTRIES: Final = 50_000
"""When the memo holds this many elements it starts again (bounds memory, ~25 MiB)."""

_remembered: dict[tuple[type, type, bytes], Any] = {}
_original: Any = None


def _memoised(cls: type, value: Any, model_klass: type) -> Any:
    if not isinstance(value, dict):
        return _original(cls, value, model_klass)
    try:
        text = orjson.dumps(value)
    except TypeError:  # not plain JSON (e.g. a huge integer): check it without the memo
        return _original(cls, value, model_klass)
    if len(text) > MAX_ELEMENT_BYTES:
        return _original(cls, value, model_klass)
    key = (cls, model_klass, text)
    found = _remembered.get(key)
    if found is None:
        found = _original(cls, value, model_klass)  # raises if invalid: nothing remembered
        if len(_remembered) >= MAX_ENTRIES:
            _remembered.clear()
        _remembered[key] = found
    return found


def install() -> None:
    """Put the memo in front of ``fhir_core``'s nested-element validator (idempotent)."""
    global _original
    base = getattr(fhir_types, "FhirBase", None)
    hook = base.__dict__.get("fhir_model_validator") if base is not None else None
    if _original is not None or not isinstance(hook, classmethod):
        return
    _original = hook.__func__
    base.fhir_model_validator = classmethod(_memoised)  # type: ignore[union-attr]


def uninstall() -> None:
    """Take the memo away again and forget what it held (for tests that compare)."""
    global _original
    if _original is not None:
        fhir_types.FhirBase.fhir_model_validator = classmethod(_original)  # type: ignore[method-assign,assignment]
        _original = None
    _remembered.clear()


def installed() -> bool:
    """Whether element checks are being remembered."""
    return _original is not None
