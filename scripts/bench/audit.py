"""Audit log cost, each figure next to a baseline measured in the same run.

    python scripts/bench/audit.py [--appends 3000] [--proof-size 1000000] [--pg-url URL]

* appends/s: one entry per transaction (the way a change records itself) and batched, against
  plain INSERTs of the same rows into a table of the same shape (no hashing, no tree);
* inclusion and consistency proof time at --proof-size entries (goal < 1 ms), against reading
  one entry by primary key;
* checkpoint signing cost, against one Ed25519 signature.
SQLite always; PostgreSQL with --pg-url (a database the script may create tables in).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.engine import Engine

from connector import db
from connector.audit import log as audit_log
from connector.audit import service, storage
from connector.audit.signer import sign_checkpoint


def event(i: int) -> dict[str, object]:
    return {"type": "transfer.pull", "transfer": f"urn:transfer:{i}", "participant":
            "did:web:partner.example", "dataset": "urn:dataset:pm-sensor-eving",
            "bytes": 123456 + i, "sha256": "ab" * 32, "decision_id": f"d-{i}"}


def appends_per_second(engine: Engine, n: int, batch: int) -> float:
    start = time.perf_counter()
    for offset in range(0, n, batch):
        with engine.begin() as conn:
            audit_log.append(conn, [event(offset + k) for k in range(min(batch, n - offset))])
    return n / (time.perf_counter() - start)


def baseline_inserts_per_second(engine: Engine, n: int, batch: int) -> float:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_plain (idx BIGINT PRIMARY KEY, "
                          "type VARCHAR(64), time TIMESTAMP, participant VARCHAR(255), "
                          "dataset VARCHAR(255), body BYTEA)".replace(
                              "BYTEA", "BLOB" if engine.dialect.name == "sqlite" else "BYTEA")))
        first = conn.execute(text("SELECT coalesce(max(idx), -1) + 1 FROM bench_plain")).scalar()
    import json

    start = time.perf_counter()
    for offset in range(0, n, batch):
        with engine.begin() as conn:
            rows = [{"idx": first + offset + k, "type": "transfer.pull",
                     "participant": "did:web:partner.example", "dataset": "d",
                     "body": json.dumps(event(offset + k)).encode()}
                    for k in range(min(batch, n - offset))]
            conn.execute(text("INSERT INTO bench_plain (idx, type, time, participant, dataset, "
                              "body) VALUES (:idx, :type, CURRENT_TIMESTAMP, :participant, "
                              ":dataset, :body)"), rows)
    return n / (time.perf_counter() - start)


def timed_us(fn: object, repeat: int = 200) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return statistics.median(samples)


def run(name: str, url: str, appends: int, proof_size: int) -> None:
    engine = db.make_engine(url)
    db.upgrade(engine)
    print(f"\n== {name}")
    for batch in (1, 100):
        ours = appends_per_second(engine, appends, batch)
        plain = baseline_inserts_per_second(engine, appends, batch)
        goal = "met" if ours >= 3000 else "not met"
        print(f"appends, {batch:>3}/transaction: {ours:8.0f}/s   plain inserts {plain:8.0f}/s"
              f"   ratio {ours / plain:.2f}   goal >= 3000/s: {goal}")
    with engine.connect() as conn:
        size = storage.tree_size(conn)
    fill = proof_size - size
    if fill > 0:
        t0 = time.perf_counter()
        appends_per_second(engine, fill, 5000)
        print(f"filled to {proof_size} entries in {time.perf_counter() - t0:.0f} s")
    with engine.connect() as conn:
        size = storage.tree_size(conn)
    key = Ed25519PrivateKey.generate()
    idx = size // 3
    incl = timed_us(lambda: service.inclusion(engine, index=idx, size=size))
    cons = timed_us(lambda: service.consistency(engine, first=size // 2 + 7, second=size))
    read = timed_us(lambda: service.entry(engine, idx))
    print(f"at {size} entries: inclusion proof {incl:6.0f} us, consistency proof {cons:6.0f} us"
          f"   (read one entry {read:.0f} us; goal < 1000 us: "
          f"{'met' if max(incl, cons) < 1000 else 'not met'})")
    appends_per_second(engine, 1000, 100)

    def sign() -> None:
        with engine.begin() as conn:
            sign_checkpoint(conn, origin="bench/audit", private_key=key)
        appends_per_second(engine, 1, 1)

    sign_us = timed_us(sign, repeat=50)
    raw_us = timed_us(lambda: key.sign(b"x" * 80), repeat=200)
    print(f"checkpoint signing (incl. one append) {sign_us:.0f} us vs one Ed25519 signature "
          f"{raw_us:.0f} us")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--appends", type=int, default=3000)
    parser.add_argument("--proof-size", type=int, default=1_000_000)
    parser.add_argument("--pg-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.appends, args.proof_size)
    if args.pg_url:
        run("PostgreSQL", args.pg_url, args.appends, args.proof_size)


if __name__ == "__main__":
    main()
