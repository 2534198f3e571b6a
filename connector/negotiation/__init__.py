"""Contract negotiation (DSP 2025-1), both roles: the transition table, the processes, their
agreements. Importing the package registers the outbox handlers (``outcomes.py``)."""

from typing import Any

from connector.access import service as access_service
from connector.negotiation import outcomes as outcomes


def _on_access_decision(session: Any, runtime: Any, request: Any, narrowed: Any) -> None:
    """An owner decided an access request: agree (on the narrowed terms) or terminate."""
    from connector.negotiation.provider import decide_pending

    approval = {"status": request.state, "participant": request.requester,
                "dataset": request.dataset_id}
    decide_pending(session=session, runtime=runtime, negotiation_id=request.negotiation_id,
                   approval=approval, reason=request.reason, narrowed=narrowed or None)


access_service.DECIDERS.append(_on_access_decision)
