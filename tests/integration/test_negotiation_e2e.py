"""Two connectors on real ports negotiate over real HTTP: outbox, worker, callbacks, both roles.

The consumer starts through its management API; everything after that is DSP between the two
processes (messages delivered by each side's outbox worker, the providerPid learnt from the
answer to the first request).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from connector.negotiation.models import Agreement
from tests.integration.negotiation_kit import (
    CONSUMER,
    OWNER,
    PROVIDER,
    Served,
    negotiation,
    offer_odrl,
    purpose_is,
    seed,
    serve,
    served_headers,
    wait_for,
)


@pytest.fixture
def pair(tmp_path: Path, database_url: str) -> Iterator[tuple[Served, Served]]:
    """Provider and consumer, each with its own database (the second one on SQLite)."""
    (tmp_path / "p").mkdir()
    (tmp_path / "c").mkdir()
    provider = serve(tmp_path / "p", database_url, dsp_callback_delay=0.0)
    consumer = serve(tmp_path / "c", f"sqlite:///{tmp_path / 'c' / 'c.db'}",
                     participant_id=CONSUMER, dsp_fixed_outgoing="Bearer a-token",
                     dsp_callback_delay=0.0)
    try:
        yield provider, consumer
    finally:
        consumer.stop()
        provider.stop()


def _start(consumer: Served, provider: Served, **body: Any) -> str:
    headers = served_headers(consumer, ["partner"], "did:web:analyst.example")
    resp = httpx.post(consumer.base + "/api/v1/negotiations", headers=headers, json={
        "counterparty_address": provider.dsp, "provider_id": PROVIDER, **body})
    assert resp.status_code == 201, resp.text
    assert resp.json()["state"] == "REQUESTED"
    return str(resp.json()["id"])


def _state(served: Served, pid: str) -> str:
    return negotiation(served.runtime, pid).state


def test_auto_offer_is_agreed_verified_and_finalized_over_http(
        pair: tuple[Served, Served]) -> None:
    provider, consumer = pair
    seed(provider.runtime, "urn:dataset:air", offer_odrl("urn:offer:air", purpose_is("research")))
    cpid = _start(consumer, provider, offer_id="urn:offer:air", dataset_id="urn:dataset:air",
                  purpose="research")
    wait_for(lambda: _state(consumer, cpid) == "FINALIZED")
    mine = negotiation(consumer.runtime, cpid)
    assert mine.provider_pid is not None and mine.agreement_id is not None
    theirs = negotiation(provider.runtime, mine.provider_pid)
    wait_for(lambda: _state(provider, theirs.id) == "FINALIZED")
    assert theirs.consumer_pid == cpid and theirs.purpose == "research"
    for served in (provider, consumer):
        with Session(served.runtime.engine) as session:
            row = session.get(Agreement, mine.agreement_id)
            assert row is not None and row.status == "active" and row.purpose == "research"
            assert row.assigner == PROVIDER and row.assignee == CONSUMER
            assert row.normalised["purposes"] == ["research"] and row.unsupported is None


def test_denied_request_reaches_the_consumer_with_the_reasons(
        pair: tuple[Served, Served]) -> None:
    provider, consumer = pair
    seed(provider.runtime, "urn:dataset:air", offer_odrl("urn:offer:air", purpose_is("research")))
    cpid = _start(consumer, provider, offer_id="urn:offer:air", dataset_id="urn:dataset:air",
                  purpose="marketing")
    wait_for(lambda: _state(consumer, cpid) == "TERMINATED")
    reasons = negotiation(consumer.runtime, cpid).reason
    assert [r["code"] for r in reasons] == ["purpose_not_allowed"]
    assert "research" in reasons[0]["message"]


def test_manual_offer_accept_agree_verify_finalize_over_http(
        pair: tuple[Served, Served]) -> None:
    provider, consumer = pair
    seed(provider.runtime, "urn:dataset:meter", offer_odrl("urn:offer:meter"), mode="manual")
    cpid = _start(consumer, provider, offer_id="urn:offer:meter", dataset_id="urn:dataset:meter")
    ppid = wait_for(lambda: negotiation(consumer.runtime, cpid).provider_pid)
    owner = served_headers(provider, ["provider"], OWNER)
    partner = served_headers(consumer, ["partner"], "did:web:analyst.example")

    def act(served: Served, headers: dict[str, str], pid: str, action: str) -> None:
        resp = httpx.post(f"{served.base}/api/v1/negotiations/{pid}/{action}", headers=headers)
        assert resp.status_code == 200, resp.text

    act(provider, owner, ppid, "offer")
    wait_for(lambda: _state(consumer, cpid) == "OFFERED")
    assert negotiation(consumer.runtime, cpid).offer["@id"] == "urn:offer:meter"
    # The analyst who started it is not the one who may accept it: someone else's token is 404.
    stranger = served_headers(consumer, ["partner"], "did:web:other.example")
    resp = httpx.post(f"{consumer.base}/api/v1/negotiations/{cpid}/accept", headers=stranger)
    assert resp.status_code == 404
    act(consumer, partner, cpid, "accept")
    wait_for(lambda: _state(provider, ppid) == "ACCEPTED")
    act(provider, owner, ppid, "agree")
    wait_for(lambda: _state(provider, ppid) == "VERIFIED")  # the consumer auto-verifies
    assert _state(consumer, cpid) == "VERIFIED"
    act(provider, owner, ppid, "finalize")
    wait_for(lambda: _state(consumer, cpid) == "FINALIZED")


def test_a_provider_opens_with_an_offer_and_the_consumer_accepts_over_http(
        pair: tuple[Served, Served]) -> None:
    provider, consumer = pair
    seed(provider.runtime, "urn:dataset:parking", offer_odrl("urn:offer:parking"))
    owner = served_headers(provider, ["provider"], OWNER)
    resp = httpx.post(provider.base + "/api/v1/negotiations/offers", headers=owner, json={
        "offer_id": "urn:offer:parking", "consumer_id": CONSUMER,
        "counterparty_address": consumer.dsp})
    assert resp.status_code == 201, resp.text
    ppid = resp.json()["id"]
    assert resp.json()["state"] == "OFFERED" and resp.json()["consumer_pid"] is None
    cpid = wait_for(lambda: negotiation(provider.runtime, ppid).consumer_pid)
    mine = negotiation(consumer.runtime, cpid)
    assert mine.state == "OFFERED" and mine.provider_pid == ppid
    assert mine.offer["assignee"] == CONSUMER and mine.offer["assigner"] == PROVIDER
    admin = served_headers(consumer, ["admin", "partner"], "did:web:ops.example")
    resp = httpx.post(f"{consumer.base}/api/v1/negotiations/{cpid}/accept", headers=admin)
    assert resp.status_code == 200, resp.text
    wait_for(lambda: _state(consumer, cpid) == "FINALIZED")  # auto: agree; auto-verify; final
    assert _state(provider, ppid) == "FINALIZED"


def test_the_same_first_request_delivered_at_once_makes_one_negotiation(
        tmp_path: Path, database_url: str) -> None:
    import threading

    from sqlmodel import col, func, select

    from connector.negotiation.models import Negotiation
    from tests.integration.negotiation_kit import AS_CONSUMER, DSP, request_body

    provider = serve(tmp_path, database_url)
    try:
        seed(provider.runtime, "urn:dataset:air", offer_odrl("urn:offer:air"))
        body = request_body("urn:dataset:air", "urn:offer:air")
        answers: list[httpx.Response] = []
        barrier = threading.Barrier(6)

        def send() -> None:
            barrier.wait()
            answers.append(httpx.post(provider.base + DSP + "/request", json=body,
                                      headers=AS_CONSUMER, timeout=30))

        threads = [threading.Thread(target=send) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
        assert len({a.json()["providerPid"] for a in answers}) == 1
        with Session(provider.runtime.engine) as session:
            count = session.exec(select(func.count()).select_from(Negotiation).where(
                col(Negotiation.consumer_pid) == body["consumerPid"])).one()
        assert count == 1
    finally:
        provider.stop()
