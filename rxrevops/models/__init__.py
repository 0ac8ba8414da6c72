from rxrevops.models.audit import AuditEvent
from rxrevops.models.jobs import Job
from rxrevops.models.tenancy import Location, Membership, Organization, Role
from rxrevops.models.tokens import ApiToken, Scope

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Job",
    "Location",
    "Membership",
    "Organization",
    "Role",
    "Scope",
]
