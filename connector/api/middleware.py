"""ASGI middleware: request ids, JSON access logs, metrics, and the request body limit."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connector.api.errors import PROBLEM_BASE, PROBLEM_JSON
from connector.observability import Metrics, request_id_var

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger("connector.access")


class _BodyTooLarge(Exception):
    pass


def _problem(status: int, code: str, title: str, detail: str,
             request_id: str) -> tuple[dict[str, Any], bytes]:
    body = json.dumps({"type": PROBLEM_BASE + code, "title": title, "status": status,
                       "detail": detail, "request_id": request_id}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", PROBLEM_JSON.encode()),
                         (b"content-length", str(len(body)).encode()),
                         (REQUEST_ID_HEADER.encode(), request_id.encode()),
                         (b"connection", b"close")]}
    return start, body


def _problem_413(limit: int, request_id: str) -> tuple[dict[str, Any], bytes]:
    return _problem(413, "payload-too-large", "Payload too large",
                    f"request body exceeds {limit} bytes", request_id)


def _problem_500(request_id: str) -> tuple[dict[str, Any], bytes]:
    return _problem(500, "internal", "Internal error",
                    "the request failed unexpectedly; quote the request id when reporting it",
                    request_id)


class RequestContextMiddleware:
    """Assigns a request id, enforces the body limit, logs and measures every request.

    The limit is checked against ``Content-Length`` before anything is read, and against the
    bytes actually received for chunked bodies, so an oversized body never sits in memory.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        limit = self.max_body_bytes

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if too_large:
                # The app caught our signal while parsing (frameworks turn read errors into 400):
                # whatever it answers, the client gets the 413.
                if message["type"] == "http.response.start":
                    start, body = _problem_413(limit, request_id)
                    status = 413
                    response_started = True
                    await send(start)
                    await send({"type": "http.response.body", "body": body})
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        received = 0
        too_large = False

        async def receive_wrapper() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        try:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise _BodyTooLarge
            await self.app(scope, receive_wrapper, send_wrapper)
        except _BodyTooLarge:
            if response_started:
                return
            status = 413
            start, body = _problem_413(limit, request_id)
            await send(start)
            await send({"type": "http.response.body", "body": body})
        except Exception:
            # Last line of defence: the traceback goes to our log, never to the client.
            log.exception("unhandled error", extra={"path": scope["path"]})
            if response_started:
                raise
            status = 500
            start, body = _problem_500(request_id)
            await send(start)
            await send({"type": "http.response.body", "body": body})
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, route_path, str(status)).inc()
            self.metrics.latency.labels(method, route_path).observe(elapsed)
            log.info("request", extra={"method": method, "path": scope["path"],
                                       "route": route_path, "status": status,
                                       "duration_ms": round(elapsed * 1000, 2)})
            request_id_var.reset(token)
