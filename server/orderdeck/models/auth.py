"""API tokens: bearer credentials, stored only as hashes."""

from __future__ import annotations

import uuid
from enum import Enum

from tortoise import fields
from tortoise.models import Model


class Role(str, Enum):
    """What a token may do. Permissions per role live in orderdeck.services.auth."""

    ADMIN = "ADMIN"
    OPERATOR = "OPERATOR"
    READER = "READER"


class ApiToken(Model):
    """A named API token. Only the SHA-256 of the secret is kept, and prefix identifies it."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    name = fields.CharField(max_length=100, unique=True)
    prefix = fields.CharField(max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    role = fields.CharEnumField(Role, max_length=16, default=Role.ADMIN)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"
