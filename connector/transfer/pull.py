"""Pulling data: the provider's data plane (``GET /data/{id}``) and the consumer's fetch.

Provider, per pull: the token verifies and names this transfer, the transfer is a STARTED pull,
and the policy allows ``transfer`` now (window, count, consent and approval may have changed
since the start). The pull then holds one unit of ``usage_count`` (``Transfer.pulls``), so two
pulls at once cannot both pass a count limit; the agreement row is locked while deciding. When
the stream ends, ``transfer.pull`` goes to the audit log with the byte count and SHA-256 of the
bytes sent; an incomplete stream gives its unit back.

Consumer: ``GET /api/v1/transfers/{id}/data`` fetches from the provider's endpoint with the token
its start message carried and relays the bytes, recording ``transfer.fetch`` the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio.to_thread
from sqlmodel import Session

from connector.audit import log as audit_log
from connector.auth.principal import Principal
from connector.catalog.models import Dataset
from connector.errors import Conflict, NotFound, PolicyDenied
from connector.runtime import Runtime
from connector.transfer import actions, provider, tokens
from connector.transfer.dataplane import Meter, metered, open_dataset
from connector.transfer.errors import NoDataFlow, ProviderRefused, SourceFailed, WrongTransfer
from connector.transfer.machine import CONSUMER, PROVIDER, State
from connector.transfer.service import PULL, find
from connector.transfer.sources import Opened, UpstreamStatus, open_http

log = logging.getLogger("connector.transfer")
#: Statuses of a provider's data plane passed on to our caller as they are.
PASSED_ON = frozenset({403, 404, 410, 416})


@dataclass
class Outgoing:
    """An opened stream, its meter, and what records its end (sync, call once)."""

    opened: Opened
    meter: Meter
    finish: Callable[[], None]


@dataclass(frozen=True)
class Grant:
    """One allowed pull (or fetch): the ids to record it under."""

    transfer: str
    agreement: str
    dataset: str
    participant: str
    decision_id: str | None = None


def authorize_pull(runtime: Runtime, *, transfer_id: str,
                   authorization: str | None) -> tuple[Grant, Dataset]:
    """Check the token, the transfer and the policy; reserve one pull. Commits."""
    claims = tokens.verify(tokens.bearer(authorization), keys=runtime.keys.all("access-token"),
                           public_url=runtime.settings.public_url)
    if claims.transfer != transfer_id:
        raise WrongTransfer("this token was issued for another transfer")
    with Session(runtime.engine, expire_on_commit=False) as session:
        transfer = find(session, transfer_id)
        if transfer is None or transfer.role != PROVIDER:
            raise NotFound(f"no transfer {transfer_id}")
        if claims.agreement != transfer.agreement_id or claims.participant != \
                transfer.counterparty:
            raise WrongTransfer("this token does not match the transfer")
        if transfer.format != PULL:
            raise NoDataFlow("this transfer pushes its data; there is nothing to pull")
        if transfer.state != State.STARTED.value:
            raise NoDataFlow(f"the transfer is {transfer.state}; data flows only while STARTED")
        agreement, dataset = provider.terms(session, transfer, lock=True)
        decision = provider.check_policy(runtime, session, transfer, agreement, dataset)
        if not decision.allow:
            session.commit()  # keep the decision's audit entry
            raise PolicyDenied("the usage policy does not allow this pull now",
                               reasons=[r.as_dict() for r in decision.reasons],
                               decision_id=decision.decision_id)
        transfer.pulls += 1
        session.add(transfer)
        session.commit()
        return Grant(transfer.id, agreement.id, dataset.id, transfer.counterparty,
                     decision.decision_id), dataset


def _record(runtime: Runtime, grant: Grant, meter: Meter, *, kind: str,
            content_range: str | None, reserved: bool) -> None:
    try:
        with Session(runtime.engine) as session:
            transfer = find(session, grant.transfer)
            if transfer is None:
                return
            if meter.complete:
                transfer.sha256 = meter.sha256
                transfer.pulls += 0 if reserved else 1
            elif reserved:
                transfer.pulls = max(transfer.pulls - 1, 0)
            transfer.bytes_sent += meter.bytes
            session.add(transfer)
            audit_log.append(session.connection(), [{
                "type": f"transfer.{kind}", "transfer": grant.transfer,
                "agreement": grant.agreement, "dataset": grant.dataset,
                "participant": grant.participant, "bytes": meter.bytes,
                "sha256": meter.sha256, "complete": meter.complete, "range": content_range,
                "decision_id": grant.decision_id}])
            session.commit()
    except Exception:
        log.exception("recording the end of a stream failed", extra={"transfer": grant.transfer})


async def open_pull(runtime: Runtime, *, transfer_id: str, authorization: str | None,
                    range_header: str | None) -> Outgoing:
    """Authorize a pull and open the dataset's bytes (one range, if asked)."""
    grant, dataset = await anyio.to_thread.run_sync(partial(
        authorize_pull, runtime, transfer_id=transfer_id, authorization=authorization))
    meter = Meter()
    try:
        opened = await open_dataset(dataset, runtime=runtime, range_header=range_header,
                                    meter=meter, participant=grant.participant,
                                    agreement_id=grant.agreement)
    except BaseException:
        await anyio.to_thread.run_sync(partial(_record, runtime, grant, meter, kind="pull",
                                               content_range=None, reserved=True))
        raise
    return Outgoing(opened, meter, partial(
        _record, runtime, grant, meter, kind="pull", reserved=True,
        content_range=opened.headers.get("Content-Range")))


@dataclass(frozen=True)
class _Plan:
    grant: Grant
    endpoint: str
    authorization: str


def _plan_fetch(runtime: Runtime, principal: Principal, transfer_id: str) -> _Plan:
    with Session(runtime.engine, expire_on_commit=False) as session:
        transfer = actions.visible(session, principal, transfer_id)
        if transfer.role != CONSUMER:
            raise Conflict("the provider side serves its data at its data plane, /data/{id}")
        if transfer.format != PULL:
            raise NoDataFlow("this transfer is pushed to the endpoint its request named")
        if transfer.state != State.STARTED.value:
            raise NoDataFlow(f"the transfer is {transfer.state}; data flows only while STARTED")
        address = transfer.data_address or {}
        props: dict[str, str] = address.get("properties") or {}
        endpoint, token = address.get("endpoint"), props.get("authorization")
        if not endpoint or not token:
            raise NoDataFlow("the provider's start message carried no data address to pull from")
        kind = props.get("authType", "bearer")
        authorization = f"Bearer {token}" if kind.lower() == "bearer" else token
        return _Plan(Grant(transfer.id, transfer.agreement_id, transfer.dataset_id,
                           transfer.counterparty), endpoint, authorization)


async def open_fetch(runtime: Runtime, *, principal: Principal, transfer_id: str,
                     range_header: str | None) -> Outgoing:
    """Fetch a consumer transfer's data from the provider, to be relayed to our caller."""
    plan = await anyio.to_thread.run_sync(partial(_plan_fetch, runtime, principal, transfer_id))
    try:
        opened = await open_http(plan.endpoint, range_header=range_header,
                                 timeout=runtime.settings.transfer_http_timeout,
                                 headers={"Authorization": plan.authorization},
                                 chunk=runtime.settings.transfer_chunk_bytes)
    except UpstreamStatus as exc:
        answer = _decoded(exc.body)
        if exc.status in PASSED_ON:
            raise ProviderRefused(f"the provider's data plane answered HTTP {exc.status}",
                                  status=exc.status, provider=answer) from None
        raise SourceFailed(f"the provider's data plane answered HTTP {exc.status}",
                           provider=answer) from None
    except SourceFailed as exc:
        raise SourceFailed(exc.detail.replace("origin", "provider's data plane")) from None
    meter = Meter()
    opened.chunks = metered(opened.chunks, meter)
    opened.media_type = opened.media_type or "application/octet-stream"
    return Outgoing(opened, meter, partial(
        _record, runtime, plan.grant, meter, kind="fetch", reserved=False,
        content_range=opened.headers.get("Content-Range")))


def _decoded(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace")[:500]
