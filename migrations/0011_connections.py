from tortoise import migrations
from tortoise.transactions import in_transaction
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from orderdeck.migration_ops import DescriptionOnly
from orderdeck.models.audit import AuditKind, AuditSubject
from orderdeck.models.connections import ConnectionKind, SyncKind
from orderdeck.models.orders import FulfilmentState
from orderdeck.models.stock import StockChangeReason
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

# Each channel becomes a connection under the same id, with its name, connector (the plugin),
# settings, secrets, schedule and cursor; the channel row keeps its channel-only parts.
CHANNELS_TO_CONNECTIONS = """
INSERT INTO connection (id, name, kind, connector, settings, secrets, enabled, sync_interval_seconds, cursor,
                        last_run_at, next_run_at, created_at, updated_at)
SELECT id, name, 'CHANNEL', plugin, settings, secrets, enabled, sync_interval_seconds, download_cursor,
       last_download_at, next_download_at, created_at, updated_at
FROM channel
"""
# The automation log, the run claims and the failed jobs of a channel are its connection's.
CONNECTION_OF_CHANNEL = [
    "UPDATE channel SET connection_id = id",
    "UPDATE sync_run SET connection_id = channel_id",
    "UPDATE run_claim SET connection_id = channel_id",
    "UPDATE failed_job SET connection_id = channel_id",
]


# The indexes the models declare that the operations above leave out: SQLite alters a column by
# rebuilding its table, and Tortoise's rebuild drops the table's indexes; and a foreign key added
# to an existing table gets no index on PostgreSQL. Named as the models name them.
MISSING_INDEXES = [
    'CREATE INDEX IF NOT EXISTS "idx_stock_item_fulfilm_c7d056" ON "stock_item" ("fulfilment_sku")',
    'CREATE INDEX IF NOT EXISTS "idx_channel_downloa_3c47e4" ON "channel" ("download_location_id")',
    'CREATE INDEX IF NOT EXISTS "idx_failed_job_connect_7bdbf5" ON "failed_job" ("connection_id")',
    'CREATE INDEX IF NOT EXISTS "idx_failed_job_failed__78bbe2" ON "failed_job" ("failed_at")',
    'CREATE INDEX IF NOT EXISTS "idx_location_fulfilm_2d3bb4" ON "location" ("fulfilment_connection_id")',
    'CREATE INDEX IF NOT EXISTS "idx_sync_run_connect_a3d880" ON "sync_run" ("connection_id")',
    'CREATE INDEX IF NOT EXISTS "idx_sync_run_kind_47d918" ON "sync_run" ("kind")',
    'CREATE INDEX IF NOT EXISTS "idx_sync_run_outcome_e5bf8d" ON "sync_run" ("outcome")',
    'CREATE INDEX IF NOT EXISTS "idx_sync_run_started_c8183d" ON "sync_run" ("started_at")',
]


class RemoveTableConstraint(ops.RemoveConstraint):
    """Drop a unique constraint; on SQLite, which keeps it inside the table's definition (with no
    index of its name to drop), the table rebuilds that follow leave it out."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is not None and state_editor.client.capabilities.dialect == "sqlite":
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)


class RemoveForeignKey(ops.RemoveField):
    """Remove a foreign key. On SQLite, Tortoise's table rebuild drops only one of the field's two
    names (the relation or its column) and so keeps the column, empty (a NOT NULL one fails):
    the table is rebuilt as the model is without the field instead."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is not None and state_editor.client.capabilities.dialect == "sqlite":
            await state_editor._remake_table(new_state.apps.get_model(f"{app_label}.{self.model_name}"))
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)


class AddFilledField(ops.AddField):
    """Add a NOT NULL column without a database default to a table that may have rows: Tortoise
    adds it with no value for them, which the database refuses. The rows get ``fill`` (SQL) as the
    column is added; PostgreSQL then drops that default (SQLite cannot, and keeps it)."""

    def __init__(self, *, fill: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fill = fill

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if state_editor is None:
            return
        model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
        table, column = model._meta.db_table, self.field.source_field or self.name
        dialect = state_editor.client.capabilities.dialect
        kind = self.field.get_for_dialect(dialect, "SQL_TYPE")
        await state_editor.client.execute_script(
            f'ALTER TABLE "{table}" ADD COLUMN "{column}" {kind} NOT NULL DEFAULT {self.fill}')
        if dialect != "sqlite":
            await state_editor.client.execute_script(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" DROP DEFAULT')


class Migration(migrations.Migration):
    dependencies = [('models', '0010_sqlite_rebuilt_indexes')]

    initial = False

    # SQLite alters a table by rebuilding it, and dropping the old table with foreign keys enforced
    # deletes what references it (ON DELETE CASCADE: listings, stock locations, sync issues...) or
    # fails (RESTRICT: orders). Its foreign keys go off for the migration, which can only be done
    # outside a transaction: so apply() opens the migration's transaction itself (atomic on both
    # databases), and checks every reference still holds before it commits.
    atomic = False

    async def apply(self, state, *, dry_run=False, schema_editor=None, collect_sql=False):
        if schema_editor is None or dry_run or collect_sql:
            return await super().apply(state, dry_run=dry_run, schema_editor=schema_editor, collect_sql=collect_sql)
        client = schema_editor.client
        sqlite = client.capabilities.dialect == "sqlite"
        if sqlite:
            await client.execute_script("PRAGMA foreign_keys = OFF")
        try:
            async with in_transaction(client.connection_name) as transaction:
                schema_editor.client, schema_editor.atomic_migration = transaction, True
                state = await super().apply(state, schema_editor=schema_editor)
                if sqlite and (broken := await transaction.execute_query_dict("PRAGMA foreign_key_check")):
                    raise RuntimeError(f"0011 would leave references to nothing: {broken[:5]}")
        finally:
            schema_editor.client = client
            if sqlite:
                await client.execute_script("PRAGMA foreign_keys = ON")
        return state

    operations = [
        ops.CreateModel(
            name='Connection',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('kind', fields.CharEnumField(db_index=True, description='CHANNEL: CHANNEL\nFULFILMENT_CENTRE: FULFILMENT_CENTRE', enum_type=ConnectionKind, max_length=20)),
                ('connector', fields.CharField(max_length=50)),
                ('settings', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('secrets', fields.TextField(null=True, unique=False)),
                ('enabled', fields.BooleanField(default=True, db_default=True)),
                ('sync_interval_seconds', fields.IntField(default=300, db_default=300)),
                ('cursor', fields.CharField(null=True, max_length=500)),
                ('last_run_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('next_run_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'connection', 'app': 'models', 'pk_attr': 'id', 'table_description': "A configured account of a connector: a shop on a channel, a fulfilment centre's FTP"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ImportedReport',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('connection', fields.ForeignKeyField('models.Connection', source_field='connection_id', db_constraint=True, to_field='id', related_name='imported_reports', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='DOWNLOAD: DOWNLOAD\nSTOCK_PUSH: STOCK_PUSH\nDISPATCH: DISPATCH\nEXPORT: EXPORT\nSTATUS_IMPORT: STATUS_IMPORT\nSTOCK_IMPORT: STOCK_IMPORT', enum_type=SyncKind, max_length=16)),
                ('name', fields.CharField(max_length=255)),
                ('content_hash', fields.CharField(max_length=64)),
                ('run', fields.ForeignKeyField('models.SyncRun', source_field='run_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='reports', on_delete=OnDelete.SET_NULL)),
                ('imported_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'imported_report', 'app': 'models', 'unique_together': (('connection', 'kind', 'name', 'content_hash'),), 'pk_attr': 'id', 'table_description': 'A report a fulfilment centre gave (a status or stock file, an answer), recorded by name and'},
            bases=['Model'],
        ),
        RemoveTableConstraint(
            model_name='RunClaim',
            name=None,
            fields=['channel', 'kind'],
        ),
        ops.RunSQL(CHANNELS_TO_CONNECTIONS),
        ops.AddField(
            model_name='Channel',
            name='connection',
            field=fields.OneToOneField('models.Connection', source_field='connection_id', null=True, db_constraint=True, to_field='id', related_name='channel', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='FailedJob',
            name='connection',
            field=fields.ForeignKeyField('models.Connection', source_field='connection_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='failed_jobs', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='RunClaim',
            name='connection',
            field=fields.ForeignKeyField('models.Connection', source_field='connection_id', null=True, db_constraint=True, to_field='id', related_name='claims', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='SyncRun',
            name='connection',
            field=fields.ForeignKeyField('models.Connection', source_field='connection_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='runs', on_delete=OnDelete.CASCADE),
        ),
        *[ops.RunSQL(sql) for sql in CONNECTION_OF_CHANNEL],
        ops.AlterField(
            model_name='Channel',
            name='connection',
            field=fields.OneToOneField('models.Connection', source_field='connection_id', db_constraint=True, to_field='id', related_name='channel', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='RunClaim',
            name='connection',
            field=fields.ForeignKeyField('models.Connection', source_field='connection_id', db_constraint=True, to_field='id', related_name='claims', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='SyncRun',
            name='connection',
            field=fields.ForeignKeyField('models.Connection', source_field='connection_id', db_index=True, db_constraint=True, to_field='id', related_name='runs', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterModelOptions(
            name='Channel',
            options={'table': 'channel', 'app': 'models', 'pk_attr': 'id', 'table_description': 'What a connection to a sales channel adds to the connection (models.Connection): where its'},
        ),
        ops.RemoveField(model_name='Channel', name='created_at'),
        ops.RemoveField(model_name='Channel', name='download_cursor'),
        ops.RemoveField(model_name='Channel', name='enabled'),
        ops.RemoveField(model_name='Channel', name='last_download_at'),
        ops.RemoveField(model_name='Channel', name='name'),
        ops.RemoveField(model_name='Channel', name='next_download_at'),
        ops.RemoveField(model_name='Channel', name='plugin'),
        ops.RemoveField(model_name='Channel', name='secrets'),
        ops.RemoveField(model_name='Channel', name='settings'),
        ops.RemoveField(model_name='Channel', name='sync_interval_seconds'),
        ops.RemoveField(model_name='Channel', name='updated_at'),
        RemoveForeignKey(model_name='FailedJob', name='channel'),
        ops.AddField(
            model_name='Location',
            name='deduct_stock_when_processed',
            field=fields.BooleanField(default=True, db_default=True),
        ),
        AddFilledField(
            fill="'[]'",
            model_name='Location',
            name='export_columns',
            field=fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Location',
            name='export_file_pattern',
            field=fields.CharField(default='orders-{location}-{first}-{last}-{batch}.csv', db_default='orders-{location}-{first}-{last}-{batch}.csv', max_length=200),
        ),
        ops.AddField(
            model_name='Location',
            name='fulfilment_connection',
            field=fields.ForeignKeyField('models.Connection', source_field='fulfilment_connection_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='fulfilment_locations', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Order',
            name='export_attempts',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Order',
            name='export_claimed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Order',
            name='export_file',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddField(
            model_name='Order',
            name='export_next_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Order',
            name='exported_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Order',
            name='fulfilment_message',
            field=fields.CharField(default='', db_default='', max_length=1000),
        ),
        ops.AddField(
            model_name='Order',
            name='fulfilment_state',
            field=fields.CharEnumField(null=True, description='EXPORTED: EXPORTED\nERROR: ERROR\nSHIPPED: SHIPPED\nCANCELLED: CANCELLED', enum_type=FulfilmentState, max_length=16),
        ),
        ops.AddField(
            model_name='Order',
            name='label_error',
            field=fields.CharField(default='', db_default='', max_length=1000),
        ),
        ops.AddField(
            model_name='StockItem',
            name='fulfilment_sku',
            field=fields.CharField(default='', db_index=True, db_default='', max_length=100),
        ),
        ops.AlterModelOptions(
            name='RunClaim',
            options={'table': 'run_claim', 'app': 'models', 'unique_together': (('connection', 'kind'),), 'pk_attr': 'id', 'table_description': 'The right to run a kind of work for a connection: one row per (connection, kind), held by one run at a time under a random token until lease_until. The holder'},
        ),
        ops.AlterField(
            model_name='RunClaim',
            name='kind',
            field=fields.CharEnumField(description='DOWNLOAD: DOWNLOAD\nSTOCK_PUSH: STOCK_PUSH\nDISPATCH: DISPATCH\nEXPORT: EXPORT\nSTATUS_IMPORT: STATUS_IMPORT\nSTOCK_IMPORT: STOCK_IMPORT', enum_type=SyncKind, max_length=16),
        ),
        RemoveForeignKey(model_name='RunClaim', name='channel'),
        ops.AddConstraint(
            model_name='RunClaim',
            constraint=UniqueConstraint(fields=('connection', 'kind'), name=None),
        ),
        ops.AlterModelOptions(
            name='SyncIssue',
            options={'table': 'sync_issue', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One order (or file row) skipped or failed in a run, by its reference, and why.'},
        ),
        ops.AlterModelOptions(
            name='SyncRun',
            options={'table': 'sync_run', 'app': 'models', 'pk_attr': 'id', 'table_description': "One run of a kind of a connection's work: the automation log."},
        ),
        ops.AlterField(
            model_name='SyncRun',
            name='kind',
            field=fields.CharEnumField(db_index=True, description='DOWNLOAD: DOWNLOAD\nSTOCK_PUSH: STOCK_PUSH\nDISPATCH: DISPATCH\nEXPORT: EXPORT\nSTATUS_IMPORT: STATUS_IMPORT\nSTOCK_IMPORT: STOCK_IMPORT', enum_type=SyncKind, max_length=16),
        ),
        ops.AddField(
            model_name='SyncRun',
            name='exported',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='SyncRun',
            name='imported',
            field=fields.IntField(default=0, db_default=0),
        ),
        RemoveForeignKey(model_name='SyncRun', name='channel'),
        *[ops.RunSQL(statement) for statement in MISSING_INDEXES],
        # One channel to a connection (the column was added nullable, to be filled, which left its UNIQUE out).
        ops.RunSQL('CREATE UNIQUE INDEX IF NOT EXISTS "uid_channel_connection" ON "channel" ("connection_id")'),
        DescriptionOnly(
            model_name='AuditEntry',
            name='kind',
            field=fields.CharEnumField(db_index=True, description='ORDER_CREATED: ORDER_CREATED\nORDER_UPDATED: ORDER_UPDATED\nITEMS_CHANGED: ITEMS_CHANGED\nSTATUS_CHANGED: STATUS_CHANGED\nPARKED: PARKED\nUNPARKED: UNPARKED\nLOCKED: LOCKED\nUNLOCKED: UNLOCKED\nHELD: HELD\nUNHELD: UNHELD\nTAG_ADDED: TAG_ADDED\nTAG_REMOVED: TAG_REMOVED\nNOTE_ADDED: NOTE_ADDED\nNOTE_DELETED: NOTE_DELETED\nPROPERTY_SET: PROPERTY_SET\nPROPERTY_REMOVED: PROPERTY_REMOVED\nMOVED: MOVED\nPROCESSED: PROCESSED\nCANCELLED: CANCELLED\nCANCELLED_ON_CHANNEL: CANCELLED_ON_CHANNEL\nDELETED: DELETED\nRETURN_CREATED: RETURN_CREATED\nRESEND_CREATED: RESEND_CREATED\nDESPATCH_NOTE: DESPATCH_NOTE\nDESPATCH_NOTE_FAILED: DESPATCH_NOTE_FAILED\nDESPATCH_NOTE_RETRIED: DESPATCH_NOTE_RETRIED\nFULFIL_STATUS: FULFIL_STATUS\nEXPORTED: EXPORTED\nEXPORT_FAILED: EXPORT_FAILED\nSTOCK_ITEM_CREATED: STOCK_ITEM_CREATED\nSTOCK_ITEM_UPDATED: STOCK_ITEM_UPDATED\nSTOCK_LEVEL_SET: STOCK_LEVEL_SET\nSTOCK_LEVEL_ADJUSTED: STOCK_LEVEL_ADJUSTED\nMINIMUM_LEVEL_SET: MINIMUM_LEVEL_SET\nLOCATION_CREATED: LOCATION_CREATED\nLOCATION_RENAMED: LOCATION_RENAMED\nLOCATION_DEFAULT_SET: LOCATION_DEFAULT_SET\nLOCATION_DELETED: LOCATION_DELETED\nCHANNEL_CREATED: CHANNEL_CREATED\nCHANNEL_UPDATED: CHANNEL_UPDATED\nCHANNEL_ENABLED: CHANNEL_ENABLED\nCHANNEL_DISABLED: CHANNEL_DISABLED\nCHANNEL_DELETED: CHANNEL_DELETED\nCONNECTION_CREATED: CONNECTION_CREATED\nCONNECTION_UPDATED: CONNECTION_UPDATED\nCONNECTION_ENABLED: CONNECTION_ENABLED\nCONNECTION_DISABLED: CONNECTION_DISABLED\nCONNECTION_DELETED: CONNECTION_DELETED\nLOCATION_FULFILMENT_SET: LOCATION_FULFILMENT_SET\nJOB_RETRIED: JOB_RETRIED\nLISTING_LINKED: LISTING_LINKED\nLISTING_UPDATED: LISTING_UPDATED\nLISTING_UNLINKED: LISTING_UNLINKED\nTOKEN_CREATED: TOKEN_CREATED\nTOKEN_REVOKED: TOKEN_REVOKED', enum_type=AuditKind, max_length=40),
        ),
        DescriptionOnly(
            model_name='AuditEntry',
            name='subject',
            field=fields.CharEnumField(description='ORDER: ORDER\nSTOCK_ITEM: STOCK_ITEM\nLOCATION: LOCATION\nTOKEN: TOKEN\nCHANNEL: CHANNEL\nCONNECTION: CONNECTION', enum_type=AuditSubject, max_length=16),
        ),
        DescriptionOnly(
            model_name='StockLedgerEntry',
            name='reason',
            field=fields.CharEnumField(description='ORDER_CREATED: ORDER_CREATED\nORDER_EDITED: ORDER_EDITED\nORDER_MOVED: ORDER_MOVED\nORDER_LOCKED: ORDER_LOCKED\nORDER_UNLOCKED: ORDER_UNLOCKED\nORDER_PROCESSED: ORDER_PROCESSED\nORDER_CANCELLED: ORDER_CANCELLED\nORDER_DELETED: ORDER_DELETED\nITEM_LINKED: ITEM_LINKED\nRETURN_RESTOCKED: RETURN_RESTOCKED\nLEVEL_SET: LEVEL_SET\nLEVEL_ADJUSTED: LEVEL_ADJUSTED\nFULFILMENT_STOCK: FULFILMENT_STOCK', enum_type=StockChangeReason, max_length=32),
        ),
    ]
