"""A network's staff benchmark its member pharmacies and their stores; a member pharmacy's
owner sees only its own stores."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rxrevops.models import Organization, Role
from rxrevops.templatetags.money import cents
from tests.factories import LocationFactory, OrganizationFactory, member
from tests.support.rollups import rollup

pytestmark = pytest.mark.django_db

QUERY = "period=custom&since=2026-03-01&until=2026-03-31"


def test_network_staff_rank_member_pharmacies_and_members_see_only_their_own(
    login: Any,
) -> None:
    network = OrganizationFactory.create(name="Prairie PSAO", kind=Organization.Kind.NETWORK)
    north = OrganizationFactory.create(
        name="North Drug", kind=Organization.Kind.MEMBER, network=network
    )
    south = OrganizationFactory.create(
        name="South Rx", kind=Organization.Kind.MEMBER, network=network
    )
    n1 = LocationFactory.create(organization=north, name="North 1")
    n2 = LocationFactory.create(organization=north, name="North 2")
    s1 = LocationFactory.create(organization=south, name="South 1")
    rollup(n1, claims=100, net=50_000)  # $5.00 per script
    rollup(n2, claims=100, net=10_000)  # $1.00
    rollup(s1, claims=200, net=50_000)  # $2.50

    staff = member(organization=network, role=Role.OWNER)
    html = login(staff).get(f"/dashboards/benchmark/?{QUERY}").content.decode()
    stores = re.findall(r'<td class="num">(\d+)</td><td><a href="[^"]+">([^<]+)</a>', html)
    assert stores == [("1", "North 1"), ("2", "South 1"), ("3", "North 2")]
    assert f'data-testid="chain-median">{cents(250)}<' in html
    members = re.findall(r"<td class=\"num\">(\d+)</td><td>([^<]+)</td>", html)
    # North: $600 over 200 scripts = $3.00; South $2.50
    assert members == [("1", "North Drug"), ("2", "South Rx")]
    assert f'data-testid="members-median">{cents(275)}<' in html

    owner = member(organization=north, role=Role.OWNER)
    mine = login(owner).get(f"/dashboards/benchmark/?{QUERY}").content.decode()
    assert "South 1" not in mine
    assert "Member pharmacies" not in mine
    assert login(owner).get(f"/dashboards/locations/{s1.pk}/").status_code == 404
