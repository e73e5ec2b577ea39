"""The ICS as data: its areas, places, primary care networks, partners and their services.

A directory is read from one YAML file (``load_directory``; the format is in
``docs/directory.md``) into immutable values (``Directory`` and the rest), checked as a
whole so that a wrong file is refused with every problem named, never half-loaded.
"""

from joinedup.directory.loader import (
    ALL_HOURS,
    SERVICE_TYPES,
    load_directory,
    parse_directory,
    parse_opening_hours,
)
from joinedup.directory.model import (
    DAYS,
    ODS_CODE_PATTERNS,
    PCN_CODE_PATTERN,
    POSTCODE_DISTRICT_PATTERN,
    Area,
    Capacity,
    Directory,
    DirectoryError,
    OpeningHours,
    Organisation,
    OrganisationKind,
    Place,
    PrimaryCareNetwork,
    Service,
)

__all__ = [
    "ALL_HOURS",
    "DAYS",
    "ODS_CODE_PATTERNS",
    "PCN_CODE_PATTERN",
    "POSTCODE_DISTRICT_PATTERN",
    "SERVICE_TYPES",
    "Area",
    "Capacity",
    "Directory",
    "DirectoryError",
    "OpeningHours",
    "Organisation",
    "OrganisationKind",
    "Place",
    "PrimaryCareNetwork",
    "Service",
    "load_directory",
    "parse_directory",
    "parse_opening_hours",
]
