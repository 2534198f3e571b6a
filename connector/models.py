"""Every table, imported in one place so that Alembic and tests see the whole schema."""

from __future__ import annotations

from sqlmodel import SQLModel

from connector.access.models import AccessRequest, Webhook
from connector.audit.models import AuditCheckpoint, AuditEntry, AuditHash, AuditHead
from connector.auth.models import OAuthClient, RevokedToken, SeenJti
from connector.catalog.models import Dataset, Offer
from connector.consent.models import ConsentEvent, ConsentRecord
from connector.delivery.models import OutboxMessage
from connector.negotiation.models import Agreement, Negotiation, NegotiationEvent
from connector.participants.models import Participant
from connector.transfer.models import Transfer, TransferEvent

metadata = SQLModel.metadata

__all__ = [
    "AccessRequest",
    "Agreement",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHash",
    "AuditHead",
    "ConsentEvent",
    "ConsentRecord",
    "Dataset",
    "Negotiation",
    "NegotiationEvent",
    "OAuthClient",
    "Offer",
    "OutboxMessage",
    "Participant",
    "RevokedToken",
    "SeenJti",
    "Transfer",
    "TransferEvent",
    "Webhook",
    "metadata",
]
