"""Delivering the outbox: claim due messages with a lease, POST them, record the outcome.

Two replicas on one PostgreSQL never send the same message at once: rows are claimed with
``SELECT … FOR UPDATE SKIP LOCKED`` and a lease; a worker that dies leaves a lease that
expires, and another worker takes the row over. On SQLite (one process) the write lock does
the same job.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from connector.delivery.models import OutboxMessage
from connector.delivery.outbox import FAILURE_HANDLERS, RESPONSE_HANDLERS
from connector.timeutil import utcnow
from connector.urls import url_problem

log = logging.getLogger("connector.delivery")
RETRY_STATUSES = frozenset({404, 408, 425, 429})
DSP_KINDS = frozenset({"negotiation", "transfer"})
LEASE = timedelta(seconds=30)
SEND_DEADLINE = timedelta(seconds=15)  # reading a reply stops here, inside the lease
RESPONSE_LIMIT = 64 * 1024  # bytes of a reply read; the rest is left unread
HeadersFor = Callable[[str, str], dict[str, str]]


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(0.5 * (2 ** max(attempts - 1, 0)), 10.0))


class DeliveryWorker:
    """Sends due outbox messages in a background thread."""

    def __init__(self, engine: Engine, *, headers_for: HeadersFor, poll: float = 0.1,
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        self.engine = engine
        self.headers_for = headers_for
        self.poll = poll
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def claim(self, limit: int = 10) -> list[int]:
        """Lease up to ``limit`` due messages to this worker; return their ids."""
        now = utcnow()
        earlier = aliased(OutboxMessage)
        # Messages of one process go out in order: a message waits while an older one of the
        # same process is still pending (being retried, or not yet due).
        older_pending = (select(earlier.id)  # type: ignore[call-overload]
                         .where(earlier.process_id == OutboxMessage.process_id,
                                earlier.process_kind == OutboxMessage.process_kind,
                                earlier.status == "pending",
                                col(earlier.id) < col(OutboxMessage.id))
                         .exists())
        with self.engine.begin() as conn:
            query = (select(OutboxMessage.id)  # type: ignore[call-overload]
                     .where(col(OutboxMessage.status) == "pending",
                            col(OutboxMessage.not_before) <= now,
                            (col(OutboxMessage.lease_until).is_(None))
                            | (col(OutboxMessage.lease_until) < now),
                            ~older_pending)
                     .order_by(col(OutboxMessage.id)).limit(limit))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = [row[0] for row in conn.execute(query)]
            if ids:
                conn.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids))
                             .values(lease_until=now + LEASE, leased_by=self.name))
        return ids

    def deliver(self, message_id: int) -> None:
        """Send one leased message and record what happened.

        The lease taken at claim time covers waiting in this worker's batch; right before
        sending it is renewed, and only if it is still ours and has not run out. Otherwise a
        batch that outlasts the lease would send a message while another worker, having taken
        over the expired lease, sends it too.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == message_id,
                       col(OutboxMessage.status) == "pending",
                       col(OutboxMessage.leased_by) == self.name,
                       col(OutboxMessage.lease_until) > now)
                .values(lease_until=now + LEASE)).rowcount
        if not renewed:
            return
        with Session(self.engine) as session:
            row = session.get(OutboxMessage, message_id)
            if row is None or row.status != "pending" or row.leased_by != self.name:
                return
            url, body, counterparty = row.url, dict(row.body), row.counterparty
            kind = row.process_kind
        outcome: dict[str, Any]
        deadline = time.monotonic() + SEND_DEADLINE.total_seconds()
        try:
            # Our DSP credentials go to counterparties only, never to e.g. an owner's webhook.
            headers = self.headers_for(counterparty, url) if kind in DSP_KINDS else {}
            outcome = self._post(url, body, headers, deadline)
        except Exception as exc:  # a failed attempt, never a stalled batch
            if not isinstance(exc, httpx.HTTPError):
                log.exception("delivery attempt failed", extra={"url": url})
            # An address no send can ever reach fails at once; anything else is retried.
            outcome = {"status": None, "error": f"{type(exc).__name__}: {exc}"[:500],
                       "final": url_problem(url) is not None}
        self._record(message_id, body, outcome)

    def _post(self, url: str, body: dict[str, Any], headers: dict[str, str],
              deadline: float) -> dict[str, Any]:
        """POST ``body``; the status and the start of the answer, read within bounds.

        Only the first ``RESPONSE_LIMIT`` bytes of an answer are read (a counterparty's reply
        is a small JSON document; a huge or endless one must not fill our memory), and reading
        stops at ``deadline`` (``SEND_DEADLINE`` after the attempt began, inside the lease):
        the status decides the outcome, and a reply cut there is read as far as it came. The
        reply is read as sent (we ask for no content coding): a compressed one is not
        inflated here, where a small body could become a huge one.
        """
        headers = {**headers, "Accept-Encoding": "identity"}
        with self._client.stream("POST", url, json=body, headers=headers) as resp:
            data = bytearray()
            for chunk in resp.iter_raw():
                data += chunk
                if len(data) >= RESPONSE_LIMIT or time.monotonic() > deadline:
                    break
            coded = resp.headers.get("content-encoding", "identity").lower() != "identity"
            text = "" if coded else _text(bytes(data[:RESPONSE_LIMIT]), resp.charset_encoding)
        return {"status": resp.status_code, "text": text[:2000]}

    def _record(self, message_id: int, body: dict[str, Any], outcome: dict[str, Any]) -> None:
        status = outcome["status"]
        with Session(self.engine) as session:
            row = session.get(OutboxMessage, message_id, with_for_update=True)
            if row is None or row.status != "pending":
                return
            delivered = status is not None and 200 <= status < 300
            if not delivered and row.leased_by != self.name:
                return  # our lease ran out mid-send; the worker holding it now decides
            row.attempts += 1
            row.lease_until = None
            if delivered:
                row.status = "sent"
                row.last_error = None
                response = _json(outcome.get("text", ""))
                row.response = response
                handler = RESPONSE_HANDLERS.get((row.process_kind, str(body.get("@type"))))
                if handler is not None and response:
                    handler(session, row.process_id, response)
            elif _retryable(status) and not outcome.get("final") and not _past(row.deadline):
                row.not_before = utcnow() + _backoff(row.attempts)
                row.last_error = _describe(outcome)
            else:
                row.status = "failed"
                row.last_error = _describe(outcome)
                log.warning("delivery failed", extra={"url": row.url, "error": row.last_error,
                                                      "process_id": row.process_id})
                failure = FAILURE_HANDLERS.get(row.process_kind)
                if row.on_failure == "terminate" and failure is not None:
                    failure(session, row.process_id, row.last_error or "delivery failed")
            session.add(row)
            session.commit()

    def run_once(self) -> int:
        """Claim and deliver what is due now; return how many were tried."""
        ids = self.claim()
        for message_id in ids:
            self.deliver(message_id)
        return len(ids)

    def wake(self) -> None:
        """Look at the outbox now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Deliver in a daemon thread until ``stop``."""
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    busy = self.run_once()
                except Exception:
                    log.exception("delivery round failed")
                    busy = 0
                if not busy:
                    self._wake.wait(self.poll)
                    self._wake.clear()

        self._thread = threading.Thread(target=loop, name="dsp-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close the HTTP client."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._client.close()


def _retryable(status: int | None) -> bool:
    return status is None or status in RETRY_STATUSES or status >= 500


def _past(deadline: datetime | None) -> bool:
    if deadline is None:
        return False
    if deadline.tzinfo is None:  # SQLite hands back naive UTC
        deadline = deadline.replace(tzinfo=UTC)
    return utcnow() >= deadline


def _text(data: bytes, charset: str | None) -> str:
    """``data`` as text in its declared charset; UTF-8 where that is unknown or unusable."""
    try:
        return data.decode(charset or "utf-8", "replace")
    except (LookupError, UnicodeError):  # e.g. charset=idna or an unknown name
        return data.decode("utf-8", "replace")


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _describe(outcome: dict[str, Any]) -> str:
    if outcome.get("status") is None:
        return str(outcome.get("error", "no answer"))[:1000]
    return f"HTTP {outcome['status']}: {outcome.get('text', '')[:300]}"
