"""The fulfilment centres the dashboard's browser test shows, written straight into the database of a
running `orderdeck serve` (which migrated it), from a process of their own:

    ORDERDECK_DATABASE_URL=sqlite://... python -m tests.dashboard.centre_world setup|live [JSON]

`setup` makes a drop shipper serving a location, a disabled centre serving none, finished runs of
the drop shipper, and orders at its location: one exported, one the centre reported in error, one
whose export failed and one waiting out an export's backoff; it prints their ids as JSON. `live`
(given that JSON) finishes a failed export run of the drop shipper, with its sync progress event,
and gives the waiting order a label error, in one transaction: the server's hub finds the event
and the page follows it.

The server's scheduler must leave these centres alone (the test starts it with a long scheduler
interval): their next runs are put off by a day, and no order at the location is due for export.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

from orderdeck import db
from orderdeck.models import ActorKind, Connection, FulfilmentState, Order, SyncKind, SyncOutcome, SyncRun
from orderdeck.services import connections, locations
from orderdeck.services.context import Actor, transaction
from orderdeck.services.events import SyncPhase, sync_progress
from orderdeck.services.fulfilment.locations import set_location_fulfilment
from tests.services.helpers import make_item, make_order

ADDRESS = {"full_name": "Ada Lovelace", "address1": "1 Analytical Row", "town": "London", "postcode": "N1 1AA",
           "country": "GB"}  # fmt: skip
LATER = timedelta(days=1)
CENTRE_ERROR = "Address rejected by the drop shipper: no house number"
LABEL_ERROR = "HTTP 422 from the drop shipper: SKU MUG is unknown"
LIVE_RUN_ERROR = "The drop shipper refused the API key (HTTP 401)"
LIVE_LABEL_ERROR = "HTTP 401 from the drop shipper: API key refused"


async def setup(actor: Actor) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    settings = {"url": "https://dropship.example.com", "api_key": "k"}
    centre = await connections.create_connection(
        {"name": "Drop shipper", "connector": "url_dropship", "settings": settings}, actor)
    idle = await connections.create_connection(
        {"name": "Old warehouse", "connector": "url_dropship", "enabled": False, "settings": settings}, actor)
    await Connection.filter(id__in=[centre.id, idle.id]).update(next_run_at=now + LATER)
    place = await locations.create_location("Drop ship stock", actor)
    await set_location_fulfilment(place.id, {"connection_id": centre.id}, actor)
    await make_item("MUG", actor, level=20, location_id=place.id)
    shipped, in_error, refused, waiting = [
        await make_order(actor, ("MUG", 1), shipping_address=ADDRESS, location_id=place.id, reference=f"DS-{n}")
        for n in range(1, 5)
    ]
    exported = {"label_printed": True, "exported_at": now - timedelta(minutes=30), "export_file": "DS-batch-1"}
    await Order.filter(id=shipped.id).update(fulfilment_state=FulfilmentState.EXPORTED, **exported)
    await Order.filter(id=in_error.id).update(fulfilment_state=FulfilmentState.ERROR,
                                              fulfilment_message=CENTRE_ERROR, **exported)  # fmt: skip
    await Order.filter(id=refused.id).update(label_error=LABEL_ERROR, export_next_at=now + LATER, export_attempts=1)
    await Order.filter(id=waiting.id).update(export_next_at=now + LATER)

    def finished(kind: SyncKind, minutes_ago: int, **counts: Any) -> dict[str, Any]:
        started = now - timedelta(minutes=minutes_ago)
        return {"connection_id": centre.id, "kind": kind, "started_at": started,
                "finished_at": started + timedelta(seconds=5), **counts}  # fmt: skip

    await SyncRun.create(**finished(SyncKind.EXPORT, 40, outcome=SyncOutcome.SUCCEEDED, exported=5))
    await SyncRun.create(**finished(SyncKind.EXPORT, 30, outcome=SyncOutcome.PARTIAL, exported=2, failed=1))
    await SyncRun.create(**finished(SyncKind.STATUS_IMPORT, 20, outcome=SyncOutcome.SUCCEEDED, imported=1))
    return {
        "centre": str(centre.id), "idle": str(idle.id), "location": str(place.id),
        "orders": {name: {"id": str(order.id), "number": order.number} for name, order in
                   {"shipped": shipped, "in_error": in_error, "refused": refused, "waiting": waiting}.items()},
    }  # fmt: skip


async def live(world: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    async with transaction():
        run = await SyncRun.create(connection_id=world["centre"], kind=SyncKind.EXPORT, outcome=SyncOutcome.FAILED,
                                   started_at=now - timedelta(seconds=2), finished_at=now, failed=1,
                                   error=LIVE_RUN_ERROR)  # fmt: skip
        sync_progress(run, SyncPhase.FINISHED)
        await Order.filter(id=world["orders"]["waiting"]["id"]).update(label_error=LIVE_LABEL_ERROR)
    return {"run": str(run.id)}


async def main(step: str, given: str | None) -> dict[str, Any]:
    await db.init_db(os.environ["ORDERDECK_DATABASE_URL"])
    try:
        if step == "setup":
            return await setup(Actor("tester", ActorKind.USER))
        return await live(json.loads(given or "{}"))
    finally:
        await db.close_db()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))))
