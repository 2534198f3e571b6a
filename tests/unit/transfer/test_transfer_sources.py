"""Ranges, file paths, and the file reader's hashing of exactly what was handed over."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from connector.transfer.dataplane import Meter
from connector.transfer.errors import RangeNotSatisfiable, SourceMissing, SourceRefused
from connector.transfer.sources import ByteRange, file_path, open_file, parse_range


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
                 ) -> tuple[bytes, Meter, int]:
    meter = Meter()
    opened = open_file(path, range_header=header, chunk=chunk, tap=meter.update)
    got = b""
    try:
        async for data in opened.chunks:
            got += data
            if stop_after is not None and len(got) >= stop_after:
                break
    finally:
        await opened.release()
    return got, meter, opened.status


@pytest.mark.parametrize(("header", "start", "end"), [(None, 0, 99_999),
                                                      ("bytes=10-77776", 10, 77_776)])
def test_file_chunks_are_hashed_after_they_leave(tmp_path: Path, header: str | None,
                                                 start: int, end: int) -> None:
    data = bytes(i % 251 for i in range(100_000))
    path = tmp_path / "d.bin"
    path.write_bytes(data)
    got, meter, status = asyncio.run(_drain(path, header, 4096))
    assert got == data[start:end + 1] and status == (206 if header else 200)
    assert meter.bytes == len(got) and meter.sha256 == hashlib.sha256(got).hexdigest()


def test_a_stream_cut_short_counts_only_what_left(tmp_path: Path) -> None:
    path = tmp_path / "d.bin"
    path.write_bytes(b"x" * 40_000)
    got, meter, _ = asyncio.run(_drain(path, None, 4096, stop_after=12_288))
    # The third chunk was yielded but never taken back: it is not counted.
    assert len(got) == 12_288 and meter.bytes == 8192


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    got, meter, status = asyncio.run(_drain(path, None, 4096))
    assert (got, meter.bytes, status) == (b"", 0, 200)
    assert meter.sha256 == hashlib.sha256(b"").hexdigest()
