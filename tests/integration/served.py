"""A connector under uvicorn on a real port, for tests that need real HTTP between instances."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import uvicorn
from sqlmodel import Session

from connector.app import create_app
from connector.auth import clients
from connector.runtime import Runtime
from tests.integration.auth_kit import ASSERTION_TYPE, Key, assertion


@dataclass
class Served:
    """A connector under uvicorn on a real port."""

    base: str
    runtime: Runtime
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def dsp(self) -> str:
        return self.base + "/dsp/2025-1"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.runtime.close()


def listen(app: Any, port: int, *, lifespan: Literal["on", "off"] = "on") -> tuple[uvicorn.Server,
                                                                 threading.Thread]:
    """Serve the ASGI ``app`` on loopback ``port`` in a thread; return once it listens."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           lifespan=lifespan, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    return server, thread


def start(runtime: Runtime, base: str, port: int) -> Served:
    """Serve ``runtime``'s app on ``port`` (lifespan on) and wait until it listens."""
    server, thread = listen(create_app(runtime=runtime), port)
    return Served(base, runtime, server, thread)


def served_headers(served: Served, roles: list[str], participant: str) -> dict[str, str]:
    """A management API bearer token from a served connector's own token endpoint."""
    key = Key.es256()
    with Session(served.runtime.engine) as session:
        record, _ = clients.create_client(session=session, participant=participant,
                                          roles=roles, jwks=key.jwks())
    token_url = served.base + "/oauth/token"
    resp = httpx.post(token_url, data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(key, record.client_id, aud=token_url)})
    assert resp.status_code == 200, resp.text
    return {"Authorization": "Bearer " + resp.json()["access_token"]}
