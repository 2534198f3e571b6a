"""Policy decision cost: embedded engine, OPA sidecar through our client, raw HTTP to OPA.

    python scripts/bench/policy.py [--n 2000] [--opa-url URL] [--case NAME]

Without --opa-url it starts OPA (OPA_BIN or ~/.cache/dodata/bin/opa) on a free loopback port.
Prints median and p99 per decision and decisions per second for each, next to two baselines
measured in the same run: raw HTTP to OPA for a one-line policy (loaded under its own package,
so the connector's policies are untouched) and the embedded engine over a one-line policy.
The engines are measured in interleaved rounds, so a machine that gets busier or quieter during
the run affects all of them alike and the ratios to the baselines stay meaningful.
Goals: embedded <= 400 us, sidecar <= 1.5 ms median.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector.policy.embedded import EmbeddedEngine
from connector.policy.opa import OpaEngine

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
TRIVIAL_PACKAGE = "dodata_bench_trivial"
TRIVIAL_OPA_POLICY = f"package {TRIVIAL_PACKAGE}\n\nallow := true\n"
TRIVIAL_EMBEDDED_POLICY = ('package connector\n\ndecision := {"allow": true, "reasons": [], '
                           '"obligations": []}\n')
ROUNDS = 10


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted((POLICIES / "cases").glob("*.json")):
        cases.extend(json.loads(path.read_text())[path.stem])
    return cases


def pick_case(name: str | None) -> dict[str, Any]:
    cases = load_cases()
    if name:
        for case in cases:
            if case["name"] == name:
                return case
        raise SystemExit(f"no case named {name!r}")
    # The default: the first allowed case of combined.json (every constraint present and met).
    return next(c for c in cases if c["name"].startswith("combined/") and c["expected"]["allow"])


def measure(fns: dict[str, Callable[[], Any]], n: int) -> dict[str, dict[str, float]]:
    """n timed calls of each function, in ROUNDS interleaved rounds after a warm-up."""
    for fn in fns.values():
        for _ in range(min(200, n)):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    busy: dict[str, float] = dict.fromkeys(fns, 0.0)
    per_round = max(1, n // ROUNDS)
    for _ in range(ROUNDS):
        for name, fn in fns.items():
            out = samples[name]
            start = time.perf_counter()
            for _ in range(per_round):
                t0 = time.perf_counter_ns()
                fn()
                out.append((time.perf_counter_ns() - t0) / 1000)
            busy[name] += time.perf_counter() - start
    results = {}
    for name, values in samples.items():
        values.sort()
        results[name] = {"median_us": statistics.median(values),
                         "p99_us": values[int(len(values) * 0.99)],
                         "per_s": len(values) / busy[name]}
    return results


def start_opa() -> tuple[subprocess.Popen[bytes], str]:
    binary = os.environ.get("OPA_BIN", str(Path.home() / ".cache/dodata/bin/opa"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "run", "--server", "--addr", f"127.0.0.1:{port}",
                             "--log-level", "error"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("OPA did not start")


def raw_poster(url: str, path: str, body: str) -> Callable[[], None]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))

    def post() -> None:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        payload = resp.read()
        if resp.status != 200 or b'"result"' not in payload:
            raise SystemExit(f"OPA answered {resp.status} {payload[:200]!r} for {path}")

    return post


def put_trivial_policy(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    conn.request("PUT", f"/v1/policies/{TRIVIAL_PACKAGE}", TRIVIAL_OPA_POLICY,
                 {"Content-Type": "text/plain"})
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise SystemExit(f"OPA refused the one-line policy: {resp.status} {body[:200]!r}")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--opa-url")
    parser.add_argument("--case", help="name of a policies/cases case (default: an allowed one)")
    args = parser.parse_args()
    proc = None
    url = args.opa_url
    if not url:
        proc, url = start_opa()
    try:
        case = pick_case(args.case)
        doc = case["input"]
        embedded = EmbeddedEngine(POLICIES)
        sidecar = OpaEngine(url, POLICIES)
        expected = case["expected"]
        for engine in (embedded, sidecar):
            got = engine.decide(doc).as_dict()
            if {k: got[k] for k in expected} != expected:
                raise SystemExit(f"{engine.name} does not decide {case['name']} as expected")
        put_trivial_policy(url)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "trivial.rego").write_text(TRIVIAL_EMBEDDED_POLICY)
            trivial_embedded = EmbeddedEngine(Path(tmp))
        if trivial_embedded.ready() is not None:
            raise SystemExit(f"one-line policy: {trivial_embedded.ready()}")
        body = json.dumps({"input": doc})
        fns: dict[str, Callable[[], Any]] = {
            "raw HTTP to OPA, one-line policy": raw_poster(
                url, f"/v1/data/{TRIVIAL_PACKAGE}/allow", body),
            "raw HTTP to OPA": raw_poster(url, "/v1/data/connector/decision", body),
            "OPA sidecar via OpaEngine": lambda: sidecar.decide(doc),
            "embedded, one-line policy": lambda: trivial_embedded.decide(doc),
            "embedded (regopy)": lambda: embedded.decide(doc),
        }
        results = measure(fns, args.n)
        http_floor = results["raw HTTP to OPA, one-line policy"]["median_us"]
        embedded_floor = results["embedded, one-line policy"]["median_us"]
        print(f"policy decisions, n={args.n} each in {ROUNDS} interleaved rounds, "
              f"input of case {case['name']} (allow={expected['allow']})")
        print(f"{'engine':34} {'median':>9} {'p99':>9} {'per s':>7} {'vs baseline':>12}")
        for name, r in results.items():
            floor = embedded_floor if name.startswith("embedded") else http_floor
            print(f"{name:34} {r['median_us']:7.0f}us {r['p99_us']:7.0f}us {r['per_s']:7.0f} "
                  f"{r['median_us'] / floor:11.2f}x")
        emb = results["embedded (regopy)"]["median_us"]
        side = results["OPA sidecar via OpaEngine"]["median_us"]
        raw = results["raw HTTP to OPA"]["median_us"]
        print(f"OPA evaluation over HTTP: {raw - http_floor:.0f}us above the one-line policy; "
              f"our client adds {side - raw:.0f}us over raw HTTP")
        print(f"goal embedded <= 400us median: {'met' if emb <= 400 else 'NOT met'} ({emb:.0f}us)")
        print(f"goal sidecar <= 1500us median: {'met' if side <= 1500 else 'NOT met'} "
              f"({side:.0f}us; a one-line policy over raw HTTP costs {http_floor:.0f}us here)")
        sidecar.close()
    finally:
        if proc:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
