"""Contract negotiation protocol: the messages, the state acknowledgement, the error."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from connector.dsp.base import DspModel, NonEmpty
from connector.dsp.odrl import Agreement, MessageOffer
from connector.urls import url_problem

NegotiationState = Literal["REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED", "FINALIZED",
                           "TERMINATED"]
NegotiationEvent = Literal["ACCEPTED", "FINALIZED"]


class ContractRequestMessage(DspModel):
    """Consumer → provider. Initial request: ``callbackAddress``, no ``providerPid``; a later
    request in the same negotiation: ``providerPid``, no ``callbackAddress`` (schema ``oneOf``)."""

    type_: Literal["ContractRequestMessage"] = Field("ContractRequestMessage", alias="@type")
    consumer_pid: str
    provider_pid: str | None = None
    offer: MessageOffer
    callback_address: str | None = None

    @model_validator(mode="after")
    def _initial_or_not(self) -> ContractRequestMessage:
        _one_of(self.callback_address, self.provider_pid, "callbackAddress", "providerPid",
                "the initial request", "a request in an existing negotiation")
        _callback(self.callback_address)
        return self

    @property
    def initial(self) -> bool:
        """True if this request opens a new negotiation."""
        return self.provider_pid is None


class ContractOfferMessage(DspModel):
    """Provider → consumer. Initial offer: ``callbackAddress``, no ``consumerPid``; a counter-offer:
    ``consumerPid``, no ``callbackAddress`` (schema ``oneOf``)."""

    type_: Literal["ContractOfferMessage"] = Field("ContractOfferMessage", alias="@type")
    provider_pid: str
    consumer_pid: str | None = None
    offer: MessageOffer
    callback_address: str | None = None

    @model_validator(mode="after")
    def _initial_or_not(self) -> ContractOfferMessage:
        _one_of(self.callback_address, self.consumer_pid, "callbackAddress", "consumerPid",
                "the initial offer", "an offer in an existing negotiation")
        _callback(self.callback_address)
        return self

    @property
    def initial(self) -> bool:
        """True if this offer opens a new negotiation."""
        return self.consumer_pid is None


def _callback(address: str | None) -> None:
    """A callbackAddress is where our messages go later: refuse one that cannot be sent to."""
    problem = None if address is None else url_problem(address)
    if problem:
        raise ValueError(f"callbackAddress {problem}")


def _one_of(initial: Any, later: Any, initial_name: str, later_name: str, initial_what: str,
            later_what: str) -> None:
    if initial is not None and later is not None:
        raise ValueError(f"has both {initial_name!r} and {later_name!r}: {initial_what} has only "
                         f"{initial_name!r}, {later_what} only {later_name!r}")
    if initial is None and later is None:
        raise ValueError(f"needs {initial_name!r} ({initial_what}) or {later_name!r} "
                         f"({later_what})")


class ContractAgreementMessage(DspModel):
    type_: Literal["ContractAgreementMessage"] = Field("ContractAgreementMessage", alias="@type")
    provider_pid: str
    consumer_pid: str
    agreement: Agreement


class ContractAgreementVerificationMessage(DspModel):
    type_: Literal["ContractAgreementVerificationMessage"] = Field(
        "ContractAgreementVerificationMessage", alias="@type")
    provider_pid: str
    consumer_pid: str


class ContractNegotiationEventMessage(DspModel):
    type_: Literal["ContractNegotiationEventMessage"] = Field(
        "ContractNegotiationEventMessage", alias="@type")
    provider_pid: str
    consumer_pid: str
    event_type: NegotiationEvent


class ContractNegotiationTerminationMessage(DspModel):
    type_: Literal["ContractNegotiationTerminationMessage"] = Field(
        "ContractNegotiationTerminationMessage", alias="@type")
    provider_pid: str
    consumer_pid: str
    code: str | None = None
    reason: NonEmpty[Any] | None = None


class ContractNegotiation(DspModel):
    """The acknowledgement: the negotiation's state after the message."""

    type_: Literal["ContractNegotiation"] = Field("ContractNegotiation", alias="@type")
    provider_pid: str
    consumer_pid: str
    state: NegotiationState


class ContractNegotiationError(DspModel):
    type_: Literal["ContractNegotiationError"] = Field("ContractNegotiationError", alias="@type")
    provider_pid: str
    consumer_pid: str
    code: str | None = None
    reason: NonEmpty[Any] | None = None
