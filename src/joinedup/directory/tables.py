"""The directory's tables in the operational store. Only :mod:`joinedup.directory.store` uses them."""

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Integer, String, Table, Text

from joinedup.storage.schema import metadata

ics = Table(
    "directory_ics",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1: one ICS per store
    Column("name", String(200), nullable=False),
    Column("icb", String(10), nullable=False),
)

area = Table(
    "directory_area",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False),
)

place = Table(
    "directory_place",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("area", String(40), ForeignKey("directory_area.code"), nullable=False),
    Column("postcode_districts", JSON, nullable=False),
    Column("population", Integer, nullable=False),
    Column("deprivation", Float, nullable=False),
)

pcn = Table(
    "directory_pcn",
    metadata,
    Column("code", String(10), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("area", String(40), ForeignKey("directory_area.code"), nullable=False),
)

organisation = Table(
    "directory_organisation",
    metadata,
    Column("ods_code", String(10), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(60), nullable=False),
    Column("synthetic", Boolean, nullable=False),
    Column("area", String(40), ForeignKey("directory_area.code"), nullable=True),
    Column("place", String(200), nullable=True),
    Column("pcn", String(10), ForeignKey("directory_pcn.code"), nullable=True),
    Column("beds", Integer, nullable=True),
)

service = Table(
    "directory_service",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("provider", String(10), ForeignKey("directory_organisation.ods_code"), nullable=False),
    Column("type", String(60), nullable=False),
    Column("areas", JSON, nullable=False),
    Column("age_min", Integer, nullable=False),
    Column("age_max", Integer, nullable=False),
    Column("eligibility", Text, nullable=False),
    Column("opening_hours", JSON, nullable=False),
    Column("capacity_amount", Integer, nullable=True),
    Column("capacity_unit", String(60), nullable=True),
    # needs, dispositions, referrers and sex (joinedup.directory.profiles); NULL: the type's.
    Column("profile", JSON, nullable=True),
)

#: Counts of patients registered at each practice by sex and age band (the shape of NHS
#: England's "Patients registered at a GP practice" publication): aggregate, not person-level.
registered_population = Table(
    "registered_population",
    metadata,
    Column("practice", String(10), primary_key=True),
    Column("sex", String(10), primary_key=True),
    Column("age_band", String(10), primary_key=True),
    Column("count", Integer, nullable=False),
)
