"""NADAC prices become each organization's own copy (no tenant's upload may change another's
costs). Rows loaded before belong to no one and are dropped: re-import the NADAC file."""

import django.db.models.deletion
from django.db import migrations, models


def drop_shared_rows(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("reconciliation", "NadacPrice").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0007_exception_cases"),
        ("rxrevops", "0008_import_kinds_costs_fees"),
    ]

    operations = [
        migrations.RunPython(drop_shared_rows, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="nadacprice", name="nadac_ndc_effective"),
        migrations.AddField(
            model_name="nadacprice",
            name="organization",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="rxrevops.organization",
            ),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="nadacprice",
            constraint=models.UniqueConstraint(
                fields=("organization", "ndc", "effective_date"), name="nadac_org_ndc_effective"
            ),
        ),
    ]
