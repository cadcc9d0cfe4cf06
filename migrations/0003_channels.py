from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from orderdeck.models.audit import AuditKind, AuditSubject
from orderdeck.models.channels import SubmitStatus
from orderdeck.models.connections import SyncKind, SyncOutcome
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0002_reference_search_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Channel',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('plugin', fields.CharField(max_length=50)),
                ('source', fields.CharField(max_length=50)),
                ('settings', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('secrets', fields.TextField(null=True, unique=False)),
                ('enabled', fields.BooleanField(default=True, db_default=True)),
                ('download_location', fields.ForeignKeyField('models.Location', source_field='download_location_id', db_index=True, db_constraint=True, to_field='id', related_name='download_channels', on_delete=OnDelete.RESTRICT)),
                ('stock_locations', fields.ManyToManyField('models.Location', unique=True, db_constraint=True, through='channel_stock_location', forward_key='location_id', backward_key='channel_id', related_name='stock_channels', on_delete=OnDelete.CASCADE)),
                ('download_unpaid', fields.BooleanField(default=False, db_default=False)),
                ('status_overrides', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('sync_interval_seconds', fields.IntField(default=300, db_default=300)),
                ('download_cursor', fields.CharField(null=True, max_length=500)),
                ('last_download_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('download_lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('download_lease_owner', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'channel', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One account on a sales channel, served by a plugin (e.g. a WooCommerce shop).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FailedJob',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('actor', fields.CharField(max_length=100)),
                ('queue', fields.CharField(max_length=50)),
                ('message_id', fields.CharField(unique=True, max_length=64)),
                ('args', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('kwargs', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('error', fields.TextField(unique=False)),
                ('channel', fields.ForeignKeyField('models.Channel', source_field='channel_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='failed_jobs', on_delete=OnDelete.CASCADE)),
                ('failed_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('retried_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'failed_job', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A background job that exhausted its retries: kept with its error until retried.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Listing',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('channel', fields.ForeignKeyField('models.Channel', source_field='channel_id', db_constraint=True, to_field='id', related_name='listings', on_delete=OnDelete.CASCADE)),
                ('stock_item', fields.ForeignKeyField('models.StockItem', source_field='stock_item_id', db_index=True, db_constraint=True, to_field='id', related_name='listings', on_delete=OnDelete.RESTRICT)),
                ('channel_sku', fields.CharField(max_length=100)),
                ('channel_reference', fields.CharField(default='', db_default='', max_length=100)),
                ('max_listed_quantity', fields.IntField(null=True)),
                ('end_when_stock_at', fields.IntField(null=True)),
                ('ignore_sync', fields.BooleanField(default=False, db_default=False)),
                ('push_due', fields.BooleanField(default=False, db_index=True, db_default=False)),
                ('due_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('submitted_quantity', fields.IntField(null=True)),
                ('submitted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('submit_status', fields.CharEnumField(default=SubmitStatus.NEVER, description='NEVER: NEVER\nOK: OK\nFAILED: FAILED', enum_type=SubmitStatus, max_length=16)),
                ('submit_error', fields.CharField(default='', db_default='', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'listing', 'app': 'models', 'unique_together': (('channel', 'channel_sku'),), 'pk_attr': 'id', 'table_description': "A stock item as listed on a channel, under the channel's SKU."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SyncRun',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('channel', fields.ForeignKeyField('models.Channel', source_field='channel_id', db_index=True, db_constraint=True, to_field='id', related_name='runs', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(db_index=True, description='DOWNLOAD: DOWNLOAD\nSTOCK_PUSH: STOCK_PUSH\nDISPATCH: DISPATCH', enum_type=SyncKind, max_length=16)),
                ('outcome', fields.CharEnumField(default=SyncOutcome.RUNNING, db_index=True, description='RUNNING: RUNNING\nSUCCEEDED: SUCCEEDED\nPARTIAL: PARTIAL\nFAILED: FAILED', enum_type=SyncOutcome, max_length=16)),
                ('started_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('pages', fields.IntField(default=0, db_default=0)),
                ('downloaded', fields.IntField(default=0, db_default=0)),
                ('updated', fields.IntField(default=0, db_default=0)),
                ('skipped_shipped', fields.IntField(default=0, db_default=0)),
                ('skipped_unpaid', fields.IntField(default=0, db_default=0)),
                ('skipped_cancelled', fields.IntField(default=0, db_default=0)),
                ('duplicates', fields.IntField(default=0, db_default=0)),
                ('pushed', fields.IntField(default=0, db_default=0)),
                ('dispatched', fields.IntField(default=0, db_default=0)),
                ('failed', fields.IntField(default=0, db_default=0)),
                ('error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'sync_run', 'app': 'models', 'pk_attr': 'id', 'table_description': "One run of a channel's download, stock push or dispatch: the automation log."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SyncIssue',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('run', fields.ForeignKeyField('models.SyncRun', source_field='run_id', db_index=True, db_constraint=True, to_field='id', related_name='issues', on_delete=OnDelete.CASCADE)),
                ('reference', fields.CharField(default='', db_default='', max_length=100)),
                ('kind', fields.CharField(max_length=32)),
                ('message', fields.CharField(max_length=1000)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'sync_issue', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One order skipped or failed in a run, by its reference, and why.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='AuditEntry',
            name='kind',
            field=fields.CharEnumField(db_index=True, description='ORDER_CREATED: ORDER_CREATED\nORDER_UPDATED: ORDER_UPDATED\nITEMS_CHANGED: ITEMS_CHANGED\nSTATUS_CHANGED: STATUS_CHANGED\nPARKED: PARKED\nUNPARKED: UNPARKED\nLOCKED: LOCKED\nUNLOCKED: UNLOCKED\nHELD: HELD\nUNHELD: UNHELD\nTAG_ADDED: TAG_ADDED\nTAG_REMOVED: TAG_REMOVED\nNOTE_ADDED: NOTE_ADDED\nNOTE_DELETED: NOTE_DELETED\nPROPERTY_SET: PROPERTY_SET\nPROPERTY_REMOVED: PROPERTY_REMOVED\nMOVED: MOVED\nPROCESSED: PROCESSED\nCANCELLED: CANCELLED\nCANCELLED_ON_CHANNEL: CANCELLED_ON_CHANNEL\nDELETED: DELETED\nRETURN_CREATED: RETURN_CREATED\nRESEND_CREATED: RESEND_CREATED\nDESPATCH_NOTE: DESPATCH_NOTE\nFULFIL_STATUS: FULFIL_STATUS\nSTOCK_ITEM_CREATED: STOCK_ITEM_CREATED\nSTOCK_ITEM_UPDATED: STOCK_ITEM_UPDATED\nSTOCK_LEVEL_SET: STOCK_LEVEL_SET\nSTOCK_LEVEL_ADJUSTED: STOCK_LEVEL_ADJUSTED\nMINIMUM_LEVEL_SET: MINIMUM_LEVEL_SET\nLOCATION_CREATED: LOCATION_CREATED\nLOCATION_RENAMED: LOCATION_RENAMED\nLOCATION_DEFAULT_SET: LOCATION_DEFAULT_SET\nLOCATION_DELETED: LOCATION_DELETED\nCHANNEL_CREATED: CHANNEL_CREATED\nCHANNEL_UPDATED: CHANNEL_UPDATED\nCHANNEL_ENABLED: CHANNEL_ENABLED\nCHANNEL_DISABLED: CHANNEL_DISABLED\nCHANNEL_DELETED: CHANNEL_DELETED\nLISTING_LINKED: LISTING_LINKED\nLISTING_UPDATED: LISTING_UPDATED\nLISTING_UNLINKED: LISTING_UNLINKED\nTOKEN_CREATED: TOKEN_CREATED\nTOKEN_REVOKED: TOKEN_REVOKED', enum_type=AuditKind, max_length=40),
        ),
        ops.AlterField(
            model_name='AuditEntry',
            name='subject',
            field=fields.CharEnumField(description='ORDER: ORDER\nSTOCK_ITEM: STOCK_ITEM\nLOCATION: LOCATION\nTOKEN: TOKEN\nCHANNEL: CHANNEL', enum_type=AuditSubject, max_length=16),
        ),
        ops.AddField(
            model_name='Order',
            name='channel',
            field=fields.ForeignKeyField('models.Channel', source_field='channel_id', null=True, db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Order',
            name='channel_cancelled',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddConstraint(
            model_name='Order',
            constraint=UniqueConstraint(fields=('channel', 'reference'), name=None),
        ),
    ]
