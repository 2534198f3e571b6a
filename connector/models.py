"""Every table, imported in one place so that Alembic and tests see the whole schema."""

from __future__ import annotations

from sqlmodel import SQLModel

from connector.catalog.models import Dataset, Offer
from connector.participants.models import Participant

metadata = SQLModel.metadata

__all__ = ["Dataset", "Offer", "Participant", "metadata"]
