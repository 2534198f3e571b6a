"""DSP benchmarks. Part ``streaming``: one large file pulled through the data plane vs nginx.

    python scripts/bench/dsp.py streaming [--size-mb 1024] [--rounds 3] [--chunk-bytes N]

Writes a file of --size-mb into a fresh data dir, starts ``connector serve`` (SQLite, fixed DSP
identity) as its own process, asks it for a pull transfer over DSP, and pulls the file with
``curl -o /dev/null`` through ``GET /data/{id}`` (token check, policy decision, SHA-256 of every
byte, audit entry). The baseline, in the same run and interleaved round by round, is the same
file served by nginx (``sendfile on``; Debian package ``nginx``) on another loopback port, or by
Python's http.server with ``socket.sendfile`` when nginx is not installed. Prints the median
throughput of both, the ratio (goal >= 70 %), the connector's peak RSS (VmHWM), and — as the
ceiling no hashing data plane can pass on this machine — SHA-256 over the file in memory.
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
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONSUMER = "did:web:bench-consumer.example"
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
    client_body_temp_path {dir}/nginx-body;
    proxy_temp_path {dir}/nginx-proxy;
    fastcgi_temp_path {dir}/nginx-fastcgi;
    uwsgi_temp_path {dir}/nginx-uwsgi;
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


def curl(url: str, headers: dict[str, str]) -> tuple[float, int]:
    """Seconds and bytes for one GET, body discarded."""
    args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download} %{http_code}", url]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    start = time.perf_counter()
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - start
    size, status = out.split()
    if status != "200":
        raise SystemExit(f"GET {url} answered {status}")
    return elapsed, int(size)


class _SendfileHandler(SimpleHTTPRequestHandler):
    def copyfile(self, source: Any, outputfile: Any) -> None:
        self.connection.sendfile(source)

    def log_message(self, *args: Any) -> None:
        pass


def start_baseline(root: Path, work: Path) -> tuple[str, str, Any]:
    """nginx when installed, else http.server with sendfile: (name, base URL, stopper)."""
    port = free_port()
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
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


def connector_env(data_dir: Path, port: int, chunk: int) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    return {**inherited, "CONNECTOR_DATA_DIR": str(data_dir),
            "CONNECTOR_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "CONNECTOR_DSP_IDENTITY": '["fixed"]',
            "CONNECTOR_DSP_FIXED_CREDENTIALS": json.dumps({"Bearer bench": CONSUMER}),
            "CONNECTOR_DSP_CALLBACK_DELAY": "60", "CONNECTOR_LOG_LEVEL": "WARNING",
            "CONNECTOR_TRANSFER_CHUNK_BYTES": str(chunk)}


def seed(data_dir: Path, file_name: str) -> None:
    """A dataset on the file and an agreement for the bench consumer (migrating first)."""
    from sqlmodel import Session

    from connector.catalog.models import Dataset
    from connector.config import Settings
    from connector.negotiation.models import Agreement
    from connector.policy.odrl import normalise_policy
    from connector.runtime import Runtime

    runtime = Runtime.start(Settings(data_dir=data_dir))
    odrl = {"@id": "urn:agreement:bench", "@type": "Agreement", "target": "urn:dataset:bench",
            "assigner": "did:web:dodata.example", "assignee": CONSUMER,
            "permission": [{"action": "use"}]}
    with Session(runtime.engine) as session:
        session.add(Dataset(id="urn:dataset:bench", title="bench", owner="did:web:dew21.example",
                            personal_data=False, source_kind="file", source=file_name,
                            media_type="application/octet-stream"))
        session.add(Agreement(id="urn:agreement:bench", role="provider",
                              dataset_id="urn:dataset:bench", assigner="did:web:dodata.example",
                              assignee=CONSUMER, odrl=odrl, normalised=normalise_policy(odrl)))
        session.commit()
    runtime.close()


def start_transfer(base: str, data_dir: Path) -> tuple[str, str]:
    """Ask for a pull transfer over DSP; return its data endpoint and token (from the outbox)."""
    import httpx

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
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


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
    work.chmod(0o755)
    data_dir = work / "data"
    data_dir.mkdir()
    data_dir.chmod(0o755)
    proc = None
    stop_baseline = None
    try:
        write_file(data_dir / "big.bin", size_mb)
        seed(data_dir, "big.bin")
        name, baseline, stop_baseline = start_baseline(data_dir, work)
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "connector", "serve", "--port", str(port),
             "--data-dir", str(data_dir)], env=connector_env(data_dir, port, chunk), cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)
        idle = rss_kib(proc.pid, "VmRSS")
        endpoint, token = start_transfer(f"http://127.0.0.1:{port}", data_dir)
        size = size_mb * 1024 * 1024
        ours: list[float] = []
        theirs: list[float] = []
        curl(f"{baseline}/big.bin", {})  # warm the page cache
        for _ in range(rounds):
            elapsed, got = curl(f"{baseline}/big.bin", {})
            assert got == size
            theirs.append(size / 1e6 / elapsed)
            elapsed, got = curl(endpoint, {"Authorization": f"Bearer {token}"})
            assert got == size
            ours.append(size / 1e6 / elapsed)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    stream = sub.add_parser("streaming", help="data plane throughput vs nginx")
    stream.add_argument("--size-mb", type=int, default=1024)
    stream.add_argument("--rounds", type=int, default=3)
    stream.add_argument("--chunk-bytes", type=int, default=1_048_576)
    args = parser.parse_args()
    if args.part == "streaming":
        streaming(args.size_mb, args.rounds, args.chunk_bytes)


if __name__ == "__main__":
    main()
