"""MLLP (Minimal Lower Layer Protocol): HL7 v2 messages over TCP, each answered with an ACK.

A frame is ``0x0B`` (start block), the message, ``0x1C 0x0D`` (end block). A sender may send
many messages on one connection, one at a time, waiting for each ACK. :func:`serve_mllp` runs
a listener that hands each frame to ``handle`` and writes back the ACK it returns;
:func:`send_mllp` is the matching client (for tests, benchmarks and replaying a file).

The server is forgiving about what it can't use and strict about what it answers:

- bytes outside a frame (keep-alives, stray newlines, garbage) are skipped;
- a start block inside an unfinished frame starts a new frame (the broken one is dropped:
  it has no end, so its sender never saw an ACK and will resend);
- a frame over ``max_frame_bytes`` is not kept in memory: the rest of it is skipped and it is
  answered ``AR`` (``too-long``), with the control id read from its first bytes;
- an end block ``0x1C`` not followed by ``0x0D`` still ends the frame (some senders omit it);
- if ``handle`` fails, the message is answered ``AR`` (HL7's "reject for a reason unrelated
  to its content": the sender should resend later) and the connection stays open.

Nothing from a message is logged: only counts, sizes and error types.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from joinedup.feeds.hl7v2 import MAX_MESSAGE_BYTES, build_ack
from joinedup.feeds.model import Issue, IssueCode

__all__ = ["END_BLOCK", "START_BLOCK", "frame", "send_mllp", "serve_mllp"]

log = logging.getLogger(__name__)

START_BLOCK: Final = b"\x0b"
END_BLOCK: Final = b"\x1c\x0d"
_END: Final = 0x1C
_CR: Final = 0x0D
_READ_SIZE: Final = 64 * 1024
# The head of an oversized frame kept so its ACK can quote its MSH (control id, applications).
_HEAD_BYTES: Final = 4096

Handle = Callable[[bytes], Awaitable[bytes]]


def frame(message: bytes) -> bytes:
    """A message wrapped in MLLP start and end blocks."""
    return START_BLOCK + message + END_BLOCK


async def serve_mllp(
    host: str,
    port: int,
    handle: Handle,
    *,
    max_frame_bytes: int = MAX_MESSAGE_BYTES,
    idle_timeout: float | None = 600.0,
) -> asyncio.Server:
    """Start an MLLP listener on ``host:port`` (port 0 picks a free one); returns the server.

    ``handle`` gets each message's bytes (without framing) and returns the ACK's bytes, which
    are framed and written back before the next message on that connection is read.
    Connections are served concurrently; a connection idle for ``idle_timeout`` seconds is
    closed. Close the server with ``server.close(); await server.wait_closed()``.
    """

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _serve_connection(reader, writer, handle, max_frame_bytes, idle_timeout)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError) as error:
            log.info("MLLP connection ended: %s", type(error).__name__)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    return await asyncio.start_server(on_connection, host, port, limit=_READ_SIZE)


async def _serve_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handle: Handle,
    max_frame_bytes: int,
    idle_timeout: float | None,
) -> None:
    buffer = bytearray()
    in_frame = False
    oversized = False  # in a frame already over the limit: skipping to its end
    head = b""  # an oversized frame's first bytes
    skipped = 0  # bytes seen outside frames, reported once per connection
    while True:
        chunk = await asyncio.wait_for(reader.read(_READ_SIZE), idle_timeout)
        if not chunk:
            break
        buffer += chunk
        while buffer:
            if not in_frame:
                start = buffer.find(START_BLOCK)
                if start < 0:
                    skipped += len(buffer)
                    buffer.clear()
                    break
                skipped += start
                del buffer[: start + 1]
                in_frame, oversized, head = True, False, b""
                continue
            end = buffer.find(_END)
            restart = buffer.find(START_BLOCK, 0, end if end >= 0 else len(buffer))
            if restart >= 0:
                # A new frame began before this one ended: drop the unfinished one.
                log.info("MLLP frame without an end block dropped (%d bytes)", restart)
                del buffer[: restart + 1]
                oversized, head = False, b""
                continue
            if end < 0:
                if len(buffer) > max_frame_bytes or oversized:
                    if not oversized:
                        head = bytes(buffer[:_HEAD_BYTES])
                        oversized = True
                    buffer.clear()
                break
            # The 0x1C ends the frame even when its 0x0D has not arrived (yet, or at all): a
            # 0x0D arriving later falls outside any frame and is skipped.
            message = bytes(buffer[:end])
            del buffer[: end + (2 if end + 1 < len(buffer) and buffer[end + 1] == _CR else 1)]
            in_frame = False
            if oversized or len(message) > max_frame_bytes:
                ack = _too_long_ack(head or message[:_HEAD_BYTES], max_frame_bytes)
            else:
                ack = await _answer(handle, message)
            writer.write(frame(ack))
            await writer.drain()
    if skipped:
        log.info("MLLP connection sent %d bytes outside frames; skipped", skipped)


def _too_long_ack(head: bytes, limit: int) -> bytes:
    issue = Issue(IssueCode.TOO_LONG, "message", f"message is over the {limit:,}-byte limit")
    return build_ack(head, "AR", [issue])


async def _answer(handle: Handle, message: bytes) -> bytes:
    try:
        return await handle(message)
    except Exception as error:
        # The sender must get an answer, and must not be told its message was wrong.
        log.warning("MLLP handler failed: %s", type(error).__name__)
        issue = Issue(
            IssueCode.EXCEPTION, "message", "the receiver could not process this; resend later"
        )
        return build_ack(message, "AR", [issue])


async def send_mllp(
    host: str,
    port: int,
    messages: Sequence[bytes],
    *,
    timeout: float = 30.0,
) -> list[bytes]:
    """Send messages on one connection, one at a time; returns each ACK (without framing).

    Raises ``ConnectionError`` if the listener closes the connection before answering.
    """
    reader, writer = await asyncio.open_connection(host, port, limit=2 * MAX_MESSAGE_BYTES)
    acks: list[bytes] = []
    try:
        for message in messages:
            writer.write(frame(message))
            await writer.drain()
            answer = await asyncio.wait_for(reader.readuntil(END_BLOCK), timeout)
            start = answer.find(START_BLOCK)
            acks.append(answer[start + 1 : -len(END_BLOCK)])
    except asyncio.IncompleteReadError as error:
        raise ConnectionError("the MLLP listener closed the connection before answering") from error
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    return acks
