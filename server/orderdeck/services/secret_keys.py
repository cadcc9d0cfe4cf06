"""Key rotation for stored secrets: re-encrypt every connection's secrets with the newest key.

The keys themselves are configuration (``orderdeck.crypto``); this is the one change of stored
data that rotation needs, in one transaction: either every secret is sealed with the newest key,
or (a secret no key can read) nothing changes.
"""

from __future__ import annotations

from orderdeck import crypto
from orderdeck.models import Connection
from orderdeck.services.context import transaction


class UnreadableSecrets(RuntimeError):
    """Some connections' secrets cannot be read with the keys in force (named in the message)."""


async def reencrypt_secrets() -> int:
    """Seal every stored connection secret again with the newest key; return how many were.

    Refuses, changing nothing, when any secret cannot be read with the keys in force.
    """
    async with transaction():
        connections = await Connection.filter(secrets__not_isnull=True).select_for_update().order_by("name")
        sealed, unreadable = {}, []
        for connection in connections:
            try:
                sealed[connection.id] = crypto.reencrypt(connection.secrets)
            except crypto.SecretUnreadable:
                unreadable.append(connection.name)
        if unreadable:
            raise UnreadableSecrets(f"The secrets of {', '.join(unreadable)} cannot be read with any key in force: "
                                    "nothing was re-encrypted")  # fmt: skip
        for connection_id, secrets in sealed.items():
            await Connection.filter(id=connection_id).update(secrets=secrets)
    return len(sealed)


async def connections_needing_old_keys() -> list[str]:
    """The connections whose secrets the newest key alone cannot read (empty: older keys may go)."""
    names = []
    for connection in await Connection.filter(secrets__not_isnull=True).order_by("name"):
        try:
            crypto.decrypt(connection.secrets, newest_only=True)
        except crypto.SecretUnreadable:
            names.append(connection.name)
    return names
