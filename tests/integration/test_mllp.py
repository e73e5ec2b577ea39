"""The MLLP listener over real loopback sockets, answering with ACKs from the HL7 parser."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from joinedup.feeds.hl7v2 import ack_code, build_ack, parse_hl7
from joinedup.feeds.mllp import END_BLOCK, frame, send_mllp, serve_mllp
from joinedup.feeds.model import Message, MessageFormat

HOST = "127.0.0.1"
Handle = Callable[[bytes], Awaitable[bytes]]


def adt(
    trigger: str = "A01", control_id: str = "MSG0001", *, drop: str = "", mrn: str = "REF1"
) -> bytes:
    """A small synthetic ADT message."""
    pv1 = {1: "1", 2: "I", 3: "WARD1^BAY2^BED3", 19: "V" + control_id, 44: "202503011010"}
    segments = [
        f"MSH|^~\\&|PAS|REF|JOINEDUP|QT6|20250301101500||ADT^{trigger}^ADT_{trigger}|{control_id}|P|2.4",
        f"EVN|{trigger}|20250301101500",
        f"PID|1||{mrn}^^^REF^MR~9434765919^^^NHS^NH||TESTER^ALEX||19450612|F",
        "PV1|" + "|".join(pv1.get(n, "") for n in range(1, 45)),
    ]
    return "\r".join(s for s in segments if not s.startswith(drop or "-")).encode() + b"\r"


async def parse_and_ack(message: bytes) -> bytes:
    """What the listener does before storage is wired in: parse, then ACK."""
    delivered = Message("REF", "acute-adt", MessageFormat.HL7V2, message, datetime.now(UTC))
    issues = [issue for unit in parse_hl7(delivered) for issue in unit.issues]
    return build_ack(message, ack_code(issues), issues)


def run(
    scenario: Callable[[int], Awaitable[None]], handle: Handle = parse_and_ack, **kw: int
) -> None:
    """Start a listener on a free loopback port, run ``scenario(port)``, stop the listener."""

    async def main() -> None:
        server = await serve_mllp(HOST, 0, handle, **kw)
        port = server.sockets[0].getsockname()[1]
        try:
            await asyncio.wait_for(scenario(port), 30)
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(main())


def msa(ack: bytes) -> list[str]:
    """The MSA fields of an ACK."""
    segment = next(s for s in ack.split(b"\r") if s.startswith(b"MSA|"))
    return segment.decode().split("|")


def errs(ack: bytes) -> list[list[str]]:
    return [s.decode().split("|") for s in ack.split(b"\r") if s.startswith(b"ERR|")]


async def raw_exchange(port: int, data: list[bytes], answers: int) -> list[bytes]:
    """Write bytes as given (garbage, partial frames) and read ``answers`` framed ACKs."""
    reader, writer = await asyncio.open_connection(HOST, port)
    for piece in data:
        writer.write(piece)
        await writer.drain()
    acks = []
    for _ in range(answers):
        answer = await reader.readuntil(END_BLOCK)
        assert answer.startswith(b"\x0b")
        acks.append(answer[1:-2])
    writer.close()
    await writer.wait_closed()
    return acks


def test_a_good_admission_is_accepted() -> None:
    async def scenario(port: int) -> None:
        [ack] = await send_mllp(HOST, port, [adt()])
        assert msa(ack)[:3] == ["MSA", "AA", "MSG0001"]
        assert ack.startswith(b"MSH|^~\\&|JOINEDUP|QT6|PAS|REF|")
        assert not errs(ack)

    run(scenario)


def test_an_admission_without_pid_gets_an_error_naming_pid() -> None:
    async def scenario(port: int) -> None:
        [ack] = await send_mllp(HOST, port, [adt(drop="PID")])
        assert msa(ack)[1] == "AE"
        [err] = errs(ack)
        assert err[2] == "PID^1"
        assert err[3].startswith("100^")
        assert "PID" in err[8]

    run(scenario)


def test_wrong_delimiters_and_unsupported_events_are_rejected() -> None:
    async def scenario(port: int) -> None:
        wrong = adt(control_id="W1").replace(b"|", b"#")
        a99 = adt("A99", "U1")
        ack_wrong, ack_a99 = await send_mllp(HOST, port, [wrong, a99])
        assert msa(ack_wrong)[:3] == ["MSA", "AR", "W1"]
        assert errs(ack_wrong)[0][2] == "MSH^1^1"
        assert msa(ack_a99)[:3] == ["MSA", "AR", "U1"]
        assert errs(ack_a99)[0][3].startswith("201^Unsupported event code")

    run(scenario)


def test_several_messages_on_one_connection_are_answered_in_order() -> None:
    async def scenario(port: int) -> None:
        messages = [adt(t, f"M{n}") for n, t in enumerate(["A01", "A02", "A08", "A03", "A01"])]
        acks = await send_mllp(HOST, port, messages)
        assert [msa(a)[2] for a in acks] == ["M0", "M1", "M2", "M3", "M4"]
        # The A03 has no discharge time (PV1-45): an error in content.
        assert [msa(a)[1] for a in acks] == ["AA", "AA", "AA", "AE", "AA"]

    run(scenario)


def test_garbage_between_frames_is_skipped() -> None:
    async def scenario(port: int) -> None:
        acks = await raw_exchange(
            port,
            [
                b"\r\n  keep-alive\x00\xff",
                frame(adt(control_id="G1")),
                b"\n\n\x1c\rnoise",
                frame(adt(control_id="G2")),
            ],
            answers=2,
        )
        assert [msa(a)[1:3] for a in acks] == [["AA", "G1"], ["AA", "G2"]]

    run(scenario)


def test_frames_split_across_writes_and_odd_endings_are_read() -> None:
    async def scenario(port: int) -> None:
        whole = frame(adt(control_id="S1"))
        pieces = [whole[i : i + 7] for i in range(0, len(whole), 7)]
        no_cr = b"\x0b" + adt(control_id="S2") + b"\x1c"  # end block without its 0x0D
        restarted = b"\x0bMSH|^~\\&|broken" + frame(adt(control_id="S3"))  # frame without end
        acks = await raw_exchange(port, [*pieces, no_cr, restarted], answers=3)
        assert [msa(a)[1:3] for a in acks] == [["AA", "S1"], ["AA", "S2"], ["AA", "S3"]]

    run(scenario)


def test_an_oversized_frame_is_rejected_and_the_connection_goes_on() -> None:
    async def scenario(port: int) -> None:
        huge = adt(control_id="BIG1") + b"NTE|1||" + b"x" * 50_000 + b"\r"
        acks = await send_mllp(HOST, port, [huge, adt(control_id="NEXT")])
        assert msa(acks[0])[1:3] == ["AR", "BIG1"]
        assert "limit" in errs(acks[0])[0][8]
        assert msa(acks[1])[1:3] == ["AA", "NEXT"]

    run(scenario, max_frame_bytes=10_000)


def test_a_failing_handler_still_answers() -> None:
    calls = 0

    async def flaky(message: bytes) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("storage unavailable")
        return await parse_and_ack(message)

    async def scenario(port: int) -> None:
        acks = await send_mllp(HOST, port, [adt(control_id="F1"), adt(control_id="F2")])
        assert msa(acks[0])[1:3] == ["AR", "F1"]
        assert errs(acks[0])[0][3].startswith("207^")
        assert msa(acks[1])[1:3] == ["AA", "F2"]

    run(scenario, flaky)


def test_many_clients_at_once() -> None:
    async def scenario(port: int) -> None:
        async def client(n: int) -> list[bytes]:
            return await send_mllp(
                HOST, port, [adt(control_id=f"C{n}-{i}", mrn=f"REF{n}") for i in range(20)]
            )

        results = await asyncio.gather(*(client(n) for n in range(25)))
        for n, acks in enumerate(results):
            assert [msa(a)[1:3] for a in acks] == [["AA", f"C{n}-{i}"] for i in range(20)]

    run(scenario)
