from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from orderdeck.models.events import EventTopic
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_outbox_claims')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Event',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, unique=True, db_index=True)),
                ('topic', fields.CharEnumField(description='ORDER: ORDER\nSTOCK: STOCK\nSYNC: SYNC', enum_type=EventTopic, max_length=8)),
                ('kind', fields.CharField(max_length=32)),
                ('data', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'event', 'app': 'models', 'pk_attr': 'id', 'table_description': "One committed change, numbered without gaps in commit order (the 'event' counter row)."},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Event',
            index=Index(fields=['topic', 'id']),
        ),
    ]
