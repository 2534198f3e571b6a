"""Which data subjects a personal-data dataset covers: the distinct values of its subject column.

An offer with ``consent_scope: all_subjects`` is decided for these: every one of them must have
a valid consent for the recipient and purpose, or the transfer is refused. The dataset's source
is read through (streamed, constant memory but for the set of subjects); a file's set is kept
while the file's size and modification time stay the same. A source that cannot be read, or a
dataset without a subject column, raises ``SubjectsUnknown``: the caller then refuses.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from connector.catalog.models import Dataset
from connector.catalog.sources import file_path, open_stream

_CACHE_LIMIT = 64
_cache: dict[tuple[Any, ...], frozenset[str]] = {}
_cache_lock = threading.Lock()


class SubjectsUnknown(Exception):
    """The subjects a dataset covers cannot be established."""


def lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The text lines of a byte stream (UTF-8), without their line ends."""
    pending = b""
    for data in chunks:
        pending += data
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode("utf-8").rstrip("\r")
    if pending:
        yield pending.decode("utf-8").rstrip("\r")


def subjects_in(chunks: Iterable[bytes], column: str) -> frozenset[str]:
    """The distinct values of ``column`` in the CSV ``chunks``; SubjectsUnknown without it."""
    reader = csv.reader(lines(chunks), strict=True)  # an unclosed quote is an error
    header = next(reader, None)
    if header is None:
        return frozenset()
    if column not in header:
        raise SubjectsUnknown(f"the data has no column {column!r}")
    index = header.index(column)
    return frozenset(row[index] for row in reader if len(row) > index and row[index])


def covered_subjects(runtime: Any, dataset: Dataset) -> frozenset[str]:
    """The subject keys in ``dataset`` now (see the module's docstring)."""
    column = dataset.subject_column
    if not column:
        raise SubjectsUnknown(f"dataset {dataset.id!r} names no subject column")
    return _read(runtime, dataset, column, lambda stream: subjects_in(stream, column))


def columns(runtime: Any, dataset: Dataset) -> frozenset[str]:
    """The column names in the header of ``dataset``'s CSV now; SubjectsUnknown if unreadable.

    Read before anything is served, so that an aggregate over a column the data lacks is refused
    with a reason instead of ending a stream that has already begun. Cached like the subjects.
    """
    return _read(runtime, dataset, "\0header", lambda stream: frozenset(
        next(csv.reader(lines(stream), strict=True), [])))


def _read(runtime: Any, dataset: Dataset, what: str,
          read: Callable[[Iterable[bytes]], frozenset[str]]) -> frozenset[str]:
    """``read`` over the dataset's data; for a file, cached while the file stays the same."""
    key = _file_key(runtime.settings.data_dir, dataset, what)
    if key is not None:
        with _cache_lock:
            known = _cache.get(key)
        if known is not None:
            return known
    try:
        with open_stream(runtime, dataset) as stream:
            found = read(stream)
    except SubjectsUnknown:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to read (file, HTTP, SQL) refuses
        raise SubjectsUnknown(f"the data of dataset {dataset.id!r} cannot be read: "
                              f"{type(exc).__name__}") from None
    if key is not None:
        with _cache_lock:
            if len(_cache) >= _CACHE_LIMIT:
                _cache.clear()
            _cache[key] = found
    return found


def _file_key(data_dir: Path, dataset: Dataset, column: str) -> tuple[Any, ...] | None:
    """What the cached set of a file depends on: the file (as changed by any means) and column."""
    if dataset.source_kind != "file":
        return None
    try:
        path = file_path(data_dir, dataset.source)
        stat = path.stat()
    except (OSError, ValueError):
        return None
    return (str(path), column, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
