"""Each role lands on its own home and sees the navigation for its work."""

from __future__ import annotations

import re
from typing import Any

import pytest

NAV_LINK = re.compile(r'<nav class="mainnav".*?</nav>', re.S)


def nav_labels(html: str) -> list[str]:
    block = NAV_LINK.search(html)
    assert block, "page has no main navigation"
    return re.findall(r">([^<>]+)</a>", block.group(0))


@pytest.mark.parametrize(
    ("who", "home", "labels"),
    [
        (
            "owner",
            "/dashboards/",
            [
                "Dashboards",
                "Reconciliation",
                "Workbench",
                "Call lists",
                "Clinical",
                "Patients",
                "Claims",
                "Imports",
                "Jobs",
                "Audit log",
                "API tokens",
            ],
        ),
        (
            "revenue",
            "/reconciliation/",
            ["Reconciliation", "Workbench", "Patients", "Claims", "Imports", "Jobs"],
        ),
        ("pharmacist_b", "/clinical/", ["Call lists", "Clinical", "Patients", "Claims", "Imports"]),
        ("technician_a", "/adherence/", ["Call lists", "Patients"]),
    ],
)
def test_role_lands_on_its_home_with_its_navigation(
    chain: Any, login: Any, who: str, home: str, labels: list[str]
) -> None:
    client = login(getattr(chain, who))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == home
    assert nav_labels(client.get(home).content.decode()) == labels


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("technician_a", "/dashboards/"),
        ("technician_a", "/reconciliation/"),
        ("pharmacist_b", "/audit/"),
        ("revenue", "/settings/tokens/"),
        ("revenue", "/clinical/"),
    ],
)
def test_pages_outside_a_role_are_forbidden(chain: Any, login: Any, who: str, path: str) -> None:
    assert login(getattr(chain, who)).get(path).status_code == 403


def test_user_without_any_membership_is_told_to_ask_for_access(db: Any, login: Any) -> None:
    from tests.factories import UserFactory

    response = login(UserFactory.create()).get("/")
    assert response.status_code == 403
    assert b"No access yet" in response.content


def test_pages_load_htmx_and_styles_from_the_app_not_a_cdn(chain: Any, login: Any) -> None:
    html = login(chain.owner).get("/dashboards/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert sources, "no script or stylesheet found"
    assert all(s.startswith("/static/") for s in sources), sources
    assert "/static/htmx/htmx.min.js" in sources


def test_the_current_page_is_marked_once_by_the_longest_matching_entry(
    chain: Any, login: Any
) -> None:
    html = login(chain.owner).get("/reconciliation/workbench/").content.decode()
    assert html.count('aria-current="page"') == 1
    assert 'href="/reconciliation/workbench/" aria-current="page">Workbench' in html
