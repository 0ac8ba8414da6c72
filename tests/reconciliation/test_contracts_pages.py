"""Payer contract pages: owners and revenue staff list, add, correct and version contracts;
other roles are refused; another organization's contract is not found."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from reconciliation.contract_models import PayerContract
from reconciliation.engine import contracts as core
from reconciliation.services.contracts import payer_contract_save
from tests.factories import UserFactory

TODAY = timezone.localdate()
START = TODAY.replace(month=1, day=1)


def form(**kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Keystone commercial",
        "payer_name": "Keystone PBM",
        "bin": "610442",
        "pcn": "KSCOMM",
        "group": "",
        "contract_type": "ffs",
        "effective_from": START.isoformat(),
        "effective_to": "",
        "brand_basis": core.AWP_MINUS,
        "brand_percent": "17",
        "brand_dispensing_fee": "1.25",
        "generic_basis": core.NADAC_PLUS,
        "generic_percent": "5",
        "generic_dispensing_fee": "10.50",
        "lesser_of_usual_customary": "on",
        "fee_per_claim": "0.60",
        "fee_pct_of_ingredient": "3.5",
        "fee_pct_of_plan_paid": "0",
        "generic_effective_rate": "",
        "brand_effective_rate": "",
        "days_to_pay": "17",
        "grace_days": "7",
        "notes": "",
    }
    data.update(kw)
    return data


def contract(chain: SimpleNamespace, **kw: Any) -> PayerContract:
    values: dict[str, Any] = {
        "name": "Keystone commercial",
        "payer_name": "Keystone PBM",
        "bin": "610442",
        "pcn": "KSCOMM",
        "effective_from": START,
        "brand_basis": core.AWP_MINUS,
        "brand_percent": 17,
        "generic_basis": core.MAC,
    }
    values.update(kw)
    return payer_contract_save(user=chain.owner, organization=chain.org, **values)


def url(name: str, *args: Any) -> str:
    return reverse(f"reconciliation:{name}", args=args)


def test_the_owner_adds_a_contract_in_dollars_and_reads_its_formulas(
    chain: SimpleNamespace, login: Any
) -> None:
    client = login(chain.owner)
    assert "No payer contracts yet" in client.get(url("contracts")).content.decode()
    response = client.post(url("contract_new"), form())
    c = PayerContract.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("contract_detail", c.pk)
    assert (c.organization, c.pcn, c.group) == (chain.org, "KSCOMM", "*")
    assert (c.brand_dispensing_fee_cents, c.generic_dispensing_fee_cents) == (125, 1050)
    assert (c.fee_per_claim_cents, c.days_to_pay, c.grace_days) == (60, 17, 7)
    page = client.get(url("contract_detail", c.pk)).content.decode()
    assert "In effect today" in page
    assert "AWP per unit x quantity x (1 - 17%) + $1.25 dispensing fee" in page
    assert "NADAC per unit x quantity x (1 + 5%) + $10.50 dispensing fee" in page
    assert "$0.60 per paid claim." in page
    assert "Due 17 days after the date of service, unpaid (overdue) 7 days later" in page
    listing = client.get(url("contracts")).content.decode()
    assert "AWP - 17% + $1.25" in listing
    assert "$0.60/claim, 3.5% of ingredient" in listing


def test_revenue_staff_add_contracts_too(chain: SimpleNamespace, login: Any) -> None:
    response = login(chain.revenue).post(url("contract_new"), form())
    assert response.status_code == 302
    assert PayerContract.objects.get().created_by == chain.revenue


def test_invalid_input_is_shown_next_to_its_field(chain: SimpleNamespace, login: Any) -> None:
    contract(chain)
    response = login(chain.owner).post(url("contract_new"), form(bin="61044x", brand_percent="150"))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="error-bin"' in page
    assert 'data-testid="error-brand_percent"' in page
    overlap = login(chain.owner).post(url("contract_new"), form(group="*"))
    assert 'data-testid="error-effective_from"' in overlap.content.decode()
    assert PayerContract.objects.count() == 1


def test_the_owner_corrects_a_version_in_place(chain: SimpleNamespace, login: Any) -> None:
    c = contract(chain)
    client = login(chain.owner)
    page = client.get(url("contract_edit", c.pk)).content.decode()
    assert 'value="Keystone commercial"' in page
    response = client.post(url("contract_edit", c.pk), form(days_to_pay="21", brand_percent="18"))
    assert response.status_code == 302
    c.refresh_from_db()
    assert (c.days_to_pay, c.brand_percent, PayerContract.objects.count()) == (21, 18, 1)


def test_a_new_version_closes_the_previous_one_the_day_before(
    chain: SimpleNamespace, login: Any
) -> None:
    old = contract(chain, effective_from=START - timedelta(days=365))
    client = login(chain.owner)
    page = client.get(url("contract_new_version", old.pk)).content.decode()
    assert f'value="{TODAY.isoformat()}"' in page  # starts today unless changed
    # the key cannot be changed on a new version: a posted BIN is ignored
    response = client.post(
        url("contract_new_version", old.pk),
        form(bin="999999", effective_from=TODAY.isoformat(), brand_percent="18.5"),
    )
    new = PayerContract.objects.exclude(pk=old.pk).get()
    assert response["Location"] == url("contract_detail", new.pk)
    old.refresh_from_db()
    assert old.effective_to == TODAY - timedelta(days=1)
    assert (new.bin, new.effective_from, new.effective_to) == ("610442", TODAY, None)
    detail = client.get(url("contract_detail", new.pk)).content.decode()
    assert detail.count('data-testid="version-row"') == 2
    assert "In effect today" in detail
    listing = client.get(url("contracts")).content.decode()
    assert f'data-contract="{new.pk}"' in listing  # the version in effect today
    assert f'data-contract="{old.pk}"' not in listing


def test_a_new_version_must_start_after_the_latest(chain: SimpleNamespace, login: Any) -> None:
    old = contract(chain)
    response = login(chain.owner).post(
        url("contract_new_version", old.pk), form(effective_from=START.isoformat())
    )
    assert 'data-testid="error-effective_from"' in response.content.decode()
    assert PayerContract.objects.count() == 1


@pytest.mark.parametrize("who", ["technician_a", "pharmacist_b"])
def test_other_roles_are_refused(chain: SimpleNamespace, login: Any, who: str) -> None:
    c = contract(chain)
    client = login(getattr(chain, who))
    for page in (
        url("contracts"),
        url("contract_new"),
        url("contract_detail", c.pk),
        url("contract_edit", c.pk),
        url("contract_new_version", c.pk),
    ):
        assert client.get(page).status_code == 403, page
    assert client.post(url("contract_new"), form(group="OTHER")).status_code == 403
    assert PayerContract.objects.count() == 1


def test_another_organizations_contract_is_not_found(
    chain: SimpleNamespace, other_chain: SimpleNamespace, login: Any
) -> None:
    c = contract(chain)
    client = login(other_chain.owner)
    for page in (
        url("contract_detail", c.pk),
        url("contract_edit", c.pk),
        url("contract_new_version", c.pk),
    ):
        assert client.get(page).status_code == 404, page
    assert client.post(url("contract_edit", c.pk), form(days_to_pay="99")).status_code == 404
    assert f'data-contract="{c.pk}"' not in client.get(url("contracts")).content.decode()
    # adding one files it under the user's own organization, whatever is posted
    client.post(url("contract_new"), form(organization=str(chain.org.pk)))
    assert not PayerContract.objects.filter(organization=chain.org).exclude(pk=c.pk).exists()


def test_an_upcoming_version_is_flagged_on_the_list(chain: SimpleNamespace, login: Any) -> None:
    this_year = contract(chain, effective_to=date(TODAY.year, 12, 31))
    later = date(TODAY.year + 1, 1, 1)
    contract(chain, effective_from=later, name="Next year")
    listing = login(chain.owner).get(url("contracts")).content.decode()
    assert f'data-contract="{this_year.pk}"' in listing
    assert f"next version from {later.isoformat()}" in listing


def test_signed_out_visitors_are_sent_to_sign_in(client: Any) -> None:
    response = client.get(url("contracts"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_admin_refuses_overlapping_versions_and_stamps_who_saved(
    chain: SimpleNamespace, login: Any
) -> None:
    admin_user = UserFactory.create(is_staff=True, is_superuser=True)
    contract(chain)
    client = login(admin_user)
    data = form(organization=str(chain.org.pk), brand_dispensing_fee_cents="125")
    data |= {
        "generic_dispensing_fee_cents": "1050",
        "fee_per_claim_cents": "60",
        "fee_pct_of_plan_paid": "0",
    }
    add = reverse("admin:reconciliation_payercontract_add")
    page = client.post(add, data).content.decode()
    assert "Overlaps the version of 610442 / KSCOMM / * in effect" in page
    assert PayerContract.objects.count() == 1
    response = client.post(add, data | {"group": "KSA100"})
    assert response.status_code == 302
    made = PayerContract.objects.get(group="KSA100")
    assert (made.created_by, made.brand_dispensing_fee_cents) == (admin_user, 125)
