"""``connector audit verify`` and ``connector audit prove``: an auditor's tools.

``verify`` needs no network and no database. ``prove`` asks a running connector for one entry
and its inclusion proof and checks both against the signed checkpoint, with a key the auditor
pins (``--key``); fetching the key from the same server is allowed but says so.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated

import httpx
import typer

from connector.audit.checkpoint import parse_checkpoint
from connector.audit.errors import AuditError, VerificationError
from connector.audit.note import parse_note
from connector.audit.verify import entries_from_export, verify_inclusion_against_note, verify_log

app = typer.Typer(help="Verify the signed audit log (auditors).", no_args_is_help=True)


def _text_or_file(value: str) -> str:
    path = Path(value)
    if "\n" not in value and path.is_file():
        return path.read_text(encoding="utf-8")
    return value


def _fail(message: str) -> typer.Exit:
    typer.echo(json.dumps({"ok": False, "error": message}), err=False)
    return typer.Exit(1)


@app.command()
def verify(
    entries: Annotated[Path, typer.Option(help="Export file: one entry per line.")],
    checkpoint: Annotated[Path, typer.Option(help="Signed checkpoint note (text file).")],
    key: Annotated[str, typer.Option(help="Verifier key `name+keyid+base64`, or a file "
                                          "holding it.")],
    previous: Annotated[Path | None, typer.Option(help="An older signed checkpoint you kept: "
                                                       "the log must extend it.")] = None,
) -> None:
    """Recompute the root from every entry and check it against the signed checkpoint."""
    try:
        data = entries.read_bytes()
        note = checkpoint.read_text(encoding="utf-8")
        old = previous.read_text(encoding="utf-8") if previous else None
    except OSError as exc:
        raise _fail(f"cannot read input: {exc}") from exc
    try:
        result = verify_log(entries_from_export(data), note, _text_or_file(key).strip(), old)
    except VerificationError as exc:
        where = exc.extra.get("index")
        raise _fail(exc.detail if where is None else f"entry {where}: {exc.detail}") from exc
    except AuditError as exc:
        raise _fail(exc.detail) from exc
    typer.echo(json.dumps({"ok": True, "origin": result.origin, "size": result.size,
                           "root": base64.b64encode(result.root).decode(), "key": result.key,
                           "previous_size": result.previous_size}))


@app.command()
def prove(
    url: Annotated[str, typer.Option(help="Base URL of the connector.")],
    index: Annotated[int, typer.Option(help="Index of the entry to prove.")],
    key: Annotated[str | None, typer.Option(help="Pinned verifier key (or file). Without it "
                                                 "the server's own /audit/key is used.")] = None,
    token: Annotated[str | None, typer.Option(envvar="CONNECTOR_AUDIT_TOKEN",
                                              help="Auditor access token.")] = None,
) -> None:
    """Fetch one entry and its inclusion proof and check them against the signed checkpoint."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    base = url.rstrip("/")
    try:
        with httpx.Client(base_url=base, timeout=10, headers=headers) as client:
            note = _get(client, "/audit/checkpoint").text
            vkey = _text_or_file(key).strip() if key else _get(client, "/audit/key").text.strip()
            size = parse_checkpoint(parse_note(note).text).size
            if not 0 <= index < size:
                raise _fail(f"entry {index} is not covered by the checkpoint (size {size})")
            entry = _get(client, f"/audit/entries/{index}").content
            proof = _get(client, "/audit/proof/inclusion",
                         params={"index": index, "size": size}).json()
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {base}: {exc}") from exc
    try:
        hashes = [base64.b64decode(h, validate=True) for h in proof["hashes"]]
        checkpoint = verify_inclusion_against_note(entry, index, hashes, note, vkey)
    except (AuditError, KeyError, ValueError) as exc:
        raise _fail(f"entry {index}: {getattr(exc, 'detail', exc)}") from exc
    typer.echo(json.dumps({"ok": True, "index": index, "size": checkpoint.size,
                           "origin": checkpoint.origin, "key_pinned": key is not None,
                           "entry": json.loads(entry)}))


def _get(client: httpx.Client, path: str, **kwargs: object) -> httpx.Response:
    resp = client.get(path, **kwargs)  # type: ignore[arg-type]
    if resp.status_code != 200:
        raise _fail(f"GET {path} answered {resp.status_code}: {resp.text[:200]}")
    return resp
