"""Errors of the transfer work, under the connector's one tree (``connector/errors.py``).

::

    InvalidToken (connector.errors)     401 invalid-token
    └── DataTokenError                  the data-plane (EDR) token is missing, malformed,
                                        badly signed, expired or not ours
    Forbidden (connector.errors)        403 forbidden
    ├── WrongTransfer                   a valid token, but for another transfer
    ├── NoDataFlow                      the transfer is not STARTED (or not a pull)
    └── SourceRefused                   the dataset's file path escapes the data directory
    NotFound (connector.errors)         404 not-found
    └── SourceMissing                   the dataset's file does not exist
    ConnectorError                      (own statuses)
    ├── RangeNotSatisfiable             416 range-not-satisfiable (``size`` for Content-Range)
    ├── ProviderRefused                 4xx provider-refused: the provider's data plane said no
    ├── SourceFailed                    502 source-failed: an HTTP origin or provider failed
    └── SourceNotImplemented            501 source-not-implemented (``sql`` sources for now)
"""

from __future__ import annotations

from typing import Any

from connector.errors import ConnectorError, Forbidden, InvalidToken, NotFound


class DataTokenError(InvalidToken):
    """The data-plane token does not verify; ``error`` is the RFC 6750 error code."""

    error = "invalid_token"


class WrongTransfer(Forbidden):
    code = "wrong-transfer"
    title = "Token is for another transfer"


class NoDataFlow(Forbidden):
    code = "no-data-flow"
    title = "No data flows in this transfer now"


class SourceRefused(Forbidden):
    code = "source-refused"
    title = "Dataset source refused"


class SourceMissing(NotFound):
    code = "source-missing"
    title = "Dataset source missing"


class RangeNotSatisfiable(ConnectorError):
    code = "range-not-satisfiable"
    status = 416
    title = "Range not satisfiable"

    def __init__(self, detail: str, *, size: int) -> None:
        super().__init__(detail, size=size)
        self.size = size


class ProviderRefused(ConnectorError):
    """The provider's data plane answered a 4xx; its status and body are passed on."""

    code = "provider-refused"
    title = "The provider refused the data request"

    def __init__(self, detail: str, *, status: int, provider: Any) -> None:
        super().__init__(detail, provider=provider)
        self.status = status


class SourceFailed(ConnectorError):
    code = "source-failed"
    status = 502
    title = "Data source failed"


class SourceNotImplemented(ConnectorError):
    code = "source-not-implemented"
    status = 501
    title = "Data source kind not implemented"
