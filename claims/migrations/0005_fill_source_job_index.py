"""An index on the fills' source job (the incremental reconciliation run's scope), built
without locking out writes: a chain's claims table may hold millions of rows."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("claims", "0004_fill_fact_table_references"),
        ("rxrevops", "0008_import_kinds_costs_fees"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="fill",
            index=models.Index(fields=["source_job"], name="fill_source_job"),
        ),
    ]
