"""Personal data leaves only for subjects whose consent is valid at the moment of the pull."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from connector.catalog.models import Dataset
from connector.consent import service
from connector.negotiation.models import Agreement
from tests.integration import test_transfer_kit as kit
from tests.unit.consent.streams import filtered

PURPOSE = "energy-saving-advice"


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.integers(min_value=1, max_value=30), max_size=60),
       consenting=st.sets(st.integers(min_value=1, max_value=30)),
       chunk=st.integers(min_value=1, max_value=64))
def test_no_row_of_a_subject_without_consent_ever_leaves(rows: list[int], consenting: set[int],
                                                         chunk: int) -> None:
    data = b"meter_id,subject,kwh\n" + b"".join(
        b"m-%d,urn:subject:hh-%d,0.%d\n" % (n, n, n) for n in rows)
    allowed = frozenset(f"urn:subject:hh-{n}" for n in consenting)
    out = filtered(data, chunk, allowed).decode().splitlines()
    assert out[0] == "meter_id,subject,kwh"
    served = [line.split(",")[1] for line in out[1:]]
    assert all(subject in allowed for subject in served)
    assert served == [f"urn:subject:hh-{n}" for n in rows if n in consenting]


def test_no_subject_column_serves_no_rows() -> None:
    out = filtered(b"a,b\n1,2\n", 3, frozenset({"1"}))
    assert out == b"a,b\n"


def test_withdrawal_takes_effect_at_the_next_pull(data_dir: Path, database_url: str) -> None:
    with kit.client(data_dir, database_url) as http:
        runtime = kit.runtime_of(http)
        content = b"meter_id,subject,kwh\n" + b"".join(
            b"m-%d,urn:subject:hh-%d,0.5\n" % (n, n) for n in range(1, 7))
        dataset_id = kit.seed(runtime, "urn:agreement:meters", content=content)
        with Session(runtime.engine) as session:
            dataset = session.get(Dataset, dataset_id)
            assert dataset is not None
            dataset.personal_data = True
            dataset.subject_column = "subject"
            agreement = session.get(Agreement, "urn:agreement:meters")
            assert agreement is not None
            agreement.purpose = PURPOSE
            session.add(dataset)
            session.add(agreement)
            session.commit()
            records = {}
            for n in (2, 3, 5):
                records[n] = service.import_record(session, actor=kit.OWNER,
                                                   controller=kit.OWNER, body={
                    "data_subject": f"urn:subject:hh-{n}", "recipients": [kit.CONSUMER],
                    "purposes": [PURPOSE], "datasets": [dataset_id]}).record.id
            # consent for another recipient and another purpose does not count
            service.import_record(session, actor=kit.OWNER, controller=kit.OWNER, body={
                "data_subject": "urn:subject:hh-1", "recipients": ["did:web:other.example"],
                "purposes": [PURPOSE], "datasets": [dataset_id]})
            service.import_record(session, actor=kit.OWNER, controller=kit.OWNER, body={
                "data_subject": "urn:subject:hh-4", "recipients": [kit.CONSUMER],
                "purposes": ["marketing"], "datasets": [dataset_id]})
        resp = http.post(f"{kit.DSP}/request", headers=kit.AS_CONSUMER,
                         json=kit.request_body("urn:agreement:meters"))
        assert resp.status_code == 201, resp.text
        pid = resp.json()["providerPid"]
        assert kit.transfer(runtime, pid).state == "STARTED"
        token = kit.data_token(runtime, pid)

        def subjects() -> list[str]:
            pulled = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}"})
            assert pulled.status_code == 200, pulled.text
            return [line.split(",")[1] for line in pulled.text.splitlines()[1:]]

        assert subjects() == ["urn:subject:hh-2", "urn:subject:hh-3", "urn:subject:hh-5"]
        with Session(runtime.engine) as session:
            service.withdraw(session, record_id=records[3], data_subject=None,
                             actor="urn:subject:hh-3", runtime=runtime)
        assert subjects() == ["urn:subject:hh-2", "urn:subject:hh-5"]
        with Session(runtime.engine) as session:
            for n in (2, 5):
                service.withdraw(session, record_id=records[n], data_subject=None,
                                 actor=f"urn:subject:hh-{n}", runtime=runtime)
        # No consenting subject is left: the transfer was terminated (consent.enforce).
        denied = http.get(f"/data/{pid}", headers={"Authorization": f"Bearer {token}"})
        assert denied.status_code == 403
        assert "TERMINATED" in denied.json()["detail"]
