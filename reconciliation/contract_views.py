"""Payer contract pages: the list (each plan key with the version in effect today), a
version's terms in words with every version of its key, and the forms to add a contract,
correct a version and add a new version. Owners and revenue staff (the Reconciliation
navigation); editing also needs org-wide owner/revenue membership of the contract's
organization. Another organization's contract is a 404."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from reconciliation.contract_models import PayerContract
from reconciliation.contract_selectors import (
    contract_rows_for_user,
    contract_terms,
    contract_terms_in_words,
    organizations_for_contracts,
    payer_contract_get_for_user,
    payer_contract_versions,
)
from reconciliation.engine import contracts as core
from reconciliation.services.contracts import (
    payer_contract_may_edit,
    payer_contract_new_version,
    payer_contract_save,
)
from rxrevops.access import Principal
from rxrevops.models import Organization
from rxrevops.web import nav_required

NAV = "reconciliation:index"
# money is entered in dollars and stored in cents: form field -> model field
_DOLLAR_FIELDS = {
    "brand_dispensing_fee": "brand_dispensing_fee_cents",
    "generic_dispensing_fee": "generic_dispensing_fee_cents",
    "fee_per_claim": "fee_per_claim_cents",
}
_MODEL_TO_FORM = {v: k for k, v in _DOLLAR_FIELDS.items()}
KEY_FIELDS = ("bin", "pcn", "group")


def _date() -> forms.DateField:
    return forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


def _dollars(label: str, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label, help_text=help_text, max_digits=10, decimal_places=2, min_value=0, initial=0
    )


def _percent(label: str, help_text: str = "", *, required: bool = True) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        help_text=help_text,
        max_digits=7,
        decimal_places=3,
        required=required,
        initial=0 if required else None,
    )


class PayerContractForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none())
    name = forms.CharField(max_length=200)
    payer_name = forms.CharField(max_length=200)
    bin = forms.CharField(label="BIN", max_length=6, help_text="6 digits")
    pcn = forms.CharField(label="PCN", max_length=20, required=False, help_text="* or blank: any")
    group = forms.CharField(max_length=20, required=False, help_text="* or blank: any")
    contract_type = forms.ChoiceField(choices=PayerContract.ContractType.choices)
    effective_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    effective_to = _date()
    brand_basis = forms.ChoiceField(choices=PayerContract.Basis.choices)
    brand_percent = _percent("Brand percent", "AWP minus / WAC plus this percent")
    brand_dispensing_fee = _dollars("Brand dispensing fee ($)")
    generic_basis = forms.ChoiceField(choices=PayerContract.Basis.choices)
    generic_percent = _percent("Generic percent", "NADAC plus may be negative")
    generic_dispensing_fee = _dollars("Generic dispensing fee ($)")
    lesser_of_usual_customary = forms.BooleanField(
        label="Pays the lesser of the contract price and U&C", required=False, initial=True
    )
    fee_per_claim = _dollars("Fees per paid claim ($)", "transaction, network")
    fee_pct_of_ingredient = _percent("Fee % of ingredient cost paid", "performance fees")
    fee_pct_of_plan_paid = _percent("Fee % of plan paid")
    generic_effective_rate = _percent(
        "Generic effective rate (AWP - %)", "e.g. 85 for AWP - 85%", required=False
    )
    brand_effective_rate = _percent("Brand effective rate (AWP - %)", required=False)
    days_to_pay = forms.IntegerField(min_value=0, max_value=32767, initial=30)
    grace_days = forms.IntegerField(min_value=0, max_value=32767, initial=0)
    pay_cycle_days = forms.IntegerField(
        min_value=0,
        max_value=366,
        initial=0,
        required=False,
        label="Pay cycle (days)",
        help_text="0 or blank: any day",
    )
    pay_cycle_anchor = forms.DateField(
        required=False,
        label="A pay day",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="one date the plan paid on, with a pay cycle",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def clean_pay_cycle_days(self) -> int:
        return self.cleaned_data.get("pay_cycle_days") or 0

    def __init__(self, *args: Any, user: Principal, mode: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the organization is chosen only when adding, and only by someone with several
        self.only_organization: Organization | None = None
        orgs = list(organizations_for_contracts(user)) if mode == "new" else []
        if len(orgs) > 1:
            self.fields["organization"].queryset = organizations_for_contracts(user)  # type: ignore[attr-defined]
        else:
            del self.fields["organization"]
            self.only_organization = orgs[0] if orgs else None
        if mode == "version":  # a new version keeps its plan key
            for name in KEY_FIELDS:
                self.fields[name].disabled = True

    def chosen_organization(self) -> Organization:
        chosen = self.cleaned_data.get("organization") or self.only_organization
        if chosen is None:
            raise PermissionDenied("You reach no organization whose contracts you may edit.")
        return chosen

    def values(self) -> dict[str, Any]:
        """The cleaned data as the services' keyword arguments (dollars to cents)."""
        out: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if name == "organization":
                continue
            if name in _DOLLAR_FIELDS:
                out[_DOLLAR_FIELDS[name]] = int(value * 100)
            else:
                out[name] = value
        return out

    def add_service_errors(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, messages in error.message_dict.items():
            name = _MODEL_TO_FORM.get(field, field)
            self.add_error(name if name in self.fields else None, messages)


def initial_from(contract: PayerContract) -> dict[str, Any]:
    initial: dict[str, Any] = {
        name: getattr(contract, name)
        for name in PayerContractForm.base_fields
        if name != "organization" and name not in _DOLLAR_FIELDS
    }
    for name, field in _DOLLAR_FIELDS.items():
        initial[name] = Decimal(getattr(contract, field)) / 100
    return initial


def _render_form(
    request: HttpRequest, form: PayerContractForm, *, mode: str, contract: PayerContract | None
) -> HttpResponse:
    return render(
        request,
        "reconciliation/contract_form.html",
        {"form": form, "mode": mode, "contract": contract},
    )


@nav_required(NAV)
def contracts(request: HttpRequest) -> HttpResponse:
    rows = contract_rows_for_user(request.user)
    can_add = any(
        payer_contract_may_edit(request.user, org.pk)
        for org in organizations_for_contracts(request.user)
    )
    return render(request, "reconciliation/contracts.html", {"rows": rows, "can_add": can_add})


@nav_required(NAV)
def contract_detail(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = payer_contract_get_for_user(user=request.user, contract_id=contract_id)
    today = timezone.localdate()
    versions = list(payer_contract_versions(contract))
    in_effect = {v.pk for v in versions if core.in_effect(contract_terms(v), today)}
    return render(
        request,
        "reconciliation/contract_detail.html",
        {
            "c": contract,
            "words": contract_terms_in_words(contract),
            "versions": versions,
            "in_effect": in_effect,
            "today": today,
            "can_edit": payer_contract_may_edit(request.user, contract.organization_id),
        },
    )


@nav_required(NAV)
def contract_new(request: HttpRequest) -> HttpResponse:
    form = PayerContractForm(request.POST or None, user=request.user, mode="new")
    if request.method == "POST" and form.is_valid():
        try:
            contract = payer_contract_save(
                user=request.user,
                organization=form.chosen_organization(),
                request=request,
                **form.values(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return redirect("reconciliation:contract_detail", contract.pk)
    return _render_form(request, form, mode="new", contract=None)


def _editable(request: HttpRequest, contract_id: int) -> PayerContract:
    contract = payer_contract_get_for_user(user=request.user, contract_id=contract_id)
    if not payer_contract_may_edit(request.user, contract.organization_id):
        raise PermissionDenied("Only owners and revenue staff edit payer contracts.")
    return contract


@nav_required(NAV)
def contract_edit(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _editable(request, contract_id)
    form = PayerContractForm(
        request.POST or None, user=request.user, mode="edit", initial=initial_from(contract)
    )
    if request.method == "POST" and form.is_valid():
        try:
            payer_contract_save(
                user=request.user,
                organization=contract.organization,
                contract=contract,
                request=request,
                **form.values(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return redirect("reconciliation:contract_detail", contract.pk)
    return _render_form(request, form, mode="edit", contract=contract)


@nav_required(NAV)
def contract_new_version(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _editable(request, contract_id)
    initial = initial_from(contract) | {"effective_from": timezone.localdate()}
    form = PayerContractForm(
        request.POST or None, user=request.user, mode="version", initial=initial
    )
    if request.method == "POST" and form.is_valid():
        values = {k: v for k, v in form.values().items() if k not in KEY_FIELDS}
        try:
            new = payer_contract_new_version(
                user=request.user,
                contract=contract,
                request=request,
                **values,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return redirect("reconciliation:contract_detail", new.pk)
    return _render_form(request, form, mode="version", contract=contract)
