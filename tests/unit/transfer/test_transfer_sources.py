"""Ranges, file paths, and the file reader's hashing of exactly what was handed over.

The reader hashes chunks ahead of the sender, in its own thread; whatever the read-ahead
depth, the digest recorded is SHA-256 of the bytes the receiver took, never of bytes read ahead.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from connector.transfer.dataplane import Meter
from connector.transfer.errors import RangeNotSatisfiable, SourceMissing, SourceRefused
from connector.transfer.sources import (
    READ_AHEAD,
    ByteRange,
    Truncated,
    file_path,
    open_file,
    parse_range,
)


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("", None), ("bytes=0-0", ByteRange(0, 0, 10)),
    ("bytes=2-5", ByteRange(2, 5, 10)), ("bytes=7-", ByteRange(7, 9, 10)),
    ("bytes=-3", ByteRange(7, 9, 10)), ("bytes=-30", ByteRange(0, 9, 10)),
    ("bytes=5-100", ByteRange(5, 9, 10)), (" bytes = 1 - 2 ", ByteRange(1, 2, 10)),
    ("bytes=0-1,3-4", None), ("items=0-1", None), ("bytes=5-2", None), ("bytes=-", None),
    ("bytes=a-b", None),
])
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 10) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=10-", 10), ("bytes=-0", 10),
                                              ("bytes=0-", 0), ("bytes=-1", 0)])
def test_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, size)
    assert caught.value.size == size


def test_content_range() -> None:
    assert ByteRange(2, 5, 10).content_range() == "bytes 2-5/10"
    assert ByteRange(2, 5, 10).length == 4


def test_file_path_stays_in_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("x")
    (tmp_path.parent / "out.csv").write_text("x")
    (tmp_path / "link.csv").symlink_to(tmp_path.parent / "out.csv")
    assert file_path(tmp_path, "in.csv") == (tmp_path / "in.csv").resolve()
    for bad in ("../out.csv", "link.csv", "/etc/passwd", ""):
        with pytest.raises(SourceRefused):
            file_path(tmp_path, bad)
    with pytest.raises(SourceMissing):
        file_path(tmp_path, "nothing.csv")


async def _drain(path: Path, header: str | None, chunk: int, stop_after: int | None = None,
                 depth: int = READ_AHEAD) -> tuple[bytes, Meter, int]:
    meter = Meter()
    opened = open_file(path, range_header=header, chunk=chunk, tap=meter, depth=depth)
    got = b""
    try:
        async for data in opened.chunks:
            got += data
            if stop_after is not None and len(got) >= stop_after:
                break
    finally:
        await opened.release()
    return got, meter, opened.status


DATA = bytes(i % 251 for i in range(100_000))


@pytest.mark.parametrize("depth", [1, 2, 5])
@pytest.mark.parametrize("chunk", [4096, 5000, 1 << 20])
@pytest.mark.parametrize(("header", "start", "end"), [
    (None, 0, 99_999), ("bytes=10-77776", 10, 77_776), ("bytes=-5000", 95_000, 99_999),
    ("bytes=99999-", 99_999, 99_999)])
def test_the_digest_is_of_the_bytes_sent(tmp_path: Path, header: str | None, start: int,
                                         end: int, chunk: int, depth: int) -> None:
    path = tmp_path / "d.bin"
    path.write_bytes(DATA)
    got, meter, status = asyncio.run(_drain(path, header, chunk, depth=depth))
    assert got == DATA[start:end + 1] and status == (206 if header else 200)
    assert meter.bytes == len(got) and meter.sha256 == hashlib.sha256(got).hexdigest()


@pytest.mark.parametrize("depth", [1, 2, 5])
@pytest.mark.parametrize(("header", "offset"), [(None, 0), ("bytes=1000-", 1000)])
def test_a_stream_cut_short_counts_only_what_left(tmp_path: Path, header: str | None,
                                                  offset: int, depth: int) -> None:
    path = tmp_path / "d.bin"
    path.write_bytes(DATA)
    got, meter, _ = asyncio.run(_drain(path, header, 4096, stop_after=12_288, depth=depth))
    # The third chunk was yielded but never taken back, and later ones were at most read
    # (and hashed) ahead: only the first two count.
    assert len(got) == 12_288 and meter.bytes == 8192
    assert meter.sha256 == hashlib.sha256(DATA[offset:offset + 8192]).hexdigest()


def test_a_file_that_shrinks_ends_the_stream_short(tmp_path: Path) -> None:
    path = tmp_path / "d.bin"
    path.write_bytes(DATA)

    async def run() -> tuple[bytes, Meter]:
        meter = Meter()
        opened = open_file(path, range_header=None, chunk=4096, tap=meter)
        path.write_bytes(DATA[:10_000])  # after the size was taken, before any read
        got = b""
        try:
            with pytest.raises(Truncated):
                async for data in opened.chunks:
                    got += data
        finally:
            await opened.release()
        return got, meter

    got, meter = asyncio.run(run())
    assert got == DATA[:10_000]
    assert meter.bytes == 10_000 and meter.sha256 == hashlib.sha256(got).hexdigest()


def test_released_before_the_first_chunk(tmp_path: Path) -> None:
    path = tmp_path / "d.bin"
    path.write_bytes(DATA)

    async def run() -> Meter:
        meter = Meter()
        opened = open_file(path, range_header=None, chunk=4096, tap=meter)
        await opened.release()
        return meter

    meter = asyncio.run(run())
    assert meter.bytes == 0 and meter.sha256 == hashlib.sha256(b"").hexdigest()


def test_the_meter_counts_what_left_not_what_was_hashed_ahead() -> None:
    meter = Meter()
    for part in (b"a" * 3000, b"b" * 3000, b"c" * 3000):
        meter.ahead(part)
    assert meter.bytes == 0 and meter.sha256 == hashlib.sha256(b"").hexdigest()
    meter.left()
    meter.left()
    assert meter.bytes == 6000
    assert meter.sha256 == hashlib.sha256(b"a" * 3000 + b"b" * 3000).hexdigest()
    meter.take_back()  # the second one's send failed after all
    assert meter.bytes == 3000 and meter.sha256 == hashlib.sha256(b"a" * 3000).hexdigest()


def test_update_hashes_and_counts_at_once() -> None:
    meter = Meter()
    meter.update(b"head")
    meter.update(b"tail" * 1000)
    assert meter.bytes == 4004
    assert meter.sha256 == hashlib.sha256(b"head" + b"tail" * 1000).hexdigest()


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    got, meter, status = asyncio.run(_drain(path, None, 4096))
    assert (got, meter.bytes, status) == (b"", 0, 200)
    assert meter.sha256 == hashlib.sha256(b"").hexdigest()
