"""Log lines without patient data.

Application code logs ids, never names or birth dates. What it does not write itself comes
from exceptions: a Postgres error's DETAIL repeats the values of the row it refused
("Key (pms_patient_id, last_name)=(P1, Rivera) already exists", "Failing row contains (...)")
and a traceback carries that message. `PhiSafeFormatter` removes those values from every line
it formats, message and traceback alike, keeping what points at the fault (the error, the
constraint, the columns)."""

from __future__ import annotations

import logging
import re

REDACTED = "[values withheld]"

_PATTERNS = (
    # unique / foreign-key violations: the key's columns stay, its values go
    (re.compile(r"(Key \([^)]*\))=\((?:[^()]|\([^()]*\))*\)"), rf"\1={REDACTED}"),
    # NOT NULL / CHECK violations: the whole row
    (re.compile(r"(Failing row contains) \(.*\)"), rf"\1 {REDACTED}"),
    # any other DETAIL line: all of it (it may quote a value anywhere)
    (re.compile(r"(DETAIL:)[ \t]+(?![^\n]*values withheld)[^\n]*"), rf"\1  {REDACTED}"),
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class PhiSafeFormatter(logging.Formatter):
    """A `logging.Formatter` whose output never carries the row values of database errors."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
