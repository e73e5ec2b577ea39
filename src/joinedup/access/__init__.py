"""Who may see what, and the audit trail.

Users sign in with an OpenID Connect provider (:mod:`.tokens`; the demo's own provider is
:mod:`.dev_idp`); one policy file (``policy.yaml``, read by :mod:`.policy`) maps roles to
actions and says who may see sensitive items; :mod:`.decide` applies it to one person
(legitimate relationship, objection, break-glass), :mod:`.store` keeps break-glass accesses
and objections, and :mod:`.audit` keeps a hash-chained log of every person-level read,
search and write. The rules are described in ``docs/access.md``.
"""

from joinedup.access.model import AccessDenied, BreakGlass, Decision, Relationship, User

__all__ = ["AccessDenied", "BreakGlass", "Decision", "Relationship", "User"]
