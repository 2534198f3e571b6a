"""Where a dataset's bytes come from: a file in the data dir, an HTTP origin, or a SQL query.

``check_source`` validates a source when a dataset is registered or changed and returns the
columns to store; ``open_stream(runtime, dataset)`` opens the source for a transfer and returns
a :class:`SourceStream` (an ``Iterator[bytes]`` to iterate and close). Failures to open raise
``SourceUnavailable`` at once, before any byte is yielded.

SQL sources: the dataset names a database of ``CONNECTOR_SQL_SOURCES`` and one ``SELECT``
(or ``WITH … SELECT``) statement. The check here is minimal — one statement, starting with
SELECT/WITH, no data-changing keyword — because the real guards are below it: the query runs
in a read-only session (``query_only`` on SQLite, ``default_transaction_read_only`` on
PostgreSQL), wrapped as ``SELECT * FROM (<query>) LIMIT <CONNECTOR_SQL_ROW_LIMIT>``; and the
configured URL should name a database user that may only read. Rows are served as CSV with a
header line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from connector.catalog.errors import SourceUnavailable
from connector.catalog.models import Dataset
from connector.catalog.schemas import FileSource, HttpSource, Source, SqlSource
from connector.config import Settings
from connector.errors import ValidationFailed
from connector.runtime import Runtime
from connector.urls import url_problem

CHUNK = 64 * 1024
CSV = "text/csv"
_SELECT = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_WRITES = re.compile(r"\b(insert|update|delete|merge|drop|alter|create|truncate|grant|revoke|"
                     r"attach|detach|pragma|copy|call|execute|vacuum|reindex|lock|into|"
                     r"set_config)\b", re.IGNORECASE)
_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _invalid(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"path": path, "message": message,
                                              "kind": "source"}])


def file_path(data_dir: Path, relative: str) -> Path:
    """``relative`` under ``data_dir``, resolved (symlinks too); ``ValueError`` if outside."""
    if Path(relative).is_absolute():
        raise ValueError("the path must be relative to the data dir")
    root = data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or path == root:
        raise ValueError("the path leaves the data dir")
    return path


def _file_digest(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def check_query(query: str) -> str:
    """The query without a trailing ``;``; ``ValueError`` unless it is one plain SELECT."""
    body = query.strip().rstrip(";").strip()
    if ";" in body:
        raise ValueError("exactly one statement, please (no ';' inside)")
    if not _SELECT.match(body):
        raise ValueError("the query must start with SELECT or WITH")
    word = _WRITES.search(body)
    if word:
        raise ValueError(f"{word.group(1).upper()!r} is not allowed in a dataset query")
    return body


def source_engine(url: str) -> Engine:
    """A read-only engine for a configured SQL source (no pooled connections kept)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            # A stream may be read from another thread than the one that opened it.
            args = {"check_same_thread": False} if url.startswith("sqlite") else {}
            engine = create_engine(url, poolclass=NullPool, connect_args=args)
            event.listen(engine, "connect", _read_only_session)
            _ENGINES[url] = engine
        return engine


def _read_only_session(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        cursor.execute("PRAGMA query_only = ON")
    elif module.startswith("psycopg"):
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        dbapi_connection.commit()
    cursor.close()


def _limited(query: str) -> str:
    # The provider's own query (checked above), never a requester's input.
    return f"SELECT * FROM ({query}) AS dodata_rows LIMIT :row_limit"  # noqa: S608


def check_source(settings: Settings, source: Source) -> dict[str, Any]:
    """Validate ``source``; return the dataset columns it sets. ``ValidationFailed`` if bad."""
    if isinstance(source, FileSource):
        try:
            path = file_path(settings.data_dir, source.path)
        except ValueError as exc:
            raise _invalid("source.path", str(exc)) from None
        if not path.is_file():
            raise _invalid("source.path", f"no file {source.path!r} in the data dir")
        size, sha256 = _file_digest(path)
        return {"source_kind": "file", "source": source.path, "query": None,
                "byte_size": size, "sha256": sha256}
    if isinstance(source, HttpSource):
        problem = url_problem(source.url)
        if problem:
            raise _invalid("source.url", f"source.url {problem}")
        return {"source_kind": "http", "source": source.url, "query": None,
                "byte_size": None, "sha256": None}
    return _check_sql(settings, source)


def _check_sql(settings: Settings, source: SqlSource) -> dict[str, Any]:
    url = settings.sql_sources.get(source.database)
    if url is None:
        known = ", ".join(sorted(settings.sql_sources)) or "none configured"
        raise _invalid("source.database", f"unknown SQL source {source.database!r} ({known})")
    try:
        query = check_query(source.query)
    except ValueError as exc:
        raise _invalid("source.query", str(exc)) from None
    try:  # the database itself says whether the query is valid: run it for no rows
        with source_engine(url).connect() as conn:
            conn.execute(text(_limited(query)), {"row_limit": 0}).close()
    except SQLAlchemyError as exc:
        raise _invalid("source.query", "the database refused the query: "
                       + str(getattr(exc, "orig", exc)).splitlines()[0][:300]) from None
    return {"source_kind": "sql", "source": source.database, "query": query,
            "byte_size": None, "sha256": None, "media_type": CSV}


def source_of(dataset: Dataset) -> Source:
    """The dataset's source as the management API shows it."""
    if dataset.source_kind == "http":
        return HttpSource(url=dataset.source)
    if dataset.source_kind == "sql":
        return SqlSource(database=dataset.source, query=dataset.query or "")
    return FileSource(path=dataset.source)


class SourceStream(Iterator[bytes]):
    """A dataset's bytes. Iterate to the end or ``close()`` (also a context manager)."""

    def __init__(self, chunks: Iterator[bytes], close: Callable[[], None],
                 media_type: str) -> None:
        self.media_type = media_type
        self._chunks = chunks
        self._close: Callable[[], None] | None = close

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the file, connection or response behind the stream (idempotent)."""
        close, self._close = self._close, None
        if close is not None:
            close()

    def __enter__(self) -> SourceStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def open_stream(runtime: Runtime, dataset: Dataset) -> SourceStream:
    """Open ``dataset``'s source: file chunks, the HTTP body as it arrives, or CSV rows.

    Raises ``SourceUnavailable`` when the source cannot be opened (missing file, origin not
    answering 200, database error or an unknown SQL source).
    """
    settings = runtime.settings
    media_type = dataset.media_type or "application/octet-stream"
    if dataset.source_kind == "file":
        try:
            handle = file_path(settings.data_dir, dataset.source).open("rb")
        except (OSError, ValueError) as exc:
            raise SourceUnavailable(f"the file of dataset {dataset.id!r} cannot be read: "
                                    f"{type(exc).__name__}") from None
        return SourceStream(iter(lambda: handle.read(CHUNK), b""), handle.close, media_type)
    if dataset.source_kind == "http":
        return _open_http(dataset, settings.http_source_timeout, media_type)
    if dataset.source_kind == "sql":
        return _open_sql(dataset, settings)
    raise SourceUnavailable(f"dataset {dataset.id!r} has an unknown source kind "
                            f"{dataset.source_kind!r}")


def _open_http(dataset: Dataset, timeout: float, media_type: str) -> SourceStream:
    client = httpx.Client(timeout=timeout, follow_redirects=False)
    try:
        response = client.send(client.build_request("GET", dataset.source), stream=True)
    except httpx.HTTPError as exc:
        client.close()
        raise SourceUnavailable(f"the origin of dataset {dataset.id!r} did not answer: "
                                f"{type(exc).__name__}") from None
    if response.status_code != 200:
        response.close()
        client.close()
        raise SourceUnavailable(f"the origin of dataset {dataset.id!r} answered HTTP "
                                f"{response.status_code}")

    def close() -> None:
        response.close()
        client.close()

    return SourceStream(response.iter_bytes(CHUNK), close, media_type)


def _open_sql(dataset: Dataset, settings: Settings) -> SourceStream:
    url = settings.sql_sources.get(dataset.source)
    if url is None or not dataset.query:
        raise SourceUnavailable(f"dataset {dataset.id!r} names no configured SQL source")
    try:
        conn = source_engine(url).connect()
    except SQLAlchemyError as exc:
        raise SourceUnavailable(f"the database of dataset {dataset.id!r} is unreachable: "
                                f"{type(exc).__name__}") from None
    try:
        result = conn.execution_options(stream_results=True).execute(
            text(_limited(check_query(dataset.query))), {"row_limit": settings.sql_row_limit})
    except (SQLAlchemyError, ValueError) as exc:
        conn.close()
        raise SourceUnavailable(f"the query of dataset {dataset.id!r} failed: "
                                f"{type(exc).__name__}") from None

    def rows() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(list(result.keys()))
        for batch in result.partitions(500):
            writer.writerows(batch)
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode()

    def close() -> None:
        result.close()
        conn.close()

    return SourceStream(rows(), close, CSV)
