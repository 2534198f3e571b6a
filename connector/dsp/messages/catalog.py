"""Catalog protocol: requests, the DCAT catalog and dataset answers, the error."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator

from connector.dsp.base import DspModel, NonEmpty, forbid, value_kind
from connector.dsp.odrl import Offer


def _empty_as_none(value: Any) -> Any:
    return None if value == [] else value


# "A Catalog MUST have zero to many Datasets" but the schema has minItems 1: none is no key.
_ZeroOrMore = BeforeValidator(_empty_as_none)


class CatalogRequestMessage(DspModel):
    type_: Literal["CatalogRequestMessage"] = Field("CatalogRequestMessage", alias="@type")
    # Implementation-specific filter expressions; this connector defines none yet.
    filter: list[Any] | None = None


class DatasetRequestMessage(DspModel):
    type_: Literal["DatasetRequestMessage"] = Field("DatasetRequestMessage", alias="@type")
    dataset: str


class CatalogError(DspModel):
    type_: Literal["CatalogError"] = Field("CatalogError", alias="@type")
    code: str | None = None
    reason: list[Any] | None = None


class DataService(DspModel):
    type_required_on_wire: ClassVar[bool] = True
    type_: Literal["DataService"] = Field("DataService", alias="@type")
    id: str = Field(alias="@id")
    endpoint_url: str = Field(alias="endpointURL")
    endpoint_description: str | None = Field(None, alias="endpointDescription")


AccessService = Annotated[
    Annotated[str, Tag("string")] | Annotated[DataService, Tag("object")],
    Discriminator(value_kind, custom_error_type="access_service",
                  custom_error_message="must be a DataService id or a DataService object"),
]


class Distribution(DspModel):
    type_: Literal["Distribution"] = Field("Distribution", alias="@type")
    id: str | None = Field(None, alias="@id")
    format: str
    access_service: AccessService
    # Only meaningful inside a Dataset: the Catalog's context does not define hasPolicy.
    has_policy: NonEmpty[Offer] | None = None


class Dataset(DspModel):
    type_: Literal["Dataset"] = Field("Dataset", alias="@type")
    id: str = Field(alias="@id")
    has_policy: NonEmpty[Offer]
    distribution: NonEmpty[Distribution]


class Catalog(DspModel):
    """A catalog; the top-level one names its ``participantId``, nested ones may not."""

    type_required_on_wire: ClassVar[bool] = True
    root_required: ClassVar[tuple[str, ...]] = ("participant_id",)
    type_: Literal["Catalog"] = Field("Catalog", alias="@type")
    id: str = Field(alias="@id")
    participant_id: str | None = None
    dataset: Annotated[NonEmpty[Dataset] | None, _ZeroOrMore] = None
    catalog: Annotated[NonEmpty[Catalog] | None, _ZeroOrMore] = None
    service: NonEmpty[DataService] | None = None
    distribution: NonEmpty[Distribution] | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_policy(cls, data: Any) -> Any:
        return _NO_CATALOG_POLICY(data)


_NO_CATALOG_POLICY = forbid("hasPolicy", "a catalog must not have 'hasPolicy'; its datasets do")
