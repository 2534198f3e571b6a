"""Real HTTP servers for the transfer tests: a recording :class:`Receiver` (another connector,
a push endpoint or an HTTP origin) and a connector served by uvicorn (and the helpers' tests)."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send

from connector.dsp import DSP_CONTEXT
from connector.runtime import Runtime
from tests.integration.auth_kit import free_port
from tests.integration.served import Served, start
from tests.integration.served import served_headers as served_headers
from tests.integration.test_transfer_kit import settings, wait_for


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    size: int
    sha256: str
    json: Any = None


@dataclass
class Receiver:
    """A tiny HTTP server on a real port: records what arrives, hashing bodies as they stream.

    DSP requests get 200 + a ``TransferProcess``; ``/transfers/request`` invents a providerPid.
    A GET gets ``content`` (one ``bytes=a-b`` range honoured: an HTTP origin). ``status``
    answers every request with that status instead (a failing endpoint).
    """

    base: str = ""
    received: list[Received] = field(default_factory=list)
    status: int = 200
    content: bytes = b""
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        digest, size, chunks = hashlib.sha256(), 0, []
        while True:
            message = await receive()
            body = message.get("body", b"")
            digest.update(body)
            size += len(body)
            if size <= 65536:
                chunks.append(body)
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        parsed = None
        if size <= 65536 and "json" in headers.get("content-type", ""):
            parsed = json.loads(b"".join(chunks) or b"null")
        self.received.append(Received(scope["method"], scope["path"], headers, size,
                                      digest.hexdigest(), parsed))
        reply, status, extra = b"", self.status, []
        if status == 200 and scope["method"] == "GET":
            reply = self.content
            first, _, last = headers.get("range", "").removeprefix("bytes=").partition("-")
            if first.isdigit() and last.isdigit():
                status, reply = 206, self.content[int(first):int(last) + 1]
                extra = [(b"content-range",
                          f"bytes {first}-{last}/{len(self.content)}".encode())]
        elif status == 200 and isinstance(parsed, dict) and "consumerPid" in parsed:
            reply = json.dumps({"@context": [DSP_CONTEXT], "@type": "TransferProcess",
                                "providerPid": parsed.get("providerPid") or
                                f"urn:uuid:{uuid.uuid4()}",
                                "consumerPid": parsed["consumerPid"],
                                "state": "REQUESTED"}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(reply)).encode()), *extra]})
        await send({"type": "http.response.body", "body": reply})

    def of_type(self, kind: str) -> list[Received]:
        return [r for r in self.received
                if isinstance(r.json, dict) and r.json.get("@type") == kind]


@contextmanager
def receiver(status: int = 200) -> Iterator[Receiver]:
    port = free_port()
    recv = Receiver(base=f"http://127.0.0.1:{port}", status=status)
    server = uvicorn.Server(uvicorn.Config(recv, host="127.0.0.1", port=port, log_config=None,
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started)
    try:
        yield recv
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def serve(data_dir: Path, database_url: str, **overrides: Any) -> Served:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runtime = Runtime.start(settings(data_dir, database_url, public_url=base, **overrides))
    return start(runtime, base, port)



def test_receiver_hashes_what_arrives() -> None:
    with receiver() as recv:
        resp = httpx.post(recv.base + "/x", content=b"a" * 100000)
        assert resp.status_code == 200
    assert recv.received[0].size == 100000
    assert recv.received[0].sha256 == hashlib.sha256(b"a" * 100000).hexdigest()
