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
from connector.audit import log as audit_log
from connector.audit.signer import CheckpointScheduler
from connector.auth.context import AuthContext
from connector.auth.keys import PURPOSES, KeyStore, SigningKey
from connector.config import Settings
from connector.delivery.worker import DeliveryWorker
from connector.dsp.identity import Identity, identity_from_settings
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
    checkpoints: CheckpointScheduler | None = None
    #: OAuth: client and token stores, signing and trusted keys, the resource-side guard.
    auth: AuthContext = field(init=False)

    #: DSP: who our counterparties are, and the worker that delivers our outgoing messages.
    identity: Identity = field(init=False)
    delivery: DeliveryWorker | None = None
    #: Consent: the sweep that ends expired consents like withdrawn ones.
    consent_expiry: Any = None

    def __post_init__(self) -> None:
        self.auth = AuthContext(self.settings, self.engine, self.keys)
        self.identity = identity_from_settings(self)

    @classmethod
    def start(cls, settings: Settings, *, migrate: bool = True) -> Runtime:
        """Create the data dir, migrate, make sure signing keys exist, connect the policy engine."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = db.engine_from_settings(settings)
        if migrate:
            db.upgrade(engine)
        keys = KeyStore(settings.keys_dir, may_generate=settings.may_generate_keys)
        missing = [purpose for purpose in PURPOSES if not keys.has_current(purpose)]
        keys.ensure()
        generated = [keys.current(purpose) for purpose in missing]
        if generated:
            with engine.begin() as conn:
                audit_log.append(conn, [{"type": "key.created", "purpose": k.purpose,
                                         "kid": k.kid} for k in generated])
        policy = engine_from_settings(settings)
        log.info("started", extra={"database": engine.dialect.name, "policy_engine": policy.name,
                                   "policy_revision": policy.revision})
        return cls(settings=settings, engine=engine, keys=keys, policy=policy)

    @property
    def audit_key(self) -> SigningKey:
        """The key that signs audit checkpoints."""
        return self.keys.current("audit")

    def start_background(self) -> None:
        """Start the checkpoint signer, the DSP delivery worker and the consent expiry sweep.

        The HTTP service does; one-shot CLI commands do not.
        """
        self.checkpoints = CheckpointScheduler(
            self.engine, origin=self.settings.audit_origin,
            private_key=lambda: self.audit_key.private_key,  # a rotation applies at once
            every_entries=self.settings.audit_checkpoint_entries,
            every_seconds=self.settings.audit_checkpoint_seconds)
        self.checkpoints.start()
        self.delivery = DeliveryWorker(self.engine, headers_for=lambda counterparty, url:
                                       self.identity.outgoing_headers(counterparty=counterparty,
                                                                      url=url))
        self.delivery.start()
        # Imported here: consent enforcement terminates transfers, whose module needs Runtime.
        from connector.consent.expiry import ExpirySweeper

        self.consent_expiry = ExpirySweeper(self,
                                            every_seconds=self.settings.consent_sweep_seconds)
        self.consent_expiry.start()

    def stop_background(self) -> None:
        """Stop delivering and signing (a last checkpoint is signed on the way out)."""
        if self.consent_expiry is not None:
            self.consent_expiry.stop()
            self.consent_expiry = None
        if self.delivery is not None:
            self.delivery.stop()
            self.delivery = None
        if self.checkpoints is not None:
            self.checkpoints.stop()
            self.checkpoints = None

    def decide(self, action: str, input_doc: Mapping[str, Any]) -> Decision:
        """Ask the policy engine and count the result; the engine itself never raises."""
        decision = self.policy.decide(input_doc)
        self.metrics.decisions.labels(self.policy.name, action,
                                      "allow" if decision.allow else "deny").inc()
        return decision

    def close(self) -> None:
        """Stop background work; release the policy engine's and the database's connections."""
        self.stop_background()
        self.policy.close()
        self.engine.dispose()
