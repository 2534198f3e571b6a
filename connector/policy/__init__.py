"""Usage policies: ODRL offers turned into decision input and evaluated by a Rego engine."""

from __future__ import annotations

from connector.config import Settings
from connector.policy.embedded import EmbeddedEngine
from connector.policy.engine import PolicyEngine
from connector.policy.opa import OpaEngine


def engine_from_settings(settings: Settings) -> PolicyEngine:
    """The OPA sidecar when ``CONNECTOR_OPA_URL`` is set, else the embedded engine."""
    if settings.opa_url:
        return OpaEngine(settings.opa_url, settings.effective_policy_dir,
                         timeout=settings.opa_timeout, load_policies=settings.opa_load_policies)
    return EmbeddedEngine(settings.effective_policy_dir)
