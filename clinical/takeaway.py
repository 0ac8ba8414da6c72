"""The patient take-away of a CMR in the CMS Standardized Format (CMS-10396): a cover
letter, the Medication Action Plan and the Personal Medication List. Built from plain data,
so the printable page and the PDF show the same content.

The section and column titles follow the form as DOMAIN.md section 2.2 lists them (verify the
exact wording against the current CMS form before a plan audit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from fpdf import FPDF
from fpdf.enums import XPos, YPos

MAP_COLUMNS = ("What we talked about", "What I need to do", "What I did and when I did it")
PML_COLUMNS = ("Medication", "How I use it", "Why I use it", "Prescriber", "Started", "Stopped")


@dataclass(frozen=True)
class ActionRow:
    talked_about: str
    patient_action: str


@dataclass(frozen=True)
class MedicationEntry:
    name: str
    how_used: str
    why_used: str
    prescriber: str
    started_on: date | None
    stopped_on: date | None
    why_stopped: str


@dataclass(frozen=True)
class TakeAway:
    patient_name: str
    date_of_birth: date
    prepared_on: date
    pharmacy_name: str
    pharmacy_address: str
    pharmacist_name: str
    review_kind: str
    mode: str
    allergies: str
    actions: Sequence[ActionRow] = field(default_factory=tuple)
    medications: Sequence[MedicationEntry] = field(default_factory=tuple)
    follow_up: str = ""
    version_note: str = ""

    @property
    def cover_letter(self) -> list[str]:
        held = {"phone": "by phone", "video": "by video"}.get(self.mode, "in person")
        first = self.patient_name.split(",")[-1].strip() or self.patient_name
        return [
            f"Dear {first},",
            (
                f"Thank you for talking with me {held} on {self.prepared_on:%B %-d, %Y} about "
                "your health and medications. As part of your Medicare drug plan's Medication "
                "Therapy Management program, I reviewed all the medications you take, including "
                "over-the-counter products, vitamins and herbals."
                if self.review_kind == "cmr"
                else f"Thank you for talking with me {held} on {self.prepared_on:%B %-d, %Y} "
                "about the medications we reviewed together."
            ),
            "Enclosed are two documents. Your Medication Action Plan has steps you can take to "
            "get the best results from your medications. Your Personal Medication List will "
            "help you keep track of your medications and how to use them the right way.",
            "Keep both with you and bring them to your doctor visits and to the pharmacy. "
            "If you have questions, call us at the pharmacy.",
            "Sincerely,",
            f"{self.pharmacist_name}, Pharmacist",
            f"{self.pharmacy_name}"
            + (f", {self.pharmacy_address}" if self.pharmacy_address else ""),
        ]


def _latin1(text: str) -> str:
    # the PDF's core fonts are Latin-1: typographic quotes and dashes become plain ones
    text = (
        text.replace("\u2019", "'")
        .replace("\u2018", "'")
        .replace("\u201c", '"')
        .replace("\u201d", '"')
        .replace("\u2014", "-")
        .replace("\u2013", "-")
        .replace("\u00b7", "-")
    )
    return text.encode("latin-1", "replace").decode("latin-1")


def _day(d: date | None) -> str:
    return f"{d:%m/%d/%Y}" if d else ""


def takeaway_pdf(t: TakeAway) -> bytes:
    """The take-away as a PDF: the cover letter, the action plan and the medication list,
    each starting a page, the patient's name and date of birth on every page."""
    pdf = FPDF(orientation="portrait", unit="mm", format="Letter")
    pdf.set_title(_latin1(f"Medication review summary for {t.patient_name}"))
    pdf.set_author(_latin1(t.pharmacy_name))
    pdf.set_auto_page_break(auto=True, margin=15)
    header = _latin1(
        f"{t.patient_name} - DOB {_day(t.date_of_birth)} - prepared {_day(t.prepared_on)}"
    )

    def page(title: str) -> None:
        pdf.add_page()
        pdf.set_font("Helvetica", size=8)
        pdf.cell(0, 5, header, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="R")
        pdf.set_font("Helvetica", style="B", size=15)
        pdf.cell(0, 10, _latin1(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", size=10)

    page(_latin1(t.pharmacy_name))
    for para in t.cover_letter:
        pdf.multi_cell(0, 5, _latin1(para), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)

    page(f"Medication Action Plan for {t.patient_name}")
    pdf.multi_cell(
        0,
        5,
        _latin1(
            "This action plan will help you get the best results from your medications if you:"
            " 1. Read 'What we talked about.' 2. Take the steps listed in the 'What I need to"
            " do' boxes. 3. Fill in 'What I did and when I did it.'"
        ),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(2)
    with pdf.table(col_widths=(40, 40, 20), text_align="LEFT") as table:
        row = table.row()
        for title in MAP_COLUMNS:
            row.cell(title)
        for a in t.actions:
            row = table.row()
            row.cell(_latin1(a.talked_about))
            row.cell(_latin1(a.patient_action))
            row.cell("")
    pdf.ln(4)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.cell(0, 6, "My follow-up plan", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(0, 5, _latin1(t.follow_up or " "), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.cell(0, 6, "Questions I want to ask", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(18)

    page(f"Personal Medication List for {t.patient_name}")
    pdf.multi_cell(
        0,
        5,
        _latin1(
            "This medication list was made for you after we talked. Keep it with you, show it"
            " to your doctors and pharmacists, and update it when your medications change."
        ),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(2)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.cell(0, 6, "Allergies and side effects", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(
        0, 5, _latin1(t.allergies or "None reported"), new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.ln(2)
    pdf.set_font("Helvetica", size=9)
    with pdf.table(col_widths=(30, 28, 22, 22, 13, 13), text_align="LEFT") as table:
        row = table.row()
        for title in PML_COLUMNS:
            row.cell(title)
        for m in t.medications:
            row = table.row()
            row.cell(_latin1(m.name))
            row.cell(_latin1(m.how_used))
            row.cell(_latin1(m.why_used))
            row.cell(_latin1(m.prescriber))
            row.cell(_day(m.started_on))
            stopped = _day(m.stopped_on)
            row.cell(_latin1(f"{stopped} {m.why_stopped}".strip()))
    if t.version_note:
        pdf.ln(3)
        pdf.set_font("Helvetica", style="I", size=8)
        pdf.multi_cell(0, 4, _latin1(t.version_note), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
