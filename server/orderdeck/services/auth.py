"""API tokens and permissions.

A token is shown once when created; only its SHA-256 is stored. Each token has a role, and each
role a set of permissions: to add a finer role, add it to Role and ROLE_PERMISSIONS; resolvers
declare the permission they need and never look at roles.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone
from enum import Enum

from tortoise.exceptions import IntegrityError

from orderdeck.models import ActorKind, ApiToken, AuditKind, AuditSubject, Role
from orderdeck.services.audit import AuditLog
from orderdeck.services.context import Actor, transaction
from orderdeck.services.errors import ErrorCode, ServiceError, validated
from orderdeck.services.fields import Strict, clean_text, text

TOKEN_PREFIX = "od_"


class Permission(str, Enum):
    """What a request may do. Each mutation needs exactly one of these."""

    READ = "READ"
    """Every query."""
    CREATE_ORDERS = "CREATE_ORDERS"
    """Create orders."""
    EDIT_ORDERS = "EDIT_ORDERS"
    """Edit open orders: fields, status, park, lock, hold, tags, notes, properties, move."""
    PROCESS_ORDERS = "PROCESS_ORDERS"
    """Process (ship) orders, record returns and resends."""
    CANCEL_ORDERS = "CANCEL_ORDERS"
    """Cancel and delete orders."""
    MANAGE_STOCK = "MANAGE_STOCK"
    """Stock items, levels and minimum levels."""
    MANAGE_LOCATIONS = "MANAGE_LOCATIONS"
    """Create, rename, make default and delete locations."""
    MANAGE_TOKENS = "MANAGE_TOKENS"
    """Create and revoke API tokens."""
    MANAGE_CHANNELS = "MANAGE_CHANNELS"
    """Create, change, enable, disable and delete channels."""


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(Permission)
    - {Permission.MANAGE_LOCATIONS, Permission.MANAGE_TOKENS, Permission.MANAGE_CHANNELS},
    Role.READER: frozenset({Permission.READ}),
}


class TokenName(Strict):
    """A token's name: 1 to 100 characters, unique."""

    name: text(100, 1)


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(name: str, actor: Actor, role: Role = Role.ADMIN) -> tuple[ApiToken, str]:
    """Create a named token; return it and its secret (shown once, never stored)."""
    name = validated(TokenName, {"name": name}).name
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with transaction():
        if await ApiToken.filter(name=name).exists():
            raise ServiceError.one(f"A token named {name} already exists", "name", ErrorCode.DUPLICATE)
        try:
            token = await ApiToken.create(name=name, role=role, prefix=secret[:10], token_hash=hash_token(secret))
        except IntegrityError:
            raise ServiceError.one(f"A token named {name} already exists", "name", ErrorCode.DUPLICATE) from None
        audit = AuditLog(actor)
        audit.add(AuditKind.TOKEN_CREATED, AuditSubject.TOKEN, token.id, f"{name} ({role.value})")
        await audit.write()
    return token, secret


async def revoke_token(name: str, actor: Actor) -> ApiToken:
    """Revoke a token: it is refused from now on."""
    name = clean_text(name, "name", 100)
    async with transaction():
        token = await ApiToken.filter(name=name, revoked_at=None).select_for_update().first()
        if token is None:
            raise ServiceError.one(f"No active token named {name}", "name", ErrorCode.NOT_FOUND)
        token.revoked_at = datetime.now(timezone.utc)
        await token.save(update_fields=["revoked_at"])
        audit = AuditLog(actor)
        audit.add(AuditKind.TOKEN_REVOKED, AuditSubject.TOKEN, token.id, name)
        await audit.write()
    return token


async def authenticate(secret: str) -> ApiToken | None:
    """The active token with this secret, or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    return await ApiToken.filter(token_hash=hash_token(secret), revoked_at=None).first()


async def still_active(token: ApiToken) -> bool:
    """Whether ``token`` has not been revoked since it was authenticated."""
    return await ApiToken.filter(id=token.id, revoked_at=None).exists()


async def ensure_admin_token() -> str | None:
    """On an empty database, create the first admin token and return its secret; else None."""
    if await ApiToken.exists():
        return None
    try:
        _, secret = await create_token("admin", Actor.system(), Role.ADMIN)
    except ServiceError:
        return None  # another process created it first
    return secret


def token_actor(token: ApiToken) -> Actor:
    """The actor recorded for changes made with a token."""
    return Actor(token.name, ActorKind.TOKEN)


def permissions_of(token: ApiToken) -> frozenset[Permission]:
    """What a token may do."""
    return ROLE_PERMISSIONS[token.role]
