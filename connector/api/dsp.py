"""DSP endpoints' plumbing: the counterparty dependency and the DSP error message format.

DSP routes declare ``counterparty: CounterpartyDep``: the request's credentials are checked by
the identity schemes in force (``dsp/identity.py``), and the route gets the participant. Errors
on ``/dsp/`` paths are answered as DSP error messages (``CatalogError``,
``ContractNegotiationError``, ``TransferError``) carrying the pids and the reasons.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import JSONResponse

from connector.api.deps import RuntimeDep
from connector.api.security import presented_of
from connector.dsp.bundle import DSP_CONTEXT
from connector.dsp.identity import Counterparty

DSP_PREFIX = "/dsp/"


def dsp_counterparty(request: Request, runtime: RuntimeDep) -> Counterparty:
    """The authenticated counterparty of a DSP request (401 problem if none)."""
    found: Counterparty | None = getattr(request.state, "counterparty", None)
    if found is None:
        found = runtime.identity.verify(presented_of(request, runtime.settings.public_url))
        request.state.counterparty = found
    return found


CounterpartyDep = Annotated[Counterparty, Depends(dsp_counterparty)]


def is_dsp(path: str) -> bool:
    """Whether ``path`` is a DSP endpoint (answered with DSP error messages)."""
    return path.startswith(DSP_PREFIX)


def dsp_error(path: str, status: int, code: str, reasons: list[Any],
              extra: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    """A DSP error message for ``path``: the type follows the protocol area of the path."""
    body: dict[str, Any] = {"@context": [DSP_CONTEXT]}
    if "/negotiations" in path:
        body["@type"] = "ContractNegotiationError"
    elif "/transfers" in path:
        body["@type"] = "TransferError"
    else:
        body["@type"] = "CatalogError"
    if body["@type"] != "CatalogError":
        for key, wire in (("provider_pid", "providerPid"), ("consumer_pid", "consumerPid")):
            if extra.get(key):
                body[wire] = extra[key]
    body["code"] = code
    body["reason"] = [r if isinstance(r, str | dict) else str(r) for r in reasons] or [code]
    return JSONResponse(body, status_code=status, headers=headers)
