"""The connector's one exception tree. No HTTP imports here: ``api/errors.py`` maps it.

::

    ConnectorError                      500 internal (never shows details to clients)
    ├── BadRequest                      400 bad-request
    │   ├── ValidationFailed            422 validation-failed (carries field errors)
    │   └── UnsupportedPolicy           422 unsupported-policy (names the unsupported term)
    ├── NotFound                        404 not-found
    ├── Conflict                        409 conflict
    │   └── IllegalTransition           409 illegal-transition (state machines)
    ├── PayloadTooLarge                 413 payload-too-large
    ├── Unauthenticated                 401 unauthenticated (token missing, bad or expired)
    │   └── InvalidToken                401 invalid-token
    ├── Forbidden                       403 forbidden
    │   ├── InsufficientScope           403 insufficient-scope
    │   └── PolicyDenied                403 policy-denied (carries the decision's reasons)
    ├── ServiceUnavailable              503 service-unavailable (names the parts that are down)
    └── ConfigurationError              raised at start-up; never reaches a client

Every class has a stable ``code``: the last segment of the problem ``type`` URI.
"""

from __future__ import annotations

from typing import Any


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""

    code = "internal"
    status = 500
    title = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra: dict[str, Any] = extra


class BadRequest(ConnectorError):
    code = "bad-request"
    status = 400
    title = "Bad request"


class ValidationFailed(BadRequest):
    code = "validation-failed"
    status = 422
    title = "Validation failed"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail, errors=errors or [], **extra)


class UnsupportedPolicy(BadRequest):
    code = "unsupported-policy"
    status = 422
    title = "Unsupported policy term"


class NotFound(ConnectorError):
    code = "not-found"
    status = 404
    title = "Not found"


class Conflict(ConnectorError):
    code = "conflict"
    status = 409
    title = "Conflict"


class IllegalTransition(Conflict):
    code = "illegal-transition"
    title = "Illegal state transition"


class PayloadTooLarge(ConnectorError):
    code = "payload-too-large"
    status = 413
    title = "Payload too large"


class Unauthenticated(ConnectorError):
    code = "unauthenticated"
    status = 401
    title = "Authentication required"


class InvalidToken(Unauthenticated):
    code = "invalid-token"
    title = "Invalid token"


class Forbidden(ConnectorError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class InsufficientScope(Forbidden):
    code = "insufficient-scope"
    title = "Insufficient scope"


class PolicyDenied(Forbidden):
    code = "policy-denied"
    title = "Denied by usage policy"

    def __init__(self, detail: str | None = None, *, reasons: list[dict[str, str]] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail, reasons=reasons or [], **extra)


class ServiceUnavailable(ConnectorError):
    code = "service-unavailable"
    status = 503
    title = "Service unavailable"


class ConfigurationError(ConnectorError):
    code = "configuration"
    title = "Configuration error"
