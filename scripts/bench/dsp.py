"""DSP benchmarks: ``streaming`` (data plane vs nginx) and ``negotiations`` (per second).

    python scripts/bench/dsp.py                  # all parts, default sizes
    python scripts/bench/dsp.py streaming [--size-mb 1024] [--rounds 3] [--chunk-bytes N]
    python scripts/bench/dsp.py negotiations [--count 200] [--concurrency 4]

``streaming`` serves a --size-mb file from ``connector serve`` (own process, SQLite, fixed DSP
identity) as a pull transfer asked for over DSP, fetched by ``curl -o /dev/null`` through
``GET /data/{id}`` (token check, policy decision, SHA-256 of every byte, audit entry). Baseline,
interleaved round by round: the same file from nginx (``sendfile on``), or Python's http.server
with ``socket.sendfile`` without nginx. Prints both medians, the ratio (goal >= 70 %), peak RSS
(VmHWM) and SHA-256 over the file in memory: the ceiling of a data plane hashing on one core.

``negotiations`` starts provider and consumer as two ``connector serve`` processes (each its
own data dir, SQLite, keys, port; the ``fixed`` DSP identity scheme names each to the other)
with an auto-agree offer on the provider, then --count negotiations through the consumer's
management API, --concurrency in flight, each polled on the consumer until it ends. Rate: those
FINALIZED on both sides (the provider's state read from its database) per second of wall time.
Baseline, in the same run just before and after (their mean): DSP catalog requests per second
to the provider (same identity and concurrency), one authenticated DSP round trip with a
database read; the ratio says how many of those one negotiation costs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import Session

from connector.auth import clients
from connector.catalog.models import Dataset, Offer
from connector.config import Settings
from connector.negotiation.models import Agreement
from connector.policy.odrl import normalise_policy
from connector.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
CONSUMER = "did:web:bench-consumer.example"
PROVIDER = "did:web:bench-provider.example"
CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
NGINX_CONF = """daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
{user}
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {dir}/nginx-body; proxy_temp_path {dir}/nginx-proxy;
    fastcgi_temp_path {dir}/nginx-fastcgi; uwsgi_temp_path {dir}/nginx-uwsgi;
    scgi_temp_path {dir}/nginx-scgi;
    server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


def write_file(path: Path, size_mb: int) -> None:
    block = os.urandom(1024 * 1024)
    with path.open("wb") as handle:
        for _ in range(size_mb):
            handle.write(block)
    path.chmod(0o644)


def curl(url: str, headers: dict[str, str], size: int) -> float:
    """Seconds for one GET of ``size`` bytes, body discarded."""
    args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download} %{http_code}", url]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    start = time.perf_counter()
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - start
    got, status = out.split()
    if status != "200" or int(got) != size:
        raise SystemExit(f"GET {url} answered {status} with {got} bytes")
    return elapsed


class _SendfileHandler(SimpleHTTPRequestHandler):
    def copyfile(self, source: Any, outputfile: Any) -> None:
        self.connection.sendfile(source)

    def log_message(self, *args: Any) -> None:
        pass


def start_baseline(root: Path, work: Path) -> tuple[str, str, Any]:
    """nginx when installed, else http.server with sendfile: (name, base URL, stopper)."""
    port = free_port()
    nginx = shutil.which("nginx", path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin")
    if nginx:
        conf = work / "nginx.conf"
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(NGINX_CONF.format(dir=work, port=port, root=root, user=user))
        proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(work)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)
        version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
        return version, f"http://127.0.0.1:{port}", proc.terminate
    handler = lambda *a: _SendfileHandler(*a, directory=str(root))  # noqa: E731
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return "python http.server + sendfile", f"http://127.0.0.1:{port}", server.shutdown


def serve_env(data_dir: Path, port: int, **settings: str) -> dict[str, str]:
    """A ``connector serve`` child's environment: ours without CONNECTOR_*, plus ``settings``."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    return {**inherited, "CONNECTOR_DATA_DIR": str(data_dir),
            "CONNECTOR_PUBLIC_URL": f"http://127.0.0.1:{port}", "CONNECTOR_LOG_LEVEL": "WARNING",
            **{f"CONNECTOR_{name.upper()}": value for name, value in settings.items()}}


def serve(data_dir: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``connector serve`` as a child process, listening; its stderr goes to serve.log."""
    with (data_dir / "serve.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "connector", "serve", "--port", str(port),
                                 "--data-dir", str(data_dir)], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_port(port)
    finally:
        if proc.poll() is not None:
            print((data_dir / "serve.log").read_text()[-3000:], file=sys.stderr)
    return proc


@contextmanager
def database(data_dir: Path) -> Iterator[Session]:
    """A session on the database in ``data_dir`` (migrated first), committed at the end."""
    runtime = Runtime.start(Settings(data_dir=data_dir))
    try:
        with Session(runtime.engine) as session:
            yield session
            session.commit()
    finally:
        runtime.close()


def seed(data_dir: Path, file_name: str) -> None:
    """A dataset on the file and an agreement for the bench consumer."""
    odrl = {"@id": "urn:agreement:bench", "@type": "Agreement", "target": "urn:dataset:bench",
            "assigner": "did:web:dodata.example", "assignee": CONSUMER,
            "permission": [{"action": "use"}]}
    with database(data_dir) as session:
        session.add(Dataset(id="urn:dataset:bench", title="bench", owner="did:web:dew21.example",
                            personal_data=False, source_kind="file", source=file_name,
                            media_type="application/octet-stream"))
        session.add(Agreement(id="urn:agreement:bench", role="provider",
                              dataset_id="urn:dataset:bench", assigner="did:web:dodata.example",
                              assignee=CONSUMER, odrl=odrl, normalised=normalise_policy(odrl)))


def start_transfer(base: str, data_dir: Path) -> tuple[str, str]:
    """Ask for a pull transfer over DSP; return its data endpoint and token (from the outbox)."""
    resp = httpx.post(f"{base}/dsp/2025-1/transfers/request", headers={
        "Authorization": "Bearer bench"}, json={
        "@context": [CONTEXT], "@type": "TransferRequestMessage",
        "consumerPid": f"urn:uuid:{uuid.uuid4()}", "agreementId": "urn:agreement:bench",
        "format": "HttpData-PULL", "callbackAddress": "http://127.0.0.1:9/dsp/2025-1"})
    resp.raise_for_status()
    pid = resp.json()["providerPid"]
    with sqlite3.connect(data_dir / "connector.db") as db:
        (body,) = db.execute("SELECT body FROM outbox WHERE process_id = ?", (pid,)).fetchone()
    address = json.loads(body)["dataAddress"]
    props = {p["name"]: p["value"] for p in address["endpointProperties"]}
    return address["endpoint"], props["authorization"]


def rss_kib(pid: int, field: str) -> int:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next((int(line.split()[1]) for line in lines if line.startswith(field + ":")), 0)


def hash_ceiling(path: Path) -> float:
    """MB/s of SHA-256 over the file read in 1 MiB blocks (the page cache is warm)."""
    digest = hashlib.sha256()
    start = time.perf_counter()
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return path.stat().st_size / 1e6 / (time.perf_counter() - start)


def streaming(size_mb: int, rounds: int, chunk: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="dodata-bench-"))
    data_dir = work / "data"
    data_dir.mkdir()
    work.chmod(0o755)
    data_dir.chmod(0o755)  # nginx's workers read it
    proc, stop_baseline = None, None
    try:
        write_file(data_dir / "big.bin", size_mb)
        seed(data_dir, "big.bin")
        name, baseline, stop_baseline = start_baseline(data_dir, work)
        port = free_port()
        proc = serve(data_dir, port, serve_env(
            data_dir, port, dsp_identity='["fixed"]', dsp_callback_delay="60",
            dsp_fixed_credentials=json.dumps({"Bearer bench": CONSUMER}),
            transfer_chunk_bytes=str(chunk)))
        idle = rss_kib(proc.pid, "VmRSS")
        endpoint, token = start_transfer(f"http://127.0.0.1:{port}", data_dir)
        size = size_mb * 1024 * 1024
        ours, theirs = list[float](), list[float]()
        curl(f"{baseline}/big.bin", {}, size)  # warm the page cache
        for _ in range(rounds):
            for url, auth, out in ((f"{baseline}/big.bin", {}, theirs),
                                   (endpoint, {"Authorization": f"Bearer {token}"}, ours)):
                out.append(size / 1e6 / curl(url, auth, size))
        peak = rss_kib(proc.pid, "VmHWM")
        ceiling = hash_ceiling(data_dir / "big.bin")
        connector_mbs, baseline_mbs = statistics.median(ours), statistics.median(theirs)
        print(f"== streaming: {size_mb} MiB file, {rounds} rounds, chunk {chunk} bytes")
        print(f"baseline ({name}):        {baseline_mbs:8.0f} MB/s")
        print(f"connector data plane:     {connector_mbs:8.0f} MB/s "
              f"(rounds: {', '.join(f'{x:.0f}' for x in ours)})")
        print(f"ratio:                    {connector_mbs / baseline_mbs:8.1%}  (goal >= 70 %)")
        print(f"SHA-256 ceiling here:     {ceiling:8.0f} MB/s (one core; the data plane hashes "
              f"every byte: {connector_mbs / ceiling:.0%} of it)")
        print(f"connector RSS:            idle {idle / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB "
              f"while streaming {size_mb} MiB")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if stop_baseline is not None:
            stop_baseline()
        shutil.rmtree(work, ignore_errors=True)


def provision(provider_dir: Path, consumer_dir: Path) -> tuple[str, Any]:
    """An auto-agree offer on the provider; an API client on the consumer (its id and key)."""
    odrl = {"@id": "urn:offer:bench", "@type": "Offer", "permission": [{"action": "use"}]}
    with database(provider_dir) as session:
        session.add(Dataset(id="urn:dataset:bench", title="bench", owner="did:web:dew21.example",
                            personal_data=False))
        session.add(Offer(id="urn:offer:bench", dataset_id="urn:dataset:bench", odrl=odrl,
                          normalised=normalise_policy(odrl), mode="auto"))
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    with database(consumer_dir) as session:
        record, _ = clients.create_client(session=session, participant="did:web:analyst.example",
                                          roles=["partner"], jwks={"keys": [jwk]})
    return record.client_id, key


def api_token(base: str, client_id: str, key: Any) -> str:
    """A management API access token (client credentials, private_key_jwt)."""
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": f"{base}/oauth/token", "iat": now,
              "exp": now + 60, "jti": uuid.uuid4().hex}
    resp = httpx.post(f"{base}/oauth/token", data={
        "grant_type": "client_credentials", "client_assertion": jwt.encode(claims, key, "ES256"),
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
    token = str(resp.raise_for_status().json()["access_token"])
    # One use before the concurrent ones: those race in a fresh server's key cache (a 401).
    httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    return token


def run_all(count: int, concurrency: int, task: Any) -> tuple[float, list[Any]]:
    """Seconds for ``task(client, i)`` over ``range(count)``, ``concurrency`` at a time."""
    local = threading.local()

    def call(i: int) -> Any:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=30)
        return task(local.client, i)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(call, range(count)))
    return time.perf_counter() - start, results


def negotiations(count: int, concurrency: int, poll: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="dodata-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        dirs = {side: work / side for side in ("provider", "consumer")}  # made by provision()
        client_id, key = provision(dirs["provider"], dirs["consumer"])
        ports = {side: free_port() for side in dirs}
        provider, consumer = (f"http://127.0.0.1:{ports[side]}" for side in dirs)
        for side, me, peer, mine, theirs in (("provider", PROVIDER, CONSUMER, "b", "a"),
                                             ("consumer", CONSUMER, PROVIDER, "a", "b")):
            procs.append(serve(dirs[side], ports[side], serve_env(
                dirs[side], ports[side], participant_id=me, dsp_identity='["fixed"]',
                dsp_fixed_credentials=json.dumps({f"Bearer {theirs}-token": peer}),
                dsp_fixed_outgoing=f"Bearer {mine}-token", dsp_callback_delay="0")))
        headers = {"Authorization": "Bearer " + api_token(consumer, client_id, key)}
        start_body = {"counterparty_address": provider + "/dsp/2025-1", "provider_id": PROVIDER,
                      "offer_id": "urn:offer:bench", "dataset_id": "urn:dataset:bench"}
        catalog = {"@context": [CONTEXT], "@type": "CatalogRequestMessage"}
        calls = max(count * 2, 200)

        def ask(client: Any, _: int) -> None:
            client.post(f"{provider}/dsp/2025-1/catalog/request", json=catalog,
                        headers={"Authorization": "Bearer a-token"}).raise_for_status()

        def negotiate(client: Any, _: int) -> tuple[str, str | None, float]:
            started = time.perf_counter()
            row = client.post(f"{consumer}/api/v1/negotiations", headers=headers,
                              json=start_body).json()
            if "state" not in row:
                raise SystemExit(f"starting a negotiation: {row}")
            while row["state"] not in ("FINALIZED", "TERMINATED") and \
                    time.perf_counter() < started + 120:
                time.sleep(poll)
                row = client.get(f"{consumer}/api/v1/negotiations/{row['id']}",
                                 headers=headers).json()
            return row["state"], row.get("provider_pid"), time.perf_counter() - started

        before = calls / run_all(calls, concurrency, ask)[0]
        elapsed, results = run_all(count, concurrency, negotiate)
        after = calls / run_all(calls, concurrency, ask)[0]
        pids = [pid for state, pid, _ in results if state == "FINALIZED" and pid]
        with sqlite3.connect(dirs["provider"] / "connector.db") as db:
            (both,) = db.execute("SELECT count(*) FROM negotiation WHERE state = 'FINALIZED' "
                                 f"AND id IN ({','.join('?' * len(pids))})", pids).fetchone()
        rate, baseline = both / elapsed, (before + after) / 2
        latency = sorted(seconds for *_, seconds in results)
        print(f"== negotiations: {count} via the consumer's API, {concurrency} in flight, polled "
              f"every {poll * 1000:.0f} ms; {both} FINALIZED on both sides in {elapsed:.1f} s")
        print(f"negotiations:             {rate:8.2f} /s  (latency median "
              f"{statistics.median(latency) * 1000:.0f} ms, max {latency[-1] * 1000:.0f} ms)")
        print(f"baseline DSP catalog:     {baseline:8.1f} /s  (before {before:.0f}, after "
              f"{after:.0f}; {calls} requests each)")
        print(f"ratio:                    {rate / baseline:8.2%}  (a negotiation costs "
              f"{baseline / max(rate, 1e-9):.1f} catalog round trips)")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="part")
    stream = sub.add_parser("streaming", help="data plane throughput vs nginx")
    stream.add_argument("--size-mb", type=int, default=1024)
    stream.add_argument("--rounds", type=int, default=3)
    stream.add_argument("--chunk-bytes", type=int, default=4_194_304)  # the service default
    nego = sub.add_parser("negotiations", help="negotiations finalized per second")
    nego.add_argument("--count", type=int, default=200)
    nego.add_argument("--concurrency", type=int, default=4)
    nego.add_argument("--poll-ms", type=float, default=50.0)
    sub.add_parser("all", help="every part with its defaults (also: no part given)")
    args = parser.parse_args()
    if args.part in ("streaming", "all", None):
        got = args if args.part == "streaming" else stream.parse_args([])
        streaming(got.size_mb, got.rounds, got.chunk_bytes)
    if args.part in ("negotiations", "all", None):
        got = args if args.part == "negotiations" else nego.parse_args([])
        negotiations(got.count, got.concurrency, got.poll_ms / 1000)


if __name__ == "__main__":
    main()
