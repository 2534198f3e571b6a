"""Management API: dry runs of the usage policy (``POST /api/v1/policies/evaluate``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from connector.api.deps import RuntimeDep, SessionDep
from connector.api.routes.datasets import problems, scope_or_admin
from connector.auth.principal import Principal
from connector.catalog.evaluate import EvaluateIn, EvaluateOut, evaluate

router = APIRouter(prefix="/api/v1/policies", tags=["offers"],
                   responses=problems(401, 403, 404, 422))


@router.post("/evaluate", summary="How the policy engine would decide (not acted on, "
             "not audited)")
def evaluate_policy(body: EvaluateIn, runtime: RuntimeDep, session: SessionDep,
                    principal: Annotated[Principal, scope_or_admin("offers")],
                    ) -> EvaluateOut:
    return evaluate(runtime, session, principal=principal, request=body)
