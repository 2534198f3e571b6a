"""Everything one connector process holds: settings, database, keys, policy engine, metrics.

Built once at start (by the app's lifespan or a CLI command) and closed at shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from connector import db
from connector.auth.keys import KeyStore
from connector.config import Settings
from connector.observability import Metrics
from connector.policy import engine_from_settings
from connector.policy.engine import Decision, PolicyEngine

log = logging.getLogger("connector.runtime")


@dataclass
class Runtime:
    """The long-lived parts of one connector process."""

    settings: Settings
    engine: Engine
    keys: KeyStore
    policy: PolicyEngine
    metrics: Metrics = field(default_factory=Metrics)

    @classmethod
    def start(cls, settings: Settings, *, migrate: bool = True) -> Runtime:
        """Create the data dir, migrate, make sure signing keys exist, connect the policy engine."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = db.engine_from_settings(settings)
        if migrate:
            db.upgrade(engine)
        keys = KeyStore(settings.keys_dir, may_generate=settings.may_generate_keys)
        keys.ensure()
        policy = engine_from_settings(settings)
        log.info("started", extra={"database": engine.dialect.name, "policy_engine": policy.name,
                                   "policy_revision": policy.revision})
        return cls(settings=settings, engine=engine, keys=keys, policy=policy)

    def decide(self, action: str, input_doc: Mapping[str, Any]) -> Decision:
        """Ask the policy engine and count the result; the engine itself never raises."""
        decision = self.policy.decide(input_doc)
        self.metrics.decisions.labels(self.policy.name, action,
                                      "allow" if decision.allow else "deny").inc()
        return decision

    def close(self) -> None:
        """Release the policy engine's and the database's connections."""
        self.policy.close()
        self.engine.dispose()
