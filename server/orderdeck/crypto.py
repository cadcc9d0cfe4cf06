"""Encrypting secrets at rest (channel credentials), with Fernet (AES-128-CBC and HMAC-SHA256).

Keys form a ring, newest first: the newest encrypts, every key decrypts (``MultiFernet``), so a
key can be replaced without losing what the old one sealed. Each key is any string of 32+
characters, stretched with SHA-256. They come from ORDERDECK_SECRET_KEY (the newest) and
ORDERDECK_PREVIOUS_SECRET_KEYS; on the embedded SQLite default, when those are unset, from a key
file beside the database (``<database>.key``, one key a line, newest first, readable by its owner
only), generated on first use. Moving the database without its key makes the stored secrets
unreadable, by design: ``orderdeck backup`` takes both. ``orderdeck rotate-key`` re-encrypts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from orderdeck.config import get_settings
from orderdeck.db import create_private_file, sqlite_path


class SecretKeyMissing(RuntimeError):
    """No key to encrypt secrets with (PostgreSQL without ORDERDECK_SECRET_KEY)."""


class SecretUnreadable(RuntimeError):
    """Stored secrets cannot be decrypted with this key (the key changed or the data is damaged)."""


def key_file_for(database_url: str) -> Path | None:
    """Where the embedded default keeps its generated keys (None for a server database)."""
    path = sqlite_path(database_url)
    return None if path is None else Path(f"{path}.key")


def generated_keys() -> Path | None:
    """The key file in use: on SQLite when ORDERDECK_SECRET_KEY is unset, else None."""
    settings = get_settings()
    return None if settings.secret_key is not None else key_file_for(settings.database_url)


def read_key_file(path: Path) -> list[str]:
    """The keys in a key file, newest first."""
    keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not keys:
        raise SecretUnreadable(f"The key file {path} holds no key")
    return keys


def write_key_file(path: Path, keys: list[str]) -> None:
    """Replace the key file atomically with ``keys`` (newest first), readable by its owner only."""
    staged = path.with_name(f"{path.name}.new")
    staged.unlink(missing_ok=True)
    create_private_file(staged)
    staged.write_text("".join(f"{key}\n" for key in keys))
    os.replace(staged, path)


def new_key() -> str:
    """A fresh random key, as the embedded default generates them."""
    return Fernet.generate_key().decode()


def secret_keys() -> list[str]:
    """The keys in force, newest first (generating the embedded default's on first use)."""
    settings = get_settings()
    if settings.secret_key is not None:
        return [key.get_secret_value() for key in (settings.secret_key, *settings.previous_secret_keys)]
    path = key_file_for(settings.database_url)
    if path is None:
        raise SecretKeyMissing("Set ORDERDECK_SECRET_KEY (32+ characters) to store channel secrets on this database")
    if not path.exists():
        _create_key_file(path)
    return read_key_file(path)


def _create_key_file(path: Path) -> None:
    """Write a generated key to ``path`` unless another process got there first (no torn reads)."""
    staged = path.with_name(f"{path.name}.{os.getpid()}.new")
    staged.unlink(missing_ok=True)
    create_private_file(staged)
    staged.write_text(f"{new_key()}\n")
    try:
        os.link(staged, path)
    except FileExistsError:
        pass
    finally:
        staged.unlink()


@cache
def _box(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest())) for key in keys])


def _ring(newest_only: bool = False) -> MultiFernet:
    keys = secret_keys()
    return _box(tuple(keys[:1] if newest_only else keys))


def encrypt(values: dict[str, Any]) -> str:
    """A token holding ``values`` (JSON), readable only with the key."""
    return _ring().encrypt(json.dumps(values).encode()).decode()


def decrypt(token: str, newest_only: bool = False) -> dict[str, Any]:
    """The values encrypt() stored in ``token`` (``newest_only``: with the newest key alone)."""
    try:
        return json.loads(_ring(newest_only).decrypt(token.encode()))
    except InvalidToken:
        raise SecretUnreadable("Stored secrets cannot be read with the current ORDERDECK_SECRET_KEY "
                               "(or the key file beside the database)") from None  # fmt: skip


def reencrypt(token: str) -> str:
    """``token`` sealed again with the newest key (it may have been sealed with any key of the ring)."""
    try:
        return _ring().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("Stored secrets cannot be read with any key in force") from None


def opens_with(token: str, keys: list[str]) -> bool:
    """Whether ``token`` can be decrypted with ``keys`` (a ring other than the one in force)."""
    try:
        _box(tuple(keys)).decrypt(token.encode())
    except InvalidToken:
        return False
    return True
