"""The OPA sidecar engine, over httpx.

Why httpx rather than opa-python-client: that client sits on ``requests`` with a urllib3 retry
adapter (a 2 s timeout can become several), drops OPA's ``decision_id`` that we join audit
entries on, and would add a second HTTP stack next to the one the connector already uses.
Here the REST calls are three (health, PUT policy, POST data), so the thin client is this file.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from connector.policy.engine import (
    Decision,
    parse_decision,
    policy_files,
    policy_revision,
    unavailable,
)

DECISION_PATH = "/v1/data/connector/decision"
POLICY_ID_PREFIX = "connector/"


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
        for path in policy_files(self.policy_dir):
            raw = path.read_text(encoding="utf-8")
            if raw in loaded:
                continue
            policy_id = POLICY_ID_PREFIX + path.relative_to(self.policy_dir).as_posix()
            try:
                resp = self._client.put(f"/v1/policies/{policy_id}", content=raw.encode(),
                                        headers={"Content-Type": "text/plain"})
            except httpx.HTTPError as exc:
                raise OpaError(f"OPA at {self.url} unreachable: {type(exc).__name__}") from exc
            if resp.status_code != 200:
                raise OpaError(f"OPA refused {path.name}: HTTP {resp.status_code} "
                               f"{resp.text[:300]}")
        self._load_error = None

    def decide(self, input_doc: Mapping[str, Any]) -> Decision:
        """POST the input to OPA; errors, timeouts and undefined results are denies."""
        if self._load_error:
            # Policies may have failed to load because OPA started after us: try once more.
            try:
                self.load_policies()
            except OpaError as exc:
                return unavailable(self.name, self.revision, str(exc))
        try:
            resp = self._client.post(DECISION_PATH, json={"input": dict(input_doc)})
        except httpx.TimeoutException:
            return unavailable(self.name, self.revision, "OPA timed out")
        except httpx.HTTPError as exc:
            return unavailable(self.name, self.revision, f"OPA unreachable: {type(exc).__name__}")
        if resp.status_code != 200:
            return unavailable(self.name, self.revision, f"OPA answered HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            return unavailable(self.name, self.revision, "OPA answered invalid JSON")
        if not isinstance(body, dict):
            return unavailable(self.name, self.revision, "OPA answered a non-object")
        decision_id = body.get("decision_id")
        if not isinstance(decision_id, str):
            decision_id = str(uuid.uuid4())
        return parse_decision(body.get("result"), engine=self.name, revision=self.revision,
                              decision_id=decision_id)

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
        """Close the HTTP connection pool."""
        self._client.close()
