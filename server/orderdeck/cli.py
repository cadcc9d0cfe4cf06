"""The orderdeck command: serve, migrate, tokens, and developer tools."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from orderdeck import __version__, db
from orderdeck.config import Settings, get_settings
from orderdeck.services.work import WORK
from orderdeck.models import ActorKind
from orderdeck.services.context import Actor

T = TypeVar("T")
CLI_ACTOR = Actor("cli", ActorKind.SYSTEM)
"""The actor recorded for changes made from the command line."""


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise click.ClickException(f"Invalid configuration: {exc}") from None


def _with_db(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` with the database open (and migrated), then close it."""

    async def run() -> T:
        await db.migrate(settings.database_url)
        await db.init_db(settings.database_url)
        try:
            return await work()
        finally:
            await db.close_db()

    return asyncio.run(run())


@click.group()
@click.version_option(__version__, prog_name="orderdeck")
def main() -> None:
    """orderdeck: open multichannel order management over GraphQL.

    Configuration comes from ORDERDECK_* environment variables (see the README).
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="API processes (PostgreSQL only: SQLite is for one process).")  # fmt: skip
@click.option("--demo", is_flag=True, help="Also run two WooCommerce sandbox shops taking orders, "
              "on a database of its own (orderdeck-demo.sqlite3 unless ORDERDECK_DATABASE_URL is set).")  # fmt: skip
def serve(host: str, port: int, workers: int, demo: bool) -> None:
    """Run the API (GraphQL and GraphiQL at /graphql), applying migrations first."""
    import uvicorn

    from orderdeck.services.auth import ensure_admin_token
    from orderdeck.services.locations import ensure_default_location

    app: object = "orderdeck.app:create_app"
    if demo:  # before the settings are read: the demo chooses its own database
        from orderdeck.demo import demo_app

        app = demo_app(host, port, workers)
    settings = _settings()
    if workers > 1 and settings.is_sqlite:
        raise click.ClickException("--workers > 1 needs PostgreSQL: SQLite is for a single process")

    async def prepare() -> str | None:
        await ensure_default_location()
        return await ensure_admin_token()

    secret = _with_db(settings, prepare)
    if secret:
        click.echo(
            "\n  First start: an admin API token was created. It is shown only this once:\n\n"
            f"    {secret}\n\n"
            "  Send it as 'Authorization: Bearer <token>'. More tokens: orderdeck token create --name NAME\n"
        )
    click.echo(f"orderdeck {__version__} on {db.normalise_url(settings.database_url).split('://')[0]}: "
               f"GraphQL at http://{host}:{port}/graphql")  # fmt: skip
    # No per-message deflate: it costs every websocket ~45 KB and CPU on each event sent.
    uvicorn.run(app, factory=True, host=host, port=port, workers=workers,
                log_level="info", proxy_headers=True, ws_per_message_deflate=False,
                ws_max_size=settings.max_body_bytes)  # fmt: skip


@main.command()
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--threads", default=None, type=click.IntRange(1, 256),
              help="Jobs each process runs at once [default: ORDERDECK_WORKER_THREADS].")  # fmt: skip
@click.option("--queue", "queues", multiple=True, type=click.Choice([work.queue for work in WORK.values()]),
              help="Consume only this queue (repeatable; default: all).")  # fmt: skip
def worker(processes: int, threads: int | None, queues: tuple[str, ...]) -> None:
    """Run Dramatiq worker processes for the jobs (needs ORDERDECK_BROKER_URL)."""
    settings = _settings()
    if settings.broker_url is None:
        raise click.ClickException(
            "ORDERDECK_BROKER_URL is not set: with the embedded default, `orderdeck serve` runs the jobs itself. "
            "Set it (redis://... or amqp://...) to run workers apart from the API."
        )
    args = [sys.executable, "-m", "dramatiq", "orderdeck.jobs.worker", "--processes", str(processes),
            "--threads", str(threads or settings.worker_threads)]  # fmt: skip
    if queues:
        args += ["--queues", *queues]
    asyncio.run(db.migrate(settings.database_url))
    # An idle consumer polls its queue at most this often (Dramatiq's default, 1 s, is most of a
    # stock push's latency); 100 ms costs an idle worker a few Redis calls a second.
    os.environ.setdefault("dramatiq_worker_timeout", "100")
    os.execv(sys.executable, args)


@main.command()
def scheduler() -> None:
    """Send the periodic downloads of each channel, and jobs for work left behind (run one or
    more next to the workers; needs ORDERDECK_BROKER_URL)."""
    settings = _settings()
    if settings.broker_url is None:
        raise click.ClickException("ORDERDECK_BROKER_URL is not set: with the embedded default, "
                                   "`orderdeck serve` runs the scheduler itself.")  # fmt: skip
    from orderdeck.jobs.scheduler import run_scheduler

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_scheduler(settings.scheduler_interval_seconds, stop)

    click.echo(f"orderdeck scheduler: a tick every {settings.scheduler_interval_seconds:g} s", err=True)
    _with_db(settings, run)


@main.command()
def migrate() -> None:
    """Apply pending database migrations."""
    settings = _settings()
    asyncio.run(db.migrate(settings.database_url))
    click.echo("Database is up to date.", err=True)


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.option("--name", required=True, help="A unique name; it is recorded as the actor of every change.")
@click.option("--role", type=click.Choice(["ADMIN", "OPERATOR", "READER"]), default="ADMIN", show_default=True)
def token_create(name: str, role: str) -> None:
    """Create an API token and print only the token on stdout."""
    from orderdeck.models import Role
    from orderdeck.services.auth import create_token
    from orderdeck.services.errors import ServiceError

    async def work() -> str:
        _, secret = await create_token(name, CLI_ACTOR, Role(role))
        return secret

    try:
        secret = _with_db(_settings(), work)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(secret)


@token.command("revoke")
@click.option("--name", required=True)
def token_revoke(name: str) -> None:
    """Revoke an API token by name."""
    from orderdeck.services.auth import revoke_token
    from orderdeck.services.errors import ServiceError

    try:
        _with_db(_settings(), lambda: revoke_token(name, CLI_ACTOR))
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Token {name} revoked.", err=True)


POSTGRES_BACKUP = (
    "orderdeck backup and restore handle the embedded SQLite database. On PostgreSQL use pg_dump and "
    "pg_restore (pg_dump -Fc -f orderdeck.dump DATABASE_URL; pg_restore --clean --if-exists -d DATABASE_URL "
    "orderdeck.dump), and keep ORDERDECK_SECRET_KEY (and ORDERDECK_PREVIOUS_SECRET_KEYS) with the dump, apart "
    "from it: without the key the channel secrets cannot be read. See the README, Backups."
)


@main.command()
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
def backup(archive: Path) -> None:
    """Write an online backup of the SQLite database and its key file to ARCHIVE (a new file).

    Safe while `orderdeck serve` runs and writes. On PostgreSQL: use pg_dump (see the README).
    """
    from orderdeck.backup import BackupError, backup_sqlite

    settings = _settings()
    database = db.sqlite_path(settings.database_url)
    if database is None:
        raise click.ClickException(POSTGRES_BACKUP)
    try:
        manifest = backup_sqlite(database, archive, settings.sqlite_busy_timeout_ms)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    files = manifest["files"]
    click.echo(f"Backed up {database} to {archive} ({', '.join(files)}).", err=True)  # type: ignore[arg-type]
    if settings.secret_key is not None:
        click.echo("ORDERDECK_SECRET_KEY is set: keep that key (and any previous ones) too, apart from the archive; "
                   "the channel secrets cannot be read without it.", err=True)  # fmt: skip


@main.command()
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that holds data already.")
def restore(archive: Path, force: bool) -> None:
    """Restore the SQLite database (and its key file) from ARCHIVE, made by `orderdeck backup`.

    The archive is checked first; nothing changes unless it is whole. Stop the server before.
    """
    from orderdeck.backup import BackupError, restore_sqlite

    settings = _settings()
    target = db.sqlite_path(settings.database_url)
    if target is None:
        raise click.ClickException(POSTGRES_BACKUP)
    env_keys = None
    if settings.secret_key is not None:
        env_keys = [key.get_secret_value() for key in (settings.secret_key, *settings.previous_secret_keys)]
    try:
        restored = restore_sqlite(archive, target, force=force, env_keys=env_keys,
                                  busy_timeout_ms=settings.sqlite_busy_timeout_ms)  # fmt: skip
    except BackupError as exc:
        raise click.ClickException(f"{exc} (nothing was changed)") from None
    asyncio.run(db.migrate(settings.database_url))  # a backup from an older orderdeck catches up
    keys = f" and its key file {restored.key_file}" if restored.key_file else ""
    click.echo(f"Restored {target}{keys} from the backup of {restored.created_at}.", err=True)


@main.command("rotate-key")
@click.option("--forget-old", is_flag=True,
              help="After a rotation: check every secret opens with the newest key, then drop the older keys "
              "from the key file.")  # fmt: skip
def rotate_key(forget_old: bool) -> None:
    """Re-encrypt every stored connection secret with the newest key, in one transaction.

    Embedded default (key file beside the database): a new key is generated and put first. With
    ORDERDECK_SECRET_KEY: set the new key there and the old one in ORDERDECK_PREVIOUS_SECRET_KEYS
    first, then run this.
    """
    from orderdeck import crypto
    from orderdeck.services.secret_keys import UnreadableSecrets, connections_needing_old_keys, reencrypt_secrets

    settings = _settings()
    key_file = crypto.generated_keys()

    async def forget() -> str:
        waiting = await connections_needing_old_keys()
        if waiting:
            raise click.ClickException(f"The secrets of {', '.join(waiting)} still need an older key: run "
                                       "`orderdeck rotate-key` first (nothing was changed)")  # fmt: skip
        if key_file is None:
            return "Every secret opens with ORDERDECK_SECRET_KEY: ORDERDECK_PREVIOUS_SECRET_KEYS may be unset."
        crypto.write_key_file(key_file, crypto.secret_keys()[:1])
        return f"Every secret opens with the newest key: the older keys were removed from {key_file}."

    async def rotate() -> str:
        if key_file is not None:
            crypto.write_key_file(key_file, [crypto.new_key(), *crypto.secret_keys()])
        try:
            count = await reencrypt_secrets()
        except (UnreadableSecrets, crypto.SecretKeyMissing) as exc:
            raise click.ClickException(str(exc)) from None
        where = f"a new key first in {key_file}" if key_file else "ORDERDECK_SECRET_KEY"
        return f"Re-encrypted the secrets of {count} connection(s) with {where}."

    click.echo(_with_db(settings, forget if forget_old else rotate), err=True)


@main.command()
def plugins() -> None:
    """List the installed connectors and what is wrong with any plugin (exit status 1 if anything is)."""
    from orderdeck.plugins import manager

    for connector in manager.connectors():
        click.echo(f"{connector.name:<20} {connector.kind.value:<18} {connector.title} {connector.version} "
                   f"(plugin {manager.loaded().origins[connector.name]})")  # fmt: skip
    problems = manager.problems()
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        raise SystemExit(1)


@main.command("export-schema")
def export_schema() -> None:
    """Print the GraphQL schema (SDL); the repository's schema.graphql is this output."""
    from orderdeck.graphql.schema import schema

    sys.stdout.write(schema.as_str() + "\n")


@main.command()
@click.argument("name")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8081, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--seed-orders", default=0, show_default=True, type=click.IntRange(0), help="Random orders to start with.")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="One of the sandbox's own options (repeatable), e.g. --set ftp_port=2121 --set tls=true; "
              "the value is read as JSON when it can be, else as text.")  # fmt: skip
def sandbox(name: str, host: str, port: int, seed_orders: int, settings: tuple[str, ...]) -> None:
    """Run the sandbox of connector NAME: an emulation of its partner's API, with state (for tests
    and demos). Plugins offer sandboxes through the orderdeck_register_sandboxes hook."""
    import inspect

    import uvicorn

    from orderdeck.plugins import manager

    try:
        offered = manager.sandbox(name)
    except manager.UnknownSandbox as exc:
        raise click.ClickException(str(exc)) from None
    parameters = inspect.signature(offered.create_app).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    options: dict[str, Any] = {}
    if seed_orders:
        if "seed_orders" not in parameters and not takes_any:
            raise click.ClickException(f"The {name} sandbox takes no --seed-orders")
        options["seed_orders"] = seed_orders
    for setting in settings:
        key, given, value = setting.partition("=")
        if not given or not key.strip():
            raise click.ClickException(f"--set {setting!r}: give NAME=VALUE")
        if key not in parameters and not takes_any:
            known = ", ".join(n for n, p in parameters.items() if p.kind is not p.VAR_POSITIONAL) or "none"
            raise click.ClickException(f"The {name} sandbox has no option {key!r} (its options: {known})")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    try:
        app = offered.create_app(**options)
    except (TypeError, ValueError) as exc:
        raise click.ClickException(f"The {name} sandbox refused its options: {exc}") from None
    banner = getattr(app.state, "banner", "") or f"{offered.title} sandbox. {offered.description}"
    click.echo(f"{banner}\n{name} sandbox on http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="info")


@main.command()
@click.option("--name", default=None, help="A name for the migration (default: auto).")
def makemigrations(name: str | None) -> None:
    """Write a migration for model changes into migrations/ (run from a source checkout)."""
    from tortoise.migrations.autodetector import MigrationAutodetector
    from tortoise.context import TortoiseContext
    from tortoise.migrations.writer import format_migration_name

    config = db.tortoise_config("sqlite://:memory:")

    async def run() -> list[str]:
        async with TortoiseContext() as ctx:
            await ctx.init(config=config, init_connections=False)
            writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
        written = []
        for writer in writers:
            if name:
                writer.name = format_migration_name(int(writer.name.split("_", 1)[0]), name)
            written.append(str(writer.write()))
        return written

    written = asyncio.run(run())
    for path in written:
        click.echo(f"Created {path}")
    if not written:
        click.echo("No changes detected.")


if __name__ == "__main__":  # pragma: no cover
    main()
