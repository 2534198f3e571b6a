"""Pydantic models of every DSP 2025-1 document, and ``parse_message``/``dump_message``.

Models follow the official JSON schemas field for field, with Python field names and the wire
names as aliases; where the spec text is stricter than its schema, the text wins (noted on the
model). ODRL shapes live in ``connector.dsp.odrl``.
"""

from connector.dsp.messages.catalog import (
    Catalog,
    CatalogError,
    CatalogRequestMessage,
    DataService,
    Dataset,
    DatasetRequestMessage,
    Distribution,
)
from connector.dsp.messages.codec import MESSAGE_TYPES, dump_message, parse_message
from connector.dsp.messages.common import (
    DID_CONTEXT,
    WELL_KNOWN_VERSION_PATH,
    Auth,
    DidService,
    ProtocolVersion,
    VersionResponse,
)
from connector.dsp.messages.negotiation import (
    ContractAgreementMessage,
    ContractAgreementVerificationMessage,
    ContractNegotiation,
    ContractNegotiationError,
    ContractNegotiationEventMessage,
    ContractNegotiationTerminationMessage,
    ContractOfferMessage,
    ContractRequestMessage,
    NegotiationEvent,
    NegotiationState,
)
from connector.dsp.messages.transfer import (
    DataAddress,
    EndpointProperty,
    TransferCompletionMessage,
    TransferError,
    TransferProcess,
    TransferRequestMessage,
    TransferStartMessage,
    TransferState,
    TransferSuspensionMessage,
    TransferTerminationMessage,
)

__all__ = [
    "DID_CONTEXT",
    "MESSAGE_TYPES",
    "WELL_KNOWN_VERSION_PATH",
    "Auth",
    "Catalog",
    "CatalogError",
    "CatalogRequestMessage",
    "ContractAgreementMessage",
    "ContractAgreementVerificationMessage",
    "ContractNegotiation",
    "ContractNegotiationError",
    "ContractNegotiationEventMessage",
    "ContractNegotiationTerminationMessage",
    "ContractOfferMessage",
    "ContractRequestMessage",
    "DataAddress",
    "DataService",
    "Dataset",
    "DatasetRequestMessage",
    "DidService",
    "Distribution",
    "EndpointProperty",
    "NegotiationEvent",
    "NegotiationState",
    "ProtocolVersion",
    "TransferCompletionMessage",
    "TransferError",
    "TransferProcess",
    "TransferRequestMessage",
    "TransferStartMessage",
    "TransferState",
    "TransferSuspensionMessage",
    "TransferTerminationMessage",
    "VersionResponse",
    "dump_message",
    "parse_message",
]
