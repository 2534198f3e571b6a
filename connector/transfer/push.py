"""The provider's push: stream the dataset to the consumer's endpoint, then complete.

A provider-side ``HttpData-PUSH`` transfer that starts (or resumes) gets ``push_status=due``.
The :class:`PushWorker` claims due transfers whose queued messages (the start) have all been
delivered, with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; a lease that runs out —
a crashed replica — lets another worker take over), asks the policy again, and POSTs the bytes
to the endpoint the consumer named, with the ``authorization`` it gave. Success completes the
transfer (``TransferCompletionMessage``); an HTTP error, an unreachable endpoint or a failing
source terminates it with the reason. A suspension or termination arriving meanwhile stops the
stream; a resume starts it again from the first byte.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import anyio
import httpx
from sqlalchemy import exists, select, update
from sqlmodel import Session, col

from connector.audit import log as audit_log
from connector.db import read_only
from connector.delivery.models import OutboxMessage
from connector.errors import ConnectorError
from connector.runtime import Runtime
from connector.timeutil import utcnow
from connector.transfer import provider
from connector.transfer.dataplane import Meter, open_dataset
from connector.transfer.machine import PROVIDER, Message, State
from connector.transfer.models import Transfer
from connector.transfer.provider import DENIED
from connector.transfer.service import PUSH, advance, find, send
from connector.transfer.sources import Truncated

log = logging.getLogger("connector.transfer.push")
LEASE = timedelta(seconds=60)
RENEW_EVERY = 15.0
MAX_PARALLEL = 4


class Stopped(Exception):
    """The transfer is no longer STARTED (or the worker stops): end the push early."""


class PushWorker:
    """Claims due pushes and runs each in its own thread (at most ``MAX_PARALLEL`` at once)."""

    def __init__(self, runtime: Runtime, *, poll: float = 0.2) -> None:
        self.runtime = runtime
        self.poll = poll
        self.name = f"push:{id(self):x}"
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_PARALLEL)
        self._thread: threading.Thread | None = None
        self._running: set[threading.Thread] = set()

    def claim(self) -> str | None:
        """Lease one due push to this worker; return its transfer id.

        A read-only look comes first, so an idle worker never takes SQLite's write lock; the
        lease is then taken by a conditional UPDATE (and ``SKIP LOCKED`` on PostgreSQL).
        """
        now = utcnow()
        pending = exists().where(col(OutboxMessage.process_id) == Transfer.id,
                                 col(OutboxMessage.status) == "pending")
        due = (col(Transfer.role) == PROVIDER, col(Transfer.format) == PUSH,
               col(Transfer.state) == State.STARTED.value,
               col(Transfer.push_status).in_(["due", "running"]),
               col(Transfer.lease_until).is_(None) | (col(Transfer.lease_until) < now))
        query = (select(Transfer.id)  # type: ignore[call-overload]
                 .where(*due, ~pending).order_by(col(Transfer.updated_at)).limit(1))
        with read_only(self.runtime.engine) as conn:
            if conn.execute(query).scalar() is None:
                return None
        with self.runtime.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=Transfer)
            found = conn.execute(query).scalar()
            if found is None:
                return None
            taken = conn.execute(update(Transfer).where(col(Transfer.id) == found, *due).values(
                push_status="running", lease_until=now + LEASE))
        return str(found) if taken.rowcount else None

    def run_once(self) -> str | None:
        """Claim one push and run it here (tests; the thread uses :meth:`start`)."""
        found = self.claim()
        if found is not None:
            push(self.runtime, found, stop=self._stop)
        return found

    def start(self) -> None:
        """Poll in a daemon thread until :meth:`stop`."""
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self._round()
                except Exception:
                    log.exception("push round failed")
                self._stop.wait(self.poll)

        self._thread = threading.Thread(target=loop, name="transfer-push", daemon=True)
        self._thread.start()

    def _round(self) -> None:
        while self._slots.acquire(blocking=False):
            found = self.claim()
            if found is None:
                self._slots.release()
                return

            def run(transfer_id: str = found) -> None:
                try:
                    push(self.runtime, transfer_id, stop=self._stop)
                finally:
                    self._slots.release()
                    self._running.discard(threading.current_thread())

            thread = threading.Thread(target=run, name=f"push {found}", daemon=True)
            self._running.add(thread)
            thread.start()

    def stop(self) -> None:
        """Stop claiming; running pushes end early and are taken up again later."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        for thread in list(self._running):
            thread.join(timeout=15)


def _prepare(runtime: Runtime, transfer_id: str) -> tuple[Any, ...] | None:
    """Ask the policy and reserve one use; None when the push must not (or cannot) run."""
    with Session(runtime.engine, expire_on_commit=False) as session:
        transfer = find(session, transfer_id)
        if transfer is None or transfer.state != State.STARTED.value:
            return None
        agreement, dataset = provider.terms(session, transfer, lock=True)
        decision = provider.check_policy(runtime, session, transfer, agreement, dataset)
        if not decision.allow:
            _end(runtime, session, transfer, Message.TERMINATION,
                 [r.as_dict() for r in decision.reasons], status="failed", code=DENIED)
            return None
        transfer.pulls += 1
        session.add(transfer)
        session.commit()
        address = transfer.data_address or {}
        return dataset, address, transfer.counterparty, decision.decision_id


def _end(runtime: Runtime, session: Session, transfer: Transfer, message: Message,
         reasons: list[dict[str, Any]] | None = None, *, status: str,
         code: str | None = None) -> None:
    transfer.push_status = status
    transfer.lease_until = None
    advance(session, transfer, message, PROVIDER, reason=reasons)
    send(runtime, session, transfer, message, code=code, reason=reasons)
    session.commit()


def push(runtime: Runtime, transfer_id: str, *, stop: threading.Event) -> None:
    """Run one claimed push to its end (completed, terminated, or handed back)."""
    prepared = _prepare(runtime, transfer_id)
    if prepared is None:
        return
    dataset, address, participant, decision_id = prepared
    meter = Meter()
    failure: str | None = None
    try:
        anyio.run(_stream, runtime, transfer_id, dataset, address, participant, meter, stop)
    except Stopped:
        failure = None
    except (ConnectorError, Truncated, httpx.HTTPError) as exc:
        failure = _describe(exc)
    except Exception:
        log.exception("push failed unexpectedly", extra={"transfer": transfer_id})
        failure = "the push failed unexpectedly"
    with Session(runtime.engine) as session:
        transfer = find(session, transfer_id)
        if transfer is None:
            return
        if not meter.complete:
            transfer.pulls = max(transfer.pulls - 1, 0)
        else:
            transfer.sha256 = meter.sha256
        transfer.bytes_sent += meter.bytes
        audit_log.append(session.connection(), [{
            "type": "transfer.push", "transfer": transfer.id, "agreement": transfer.agreement_id,
            "dataset": transfer.dataset_id, "participant": participant, "bytes": meter.bytes,
            "sha256": meter.sha256, "complete": meter.complete, "decision_id": decision_id,
            **({"error": failure} if failure else {})}])
        if transfer.state != State.STARTED.value:
            # Suspended or terminated meanwhile: a resume sets the push due again.
            transfer.push_status = "due" if transfer.state == State.SUSPENDED.value else "done"
            transfer.lease_until = None
            session.add(transfer)
            session.commit()
        elif meter.complete:
            _end(runtime, session, transfer, Message.COMPLETION, status="done")
        elif failure is not None:
            _end(runtime, session, transfer, Message.TERMINATION,
                 [{"code": "push_failed", "message": failure}], status="failed",
                 code="push-failed")
        else:  # the worker stops: hand it back
            transfer.push_status, transfer.lease_until = "due", None
            session.add(transfer)
            session.commit()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectorError):
        return exc.detail
    if isinstance(exc, httpx.HTTPStatusError):
        return f"the push endpoint answered HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.HTTPError):
        return f"the push endpoint could not be reached: {type(exc).__name__}"
    return str(exc)


async def _stream(runtime: Runtime, transfer_id: str, dataset: Any, address: dict[str, Any],
                  participant: str, meter: Meter, stop: threading.Event) -> None:
    settings = runtime.settings
    with Session(runtime.engine) as session:
        row = session.get(Transfer, transfer_id)
        agreement_id = row.agreement_id if row is not None else None
    opened = await open_dataset(dataset, runtime=runtime, range_header=None, meter=meter,
                                participant=participant, agreement_id=agreement_id)
    props: dict[str, str] = address.get("properties") or {}
    headers = {"Content-Type": opened.media_type}
    if props.get("authorization"):
        kind = props.get("authType", "bearer")
        headers["Authorization"] = (f"Bearer {props['authorization']}"
                                    if kind.lower() == "bearer" else props["authorization"])
    if opened.length is not None:
        headers["Content-Length"] = str(opened.length)
    renewed = anyio.current_time()

    async def body() -> Any:
        nonlocal renewed
        async for data in opened.chunks:
            if stop.is_set():
                raise Stopped
            if anyio.current_time() - renewed > RENEW_EVERY:
                renewed = anyio.current_time()
                if not await anyio.to_thread.run_sync(_renew, runtime, transfer_id):
                    raise Stopped
            yield data

    try:
        async with httpx.AsyncClient(timeout=settings.transfer_http_timeout) as client:
            response = await client.post(str(address["endpoint"]), content=body(),
                                         headers=headers)
            response.raise_for_status()
        meter.complete = True
    finally:
        await opened.release()


def _renew(runtime: Runtime, transfer_id: str) -> bool:
    """Extend the lease; False when the transfer is no longer STARTED."""
    with runtime.engine.begin() as conn:
        done = conn.execute(update(Transfer).where(
            col(Transfer.id) == transfer_id, col(Transfer.state) == State.STARTED.value)
            .values(lease_until=utcnow() + LEASE))
        return bool(done.rowcount)
