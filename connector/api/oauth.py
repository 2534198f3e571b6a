"""The thin adapter between Starlette and Authlib's server core, and the OAuth error responses.

Authlib's core is synchronous and reads a parsed form; Starlette reads bodies asynchronously.
So a route first reads the form here (:func:`read_form_post`), then runs the core in the thread
pool with that parsed request. Resource-side errors become RFC 9457 problems with an RFC 6750 /
RFC 9449 ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any, Final
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, Request
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response

from connector.api.deps import RuntimeDep
from connector.api.errors import respond
from connector.auth.errors import InvalidDpopProof, MissingToken
from connector.auth.resource import DPOP_ALGS
from connector.auth.server import AuthorizationServerCore, ConnectorOAuth2Request
from connector.errors import InsufficientScope, Unauthenticated

log = logging.getLogger("connector.oauth")
FORM: Final = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS: Final = 32
NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
REALM: Final = "connector"


@dataclass(frozen=True)
class FormPost:
    """A parsed form POST to one of the authorization server's endpoints."""

    method: str
    uri: str
    headers: Headers
    form: dict[str, str]
    dpop: tuple[str, ...]


class StarletteAuthorizationServer(AuthorizationServerCore):
    """Authlib's server core, speaking Starlette."""

    def create_oauth2_request(self, request: FormPost) -> ConnectorOAuth2Request:
        return ConnectorOAuth2Request(method=request.method, uri=request.uri,
                                      headers=request.headers, form=request.form,
                                      dpop_proofs=request.dpop,
                                      check_transport=self.context.require_secure_transport)

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("no JSON endpoints on this authorization server")

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        return JSONResponse(body, status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        # Identifiers only: never a token, an assertion or a secret.
        client = kwargs.get("client")
        extra: dict[str, Any] = {"event": name,
                                 "client_id": client.get_client_id() if client else None}
        if "token_type" in kwargs:
            extra.update(token_type=kwargs["token_type"], scope=kwargs["scope"])
        token = kwargs.get("token")
        if token is not None and hasattr(token, "claims"):
            extra["jti"] = token.claims.get("jti")
        log.info("oauth", extra=extra)


def get_authorization_server(request: Request, runtime: RuntimeDep) -> StarletteAuthorizationServer:
    """The app's authorization server, built on first use from the runtime's auth context."""
    server: StarletteAuthorizationServer | None = getattr(request.app.state, "oauth_server", None)
    if server is None or server.context is not runtime.auth:
        server = StarletteAuthorizationServer(runtime.auth)
        request.app.state.oauth_server = server
    return server


AuthorizationServerDep = Annotated[StarletteAuthorizationServer,
                                   Depends(get_authorization_server)]


def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    """An RFC 6749 §5.2 error response."""
    return JSONResponse({"error": error, "error_description": description},
                        status_code=status, headers=NO_STORE)


async def read_form_post(request: Request, public_url: str) -> FormPost | JSONResponse:
    """Parse an ``application/x-www-form-urlencoded`` body strictly (no repeated parameters)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM:
        return oauth_error("invalid_request", f"the request body must be {FORM}")
    try:
        text = (await request.body()).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                          max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # UnicodeDecodeError is a ValueError too
        return oauth_error("invalid_request", "the request body is not a valid form")
    form = dict(pairs)
    if len(form) != len(pairs):
        return oauth_error("invalid_request", "a request parameter is repeated")
    return FormPost(method=request.method, uri=public_url + request.url.path,
                    headers=request.headers, form=form,
                    dpop=tuple(request.headers.getlist("dpop")))


def _quoted(text: str) -> str:
    return text.replace("\\", "'").replace('"', "'")


def _scheme(request: Request, exc: Exception) -> str:
    if isinstance(exc, InvalidDpopProof):
        return "DPoP"
    used = request.headers.get("authorization", "").split(" ")[0].lower()
    return "DPoP" if used == "dpop" else "Bearer"


def challenge(request: Request, exc: Exception) -> str:
    """The ``WWW-Authenticate`` value for a refused request."""
    algs = f'algs="{" ".join(DPOP_ALGS)}"'
    if isinstance(exc, MissingToken):
        return f'Bearer realm="{REALM}", DPoP realm="{REALM}", {algs}'
    scheme = _scheme(request, exc)
    if isinstance(exc, InsufficientScope):
        scope = _quoted(str(exc.extra.get("scope", "")))
        params = (f'error="insufficient_scope", error_description="{_quoted(exc.detail)}", '
                  f'scope="{scope}"')
    else:
        error = getattr(exc, "error", "invalid_token")
        params = f'error="{error}", error_description="{_quoted(str(exc))}"'
    suffix = f", {algs}" if scheme == "DPoP" else ""
    return f'{scheme} realm="{REALM}", {params}{suffix}'


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Unauthenticated | InsufficientScope)
    return respond(request, exc.status, exc.code, exc.title, exc.detail,
                   headers={"WWW-Authenticate": challenge(request, exc)}, **exc.extra)


def install(app: FastAPI) -> None:
    """Answer 401 and 403-insufficient-scope with their ``WWW-Authenticate`` challenges."""
    app.add_exception_handler(Unauthenticated, _refused)
    app.add_exception_handler(InsufficientScope, _refused)
