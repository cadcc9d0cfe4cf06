"""Fixtures of the live tests."""

from __future__ import annotations

import pytest

from orderdeck.models import Location
from orderdeck.services import stock
from orderdeck.services.context import Actor

MUGS_IN_STOCK = 100


@pytest.fixture
async def mugs(postgres_only, default_location: Location) -> Location:
    """MUG, MUGS_IN_STOCK of them at the default location (PostgreSQL only: these tests are about
    other processes and concurrent transactions)."""
    actor = Actor("tester")
    await stock.create_stock_item({"sku": "MUG", "title": "Mug"}, actor)
    await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": default_location.id, "quantity": MUGS_IN_STOCK}]},
                                 actor)  # fmt: skip
    return default_location
