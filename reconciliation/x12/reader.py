"""Read an 835 file: the envelope (ISA/GS/ST..SE/GE/IEA), one Remittance per transaction.

Streaming: the file is read in chunks and only the current transaction is held, so memory
does not grow with the file. Because of that, a file can be rejected (X12SyntaxError) after
some of its transactions were yielded: whoever loads the file must treat it atomically, e.g.
load it inside one database transaction and roll back on X12Error.
"""

from __future__ import annotations

import gc
from collections.abc import Generator, Iterator
from typing import NoReturn

from reconciliation.x12.issues import ERROR, FATAL, WARNING, Issue, Severity, X12SyntaxError
from reconciliation.x12.records import ParsedFile, Remittance
from reconciliation.x12.tokenizer import (
    Delimiters,
    Source,
    segment_batches,
    sniff,
    source_label,
    text_chunks,
)
from reconciliation.x12.transaction import Handler, TransactionReader

ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)  # ISA01..ISA16
VERSION = "005010X221"  # GS08 prefix of the 835 implementation guide (A1 and its errata)


def read_835(
    source: Source, name: str | None = None, *, file_issues: list[Issue] | None = None
) -> Generator[Remittance, None, None]:
    """Yield each 835 transaction of `source` (a path, bytes or a binary file object) as a
    Remittance with its issues. Issues about the envelope rather than one transaction (IEA
    and GE counts and control numbers, ISA format) are appended to `file_issues` when given.

    Raises X12SyntaxError, possibly after yielding some transactions, when the file cannot
    be read; see the module docstring for what the caller must do then."""
    label = name or source_label(source)
    envelope = _Envelope(label, file_issues if file_issues is not None else [])
    try:
        yield from envelope.read(source)
    except (X12SyntaxError, MemoryError, OSError):
        raise
    except Exception as exc:  # a bug must still reject the file, not crash the loader
        issue = Issue(
            FATAL,
            "internal-error",
            f"The file could not be read because of a reader error ({type(exc).__name__}: "
            f"{exc}); it was not loaded.",
            label,
            segment=envelope.segment or None,
        )
        raise X12SyntaxError([issue]) from exc


def read_835_file(source: Source, name: str | None = None) -> ParsedFile:
    """The whole file at once: every transaction and the file-level issues."""
    label = name or source_label(source)
    issues: list[Issue] = []
    remittances = list(read_835(source, label, file_issues=issues))
    return ParsedFile(label, remittances, issues)


def _pause_gc() -> bool:
    """Pause the cyclic GC if it runs; True when it was paused here."""
    if gc.isenabled():
        gc.disable()
        return True
    return False


def _resume_gc(paused: bool) -> None:
    if paused:
        gc.enable()


class _Envelope:
    """The envelope state machine: which interchange and group we are in, their counts."""

    def __init__(self, name: str, issues: list[Issue]) -> None:
        self.name = name
        self.issues = issues
        self.segment = 0
        self.component = ":"
        self.enveloped = True
        self.isa: list[str] | None = None  # the open interchange's ISA
        self.isa_segment = 0
        self.gs: list[str] | None = None  # the open group's GS
        self.gs_segment = 0
        self.groups = 0  # GS count in the open interchange
        self.transactions = 0  # ST count in the open group
        self.total = 0  # transactions in the file

    def read(self, source: Source) -> Iterator[Remittance]:
        delimiters, chunks = sniff(text_chunks(source), self.name)
        self.component, self.enveloped = delimiters.component, delimiters.enveloped
        if not self.enveloped:
            self.note(
                WARNING,
                "no-envelope",
                "The file has no ISA/GS envelope, only ST..SE: sender, receiver and control "
                "numbers of the interchange are unknown.",
                1,
                "ST",
                expected="ISA",
                found="ST",
            )
        yield from self.segments(delimiters, chunks)

    def segments(self, delimiters: Delimiters, chunks: Iterator[str]) -> Iterator[Remittance]:
        """The segment loop. The cyclic garbage collector is paused while a transaction is
        being built and resumed before each yield, so the caller never runs with it paused:
        the records form no reference cycles, and scanning them as they pile up was about
        half of the parse time."""
        element = delimiters.element
        n = 0
        tx: TransactionReader | None = None
        handlers: dict[str, Handler] = {}
        paused = _pause_gc()
        try:
            for batch in segment_batches(delimiters, chunks, self.name):
                for raw in batch:
                    n += 1
                    e = raw.split(element)
                    if tx is not None:
                        handler = handlers.get(e[0])
                        if handler is not None:
                            handler(e, n)
                        elif e[0] == "SE":
                            remit = tx.finish(e, n)
                            tx = None
                            _resume_gc(paused)
                            yield remit
                            paused = _pause_gc()
                        elif e[0] in ("ST", "GE", "IEA", "ISA", "GS"):
                            self.segment = n
                            self.unterminated(tx, n, e[0])
                        else:
                            tx.unknown(e, n)
                        continue
                    self.segment = n
                    if e[0] == "ST":
                        tx = self.start(e, n)
                        handlers = tx.handlers
                    else:
                        self.envelope_segment(e, n)
            self.segment = n
            if tx is not None:
                self.unterminated(tx, n, None)
            self.at_end(n)
        finally:
            _resume_gc(paused)

    # --- transactions -----------------------------------------------------------------

    def start(self, e: list[str], n: int) -> TransactionReader:
        if self.enveloped and self.gs is None:
            self.fatal(
                "unexpected-segment",
                "A transaction (ST) starts outside a functional group (GS..GE).",
                n,
                "ST",
                expected="GS before ST",
                found="ST",
            )
        if len(e) < 3:
            e.extend([""] * (3 - len(e)))
        if e[1] != "835":
            self.fatal(
                "not-835",
                f"Transaction {e[2]!r} is an X12 {e[1] or '(unnamed)'} transaction, not an 835 "
                "remittance advice.",
                n,
                "ST",
                element="ST01",
                expected="835",
                found=e[1],
            )
        self.transactions += 1
        self.total += 1
        isa, gs = self.isa, self.gs
        remit = Remittance(
            file=self.name,
            interchange_control=isa[13] if isa else None,
            group_control=gs[6] if gs else None,
            transaction_control=e[2],
            sender_id=isa[6].strip() if isa else None,
            receiver_id=isa[8].strip() if isa else None,
            version=gs[8] if gs else None,
            first_segment=n,
        )
        return TransactionReader(remit, component=self.component, enveloped=self.enveloped)

    def unterminated(self, tx: TransactionReader, n: int, found: str | None) -> NoReturn:
        """A transaction without its SE: cut off, so the whole file is rejected."""
        r = tx.remit
        where = f"segment {n} is {found}" if found else f"the file ends at segment {n}"
        issue = tx.issue(
            FATAL,
            "missing-se",
            f"Transaction {r.transaction_control} (ST at segment {r.first_segment}) has no SE: "
            f"{where}. The file is cut off or damaged, so none of it can be loaded.",
            n,
            found,
            expected="SE",
            found=found or "end of file",
        )
        raise X12SyntaxError([issue])

    # --- envelope ---------------------------------------------------------------------

    def envelope_segment(self, e: list[str], n: int) -> None:
        segment_id = e[0]
        if segment_id == "ISA":
            self.open_interchange(e, n)
        elif segment_id == "GS":
            self.open_group(e, n)
        elif segment_id == "GE":
            self.close_group(e, n)
        elif segment_id == "IEA":
            self.close_interchange(e, n)
        else:
            self.fatal(
                "unexpected-segment",
                f"Segment {segment_id[:10]!r} comes outside any transaction (ST..SE); what it "
                "belongs to cannot be known.",
                n,
                segment_id[:10],
                expected="ISA, GS, ST, GE or IEA",
                found=segment_id[:10],
            )

    def open_interchange(self, e: list[str], n: int) -> None:
        if not self.enveloped or len(e) != 17 or len(e[16]) != 1:
            self.fatal(
                "isa-unreadable",
                f"The ISA at segment {n} cannot be read: it has {len(e) - 1} elements where 16 "
                "are expected (an interchange with other delimiters than the first must be "
                "sent as its own file).",
                n,
                "ISA",
                expected="16 elements",
                found=str(len(e) - 1),
            )
        if self.gs is not None:
            self.missing_trailer("GE", n)
        if self.isa is not None:
            self.missing_trailer("IEA", n)
        self.isa, self.isa_segment, self.groups, self.component = e, n, 0, e[16]
        widths = tuple(len(x) for x in e[1:])
        if widths != ISA_WIDTHS:
            self.note(
                WARNING,
                "isa-not-fixed-width",
                "The ISA is not fixed-width (its elements are not padded to their sizes); it "
                "was read by its separators instead.",
                n,
                "ISA",
                expected="element widths " + "/".join(map(str, ISA_WIDTHS)),
                found="/".join(map(str, widths)),
            )
        if e[12] != "00501":
            self.note(
                WARNING,
                "unexpected-version",
                f"ISA12 version {e[12]!r} is not 00501.",
                n,
                "ISA",
                element="ISA12",
                expected="00501",
                found=e[12],
            )

    def open_group(self, e: list[str], n: int) -> None:
        if not self.enveloped or self.isa is None:
            self.fatal(
                "unexpected-segment",
                "A functional group (GS) starts outside an interchange (ISA..IEA).",
                n,
                "GS",
                expected="ISA before GS",
                found="GS",
            )
        if self.gs is not None:
            self.missing_trailer("GE", n)
        if len(e) < 9:
            e.extend([""] * (9 - len(e)))
        self.gs, self.gs_segment, self.transactions = e, n, 0
        self.groups += 1
        if not e[8].startswith(VERSION):
            self.note(
                WARNING,
                "unexpected-version",
                f"GS08 {e[8]!r} does not name the 835 implementation guide 005010X221A1; the "
                "file was read as one.",
                n,
                "GS",
                element="GS08",
                expected="005010X221A1",
                found=e[8],
            )

    def close_group(self, e: list[str], n: int) -> None:
        if self.gs is None:
            self.fatal(
                "unexpected-segment",
                "A GE comes without a GS to close.",
                n,
                "GE",
                expected="GS before GE",
                found="GE",
            )
        if len(e) < 3:
            e.extend([""] * (3 - len(e)))
        self.check_trailer(n, "GE", "GE01", e[1], str(self.transactions), "transactions (ST)")
        self.check_control(n, "GE", "GE02", e[2], self.gs[6], "GS06")
        self.gs = None

    def close_interchange(self, e: list[str], n: int) -> None:
        if self.isa is None:
            self.fatal(
                "unexpected-segment",
                "An IEA comes without an ISA to close.",
                n,
                "IEA",
                expected="ISA before IEA",
                found="IEA",
            )
        if self.gs is not None:
            self.missing_trailer("GE", n)
        if len(e) < 3:
            e.extend([""] * (3 - len(e)))
        self.check_trailer(n, "IEA", "IEA01", e[1], str(self.groups), "functional groups (GS)")
        self.check_control(n, "IEA", "IEA02", e[2], self.isa[13], "ISA13")
        self.isa = None

    def check_trailer(
        self, n: int, segment_id: str, element: str, declared: str, counted: str, what: str
    ) -> None:
        if declared != counted:
            self.note(
                ERROR,
                f"{segment_id.lower()}-count",
                f"{element} says {declared or 'nothing'} {what}, but {counted} were found.",
                n,
                segment_id,
                element=element,
                expected=counted,
                found=declared,
            )

    def check_control(
        self, n: int, segment_id: str, element: str, found: str, opened: str, opener: str
    ) -> None:
        if found != opened:
            self.note(
                ERROR,
                f"{segment_id.lower()}-control",
                f"{element} control number {found!r} does not match {opener} {opened!r}: the "
                "envelope's header and trailer disagree.",
                n,
                segment_id,
                element=element,
                expected=opened,
                found=found,
            )

    def missing_trailer(self, segment_id: str, n: int) -> None:
        self.note(
            ERROR,
            f"missing-{segment_id.lower()}",
            f"The {'functional group' if segment_id == 'GE' else 'interchange'} opened at "
            f"segment {self.gs_segment if segment_id == 'GE' else self.isa_segment} is not "
            f"closed by a {segment_id}.",
            n,
            None,
            expected=segment_id,
            found="none",
        )
        if segment_id == "GE":
            self.gs = None
        else:
            self.isa = None

    def at_end(self, n: int) -> None:
        if self.gs is not None:
            self.missing_trailer("GE", n)
        if self.isa is not None:
            self.missing_trailer("IEA", n)
        if self.total == 0:
            self.note(
                WARNING,
                "no-transactions",
                "The file holds no 835 transaction (ST..SE): there is nothing to load.",
                n,
                None,
                expected="at least one ST..SE",
                found="none",
            )

    # --- issues -----------------------------------------------------------------------

    def note(
        self,
        severity: Severity,
        code: str,
        message: str,
        n: int,
        segment_id: str | None,
        *,
        element: str | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> Issue:
        issue = Issue(
            severity,
            code,
            message,
            self.name,
            self.isa[13] if self.isa else None,
            None,
            n,
            segment_id,
            None,
            element,
            expected,
            found,
        )
        self.issues.append(issue)
        return issue

    def fatal(
        self,
        code: str,
        message: str,
        n: int,
        segment_id: str | None,
        *,
        element: str | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> NoReturn:
        issue = Issue(
            FATAL,
            code,
            message + " The file cannot be loaded.",
            self.name,
            self.isa[13] if self.isa else None,
            None,
            n,
            segment_id,
            None,
            element,
            expected,
            found,
        )
        raise X12SyntaxError([issue])
