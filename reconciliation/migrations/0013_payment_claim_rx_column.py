"""The Rx number a claim payment's CLP01 names, as a stored column (computed once when the
payment is written) in place of the expression index over recon_claim_rx(claim_ref): the
incremental runs read it for every payment of the day."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0012_result_digest"),
    ]

    operations = [
        migrations.RunSQL(
            sql="DROP INDEX IF EXISTS claim_payment_rx_day",
            reverse_sql=(
                "CREATE INDEX claim_payment_rx_day ON reconciliation_claimpayment "
                "(recon_claim_rx(claim_ref), service_date) WHERE service_date IS NOT NULL"
            ),
        ),
        migrations.AddField(
            model_name="claimpayment",
            name="claim_rx",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Func(models.F("claim_ref"), function="recon_claim_rx"),
                output_field=models.BigIntegerField(null=True),
            ),
        ),
        migrations.AddIndex(
            model_name="claimpayment",
            index=models.Index(
                condition=models.Q(("service_date__isnull", False)),
                fields=["claim_rx", "service_date"],
                name="claim_payment_claim_rx_day",
            ),
        ),
    ]
