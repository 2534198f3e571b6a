"""What a route requires of its caller, declared on the route and enforced by one dependency.

Every route declares exactly one of:

* ``Annotated[Principal, requires("catalog")]`` (or :data:`Authenticated` for any valid token)
  — a valid access token whose principal holds the scopes;
* ``dependencies=[PUBLIC]`` — no token (health, metrics, JWKS, AS metadata, …);
* ``dependencies=[CLIENT_AUTHENTICATION]`` — the route authenticates OAuth clients itself
  (token, introspection and revocation endpoints);
* ``dependencies=[DATA_PLANE_TOKEN]`` — the route checks a transfer's own data-plane token
  (the short-lived ``edr+jwt`` a pull's data address carries, ``transfer/tokens.py``), which
  is not an OAuth access token.

``tests/integration/test_auth_routes.py`` walks every route of the app and fails on a route
that declares none of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes

from connector.api.deps import RuntimeDep
from connector.auth.principal import Principal
from connector.auth.resource import Presented
from connector.errors import InsufficientScope


def public_route() -> None:
    """Marker: this route needs no access token."""


def client_authenticated_route() -> None:
    """Marker: this route authenticates OAuth clients itself (RFC 6749 §2.3)."""


def data_plane_token_route() -> None:
    """Marker: this route checks a transfer's data-plane token itself (not an access token)."""


PUBLIC = Depends(public_route)
CLIENT_AUTHENTICATION = Depends(client_authenticated_route)
DATA_PLANE_TOKEN = Depends(data_plane_token_route)


def presented_of(request: Request, public_url: str) -> Presented:
    """What the request presents (credentials, method, URL as the client addressed it)."""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.url.path
    return Presented(authorization=tuple(request.headers.getlist("authorization")),
                     dpop=tuple(request.headers.getlist("dpop")),
                     method=request.method, url=public_url + path)


def authenticated(security_scopes: SecurityScopes, request: Request,
                  runtime: RuntimeDep) -> Principal:
    """The principal of the request's access token, holding every scope the route names.

    Validated once per request (a DPoP proof may only be used once), then checked for scopes.
    """
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        principal = runtime.auth.guard.authenticate(
            presented_of(request, runtime.settings.public_url))
        request.state.principal = principal
    missing = sorted(set(security_scopes.scopes) - principal.scopes)
    if missing:
        raise InsufficientScope(f"this request needs scope {' '.join(missing)}",
                                scope=security_scopes.scope_str)
    return principal


def requires(*scopes: str) -> Any:
    """A route requirement: a valid token holding ``scopes`` (none: any valid token)."""
    return Security(authenticated, scopes=list(scopes))


Authenticated = Annotated[Principal, requires()]
AdminPrincipal = Annotated[Principal, requires("admin")]


def _calls(dependant: Dependant) -> Iterator[tuple[Any, list[str]]]:
    for dependency in dependant.dependencies:
        scopes = [*(dependency.parent_oauth_scopes or []), *(dependency.own_oauth_scopes or [])]
        yield dependency.call, scopes
        yield from _calls(dependency)


def route_requirement(route: APIRoute | Any) -> str | None:
    """What ``route`` declares: ``public``, ``client``, ``data-token``, ``token[:scopes]``, None.

    ``route`` is an ``APIRoute`` or one of FastAPI's route contexts (anything with the
    ``dependant`` that carries the router-level dependencies too).
    """
    calls = list(_calls(route.dependant))
    for call, scopes in calls:
        if call is authenticated:
            return "token" + (":" + " ".join(sorted(scopes)) if scopes else "")
    for call, _ in calls:
        if getattr(call, "__name__", "") == "dsp_counterparty":
            return "counterparty"
        if call is client_authenticated_route:
            return "client"
        if call is public_route:
            return "public"
        if call is data_plane_token_route:
            return "data-token"
    return None
