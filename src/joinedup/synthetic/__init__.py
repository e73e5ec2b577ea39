"""A realistic synthetic ICS: its people, and the feeds its partners would send.

Modelled on Cornwall and the Isles of Scilly: an older population than England's, living in
the directory's places, registered with its practices, with England-calibrated long-term
conditions. :func:`generate_ics` writes every partner's feed into ``DIR/feeds/`` and the
ground truth (which person each source record is about) into ``DIR/truth/``, kept apart so
the platform's record linkage can be measured against it. See ``docs/synthetic.md``.
"""

from joinedup.synthetic.generate import (
    GenerationError,
    GenerationSummary,
    default_directory,
    generate_ics,
    period_for,
)
from joinedup.synthetic.model import Address, Diagnosis, Person, Registration, TruthRow

__all__ = [
    "Address",
    "Diagnosis",
    "GenerationError",
    "GenerationSummary",
    "Person",
    "Registration",
    "TruthRow",
    "default_directory",
    "generate_ics",
    "period_for",
]
