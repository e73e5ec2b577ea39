"""The shared care record's resources, each with its provenance."""

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String, Table

from joinedup.storage.schema import metadata

#: The latest version of every FHIR resource a partner sent, with where and when it came from.
resource = Table(
    "record_resource",
    metadata,
    Column("resource_type", String(60), primary_key=True),
    Column("id", String(64), primary_key=True, index=True),
    Column("version", Integer, nullable=False),
    Column(
        "source_record_id",
        Integer,
        ForeignKey("identity_source_record.id"),
        nullable=True,
        index=True,
    ),
    Column("partner", String(10), nullable=False),
    Column("feed", String(60), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", JSON, nullable=False),
    # A person's resources of some types: the record's commonest read.
    Index("ix_record_resource_source_type", "source_record_id", "resource_type"),
)

#: The search index: one row per (resource, parameter, value) of :mod:`joinedup.records.search`.
#: Tokens fill ``system`` and ``value``; references fill ``value``; dates fill the half-open
#: UTC range ``[start, end)``.
search = Table(
    "record_search",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resource_type", String(60), nullable=False),
    Column("resource_id", String(64), nullable=False, index=True),
    Column("param", String(40), nullable=False),
    Column("system", String(200), nullable=True),
    Column("value", String(300), nullable=True),
    Column("start", DateTime, nullable=True),
    Column("end", DateTime, nullable=True),
    # One index for both kinds of search: tokens by value, dates (value NULL) by start.
    Index("ix_record_search_lookup", "resource_type", "param", "value", "start"),
)
