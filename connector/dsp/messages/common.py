"""The two plain-JSON documents of DSP 2025-1: the version response and the DID service entry.

Neither is processed as JSON-LD: the version response has no ``@context``; a DID service entry
also names the DID context (``https://www.w3.org/ns/did/v1``), which the connector does not
bundle, and is read as the plain JSON its schema describes.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from connector.dsp.base import DspModel, NonEmpty
from connector.dsp.bundle import DSP_CONTEXT
from connector.urls import url_problem

DID_CONTEXT = "https://www.w3.org/ns/did/v1"
WELL_KNOWN_VERSION_PATH = "/.well-known/dspace-version"
# The schema's serviceEndpoint pattern; held to CatalogService entries only (see DidService).
_CATALOG_ENDPOINT = re.compile(r"https?://.*?/catalog$")


class Auth(DspModel):
    model_config = ConfigDict(extra="ignore")
    json_ld: ClassVar[bool] = False
    protocol: str
    version: str
    profile: list[str] | None = None


class ProtocolVersion(DspModel):
    model_config = ConfigDict(extra="ignore")
    json_ld: ClassVar[bool] = False
    version: str
    path: str
    binding: Literal["HTTPS"]
    identifier_type: str | None = None
    service_id: str | None = None
    auth: Auth | None = None


class VersionResponse(DspModel):
    """The document at ``/.well-known/dspace-version``."""

    model_config = ConfigDict(extra="ignore")
    json_ld: ClassVar[bool] = False
    protocol_versions: NonEmpty[ProtocolVersion]


class DidService(DspModel):
    """An entry of a DID document's ``service`` array advertising a DSP endpoint.

    The schema's ``serviceEndpoint`` pattern (``…/catalog``) contradicts its own ``DataService``
    example (``…/.well-known/dspace-version``); it is held to ``CatalogService`` entries only.
    """

    model_config = ConfigDict(extra="ignore")
    json_ld: ClassVar[bool] = False
    context: list[str] = Field(default_factory=lambda: [DSP_CONTEXT, DID_CONTEXT],
                               alias="@context")
    id: str = Field(alias="id")
    type: Literal["DataService", "CatalogService"] = Field(alias="type")
    service_endpoint: str

    @field_validator("context")
    @classmethod
    def _contexts(cls, value: list[str]) -> list[str]:
        missing = [url for url in (DSP_CONTEXT, DID_CONTEXT) if url not in value]
        if missing:
            raise ValueError(f"must contain {' and '.join(map(repr, missing))}")
        return value

    @model_validator(mode="after")
    def _endpoint(self) -> DidService:
        if self.type == "CatalogService" and not _CATALOG_ENDPOINT.match(self.service_endpoint):
            raise ValueError("a CatalogService serviceEndpoint is an http(s) URL ending in "
                             "'/catalog'")
        problem = url_problem(self.service_endpoint)
        if problem:
            raise ValueError(f"serviceEndpoint {problem}")
        return self
