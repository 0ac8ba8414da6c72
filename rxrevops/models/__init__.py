from rxrevops.models.audit import AuditEvent
from rxrevops.models.idempotency import IdempotencyRecord
from rxrevops.models.imports import ImportFile, QuarantinedRow
from rxrevops.models.jobs import Job
from rxrevops.models.tenancy import Location, Membership, Organization, Role
from rxrevops.models.tokens import ApiToken, Scope

__all__ = [
    "ApiToken",
    "AuditEvent",
    "IdempotencyRecord",
    "ImportFile",
    "Job",
    "Location",
    "Membership",
    "Organization",
    "QuarantinedRow",
    "Role",
    "Scope",
]
