"""The ``connector`` command: serve, demo, db, keys, clients.

Every command reads the same settings as ``serve`` (``CONNECTOR_*`` variables, ``.env``), and
``--data-dir`` overrides the data dir, so the CLI can act on a running service's database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from connector.audit.cli import app as audit_app
from connector.auth.cli import app as clients_app
from connector.config import Settings
from connector.errors import ConnectorError

app = typer.Typer(help="DOdata Connector: data-space connector and consent/access broker.",
                  no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Signing keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(clients_app, name="clients")
console = Console(stderr=True)

DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Data directory "
                                                 "(default: CONNECTOR_DATA_DIR or ./data).")]


def load_settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, with command-line overrides applied."""
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        return Settings(**overrides)
    except ValueError as exc:
        console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc


def _fail(exc: ConnectorError) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc.detail}")
    return typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    data_dir: DataDirOpt = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load the Dortmund demo data first.")]
    = False,
) -> None:
    """Create the data dir and keys, migrate, and serve HTTP."""
    import uvicorn

    from connector.app import create_app
    from connector.observability import configure_logging
    from connector.runtime import Runtime

    settings = load_settings(data_dir)
    configure_logging(settings.log_level)
    try:
        runtime = Runtime.start(settings)
        if demo:
            from connector.demo.load import load_demo

            load_demo(runtime)
    except ConnectorError as exc:
        raise _fail(exc) from exc
    try:
        uvicorn.run(create_app(runtime=runtime), host=host, port=port, log_config=None,
                    server_header=False)
    finally:
        runtime.close()


@app.command()
def demo(data_dir: DataDirOpt = None) -> None:
    """Load the Dortmund demo data (idempotent: loading twice changes nothing)."""
    from connector.demo.load import load_demo
    from connector.runtime import Runtime

    runtime = Runtime.start(load_settings(data_dir))
    try:
        summary = load_demo(runtime)
    finally:
        runtime.close()
    typer.echo(json.dumps(summary, indent=2, sort_keys=True))


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDirOpt = None,
               revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
               ) -> None:
    """Apply database migrations (also done automatically at start)."""
    from connector import db

    settings = load_settings(data_dir)
    engine = db.engine_from_settings(settings)
    try:
        db.upgrade(engine, revision)
        typer.echo(f"database at revision {db.current_revision(engine)}")
    finally:
        engine.dispose()


@keys_app.command("list")
def keys_list(data_dir: DataDirOpt = None) -> None:
    """Show the signing keys (public parts only) of every purpose."""
    from connector.auth.keys import PURPOSES, KeyStore

    settings = load_settings(data_dir)
    store = KeyStore(settings.keys_dir, may_generate=False)
    out = {purpose: [k.jwk() for k in store.all(purpose)] for purpose in PURPOSES}
    typer.echo(json.dumps(out, indent=2))


@keys_app.command("rotate")
def keys_rotate(
    purpose: Annotated[str, typer.Option(help="Key purpose: access-token, audit or receipt.")]
    = "access-token",
    data_dir: DataDirOpt = None,
) -> None:
    """Make a new key current; the old one stays published until what it signed expires."""
    from connector.auth.context import KEY_RETENTION
    from connector.auth.keys import PURPOSES, KeyStore

    if purpose not in PURPOSES:
        console.print(f"[red]error:[/red] purpose must be one of {', '.join(PURPOSES)}")
        raise typer.Exit(2)
    settings = load_settings(data_dir)
    store = KeyStore(settings.keys_dir, may_generate=False)
    previous = store.current(purpose).kid if store.has_current(purpose) else None
    key = store.rotate(purpose)
    from connector import db
    from connector.audit import log as audit_log

    engine = db.engine_from_settings(settings)
    with engine.begin() as conn:
        audit_log.append(conn, [{"type": "key.rotated", "purpose": purpose, "kid": key.kid,
                                 "previous_kid": previous}])
    engine.dispose()
    typer.echo(json.dumps({"purpose": purpose, "kid": key.kid, "previous_kid": previous,
                           "previous_published_for_seconds":
                               KEY_RETENTION if purpose == "access-token" and previous else None},
                          indent=2))


def main() -> None:
    """Console-script entry point."""
    app()
