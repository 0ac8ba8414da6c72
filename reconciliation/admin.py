from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from reconciliation.contract_models import PayerContract
from reconciliation.engine import contracts as core
from reconciliation.services.contracts import payer_contract_check_overlap
from rxrevops.models import AuditEvent
from rxrevops.services.audit import audit_record


class PayerContractAdminForm(forms.ModelForm[PayerContract]):
    class Meta:
        model = PayerContract
        exclude: list[str] = []  # every editable field: the admin's fieldsets order them

    def clean(self) -> dict[str, Any] | None:
        # versions of one plan key must not overlap (the model's clean checks the rest)
        data = super().clean()
        if data is not None and not self.errors:
            probe = PayerContract(
                pk=self.instance.pk,
                organization=data["organization"],
                bin=(data.get("bin") or "").strip(),
                pcn=core.normalize_code(data.get("pcn") or ""),
                group=core.normalize_code(data.get("group") or ""),
                effective_from=data["effective_from"],
                effective_to=data.get("effective_to"),
            )
            payer_contract_check_overlap(probe)  # a ValidationError lands on its field
        return data


@admin.register(PayerContract)
class PayerContractAdmin(admin.ModelAdmin[PayerContract]):
    form = PayerContractAdminForm
    list_display = [
        "name",
        "organization",
        "payer_name",
        "bin",
        "pcn",
        "group",
        "contract_type",
        "effective_from",
        "effective_to",
        "days_to_pay",
    ]
    list_filter = ["organization", "contract_type", "brand_basis", "generic_basis"]
    search_fields = ["name", "payer_name", "bin", "pcn", "group"]
    readonly_fields = ["created_by", "updated_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["organization", "name", "payer_name", "contract_type", "notes"]}),
        (
            "Plans and version",
            {"fields": ["bin", "pcn", "group", "effective_from", "effective_to"]},
        ),
        (
            "Reimbursement",
            {
                "fields": [
                    ("brand_basis", "brand_percent", "brand_dispensing_fee_cents"),
                    ("generic_basis", "generic_percent", "generic_dispensing_fee_cents"),
                    "lesser_of_usual_customary",
                ]
            },
        ),
        (
            "Fee estimate",
            {
                "fields": [
                    "fee_per_claim_cents",
                    "fee_pct_of_ingredient",
                    "fee_pct_of_plan_paid",
                    "generic_effective_rate",
                    "brand_effective_rate",
                ]
            },
        ),
        ("Payment", {"fields": ["days_to_pay", "grace_days"]}),
        ("Record", {"fields": ["created_by", "updated_by", "created_at", "updated_at"]}),
    ]

    def save_model(self, request: HttpRequest, obj: PayerContract, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        obj.updated_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.UPDATE if change else AuditEvent.Action.CREATE,
            obj=obj,
            summary=f"Payer contract {obj.name} ({obj.plan_label}) in the admin",
            request=request,
        )
