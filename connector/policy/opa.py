"""The OPA sidecar engine, over httpx.

Why httpx rather than opa-python-client: that client sits on ``requests`` with a urllib3 retry
adapter (a 2 s timeout can become several), drops OPA's ``decision_id`` that we join audit
entries on, and would add a second HTTP stack next to the one the connector already uses.
Here the REST calls are three (health, PUT policy, POST data), so the thin client is this file.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from connector.policy.engine import (
    Decision,
    parse_decision,
    policy_files,
    policy_revision,
    unavailable,
)

DECISION_PATH = "/v1/data/connector/decision"
COMBINED_POLICY_ID = "connector/policies.rego"
_PACKAGE = re.compile(r"^package\s+(\S+)\s*$", re.M)
_IMPORT = re.compile(r"^import\s+.*$", re.M)


def combined_module(files: list[Path]) -> str:
    """All policy files as one Rego module; they must share one package."""
    packages: set[str] = set()
    imports: list[str] = []
    bodies: list[str] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        packages.update(_PACKAGE.findall(text))
        for line in _IMPORT.findall(text):
            if line not in imports:
                imports.append(line)
        body = _IMPORT.sub("", _PACKAGE.sub("", text))
        bodies.append(f"# --- {path.name}\n{body.strip()}\n")
    if len(packages) != 1:
        raise OpaError(f"policy files must share one package, found {sorted(packages)}")
    return "\n".join([f"package {packages.pop()}", *imports, "", *bodies])


class OpaError(Exception):
    """OPA refused or could not be reached while loading policies."""


class OpaEngine:
    """Asks an OPA server for ``data.connector.decision``; any failure is a deny."""

    name = "opa"

    def __init__(self, url: str, policy_dir: Path, *, timeout: float = 2.0,
                 load_policies: bool = True, transport: httpx.BaseTransport | None = None,
                 ) -> None:
        self.url = url.rstrip("/")
        self.policy_dir = policy_dir
        self.revision = policy_revision(policy_dir)
        self._client = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        parsed = urlsplit(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise OpaError(f"OPA URL must be http(s)://host:port, got {self.url!r}")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port or (443 if self._https else 80)
        self._timeout = timeout
        self._local = threading.local()
        self._load_error: str | None = None
        if load_policies:
            try:
                self.load_policies()
            except OpaError as exc:
                self._load_error = str(exc)

    def load_policies(self) -> None:
        """Make OPA hold every policy file; raises ``OpaError`` on any failure.

        A file whose exact text OPA already holds (under any id, e.g. loaded from the command
        line by ``opa run --server policies/``) is not uploaded again: a second copy of the same
        rules under another id would conflict with the first.
        """
        try:
            listing = self._client.get("/v1/policies")
        except httpx.HTTPError as exc:
            raise OpaError(f"OPA at {self.url} unreachable: {type(exc).__name__}") from exc
        if listing.status_code != 200:
            raise OpaError(f"OPA at {self.url} refused to list policies: "
                           f"HTTP {listing.status_code}")
        loaded = {item.get("raw") for item in listing.json().get("result", [])
                  if isinstance(item, dict)}
        files = policy_files(self.policy_dir)
        if all(p.read_text(encoding="utf-8") in loaded for p in files):
            self._load_error = None
            return
        # OPA compiles on every PUT and our modules use each other's rules, so they go in as
        # one module (same package, imports hoisted): no order of single PUTs would compile.
        error = self._put_policy(COMBINED_POLICY_ID, combined_module(files))
        if error:
            raise OpaError(f"OPA refused the policies: {error}")
        self._load_error = None

    def _put_policy(self, policy_id: str, module: str) -> str | None:
        try:
            resp = self._client.put(f"/v1/policies/{policy_id}", content=module.encode(),
                                    headers={"Content-Type": "text/plain"})
        except httpx.HTTPError as exc:
            raise OpaError(f"OPA at {self.url} unreachable: {type(exc).__name__}") from exc
        if resp.status_code != 200:
            return f"HTTP {resp.status_code} {resp.text[:300]}"
        return None

    def decide(self, input_doc: Mapping[str, Any]) -> Decision:
        """POST the input to OPA; errors, timeouts and undefined results are denies."""
        if self._load_error:
            # Policies may have failed to load because OPA started after us: try once more.
            try:
                self.load_policies()
            except OpaError as exc:
                return unavailable(self.name, self.revision, str(exc))
        try:
            status, raw = self._post_decision(json.dumps({"input": dict(input_doc)}).encode())
        except TimeoutError:
            return unavailable(self.name, self.revision, "OPA timed out")
        except (OSError, http.client.HTTPException) as exc:
            return unavailable(self.name, self.revision, f"OPA unreachable: {type(exc).__name__}")
        if status != 200:
            return unavailable(self.name, self.revision, f"OPA answered HTTP {status}")
        try:
            body = json.loads(raw)
        except ValueError:
            return unavailable(self.name, self.revision, "OPA answered invalid JSON")
        if not isinstance(body, dict):
            return unavailable(self.name, self.revision, "OPA answered a non-object")
        decision_id = body.get("decision_id")
        if not isinstance(decision_id, str):
            decision_id = str(uuid.uuid4())
        return parse_decision(body.get("result"), engine=self.name, revision=self.revision,
                              decision_id=decision_id)

    def _post_decision(self, payload: bytes) -> tuple[int, bytes]:
        """One POST on this thread's keep-alive connection (a stale one is reopened once).

        The standard library's client costs a fraction of httpx's per request, and this is the
        path every decision takes; policy loading and health checks stay on httpx.
        """
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                factory = (http.client.HTTPSConnection if self._https
                           else http.client.HTTPConnection)
                conn = factory(self._host, self._port, timeout=self._timeout)
                self._local.conn = conn
            try:
                conn.request("POST", DECISION_PATH, payload,
                             {"Content-Type": "application/json"})
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError, http.client.CannotSendRequest):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
            except BaseException:
                conn.close()
                self._local.conn = None
                raise
        raise AssertionError("unreachable")

    def ready(self) -> str | None:
        """None when OPA is healthy and holds our policies; else what is wrong."""
        try:
            resp = self._client.get("/health")
        except httpx.HTTPError as exc:
            return f"OPA at {self.url} unreachable ({type(exc).__name__})"
        if resp.status_code != 200:
            return f"OPA at {self.url} unhealthy (HTTP {resp.status_code})"
        if self._load_error:
            try:
                self.load_policies()
            except OpaError as exc:
                return str(exc)
        return None

    def close(self) -> None:
        """Close the HTTP connection pool (and this thread's decision connection)."""
        self._client.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
