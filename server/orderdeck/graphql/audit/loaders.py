"""DataLoaders for the audit trail (one query per request, whatever the number of keys)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from strawberry.dataloader import DataLoader

from orderdeck import db
from orderdeck.models import AuditEntry

TrailKey = tuple[uuid.UUID, int]
"""(subject id, how many of its newest entries)."""

_NEWEST_SQL = """
SELECT * FROM (
    SELECT audit_entry.*, ROW_NUMBER() OVER (PARTITION BY subject_id ORDER BY id DESC) AS recency
    FROM audit_entry
    WHERE subject_id IN ({ids})
) newest
WHERE recency <= {limit}
ORDER BY id DESC
"""


def newest_audit_entries() -> DataLoader[TrailKey, list[AuditEntry]]:
    """The newest entries about each subject (an order, stock item or location), newest first.

    One query for all keys, reading at most the largest limit asked for per subject (a window
    ranks each subject's entries), however long their histories.
    """

    async def load(keys: list[TrailKey]) -> list[list[AuditEntry]]:
        subjects = list({subject for subject, _ in keys})
        marks = db.placeholders(len(subjects) + 1)
        sql = _NEWEST_SQL.format(ids=", ".join(marks[:-1]), limit=marks[-1])
        params = [*(str(s) for s in subjects), max(limit for _, limit in keys)]
        connection = db.connection()
        rows = await connection.executor_class(model=AuditEntry, db=connection).execute_select(sql, params)
        found: dict[uuid.UUID, list[AuditEntry]] = defaultdict(list)
        for row in rows:
            found[row.subject_id].append(row)
        return [found[subject][:limit] for subject, limit in keys]

    return DataLoader(load_fn=load)
