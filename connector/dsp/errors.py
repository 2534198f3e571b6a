"""DSP wire-format errors, under the connector's one tree (``connector/errors.py``).

::

    BadRequest                      400 bad-request
    └── InvalidMessage              400 invalid-message (``reason`` names what is wrong)
        └── UnknownContext          400 unknown-context (``url`` names the context)

``api/errors.py`` turns them into the DSP error message of the protocol at hand
(``CatalogError``, ``ContractNegotiationError``, ``TransferError``) with ``reason`` in it.
"""

from __future__ import annotations

from typing import Any

from connector.errors import BadRequest


class InvalidMessage(BadRequest):
    """A DSP message that is not valid JSON-LD, not of the expected type, or breaks its schema."""

    code = "invalid-message"
    status = 400
    title = "Invalid DSP message"

    def __init__(self, reason: str, **extra: Any) -> None:
        super().__init__(reason, reason=reason, **extra)
        self.reason = reason


class UnknownContext(InvalidMessage):
    """A JSON-LD context the connector does not bundle; it is never fetched."""

    code = "unknown-context"
    title = "Unknown JSON-LD context"

    def __init__(self, url: str) -> None:
        super().__init__(
            f"unknown JSON-LD context {url!r}: only the bundled DSP 2025-1 contexts are "
            "accepted, remote contexts are never fetched",
            url=url,
        )
        self.url = url
