"""API tokens: only a hash is stored; authenticate, revoke; the first admin token on an empty database."""

from __future__ import annotations

from tests.services.helpers import audit_kinds, refused
from orderdeck import db
from orderdeck.models import ActorKind, ApiToken, AuditEntry, AuditKind, Role
from orderdeck.services import auth
from orderdeck.services.errors import ErrorCode


async def test_create_stores_the_hash_never_the_secret(database, actor):
    token, secret = await auth.create_token("ci", actor, Role.OPERATOR)

    assert secret.startswith("od_") and len(secret) > 40
    stored = await ApiToken.get(id=token.id)
    assert (stored.name, stored.role, stored.token_hash) == ("ci", Role.OPERATOR, auth.hash_token(secret))
    assert stored.prefix == secret[:10]
    rows = await db.fetch("SELECT * FROM api_token", [])
    assert not any(secret in str(value) for row in rows for value in row.values())
    entries = await db.fetch("SELECT * FROM audit_entry", [])
    assert not any(secret in str(value) for row in entries for value in row.values())
    assert await audit_kinds(token.id) == [AuditKind.TOKEN_CREATED]


async def test_authenticate_accepts_the_secret_and_nothing_else(database, actor):
    token, secret = await auth.create_token("ci", actor)

    assert (await auth.authenticate(secret)).id == token.id
    assert await auth.authenticate(secret + "x") is None
    assert await auth.authenticate(auth.hash_token(secret)) is None
    assert await auth.authenticate("") is None
    assert await auth.authenticate("od_" + "a" * 300) is None
    assert auth.token_actor(token) == auth.Actor("ci", ActorKind.TOKEN)
    assert auth.permissions_of(token) == frozenset(auth.Permission)


async def test_revoked_token_is_refused(database, actor):
    token, secret = await auth.create_token("ci", actor)

    await auth.revoke_token("ci", actor)

    assert await auth.authenticate(secret) is None
    assert (await ApiToken.get(id=token.id)).revoked_at is not None
    assert await audit_kinds(token.id) == [AuditKind.TOKEN_CREATED, AuditKind.TOKEN_REVOKED]
    async with refused("name", ErrorCode.NOT_FOUND):
        await auth.revoke_token("ci", actor)


async def test_token_names_are_unique_and_valid(database, actor):
    await auth.create_token("ci", actor)

    async with refused("name", ErrorCode.DUPLICATE):
        await auth.create_token("ci", actor)
    async with refused("name", ErrorCode.INVALID):
        await auth.create_token("nul\x00name", actor)
    async with refused("name", ErrorCode.INVALID):
        await auth.create_token("   ", actor)
    async with refused("name", ErrorCode.INVALID):
        await auth.create_token("x" * 101, actor)


async def test_roles_grant_their_permissions(database, actor):
    reader, _ = await auth.create_token("dashboard", actor, Role.READER)
    operator, _ = await auth.create_token("packer", actor, Role.OPERATOR)

    assert auth.permissions_of(reader) == {auth.Permission.READ}
    assert auth.Permission.PROCESS_ORDERS in auth.permissions_of(operator)
    assert auth.Permission.MANAGE_TOKENS not in auth.permissions_of(operator)


async def test_first_admin_token_only_on_an_empty_database(database):
    secret = await auth.ensure_admin_token()

    assert secret is not None
    token = await auth.authenticate(secret)
    assert (token.name, token.role) == ("admin", Role.ADMIN)
    entry = await AuditEntry.get(kind=AuditKind.TOKEN_CREATED)
    assert (entry.actor, entry.actor_kind) == ("orderdeck", ActorKind.SYSTEM)
    assert await auth.ensure_admin_token() is None
    assert await ApiToken.all().count() == 1


async def test_no_admin_token_when_any_token_exists(database, actor):
    await auth.create_token("ci", actor, Role.READER)
    await auth.revoke_token("ci", actor)

    assert await auth.ensure_admin_token() is None
    assert await ApiToken.all().count() == 1
