"""The immunization form: what a pharmacist fills in after giving a dose.

The form only shapes input (dates, a Decimal dose, dollars to cents); the dose checks
(expired lot, CVX/MVX mismatch, codes) are the service's and come back keyed by field.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django import forms

from clinical.hl7.vxu import FUNDING_ELIGIBILITY, ROUTES, SITES, cvx_mvx_table

# the CVX a pharmacy usually gives for each care-gap vaccine group (`imm:<group>:...`)
GAP_GROUP_CVX = {
    "flu": "150",
    "zoster": "187",
    "pneumococcal": "216",
    "rsv": "305",
    "tdap": "115",
}


def gap_cvx(code: str) -> str | None:
    """The usual CVX for a care-gap code like `imm:flu:2026-27`; None for other gaps."""
    parts = code.split(":")
    return GAP_GROUP_CVX.get(parts[1]) if len(parts) > 1 and parts[0] == "imm" else None


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ImmunizationForm(forms.Form):
    administered_on = forms.DateField(label="Administered on", widget=_date_input())
    cvx = forms.ChoiceField(label="Vaccine (CVX)")
    mvx = forms.ChoiceField(label="Manufacturer (MVX)")
    lot = forms.CharField(label="Lot", max_length=40)
    expiration = forms.DateField(label="Lot expiration", widget=_date_input())
    dose_ml = forms.DecimalField(
        label="Dose (mL)", max_digits=5, decimal_places=2, min_value=Decimal("0.01")
    )
    site = forms.ChoiceField(label="Site", choices=[("", "—"), *SITES.items()])
    route = forms.ChoiceField(label="Route", choices=[("", "—"), *ROUTES.items()])
    vis_edition_date = forms.DateField(label="VIS edition date", widget=_date_input())
    vis_given_on = forms.DateField(label="VIS given on", widget=_date_input())
    funding_eligibility = forms.ChoiceField(
        label="Funding eligibility", choices=list(FUNDING_ELIGIBILITY.items())
    )
    administering_npi = forms.CharField(label="Administering NPI", max_length=10, required=False)
    billed_amount = forms.DecimalField(
        label="Billed amount ($)",
        max_digits=9,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
    )

    def __init__(
        self, *args: Any, today: datetime.date, cvx: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        table = cvx_mvx_table()
        self.fields["cvx"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (code, f"{code} · {name}") for code, name in sorted(table.vaccines.items())
        ]
        # a vaccine chosen up front (from a care gap) offers only its makers
        makers = table.makers.get(cvx) if cvx else None
        mvx_codes = sorted(makers) if makers else sorted(table.manufacturers)
        self.fields["mvx"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (m, f"{m} · {table.manufacturers.get(m, m)}") for m in mvx_codes
        ]
        self.initial.setdefault("administered_on", today)
        self.initial.setdefault("vis_given_on", today)
        self.initial.setdefault("dose_ml", Decimal("0.5"))
        self.initial.setdefault("funding_eligibility", "V01")
        self.initial.setdefault("route", "C28161")  # intramuscular, how most are given
        if cvx:
            self.initial.setdefault("cvx", cvx)
            if makers and len(makers) == 1:
                self.initial.setdefault("mvx", next(iter(makers)))

    def service_kwargs(self) -> dict[str, Any]:
        """The cleaned values as `immunization_record` takes them."""
        d = dict(self.cleaned_data)
        amount: Decimal | None = d.pop("billed_amount")
        # dollars with 2 places -> integer cents, exactly (Decimal, never float)
        d["billed_cents"] = int((amount or Decimal("0")) * 100)
        return d
