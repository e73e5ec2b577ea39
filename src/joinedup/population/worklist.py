"""From cohort to action: the one place the lake's pseudonyms are turned back into people.

A cohort is found on the pseudonymised lake (``person_id``: an HMAC of the person key under
the lake's secret key). To become a worklist its people must be named again, but only to a
user with a legitimate relationship with each of them. :func:`reidentify` does the first
half for a given set of candidates (the people the user's organisation already holds a
record of), by computing their pseudonyms forwards with the key; it never reverses one.
The second half, the access decision and the audit entry for each person shown, is the
shared care record's (``joinedup.api.guard.Guard.person_if_related``).
"""

from __future__ import annotations

from collections.abc import Iterable

from joinedup.population.lake import pseudonym


def reidentify(
    key: bytes, person_ids: Iterable[str], person_keys: Iterable[str]
) -> list[tuple[str, str]]:
    """Of ``person_keys`` (candidates known to the user's organisation), those whose
    pseudonym under ``key`` is among ``person_ids`` (a cohort's people), as (person key,
    person id) pairs in the candidates' order."""
    wanted = frozenset(person_ids)
    pairs = ((k, pseudonym(key, k)) for k in person_keys)
    return [(k, pid) for k, pid in pairs if pid in wanted]
