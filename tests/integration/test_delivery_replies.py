"""What the outbox worker reads of a counterparty's reply: a bounded start, within a deadline.

A real HTTP server on loopback answers the POSTs; real database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.types import Receive, Scope, Send

from connector.delivery import worker as worker_module
from connector.delivery.models import OutboxMessage
from connector.delivery.outbox import enqueue
from connector.delivery.worker import RESPONSE_LIMIT, DeliveryWorker
from tests.conftest import free_port
from tests.integration.served import listen

HUGE = 8 * 1024 * 1024
BOMB = gzip.compress(b"0" * 50 * 1024 * 1024)  # ~50 KB that inflates to 50 MB


async def replies(scope: Scope, receive: Receive, send: Send) -> None:
    """/ok answers {} (in ?charset=); /huge 8 MiB; /bomb a gzip bomb; /slow a byte every
    0.2 s for 4 s. All with status 200."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    charset = scope["query_string"].decode().removeprefix("charset=") or "utf-8"
    headers = [(b"content-type", f"application/json; charset={charset}".encode())]
    if scope["path"] == "/bomb":
        headers.append((b"content-encoding", b"gzip"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if scope["path"] == "/bomb":
        await send({"type": "http.response.body", "body": BOMB, "more_body": True})
    elif scope["path"] == "/ok":
        await send({"type": "http.response.body", "body": b"{}", "more_body": True})
    elif scope["path"] == "/huge":
        block = b'{"x": "' + b"a" * (1024 * 1024 - 9) + b'"}'
        for _ in range(HUGE // len(block)):
            await send({"type": "http.response.body", "body": block, "more_body": True})
    else:
        for _ in range(20):
            await send({"type": "http.response.body", "body": b" ", "more_body": True})
            await asyncio.sleep(0.2)
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def base() -> Iterator[str]:
    port = free_port()
    server, thread = listen(replies, port, lifespan="off")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    return migrated_engine


def queue(engine: Engine, url: str, process: str = "p-1") -> int:
    with Session(engine) as session:
        row = enqueue(session, url=url, body={"@type": "Ping"}, counterparty="did:web:x",
                      process_kind="webhook", process_id=process, retry_for=60)
        session.commit()
        assert row.id is not None
        return row.id


def message(engine: Engine, message_id: int) -> OutboxMessage:
    with Session(engine) as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return row


class CountingTransport(httpx.HTTPTransport):
    """A real HTTP transport that counts the reply bytes the client actually takes."""

    def __init__(self) -> None:
        super().__init__()
        self.taken = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        inner, transport = response.stream, self

        class Counted(httpx.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                for chunk in inner:  # type: ignore[union-attr]
                    transport.taken += len(chunk)
                    yield chunk

            def close(self) -> None:
                inner.close()  # type: ignore[union-attr]

        response.stream = Counted()
        return response


def test_a_huge_reply_is_read_only_as_far_as_the_limit(engine: Engine, base: str) -> None:
    message_id = queue(engine, base + "/huge")
    transport = CountingTransport()
    worker = DeliveryWorker(engine, headers_for=lambda c, u: {}, transport=transport)
    assert worker.run_once() == 1
    row = message(engine, message_id)
    assert row.status == "sent" and row.attempts == 1
    assert RESPONSE_LIMIT <= transport.taken < HUGE // 4  # stopped near the limit, not 8 MiB
    worker.stop()


def test_reading_a_trickling_reply_stops_at_the_deadline_and_its_status_counts(
        engine: Engine, base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "SEND_DEADLINE", timedelta(seconds=1))
    message_id = queue(engine, base + "/slow")
    transport = CountingTransport()
    worker = DeliveryWorker(engine, headers_for=lambda c, u: {}, transport=transport)
    assert worker.run_once() == 1
    row = message(engine, message_id)
    assert row.status == "sent" and row.attempts == 1  # the 200 arrived: not sent twice
    assert 0 < transport.taken < 20  # /slow sends 20 bytes; reading stopped part way
    worker.stop()


@pytest.mark.parametrize("charset", ["idna", "undefined", "base64"])
def test_a_reply_in_an_unusable_charset_still_counts_as_delivered(
        engine: Engine, base: str, charset: str) -> None:
    message_id = queue(engine, f"{base}/ok?charset={charset}")
    worker = DeliveryWorker(engine, headers_for=lambda c, u: {})
    assert worker.run_once() == 1
    assert message(engine, message_id).status == "sent"
    worker.stop()


def test_a_compressed_reply_is_not_inflated(engine: Engine, base: str) -> None:
    message_id = queue(engine, base + "/bomb")
    worker = DeliveryWorker(engine, headers_for=lambda c, u: {})
    tracemalloc.start()
    try:
        assert worker.run_once() == 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message(engine, message_id).status == "sent"
    assert peak < 10 * 1024 * 1024  # never the 50 MB the reply inflates to
    worker.stop()


@pytest.mark.parametrize("bad", ["http://xn--/cb", "http://a..b/cb", "http://a\u0001b/cb"])
def test_an_address_no_send_can_reach_fails_at_once_and_the_batch_goes_on(
        engine: Engine, base: str, bad: str) -> None:
    """Stored before URLs were checked on the way in (or by a bug): one attempt, then failed."""
    unreachable = queue(engine, bad, process="p-bad")
    fine = queue(engine, base + "/ok", process="p-good")
    worker = DeliveryWorker(engine, headers_for=lambda c, u: {})
    assert worker.run_once() == 2
    failed, sent = message(engine, unreachable), message(engine, fine)
    assert failed.status == "failed" and failed.attempts == 1 and failed.last_error
    assert sent.status == "sent"
    worker.stop()
