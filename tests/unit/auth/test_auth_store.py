"""The OAuth tables on SQLite and PostgreSQL: migration 0002, jti replay, revocation, status."""

from __future__ import annotations

import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session

from connector import db
from connector.auth.clients import create_client, disable_client
from connector.auth.store import KIND_ASSERTION, KIND_DPOP, AuthStore
from connector.models import metadata

TABLES = {"oauth_client", "oauth_seen_jti", "oauth_revoked_token"}
JWKS = {"keys": [{"kty": "OKP", "crv": "Ed25519",
                  "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    return migrated_engine


def test_migration_0002_creates_and_drops_exactly_the_auth_tables(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        db.upgrade(engine, "0001")
        before = set(inspect(engine).get_table_names())
        db.upgrade(engine, "0002")
        assert set(inspect(engine).get_table_names()) - before == TABLES
        cfg = db.alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0001")
        assert set(inspect(engine).get_table_names()) == before
    finally:
        engine.dispose()


def test_models_match_the_migration(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, metadata)
    ours = [d for d in diffs if any(t in repr(d) for t in TABLES)]
    assert ours == []


def test_first_use_refuses_a_replay_until_expiry(engine: Engine) -> None:
    now = [1_000.0]
    store = AuthStore(engine, clock=lambda: now[0])
    assert store.first_use(KIND_ASSERTION, "client-a", "jti-1", 1_100)
    assert not store.first_use(KIND_ASSERTION, "client-a", "jti-1", 1_100)
    # The same jti of another client or kind is a different record.
    assert store.first_use(KIND_ASSERTION, "client-b", "jti-1", 1_100)
    assert store.first_use(KIND_DPOP, "", "jti-1", 1_100)
    now[0] = 1_200  # expired: the value may be used again
    assert store.first_use(KIND_ASSERTION, "client-a", "jti-1", 1_300)
    assert not store.first_use(KIND_ASSERTION, "client-a", "jti-1", 1_300)


def test_replay_cache_adapter(engine: Engine) -> None:
    cache = AuthStore(engine).replay_cache(KIND_DPOP)
    assert cache.seen("p-1", 4_000_000_000) is False
    assert cache.seen("p-1", 4_000_000_000) is True


def test_concurrent_first_use_lets_exactly_one_through(engine: Engine) -> None:
    store = AuthStore(engine)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        results.append(store.first_use(KIND_DPOP, "", "race", 4_000_000_000))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_expired_rows_are_swept(engine: Engine) -> None:
    now = [1_000.0]
    store = AuthStore(engine, clock=lambda: now[0])
    for i in range(70):
        store.first_use(KIND_DPOP, "", f"old-{i}", 1_001)
    now[0] = 2_000
    for i in range(64):
        store.first_use(KIND_DPOP, "", f"new-{i}", 3_000)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT count(*) FROM oauth_seen_jti").scalar()
    assert rows is not None and rows <= 64


def test_revocation_and_token_status(engine: Engine) -> None:
    store = AuthStore(engine)
    with Session(engine) as session:
        record, _ = create_client(session=session, participant="did:web:p", roles=["partner"],
                                  jwks=JWKS)
    status = store.token_status("t-1", record.client_id)
    assert (status.revoked, status.client_known, status.client_disabled) == (False, True, False)
    store.revoke("t-1", record.client_id, 4_000_000_000)
    store.revoke("t-1", record.client_id, 4_000_000_000)  # idempotent
    assert store.is_revoked("t-1") and store.token_status("t-1", record.client_id).revoked
    with Session(engine) as session:
        disable_client(session=session, client_id=record.client_id)
    assert store.token_status("t-2", record.client_id).client_disabled
    assert not store.token_status("t-2", "ghost").client_known
