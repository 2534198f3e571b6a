"""Liveness, readiness and metrics: public, cheap, no token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connector import db
from connector.api.deps import RuntimeDep
from connector.api.errors import problem
from connector.api.security import PUBLIC

router = APIRouter(tags=["health"], dependencies=[PUBLIC])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Database reachable and policy engine answering",
            responses={503: {"description": "A part is down (problem+json naming it)"}})
def readyz(runtime: RuntimeDep) -> Any:
    checks: dict[str, dict[str, Any]] = {}
    db_error = db.ping(runtime.engine)
    checks["database"] = {"kind": runtime.engine.dialect.name, "ok": db_error is None}
    if db_error:
        checks["database"]["error"] = db_error
    policy_error = runtime.policy.ready()
    checks["policy_engine"] = {"kind": runtime.policy.name, "revision": runtime.policy.revision,
                               "ok": policy_error is None}
    if policy_error:
        checks["policy_engine"]["error"] = policy_error
    down = [name for name, check in checks.items() if not check["ok"]]
    if down:
        names = ", ".join(f"{name} ({checks[name]['kind']})" for name in down)
        return problem(503, "service-unavailable", "Service unavailable",
                       f"not ready: {names} down", checks=checks)
    return JSONResponse({"status": "ready", "checks": checks})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(runtime: RuntimeDep) -> Response:
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
