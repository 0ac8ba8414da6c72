"""HL7 v2.5.1 ACK^V04: what a state registry (IIS) answers to a VXU, read and written.

Follows the ACK the CDC *HL7 Version 2.5.1 Implementation Guide for Immunization Messaging*
R1.5 describes (profile Z23^CDCPHINVS):

- MSA-1 acknowledgment code: AA accepted, AE accepted with errors, AR rejected (CA/CE/CR are
  the original-mode commit codes some registries still send);
- MSA-2 the control id (MSH-10) of the VXU acknowledged; MSA-3 a free text some registries
  still fill although 2.5.1 deprecates it;
- ERR, one per problem: ERR-2 where (segment^sequence^field^component), ERR-3 the HL7 error
  code (table 0357), ERR-4 severity (table 0516: E error, W warning, I information), ERR-5
  the application error code (CDC table 0533), ERR-7 diagnostic text, ERR-8 the message
  meant for the user.

`parse_ack` reads the text leniently where registries differ (CR, LF or CRLF between
segments, MLLP framing bytes, trailing empty fields) and strictly where it matters (an MSH,
an MSA with a known code and a control id); anything else raises `AckError` naming the
segment and field. `build_ack` answers a VXU like a registry does; the local test registry
and the demo sandbox use it. Plain text in, dataclasses out: no Django.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

ACK_PROFILE = "Z23^CDCPHINVS"
MLLP_FRAMING = "\x0b\x1c"

ACK_CODES = frozenset({"AA", "AE", "AR", "CA", "CE", "CR"})
SEVERITIES = {"E": "Error", "W": "Warning", "I": "Information"}

# the fields a registry names most, in words a pharmacist uses
FIELD_LABELS = {
    "MSH-4": "sending facility id",
    "MSH-10": "message control id",
    "PID-3": "patient id",
    "PID-5": "patient name",
    "PID-7": "birth date",
    "PID-8": "sex",
    "ORC-3": "dose record id",
    "RXA-3": "administration date",
    "RXA-5": "vaccine (CVX)",
    "RXA-6": "dose amount",
    "RXA-10": "administering provider",
    "RXA-11": "administered-at location",
    "RXA-15": "lot number",
    "RXA-16": "lot expiration date",
    "RXA-17": "manufacturer (MVX)",
    "RXR-1": "route",
    "RXR-2": "site",
    "OBX-5": "observation value (VFC eligibility or VIS)",
}


class AckError(ValueError):
    """The registry's answer is not a readable ACK; the message says where and why."""


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    ACCEPTED_WITH_WARNINGS = "accepted_warnings"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class AckIssue:
    """One ERR segment."""

    location: str = ""  # "RXA-15" (ERR-2 segment id and field position), "" when not given
    code: str = ""  # ERR-3.1, HL7 table 0357 (e.g. 103 table value not found)
    code_text: str = ""  # ERR-3.2
    severity: str = ""  # ERR-4: E, W or I ("" when the registry left it out)
    application_code: str = ""  # ERR-5.1, CDC table 0533
    application_text: str = ""  # ERR-5.2
    diagnostic: str = ""  # ERR-7
    user_message: str = ""  # ERR-8
    sequence: int = 1  # ERR-2.2: which occurrence of the segment (the 2nd RXA is 2)

    @property
    def is_error(self) -> bool:
        # ERR-4 is required in 2.5.1; a registry that leaves it out is taken at its worst
        return self.severity not in ("W", "I")

    @property
    def where(self) -> str:
        """'RXA-15 (lot number)', or '' when the registry named no field."""
        if not self.location:
            return ""
        label = FIELD_LABELS.get(self.location)
        return f"{self.location} ({label})" if label else self.location

    @property
    def text(self) -> str:
        """What went wrong in the registry's own words, most specific first."""
        return (
            self.user_message
            or self.diagnostic
            or self.application_text
            or self.code_text
            or (f"HL7 error {self.code}" if self.code else "No reason given")
        )

    def describe(self) -> str:
        kind = SEVERITIES.get(self.severity, "Error")
        return f"{kind}: {self.where + ': ' if self.where else ''}{self.text}"


@dataclass(frozen=True, slots=True)
class Ack:
    code: str  # MSA-1
    control_id: str  # MSA-2: the VXU's MSH-10
    text: str = ""  # MSA-3
    issues: tuple[AckIssue, ...] = ()
    message_control_id: str = ""  # the ACK's own MSH-10
    sending_application: str = ""  # the ACK's MSH-3 (the registry)

    @property
    def errors(self) -> list[AckIssue]:
        return [i for i in self.issues if i.is_error]

    @property
    def warnings(self) -> list[AckIssue]:
        return [i for i in self.issues if not i.is_error]

    @property
    def outcome(self) -> Outcome:
        """AA: accepted (with warnings when any ERR came along). AE: accepted with warnings
        when every ERR is a warning or information, else rejected (an AE naming no problem
        at all is rejected too: the registry said something is wrong). AR: rejected."""
        if self.code in ("AA", "CA"):
            return Outcome.ACCEPTED_WITH_WARNINGS if self.issues else Outcome.ACCEPTED
        if self.code in ("AE", "CE") and self.issues and not self.errors:
            return Outcome.ACCEPTED_WITH_WARNINGS
        return Outcome.REJECTED

    def describe(self) -> str:
        """Every problem the registry reported, one per line, errors first."""
        lines = [i.describe() for i in [*self.errors, *self.warnings]]
        if self.text and not lines:
            lines.append(self.text)
        return "\n".join(lines)


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Encoding:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"


@dataclass(frozen=True, slots=True)
class Segment:
    """A segment as fields, numbered as HL7 numbers them: `fields[1]` is field 1 (for MSH,
    field 1 is the field separator itself, so MSH-9 is `fields[9]` as well)."""

    name: str
    fields: tuple[str, ...]
    index: int  # 1-based position in the message, for error messages
    encoding: Encoding = field(default_factory=Encoding)

    def __getitem__(self, n: int) -> str:
        return self.fields[n] if n < len(self.fields) else ""

    def components(self, n: int) -> list[str]:
        """Field `n`'s first repetition split into components, each unescaped."""
        first = self[n].split(self.encoding.repetition)[0]
        return [unescape(c, self.encoding) for c in first.split(self.encoding.component)]

    def component(self, n: int, c: int = 1) -> str:
        parts = self.components(n)
        return parts[c - 1] if c <= len(parts) else ""


def unescape(value: str, enc: Encoding = Encoding()) -> str:
    """Undo the HL7 delimiter escapes (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\); others are kept as
    written."""
    if enc.escape not in value:
        return value
    table = {
        "F": enc.field,
        "S": enc.component,
        "T": enc.subcomponent,
        "R": enc.repetition,
        "E": enc.escape,
    }
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        end = value.find(enc.escape, i + 1) if ch == enc.escape else -1
        if end != -1 and value[i + 1 : end] in table:
            out.append(table[value[i + 1 : end]])
            i = end + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def read_segments(text: str) -> list[Segment]:
    """Split an ER7 message into segments. The message must start with MSH; CR, LF and CRLF
    all end a segment and MLLP framing bytes are dropped (registries differ)."""
    body = text.strip().strip(MLLP_FRAMING).strip()
    if not body:
        raise AckError("The answer is empty: no HL7 message came back.")
    lines = [line for line in body.replace("\r\n", "\r").replace("\n", "\r").split("\r") if line]
    if not lines[0].startswith("MSH") or len(lines[0]) < 8:
        start = lines[0][:40]
        raise AckError(f"Segment 1 is not an MSH header: the answer starts with {start!r}.")
    sep = lines[0][3]
    chars = lines[0][4:8]
    enc = Encoding(sep, chars[0], chars[1], chars[2], chars[3] if len(chars) > 3 else "&")
    segments = []
    for n, line in enumerate(lines, start=1):
        parts = line.split(sep)
        name = parts[0]
        if not (len(name) == 3 and name.isalnum() and name.isupper()):
            raise AckError(f"Segment {n} has no segment id: {line[:40]!r}.")
        fields = (name, sep, *parts[1:]) if name == "MSH" else tuple(parts)
        segments.append(Segment(name, fields, n, enc))
    return segments


def _location(seg: Segment) -> str:
    # ERR-2 (ERL): segment id ^ sequence ^ field position ^ ...
    parts = seg.components(2)
    name = parts[0] if parts else ""
    position = parts[2] if len(parts) > 2 else ""
    if name and position:
        return f"{name}-{position}"
    return name


def _issue(seg: Segment) -> AckIssue:
    severity = seg.component(4).upper()
    if severity and severity not in SEVERITIES:
        raise AckError(
            f"Segment {seg.index} (ERR), field ERR-4: severity {severity!r} is not E, W or I."
        )
    return AckIssue(
        location=_location(seg),
        code=seg.component(3, 1),
        code_text=seg.component(3, 2),
        severity=severity,
        application_code=seg.component(5, 1),
        application_text=seg.component(5, 2),
        diagnostic=unescape(seg[7], seg.encoding),
        user_message=unescape(seg[8], seg.encoding),
    )


def parse_ack(text: str) -> Ack:
    """Read a registry's ACK. Raises `AckError` naming the segment and field when the text
    is not an acknowledgment (no MSH, not an ACK, no MSA, an unknown MSA-1, no MSA-2)."""
    segments = read_segments(text)
    msh = segments[0]
    kind = msh.component(9, 1)
    if kind != "ACK":
        raise AckError(f"Segment 1 (MSH), field MSH-9: the message type is {msh[9]!r}, not an ACK.")
    msas = [s for s in segments if s.name == "MSA"]
    if not msas:
        raise AckError("The ACK has no MSA segment, so it does not say whether the VXU was taken.")
    msa = msas[0]
    code = msa.component(1).upper()
    if code not in ACK_CODES:
        raise AckError(
            f"Segment {msa.index} (MSA), field MSA-1: acknowledgment code {msa[1]!r} is not "
            "one of AA, AE, AR (or CA, CE, CR)."
        )
    control_id = msa.component(2)
    if not control_id:
        raise AckError(
            f"Segment {msa.index} (MSA), field MSA-2: the control id of the message "
            "acknowledged is missing."
        )
    return Ack(
        code=code,
        control_id=control_id,
        text=unescape(msa[3], msa.encoding),
        issues=tuple(_issue(s) for s in segments if s.name == "ERR"),
        message_control_id=msh.component(10),
        sending_application=msh.component(3),
    )


# --- writing ---------------------------------------------------------------------------------


def _escape(value: str) -> str:
    return (
        value.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
    )


def _err(issue: AckIssue) -> str:
    location = ""
    if issue.location:
        name, _, position = issue.location.partition("-")
        location = f"{name}^{issue.sequence}^{position}" if position else name
    code = f"{issue.code}^{_escape(issue.code_text)}^HL70357" if issue.code else ""
    app = (
        f"{issue.application_code}^{_escape(issue.application_text)}^HL70533"
        if issue.application_code
        else ""
    )
    fields = [
        "ERR",
        "",
        location,
        code,
        issue.severity or "E",
        app,
        "",
        _escape(issue.diagnostic),
        _escape(issue.user_message),
    ]
    return "|".join(fields).rstrip("|")


def build_ack(
    vxu: str,
    *,
    code: str = "AA",
    issues: Iterable[AckIssue] = (),
    control_id: str = "",
    sent_at: datetime,
    text: str = "",
    message_type: str = "ACK^V04^ACK",
    profile: str = ACK_PROFILE,
) -> str:
    """The ACK^V04 a registry answers to `vxu`: the VXU's sender and receiver swapped in MSH,
    MSA-2 echoing its MSH-10, one ERR per issue. Raises `AckError` when `vxu` has no MSH.
    `message_type` and `profile` (MSH-9, MSH-21) let an inbound interface answer other
    messages (ACK^A08^ACK, no profile) the same way."""
    if code not in ACK_CODES:
        raise ValueError(f"acknowledgment code {code!r} is not one of {sorted(ACK_CODES)}")
    msh = read_segments(vxu)[0]
    e = _escape
    acked = msh.component(10)
    own_id = control_id or f"ACK-{acked}"
    header = [
        "MSH",
        "^~\\&",
        msh[5],  # the VXU's receiving application and facility send the answer
        msh[6],
        msh[3],
        msh[4],
        sent_at.strftime("%Y%m%d%H%M%S%z"),
        "",
        message_type,
        e(own_id),
        msh[11] or "P",
        "2.5.1",
        "",
        "",
        "NE",
        "NE",
        "",
        "",
        "",
        "",
        profile,
    ]
    segments = [
        "|".join(header).rstrip("|"),
        "|".join(["MSA", code, e(acked), e(text)]).rstrip("|"),
    ]
    segments += [_err(i) for i in issues]
    return "\r".join(segments) + "\r"


def vxu_field(vxu: str, segment: str, n: int, component: int = 1) -> str:
    """One component of the first `segment` of a message (for a registry's own checks)."""
    for seg in read_segments(vxu):
        if seg.name == segment:
            return seg.component(n, component)
    return ""


SANDBOX_REJECTED_LOT_PREFIX = "REJECT"


def sandbox_answer(vxu: str, *, sent_at: datetime) -> str:
    """How the demo sandbox registry answers a VXU: AA, or AE with an error on RXA-15 when
    the lot number starts with REJECT (so a demo can show a registry's rejection). Raises
    `AckError` when `vxu` has no MSH."""
    lot = vxu_field(vxu, "RXA", 15)
    if lot.upper().startswith(SANDBOX_REJECTED_LOT_PREFIX):
        issue = AckIssue(
            location="RXA-15",
            code="103",
            code_text="Table value not found",
            severity="E",
            application_code="5",
            application_text="Table value not found",
            user_message=f"Lot number {lot} is not on the registry's lot list.",
        )
        return build_ack(vxu, code="AE", issues=[issue], sent_at=sent_at)
    return build_ack(vxu, code="AA", sent_at=sent_at)
