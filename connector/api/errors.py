"""The one mapping from errors to HTTP: RFC 9457 ``application/problem+json``.

DSP endpoints and the token endpoint answer in their own formats; their routers raise the
domain error and the format is chosen here by path prefix as those routers are added.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from connector.errors import ConnectorError
from connector.observability import request_id_var

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:dodata:problem:"
log = logging.getLogger("connector.api")

_HTTP_CODES = {400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found",
               405: "method-not-allowed", 406: "not-acceptable", 409: "conflict",
               413: "payload-too-large", 415: "unsupported-media-type", 429: "too-many-requests"}


def problem(status: int, code: str, title: str, detail: str | None = None,
            instance: str | None = None, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    """Build an RFC 9457 response. ``type`` is a stable URN per error code."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + code, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def respond(request: Request, status: int, code: str, title: str, detail: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """problem+json, or a DSP error message on DSP endpoints (same status and reasons)."""
    from connector.api.dsp import dsp_error, is_dsp

    if is_dsp(request.url.path):
        if code == "illegal-transition":
            status = 400  # DSP: an illegal state transition is a 400 with an error message
        reasons: list[Any] = [detail or title]
        reasons += [r for r in extra.get("reasons", []) if isinstance(r, dict)]
        reasons += [f"{e.get('path')}: {e.get('message')}" for e in extra.get("errors", [])]
        return dsp_error(request.url.path, status, str(status), reasons, extra, headers)
    return problem(status, code, title, detail, instance=request.url.path, headers=headers,
                   **extra)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _connector_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConnectorError)
    if exc.status >= 500 and exc.code == "internal":
        log.error("internal error", exc_info=exc)
        return problem(500, "internal", "Internal error", instance=request.url.path)
    return respond(request, exc.status, exc.code, exc.title, exc.detail, **exc.extra)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"path": _field_path(err.get("loc", ())), "message": err.get("msg", ""),
               "kind": err.get("type", "")} for err in exc.errors()]
    status = 400 if request.url.path.startswith("/dsp/") else 422
    return respond(request, status, "validation-failed", "Validation failed",
                   f"{len(errors)} field(s) failed validation", errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http-error")
    title = code.replace("-", " ").capitalize()
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route for {request.method} {request.url.path}"
    return respond(request, exc.status_code, code, title, detail,
                   headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return problem(500, "internal", "Internal error",
                   "the request failed unexpectedly; quote the request id when reporting it",
                   instance=request.url.path)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ConnectorError, _connector_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
