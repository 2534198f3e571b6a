"""The data plane's response records exactly the bytes that left, however the stream ends.

``StreamedData`` is driven as ASGI with a ``send`` that can fail (the client went away): the
recorded count and SHA-256 must be those of the body messages that were sent, for a file with a
known length (and a range), and for a source without a length, whose chunk is held back until
the next one shows it was not the last.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from starlette.types import Message, Scope

from connector.api.routes.data import StreamedData
from connector.transfer.dataplane import Meter, metered
from connector.transfer.pull import Outgoing
from connector.transfer.sources import Opened, open_file

DATA = bytes(i % 251 for i in range(50_000))


class Client:
    """Takes body messages until ``fail_at`` (then the connection breaks); never disconnects
    by itself."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.body = b""
        self.bodies = 0
        self.ended = False

    async def send(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            return
        if self.fail_at is not None and self.bodies == self.fail_at:
            raise OSError("connection reset")
        self.bodies += 1
        self.body += message["body"]
        self.ended = not message.get("more_body", False)

    async def receive(self) -> Message:
        await anyio.Event().wait()
        return {"type": "http.disconnect"}


def _respond(opened: Opened, meter: Meter, client: Client) -> list[tuple[int, str, bool, int]]:
    """Run the response; return what each record saw: bytes, SHA-256, complete, body so far."""
    records: list[tuple[int, str, bool, int]] = []

    def finish() -> None:
        records.append((meter.bytes, meter.sha256, meter.complete, len(client.body)))

    response = StreamedData(Outgoing(opened, meter, finish))
    scope: Scope = {"type": "http"}
    anyio.run(response, scope, client.receive, client.send)
    return records


def _file(tmp_path: Path, meter: Meter, header: str | None = None) -> Opened:
    path = tmp_path / "d.bin"
    path.write_bytes(DATA)
    return open_file(path, range_header=header, chunk=4096, tap=meter)


def _unsized(meter: Meter) -> Opened:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(DATA), 4096):
            yield DATA[start:start + 4096]

    async def release() -> None:
        pass

    return Opened(200, "text/csv", None, {}, metered(chunks(), meter), release)


def test_a_complete_file_is_recorded_before_its_last_bytes_leave(tmp_path: Path) -> None:
    meter, client = Meter(), Client()
    records = _respond(_file(tmp_path, meter), meter, client)
    assert client.body == DATA and client.ended
    digest = hashlib.sha256(DATA).hexdigest()
    last = len(DATA) % 4096 or 4096
    assert records == [(len(DATA), digest, True, len(DATA) - last)]


def test_a_range_cut_short_records_what_left(tmp_path: Path) -> None:
    meter, client = Meter(), Client(fail_at=3)
    records = _respond(_file(tmp_path, meter, "bytes=100-40000"), meter, client)
    assert client.body == DATA[100:100 + 3 * 4096]
    assert records == [(len(client.body), hashlib.sha256(client.body).hexdigest(), False,
                        len(client.body))]


def test_a_file_cut_at_once_records_nothing(tmp_path: Path) -> None:
    meter, client = Meter(), Client(fail_at=0)
    records = _respond(_file(tmp_path, meter), meter, client)
    assert records == [(0, hashlib.sha256(b"").hexdigest(), False, 0)]


def test_a_source_without_length_cut_short_uncounts_the_held_chunk() -> None:
    meter, client = Meter(), Client(fail_at=5)
    records = _respond(_unsized(meter), meter, client)
    # Six chunks were taken from the source; the sixth failed to leave and is not counted.
    assert client.body == DATA[:5 * 4096]
    assert records == [(len(client.body), hashlib.sha256(client.body).hexdigest(), False,
                        len(client.body))]


def test_a_complete_source_without_length() -> None:
    meter, client = Meter(), Client()
    records = _respond(_unsized(meter), meter, client)
    assert client.body == DATA and client.ended
    assert records[0][:3] == (len(DATA), hashlib.sha256(DATA).hexdigest(), True)
