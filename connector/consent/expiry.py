"""The expiry sweep: a consent that runs out ends like a withdrawn one, without anyone calling.

Pulls refuse an expired consent from the moment it expires (its status is derived from time at
each pull). The sweep gives the expiry its event, audit entry and enforcement (agreements
marked, transfers with nothing left terminated: ``consent.enforce``). It wakes at the next
record's ``valid_until`` or after ``consent_sweep_seconds``, whichever is first; replicas may
all sweep, the record lock makes each expiry happen once.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from connector.consent import enforce, service
from connector.timeutil import utcnow

log = logging.getLogger("connector.consent")
#: Never wait less than this between sweeps (a clock step cannot make the loop spin).
MIN_WAIT = 0.05

__all__ = ["ExpirySweeper", "enforce"]


class ExpirySweeper:
    """A daemon thread running ``service.expire_due`` until stopped."""

    def __init__(self, runtime: Any, *, every_seconds: float) -> None:
        self._runtime = runtime
        self._every = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="consent-expiry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def sweep(self) -> float:
        """One sweep; the seconds to wait before the next."""
        with Session(self._runtime.engine) as session:
            expired = service.expire_due(session, runtime=self._runtime)
            if expired:
                log.info("consents expired", extra={"count": len(expired)})
            now = utcnow()
            upcoming = service.next_expiry(session, after=now)
        wait = self._every
        if upcoming is not None:
            wait = min(wait, (upcoming - now + timedelta(milliseconds=10)).total_seconds())
        return max(wait, MIN_WAIT)

    def _run(self) -> None:
        wait = 0.0
        while not self._stop.wait(wait):
            try:
                wait = self.sweep()
            except Exception:  # a database hiccup must not end the thread; try again later
                log.exception("the consent expiry sweep failed")
                wait = self._every
