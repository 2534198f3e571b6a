"""The data plane: ``GET /data/{transfer_id}`` streams a pull transfer's data to its consumer.

The caller presents the token of the data address it received (``Authorization: Bearer …``),
not an OAuth access token. One byte range may be asked for (206 + ``Content-Range``). The
response is streamed in constant memory; when it ends (completely or not) the byte count and
the SHA-256 of what was sent are recorded. This router also runs the provider's push worker
for as long as the app runs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from connector.api.deps import RuntimeDep
from connector.api.errors import respond
from connector.api.security import DATA_PLANE_TOKEN
from connector.transfer import pull
from connector.transfer.errors import RangeNotSatisfiable
from connector.transfer.push import PushWorker
from connector.transfer.sources import Truncated

log = logging.getLogger("connector.transfer")


@asynccontextmanager
async def push_worker(app: FastAPI) -> AsyncIterator[None]:
    """Run the provider's push worker while the app runs."""
    worker = PushWorker(app.state.runtime)
    worker.start()
    try:
        yield
    finally:
        await anyio.to_thread.run_sync(worker.stop)


router = APIRouter(tags=["data"], lifespan=push_worker)


class StreamedData(StreamingResponse):
    """Streams an opened source; records its end however it ends (shielded from cancel)."""

    def __init__(self, outgoing: pull.Outgoing) -> None:
        self.outgoing = outgoing
        opened = outgoing.opened
        headers = dict(opened.headers)
        if opened.length is not None:
            headers["Content-Length"] = str(opened.length)
        super().__init__(opened.chunks, status_code=opened.status, headers=headers,
                         media_type=opened.media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._recorded = False
        try:
            async with anyio.create_task_group() as group:
                async def watch() -> None:
                    # Servers may drop sends after a disconnect silently: notice it here.
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                await self._send_all(send)
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self.outgoing.opened.release()
                if not self._recorded:
                    await anyio.to_thread.run_sync(self.outgoing.finish)

    async def _send_all(self, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            held = await self._send_body(send)
            # The last bytes leave only after the pull's audit entry has committed: a client
            # that received a complete response always has its entry, even if we die now.
            self.outgoing.meter.complete = True
            await anyio.to_thread.run_sync(self.outgoing.finish)
            self._recorded = True
            await send({"type": "http.response.body", "body": held, "more_body": False})
        except Truncated as exc:
            # Too late for an error status: end the response short, the client sees a cut.
            log.warning("stream cut short", extra={"error": str(exc)})
        except OSError:
            pass  # the client went away

    async def _send_body(self, send: Send) -> bytes:
        """Send every chunk but the last, which is returned; a chunk counts once it left.

        Sources count a chunk when the generator is resumed past it (``Meter``). With a known
        length each chunk but the last is sent before that, so the count is exact. Without,
        only the next chunk shows that one was not the last: it is held, and uncounted again
        (``take_back``) if it then fails to leave.
        """
        opened = self.outgoing.opened
        held: bytes | None = None
        sent = 0
        try:
            async for data in opened.chunks:
                if held is not None:
                    await send({"type": "http.response.body", "body": held, "more_body": True})
                    held = None
                sent += len(data)
                if opened.length is not None and sent < opened.length:
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                else:
                    held = data
        except BaseException:
            if held is not None:
                self.outgoing.meter.take_back()
            raise
        return held or b""


def range_refused(request: Request, exc: RangeNotSatisfiable) -> Response:
    """416 with ``Content-Range: bytes */size`` (RFC 9110 §15.5.17)."""
    return respond(request, exc.status, exc.code, exc.title, exc.detail,
                   headers={"Content-Range": f"bytes */{exc.size}"})


@router.get("/data/{transfer_id}", dependencies=[DATA_PLANE_TOKEN],
            summary="A pull transfer's data (token from the data address; one Range allowed)",
            response_class=StreamingResponse)
async def pull_data(transfer_id: str, request: Request, runtime: RuntimeDep) -> Response:
    try:
        outgoing = await pull.open_pull(runtime, transfer_id=transfer_id,
                                        authorization=request.headers.get("authorization"),
                                        range_header=request.headers.get("range"))
    except RangeNotSatisfiable as exc:
        return range_refused(request, exc)
    return StreamedData(outgoing)
