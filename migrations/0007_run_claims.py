from tortoise import migrations
from tortoise.migrations import operations as ops
from orderdeck.models.channels import SubmitStatus
from orderdeck.models.connections import SyncKind
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_allocation_frontier')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RunClaim',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.ForeignKeyField('models.Channel', source_field='channel_id', db_constraint=True, to_field='id', related_name='claims', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='DOWNLOAD: DOWNLOAD\nSTOCK_PUSH: STOCK_PUSH\nDISPATCH: DISPATCH', enum_type=SyncKind, max_length=16)),
                ('token', fields.CharField(null=True, max_length=32)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'run_claim', 'app': 'models', 'unique_together': (('channel', 'kind'),), 'pk_attr': 'id', 'table_description': 'The right to run a kind of work (download, stock push, dispatch) for a channel: one row per'},
            bases=['Model'],
        ),
        ops.RemoveField(model_name='Channel', name='download_lease_owner'),
        ops.RemoveField(model_name='Channel', name='download_lease_until'),
        ops.AlterField(
            model_name='Listing',
            name='submit_status',
            field=fields.CharEnumField(default=SubmitStatus.NEVER, description='NEVER: NEVER\nOK: OK\nFAILED: FAILED\nRESEND: RESEND\nRETRYING: RETRYING', enum_type=SubmitStatus, max_length=16),
        ),
        ops.AddField(
            model_name='Listing',
            name='next_push_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Listing',
            name='push_attempts',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='SyncRun',
            name='abandoned',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='SyncRun',
            name='claim_token',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='SyncRun',
            name='retrying',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='SyncRun',
            name='waiting',
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
