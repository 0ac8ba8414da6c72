"""Issues raised while reading one transaction, located in the file: the helpers the
segment handlers of `TransactionReader` use."""

from __future__ import annotations

from typing import NoReturn

from reconciliation.x12.issues import ERROR, FATAL, WARNING, Issue, Severity, X12SyntaxError
from reconciliation.x12.records import Remittance
from reconciliation.x12.tokenizer import can_be_delimiter
from reconciliation.x12.values import is_number

# CLP02 claim status codes of 005010X221A1
CLAIM_STATUSES = frozenset({"1", "2", "3", "4", "19", "20", "21", "22", "23", "25"})


class TransactionIssues:
    """Reports issues on `remit` with the transaction's context (file, ISA13, ST02, loop)."""

    def __init__(self, remit: Remittance, *, component: str, enveloped: bool) -> None:
        self.remit = remit
        self.component = component
        self.enveloped = enveloped
        self.loop = "header"
        self.composite_warned = False

    def issue(
        self,
        severity: Severity,
        code: str,
        message: str,
        segment: int | None,
        segment_id: str | None,
        *,
        element: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        loop: str | None = None,
    ) -> Issue:
        r = self.remit
        found_issue = Issue(
            severity,
            code,
            message,
            r.file,
            r.interchange_control,
            r.transaction_control,
            segment,
            segment_id,
            loop or self.loop,
            element,
            expected,
            found,
        )
        r.issues.append(found_issue)
        return found_issue

    def bad_amount(self, text: str, n: int, element: str, what: str) -> None:
        if text == "":
            self.issue(
                ERROR,
                "missing-element",
                f"{element} ({what}) is required but empty.",
                n,
                element[:-2],
                element=element,
                expected="an amount",
                found="empty",
            )
        else:
            self.issue(
                ERROR,
                "bad-amount",
                f"{element} ({what}) should be an amount in dollars with at most two decimals, "
                f"like 12.34; found {text!r}.",
                n,
                element[:-2],
                element=element,
                expected="an amount like 12.34",
                found=text,
            )

    def bad_value(self, kind: str, text: str, n: int, segment_id: str, element: str) -> None:
        """A date or number that cannot be read (kind: "date" or "number")."""
        if text == "":
            code, message = "missing-element", f"{element} is required but empty."
        elif kind == "date":
            code = "bad-date"
            message = f"{element} should be a real date written CCYYMMDD; found {text!r}."
        else:
            code, message = "bad-number", f"{element} should be a number; found {text!r}."
        expected = "CCYYMMDD" if kind == "date" else "a number"
        self.issue(
            ERROR, code, message, n, segment_id, element=element, expected=expected, found=text
        )

    def truncated(self, e: list[str], n: int, needed: int, what: str) -> NoReturn:
        """A money segment that stops before its amounts: X12 only drops trailing empty
        elements, so this one was cut off. The whole file is rejected."""
        issue = self.issue(
            FATAL,
            "truncated-segment",
            f"The {e[0]} segment ends after {len(e) - 1} element(s), before {what}: the file "
            "is cut off or damaged, so none of it can be loaded. Ask the payer to resend it.",
            n,
            e[0],
            element=f"{e[0]}{len(e):02d}",
            expected=f"at least {needed} elements",
            found="|".join(e),
        )
        raise X12SyntaxError([issue])

    def misplaced(self, e: list[str], n: int, needs: str) -> None:
        self.issue(
            ERROR,
            "misplaced-segment",
            f"The {e[0]} segment belongs in {needs} but comes outside one; it was ignored.",
            n,
            e[0],
            expected=f"{e[0]} inside {needs}",
            found=f"{e[0]} in loop {self.loop}",
        )

    def composite(self, value: str, n: int, segment_id: str, element: str) -> list[str]:
        """Split a composite element. When the ISA16 separator is absent but the value
        carries another separator right after its two-character qualifier (SVC01
        `HC>12345` under ISA16 `:`), read it with that one rather than lose the line."""
        if self.component in value:
            return value.split(self.component)
        actual = value[2] if len(value) > 2 else ""
        if not actual or not can_be_delimiter(actual):
            return [value]
        if self.enveloped and not self.composite_warned:
            self.composite_warned = True
            self.issue(
                WARNING,
                "composite-separator",
                f"{element} uses {actual!r} between its parts, but the ISA declares "
                f"{self.component!r} (ISA16); read with {actual!r} throughout this transaction.",
                n,
                segment_id,
                element=element,
                expected=self.component,
                found=actual,
            )
        return value.split(actual)

    def unknown_status(self, status: str, n: int) -> None:
        if not is_number(status):
            self.bad_value("number", status, n, "CLP", "CLP02")
            return
        self.issue(
            WARNING,
            "unknown-status",
            f"Claim status code {status!r} (CLP02) is not one the 835 defines; the claim was "
            "read with the code kept as sent.",
            n,
            "CLP",
            element="CLP02",
            expected=", ".join(sorted(CLAIM_STATUSES, key=int)),
            found=status,
        )

    def unknown_code(self, code: str, n: int, segment_id: str, element: str, what: str) -> None:
        self.issue(
            WARNING,
            "unknown-code",
            f"{element} ({what}) {code!r} is not a code the 835 defines; kept as sent.",
            n,
            segment_id,
            element=element,
            found=code,
        )

    def unknown(self, e: list[str], n: int) -> None:
        self.issue(
            WARNING,
            "unknown-segment",
            f"Segment {e[0][:10]!r} is not part of an 835 remittance; it was ignored.",
            n,
            e[0][:10],
            found="|".join(e)[:80],
        )
