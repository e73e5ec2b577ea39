"""HL7 v2 over MLLP into the store: the ACK says what happened, and only after it is stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from joinedup.feeds import tables as feed_tables
from joinedup.feeds.config import FeedSpec
from joinedup.feeds.listener import serve_feed, take_hl7_message
from joinedup.feeds.mllp import send_mllp
from joinedup.feeds.model import MessageFormat
from joinedup.records import tables as record_tables
from tests.support.db import count_rows

SPEC = FeedSpec("acute-adt", MessageFormat.HL7V2, ("acute-REF/adt/*.hl7",), partner="REF")
AT = datetime(2026, 3, 1, 10, 15, tzinfo=UTC)


def adt(control_id: str, *, drop: str = "") -> bytes:
    segments = [
        f"MSH|^~\\&|PAS|REF|JOINEDUP|QT6|20250301101500||ADT^A01^ADT_A01|{control_id}|P|2.4",
        "EVN|A01|20250301101500",
        "PID|1||REF1^^^REF^MR~9434765919^^^NHS^NH||TESTER^ALEX||19450612|F",
        "PV1|1|I|WARD1^^BED3^REF" + "|" * 16 + "V1" + "|" * 25 + "202503011010",
    ]
    return "\r".join(s for s in segments if not s.startswith(drop or "-")).encode() + b"\r"


def msa_code(ack: bytes) -> str:
    segment = next(s for s in ack.split(b"\r") if s.startswith(b"MSA|"))
    return segment.decode().split("|")[1]


def test_a_stored_message_is_acknowledged_and_a_resend_stored_once(
    sessions: sessionmaker[Session],
) -> None:
    assert msa_code(take_hl7_message(sessions, SPEC, adt("M1"), AT)) == "AA"
    resources = count_rows(sessions, record_tables.resource)
    assert resources >= 2  # the Patient and the Encounter
    assert msa_code(take_hl7_message(sessions, SPEC, adt("M1"), AT)) == "AA"
    assert count_rows(sessions, record_tables.resource) == resources


def test_a_bad_message_gets_an_error_ack_and_is_quarantined(
    sessions: sessionmaker[Session],
) -> None:
    ack = take_hl7_message(sessions, SPEC, adt("M2", drop="PID"), AT)
    assert msa_code(ack) == "AE"
    assert b"ERR|" in ack and b"PID" in ack
    assert count_rows(sessions, feed_tables.quarantine) == 1
    assert count_rows(sessions, record_tables.resource) == 0


def test_the_listener_answers_over_mllp(sessions: sessionmaker[Session]) -> None:
    async def scenario() -> list[bytes]:
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(
            serve_feed(
                sessions, SPEC, host="127.0.0.1", port=0, clock=lambda: AT, ready=ready.set_result
            )
        )
        port = await asyncio.wait_for(ready, 10)
        try:
            return await send_mllp("127.0.0.1", port, [adt("M3"), adt("M4", drop="PV1")])
        finally:
            server.cancel()
            with pytest.raises(asyncio.CancelledError):
                await server

    acks = asyncio.run(scenario())
    assert [msa_code(a) for a in acks] == ["AA", "AE"]
    assert count_rows(sessions, feed_tables.quarantine) == 1


def test_concurrent_senders_are_all_stored_and_acknowledged(
    sessions: sessionmaker[Session],
) -> None:
    """Several connections at once: the store takes one message at a time, none is refused."""

    async def scenario() -> list[list[bytes]]:
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(
            serve_feed(
                sessions, SPEC, host="127.0.0.1", port=0, clock=lambda: AT, ready=ready.set_result
            )
        )
        port = await asyncio.wait_for(ready, 10)
        try:
            return await asyncio.gather(
                *(
                    send_mllp("127.0.0.1", port, [adt(f"C{c}-{n}") for n in range(5)])
                    for c in range(6)
                )
            )
        finally:
            server.cancel()
            with pytest.raises(asyncio.CancelledError):
                await server

    acks = asyncio.run(scenario())
    assert [msa_code(a) for batch in acks for a in batch] == ["AA"] * 30
    assert count_rows(sessions, feed_tables.receipt) == 30
