"""The database itself refuses UPDATE and DELETE on the audit log, whatever the code does."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION rxrevops_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rxrevops_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS rxrevops_audit_append_only ON rxrevops_auditevent;
CREATE TRIGGER rxrevops_audit_append_only
    BEFORE UPDATE OR DELETE ON rxrevops_auditevent
    FOR EACH ROW EXECUTE FUNCTION rxrevops_audit_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS rxrevops_audit_append_only ON rxrevops_auditevent;
DROP FUNCTION IF EXISTS rxrevops_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("rxrevops", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
