"""The MLLP listener wired to the intake pipeline: every HL7 v2 message is taken and ACKed.

The ACK goes back only after the message is committed (or quarantined), so an AA means the
message is safely stored, and a sender that resends after a lost ACK is stored once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from joinedup.feeds.config import FeedSpec
from joinedup.feeds.hl7v2 import ack_code, build_ack, parse_hl7
from joinedup.feeds.mllp import serve_mllp
from joinedup.feeds.model import Message, MessageFormat
from joinedup.feeds.pipeline import take_units


def take_hl7_message(
    sessions: sessionmaker[Session], spec: FeedSpec, body: bytes, received_at: datetime
) -> bytes:
    """Take one HL7 v2 message from ``spec``'s partner and return its ACK."""
    assert spec.partner is not None
    message = Message(
        partner=spec.partner,
        feed=spec.feed,
        format=MessageFormat.HL7V2,
        body=body,
        received_at=received_at,
        name="mllp",
    )
    units = parse_hl7(message)
    outcomes = take_units(sessions, message, units)
    issues = tuple(issue for outcome in outcomes for issue in outcome.issues)
    return build_ack(body, ack_code(issues), issues, at=received_at)


async def serve_feed(
    sessions: sessionmaker[Session],
    spec: FeedSpec,
    *,
    host: str,
    port: int,
    clock: Callable[[], datetime],
    ready: Callable[[int], None] | None = None,
) -> None:
    """Serve MLLP on ``host:port`` until cancelled; ``ready`` gets the bound port."""

    # One writer thread: the store takes one message at a time (SQLite allows one writer, and
    # concurrent write transactions there fail rather than wait), while the event loop goes
    # on reading and answering every connection.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mllp-store")
    loop = asyncio.get_running_loop()

    async def handle(body: bytes) -> bytes:
        return await loop.run_in_executor(writer, take_hl7_message, sessions, spec, body, clock())

    server = await serve_mllp(host, port, handle)
    if ready is not None:
        ready(server.sockets[0].getsockname()[1])
    try:
        async with server:
            await server.serve_forever()
    finally:
        writer.shutdown(wait=True)
