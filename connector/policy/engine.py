"""The policy engine contract: one input document in, one typed ``Decision`` out.

Both engines (the OPA sidecar and the embedded Rego interpreter) ask for
``data.connector.decision`` over the same ``policies/`` files. An engine that cannot answer never
raises to its caller: it returns a deny with reason ``policy_engine_unavailable`` (fail closed).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

ENGINE_UNAVAILABLE = "policy_engine_unavailable"
MALFORMED_DECISION = "policy_engine_malformed_decision"


@dataclass(frozen=True)
class Reason:
    """Why a decision went the way it did: a stable code and a message for humans."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The reason as the JSON object carried in problem+json and audit entries."""
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Decision:
    """A typed policy result. ``allow`` is only ever true when an engine said so."""

    allow: bool
    reasons: tuple[Reason, ...] = ()
    obligations: tuple[Mapping[str, Any], ...] = ()
    engine: str = ""
    revision: str = ""
    decision_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def as_dict(self) -> dict[str, Any]:
        """The decision as JSON (for APIs and the audit log)."""
        return {
            "allow": self.allow,
            "reasons": [r.as_dict() for r in self.reasons],
            "obligations": [dict(o) for o in self.obligations],
            "engine": self.engine,
            "revision": self.revision,
            "decision_id": self.decision_id,
        }


@runtime_checkable
class PolicyEngine(Protocol):
    """What every engine offers. ``decide`` never raises; errors become denies."""

    name: str
    revision: str

    def decide(self, input_doc: Mapping[str, Any]) -> Decision:
        """Evaluate ``data.connector.decision`` for ``input_doc``."""
        ...

    def ready(self) -> str | None:
        """None when the engine answers; otherwise a short description of what is wrong."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def unavailable(engine: str, revision: str, why: str, decision_id: str | None = None) -> Decision:
    """The fail-closed answer when an engine cannot be asked or answers nonsense."""
    return Decision(
        allow=False,
        reasons=(Reason(ENGINE_UNAVAILABLE, f"the policy engine could not decide: {why}"),),
        engine=engine,
        revision=revision,
        decision_id=decision_id or str(uuid.uuid4()),
    )


def parse_decision(raw: Any, *, engine: str, revision: str, decision_id: str | None = None,
                   ) -> Decision:
    """Turn an engine's raw ``data.connector.decision`` value into a ``Decision``.

    Anything that is not exactly the contract's shape is a deny: an undefined result, a non-bool
    ``allow``, reasons without code and message.
    """
    did = decision_id or str(uuid.uuid4())
    if not isinstance(raw, dict):
        return unavailable(engine, revision, "undefined or non-object decision", did)
    allow = raw.get("allow")
    reasons_raw = raw.get("reasons", [])
    obligations_raw = raw.get("obligations", [])
    if not isinstance(allow, bool) or not isinstance(reasons_raw, list) \
            or not isinstance(obligations_raw, list):
        return unavailable(engine, revision, "decision does not match the contract", did)
    reasons: list[Reason] = []
    for item in reasons_raw:
        if not (isinstance(item, dict) and isinstance(item.get("code"), str)
                and isinstance(item.get("message"), str)):
            return unavailable(engine, revision, "reason without code and message", did)
        reasons.append(Reason(item["code"], item["message"]))
    obligations: list[Mapping[str, Any]] = []
    for ob in obligations_raw:
        if not (isinstance(ob, dict) and isinstance(ob.get("type"), str)):
            return unavailable(engine, revision, "obligation without type", did)
        obligations.append(ob)
    if not allow and not reasons:
        reasons.append(Reason("denied", "the policy denied the request without a reason"))
    return Decision(allow=allow, reasons=tuple(reasons), obligations=tuple(obligations),
                    engine=engine, revision=revision, decision_id=did)


def policy_files(policy_dir: Path) -> list[Path]:
    """The Rego modules of a policy directory, tests excluded, in a stable order."""
    return sorted(p for p in policy_dir.rglob("*.rego") if not p.name.endswith("_test.rego"))


def policy_revision(policy_dir: Path) -> str:
    """A content hash of the loaded policy files: names and bytes, so any change shows."""
    digest = hashlib.sha256()
    for path in policy_files(policy_dir):
        digest.update(path.relative_to(policy_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return "sha256:" + digest.hexdigest()[:16]
