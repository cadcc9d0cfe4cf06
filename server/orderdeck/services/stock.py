"""Stock: items, levels per location, and the one primitive that changes level or allocation.

Every change to a level or an allocation goes through :func:`apply_stock_changes`, which locks the
affected rows in a fixed order (no deadlocks, no lost updates), updates them with one statement and
writes one ledger row per (reason, order, item, location).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timezone
from dataclasses import dataclass, replace
from decimal import Decimal

from pydantic import Field
from tortoise.exceptions import IntegrityError

from orderdeck import db
from orderdeck.models import (
    AuditKind,
    AuditSubject,
    Location,
    StockChangeReason,
    StockItem,
    StockLedgerEntry,
    StockLevel,
)
from orderdeck.services import allocation, events, outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.bulk import insert_rows
from orderdeck.services.context import MAX_BATCH, Actor, locked, transaction
from orderdeck.services.errors import ErrorCode, FieldError, ServiceError, camel_case, validated
from orderdeck.services.fields import MAX_LEVEL, Strict, text

StockKey = tuple[uuid.UUID, uuid.UUID]
"""(stock item id, location id)."""


@dataclass(frozen=True)
class StockChange:
    """A delta to the level and/or allocation of one item at one location, and why."""

    item_id: uuid.UUID
    location_id: uuid.UUID
    reason: StockChangeReason
    level: int = 0
    allocated: int = 0
    order_id: uuid.UUID | None = None
    order_number: int | None = None
    note: str = ""
    # The order's received_at (its place in the allocation queue); looked up when not given.
    received_at: datetime | None = None
    # The order is being created in this transaction, so it holds no allocation yet (none is read).
    new_order: bool = False

    @property
    def key(self) -> StockKey:
        return (self.item_id, self.location_id)


async def ensure_levels(keys: set[StockKey]) -> None:
    """Create missing (item, location) level rows at zero; existing ones are left alone."""
    if keys:
        await StockLevel.bulk_create(
            [StockLevel(item_id=i, location_id=loc) for i, loc in sorted(keys)],
            ignore_conflicts=True,
        )


async def lock_levels(keys: set[StockKey]) -> dict[StockKey, StockLevel]:
    """Lock the level rows of ``keys`` (creating missing ones) in id order, and return them.

    One statement when every level exists, as it does but for an item's first order or stock at
    a location: on PostgreSQL it locks nothing unless all are there, so the missing rows are
    created while this call holds none of the others' locks (another transaction creating the
    same rows may be waiting for one of them).
    """
    if not keys:
        return {}
    levels = await _lock_existing(keys)
    if len(levels) < len(keys):
        await ensure_levels(keys - levels.keys())
        levels = await _lock_existing(keys)
    return levels


# Every level of the (item, location) pairs given as two arrays, locked in id order, or none
# unless all exist: the count is an InitPlan, evaluated before any row is locked.
_LOCK_ALL = """
SELECT {columns} FROM stock_level
WHERE (item_id, location_id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))
  AND (SELECT count(*) FROM stock_level
       WHERE (item_id, location_id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))) = $3
ORDER BY id FOR UPDATE
"""


async def _lock_existing(keys: set[StockKey]) -> dict[StockKey, StockLevel]:
    """The level rows of ``keys``, locked in id order. PostgreSQL: all of them, or none (and none
    locked) when one is missing; SQLite (which writes one transaction at a time and has no row
    locks): those that exist."""
    columns = ", ".join(StockLevel._meta.fields_db_projection.values())
    if db.dialect() == "postgres":
        pairs = sorted(keys)
        rows = await db.fetch(_LOCK_ALL.format(columns=columns), [[i for i, _ in pairs], [loc for _, loc in pairs], len(pairs)])
    else:
        items_at: dict[uuid.UUID, list[str]] = defaultdict(list)
        for item_id, location_id in keys:
            items_at[location_id].append(str(item_id))
        terms, params = [], []
        for location_id, items in items_at.items():
            terms.append(f"(location_id = ? AND item_id IN ({', '.join('?' * len(items))}))")
            params += [str(location_id), *items]
        rows = await db.fetch(f"SELECT {columns} FROM stock_level WHERE {' OR '.join(terms)} ORDER BY id", params)
    levels = [StockLevel._init_from_db(**row) for row in rows]
    return {(level.item_id, level.location_id): level for level in levels}


async def apply_stock_changes(changes: list[StockChange], actor: Actor) -> dict[StockKey, StockLevel]:
    """Apply deltas to levels and allocations, write the ledger; return the new levels.

    Must run inside the caller's transaction. Zero changes are dropped. Allocation deltas also
    update the orders' allocation rows and the touched levels' coverage frontiers
    (orderdeck.services.allocation), so allocation state is read without recomputing it.
    """
    changes = [c for c in changes if c.level or c.allocated]
    if not changes:
        return {}
    levels = await lock_levels({c.key for c in changes})
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for change in changes:
        row_id = levels[change.key].id
        totals[row_id][0] += change.level
        totals[row_id][1] += change.allocated

    after = await _add_to_levels(totals)
    stamp = datetime.now(timezone.utc)
    skus: dict[uuid.UUID, str] = {}
    for row in levels.values():
        if row.id in after:
            row.level, row.allocated, skus[row.item_id] = after[row.id]
            row.updated_at = stamp

    changed = {key: row for key, row in levels.items() if row.id in totals}
    moves = await allocation.record(changes)
    before = [(row, row.level - totals[row.id][0], row.allocated - totals[row.id][1]) for row in changed.values()]
    await allocation.move_frontiers(before, moves)
    await insert_rows(StockLedgerEntry, _ledger_rows(changes, levels, totals, actor))
    await outbox.stock_changed({key for key, row in changed.items() if totals[row.id][0] != totals[row.id][1]})
    events.stock_levels_changed(changed.values(), skus)
    return changed


# PostgreSQL: the deltas as arrays, so the statement's text (and prepared statement) is one.
_ADD_ALL = """
UPDATE stock_level SET level = stock_level.level + d.level, allocated = stock_level.allocated + d.allocated,
       updated_at = CURRENT_TIMESTAMP
FROM unnest($1::bigint[], $2::int[], $3::int[]) AS d(id, level, allocated)
WHERE stock_level.id = d.id
RETURNING stock_level.id, stock_level.level, stock_level.allocated, {sku}
"""

_SKU = "(SELECT sku FROM stock_item WHERE stock_item.id = stock_level.item_id) AS sku"
"""The item's SKU, returned with a changed level (for its event)."""


async def _add_to_levels(totals: dict[int, list[int]]) -> dict[int, tuple[int, int, str]]:
    """Add ``totals`` ([level, allocated] deltas by level row id) to the (locked) rows in one
    statement; return each row's new (level, allocated) and its item's SKU."""
    ids = sorted(totals)
    if db.dialect() == "postgres":
        rows = await db.fetch(_ADD_ALL.format(sku=_SKU), [ids, [totals[i][0] for i in ids], [totals[i][1] for i in ids]])
    else:
        marks = iter(db.placeholders(len(ids) * 5))
        level_case = " ".join(f"WHEN {next(marks)} THEN {next(marks)}" for _ in ids)
        alloc_case = " ".join(f"WHEN {next(marks)} THEN {next(marks)}" for _ in ids)
        in_list = ", ".join(next(marks) for _ in ids)
        params: list[int] = [v for i in ids for v in (i, totals[i][0])]
        params += [v for i in ids for v in (i, totals[i][1])]
        params += ids
        rows = await db.fetch(
            f"UPDATE stock_level SET level = level + CASE id {level_case} ELSE 0 END, "
            f"allocated = allocated + CASE id {alloc_case} ELSE 0 END, "
            f"updated_at = CURRENT_TIMESTAMP WHERE id IN ({in_list}) "
            f"RETURNING id, level, allocated, {_SKU}",
            params,
        )
    return {row["id"]: (row["level"], row["allocated"], row["sku"]) for row in rows}


def _ledger_rows(
    changes: list[StockChange],
    levels: dict[StockKey, StockLevel],
    totals: dict[int, list[int]],
    actor: Actor,
) -> list[dict]:
    """One ledger row (by field name) per (reason, order, item, location), chaining before/after values."""
    merged: dict[tuple, StockChange] = {}
    for c in changes:
        k = (c.key, c.reason, c.order_id)
        prev = merged.get(k)
        merged[k] = c if prev is None else StockChange(
            c.item_id, c.location_id, c.reason, prev.level + c.level, prev.allocated + c.allocated,
            c.order_id, c.order_number, prev.note or c.note,
        )  # fmt: skip
    running = {
        key: [row.level - totals[row.id][0], row.allocated - totals[row.id][1]]
        for key, row in levels.items()
        if row.id in totals
    }
    entries = []
    for c in merged.values():
        if not (c.level or c.allocated):
            continue
        level_before, alloc_before = running[c.key]
        running[c.key] = [level_before + c.level, alloc_before + c.allocated]
        entries.append(dict(
            item_id=c.item_id, location_id=c.location_id, reason=c.reason,
            level_before=level_before, level_after=level_before + c.level,
            allocated_before=alloc_before, allocated_after=alloc_before + c.allocated,
            order_id=c.order_id, order_number=c.order_number, note=c.note[:500],
            actor=actor.name, actor_kind=actor.kind,
        ))  # fmt: skip
    return entries


# --- stock items ---------------------------------------------------------------------------


class StockItemInput(Strict):
    """A new stock item."""

    sku: text(100, 1)
    title: text(255, 1)
    barcode: text(64) | None = None
    weight: Decimal = Field(Decimal(0), ge=0, max_digits=12, decimal_places=3)
    unit_price: Decimal = Field(Decimal(0), ge=0, max_digits=14, decimal_places=2)


class StockItemPatch(Strict):
    """Changes to a stock item; fields left out stay as they are."""

    sku: text(100, 1) | None = None
    title: text(255, 1) | None = None
    barcode: text(64) | None = None
    weight: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=3)
    unit_price: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)


def _item_snapshot(item: StockItem) -> dict[str, str | None]:
    return {
        "sku": item.sku, "title": item.title, "barcode": item.barcode,
        "weight": str(item.weight), "unitPrice": str(item.unit_price),
    }  # fmt: skip


async def create_stock_item(data: StockItemInput | dict, actor: Actor) -> StockItem:
    """Create a stock item with a unique SKU."""
    data = validated(StockItemInput, data)
    async with transaction():
        if await StockItem.filter(sku=data.sku).exists():
            raise ServiceError.one(f"SKU {data.sku} already exists", "sku", ErrorCode.DUPLICATE)
        try:
            item = await StockItem.create(**data.model_dump())
        except IntegrityError:
            raise ServiceError.one(f"SKU {data.sku} already exists", "sku", ErrorCode.DUPLICATE) from None
        audit = AuditLog(actor)
        audit.add(AuditKind.STOCK_ITEM_CREATED, AuditSubject.STOCK_ITEM, item.id, item.sku,
                  after=_item_snapshot(item))  # fmt: skip
        await audit.write()
    return item


async def update_stock_item(item_id: uuid.UUID, data: StockItemPatch | dict, actor: Actor) -> StockItem:
    """Change a stock item's SKU, title, barcode, weight or price."""
    patch = validated(StockItemPatch, data)
    changes = patch.model_dump(exclude_unset=True)
    required = ("sku", "title", "weight", "unit_price")
    empty = [camel_case(name) for name in required if name in changes and changes[name] is None]
    if empty:
        raise ServiceError([FieldError(f"{name} cannot be empty", name) for name in empty])
    async with transaction():
        item = await locked(StockItem, item_id, "Stock item")
        if "sku" in changes and changes["sku"] != item.sku:
            if await StockItem.filter(sku=changes["sku"]).exists():
                raise ServiceError.one(f"SKU {changes['sku']} already exists", "sku", ErrorCode.DUPLICATE)
        before = _item_snapshot(item)
        item.update_from_dict(changes)
        try:
            await item.save()
        except IntegrityError:
            raise ServiceError.one(f"SKU {changes['sku']} already exists", "sku", ErrorCode.DUPLICATE) from None
        audit = AuditLog(actor)
        audit.add(AuditKind.STOCK_ITEM_UPDATED, AuditSubject.STOCK_ITEM, item.id, item.sku,
                  before=before, after=_item_snapshot(item))  # fmt: skip
        await audit.write()
    return item


# --- stock levels ----------------------------------------------------------------------------


class LevelInput(Strict):
    """One stock level to set (absolute) or adjust (delta), by SKU and location."""

    sku: text(100, 1)
    location_id: uuid.UUID
    quantity: int = Field(ge=-MAX_LEVEL, le=MAX_LEVEL)


class LevelChangeInput(Strict):
    """A batch of stock level writes and why they were made."""

    levels: list[LevelInput] = Field(min_length=1, max_length=MAX_BATCH)
    reason: text(500) = ""


async def _resolve_levels(batch: LevelChangeInput) -> tuple[list[StockKey], dict[StockKey, str]]:
    """Map each input row to (item id, location id), naming unknown SKUs and locations."""
    skus = {row.sku for row in batch.levels}
    items = {i.sku: i.id for i in await StockItem.filter(sku__in=skus).only("id", "sku")}
    loc_ids = {row.location_id for row in batch.levels}
    known_locations = set(await Location.filter(id__in=loc_ids).values_list("id", flat=True))
    errors, keys, skus_by_key = [], [], {}
    for n, row in enumerate(batch.levels):
        if row.sku not in items:
            errors.append(FieldError(f"SKU {row.sku} does not exist", f"levels.{n}.sku", ErrorCode.NOT_FOUND))
        if row.location_id not in known_locations:
            errors.append(FieldError(f"Location {row.location_id} does not exist",
                                     f"levels.{n}.locationId", ErrorCode.NOT_FOUND))  # fmt: skip
        if not errors:
            key = (items[row.sku], row.location_id)
            keys.append(key)
            skus_by_key[key] = row.sku
    if errors:
        raise ServiceError(errors)
    if len(set(keys)) != len(keys):
        raise ServiceError.one("Each SKU and location may appear only once", "levels")
    return keys, skus_by_key


async def set_stock_levels(data: LevelChangeInput | dict, actor: Actor) -> list[StockLevel]:
    """Set absolute physical levels (a stock count). Levels cannot be negative."""
    return await _write_levels(data, actor, absolute=True)


async def adjust_stock_levels(data: LevelChangeInput | dict, actor: Actor) -> list[StockLevel]:
    """Add (or, with a negative quantity, remove) stock. No level may end below zero."""
    return await _write_levels(data, actor, absolute=False)


async def _write_levels(data: LevelChangeInput | dict, actor: Actor, *, absolute: bool) -> list[StockLevel]:
    batch = validated(LevelChangeInput, data)
    keys, skus = await _resolve_levels(batch)
    reason = StockChangeReason.LEVEL_SET if absolute else StockChangeReason.LEVEL_ADJUSTED
    kind = AuditKind.STOCK_LEVEL_SET if absolute else AuditKind.STOCK_LEVEL_ADJUSTED
    async with transaction():
        current = await lock_levels(set(keys))
        changes, errors = [], []
        for n, (key, row) in enumerate(zip(keys, batch.levels)):
            delta = row.quantity - current[key].level if absolute else row.quantity
            if current[key].level + delta < 0:
                errors.append(FieldError(
                    f"Level of {row.sku} would be {current[key].level + delta}: levels cannot go below zero",
                    f"levels.{n}.quantity",
                ))  # fmt: skip
            elif current[key].level + delta > MAX_LEVEL:
                errors.append(FieldError(f"Level of {row.sku} would exceed {MAX_LEVEL}", f"levels.{n}.quantity"))
            changes.append(StockChange(key[0], key[1], reason, level=delta, note=batch.reason))
        if errors:
            raise ServiceError(errors)
        before = {key: current[key].level for key in keys}
        updated = await apply_stock_changes(changes, actor)
        audit = AuditLog(actor)
        for key in keys:
            level = updated.get(key, current[key])
            audit.add(kind, AuditSubject.STOCK_ITEM, key[0], f"{skus[key]}: {batch.reason}".rstrip(": "),
                      before={"level": before[key], "locationId": str(key[1])},
                      after={"level": level.level, "locationId": str(key[1])})  # fmt: skip
        await audit.write()
    return [updated.get(key, current[key]) for key in keys]


async def set_minimum_level(sku: str, location_id: uuid.UUID, minimum: int, actor: Actor) -> StockLevel:
    """Set the level below which an item counts as low at a location."""
    if not 0 <= minimum <= 1_000_000_000:
        raise ServiceError.one("Minimum level must be between 0 and 1000000000", "minimumLevel")
    wanted = validated(LevelInput, {"sku": sku, "location_id": location_id, "quantity": 0})
    try:
        keys, _ = await _resolve_levels(LevelChangeInput(levels=[wanted]))
    except ServiceError as exc:  # name the arguments, not a batch row that the caller never gave
        raise ServiceError([replace(e, field=(e.field or "").removeprefix("levels.0.") or None)
                            for e in exc.errors]) from None  # fmt: skip
    async with transaction():
        row = (await lock_levels({keys[0]}))[keys[0]]
        before = row.minimum_level
        row.minimum_level = minimum
        await row.save(update_fields=["minimum_level", "updated_at"])
        events.stock_levels_changed([row])
        audit = AuditLog(actor)
        audit.add(AuditKind.MINIMUM_LEVEL_SET, AuditSubject.STOCK_ITEM, keys[0][0], sku,
                  before={"minimumLevel": before, "locationId": str(location_id)},
                  after={"minimumLevel": minimum, "locationId": str(location_id)})  # fmt: skip
        await audit.write()
    return row
