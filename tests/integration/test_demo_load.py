"""Demo data lands in the database (SQLite and PostgreSQL); loading twice changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from connector.catalog.models import Dataset, Offer
from connector.config import Settings
from connector.consent import service as consent
from connector.consent.models import ConsentRecord
from connector.demo.load import load_demo
from connector.runtime import Runtime


def _dump(runtime: Runtime) -> dict[str, list[Any]]:
    with runtime.engine.connect() as conn:
        return {table: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
                for table in ("participant", "dataset", "offer")}


@pytest.fixture
def runtime(data_dir: Path, database_url: str) -> Iterator[Runtime]:
    rt = Runtime.start(Settings(data_dir=data_dir, database_url=database_url))
    yield rt
    rt.close()


def test_demo_loads_once_and_twice_changes_nothing(runtime: Runtime) -> None:
    first = load_demo(runtime)
    assert first["created"] == {"participants": 8, "datasets": 13, "offers": 13, "consents": 66}
    before = _dump(runtime)
    files = {p: p.stat().st_mtime_ns for p in (runtime.settings.data_dir / "demo").iterdir()}
    second = load_demo(runtime)
    assert second["created"] == {"participants": 0, "datasets": 0, "offers": 0, "consents": 0}
    assert _dump(runtime) == before
    assert {p: p.stat().st_mtime_ns for p in (runtime.settings.data_dir / "demo").iterdir()} \
        == files


def test_demo_datasets_have_metadata_offers_and_files(runtime: Runtime) -> None:
    load_demo(runtime)
    with runtime.engine.connect() as conn:
        rows = conn.execute(text("SELECT role, count(*) FROM participant GROUP BY role"))
        roles = {role: count for role, count in rows}
    assert roles == {"provider": 2, "partner": 2, "auditor": 1, "data_subject": 3}
    with Session(runtime.engine) as session:
        datasets = session.exec(select(Dataset)).all()
        offers = {o.dataset_id: o for o in session.exec(select(Offer)).all()}
    assert sum(d.id.startswith("urn:dataset:pm-sensor-") for d in datasets) == 6
    meter = next(d for d in datasets if d.personal_data)
    assert meter.id == "urn:dataset:smart-meter-households"
    assert meter.subject_column == "subject"
    assert offers[meter.id].normalised["consent_required"] is True
    for dataset in datasets:
        path = runtime.settings.data_dir / dataset.source
        assert path.is_file() and path.stat().st_size == dataset.byte_size
        assert dataset.title and dataset.keywords and dataset.temporal_start is not None
        assert dataset.id in offers


def test_demo_consents_a_third_some_withdrawn_some_expired(runtime: Runtime) -> None:
    load_demo(runtime)
    with Session(runtime.engine) as session:
        views = [consent.view(session, r.id) for r in session.exec(select(ConsentRecord)).all()]
        active = consent.valid_consents(session, dataset="urn:dataset:smart-meter-households",
                                        recipient="did:web:energieberatung.example",
                                        purpose="energy-saving-advice")
    statuses = [v.status for v in views]
    assert len(views) == 66
    assert statuses.count("withdrawn") == 6 and statuses.count("expired") == 2
    assert len(active) == 58
