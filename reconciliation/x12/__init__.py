"""ASC X12 005010X221A1 835 remittance advice: a pure, streaming reader.

    from reconciliation.x12 import read_835
    for remit in read_835(path, name="file.835"):
        remit.claims, remit.provider_adjustments, remit.issues, remit.balanced

Policy:
- a file that cannot be read (not X12, no ISA or ST, unreadable ISA, a transaction cut off
  before its SE, a CLP/SVC/CAS/PLB/BPR that ends before its amounts, a non-835 transaction,
  segments outside any transaction) is rejected whole: `X12SyntaxError` carrying the fatal
  issue(s). The reader streams, so it may raise after yielding earlier transactions: the
  loader must treat a file atomically (load it in one database transaction, roll back on
  `X12Error`);
- a transaction that reads but does not balance, or has unreadable values, is returned with
  error issues and `balanced=False`, never repaired;
- everything else odd (collapsed ISA padding, a composite separator other than ISA16,
  unknown status codes) is read, with a warning.

No Django and no other project app is imported here (an import-linter contract checks it).
"""

from reconciliation.x12.issues import (
    ERROR,
    FATAL,
    WARNING,
    Issue,
    Severity,
    X12Error,
    X12SyntaxError,
)
from reconciliation.x12.reader import read_835, read_835_file
from reconciliation.x12.records import (
    Adjustment,
    ClaimPayment,
    ParsedFile,
    Party,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)
from reconciliation.x12.tokenizer import Delimiters, segments

__all__ = [
    "ERROR",
    "FATAL",
    "WARNING",
    "Adjustment",
    "ClaimPayment",
    "Delimiters",
    "Issue",
    "ParsedFile",
    "Party",
    "ProviderAdjustment",
    "Remittance",
    "ServicePayment",
    "Severity",
    "X12Error",
    "X12SyntaxError",
    "read_835",
    "read_835_file",
    "segments",
]
