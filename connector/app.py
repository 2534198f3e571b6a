"""create_app(settings): routers, error handlers, middleware, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from connector import __version__
from connector.api import errors, oauth
from connector.api.middleware import RequestContextMiddleware
from connector.api.routes import (
    access,
    admin_clients,
    audit,
    consent,
    data,
    datasets,
    dsp_catalog,
    dsp_negotiation,
    dsp_transfer,
    health,
    me,
    negotiations,
    offers,
    policies,
    remote,
    transfers,
)
from connector.api.routes import oauth as oauth_routes
from connector.config import Settings, get_settings
from connector.observability import Metrics
from connector.runtime import Runtime


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """The ASGI app. Pass ``runtime`` to share one already started (tests, CLI)."""
    settings = settings or (runtime.settings if runtime else get_settings())
    metrics = runtime.metrics if runtime else Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        rt = runtime or Runtime.start(settings)
        rt.metrics = metrics
        app.state.runtime = rt
        if rt.checkpoints is None:
            rt.start_background()
        try:
            yield
        finally:
            if owned:
                rt.close()
            else:
                rt.stop_background()

    app = FastAPI(title="DOdata Connector", version=__version__, lifespan=lifespan,
                  description="Dataspace Protocol connector and consent/access broker with a "
                              "verifiable audit log.")
    if runtime is not None:
        app.state.runtime = runtime
    errors.install(app)
    oauth.install(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics,
                       max_body_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(oauth_routes.router)
    app.include_router(me.router)
    app.include_router(admin_clients.router)
    app.include_router(audit.router)
    app.include_router(consent.router)
    app.include_router(access.router)
    app.include_router(dsp_negotiation.router)
    app.include_router(negotiations.router)
    app.include_router(dsp_catalog.version_router)
    app.include_router(dsp_catalog.router)
    app.include_router(datasets.router)
    app.include_router(offers.router)
    app.include_router(policies.router)
    app.include_router(remote.router)
    app.include_router(dsp_transfer.router)
    app.include_router(transfers.router)
    app.include_router(data.router)
    return app
