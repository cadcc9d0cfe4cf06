from tortoise import migrations
from orderdeck.migration_ops import DescriptionOnly
from tortoise.migrations import operations as ops
from orderdeck.models.audit import AuditKind
from orderdeck.models.connections import SyncKind
from orderdeck.models.orders import FulfilmentState
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0011_connections')]

    initial = False

    operations = [
        DescriptionOnly(
            model_name='AuditEntry',
            name='kind',
            field=fields.CharEnumField(db_index=True, description='ORDER_CREATED: ORDER_CREATED\nORDER_UPDATED: ORDER_UPDATED\nITEMS_CHANGED: ITEMS_CHANGED\nSTATUS_CHANGED: STATUS_CHANGED\nPARKED: PARKED\nUNPARKED: UNPARKED\nLOCKED: LOCKED\nUNLOCKED: UNLOCKED\nHELD: HELD\nUNHELD: UNHELD\nTAG_ADDED: TAG_ADDED\nTAG_REMOVED: TAG_REMOVED\nNOTE_ADDED: NOTE_ADDED\nNOTE_DELETED: NOTE_DELETED\nPROPERTY_SET: PROPERTY_SET\nPROPERTY_REMOVED: PROPERTY_REMOVED\nMOVED: MOVED\nPROCESSED: PROCESSED\nCANCELLED: CANCELLED\nCANCELLED_ON_CHANNEL: CANCELLED_ON_CHANNEL\nDELETED: DELETED\nRETURN_CREATED: RETURN_CREATED\nRESEND_CREATED: RESEND_CREATED\nDESPATCH_NOTE: DESPATCH_NOTE\nDESPATCH_NOTE_FAILED: DESPATCH_NOTE_FAILED\nDESPATCH_NOTE_RETRIED: DESPATCH_NOTE_RETRIED\nFOLLOWED_UP: FOLLOWED_UP\nFOLLOW_UP_REFUSED: FOLLOW_UP_REFUSED\nCHANNEL_FOLLOW_UP_SET: CHANNEL_FOLLOW_UP_SET\nFULFIL_STATUS: FULFIL_STATUS\nEXPORTED: EXPORTED\nEXPORT_FAILED: EXPORT_FAILED\nSTOCK_ITEM_CREATED: STOCK_ITEM_CREATED\nSTOCK_ITEM_UPDATED: STOCK_ITEM_UPDATED\nSTOCK_LEVEL_SET: STOCK_LEVEL_SET\nSTOCK_LEVEL_ADJUSTED: STOCK_LEVEL_ADJUSTED\nMINIMUM_LEVEL_SET: MINIMUM_LEVEL_SET\nLOCATION_CREATED: LOCATION_CREATED\nLOCATION_RENAMED: LOCATION_RENAMED\nLOCATION_DEFAULT_SET: LOCATION_DEFAULT_SET\nLOCATION_DELETED: LOCATION_DELETED\nCHANNEL_CREATED: CHANNEL_CREATED\nCHANNEL_UPDATED: CHANNEL_UPDATED\nCHANNEL_ENABLED: CHANNEL_ENABLED\nCHANNEL_DISABLED: CHANNEL_DISABLED\nCHANNEL_DELETED: CHANNEL_DELETED\nCONNECTION_CREATED: CONNECTION_CREATED\nCONNECTION_UPDATED: CONNECTION_UPDATED\nCONNECTION_ENABLED: CONNECTION_ENABLED\nCONNECTION_DISABLED: CONNECTION_DISABLED\nCONNECTION_DELETED: CONNECTION_DELETED\nLOCATION_FULFILMENT_SET: LOCATION_FULFILMENT_SET\nJOB_RETRIED: JOB_RETRIED\nLISTING_LINKED: LISTING_LINKED\nLISTING_UPDATED: LISTING_UPDATED\nLISTING_UNLINKED: LISTING_UNLINKED\nTOKEN_CREATED: TOKEN_CREATED\nTOKEN_REVOKED: TOKEN_REVOKED', enum_type=AuditKind, max_length=40),
        ),
        ops.AddField(
            model_name='Channel',
            name='follow_up_after_days',
            field=fields.IntField(default=7, db_default=7),
        ),
        ops.AddField(
            model_name='Channel',
            name='follow_up_since',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Channel',
            name='fulfilment_location',
            field=fields.ForeignKeyField('models.Location', source_field='fulfilment_location_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='fulfilling_channels', on_delete=OnDelete.RESTRICT),
        ),
        # A foreign key added to an existing table gets no index from Tortoise: the model's, by its name.
        ops.RunSQL('CREATE INDEX IF NOT EXISTS "idx_channel_fulfilm_91bebd" ON "channel" ("fulfilment_location_id")'),
        ops.AddField(
            model_name='Dispatch',
            name='follow_up_error',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Dispatch',
            name='followed_up_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='Dispatch',
            index=Index(fields=['followed_up_at', 'sent_at']),
        ),
        DescriptionOnly(
            model_name='ImportedReport',
            name='kind',
            field=fields.CharEnumField(description='DOWNLOAD: DOWNLOAD\nSTOCK_PUSH: STOCK_PUSH\nDISPATCH: DISPATCH\nFOLLOW_UP: FOLLOW_UP\nEXPORT: EXPORT\nSTATUS_IMPORT: STATUS_IMPORT\nSTOCK_IMPORT: STOCK_IMPORT', enum_type=SyncKind, max_length=16),
        ),
        DescriptionOnly(
            model_name='Order',
            name='fulfilment_state',
            field=fields.CharEnumField(null=True, description='EXPORTED: EXPORTED\nERROR: ERROR\nSHIPPED: SHIPPED\nCANCELLED: CANCELLED\nBY_CHANNEL: BY_CHANNEL', enum_type=FulfilmentState, max_length=16),
        ),
        DescriptionOnly(
            model_name='RunClaim',
            name='kind',
            field=fields.CharEnumField(description='DOWNLOAD: DOWNLOAD\nSTOCK_PUSH: STOCK_PUSH\nDISPATCH: DISPATCH\nFOLLOW_UP: FOLLOW_UP\nEXPORT: EXPORT\nSTATUS_IMPORT: STATUS_IMPORT\nSTOCK_IMPORT: STOCK_IMPORT', enum_type=SyncKind, max_length=16),
        ),
        DescriptionOnly(
            model_name='SyncRun',
            name='kind',
            field=fields.CharEnumField(db_index=True, description='DOWNLOAD: DOWNLOAD\nSTOCK_PUSH: STOCK_PUSH\nDISPATCH: DISPATCH\nFOLLOW_UP: FOLLOW_UP\nEXPORT: EXPORT\nSTATUS_IMPORT: STATUS_IMPORT\nSTOCK_IMPORT: STOCK_IMPORT', enum_type=SyncKind, max_length=16),
        ),
        ops.AddField(
            model_name='SyncRun',
            name='followed_up',
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
