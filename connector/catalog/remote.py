"""The consumer side: another connector's catalog, requested over DSP and parsed.

A catalog request is a synchronous request/response (no callback, no state), so it is sent
directly, not through the outbox. We identify ourselves with the identity schemes in force
(``runtime.identity.outgoing_headers``). The answer is validated as a DSP ``Catalog``; its
``Link`` header's ``next``/``previous`` URLs are handed back for the caller to follow (they must
stay on the counterparty's origin).
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from connector.catalog.errors import CounterpartyFailed
from connector.dsp import dump_message, parse_message
from connector.dsp.errors import InvalidMessage
from connector.dsp.messages import Catalog, CatalogRequestMessage
from connector.errors import ValidationFailed
from connector.runtime import Runtime
from connector.urls import url_problem

TIMEOUT = 10.0


class RemoteCatalogIn(BaseModel):
    """Whose catalog, which page, which datasets."""

    model_config = ConfigDict(extra="forbid")
    counterparty_address: str = Field(min_length=8, max_length=2000, description="The other "
                                      "connector's DSP base URL, e.g. "
                                      "`https://provider.example/dsp/2025-1`.")
    counterparty: str | None = Field(None, max_length=255, description="Its participant id, "
                                     "if known (for the identity scheme).")
    filter: list[Any] | None = Field(None, description="Passed on as the message's `filter`.")
    page_url: str | None = Field(None, max_length=4000, description="A `next`/`previous` URL "
                                 "of an earlier answer.")


class RemoteCatalogOut(BaseModel):
    """The counterparty's ``Catalog`` (compacted, validated) and its paging links."""

    catalog: dict[str, Any]
    next_page: str | None = Field(None, description="Pass as `page_url` for the next page.")
    previous_page: str | None = None


def _same_origin(url: httpx.URL, base: httpx.URL) -> bool:
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)


def _check_urls(request: RemoteCatalogIn) -> tuple[str, httpx.URL]:
    for name, value in (("counterparty_address", request.counterparty_address),
                        ("page_url", request.page_url)):
        problem = None if value is None else url_problem(value)
        if problem:
            raise ValidationFailed(f"{name} {problem}", errors=[
                {"path": name, "message": problem, "kind": "url"}])
    base = httpx.URL(request.counterparty_address.rstrip("/"))
    page = httpx.URL(request.page_url) if request.page_url else None
    if page is not None and not _same_origin(page, base):
        raise ValidationFailed("page_url must be on the counterparty's origin", errors=[
            {"path": "page_url", "message": "other origin", "kind": "url"}])
    return str(base), page or base.join(base.path.rstrip("/") + "/catalog/request")


def _reason(response: httpx.Response) -> list[Any]:
    try:
        body = response.json()
    except (ValueError, RecursionError):
        text = response.content[:200].decode("utf-8", "replace")
        return [text] if text else []
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, list) else []


def request_catalog(runtime: Runtime, *, request: RemoteCatalogIn) -> RemoteCatalogOut:
    """The counterparty's catalog page: ``{"catalog", "next_page", "previous_page"}``."""
    address, url = _check_urls(request)
    message = dump_message(CatalogRequestMessage(filter=request.filter))
    headers = runtime.identity.outgoing_headers(counterparty=request.counterparty or address,
                                                url=str(url))
    try:
        response = httpx.post(url, json=message, headers=headers, timeout=TIMEOUT)
    except (httpx.HTTPError, UnicodeError) as exc:  # UnicodeError: a host DNS cannot encode
        raise CounterpartyFailed(f"{address} did not answer: {type(exc).__name__}",
                                 counterparty_address=address) from None
    if response.status_code != 200:
        raise CounterpartyFailed(f"{address} answered HTTP {response.status_code}",
                                 counterparty_address=address,
                                 counterparty_status=response.status_code,
                                 counterparty_reason=_reason(response))
    try:
        catalog = parse_message(response.json(), Catalog)
    except (ValueError, InvalidMessage, RecursionError) as exc:
        raise CounterpartyFailed(f"{address} answered no valid Catalog: {exc}"[:500],
                                 counterparty_address=address) from None
    links = response.links
    return RemoteCatalogOut(catalog=dump_message(catalog),
                            next_page=links.get("next", {}).get("url"),
                            previous_page=links.get("previous", {}).get("url"))
