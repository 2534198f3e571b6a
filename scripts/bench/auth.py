#!/usr/bin/env python3
"""Benchmark of the OAuth layer: token issuance per second, and what validation costs per request.

Runs the real app under uvicorn in a child process on a free port (SQLite in a temp dir by
default, or ``--database-url``) and drives it over HTTP with keep-alive connections. Validation
cost is printed as the ratio of a protected endpoint's throughput (``GET /api/v1/me`` with a
Bearer or DPoP token) to an unprotected twin (the same handler with no requirement) measured in
the same run, interleaved, so the ratio survives a noisy machine.

    .venv/bin/python scripts/bench/auth.py [--requests 2000] [--tokens 300] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlmodel import Session

from connector.api.security import PUBLIC
from connector.app import create_app
from connector.auth import clients
from connector.auth.dpop import jwk_thumbprint
from connector.auth.principal import Principal
from connector.auth.resource import Presented
from connector.config import Settings
from connector.runtime import Runtime

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OPEN_PRINCIPAL = Principal(participant="did:web:bench.example", client_id="bench",
                           roles=frozenset({"partner"}), scopes=frozenset({"catalog"}),
                           issuer="bench", subject="bench", token_id="bench", expires_at=0)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def jwk_of(key: Any) -> dict[str, str]:
    import json

    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        return {k: jwk[k] for k in ("kty", "crv", "x", "y")}
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    return {k: jwk[k] for k in ("kty", "crv", "x")}


def build_app(runtime: Runtime) -> Any:
    """The connector app plus an unprotected twin of ``GET /api/v1/me``."""
    app = create_app(runtime=runtime)

    @app.get("/bench/me-open", dependencies=[PUBLIC])
    def me_open() -> dict[str, Any]:
        return OPEN_PRINCIPAL.as_json()

    return app


def serve(data_dir: Path, database_url: str | None, port: int) -> None:
    """Child process: serve the app until terminated."""
    settings = Settings(data_dir=data_dir, database_url=database_url,
                        public_url=f"http://127.0.0.1:{port}", log_level="WARNING")
    runtime = Runtime.start(settings)
    uvicorn.run(build_app(runtime), host="127.0.0.1", port=port, log_config=None,
                access_log=False)


class Bench:
    """The server in its own process (so client and server do not share a GIL)."""

    def __init__(self, database_url: str | None) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="dodata-bench-")
        self.data_dir = Path(self.tmp.name)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        settings = Settings(data_dir=self.data_dir, database_url=database_url,
                            public_url=self.base, log_level="WARNING")
        self.runtime = Runtime.start(settings)
        self.key = ec.generate_private_key(ec.SECP256R1())
        jwk = jwk_of(self.key)
        self.kid = jwk_thumbprint(jwk)
        with Session(self.runtime.engine) as session:
            record, _ = clients.create_client(session=session, participant="did:web:bench",
                                              roles=["partner"], jwks={"keys": [jwk]})
        self.client_id = record.client_id
        command = [sys.executable, __file__, "--serve", str(port), "--data-dir",
                   str(self.data_dir)] + (["--database-url", database_url] if database_url
                                          else [])
        self.process = subprocess.Popen(command)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("server did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.runtime.close()
        self.tmp.cleanup()

    def assertion(self) -> str:
        now = int(time.time())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": self.base + "/oauth/token",
                  "iat": now, "exp": now + 120, "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})

    def token_form(self) -> dict[str, str]:
        return {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.assertion()}


def proof(key: ed25519.Ed25519PrivateKey, htm: str, htu: str, token: str | None = None) -> str:
    import base64
    import hashlib

    claims: dict[str, Any] = {"jti": uuid.uuid4().hex, "htm": htm, "htu": htu,
                              "iat": int(time.time())}
    if token:
        claims["ath"] = base64.urlsafe_b64encode(
            hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
    return jwt.encode(claims, key, algorithm="EdDSA",
                      headers={"typ": "dpop+jwt", "jwk": jwk_of(key)})


def run(requests: list[tuple[str, str, dict[str, Any]]], concurrency: int) -> float:
    """Send the prepared requests; return requests per second (every answer must be 2xx)."""
    chunks = [requests[i::concurrency] for i in range(concurrency)]

    def worker(chunk: list[tuple[str, str, dict[str, Any]]]) -> None:
        with httpx.Client(timeout=30) as http:
            for method, url, kwargs in chunk:
                response = http.request(method, url, **kwargs)
                if response.status_code >= 300:
                    raise SystemExit(f"{method} {url} -> {response.status_code} {response.text}")

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, chunks))
    return len(requests) / (time.perf_counter() - started)


def rounds(measure: dict[str, Callable[[], float]], count: int) -> dict[str, float]:
    """Interleave the measurements ``count`` times; keep each one's median."""
    results: dict[str, list[float]] = {name: [] for name in measure}
    for _ in range(count):
        for name, fn in measure.items():
            results[name].append(fn())
    return {name: statistics.median(values) for name, values in results.items()}


def scratch_schema(url: str | None) -> tuple[str | None, Callable[[], None]]:
    """On PostgreSQL, a fresh schema for this run (dropped afterwards), never ``public``."""
    if not url or not url.startswith("postgresql"):
        return url, lambda: None
    from urllib.parse import quote

    from sqlalchemy import create_engine, text

    schema = "bench_" + uuid.uuid4().hex[:12]
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--tokens", type=int, default=300, help="token requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.data_dir, args.database_url, args.serve)
        return

    database_url, drop_schema = scratch_schema(args.database_url)
    bench = Bench(database_url)
    try:
        me, open_ = bench.base + "/api/v1/me", bench.base + "/bench/me-open"
        token_url = bench.base + "/oauth/token"
        with httpx.Client() as http:
            bearer = http.post(token_url, data=bench.token_form()).json()["access_token"]
            dpop_key = ed25519.Ed25519PrivateKey.generate()
            dpop = http.post(token_url, data=bench.token_form(),
                             headers={"DPoP": proof(dpop_key, "POST", token_url)}
                             ).json()["access_token"]
        n, c = args.requests, args.concurrency

        def issue() -> float:
            return run([("POST", token_url, {"data": bench.token_form()})
                        for _ in range(args.tokens)], c)

        def issue_dpop() -> float:
            return run([("POST", token_url, {"data": bench.token_form(), "headers": {
                "DPoP": proof(dpop_key, "POST", token_url)}}) for _ in range(args.tokens)], c)

        def protected() -> float:
            return run([("GET", me, {"headers": {"Authorization": f"Bearer {bearer}"}})] * n, c)

        def protected_dpop() -> float:
            return run([("GET", me, {"headers": {"Authorization": f"DPoP {dpop}",
                                                 "DPoP": proof(dpop_key, "GET", me, dpop)}})
                        for _ in range(n)], c)

        def unprotected() -> float:
            return run([("GET", open_, {})] * n, c)

        rates = rounds({"open": unprotected, "bearer": protected, "dpop": protected_dpop,
                        "issue": issue, "issue_dpop": issue_dpop}, args.rounds)

        guard = bench.runtime.auth.guard
        presented = Presented(authorization=(f"Bearer {bearer}",), dpop=(), method="GET", url=me)
        started = time.perf_counter()
        for _ in range(2000):
            guard.authenticate(presented)
        in_process_us = (time.perf_counter() - started) / 2000 * 1e6
    finally:
        bench.close()
        drop_schema()

    db = args.database_url.split("+")[0] if args.database_url else "sqlite"
    print(f"auth benchmark ({db}, {args.concurrency} client threads, median of "
          f"{args.rounds} interleaved rounds)")
    print(f"  token issuance, private_key_jwt      {rates['issue']:8.0f} tokens/s")
    print(f"  token issuance, private_key_jwt+DPoP {rates['issue_dpop']:8.0f} tokens/s")
    print(f"  GET unprotected twin                 {rates['open']:8.0f} req/s  (baseline)")
    for name, label in (("bearer", "Bearer"), ("dpop", "DPoP  ")):
        ratio = rates[name] / rates["open"]
        extra_ms = (1 / rates[name] - 1 / rates["open"]) * 1000 * args.concurrency
        print(f"  GET /api/v1/me {label}                {rates[name]:8.0f} req/s  "
              f"ratio {ratio:.2f}  (+{extra_ms:.2f} ms per request)")
    print(f"  guard.authenticate in process        {in_process_us:8.0f} us per Bearer token")


if __name__ == "__main__":
    main()
