"""The provider's side: checking a transfer request, asking the policy, starting the transfer.

A request is checked before anything is stored: the callback address is an http(s) URL, the
agreement exists (ours, as provider, and active), its assignee is the requesting counterparty,
its dataset exists, and the format is one we serve (a push names an http(s) endpoint). A failing
check is answered 400 ``TransferError``.

Then the policy decides ``transfer`` with the agreement's normalised policy, its purpose and the
usage so far (``usage_count``: completed pulls and pushes under the agreement, plus running
ones). A deny is answered 201 like any request, and the transfer is terminated at once in the
same transaction: the ``TransferTerminationMessage`` carries the decision's reasons, and the row,
its history and the audit log keep them. Allowed: ``auto`` starts right away, ``manual`` waits
for the owner's management call (which asks the policy again before starting).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from connector.access.models import AccessRequest
from connector.catalog.models import Dataset
from connector.consent import service as consent_service
from connector.consent.rows import aggregate_duty
from connector.consent.subjects import SubjectsUnknown, columns, covered_subjects
from connector.decisions import decide
from connector.dsp.messages import DataAddress, EndpointProperty, TransferRequestMessage
from connector.errors import BadRequest, Conflict, UnsupportedPolicy
from connector.negotiation.models import Agreement
from connector.policy.engine import Decision, Reason
from connector.runtime import Runtime
from connector.transfer import tokens
from connector.transfer.machine import CONSUMER, PROVIDER, Message
from connector.transfer.models import Transfer
from connector.transfer.service import (
    FORMATS,
    HTTP_ENDPOINT_TYPE,
    PULL,
    PUSH,
    advance,
    new_pid,
    send,
)
from connector.urls import url_problem

DENIED = "policy-denied"


@dataclass(frozen=True)
class PolicyContext:
    """What the decision's context needs beyond the agreement: consents and an approval."""

    consents: list[Mapping[str, Any]] = field(default_factory=list)
    approval: Mapping[str, Any] | None = None
    data_subject: str | None = None


def policy_context(runtime: Runtime, session: Session, *, agreement: Agreement,
                   dataset: Dataset, participant: str) -> PolicyContext:
    """Consents and approval for a transfer decision.

    The approval is the owner's decision on the access request of the agreement's negotiation
    (``connector.access``), read at each decision. Consent is per data subject, so personal
    data is decided for one subject: with the default consent scope (``rows``) for one that
    consents (the row filter then serves exactly the rows of every subject whose consent is
    valid at the pull; none at all is ``consent_missing``); with ``all_subjects`` for the first
    subject the dataset covers that does not consent, if any, so one missing consent refuses
    the whole transfer.
    """
    approval = None
    if agreement.negotiation_id:
        request = session.exec(select(AccessRequest).where(
            col(AccessRequest.negotiation_id) == agreement.negotiation_id)
            .order_by(col(AccessRequest.created_at).desc())).first()
        if request is not None:
            approval = {"status": request.state, "participant": request.requester,
                        "dataset": request.dataset_id}
    consents: list[Mapping[str, Any]] = []
    data_subject = None
    if dataset.personal_data:
        views = consent_service.valid_consents(session, dataset=dataset.id,
                                               recipient=participant, purpose=agreement.purpose)
        if (agreement.normalised or {}).get("consent_scope") == "all_subjects":
            missing = _first_without_consent(runtime, dataset, views)
            if missing is not None:
                return PolicyContext(approval=approval, data_subject=missing)
        if views:
            record = views[0].record
            data_subject = record.data_subject
            consents = [{"subject": record.data_subject, "recipient": participant,
                         "purpose": agreement.purpose, "dataset": dataset.id,
                         "granted_at": record.valid_from, "expires_at": record.valid_until,
                         "withdrawn_at": None}]
    return PolicyContext(consents=consents, approval=approval, data_subject=data_subject)


def _first_without_consent(runtime: Runtime, dataset: Dataset,
                           views: list[consent_service.ConsentView]) -> str | None:
    """The first subject ``dataset`` covers without a consent in ``views`` (None: all have)."""
    try:
        covered = covered_subjects(runtime, dataset)
    except SubjectsUnknown as exc:
        # Unknown subjects cannot all have consented: decide for a subject with no consent.
        return f"urn:dodata:unknown-subjects:{str(exc)[:200]}"
    missing = covered - consent_service.subjects_with_consent(views)
    return min(missing) if missing else None


def usage_count(session: Session, agreement_id: str) -> int:
    """Pulls and pushes made (or running) under the agreement, across its transfers."""
    total = session.exec(select(func.coalesce(func.sum(Transfer.pulls), 0)).where(
        col(Transfer.agreement_id) == agreement_id, col(Transfer.role) == PROVIDER)).one()
    return int(total)


def terms(session: Session, transfer: Transfer, *, lock: bool = False,
          ) -> tuple[Agreement, Dataset]:
    """The agreement and dataset a transfer runs under (locking the agreement if ``lock``)."""
    agreement = session.get(Agreement, transfer.agreement_id, with_for_update=lock or None)
    dataset = session.get(Dataset, transfer.dataset_id)
    if agreement is None or dataset is None:
        raise Conflict(f"the agreement or dataset of transfer {transfer.id} no longer exists")
    return agreement, dataset


def _aggregate_unavailable(runtime: Runtime, agreement: Agreement, dataset: Dataset,
                           ) -> str | None:
    """Why the aggregates an aggregate-only agreement allows cannot be formed (None: they can).

    Aggregates are over data subjects: without a subject column none can be formed, and serving
    the rows instead would break the duty. A column to group by that the data lacks is found
    here, before anything is sent, rather than by a stream that ends half way.
    """
    duty = aggregate_duty(agreement)
    if duty is None:
        return None
    if not (dataset.personal_data and dataset.subject_column):
        return ("the agreement allows only aggregates over data subjects, and this dataset "
                "names no subject column")
    try:
        present = columns(runtime, dataset)
    except SubjectsUnknown as exc:
        return f"the aggregates cannot be formed: {str(exc)[:200]}"
    needed = [dataset.subject_column, *(duty.get("group_by") or [])]
    missing = [name for name in needed if name not in present]
    if missing:
        return f"the aggregates cannot be formed: the data has no column {missing[0]!r}"
    return None


def check_policy(runtime: Runtime, session: Session, transfer: Transfer, agreement: Agreement,
                 dataset: Dataset) -> Decision:
    """The policy's ``transfer`` decision for this transfer now (audited by ``decide``)."""
    unavailable = _aggregate_unavailable(runtime, agreement, dataset)
    if unavailable:
        return Decision(allow=False, reasons=(Reason("aggregate_unavailable", unavailable),))
    context = policy_context(runtime, session, agreement=agreement, dataset=dataset,
                             participant=transfer.counterparty)
    try:
        return decide(runtime, session.connection(), action="transfer",
                      participant=transfer.counterparty, dataset=dataset,
                      policy=agreement.normalised or agreement.odrl, purpose=agreement.purpose,
                      usage_count=usage_count(session, agreement.id),
                      consents=context.consents, approval=context.approval,
                      data_subject=context.data_subject,
                      extra={"transfer": transfer.id, "agreement": agreement.id})
    except (ValueError, UnsupportedPolicy) as exc:
        # A stored policy the engine cannot read allows nothing.
        return Decision(allow=False, reasons=(Reason("policy_invalid", str(exc)[:300]),))


def _checked_agreement(session: Session, message: TransferRequestMessage,
                       counterparty: str) -> tuple[Agreement, Dataset]:
    extra = {"consumer_pid": message.consumer_pid}
    problem = url_problem(message.callback_address)
    if problem:
        raise BadRequest(f"callbackAddress {problem}", **extra)
    if message.format not in FORMATS:
        raise BadRequest(f"format {message.format!r} is not served; use one of "
                         f"{', '.join(FORMATS)}", **extra)
    if message.format == PUSH:
        # DataAddress has checked the endpoint is a URL a push can reach; it must be there.
        if message.data_address is None or not message.data_address.endpoint:
            raise BadRequest("an HttpData-PUSH request needs a dataAddress with an http(s) "
                             "endpoint", **extra)
    agreement = session.get(Agreement, message.agreement_id)
    # Someone else's agreement is answered like a missing one: ids cannot be probed.
    if agreement is None or agreement.role != PROVIDER or agreement.assignee != counterparty:
        raise BadRequest(f"no agreement {message.agreement_id!r} with you", **extra)
    if agreement.status != "active":
        raise BadRequest(f"agreement {agreement.id!r} is {agreement.status}", **extra)
    dataset = session.get(Dataset, agreement.dataset_id)
    if dataset is None:
        raise BadRequest(f"the dataset of agreement {agreement.id!r} no longer exists", **extra)
    return agreement, dataset


def _address_of(address: DataAddress | None) -> dict[str, Any]:
    if address is None:
        return {}
    return {"endpoint": address.endpoint, "endpoint_type": address.endpoint_type,
            "properties": {p.name: p.value for p in address.endpoint_properties or ()}}


def _repeat(session: Session, message: TransferRequestMessage,
            counterparty: str) -> Transfer | None:
    existing = session.exec(select(Transfer).where(
        col(Transfer.role) == PROVIDER,
        col(Transfer.consumer_pid) == message.consumer_pid)).first()
    if existing is None:
        return None
    if existing.counterparty != counterparty or existing.agreement_id != message.agreement_id:
        raise BadRequest(f"consumerPid {message.consumer_pid!r} is already in use",
                         consumer_pid=message.consumer_pid)
    return existing


def receive_request(runtime: Runtime, session: Session, *, counterparty: str,
                    message: TransferRequestMessage) -> tuple[Transfer, bool]:
    """Create (and commit) the transfer a consumer asks for; return it and whether it is new.

    The same request delivered twice returns the first one's transfer, changing nothing.
    """
    existing = _repeat(session, message, counterparty)
    if existing is not None:
        return existing, False
    agreement, dataset = _checked_agreement(session, message, counterparty)
    try:
        transfer = _create(runtime, session, message, counterparty, agreement, dataset)
        session.commit()
    except IntegrityError:
        # The same request raced in twice: the first one's transfer is the answer.
        session.rollback()
        again = _repeat(session, message, counterparty)
        if again is None:
            raise
        return again, False
    return transfer, True


def _create(runtime: Runtime, session: Session, message: TransferRequestMessage,
            counterparty: str, agreement: Agreement, dataset: Dataset) -> Transfer:
    pid = new_pid()
    transfer = Transfer(
        id=pid, role=PROVIDER, provider_pid=pid, consumer_pid=message.consumer_pid,
        agreement_id=agreement.id, dataset_id=dataset.id, counterparty=counterparty,
        callback_address=message.callback_address, format=message.format, state="",
        mode=agreement.mode, data_address=_address_of(message.data_address),
        owner=dataset.owner)
    advance(session, transfer, Message.REQUEST, CONSUMER)
    decision = check_policy(runtime, session, transfer, agreement, dataset)
    if not decision.allow:
        reasons = [r.as_dict() for r in decision.reasons]
        advance(session, transfer, Message.TERMINATION, PROVIDER, reason=reasons,
                audit={"decision_id": decision.decision_id})
        send(runtime, session, transfer, Message.TERMINATION, code=DENIED, reason=reasons)
    elif transfer.mode == "auto":
        start(runtime, session, transfer, audit={"decision_id": decision.decision_id})
    return transfer


def start(runtime: Runtime, session: Session, transfer: Transfer, *,
          audit: Mapping[str, Any] | None = None) -> bool:
    """Start (or resume) as provider: a pull gets a fresh data address, a push is queued.

    The caller has asked the policy. Returns whether the state changed (a repeat sends nothing).
    """
    step = advance(session, transfer, Message.START, PROVIDER, audit=audit)
    if not step.changed:
        return False
    if transfer.format == PULL:
        settings = runtime.settings
        endpoint = f"{settings.public_url}/data/{transfer.id}"
        token = tokens.issue(runtime.keys.current("access-token"), public_url=settings.public_url,
                             transfer=transfer.id, agreement=transfer.agreement_id,
                             dataset=transfer.dataset_id, participant=transfer.counterparty,
                             lifetime=settings.transfer_token_lifetime)
        address = DataAddress(endpoint_type=HTTP_ENDPOINT_TYPE, endpoint=endpoint,
                              endpoint_properties=[
                                  EndpointProperty(name="authorization", value=token),
                                  EndpointProperty(name="authType", value="bearer")])
        transfer.data_address = {"endpoint": endpoint, "endpoint_type": HTTP_ENDPOINT_TYPE}
        session.add(transfer)
        send(runtime, session, transfer, Message.START, data_address=address)
    else:
        transfer.push_status = "due"
        transfer.lease_until = None
        session.add(transfer)
        send(runtime, session, transfer, Message.START)
    return True
