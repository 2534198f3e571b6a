"""The DSP messages we send in a negotiation, built and queued in the outbox.

A message is queued in the transaction of the state change that causes it and leaves after
that commits (``settings.dsp_callback_delay`` later), so the answer to the request that caused
it always reaches the other side first. Where it goes follows from our role:

* as provider, to the consumer's callback address: ``/negotiations/offers`` (an offer that
  opens a negotiation), then ``/negotiations/{consumerPid}/offers``, ``…/agreement``,
  ``…/events``, ``…/termination``;
* as consumer, to the provider's DSP base: ``/negotiations/request`` (the first request), then
  ``/negotiations/{providerPid}/request``, ``…/events``, ``…/agreement/verification``,
  ``…/termination``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session

from connector.config import Settings
from connector.delivery.outbox import enqueue
from connector.dsp.base import DspModel
from connector.dsp.messages import (
    ContractAgreementMessage,
    ContractAgreementVerificationMessage,
    ContractNegotiationEventMessage,
    ContractNegotiationTerminationMessage,
    ContractOfferMessage,
    ContractRequestMessage,
    dump_message,
)
from connector.errors import Conflict
from connector.negotiation.machine import PROVIDER
from connector.negotiation.models import Negotiation
from connector.negotiation.offers import PURPOSE
from connector.negotiation.process import pids

KIND = "negotiation"
DSP_PATH = "/dsp/2025-1"
_SUFFIX = {"ContractOfferMessage": "offers", "ContractAgreementMessage": "agreement",
           "ContractNegotiationEventMessage": "events",
           "ContractNegotiationTerminationMessage": "termination",
           "ContractRequestMessage": "request",
           "ContractAgreementVerificationMessage": "agreement/verification"}


def callback_address(settings: Settings) -> str:
    """Our DSP base, where the other side sends its messages (no trailing slash)."""
    return settings.public_url + DSP_PATH


def check_addressable(neg: Negotiation) -> str:
    """The other side's pid, which every message after the first needs; 409 until known."""
    their_pid = neg.consumer_pid if neg.role == PROVIDER else neg.provider_pid
    if not their_pid:
        raise Conflict("the other side has not answered our first message yet (its pid is "
                       "unknown); try again in a moment", **pids(neg))
    return their_pid


def _url(neg: Negotiation, message: DspModel) -> str:
    base = (neg.counterparty_address or "").rstrip("/")
    if isinstance(message, ContractRequestMessage) and message.initial:
        return f"{base}/negotiations/request"
    if isinstance(message, ContractOfferMessage) and message.initial:
        return f"{base}/negotiations/offers"
    their_pid = check_addressable(neg)
    return f"{base}/negotiations/{their_pid}/{_SUFFIX[type(message).__name__]}"


def send(session: Session, settings: Settings, neg: Negotiation, message: DspModel, *,
         on_failure: str = "terminate") -> None:
    """Queue ``message`` to the other side of ``neg``.

    ``on_failure="terminate"`` ends the negotiation here when the message cannot be delivered
    (see ``outcomes.py``); terminations themselves are only logged.
    """
    enqueue(session, url=_url(neg, message), body=dump_message(message),
            counterparty=neg.counterparty, process_kind=KIND, process_id=neg.id,
            delay=settings.dsp_callback_delay, retry_for=settings.dsp_retry_seconds,
            on_failure=on_failure)


def request(neg: Negotiation, settings: Settings, *, initial: bool) -> ContractRequestMessage:
    """The consumer's request: the first one carries our callback address, later ones the
    providerPid; the declared purpose rides along as an extension property."""
    extra = {PURPOSE: neg.purpose} if neg.purpose else {}
    if initial:
        return ContractRequestMessage.model_validate({
            "consumerPid": neg.id, "offer": neg.offer,
            "callbackAddress": callback_address(settings), **extra})
    return ContractRequestMessage.model_validate({
        "consumerPid": neg.id, "providerPid": neg.provider_pid, "offer": neg.offer, **extra})


def offer(neg: Negotiation, body: Mapping[str, Any]) -> ContractOfferMessage:
    """The provider's offer inside a running negotiation."""
    return ContractOfferMessage.model_validate({**_by_alias(neg), "offer": dict(body)})


def first_offer(neg: Negotiation, settings: Settings,
                body: Mapping[str, Any]) -> ContractOfferMessage:
    """The provider's offer that opens a negotiation: our callback address, no consumerPid."""
    return ContractOfferMessage.model_validate({
        "providerPid": neg.id, "offer": dict(body),
        "callbackAddress": callback_address(settings)})


def agreement(neg: Negotiation, odrl: Mapping[str, Any]) -> ContractAgreementMessage:
    return ContractAgreementMessage.model_validate({**_by_alias(neg), "agreement": dict(odrl)})


def verification(neg: Negotiation) -> ContractAgreementVerificationMessage:
    return ContractAgreementVerificationMessage.model_validate(_by_alias(neg))


def event(neg: Negotiation, event_type: str) -> ContractNegotiationEventMessage:
    """``ACCEPTED`` (consumer) or ``FINALIZED`` (provider)."""
    return ContractNegotiationEventMessage.model_validate({**_by_alias(neg),
                                                           "eventType": event_type})


def termination(neg: Negotiation, code: str | None,
                reasons: Sequence[str]) -> ContractNegotiationTerminationMessage:
    return ContractNegotiationTerminationMessage.model_validate(
        {**_by_alias(neg), "code": code, "reason": list(reasons) or None})


def _by_alias(neg: Negotiation) -> dict[str, str]:
    return {"providerPid": neg.provider_pid or "", "consumerPid": neg.consumer_pid or ""}
