"""The acknowledgment this interface answers each inbound message with (HL7 v2.5.1 original
mode): MSH with the sender and receiver swapped, MSH-9 `ACK^<trigger>^ACK`; MSA-1 AA
(accepted), AE (read, but parts of it were refused: each refusal has an ERR) or AR (not
taken at all: unknown facility, unsupported type, broken header or structure); MSA-2 the
message's MSH-10; MSA-3 the first error in words; one ERR per issue with ERR-2 the location
(segment ^ occurrence ^ field), ERR-3 the table 0357 code, ERR-4 the severity (E/W/I) and
ERR-8 the reason.

The writing is `clinical.hl7.ack.build_ack` (the registry side of VXU already answers this
way); this module only picks the code, the type and the words. Pure: no Django.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from clinical.hl7.ack import ACK_PROFILE, AckError, AckIssue, build_ack, read_segments
from integrations.hl7.messages import ERROR_CODES, Issue

# MSA-3 is 80 characters in 2.5.1; the full reason is in ERR-8
MSA_TEXT_MAX = 80
_FALLBACK_MSH = "MSH|^~\\&|||||||ACK||P|2.5.1"


def outcome_for(issues: Sequence[Issue], *, rejected: bool = False) -> str:
    """AR when the message was not taken; AE when any issue is an error; else AA."""
    if rejected:
        return "AR"
    return "AE" if any(i.severity == "E" for i in issues) else "AA"


def _msh_line(raw: str) -> str:
    body = raw.strip("\x0b\x1c\r\n ")
    first = body.replace("\r\n", "\r").replace("\n", "\r").split("\r", 1)[0]
    if not first.startswith("MSH") or len(first) < 8:
        return _FALLBACK_MSH
    try:
        read_segments(first)
    except AckError:
        return _FALLBACK_MSH
    return first


def build_response(
    raw: str,
    *,
    code: str,
    issues: Sequence[Issue],
    sent_at: datetime,
    control_id: str = "",
) -> str:
    """The ACK for `raw` (a message as received, readable or not)."""
    msh_line = _msh_line(raw)
    msh = read_segments(msh_line)[0]
    # the ACK's own id: "ACK-" + the id it answers, or a fresh one when there is none
    control_id = control_id or ("" if msh.component(10) else f"ACK-{uuid.uuid4().hex[:16]}")
    message_type, trigger = msh.component(9, 1).upper(), msh.component(9, 2).upper()
    errors = [i for i in issues if i.severity == "E"]
    text = errors[0].reason if errors and code != "AA" else ""
    if len(text) > MSA_TEXT_MAX:
        text = text[: MSA_TEXT_MAX - 3] + "..."
    ack_issues = [
        AckIssue(
            location=i.location,
            sequence=i.sequence,
            code=i.code,
            code_text=ERROR_CODES.get(i.code, ""),
            severity=i.severity,
            user_message=i.reason,
        )
        for i in issues
    ]
    return build_ack(
        msh_line,
        code=code,
        issues=ack_issues,
        control_id=control_id,
        sent_at=sent_at,
        text=text,
        message_type=f"ACK^{trigger}^ACK" if trigger.isalnum() and len(trigger) == 3 else "ACK",
        # the CDC IG's acknowledgment profile for a VXU's answer; none for the others
        profile=ACK_PROFILE if message_type == "VXU" else "",
    )
