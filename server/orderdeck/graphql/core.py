"""Core queries and mutations: who am I, refetch any object by global id, API tokens."""

from __future__ import annotations

import strawberry

from orderdeck import models
from orderdeck.graphql.common import Node, UserError, attempt, node_type_of, query_id
from orderdeck.graphql.context import Info
from orderdeck.graphql.permissions import MANAGE_TOKENS, READ
from orderdeck.services import auth

Role = strawberry.enum(models.Role, name="Role", description="What a token may do.")
Permission = strawberry.enum(auth.Permission, name="Permission")

NODE_MODELS: dict[str, type[models.Location | models.StockItem | models.Order | models.Channel | models.Listing]] = {
    "Location": models.Location,
    "StockItem": models.StockItem,
    "Order": models.Order,
    "Channel": models.Channel,
    "Listing": models.Listing,
}


@strawberry.type(description="The token making this request.")
class Viewer:
    name: str
    role: Role
    permissions: list[Permission]


@strawberry.type(description="An API token (its secret is never shown again after creation).")
class ApiToken:
    name: str
    role: Role
    prefix: str


@strawberry.type
class CreateTokenPayload:
    token: ApiToken | None = None
    secret: str | None = strawberry.field(default=None, description="Shown once: store it now.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RevokeTokenPayload:
    token: ApiToken | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Query:
    @strawberry.field(description="The token making this request and what it may do.")
    def me(self, info: Info) -> Viewer:
        token = info.context.token
        return Viewer(name=token.name, role=token.role, permissions=sorted(info.context.permissions))

    @strawberry.field(
        permission_classes=READ,
        description="Any object by its global id; null if there is none or its type cannot be refetched.",
    )
    async def node(self, id: strawberry.ID) -> Node | None:
        kind, _ = node_type_of(id)
        model = NODE_MODELS.get(kind)
        if model is None:
            return None
        return await model.get_or_none(id=query_id(id, kind, "id"))  # type: ignore[return-value]


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=MANAGE_TOKENS, description="Create an API token.")
    async def create_token(self, info: Info, name: str, role: Role = models.Role.ADMIN) -> CreateTokenPayload:
        created, errors = await attempt(lambda: auth.create_token(name, info.context.actor, role))
        if created is None:
            return CreateTokenPayload(errors=errors)
        token, secret = created
        return CreateTokenPayload(token=token, secret=secret)  # type: ignore[arg-type]

    @strawberry.mutation(permission_classes=MANAGE_TOKENS, description="Revoke an API token by name.")
    async def revoke_token(self, info: Info, name: str) -> RevokeTokenPayload:
        token, errors = await attempt(lambda: auth.revoke_token(name, info.context.actor))
        return RevokeTokenPayload(token=token, errors=errors)  # type: ignore[arg-type]
