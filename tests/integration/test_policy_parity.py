"""Every policy case on the real OPA sidecar and on the embedded engine: both exactly as expected.

Under CI the OPA half may not be skipped (the ``opa_url`` fixture fails instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connector.policy.embedded import EmbeddedEngine
from connector.policy.engine import Decision, policy_revision
from connector.policy.opa import OpaEngine
from tests.conftest import POLICY_DIR
from tests.unit.policy.test_policy_cases_embedded import load_cases

CASES = load_cases()


@pytest.fixture(scope="module")
def opa_engine(opa_url: str) -> Iterator[OpaEngine]:
    engine = OpaEngine(opa_url, POLICY_DIR, timeout=5)
    assert engine.ready() is None
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def embedded_engine() -> EmbeddedEngine:
    engine = EmbeddedEngine(POLICY_DIR)
    assert engine.ready() is None
    return engine


def _as_expected(decision: Decision) -> dict[str, Any]:
    body = decision.as_dict()
    return {k: body[k] for k in ("allow", "reasons", "obligations")}


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 60
    assert {case["expected"]["allow"] for case in CASES} == {True, False}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_opa_sidecar_decides_each_case(opa_engine: OpaEngine, case: dict[str, Any]) -> None:
    decision = opa_engine.decide(case["input"])
    assert decision.engine == "opa"
    assert _as_expected(decision) == case["expected"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_embedded_engine_decides_each_case(embedded_engine: EmbeddedEngine,
                                           case: dict[str, Any]) -> None:
    decision = embedded_engine.decide(case["input"])
    assert decision.engine == "embedded"
    assert _as_expected(decision) == case["expected"]


def test_decisions_carry_revision_engine_and_opa_decision_id(opa_engine: OpaEngine,
                                                              embedded_engine: EmbeddedEngine,
                                                              ) -> None:
    revision = policy_revision(POLICY_DIR)
    first = CASES[0]["input"]
    opa = opa_engine.decide(first)
    embedded = embedded_engine.decide(first)
    assert opa.revision == embedded.revision == revision
    assert opa.decision_id != embedded.decision_id
    # OPA with decision logs on hands out its own decision id; ours is the same string.
    assert len(opa.decision_id) == 36
