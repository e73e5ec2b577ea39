"""The person index's tables. Links are never overwritten: a change closes one and opens another."""

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from joinedup.storage.schema import metadata

#: A person as one partner's system holds them: the unit identity linkage works on.
source_record = Table(
    "identity_source_record",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner", String(10), nullable=False),
    Column("feed", String(60), nullable=False),
    Column("local_id", String(200), nullable=False),
    Column("nhs_number", String(10), nullable=True, index=True),
    Column("given", String(200), nullable=True),
    Column("family", String(200), nullable=True),
    Column("birth_date", Date, nullable=True),
    Column("sex", String(10), nullable=True),
    Column("postcode", String(10), nullable=True),
    Column("address_line", String(300), nullable=True),
    Column("death_date", Date, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("partner", "feed", "local_id", name="uq_identity_source_record_local"),
)

#: A person: one human being, known through one or more source records.
person = Table(
    "identity_person",
    metadata,
    Column("person_key", String(40), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: Which person each source record is about, over time. The current link has no ``valid_to``.
link = Table(
    "identity_link",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_record_id", Integer, ForeignKey("identity_source_record.id"), nullable=False),
    Column("person_key", String(40), ForeignKey("identity_person.person_key"), nullable=False),
    Column(
        "method", String(20), nullable=False
    ),  # new | nhs_number | probabilistic | review | merge | unmerge
    Column("match_probability", Float, nullable=True),
    Column("reason", String(300), nullable=False),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("valid_to", DateTime(timezone=True), nullable=True),
    Index("ix_identity_link_current", "source_record_id", "valid_to"),
    Index("ix_identity_link_person", "person_key"),
)

#: Pairs of source records that linkage could not decide, and the decisions people made.
review = Table(
    "identity_review",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("left_id", Integer, ForeignKey("identity_source_record.id"), nullable=False),
    Column("right_id", Integer, ForeignKey("identity_source_record.id"), nullable=False),
    Column("reason", String(40), nullable=False),  # probable_match | nhs_number_conflict
    Column("match_probability", Float, nullable=False),
    Column("match_weight", Float, nullable=False),
    Column("explanation", JSON, nullable=False),  # match weight per comparison
    Column("status", String(20), nullable=False),  # open | link | not_link
    Column("decided_by", String(100), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("left_id", "right_id", name="uq_identity_review_pair"),
)
