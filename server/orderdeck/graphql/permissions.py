"""Permission checks declared on fields: ``permission_classes=[requires(Permission.X)]``.

Resolvers never look at roles: the token's role maps to permissions in orderdeck.services.auth.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from strawberry.permission import BasePermission

from orderdeck.services.auth import Permission


@cache
def requires(permission: Permission) -> type[BasePermission]:
    """A permission class allowing requests whose token grants ``permission``."""

    class Requires(BasePermission):
        message = f"This token lacks the {permission.value} permission"
        error_extensions = {"code": "FORBIDDEN", "permission": permission.value}

        def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
            return permission in info.context.permissions

    Requires.__name__ = f"Requires{permission.value.title().replace('_', '')}"
    return Requires


READ = [requires(Permission.READ)]
CREATE_ORDERS = [requires(Permission.CREATE_ORDERS)]
EDIT_ORDERS = [requires(Permission.EDIT_ORDERS)]
PROCESS_ORDERS = [requires(Permission.PROCESS_ORDERS)]
CANCEL_ORDERS = [requires(Permission.CANCEL_ORDERS)]
MANAGE_STOCK = [requires(Permission.MANAGE_STOCK)]
MANAGE_LOCATIONS = [requires(Permission.MANAGE_LOCATIONS)]
MANAGE_TOKENS = [requires(Permission.MANAGE_TOKENS)]
MANAGE_CHANNELS = [requires(Permission.MANAGE_CHANNELS)]
