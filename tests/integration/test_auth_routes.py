"""Every route of the app declares what it requires; only the known public ones need nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from connector.api.security import route_requirement
from connector.app import create_app
from connector.config import Settings

#: Public by the issue: health, metrics, JWKS, AS metadata, the DSP version document and the
#: audit checkpoint. Everything else needs a token (or is a client-authenticated AS endpoint).
PUBLIC_ALLOWED = re.compile(
    r"^(/healthz|/readyz|/metrics|/oauth/jwks|/\.well-known/oauth-authorization-server"
    r"|/\.well-known/dspace-version|/audit/checkpoint|/audit/key|/consent/jwks)$")
CLIENT_AUTHENTICATED = {"/oauth/token", "/oauth/introspect", "/oauth/revoke"}
#: FastAPI's own documentation pages (no data behind them).
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _routes(app: FastAPI) -> Iterator[Any]:
    """Every route as served, with the dependencies of the routers it was included through."""
    yield from iter_route_contexts(app.routes)


def test_every_route_declares_a_requirement(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"))
    seen: dict[str, str] = {}
    undeclared: list[str] = []
    for route in _routes(app):
        if getattr(route, "dependant", None) is None:
            assert route.path in DOCS, route.path
            continue
        requirement = route_requirement(route)
        if requirement is None:
            undeclared.append(f"{sorted(route.methods or [])} {route.path}")
            continue
        seen[route.path] = requirement
    assert not undeclared, f"routes without a requirement: {undeclared}"
    public = {path for path, requirement in seen.items() if requirement == "public"}
    assert all(PUBLIC_ALLOWED.match(path) for path in public), public
    client = {path for path, requirement in seen.items() if requirement == "client"}
    assert client == CLIENT_AUTHENTICATED
    assert {"/healthz", "/readyz", "/metrics", "/oauth/jwks",
            "/.well-known/oauth-authorization-server"} <= public
    assert seen["/api/v1/me"] == "token"
    assert seen["/api/v1/admin/clients"] == "token:admin"


def test_route_requirement_reports_undeclared_routes(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"))

    @app.get("/_test/naked")
    def naked() -> dict[str, str]:
        return {}

    route = next(r for r in _routes(app) if r.path == "/_test/naked")
    assert route_requirement(route) is None


def test_every_dsp_route_authenticates_its_counterparty(tmp_path: Path) -> None:
    """DSP endpoints declare ``CounterpartyDep`` (the version document is not under /dsp/)."""
    app = create_app(Settings(data_dir=tmp_path / "data"))
    dsp = {f"{sorted(route.methods or [])} {route.path}": route_requirement(route)
           for route in _routes(app) if route.path.startswith("/dsp/")}
    assert dsp and all(r == "counterparty" for r in dsp.values()), dsp
    scopes = {route.path: route_requirement(route) for route in _routes(app)
              if route.path.startswith("/api/v1/negotiations/{negotiation_id}/")}
    assert scopes["/api/v1/negotiations/{negotiation_id}/agree"] == "token:offers"
    assert scopes["/api/v1/negotiations/{negotiation_id}/accept"] == "token:negotiate"
