"""The catalog's own errors, under the connector's tree (``connector/errors.py``).

::

    ServiceUnavailable
    └── SourceUnavailable       503 source-unavailable (a dataset's file, URL or database)
    CounterpartyFailed          502 counterparty-failed (another connector's catalog request)
"""

from __future__ import annotations

from connector.errors import ConnectorError, ServiceUnavailable


class SourceUnavailable(ServiceUnavailable):
    code = "source-unavailable"
    title = "Dataset source unavailable"


class CounterpartyFailed(ConnectorError):
    code = "counterparty-failed"
    status = 502
    title = "The other connector's answer was not usable"
