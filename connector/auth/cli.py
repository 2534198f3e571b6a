"""``connector clients create|list|disable``: the client registry from the command line.

Reads the same settings as ``serve`` (``CONNECTOR_*``, ``.env``, ``--data-dir``), so it acts on
the database of a service that is running. A generated client secret is printed once and never
stored in clear.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import Session

from connector import db
from connector.auth import clients
from connector.auth.scopes import ROLES
from connector.config import Settings
from connector.errors import ConnectorError, ValidationFailed

app = typer.Typer(help="OAuth clients of the embedded authorization server.",
                  no_args_is_help=True)

DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Data directory "
                                                 "(default: CONNECTOR_DATA_DIR or ./data).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _settings(data_dir: Path | None) -> Settings:
    try:
        return Settings() if data_dir is None else Settings(data_dir=data_dir)
    except ValueError as exc:
        typer.echo(f"invalid settings: {exc}", err=True)
        raise typer.Exit(2) from exc


@contextmanager
def _session(data_dir: Path | None) -> Iterator[tuple[Session, Settings]]:
    settings = _settings(data_dir)
    engine = db.engine_from_settings(settings)
    try:
        db.upgrade(engine)
        with Session(engine, expire_on_commit=False) as session:
            yield session, settings
    except ConnectorError as exc:
        details = exc.extra.get("errors") if isinstance(exc, ValidationFailed) else None
        message = "; ".join(f"{e['path']}: {e['message']}" for e in details or []) or exc.detail
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()


def _show(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(view, indent=2))
        return
    state = "disabled" if view["disabled"] else "enabled"
    typer.echo(f"{view['client_id']}  {view['participant']}  {','.join(view['roles'])}  "
               f"{'+'.join(view['auth_methods'])}{'  dpop' if view['dpop_bound'] else ''}  "
               f"{state}")
    if view.get("client_secret"):
        typer.echo(f"client secret (shown once): {view['client_secret']}")


@app.command("create")
def create(
    participant: Annotated[str, typer.Option(help="Participant id the client acts for.")],
    role: Annotated[list[str], typer.Option(help=f"Role (repeatable): {', '.join(ROLES)}.")],
    jwks: Annotated[Path | None, typer.Option(help="JWKS file with the client's public "
                                                   "keys (private_key_jwt).")] = None,
    dpop: Annotated[bool, typer.Option("--dpop", help="Issue only DPoP-bound tokens.")] = False,
    secret: Annotated[bool, typer.Option("--secret", help="Generate a client secret "
                                                          "(client_secret_basic; dev only).")]
    = False,
    client_id: Annotated[str | None, typer.Option(help="Client id (default: generated).")]
    = None,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Register a client."""
    document: Any = None
    if jwks is not None:
        try:
            document = json.loads(jwks.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            typer.echo(f"error: cannot read JWKS from {jwks}: {exc}", err=True)
            raise typer.Exit(1) from exc
    with _session(data_dir) as (session, settings):
        record, generated = clients.create_client(
            session=session, participant=participant, roles=role, jwks=document,
            dpop_bound=dpop, with_secret=secret, client_id=client_id,
            secrets_allowed=settings.client_secrets_allowed)
    view = record.public_view()
    if generated is not None:
        view["client_secret"] = generated
    _show(view, as_json)


@app.command("list")
def list_(as_json: JsonOpt = False, data_dir: DataDirOpt = None) -> None:
    """List every client."""
    with _session(data_dir) as (session, _):
        views = [record.public_view() for record in clients.list_clients(session=session)]
    if as_json:
        typer.echo(json.dumps(views, indent=2))
        return
    for view in views:
        _show(view, False)


@app.command("disable")
def disable(client_id: Annotated[str, typer.Argument(help="The client to disable.")],
            as_json: JsonOpt = False, data_dir: DataDirOpt = None) -> None:
    """Disable a client: token requests fail and its tokens are refused from now on."""
    with _session(data_dir) as (session, _):
        record = clients.disable_client(session=session, client_id=client_id)
    _show(record.public_view(), as_json)
