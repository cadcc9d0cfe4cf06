from tortoise import migrations
from tortoise.migrations import operations as ops
from orderdeck.models.audit import AuditKind
from orderdeck.models.channels import SubmitStatus
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_channels')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='AuditEntry',
            name='kind',
            field=fields.CharEnumField(db_index=True, description='ORDER_CREATED: ORDER_CREATED\nORDER_UPDATED: ORDER_UPDATED\nITEMS_CHANGED: ITEMS_CHANGED\nSTATUS_CHANGED: STATUS_CHANGED\nPARKED: PARKED\nUNPARKED: UNPARKED\nLOCKED: LOCKED\nUNLOCKED: UNLOCKED\nHELD: HELD\nUNHELD: UNHELD\nTAG_ADDED: TAG_ADDED\nTAG_REMOVED: TAG_REMOVED\nNOTE_ADDED: NOTE_ADDED\nNOTE_DELETED: NOTE_DELETED\nPROPERTY_SET: PROPERTY_SET\nPROPERTY_REMOVED: PROPERTY_REMOVED\nMOVED: MOVED\nPROCESSED: PROCESSED\nCANCELLED: CANCELLED\nCANCELLED_ON_CHANNEL: CANCELLED_ON_CHANNEL\nDELETED: DELETED\nRETURN_CREATED: RETURN_CREATED\nRESEND_CREATED: RESEND_CREATED\nDESPATCH_NOTE: DESPATCH_NOTE\nDESPATCH_NOTE_FAILED: DESPATCH_NOTE_FAILED\nDESPATCH_NOTE_RETRIED: DESPATCH_NOTE_RETRIED\nFULFIL_STATUS: FULFIL_STATUS\nSTOCK_ITEM_CREATED: STOCK_ITEM_CREATED\nSTOCK_ITEM_UPDATED: STOCK_ITEM_UPDATED\nSTOCK_LEVEL_SET: STOCK_LEVEL_SET\nSTOCK_LEVEL_ADJUSTED: STOCK_LEVEL_ADJUSTED\nMINIMUM_LEVEL_SET: MINIMUM_LEVEL_SET\nLOCATION_CREATED: LOCATION_CREATED\nLOCATION_RENAMED: LOCATION_RENAMED\nLOCATION_DEFAULT_SET: LOCATION_DEFAULT_SET\nLOCATION_DELETED: LOCATION_DELETED\nCHANNEL_CREATED: CHANNEL_CREATED\nCHANNEL_UPDATED: CHANNEL_UPDATED\nCHANNEL_ENABLED: CHANNEL_ENABLED\nCHANNEL_DISABLED: CHANNEL_DISABLED\nCHANNEL_DELETED: CHANNEL_DELETED\nJOB_RETRIED: JOB_RETRIED\nLISTING_LINKED: LISTING_LINKED\nLISTING_UPDATED: LISTING_UPDATED\nLISTING_UNLINKED: LISTING_UNLINKED\nTOKEN_CREATED: TOKEN_CREATED\nTOKEN_REVOKED: TOKEN_REVOKED', enum_type=AuditKind, max_length=40),
        ),
        ops.AddField(
            model_name='Channel',
            name='next_download_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Dispatch',
            name='claimed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Dispatch',
            name='next_attempt_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='Listing',
            name='submit_status',
            field=fields.CharEnumField(default=SubmitStatus.NEVER, description='NEVER: NEVER\nOK: OK\nFAILED: FAILED\nRESEND: RESEND', enum_type=SubmitStatus, max_length=16),
        ),
        ops.AddField(
            model_name='Listing',
            name='push_claimed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
