"""Source checks that need no database: query shape and paths inside the data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.catalog.sources import check_query, file_path


@pytest.mark.parametrize(("query", "clean"), [
    ("SELECT 1", "SELECT 1"),
    ("  select a, b from t where c = 'x' ;  ", "select a, b from t where c = 'x'"),
    ("WITH x AS (SELECT 1 AS a) SELECT a FROM x", "WITH x AS (SELECT 1 AS a) SELECT a FROM x"),
    ("SELECT replace(name, 'a', 'b'), updated_at, settings FROM t",
     "SELECT replace(name, 'a', 'b'), updated_at, settings FROM t"),
])
def test_plain_selects_pass(query: str, clean: str) -> None:
    assert check_query(query) == clean


@pytest.mark.parametrize(("query", "says"), [
    ("DELETE FROM t", "must start with SELECT"),
    ("SELECT 1; SELECT 2", "one statement"),
    ("SELECT * INTO x FROM t", "'INTO'"),
    ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "'DELETE'"),
    ("SELECT set_config('default_transaction_read_only', 'off', false)", "'SET_CONFIG'"),
    ("SELECT 1 FOR UPDATE", "'UPDATE'"),
    ("EXPLAIN SELECT 1", "must start with SELECT"),
])
def test_anything_else_is_refused(query: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        check_query(query)


def test_paths_stay_inside_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    assert file_path(data, "sub/x.csv") == (data / "sub" / "x.csv").resolve()
    (data / "escape").symlink_to(tmp_path)
    for bad in ("../x.csv", "/etc/passwd", "sub/../../x.csv", ".", "escape/x.csv"):
        with pytest.raises(ValueError):
            file_path(data, bad)
