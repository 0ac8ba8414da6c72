from rxrevops.models.audit import AuditEvent
from rxrevops.models.imports import ImportFile, QuarantinedRow
from rxrevops.models.jobs import Job
from rxrevops.models.tenancy import Location, Membership, Organization, Role
from rxrevops.models.tokens import ApiToken, Scope

__all__ = [
    "ApiToken",
    "AuditEvent",
    "ImportFile",
    "Job",
    "Location",
    "Membership",
    "Organization",
    "QuarantinedRow",
    "Role",
    "Scope",
]
