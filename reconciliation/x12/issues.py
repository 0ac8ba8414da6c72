"""What the 835 reader reports: located issues, and the exceptions that reject a file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["fatal", "error", "warning"]

FATAL: Severity = "fatal"
ERROR: Severity = "error"
WARNING: Severity = "warning"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in an 835, located so a billing person can find and fix it.

    `segment` is the 1-based position of the segment in the file (envelope segments
    included); `element` is the X12 reference designator (`CLP04`, `SVC01-2`).
    """

    severity: Severity
    code: str
    message: str
    file: str
    interchange_control: str | None = None
    transaction_control: str | None = None
    segment: int | None = None
    segment_id: str | None = None
    loop: str | None = None
    element: str | None = None
    expected: str | None = None
    found: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.segment is not None:
            where.append(f"segment {self.segment}")
        if self.segment_id:
            where.append(self.segment_id if not self.element else self.element)
        if self.loop:
            where.append(f"loop {self.loop}")
        return f"{self.severity} {self.code} ({', '.join(where)}): {self.message}"


class X12Error(Exception):
    """Base class of everything the 835 reader raises about a file's content."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues) or "unreadable X12 file")


class X12SyntaxError(X12Error):
    """The file cannot be read (not X12, unreadable ISA, a transaction cut off): reject it
    whole. `issues` holds the fatal issue(s)."""
