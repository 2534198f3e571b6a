"""What the management API reads and answers about datasets and offers (pydantic, no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

T = TypeVar("T")


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands stored times back naive; they were written as UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


Utc = Annotated[datetime, AfterValidator(_utc)]
UtcOrNone = Annotated[datetime | None, AfterValidator(_utc)]
Identifier = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^\S+$")]


class FileSource(BaseModel):
    """A file under the data dir."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["file"] = "file"
    path: str = Field(min_length=1, max_length=2000,
                      description="Relative to the data dir; must stay inside it.")


class HttpSource(BaseModel):
    """An HTTP(S) origin fetched with GET when the dataset is transferred."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["http"] = "http"
    url: str = Field(min_length=8, max_length=2000, description="An http:// or https:// URL.")


class SqlSource(BaseModel):
    """A read-only query on a database named in ``CONNECTOR_SQL_SOURCES``, served as CSV."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["sql"] = "sql"
    database: str = Field(min_length=1, max_length=200,
                          description="A source name from `CONNECTOR_SQL_SOURCES`.")
    query: str = Field(min_length=1, max_length=20_000,
                       description="One SELECT (or WITH … SELECT) statement; it runs with the "
                                   "row limit `CONNECTOR_SQL_ROW_LIMIT`.")


Source = Annotated[FileSource | HttpSource | SqlSource, Field(discriminator="kind")]


class DatasetFields(BaseModel):
    """The fields a provider sets; every one optional, for PATCH."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, min_length=1, max_length=500)
    description: str | None = Field(None, max_length=20_000)
    owner: Identifier | None = Field(None, description="Participant id; only an admin may "
                                     "name another participant than its own.")
    keywords: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        None, max_length=100)
    themes: list[Annotated[str, Field(min_length=1, max_length=500)]] | None = Field(
        None, max_length=50, description="Theme IRIs, e.g. EU data themes.")
    personal_data: bool | None = None
    subject_column: str | None = Field(None, max_length=100)
    media_type: str | None = Field(None, min_length=3, max_length=100,
                                   pattern=r"^[\w.+-]+/[\w.+-]+$")
    source: Source | None = None
    spatial: str | None = Field(None, max_length=255)
    temporal_start: datetime | None = None
    temporal_end: datetime | None = None
    accrual_periodicity: str | None = Field(None, max_length=100)
    extra: dict[str, Any] | None = None


class DatasetIn(DatasetFields):
    """A dataset to register (``title`` and ``source`` required)."""

    id: Identifier | None = Field(None, description="Chosen id; `urn:uuid:…` when unset.")
    title: str = Field(min_length=1, max_length=500)
    source: Source


class DatasetOut(BaseModel):
    """A registered dataset."""

    id: str
    title: str
    description: str
    owner: str
    keywords: list[str]
    themes: list[str]
    personal_data: bool
    subject_column: str | None
    media_type: str
    source: Source
    byte_size: int | None
    sha256: str | None
    spatial: str | None
    temporal_start: UtcOrNone
    temporal_end: UtcOrNone
    accrual_periodicity: str | None
    extra: dict[str, Any]
    created_at: Utc
    updated_at: Utc


class OfferPatch(BaseModel):
    """Changes to an offer."""

    model_config = ConfigDict(extra="forbid")
    odrl: dict[str, Any] | None = Field(None, description="The whole ODRL offer (replaces it).")
    mode: Literal["auto", "manual"] | None = None


class OfferIn(BaseModel):
    """An ODRL offer on one of the caller's datasets."""

    model_config = ConfigDict(extra="forbid")
    dataset_id: Identifier
    odrl: dict[str, Any] = Field(description="ODRL `Offer`, compacted with the DSP 2025-1 "
                                 "context (terms as in `connector/policy/odrl.py`).")
    mode: Literal["auto", "manual"] = Field("auto", description="auto: the policy decides "
                                            "negotiations; manual: the owner does.")


class OfferOut(BaseModel):
    """A stored offer: as served in the catalog, and as the policy engine reads it."""

    id: str
    dataset_id: str
    odrl: dict[str, Any]
    normalised: dict[str, Any]
    policy_hash: str
    mode: str
    created_at: Utc


class Page(BaseModel, Generic[T]):
    """One page of a list, and the cursor of the next (None on the last page)."""

    items: list[T]
    next_cursor: str | None
