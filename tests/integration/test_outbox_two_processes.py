"""Two ``connector serve`` processes on one PostgreSQL deliver the outbox: every item exactly once.

Two real service processes (same data dir and keys, same settings, same database schema: two
replicas) run their delivery workers against one outbox. Items are queued with the outbox API
(``connector.delivery.outbox.enqueue``) while both run; a real HTTP receiver on a local port
records every delivery attempt. Who delivered an item is the lease owner the worker leaves on
the row (``leased_by`` = ``host:pid:worker``). PostgreSQL only: replicas on SQLite are not a
supported set-up.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.types import Receive, Scope, Send

from connector import db
from connector.delivery.models import OutboxMessage
from connector.delivery.outbox import enqueue
from connector.dsp import DSP_CONTEXT
from tests.conftest import free_port
from tests.integration.served import listen

DSP_TOKEN = "Bearer replica-set-token"  # what both replicas send with DSP messages
WAIT = 180.0  # generous: a wait, never an assertion about speed
#: (status, seconds to wait before answering) for the n-th attempt (1-based) of an item.
Behaviour = Callable[[str, int], tuple[int, float]]


@dataclass
class Attempt:
    marker: str
    kind: str
    authorization: str | None
    arrived: float  # time.monotonic() when the whole body had arrived
    status: int


@dataclass
class Receiver:
    """Records every POST it gets and answers as ``behaviour`` says (per item and attempt)."""

    behaviour: Behaviour
    base: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        arrived = time.monotonic()
        body = json.loads(b"".join(chunks))
        marker = str(body["providerPid"] if "providerPid" in body else body["event"]["id"])
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        with self.lock:
            nth = 1 + sum(1 for a in self.attempts if a.marker == marker)
            status, delay = self.behaviour(marker, nth)
            self.attempts.append(Attempt(marker, scope["path"].rsplit("/", 1)[-1],
                                         headers.get("authorization"), arrived, status))
        if delay:
            await asyncio.sleep(delay)
        reply = b"{}" if status == 200 else b'{"error": "not now"}'
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(reply)).encode())]})
        await send({"type": "http.response.body", "body": reply})

    def of(self, marker: str) -> list[Attempt]:
        with self.lock:
            return [a for a in self.attempts if a.marker == marker]

    def markers(self) -> Counter[str]:
        with self.lock:
            return Counter(a.marker for a in self.attempts)


@contextmanager
def receiver(behaviour: Behaviour) -> Iterator[Receiver]:
    port = free_port()
    recv = Receiver(behaviour, base=f"http://127.0.0.1:{port}")
    server, thread = listen(recv, port, lifespan="off")
    try:
        yield recv
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")


class Replicas:
    """``connector serve`` processes sharing one data dir and one database."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.tmp_path = tmp_path
        self.data_dir = tmp_path / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
        self.env.update({
            "CONNECTOR_DATABASE_URL": database_url,
            "CONNECTOR_PUBLIC_URL": "http://127.0.0.1:8080",  # the load balancer's address
            "CONNECTOR_PARTICIPANT_ID": "did:web:replicated.example",
            "CONNECTOR_DSP_IDENTITY": '["fixed"]',
            "CONNECTOR_DSP_FIXED_CREDENTIALS": "{}",
            "CONNECTOR_DSP_FIXED_OUTGOING": DSP_TOKEN})
        self.running: list[Replica] = []

    def start(self) -> Replica:
        """One more replica; returns when it answers ``/healthz``."""
        n = len(self.running)
        port = free_port()
        log = self.tmp_path / f"replica-{n}.log"
        with log.open("ab") as handle:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                [sys.executable, "-m", "connector", "serve", "--port", str(port),
                 "--data-dir", str(self.data_dir)], env=self.env, stdout=handle, stderr=handle)
        replica = Replica(proc, log)
        self.running.append(replica)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"replica {n} exited: {replica.text()[-2000:]}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return replica
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"replica {n} did not start: {replica.text()[-2000:]}")

    def stop(self) -> None:
        for replica in self.running:
            if replica.proc.poll() is None:
                replica.proc.terminate()
        for replica in self.running:
            try:
                replica.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                replica.proc.kill()
                replica.proc.wait(timeout=10)

    def check_healthy(self) -> None:
        """Both still running, and neither logged a failed delivery round."""
        for replica in self.running:
            assert replica.proc.poll() is None, replica.text()[-2000:]
            assert "delivery round failed" not in replica.text()


@pytest.fixture
def database(pg_url: str) -> Iterator[Engine]:
    """The replicas' database (a fresh PostgreSQL schema), migrated, for the test's own reads."""
    engine = db.make_engine(pg_url)
    db.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def replicas(tmp_path: Path, pg_url: str, database: Engine) -> Iterator[Replicas]:
    group = Replicas(tmp_path, pg_url)
    try:
        yield group
    finally:
        group.stop()


def _enqueue(engine: Engine, inbox: str, markers: list[str], *,
             retry_for: float = 60.0) -> None:
    """Queue one item per marker, in one transaction, kinds in turn: two DSP kinds (sent with
    our DSP credentials) and a webhook (sent without)."""
    with Session(engine) as session:
        for n, marker in enumerate(markers):
            kind = ("negotiation", "transfer", "webhook")[n % 3]
            if kind == "negotiation":
                body: dict[str, Any] = {
                    "@context": [DSP_CONTEXT], "@type": "ContractNegotiationEventMessage",
                    "providerPid": marker, "consumerPid": f"urn:uuid:{uuid.uuid4()}",
                    "eventType": "ACCEPTED"}
            elif kind == "transfer":
                body = {"@context": [DSP_CONTEXT], "@type": "TransferCompletionMessage",
                        "providerPid": marker, "consumerPid": f"urn:uuid:{uuid.uuid4()}"}
            else:
                body = {"event": {"type": "test.delivery", "id": marker}}
            enqueue(session, url=f"{inbox}/{kind}", body=body,
                    counterparty="did:web:partner.example", process_kind=kind,
                    process_id=f"urn:uuid:{uuid.uuid4()}", retry_for=retry_for)
        session.commit()


def _rows(engine: Engine) -> dict[str, OutboxMessage]:
    """The outbox rows by marker."""
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage)).all()
    return {str(r.body.get("providerPid") or r.body["event"]["id"]): r for r in rows}


def _settled(engine: Engine) -> bool:
    with Session(engine) as session:
        pending = session.exec(select(func.count()).select_from(OutboxMessage).where(
            col(OutboxMessage.status) == "pending")).one()
    return pending == 0


def _wait(check: Callable[[], bool], seconds: float = WAIT) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {check}")


def _pid(row: OutboxMessage) -> int:
    assert row.leased_by is not None
    return int(row.leased_by.rsplit(":", 2)[1])  # host:pid:worker


def _check_credentials(recv: Receiver) -> None:
    """DSP credentials went with every DSP message, and never to a webhook."""
    with recv.lock:
        attempts = list(recv.attempts)
    assert {a.authorization for a in attempts if a.kind != "webhook"} == {DSP_TOKEN}
    assert {a.authorization for a in attempts if a.kind == "webhook"} == {None}


def test_two_replicas_deliver_every_item_exactly_once(replicas: Replicas,
                                                      database: Engine) -> None:
    first, second = replicas.start(), replicas.start()
    markers = [f"urn:test:item:{n:03d}" for n in range(300)]
    # A short pause per answer, so that one worker cannot drain the outbox on its own.
    with receiver(lambda marker, nth: (200, 0.01)) as recv:
        for start in range(0, len(markers), 50):  # queued in batches while both run
            _enqueue(database, recv.base + "/inbox", markers[start:start + 50])
        _wait(lambda: _settled(database))
        replicas.check_healthy()
        rows = _rows(database)
        _check_credentials(recv)
        delivered = recv.markers()

    assert delivered == Counter(markers)  # each item arrived once, nothing else arrived
    assert sorted(rows) == markers
    assert {r.status for r in rows.values()} == {"sent"}
    assert {r.attempts for r in rows.values()} == {1}
    assert {r.lease_until for r in rows.values()} == {None}
    by_replica = Counter(_pid(r) for r in rows.values())
    assert set(by_replica) == {first.pid, second.pid}, by_replica  # both took work


def test_retries_with_back_off_do_not_duplicate(replicas: Replicas, database: Engine) -> None:
    """Each flaky item is refused twice (503, then 429) and accepted the third time; doomed
    items are always refused (500) until their retry time runs out."""
    first, second = replicas.start(), replicas.start()
    flaky = [f"urn:test:flaky:{n:02d}" for n in range(60)]
    doomed = [f"urn:test:doomed:{n}" for n in range(6)]

    def behaviour(marker: str, nth: int) -> tuple[int, float]:
        if marker in doomed:
            return 500, 0.01
        return {1: 503, 2: 429}.get(nth, 200), 0.01

    with receiver(behaviour) as recv:
        # Doomed first: the oldest due items are claimed first, so they are tried at once
        # (their retry time counts from queueing, not from the first try).
        _enqueue(database, recv.base + "/inbox", doomed, retry_for=5.0)
        _enqueue(database, recv.base + "/inbox", flaky)
        _wait(lambda: _settled(database))
        replicas.check_healthy()
        rows = _rows(database)
        _check_credentials(recv)
        attempts = {marker: recv.of(marker) for marker in flaky + doomed}
        everything = recv.markers()

    assert set(everything) == set(flaky + doomed)
    for marker in flaky:
        tries = attempts[marker]
        assert [a.status for a in tries] == [503, 429, 200], marker  # accepted exactly once
        row = rows[marker]
        assert row.status == "sent" and row.attempts == 3, marker
        # Back-off: a retry leaves at least 0.5 s, then 1 s, after the refusal was recorded
        # (which is after the refused request arrived); a duplicate would come at once.
        assert tries[1].arrived - tries[0].arrived > 0.45, marker
        assert tries[2].arrived - tries[1].arrived > 0.95, marker
    for marker in doomed:
        tries, row = attempts[marker], rows[marker]
        assert row.status == "failed" and row.last_error is not None, marker
        assert row.last_error.startswith("HTTP 500"), row.last_error
        # Every attempt was one the outbox counted: no two workers sent the same try.
        assert len(tries) == row.attempts >= 2, (marker, len(tries), row.attempts)
        gaps = [b.arrived - a.arrived for a, b in itertools.pairwise(tries)]
        assert all(gap > 0.45 for gap in gaps), (marker, gaps)
    assert {_pid(r) for r in rows.values()} == {first.pid, second.pid}


def test_a_send_that_outlasts_its_lease_is_not_sent_again(replicas: Replicas,
                                                          database: Engine) -> None:
    """A worker leases up to ten items at a time for 30 s. Here one replica alone leases four
    items whose receiver takes 8 s to answer each: the fourth is still being sent when the
    lease taken at claim time runs out, and the second replica, idle by then, must not send
    it again. (Takes about 35 s: the lease is 30 s.)"""
    replicas.start()
    markers = [f"urn:test:slow:{n}" for n in range(4)]
    with receiver(lambda marker, nth: (200, 8.0)) as recv:
        _enqueue(database, recv.base + "/inbox", markers)
        _wait(lambda: len(recv.markers()) > 0)  # the first replica has claimed all four
        replicas.start()  # the second one, long before the lease runs out
        _wait(lambda: _settled(database))
        replicas.check_healthy()  # the second replica ran all along
        rows = _rows(database)
        delivered = recv.markers()

    assert delivered == Counter(markers), delivered  # a second send would show here
    assert {r.status for r in rows.values()} == {"sent"}
    assert {r.attempts for r in rows.values()} == {1}
