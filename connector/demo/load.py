"""Load the Dortmund demo data into a connector's database and data dir (idempotent)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from connector.audit import log as audit_log
from connector.catalog.models import Dataset, Offer
from connector.consent import service as consent
from connector.consent.models import ConsentRecord
from connector.db import session_scope
from connector.demo import dortmund
from connector.demo.readings import write_dataset_files
from connector.participants.models import Participant
from connector.policy.odrl import normalise_policy
from connector.runtime import Runtime


def _add_missing(session: Session, row: Any, event: dict[str, Any]) -> bool:
    """Insert ``row`` (and its audit entry) unless a row with its primary key exists."""
    if session.get(type(row), row.id) is not None:
        return False
    session.add(row)
    session.flush()
    audit_log.append(session.connection(), [event])
    return True


def _demo_consents(runtime: Runtime) -> int:
    """About a third of the households consent to the energy-advice partner for
    energy-saving advice; a few have withdrawn since, a few consents have expired."""
    created = 0
    end = dortmund.DEFAULT_END
    with Session(runtime.engine, expire_on_commit=False) as session:
        for n in range(3, dortmund.HOUSEHOLDS + 1, 3):
            subject = dortmund.subject_id(n)
            seed = f"dodata-demo-consent/{subject}"
            record_id = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, seed)}"
            if session.get(ConsentRecord, record_id) is not None:
                continue
            body: dict[str, Any] = {
                "id": record_id, "data_subject": subject,
                "recipients": [dortmund.ENERGY_ADVICE],
                "purposes": [dortmund.SMART_METER_PURPOSE],
                "datasets": ["urn:dataset:smart-meter-households"],
                "data_categories": ["smart-meter-readings"],
                "collection_method": "utility customer portal (demo)",
                "valid_from": (end - timedelta(days=90)).isoformat(),
                "valid_until": (end - timedelta(days=5) if n % 45 == 0
                                else end + timedelta(days=365)).isoformat()}
            if n % 30 == 0:
                body["withdrawn_at"] = (end - timedelta(days=10)).isoformat()
            consent.import_record(session, actor=dortmund.UTILITY,
                                  controller=dortmund.UTILITY, body=body)
            created += 1
    return created


def load_demo(runtime: Runtime) -> dict[str, Any]:
    """Write the demo files and insert participants, datasets and offers that are missing.

    Loading twice changes nothing: files are rewritten only when their bytes would differ, and
    rows that exist are left as they are.
    """
    settings = runtime.settings
    demo_datasets = dortmund.datasets()
    files = write_dataset_files(settings.data_dir, demo_datasets)
    created = {"participants": 0, "datasets": 0, "offers": 0}
    with session_scope(runtime.engine) as session:
        for p in dortmund.participants():
            created["participants"] += _add_missing(session, Participant(
                id=p.id, name=p.name, role=p.role, org_type=p.org_type, region=p.region),
                {"type": "participant.created", "participant": p.id, "role": p.role,
                 "source": "demo"})
        session.flush()
        for d in demo_datasets:
            file = files[d.id]
            created["datasets"] += _add_missing(session, Dataset(
                id=d.id, title=d.title, description=d.description, owner=d.owner,
                keywords=list(d.keywords), themes=list(d.themes), personal_data=d.personal_data,
                subject_column=d.subject_column, media_type=d.media_type, source_kind="file",
                source=file.path.relative_to(settings.data_dir).as_posix(),
                byte_size=file.path.stat().st_size, sha256=file.sha256, spatial=d.spatial,
                temporal_start=d.temporal_start, temporal_end=d.temporal_end,
                accrual_periodicity=d.accrual_periodicity, extra={"rows": file.rows}),
                {"type": "dataset.created", "dataset": d.id, "owner": d.owner,
                 "personal_data": d.personal_data, "sha256": file.sha256, "source": "demo"})
        session.flush()
        for d in demo_datasets:
            created["offers"] += _add_missing(session, Offer(
                id=d.offer["@id"], dataset_id=d.id, odrl=d.offer,
                normalised=normalise_policy(d.offer)),
                {"type": "offer.created", "offer": d.offer["@id"], "dataset": d.id,
                 "source": "demo"})
    created["consents"] = _demo_consents(runtime)
    return {"created": created, "participants": len(dortmund.participants()),
            "datasets": len(demo_datasets), "offers": len(demo_datasets),
            "data_dir": str(settings.data_dir)}
