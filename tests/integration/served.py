"""A connector under uvicorn on a real port, for tests that need real HTTP between instances."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn

from connector.app import create_app
from connector.runtime import Runtime


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
