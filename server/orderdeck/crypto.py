"""Encrypting secrets at rest (channel credentials), with Fernet (AES-128-CBC and HMAC-SHA256).

The key comes from ORDERDECK_SECRET_KEY (any string of 32+ characters, stretched with SHA-256).
On the embedded SQLite default, when it is unset, a random key is generated once and kept beside
the database file (``<database>.key``, readable by its owner only): moving the database without
its key file makes the stored secrets unreadable, by design.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from orderdeck.config import get_settings


class SecretKeyMissing(RuntimeError):
    """No key to encrypt secrets with (PostgreSQL without ORDERDECK_SECRET_KEY)."""


class SecretUnreadable(RuntimeError):
    """Stored secrets cannot be decrypted with this key (the key changed or the data is damaged)."""


def key_file_for(database_url: str) -> Path | None:
    """Where the embedded default keeps its generated key (None for a server database)."""
    if not database_url.startswith("sqlite://"):
        return None
    path = database_url.removeprefix("sqlite://").split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path + ".key")


def _fernet_from(passphrase: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest()))


def _generated_key(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(Fernet.generate_key().decode())
    return path.read_text().strip()


@cache
def _box() -> Fernet:
    settings = get_settings()
    if settings.secret_key is not None:
        return _fernet_from(settings.secret_key.get_secret_value())
    path = key_file_for(settings.database_url)
    if path is None:
        raise SecretKeyMissing("Set ORDERDECK_SECRET_KEY (32+ characters) to store channel secrets on this database")
    return _fernet_from(_generated_key(path))


def encrypt(values: dict[str, Any]) -> str:
    """A token holding ``values`` (JSON), readable only with the key."""
    return _box().encrypt(json.dumps(values).encode()).decode()


def decrypt(token: str) -> dict[str, Any]:
    """The values encrypt() stored in ``token``."""
    try:
        return json.loads(_box().decrypt(token.encode()))
    except InvalidToken:
        raise SecretUnreadable("Stored secrets cannot be read with the current ORDERDECK_SECRET_KEY") from None
