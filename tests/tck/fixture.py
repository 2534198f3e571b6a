"""The TCK fixture: pre-provisions what the TCK names and plays each id's script.

Never part of the product: it lives under tests/ and drives the connector under test only
through its database (provisioning, before start) and its management API (while the TCK runs),
the way an owner would. ``python -m tests.tck.fixture provision`` and ``… drive``.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from connector.auth import clients
from connector.catalog.models import Dataset, Offer
from connector.config import Settings
from connector.negotiation.models import Agreement
from connector.participants.models import Participant
from connector.policy.odrl import normalise_policy
from connector.runtime import Runtime
from tests.tck import scripts

TCK = "TCK_PARTICIPANT"
log = logging.getLogger("tck.fixture")
USE = [{"action": "use"}]


def _offer(dataset: str) -> dict[str, Any]:
    return {"@id": f"CD123:{dataset}:456", "@type": "Offer", "permission": USE}


def provision(settings: Settings) -> dict[str, str]:
    """Datasets, offers and agreements the TCK names; a fixture client. Idempotent."""
    runtime = Runtime.start(settings)
    me = settings.participant_id
    source = settings.data_dir / "tck" / "data.csv"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("id,value\n1,42\n2,43\n", encoding="utf-8")
    with Session(runtime.engine) as session:
        if session.get(Participant, TCK) is None:
            session.add(Participant(id=TCK, name="DSP TCK", role="partner", org_type="company",
                                    region="DE"))
        for dataset in (*scripts.CATALOG_DATASETS, *scripts.PROVIDER_NEGOTIATIONS):
            if session.get(Dataset, dataset) is None:
                session.add(Dataset(id=dataset, title=f"TCK dataset {dataset}", owner=me,
                                    keywords=["tck"], source_kind="file",
                                    source="tck/data.csv", personal_data=False))
                session.flush()
                offer = _offer(dataset)
                session.add(Offer(id=offer["@id"], dataset_id=dataset, odrl=offer,
                                  normalised=normalise_policy(offer),
                                  mode="auto" if dataset.startswith("CAT") else "manual"))
        for agreement_id in scripts.PROVIDER_TRANSFERS:
            _agreement(session, agreement_id, "provider", "CAT0101", me, TCK)
        for agreement_id in scripts.CONSUMER_TRANSFERS:
            _agreement(session, agreement_id, "consumer", f"dataset-{agreement_id}", TCK, me)
        session.commit()
    with Session(runtime.engine) as session:
        record, secret = clients.create_client(
            session=session, participant=me, roles=["admin", "provider", "partner"],
            with_secret=True, secrets_allowed=True)
    runtime.close()
    return {"client_id": record.client_id, "client_secret": secret or ""}


def _agreement(session: Session, agreement_id: str, role: str, dataset: str, assigner: str,
               assignee: str) -> None:
    if session.get(Agreement, agreement_id) is not None:
        return
    odrl = {"@id": agreement_id, "@type": "Agreement", "target": dataset, "assigner": assigner,
            "assignee": assignee, "permission": USE, "timestamp": "2026-11-01T00:00:00Z"}
    session.add(Agreement(id=agreement_id, role=role, dataset_id=dataset, assigner=assigner,
                          assignee=assignee, odrl=odrl, normalised=normalise_policy(odrl),
                          mode="manual", status="active"))


@dataclass
class Track:
    """Where one process is in its script."""

    steps: list[scripts.Step]
    done: int = 0
    acted_in: str | None = None  # the state we last acted in: wait for it to change
    acted_at: float = 0.0
    failures: int = 0


@dataclass
class Driver:
    """Polls the management API and takes each script's next step when its state comes."""

    base: str
    token: str
    tracks: dict[str, Track] = field(default_factory=dict)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=10,
                            headers={"Authorization": f"Bearer {self.token}"})

    def _script(self, kind: str, item: dict[str, Any]) -> list[scripts.Step] | None:
        if kind == "negotiations":
            table = (scripts.PROVIDER_NEGOTIATIONS if item["role"] == "provider"
                     else scripts.CONSUMER_NEGOTIATIONS)
            return table.get(item["dataset_id"])
        table = (scripts.PROVIDER_TRANSFERS if item["role"] == "provider"
                 else scripts.CONSUMER_TRANSFERS)
        return table.get(item["agreement_id"])

    def tick(self, http: httpx.Client) -> None:
        for kind in ("negotiations", "transfers"):
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                resp = http.get(f"/api/v1/{kind}", params=params)
                if resp.status_code != 200:
                    log.warning("list %s: %s %s", kind, resp.status_code, resp.text[:200])
                    break
                page = resp.json()
                for item in page["items"]:
                    self._step(http, kind, item)
                cursor = page.get("next_cursor")
                if not cursor:
                    break

    def _step(self, http: httpx.Client, kind: str, item: dict[str, Any]) -> None:
        track = self.tracks.get(item["id"])
        if track is None:
            steps = self._script(kind, item)
            if steps is None:
                return
            track = self.tracks[item["id"]] = Track(list(steps))
        if track.done >= len(track.steps):
            return
        if track.acted_in is not None and item["state"] != track.acted_in:
            track.acted_in = None  # it moved on since our last step: the next may come
        state, action = track.steps[track.done]
        if item["state"] != state or item["state"] == track.acted_in:
            return
        if item["role"] == "consumer" and not item.get("provider_pid"):
            return  # the provider has not answered our request yet
        if time.monotonic() - track.acted_at < 0.5:
            return  # let the counterparty see the previous step first
        if kind == "transfers" and action == "start" and state == "SUSPENDED":
            action = "resume"
        resp = http.post(f"/api/v1/{kind}/{item['id']}/{action}", json={})
        if resp.status_code >= 300:
            track.failures += 1
            log.warning("%s %s %s: %s %s", kind, item["id"], action, resp.status_code,
                        resp.text[:300])
            return
        track.done += 1
        track.acted_in = state
        track.acted_at = time.monotonic()
        log.info("%s %s (%s): %s", kind, item.get("dataset_id") or item.get("agreement_id"),
                 state, action)

    def run(self, stop: threading.Event, poll: float = 0.2) -> None:
        with self.http() as http:
            while not stop.is_set():
                try:
                    self.tick(http)
                except httpx.HTTPError as exc:
                    log.warning("poll failed: %s", exc)
                stop.wait(poll)


def initiate_server(driver: Driver, port: int) -> ThreadingHTTPServer:
    """The TCK's consumer-side hooks: start a negotiation or a transfer as consumer."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            if self.path.endswith("/negotiations/requests"):
                payload = {"counterparty_address": body["connectorAddress"],
                           "provider_id": body["providerId"], "offer_id": body["offerId"],
                           "dataset_id": body["datasetId"], "auto_verify": False}
                target = "/api/v1/negotiations"
            else:
                payload = {"counterparty_address": body["connectorAddress"],
                           "provider_id": body["providerId"],
                           "agreement_id": body["agreementId"], "format": body["format"]}
                target = "/api/v1/transfers"
            resp = httpx.post(driver.base + target, json=payload, timeout=10,
                              headers={"Authorization": f"Bearer {driver.token}"})
            log.info("initiate %s: %s %s", target, resp.status_code, resp.text[:200])
            self.send_response(200 if resp.status_code < 300 else 400)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def token(base: str, credentials: dict[str, str]) -> str:
    resp = httpx.post(base + "/oauth/token", data={"grant_type": "client_credentials"},
                      auth=(credentials["client_id"], credentials["client_secret"]), timeout=10)
    resp.raise_for_status()
    return str(resp.json()["access_token"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("provision")
    p.add_argument("--credentials", type=Path, required=True)
    d = sub.add_parser("drive")
    d.add_argument("--connector", required=True)
    d.add_argument("--port", type=int, required=True)
    d.add_argument("--credentials", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s fixture %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.command == "provision":
        args.credentials.write_text(json.dumps(provision(Settings())), encoding="utf-8")
        return
    credentials = json.loads(args.credentials.read_text(encoding="utf-8"))
    stop = threading.Event()
    access = token(args.connector, credentials)
    driver = Driver(args.connector, access)
    server = initiate_server(driver, args.port)
    renew_at = time.monotonic() + 200
    try:
        with driver.http() as http:
            while True:
                if time.monotonic() > renew_at:  # tokens live 5 minutes; runs take longer
                    driver.token = access = token(args.connector, credentials)
                    http.headers["Authorization"] = f"Bearer {access}"
                    renew_at = time.monotonic() + 200
                try:
                    driver.tick(http)
                except httpx.HTTPError as exc:
                    log.warning("poll failed: %s", exc)
                time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.shutdown()


if __name__ == "__main__":
    main()
