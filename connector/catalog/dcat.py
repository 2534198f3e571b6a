"""Datasets and offers as DCAT 3 documents of DSP 2025-1 (``Dataset``, ``Catalog``).

Built from the DSP message models (``connector.dsp.messages``), so every document is validated
as it is made and dumped by ``dump_message``. What a dataset says, in compacted JSON-LD with
the DSP context (whose ``dct:``/``dcat:`` prefixes name the DCAT terms the context leaves
undefined)::

    {"@id": dataset id, "@type": "Dataset",
     "dct:title", "dct:description", "dcat:keyword": [...], "dcat:theme": [{"@id"}],
     "dct:publisher": {"@id": owner}, "dct:accrualPeriodicity": {"@id"},
     "dct:modified": {"@value", "@type": "xsd:dateTime"},
     "hasPolicy": [the offers, without "target": the dataset is the target],
     "distribution": [{"@type": "Distribution", "format": "HttpData-PULL" | "HttpData-PUSH",
                       "dcat:mediaType": {"@id": IANA media type},
                       "accessService": {"@id", "@type": "DataService", "endpointURL"}}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from connector.catalog.models import Dataset, Offer
from connector.dsp.messages import Catalog, DataService, Distribution, dump_message
from connector.dsp.messages import Dataset as DcatDataset

DSP_PATH = "/dsp/2025-1"
FORMATS = ("HttpData-PULL", "HttpData-PUSH")
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
# The columns rendering reads (the catalog loads no others).
DATASET_FIELDS = ("id", "title", "description", "owner", "keywords", "themes",
                  "accrual_periodicity", "updated_at", "media_type")
OFFER_FIELDS = ("id", "dataset_id", "odrl")
# Keys of a stored offer that a catalog offer must not carry (the Dataset is its target and
# its context is the document's).
_NOT_IN_CATALOG = ("@context", "target")


def dsp_endpoint(public_url: str) -> str:
    """The DSP base URL of this connector."""
    return public_url.rstrip("/") + DSP_PATH


def data_service(public_url: str) -> DataService:
    """This connector's DSP endpoint as a DCAT ``DataService``."""
    endpoint = dsp_endpoint(public_url)
    return DataService(id=endpoint, endpoint_url=endpoint)


def catalog_offer(offer: Offer) -> dict[str, Any]:
    """The stored ODRL offer as a catalog ``Offer``: its own ``@id``, no target, no context."""
    body = {k: v for k, v in offer.odrl.items() if k not in _NOT_IN_CATALOG}
    return {**body, "@id": offer.id, "@type": "Offer"}


def _xsd_datetime(moment: datetime) -> dict[str, str]:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    text = aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"@value": text, "@type": "xsd:dateTime"}


def metadata(dataset: Dataset) -> dict[str, Any]:
    """The DCAT/Dublin Core properties of ``dataset`` (compact IRIs, empty ones left out)."""
    meta: dict[str, Any] = {"dct:title": dataset.title}
    if dataset.description:
        meta["dct:description"] = dataset.description
    if dataset.keywords:
        meta["dcat:keyword"] = list(dataset.keywords)
    if dataset.themes:
        meta["dcat:theme"] = [{"@id": theme} for theme in dataset.themes]
    meta["dct:publisher"] = {"@id": dataset.owner}
    if dataset.accrual_periodicity:
        meta["dct:accrualPeriodicity"] = {"@id": dataset.accrual_periodicity}
    if dataset.updated_at is not None:
        meta["dct:modified"] = _xsd_datetime(dataset.updated_at)
    return meta


@lru_cache(maxsize=64)
def distributions(media_type: str, public_url: str) -> tuple[Distribution, ...]:
    """The distributions every dataset of ``media_type`` has (immutable, so shared)."""
    service = data_service(public_url)
    media = {"@id": IANA_MEDIA_TYPES + media_type} if media_type else None
    return tuple(Distribution.model_validate({
        "@type": "Distribution", "format": fmt, "accessService": service,
        **({"dcat:mediaType": media} if media else {})}) for fmt in FORMATS)


def render_dataset(dataset: Dataset, offers: Sequence[Offer], *,
                   public_url: str) -> DcatDataset:
    """``dataset`` with ``offers`` (at least one) as a DSP ``Dataset``."""
    return DcatDataset.model_validate({
        "@id": dataset.id, "@type": "Dataset", **metadata(dataset),
        "hasPolicy": [catalog_offer(offer) for offer in offers],
        "distribution": list(distributions(dataset.media_type, public_url))})


def dataset_document(dataset: Dataset, offers: Sequence[Offer], *,
                     public_url: str) -> dict[str, Any]:
    """The answer to ``GET /catalog/datasets/{id}``: a root ``Dataset`` with its context."""
    return dump_message(render_dataset(dataset, offers, public_url=public_url))


def catalog_document(entries: Iterable[tuple[Dataset, Sequence[Offer]]], *, public_url: str,
                     participant_id: str) -> dict[str, Any]:
    """The answer to a catalog request: the root ``Catalog`` with one page of datasets."""
    datasets = [render_dataset(ds, offers, public_url=public_url) for ds, offers in entries]
    catalog = Catalog(id=dsp_endpoint(public_url) + "/catalog", participant_id=participant_id,
                      dataset=datasets or None, service=[data_service(public_url)])
    return dump_message(catalog)


def offers_by_dataset(offers: Iterable[Offer]) -> Mapping[str, list[Offer]]:
    """Offers grouped by dataset id, each group in the given order."""
    grouped: dict[str, list[Offer]] = {}
    for offer in offers:
        grouped.setdefault(offer.dataset_id, []).append(offer)
    return grouped
