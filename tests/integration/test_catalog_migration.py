"""Migration 0007 on a database that already holds datasets and offers (SQLite, PostgreSQL)."""

from __future__ import annotations

import json

from sqlalchemy import text

from connector import db
from connector.catalog.models import policy_key
from connector.policy.odrl import normalise_policy
from tests.integration.catalog_kit import offer_odrl, only


def test_0007_backfills_policy_hashes_and_keyword_index(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.upgrade(engine, "0006")
    odrl = offer_odrl("o1", only("spatial", ["DE-NW"]))
    normalised = normalise_policy(odrl)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO dataset (id, title, description, owner, keywords, themes, personal_data, "
            "media_type, source_kind, source, extra, created_at, updated_at) VALUES ('d1', 't', "
            "'', 'o', :kw, '[]', false, 'text/csv', 'file', 'x.csv', '{}', :now, :now)"),
            {"kw": json.dumps(["PM10", "Luftqualität"]), "now": "2026-11-28T12:00:00+00:00"})
        for ident, body in (("o1", normalised), ("o2", {})):
            conn.execute(text(
                "INSERT INTO offer (id, dataset_id, odrl, normalised, mode, created_at) VALUES "
                "(:id, 'd1', :odrl, :norm, 'auto', :now)"),
                {"id": ident, "odrl": json.dumps(odrl), "norm": json.dumps(body),
                 "now": "2026-11-28T12:00:00+00:00"})
    db.upgrade(engine)
    with engine.connect() as conn:
        hashes = dict(conn.execute(text("SELECT id, policy_hash FROM offer ORDER BY id")).all())
        index = conn.execute(text("SELECT keyword_index FROM dataset")).scalar_one()
    engine.dispose()
    assert hashes == {"o1": policy_key(normalised), "o2": ""}
    assert (json.loads(index) if isinstance(index, str) else index) == ["luftqualität", "pm10"]


def test_0007_downgrades_and_upgrades_with_rows(database_url: str) -> None:
    from alembic import command

    engine = db.make_engine(database_url)
    db.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO dataset (id, title, description, owner, keywords, keyword_index, themes, "
            "personal_data, media_type, source_kind, source, extra, created_at, updated_at) "
            "VALUES ('d1', 't', '', 'o', '[]', '[]', '[]', false, 'text/csv', 'file', 'x', '{}', "
            ":now, :now)"), {"now": "2026-11-28T12:00:00+00:00"})
        conn.execute(text(
            "INSERT INTO offer (id, dataset_id, odrl, normalised, policy_hash, mode, created_at) "
            "VALUES ('o1', 'd1', '{}', '{}', '', 'auto', :now)"),
            {"now": "2026-11-28T12:00:00+00:00"})
    cfg = db.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    assert db.current_revision(engine) == "0006"
    db.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM offer")).scalar_one() == 1
    engine.dispose()
