"""MTM encounters, the pure part: the shipped problem/intervention/result codes, what a
signature needs, the medication list drawn from fills, and the patient take-away's content.

No Django here: services hand in plain rows and get plain rows and problems back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

CODES_FILE = Path(__file__).parent / "codes" / "ncpdp_dur_pps.json"
# a fill still counts as a current medication this long after its supply ran out
CURRENT_GRACE_DAYS = 60


@dataclass(frozen=True)
class CodeSet:
    """NCPDP DUR/PPS codes: reason for service, professional service, result of service."""

    reason: dict[str, str]
    service: dict[str, str]
    result: dict[str, str]

    def label(self, table: str, code: str) -> str:
        names: dict[str, str] = getattr(self, table)
        return f"{code} {names[code]}" if code in names else code


@cache
def code_set() -> CodeSet:
    data = json.loads(CODES_FILE.read_text())
    return CodeSet(reason=data["reason"], service=data["service"], result=data["result"])


@dataclass(frozen=True)
class Problem:
    field: str
    reason: str


@dataclass(frozen=True)
class ProblemRow:
    """One medication-related problem as the pharmacist wrote it."""

    reason_code: str
    service_code: str
    result_code: str
    talked_about: str
    patient_action: str = ""
    medication: str = ""


@dataclass(frozen=True)
class EncounterDraft:
    """What a signature checks, in plain values."""

    kind: str  # "cmr" | "tmr"
    held_on: date | None
    minutes: int
    mode: str
    assessment: str
    plan: str
    medications: int
    problems: Sequence[ProblemRow] = field(default_factory=tuple)
    follow_up_on: date | None = None


def problem_row_problems(row: ProblemRow, *, prefix: str = "") -> list[Problem]:
    """Field-level reasons a problem row cannot be kept as written."""
    codes = code_set()
    out: list[Problem] = []
    if not row.reason_code:
        out.append(Problem(f"{prefix}reason_code", "Choose the reason for service."))
    elif row.reason_code not in codes.reason:
        out.append(Problem(f"{prefix}reason_code", f"{row.reason_code!r} is not a reason code."))
    if row.service_code and row.service_code not in codes.service:
        out.append(
            Problem(
                f"{prefix}service_code",
                f"{row.service_code!r} is not a professional service code.",
            )
        )
    if row.result_code and row.result_code not in codes.result:
        out.append(Problem(f"{prefix}result_code", f"{row.result_code!r} is not a result code."))
    if not row.talked_about.strip():
        out.append(Problem(f"{prefix}talked_about", "Say what you talked about (the action plan)."))
    return out


def signature_problems(draft: EncounterDraft, *, today: date) -> list[Problem]:
    """Why this draft cannot be signed yet, field by field (empty: it can be).

    A CMR reviews the whole medication list and leaves the patient an action plan
    (CMS Standardized Format), so it needs at least one medication and one action-plan row;
    a TMR needs the problem it targeted. Both need the time spent (it sets the CPT units),
    an assessment and a plan.
    """
    out: list[Problem] = []
    if draft.held_on is None:
        out.append(Problem("held_on", "Enter the date of the encounter."))
    elif draft.held_on > today:
        out.append(Problem("held_on", "The encounter cannot be dated in the future."))
    if draft.minutes <= 0:
        out.append(Problem("minutes", "Enter the minutes spent (they set the billed units)."))
    elif draft.minutes > 240:
        out.append(Problem("minutes", "More than 4 hours: check the minutes spent."))
    if not draft.mode:
        out.append(Problem("mode", "Say how the encounter was held."))
    if not draft.assessment.strip():
        out.append(Problem("assessment", "The assessment is required to sign."))
    if not draft.plan.strip():
        out.append(Problem("plan", "The plan is required to sign."))
    if draft.kind == "cmr" and draft.medications == 0:
        out.append(Problem("medications", "A CMR reviews the medication list: it cannot be empty."))
    if not draft.problems:
        what = "action plan" if draft.kind == "cmr" else "targeted problem"
        out.append(Problem("problems", f"Add at least one {what} row."))
    for i, row in enumerate(draft.problems):
        out += problem_row_problems(row, prefix=f"problems[{i}].")
    if draft.follow_up_on and draft.held_on and draft.follow_up_on <= draft.held_on:
        out.append(Problem("follow_up_on", "A follow-up comes after the encounter."))
    return out


@dataclass(frozen=True)
class FillRow:
    """A dispensed fill, as the medication-list prefill reads it."""

    drug: str
    ndc: str
    rx_number: int
    date_of_service: date
    days_supply: int
    prescriber: str
    first_filled: date


@dataclass(frozen=True)
class MedicationRow:
    name: str
    ndc: str
    prescriber: str
    started_on: date | None
    how_used: str = ""


def current_medications(fills: Iterable[FillRow], *, as_of: date) -> list[MedicationRow]:
    """The medications a patient is on, from the pharmacy's own fills: one row per drug
    (the latest fill wins), kept when its supply ran out no more than 60 days before
    `as_of` (a lapsed refill is still a medication to review), sorted by name."""
    latest: dict[str, FillRow] = {}
    first: dict[str, date] = {}
    for f in fills:
        key = f.ndc[:9] or f.drug  # product (labeler + product), any package size
        if key not in latest or f.date_of_service > latest[key].date_of_service:
            latest[key] = f
        first[key] = min(f.first_filled, first.get(key, f.first_filled))
    rows = []
    for key, f in latest.items():
        runs_out = f.date_of_service.toordinal() + f.days_supply
        if runs_out + CURRENT_GRACE_DAYS < as_of.toordinal():
            continue
        rows.append(
            MedicationRow(name=f.drug, ndc=f.ndc, prescriber=f.prescriber, started_on=first[key])
        )
    return sorted(rows, key=lambda r: r.name.lower())
