"""MLLP throughput: ADT messages per second, each parsed, validated, mapped and ACKed.

The listener runs in its own process; this process is the client, sending synthetic ADT
messages over loopback on one or more connections, each waiting for its ACK before sending
the next (as MLLP senders do). With ``--store`` the listener is ``joinedup feeds listen``'s
own: every message is stored (or quarantined) in a fresh SQLite file before its ACK;
without it, messages are only parsed, validated and ACKed.

    .venv/bin/python benchmarks/mllp_throughput.py --messages 20000 --connections 1 8 [--store]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import random
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

from joinedup.feeds.hl7v2 import ack_code, build_ack, parse_hl7
from joinedup.feeds.mllp import END_BLOCK, frame, serve_mllp
from joinedup.feeds.model import Message, MessageFormat

HOST = "127.0.0.1"
TRIGGERS = ["A01", "A02", "A08", "A03"]  # one stay's life, repeated


def nhs_number(rnd: random.Random) -> str:
    """A random NHS number that passes Modulus 11 (synthetic range 999)."""
    while True:
        digits = [9, 9, 9] + [rnd.randrange(10) for _ in range(6)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def adt_messages(count: int, seed: int = 1, first: int = 0) -> list[bytes]:
    """``count`` valid synthetic ADT messages (admit, transfer, update, discharge per stay),
    numbered from ``first`` so that passes can send messages never sent before."""
    rnd = random.Random(seed)
    messages = []
    for n in range(first, first + count):
        trigger = TRIGGERS[n % 4]
        stay = n // 4
        pv1 = {
            1: "1",
            2: "I",
            3: f"WARD{rnd.randrange(1, 30)}^BAY{rnd.randrange(1, 6)}^BED{rnd.randrange(1, 8)}^REF",
            4: "21",
            14: "19",
            19: f"V{stay:08d}",
            44: "202503011010",
        }
        if trigger == "A03":
            pv1 |= {45: "202503051200", 36: "19", 37: "1"}
        segments = [
            f"MSH|^~\\&|PAS|REF|JOINEDUP|QT6|20250301101500||ADT^{trigger}^ADT_{trigger}|M{n:09d}|P|2.4",
            f"EVN|{trigger}|20250301101500",
            f"PID|1||REF{stay:07d}^^^REF^MR~{nhs_number(rnd)}^^^NHS^NH||TESTER^ALEX^JO^^MX||"
            f"19{rnd.randrange(20, 99)}0612|{rnd.choice('MF')}|||{rnd.randrange(1, 200)} HIGH STREET"
            "^^TRURO^CORNWALL^TR1 2AB^GBR^H",
            "PV1|" + "|".join(pv1.get(i, "") for i in range(1, 46)),
        ]
        messages.append(("\r".join(segments) + "\r").encode())
    return messages


async def parse_and_ack(message: bytes) -> bytes:
    delivered = Message("REF", "acute-adt", MessageFormat.HL7V2, message, datetime.now(UTC))
    issues = [issue for unit in parse_hl7(delivered) for issue in unit.issues]
    return build_ack(message, ack_code(issues), issues)


def run_server(ready: Connection, stop: Event, database: str | None) -> None:
    """The listener process: serve until told to stop.

    With ``database``, it is ``joinedup feeds listen``'s own listener (``serve_feed``),
    storing every message before its ACK; without, it only parses, validates and ACKs.
    """

    async def parse_only() -> None:
        server = await serve_mllp(HOST, 0, parse_and_ack)
        ready.send(server.sockets[0].getsockname()[1])
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        server.close()
        await server.wait_closed()

    async def store(url: str) -> None:
        from joinedup.feeds.config import FeedSpec
        from joinedup.feeds.listener import serve_feed
        from joinedup.settings import Settings
        from joinedup.storage import make_engine, migrate, session_factory

        engine = make_engine(Settings(database_url=url))
        migrate(engine)
        spec = FeedSpec("acute-adt", MessageFormat.HL7V2, ("*.hl7",), partner="REF")
        listener = asyncio.create_task(
            serve_feed(
                session_factory(engine),
                spec,
                host=HOST,
                port=0,
                clock=lambda: datetime.now(UTC),
                ready=ready.send,
            )
        )
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        engine.dispose()

    asyncio.run(parse_only() if database is None else store(database))


async def send_all(
    port: int, messages: list[bytes], connections: int
) -> tuple[Counter[str], list[float]]:
    """Send the messages over ``connections`` connections; ACK codes and per-message latency."""
    codes: Counter[str] = Counter()
    latencies: list[float] = []

    async def client(share: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        for message in share:
            sent = time.perf_counter()
            writer.write(frame(message))
            await writer.drain()
            ack = await reader.readuntil(END_BLOCK)
            latencies.append(time.perf_counter() - sent)
            msa = next(s for s in ack.split(b"\r") if s.startswith(b"MSA|"))
            codes[msa.split(b"|")[1].decode()] += 1
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(client(messages[i::connections]) for i in range(connections)))
    return codes, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--store", action="store_true", help="store each message before its ACK")
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="joinedup-mllp-")
    database = f"sqlite:///{scratch.name}/mllp.sqlite" if args.store else None

    messages = adt_messages(args.messages)
    size = sum(map(len, messages)) / len(messages)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    stop = context.Event()
    server = context.Process(target=run_server, args=(theirs, stop, database), daemon=True)
    server.start()
    try:
        port = ours.recv()
        print(
            f"{args.messages:,} ADT messages, {size:,.0f} bytes on average, listener pid "
            f"{server.pid}, {'stored in SQLite' if args.store else 'parsed and ACKed only'}"
        )
        for number, connections in enumerate(args.connections):
            # Fresh messages each pass: a resent message is a duplicate, which costs less.
            messages = adt_messages(args.messages, first=number * args.messages)
            started = time.perf_counter()
            codes, latencies = asyncio.run(send_all(port, messages, connections))
            elapsed = time.perf_counter() - started
            latencies.sort()
            p99 = latencies[int(len(latencies) * 0.99) - 1]
            print(
                f"{connections:>3} connection(s): {args.messages / elapsed:,.0f} messages/s with ACKs "
                f"({elapsed:.2f} s; ACKs {dict(codes)}; latency median "
                f"{statistics.median(latencies) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms)"
            )
    finally:
        stop.set()
        server.join(timeout=10)
        scratch.cleanup()


if __name__ == "__main__":
    main()
