"""Migrations on SQLite and PostgreSQL: applied at start, idempotent, safe to run concurrently."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import inspect, text

from connector import db
from connector.config import Settings


def test_upgrade_creates_every_table_and_is_idempotent(database_url: str) -> None:
    engine = db.make_engine(database_url)
    assert db.current_revision(engine) is None
    db.upgrade(engine)
    head = db.current_revision(engine)
    assert head is not None
    tables = set(inspect(engine).get_table_names())
    assert {"participant", "dataset", "offer", "alembic_version"} <= tables
    db.upgrade(engine)
    assert db.current_revision(engine) == head
    engine.dispose()


def test_models_match_the_migrations(database_url: str) -> None:
    """A table or column added to a model without a migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from connector.models import metadata

    engine = db.make_engine(database_url)
    db.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = db.engine_from_settings(Settings(data_dir=tmp_path))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_concurrent_upgrades_on_postgresql(pg_url: str) -> None:
    """Two replicas starting at once: the advisory lock lets one migrate, the other waits."""
    errors: list[BaseException] = []

    def run() -> None:
        engine = db.make_engine(pg_url)
        try:
            db.upgrade(engine)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    engine = db.make_engine(pg_url)
    assert db.current_revision(engine) is not None
    engine.dispose()
