"""Backups of the embedded default: the SQLite database and its key file, as one checked archive.

``backup`` copies the database with SQLite's online backup API (a consistent snapshot, taken while
the server keeps writing) and puts it, with the key file beside the database and a manifest of
checksums, into a tar archive readable by its owner only. ``restore`` checks an archive completely
(checksums, SQLite's integrity check, every stored secret readable with the key it brings or the
one configured) before it changes anything, and refuses a target in use, or one holding data
unless forced. On PostgreSQL, backups are pg_dump's job (see the README).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orderdeck import __version__, crypto
from orderdeck.db import create_private_file

FORMAT = "orderdeck-backup/1"
MANIFEST = "manifest.json"
DATABASE = "orderdeck.sqlite3"
KEYS = "orderdeck.sqlite3.key"


class BackupError(RuntimeError):
    """A backup or restore that could not be done; nothing was changed."""


@dataclass(frozen=True)
class Restored:
    """What a restore put in place."""

    database: Path
    key_file: Path | None
    created_at: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_database(source: Path, target: Path, busy_timeout_ms: int) -> None:
    """Copy a live SQLite database with the backup API (one step: one consistent snapshot)."""
    create_private_file(target)
    src = sqlite3.connect(source, timeout=busy_timeout_ms / 1000)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        dst.close()
        src.close()


def _check_database(path: Path) -> None:
    """SQLite's integrity check, and the tables of an orderdeck database."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"The database in the archive is damaged: {exc}") from None
    if verdict != "ok":
        raise BackupError(f"The database in the archive fails SQLite's integrity check: {verdict}")
    if not {"orders", "connection", "api_token"} <= tables:
        raise BackupError("The archive's database is not an orderdeck database")


def backup_sqlite(database: Path, archive: Path, busy_timeout_ms: int) -> dict[str, object]:
    """Write ``archive`` (a new file, 0600): the database, its key file if it has one, a manifest.

    Returns the manifest. Refuses an existing ``archive`` or a missing database.
    """
    if not database.is_file():
        raise BackupError(f"No database at {database}")
    if not archive.parent.is_dir():
        raise BackupError(f"No folder {archive.parent} to write the backup in")
    if archive.exists():
        raise BackupError(f"{archive} exists already: choose a new file name")
    try:
        return _write_archive(database, archive, busy_timeout_ms)
    except FileExistsError:
        raise BackupError(f"{archive} exists already: choose a new file name") from None
    except (OSError, sqlite3.Error) as exc:
        raise BackupError(f"Could not back up {database} to {archive}: {exc}") from None


def _write_archive(database: Path, archive: Path, busy_timeout_ms: int) -> dict[str, object]:
    """Copy, check and pack into a staged archive, then link it in place (never over a file)."""
    key_file = crypto.key_file_for(f"sqlite://{database}")
    with tempfile.TemporaryDirectory(prefix="orderdeck-backup-", dir=archive.parent) as work:
        copy = Path(work) / DATABASE
        _copy_database(database, copy, busy_timeout_ms)
        _check_database(copy)
        files = {DATABASE: copy}
        if key_file is not None and key_file.is_file():
            files[KEYS] = key_file
        manifest = {
            "format": FORMAT,
            "orderdeck": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": str(database),
            "files": {name: _sha256(path) for name, path in files.items()},
        }
        staged = Path(work) / "archive.tar.gz"
        create_private_file(staged)
        with tarfile.open(staged, "w:gz") as tar:
            body = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(body), 0o600, int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(body))
            for name, path in files.items():
                tar.add(path, arcname=name, recursive=False)
        os.link(staged, archive)  # fails rather than overwrite a file that appeared meanwhile
    return manifest


def _unpack(archive: Path, into: Path) -> dict[str, object]:
    """Extract and check an archive into ``into``; return its manifest."""
    if not archive.is_file():
        raise BackupError(f"No backup archive at {archive}")
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = {member.name: member for member in tar.getmembers()}
            if MANIFEST not in members:
                raise BackupError(f"{archive} is not an orderdeck backup (no {MANIFEST})")
            manifest = json.loads(tar.extractfile(members[MANIFEST]).read())  # type: ignore[union-attr]
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise BackupError(f"{archive} is not an orderdeck backup of a known format")
            expected: dict[str, str] = manifest.get("files") or {}
            if DATABASE not in expected or set(expected) - {DATABASE, KEYS} or set(members) != {MANIFEST, *expected}:
                raise BackupError(f"{archive} does not hold the files its manifest lists")
            for name, checksum in expected.items():
                if not members[name].isfile():
                    raise BackupError(f"{archive}: {name} is not a regular file")
                target = into / name
                create_private_file(target)
                with tar.extractfile(members[name]) as data, target.open("wb") as out:  # type: ignore[union-attr]
                    shutil.copyfileobj(data, out)
                if _sha256(target) != checksum:
                    raise BackupError(f"{archive}: {name} does not match its checksum (the archive is damaged)")
    except tarfile.ReadError:
        raise BackupError(f"{archive} is not an orderdeck backup (not a tar archive, or a damaged one)") from None
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError, json.JSONDecodeError, zlib.error) as exc:
        raise BackupError(f"{archive} cannot be read as an orderdeck backup (damaged?): {exc}") from None
    return manifest


def _check_secrets(database: Path, keys: list[str]) -> None:
    """Every stored connection secret in ``database`` opens with ``keys`` (newest first)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT name, secrets FROM connection WHERE secrets IS NOT NULL").fetchall()
    finally:
        conn.close()
    if rows and not keys:
        raise BackupError("The archive holds connection secrets but no key file, and ORDERDECK_SECRET_KEY is unset: "
                          "set the key they were sealed with")  # fmt: skip
    unreadable = [name for name, token in rows if not crypto.opens_with(token, keys)]
    if unreadable:
        raise BackupError(f"The secrets of connection(s) {', '.join(unreadable)} in the archive cannot be read with "
                          "the key it would be restored with")  # fmt: skip


def _open_alone(target: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection to ``target`` that is certain no other process has it open.

    Leaving WAL mode needs the database to itself: refused while a server or CLI holds it.
    """
    conn = sqlite3.connect(target, timeout=min(busy_timeout_ms, 2000) / 1000, isolation_level=None)
    try:
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError:
        mode = None
    if mode != "delete":
        conn.close()
        raise BackupError(f"{target} is in use (is `orderdeck serve` running?): stop it before restoring")
    return conn


def _has_data(target: Path) -> bool:
    """Whether the database at ``target`` holds any table (read only: it is not changed)."""
    if not target.exists() or target.stat().st_size == 0:
        return False
    conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'").fetchone() is not None
    except sqlite3.DatabaseError:
        return True  # something that is not a database: only --force replaces it
    finally:
        conn.close()


def restore_sqlite(archive: Path, target: Path, *, force: bool, env_keys: list[str] | None,
                   busy_timeout_ms: int) -> Restored:  # fmt: skip
    """Put the archive's database (and key file) in place at ``target``.

    ``env_keys``: the keys configured in the environment (they, not a key file, will open the
    secrets); None when the key file beside the database is used. Nothing changes unless every
    check passes.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="orderdeck-restore-", dir=target.parent) as work:
        manifest = _unpack(archive, Path(work))
        database = Path(work) / DATABASE
        _check_database(database)
        has_keys = KEYS in manifest["files"]  # type: ignore[operator]
        if env_keys is not None:
            keys = env_keys
        else:
            keys = crypto.read_key_file(Path(work) / KEYS) if has_keys else []
        _check_secrets(database, keys)
        key_file = crypto.key_file_for(f"sqlite://{target}")
        if not force and _has_data(target):
            raise BackupError(f"{target} holds a database already: pass --force to replace it")
        create_private_file(target)
        conn = _open_alone(target, busy_timeout_ms)
        try:
            source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
            try:
                source.backup(conn)  # one step: all of it or (on an error) none of it
            finally:
                source.close()
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise BackupError(f"Could not write {target}: {exc}") from None
        finally:
            conn.close()
        if has_keys and key_file is not None:
            crypto.write_key_file(key_file, crypto.read_key_file(Path(work) / KEYS))
    return Restored(target, key_file if has_keys else None, str(manifest.get("created_at", "")))
