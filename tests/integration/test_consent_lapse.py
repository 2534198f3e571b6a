"""What the end of a consent does: agreements marked, transfers with nothing left terminated (with
the DSP termination message), expiry without anyone calling, all-subjects offers and
aggregate-only offers. Real app, real database (SQLite and PostgreSQL), real policy engine."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from connector.audit import storage
from connector.catalog.models import Dataset
from connector.consent import service
from connector.errors import ValidationFailed
from connector.negotiation.models import Agreement
from connector.policy.odrl import normalise_policy
from connector.runtime import Runtime
from connector.timeutil import utcnow
from tests.integration import test_transfer_kit as kit

PURPOSE = "energy-saving-advice"
SCOPE_ALL = {"leftOperand": "https://w3id.org/dodata/policy#consentScope", "operator": "eq",
             "rightOperand": "allSubjects"}


def subject(n: int) -> str:
    return f"urn:subject:hh-{n}"


def readings(*households: int, slots: int = 2) -> bytes:
    """meter_id,subject,timestamp,kwh: one row per household and slot (kwh = n / 10)."""
    rows = [b"meter_id,subject,timestamp,kwh\n"]
    for slot in range(slots):
        rows += [b"m-%d,%s,t%d,%.1f\n" % (n, subject(n).encode(), slot, n / 10)
                 for n in households]
    return b"".join(rows)


def aggregate(k: int, group_by: str | None = None) -> list[dict[str, Any]]:
    """An aggregate-only duty: groups of at least ``k`` subjects, grouped by ``group_by``."""
    constraints = [{"leftOperand": "https://w3id.org/dodata/policy#minGroupSize",
                    "operator": "gteq", "rightOperand": k}]
    if group_by:
        constraints.append({"leftOperand": "https://w3id.org/dodata/policy#groupBy",
                            "operator": "eq", "rightOperand": group_by})
    return [{"action": "aggregate", "constraint": constraints}]


def personal(runtime: Runtime, agreement_id: str, content: bytes, *constraints: dict[str, Any],
             duty: list[dict[str, Any]] | None = None, personal_data: bool = True) -> str:
    dataset_id = kit.seed(runtime, agreement_id, *constraints, content=content)
    with Session(runtime.engine) as session:
        dataset = session.get(Dataset, dataset_id)
        agreement = session.get(Agreement, agreement_id)
        assert dataset is not None and agreement is not None
        dataset.personal_data = personal_data
        dataset.subject_column = "subject" if personal_data else None
        agreement.purpose = PURPOSE
        if duty:
            odrl = dict(agreement.odrl)
            odrl["permission"] = [{**odrl["permission"][0], "duty": duty}]
            agreement.odrl = odrl
            agreement.normalised = normalise_policy(odrl)
        session.add(dataset)
        session.add(agreement)
        session.commit()
    return dataset_id


def consent(runtime: Runtime, dataset_id: str, n: int, **extra: Any) -> str:
    with Session(runtime.engine) as session:
        return service.import_record(session, actor=kit.OWNER, controller=kit.OWNER, body={
            "data_subject": subject(n), "recipients": [kit.CONSUMER], "purposes": [PURPOSE],
            "datasets": [dataset_id], **extra}).record.id


def withdraw(runtime: Runtime, record_id: str) -> None:
    with Session(runtime.engine) as session:
        service.withdraw(session, record_id=record_id, data_subject=None, actor="test",
                         runtime=runtime)


def start(http: TestClient, agreement_id: str) -> str:
    resp = http.post(f"{kit.DSP}/request", headers=kit.AS_CONSUMER,
                     json=kit.request_body(agreement_id))
    assert resp.status_code == 201, resp.text
    return str(resp.json()["providerPid"])


def pull(http: TestClient, runtime: Runtime, pid: str) -> Any:
    token = kit.data_token(runtime, pid)
    return http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}"})


def agreement(runtime: Runtime, agreement_id: str) -> Agreement:
    with Session(runtime.engine) as session:
        row = session.get(Agreement, agreement_id)
        assert row is not None
        return row


def audit(runtime: Runtime, *types: str) -> list[dict[str, Any]]:
    with runtime.engine.connect() as conn:
        return [json.loads(row.body) for row in storage.search(conn, after=None, limit=10_000,
                                                                types=types)]


def test_withdrawal_marks_the_agreement_and_terminates_what_is_left_empty(
        data_dir: Path, database_url: str) -> None:
    with kit.client(data_dir, database_url) as http:
        runtime = kit.runtime_of(http)
        dataset_id = personal(runtime, "urn:agreement:lapse", readings(1, 2, 3))
        first, second = consent(runtime, dataset_id, 1), consent(runtime, dataset_id, 2)
        pid = start(http, "urn:agreement:lapse")
        assert kit.transfer(runtime, pid).state == "STARTED"

        withdraw(runtime, first)
        assert agreement(runtime, "urn:agreement:lapse").consent_state == "reduced"
        assert kit.transfer(runtime, pid).state == "STARTED"  # subject 2 still consents
        served = pull(http, runtime, pid)
        assert served.status_code == 200
        assert {line.split(",")[1] for line in served.text.splitlines()[1:]} == {subject(2)}

        withdraw(runtime, second)
        lapsed = agreement(runtime, "urn:agreement:lapse")
        assert lapsed.consent_state == "lapsed" and lapsed.consent_changed_at is not None
        assert lapsed.status == "active"  # a later transfer is decided afresh
        done = kit.transfer(runtime, pid)
        assert done.state == "TERMINATED"
        assert done.reason[0]["code"] == "consent_withdrawn"
        termination = [row.body for row in kit.outbox(runtime, pid)
                       if row.body["@type"] == "TransferTerminationMessage"]
        assert len(termination) == 1 and termination[0]["code"] == "consent_withdrawn"
        assert termination[0]["consumerPid"] == done.consumer_pid

        marks = audit(runtime, "agreement.consent_reduced", "agreement.consent_lapsed")
        assert [(m["type"], m["consent"], m["subjects_remaining"]) for m in marks] == [
            ("agreement.consent_reduced", first, 1), ("agreement.consent_lapsed", second, 0)]
        ended = [e for e in audit(runtime, "transfer.terminated") if e["transfer"] == pid]
        assert len(ended) == 1 and ended[0]["consent"] == second

        # Withdrawing again changes nothing and sends nothing more.
        queued = len(kit.outbox(runtime, pid))
        withdraw(runtime, second)
        assert len(audit(runtime, "consent.withdrawn")) == 2
        assert len(audit(runtime, "agreement.consent_lapsed")) == 1
        assert len(kit.outbox(runtime, pid)) == queued

        # Re-consent: a new transfer under the same agreement serves the subject's rows again.
        consent(runtime, dataset_id, 1)
        again = start(http, "urn:agreement:lapse")
        rows = pull(http, runtime, again)
        assert rows.status_code == 200
        assert {line.split(",")[1] for line in rows.text.splitlines()[1:]} == {subject(1)}


def test_consent_for_another_purpose_or_recipient_marks_nothing(data_dir: Path,
                                                               database_url: str) -> None:
    with kit.client(data_dir, database_url) as http:
        runtime = kit.runtime_of(http)
        dataset_id = personal(runtime, "urn:agreement:other", readings(1, 2))
        consent(runtime, dataset_id, 1)
        other = consent(runtime, dataset_id, 2, purposes=["marketing"])
        elsewhere = consent(runtime, dataset_id, 2, recipients=["did:web:other.example"])
        pid = start(http, "urn:agreement:other")
        withdraw(runtime, other)
        withdraw(runtime, elsewhere)
        assert agreement(runtime, "urn:agreement:other").consent_state is None
        assert kit.transfer(runtime, pid).state == "STARTED"


def test_expiry_ends_the_transfer_without_anyone_calling(data_dir: Path,
                                                         database_url: str) -> None:
    with kit.client(data_dir, database_url, consent_sweep_seconds=0.2) as http:
        runtime = kit.runtime_of(http)
        dataset_id = personal(runtime, "urn:agreement:expiry", readings(1, 2))
        # The transfer starts under a lasting consent, which is then withdrawn while a
        # short-lived one keeps the transfer going: how long starting takes cannot matter.
        lasting = consent(runtime, dataset_id, 2)
        pid = start(http, "urn:agreement:expiry")
        assert kit.transfer(runtime, pid).state == "STARTED"
        now = utcnow()
        record = consent(runtime, dataset_id, 1,
                         valid_from=(now - timedelta(hours=1)).isoformat(),
                         valid_until=(now + timedelta(seconds=3)).isoformat())
        withdraw(runtime, lasting)
        assert kit.transfer(runtime, pid).state == "STARTED"
        assert agreement(runtime, "urn:agreement:expiry").consent_state == "reduced"

        done = kit.wait_for(lambda: kit.transfer(runtime, pid).state == "TERMINATED"
                            and kit.transfer(runtime, pid), seconds=30)
        assert done.reason[0]["code"] == "consent_expired"
        assert agreement(runtime, "urn:agreement:expiry").consent_state == "lapsed"
        expired = audit(runtime, "consent.expired")
        assert [e["consent"] for e in expired] == [record]
        with Session(runtime.engine) as session:
            assert service.view(session, record).status == "expired"
            # A second sweep finds nothing more to do.
            assert service.expire_due(session, runtime=runtime) == []
        assert len(audit(runtime, "consent.expired")) == 1


def test_all_subjects_offer_refuses_while_any_covered_subject_lacks_consent(
        data_dir: Path, database_url: str) -> None:
    with kit.client(data_dir, database_url) as http:
        runtime = kit.runtime_of(http)
        dataset_id = personal(runtime, "urn:agreement:all", readings(1, 2, 3), SCOPE_ALL)
        assert agreement(runtime, "urn:agreement:all").normalised["consent_scope"] == \
            "all_subjects"
        records = [consent(runtime, dataset_id, n) for n in (1, 2)]
        refused = start(http, "urn:agreement:all")
        denied = kit.transfer(runtime, refused)
        assert denied.state == "TERMINATED"
        assert denied.reason[0]["code"] == "consent_missing"
        assert subject(3) in json.dumps(audit(runtime, "policy.decision")[-1])

        records.append(consent(runtime, dataset_id, 3))
        pid = start(http, "urn:agreement:all")
        assert kit.transfer(runtime, pid).state == "STARTED"
        served = pull(http, runtime, pid)
        assert served.status_code == 200 and len(served.text.splitlines()) == 1 + 3 * 2

        # Household 1 holds a second record: withdrawing one of them leaves everyone covered.
        consent(runtime, dataset_id, 1)
        withdraw(runtime, records[0])
        assert agreement(runtime, "urn:agreement:all").consent_state == "reduced"
        assert kit.transfer(runtime, pid).state == "STARTED"
        # Household 2 withdraws its only one: all-or-nothing, so the transfer ends at once.
        withdraw(runtime, records[1])
        assert agreement(runtime, "urn:agreement:all").consent_state == "lapsed"
        assert kit.transfer(runtime, pid).state == "TERMINATED"


def test_aggregate_only_agreement_serves_only_groups_of_k_subjects(data_dir: Path,
                                                                   database_url: str) -> None:
    duty = aggregate(3, "timestamp")
    with kit.client(data_dir, database_url) as http:
        runtime = kit.runtime_of(http)
        dataset_id = personal(runtime, "urn:agreement:agg", readings(1, 2, 3, 4), duty=duty)
        records = {n: consent(runtime, dataset_id, n) for n in (1, 2, 3)}
        pid = start(http, "urn:agreement:agg")
        served = pull(http, runtime, pid)
        assert served.status_code == 200, served.text
        # Households 1-3 consent (4 does not): per slot 3 subjects, kwh .1+.2+.3.
        assert served.text.splitlines() == [
            "timestamp,subjects,rows,kwh_sum,kwh_mean",
            "t0,3,3,0.6,0.2", "t1,3,3,0.6,0.2"]
        assert "m-1" not in served.text and subject(1) not in served.text

        # A fourth household consents (its record names further keys, counted as one subject).
        consent(runtime, dataset_id, 4, subject_keys=[subject(4), "m-x", "m-y"])
        assert pull(http, runtime, pid).text.splitlines()[1:] == [
            "t0,4,4,1,0.25", "t1,4,4,1,0.25"]
        withdraw(runtime, records[1])
        withdraw(runtime, records[2])  # two subjects left, fewer than k: nothing may leave
        assert agreement(runtime, "urn:agreement:agg").consent_state == "lapsed"
        assert kit.transfer(runtime, pid).state == "TERMINATED"


def test_a_withdrawal_dated_in_the_future_is_refused(data_dir: Path, database_url: str) -> None:
    with kit.client(data_dir, database_url) as http:
        runtime = kit.runtime_of(http)
        dataset_id = personal(runtime, "urn:agreement:future", readings(1))
        with pytest.raises(ValidationFailed, match="withdrawn_at"):
            consent(runtime, dataset_id, 1,
                    withdrawn_at=(utcnow() + timedelta(days=1)).isoformat())


def test_aggregate_only_agreement_on_data_without_subjects_is_refused(
        data_dir: Path, database_url: str) -> None:
    duty = aggregate(2)
    with kit.client(data_dir, database_url) as http:
        runtime = kit.runtime_of(http)
        personal(runtime, "urn:agreement:agg-open", b"id,value\n1,2\n", duty=duty,
                 personal_data=False)
        pid = start(http, "urn:agreement:agg-open")
        refused = kit.transfer(runtime, pid)
        assert refused.state == "TERMINATED"
        assert refused.reason[0]["code"] == "aggregate_unavailable"


def test_aggregate_over_a_column_the_data_lacks_is_refused_before_anything_is_sent(
        data_dir: Path, database_url: str) -> None:
    duty = aggregate(2, "district")
    with kit.client(data_dir, database_url) as http:
        runtime = kit.runtime_of(http)
        dataset_id = personal(runtime, "urn:agreement:agg-col", readings(1, 2, 3), duty=duty)
        for n in (1, 2, 3):
            consent(runtime, dataset_id, n)
        pid = start(http, "urn:agreement:agg-col")
        refused = kit.transfer(runtime, pid)
        assert refused.state == "TERMINATED"
        assert refused.reason[0]["code"] == "aggregate_unavailable"
        assert "'district'" in refused.reason[0]["message"]


def test_a_pull_is_refused_when_the_data_loses_the_column_it_is_grouped_by(
        data_dir: Path, database_url: str) -> None:
    duty = aggregate(2, "timestamp")
    with kit.client(data_dir, database_url) as http:
        runtime = kit.runtime_of(http)
        dataset_id = personal(runtime, "urn:agreement:agg-lost", readings(1, 2), duty=duty)
        for n in (1, 2):
            consent(runtime, dataset_id, n)
        pid = start(http, "urn:agreement:agg-lost")
        assert pull(http, runtime, pid).text.splitlines()[1:] == ["t0,2,2,0.3,0.15",
                                                                  "t1,2,2,0.3,0.15"]
        with Session(runtime.engine) as session:
            dataset = session.get(Dataset, dataset_id)
            assert dataset is not None and dataset.source
            source = runtime.settings.data_dir / dataset.source
        source.write_bytes(b"meter_id,subject,kwh\nm-1,%s,1\n" % subject(1).encode())
        refused = pull(http, runtime, pid)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["reasons"][0]["code"] == "aggregate_unavailable"
        assert "'timestamp'" in refused.json()["reasons"][0]["message"]
