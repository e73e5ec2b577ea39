"""The single point of access's tables: referrals, their history, services' live capacity
status, and notifications to receiving teams (subscriptions and the outbox)."""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from joinedup.storage.schema import metadata

#: One row per referral: where it stands now. ``version`` counts every change (the Task's
#: ETag); an update names the version it read and fails if someone changed it since.
referral = Table(
    "referral",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("message_id", String(200), nullable=True, unique=True),  # BaRS re-delivery
    Column("person_key", String(40), nullable=False, index=True),
    Column("channel", String(20), nullable=False),  # form | bars | proactive | synthetic
    Column("source", String(30), nullable=False),  # a referrer code (profiles.REFERRERS)
    Column("referrer_org", String(20), nullable=False),
    Column("referrer_user", String(200), nullable=False),
    Column("referrer_name", String(200), nullable=False),
    Column("need", String(40), nullable=False),
    Column("urgency", String(30), nullable=False),
    Column("summary", Text, nullable=False),
    Column("requested_service", String(100), nullable=True),
    Column("area", String(40), nullable=True),  # the person's area when referred
    Column("cohort", String(100), nullable=True),  # a proactive referral's cohort
    Column("authored_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("business_status", String(40), nullable=True),
    Column("owner", String(100), nullable=False, index=True),  # a service id or the centre
    Column("proposed_service", String(100), nullable=True),
    Column("proposals", JSON, nullable=False),  # the router's ranking, with its reasons
    Column("first_routed_service", String(100), nullable=True),
    Column("routed_at", DateTime(timezone=True), nullable=True),
    Column("first_contact_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("closed_reason", Text, nullable=True),
    Column("bounces", Integer, nullable=False),
    Column("redirects", Integer, nullable=False),
    Column("duplicate_of", String(40), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_referral_person_need", "person_key", "need"),
)

#: Everything that happened to a referral, in order: the lifecycle's timestamps and who.
referral_event = Table(
    "referral_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", String(40), ForeignKey("referral.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", String(30), nullable=False),
    Column("from_status", String(20), nullable=True),
    Column("to_status", String(20), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("actor_name", String(200), nullable=False),
    Column("service", String(100), nullable=True),
    Column("reason", Text, nullable=True),
)

#: Each service's live capacity status, as its team last reported it (green, amber, red).
service_status = Table(
    "referral_service_status",
    metadata,
    Column("service_id", String(100), primary_key=True),
    Column("status", String(10), nullable=False),
    Column("note", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(200), nullable=False),
)

#: Where a receiving team wants to hear of referrals routed to it: a FHIR rest-hook
#: subscription's endpoint (or a plain webhook), for one service.
subscription = Table(
    "referral_subscription",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("service_id", String(100), nullable=False, index=True),
    Column("endpoint", Text, nullable=False),
    Column("header", Text, nullable=True),  # e.g. "Authorization: Bearer ..."
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
)

#: The outbox: each notification to send, tried again with growing waits until delivered or,
#: after the last attempt, moved to the dead-letter list (``status = dead``) for a person.
notification = Table(
    "referral_notification",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", String(40), ForeignKey("referral_subscription.id"), nullable=False),
    Column("referral_id", String(40), ForeignKey("referral.id"), nullable=False),
    Column("event", String(30), nullable=False),
    Column("status", String(10), nullable=False, index=True),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
)

#: Every self-referral from the public form, as the person sent it, before anything else:
#: taken (``referral_id`` set) when the person index knows them, else held for the
#: coordination centre to identify (``status = to-identify``) and never dropped.
self_referral = Table(
    "self_referral",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("details", JSON, nullable=False),  # the form as sent (names, birth, contact, need)
    Column("need", String(40), nullable=False),
    Column("status", String(20), nullable=False, index=True),  # referred | to-identify | closed
    Column("referral_id", String(40), ForeignKey("referral.id"), nullable=True),
    Column("reason", Text, nullable=True),  # why it is held, or why it was closed
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(200), nullable=True),
)
