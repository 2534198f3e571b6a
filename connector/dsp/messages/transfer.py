"""Transfer process protocol: messages, the data address, the state acknowledgement, the error."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from connector.dsp.base import DspModel, NonEmpty
from connector.urls import url_problem

TransferState = Literal["REQUESTED", "STARTED", "TERMINATED", "COMPLETED", "SUSPENDED"]


def header_safe(value: str) -> bool:
    """Whether ``value`` can be sent as an HTTP header value: printable ASCII, at most 8 KiB,
    no space at either end (HTTP would strip or refuse it)."""
    return (len(value) <= 8192 and value == value.strip()
            and all(" " <= c <= "~" or c == "\t" for c in value))


class EndpointProperty(DspModel):
    type_required_on_wire: ClassVar[bool] = True
    type_: Literal["EndpointProperty"] = Field("EndpointProperty", alias="@type")
    name: str
    value: str


class DataAddress(DspModel):
    """Where data is pushed to (in a request) or pulled from (in a start message).

    ``endpointProperties`` may carry ``authorization`` (an opaque token) and ``authType``
    (e.g. ``bearer``)."""

    type_required_on_wire: ClassVar[bool] = True
    type_: Literal["DataAddress"] = Field("DataAddress", alias="@type")
    endpoint_type: str
    endpoint: str | None = None
    endpoint_properties: NonEmpty[EndpointProperty] | None = None

    @model_validator(mode="after")
    def _usable(self) -> DataAddress:
        # The endpoint is where a push goes or a pull comes from, later.
        problem = None if self.endpoint is None else url_problem(self.endpoint)
        if problem:
            raise ValueError(f"the dataAddress endpoint {problem}")
        # authorization and authType become an HTTP header of the push or the pull.
        for name in ("authorization", "authType"):
            value = self.endpoint_property(name)
            if value is not None and not header_safe(value):
                raise ValueError(f"the endpoint property {name!r} must be printable ASCII "
                                 "(it is sent as an HTTP header)")
        return self

    def endpoint_property(self, name: str) -> str | None:
        """The value of endpoint property ``name``, if present."""
        for prop in self.endpoint_properties or ():
            if prop.name == name:
                return prop.value
        return None


class TransferRequestMessage(DspModel):
    """Consumer → provider. ``dataAddress`` only for push transfers."""

    type_: Literal["TransferRequestMessage"] = Field("TransferRequestMessage", alias="@type")
    consumer_pid: str
    agreement_id: str
    format: str
    data_address: DataAddress | None = None
    callback_address: str


class TransferStartMessage(DspModel):
    """Provider → consumer. ``dataAddress`` for pull transfers."""

    type_: Literal["TransferStartMessage"] = Field("TransferStartMessage", alias="@type")
    provider_pid: str
    consumer_pid: str
    data_address: DataAddress | None = None


class TransferSuspensionMessage(DspModel):
    type_: Literal["TransferSuspensionMessage"] = Field("TransferSuspensionMessage", alias="@type")
    provider_pid: str
    consumer_pid: str
    code: str | None = None
    reason: NonEmpty[Any] | None = None


class TransferCompletionMessage(DspModel):
    type_: Literal["TransferCompletionMessage"] = Field("TransferCompletionMessage", alias="@type")
    provider_pid: str
    consumer_pid: str


class TransferTerminationMessage(DspModel):
    type_: Literal["TransferTerminationMessage"] = Field(
        "TransferTerminationMessage", alias="@type")
    provider_pid: str
    consumer_pid: str
    code: str | None = None
    reason: NonEmpty[Any] | None = None


class TransferProcess(DspModel):
    """The acknowledgement: the transfer's state after the message."""

    type_: Literal["TransferProcess"] = Field("TransferProcess", alias="@type")
    provider_pid: str
    consumer_pid: str
    state: TransferState


class TransferError(DspModel):
    type_: Literal["TransferError"] = Field("TransferError", alias="@type")
    provider_pid: str
    consumer_pid: str
    code: str | None = None
    reason: NonEmpty[Any] | None = None
