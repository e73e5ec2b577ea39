"""The intake's tables: receipts (for idempotent re-delivery) and the quarantine."""

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)

from joinedup.storage.schema import metadata

#: One row per unit taken, so a re-delivered unit is recognised and stored once.
receipt = Table(
    "feed_receipt",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner", String(10), nullable=False),
    Column("feed", String(60), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("partner", "feed", "message_id", name="uq_feed_receipt_message"),
)

#: Rejected units, kept with their reasons and original bytes until fixed and replayed.
quarantine = Table(
    "feed_quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner", String(10), nullable=False),
    Column("feed", String(60), nullable=False),
    Column("format", String(20), nullable=False),
    Column("name", String(300), nullable=False),
    Column("label", String(100), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("issues", JSON, nullable=False),
    Column("original", LargeBinary, nullable=False),
    Column("status", String(20), nullable=False),  # open | replayed
    Column("replayed_at", DateTime(timezone=True), nullable=True),
)
