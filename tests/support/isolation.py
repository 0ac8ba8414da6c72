"""The isolation matrix's parts: every route of the URL conf with its converters, a world of
two organizations stocked with one of everything, and the ids that name only one store's or
one organization's rows.

Ids are kept apart on purpose: before each phase of the world every table's sequence jumps to
a fresh block (its own sub-range within the block), so no id of org B's, or of store A2's,
is also the id of a row someone else may see. A 200 for such an id can then only mean the
foreign row itself was served.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import connection, models
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from adherence.services.build import worklists_build_now
from claims.models import Patient, Plan
from clinical.models import Encounter
from clinical.services.contracts import MeasureTerm, contract_save
from clinical.services.encounters import encounter_save, encounter_sign, encounter_start
from clinical.services.immunizations import immunization_record
from clinical.services.registry import registry_message_enqueue
from dashboards.services.rollups import rollups_refresh_now
from integrations.models import Hl7Message
from reconciliation.services.cases import case_update
from reconciliation.services.contracts import payer_contract_save
from reconciliation.services.runs import reconcile_now
from rxrevops.models import Job, Location, Organization, QuarantinedRow, Role, Scope
from rxrevops.services.tokens import api_token_create
from tests.factories import LocationFactory, OrganizationFactory, PatientFactory, member
from tests.reconciliation.test_workbench import claim, remit
from tests.support.adherence_world import (
    AMLODIPINE,
    AS_OF,
    ATORVASTATIN,
    LISINOPRIL,
    METFORMIN,
    dispense,
    drug,
    every,
    synced_patient,
)
from tests.support.registry import registry_create
from webhooks.services import webhook_endpoint_create

# --- routes -----------------------------------------------------------------------------------

# Routes the matrix does not visit, each with why. Everything else the URL conf holds is
# visited, so a new route is in the matrix the moment it is added.
SKIPPED_PREFIXES: dict[str, str] = {
    "admin/": "Django admin: staff only, no tenant data model of its own",
    "static/": "static files",
    "media/": "uploaded files are served by the views that check access, not here",
    "api/schema/": "the OpenAPI document: no tenant data",
    "api/docs/": "Swagger UI over the schema",
    "api/redoc/": "ReDoc over the schema",
    "accounts/login/": "signing in",
    "accounts/logout/": "signing out (would end the test client's session)",
    "healthz": "health check: no tenant data",
    "__debug__/": "debug toolbar, development only",
}

_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")


@dataclass(frozen=True)
class Route:
    template: str  # "clinical/encounters/<int:encounter_id>/"
    name: str  # "clinical:encounter"
    params: tuple[tuple[str, str], ...]  # (("encounter_id", "int"),)

    @property
    def is_api(self) -> bool:
        return self.template.startswith("api/")

    @property
    def int_params(self) -> tuple[str, ...]:
        return tuple(n for n, c in self.params if c == "int")

    def url(self, **values: Any) -> str:
        return "/" + _PARAM.sub(lambda m: str(values[m.group("name")]), self.template)

    def __str__(self) -> str:
        return "/" + self.template


def routes() -> list[Route]:
    """Every route under the root URL conf, outside SKIPPED_PREFIXES, in URL-conf order."""
    out: list[Route] = []
    for template, name in _walk(get_resolver().url_patterns, "", ""):
        if any(template.startswith(p) for p in SKIPPED_PREFIXES):
            continue
        params = tuple(
            (m.group("name"), m.group("converter") or "str") for m in _PARAM.finditer(template)
        )
        out.append(Route(template=template, name=name, params=params))
    return out


def _walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[tuple[str, str]]:
    for p in patterns:
        if isinstance(p.pattern, RoutePattern):
            piece = str(p.pattern)
        else:
            # a regex route cannot be filled in generically: it must be skipped on purpose
            piece = p.pattern.regex.pattern.lstrip("^").rstrip("$").replace("\\Z", "")
            if not any((prefix + piece).startswith(s) for s in SKIPPED_PREFIXES):
                raise AssertionError(f"regex route /{prefix}{piece} needs a converter route")
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, prefix + piece, ns)
        elif isinstance(p, URLPattern):
            yield prefix + piece, f"{namespace}{p.name or ''}"


# --- the world --------------------------------------------------------------------------------

OTHER_DRUGS = [(f"55555{n:04d}01", f"Otherdrug{n} 10 mg tablet", "") for n in range(1, 5)]


def sequences_state() -> list[tuple[str, int | None]]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT sequencename, last_value FROM pg_sequences "
            "WHERE schemaname = current_schema() ORDER BY sequencename"
        )
        return list(cur.fetchall())


def sequences_restore(state: list[tuple[str, int | None]]) -> None:
    """Put the sequences back where the world found them (its rows are rolled back), so a
    reused test database does not creep towards the end of the id range run after run."""
    with connection.cursor() as cur:
        for name, last in state:
            cur.execute("SELECT setval(%s, %s, %s)", [f'"{name}"', last or 1, last is not None])


def sequences_jump() -> None:
    """Move every table's id sequence to a fresh block, each table in its own sub-range, so
    the rows made next share no id with any row made before, nor with each other's tables."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT sequencename, coalesce(last_value, 0) FROM pg_sequences "
            "WHERE schemaname = current_schema() ORDER BY sequencename"
        )
        rows = cur.fetchall()
        names = [name for name, _ in rows]
        top = max((last for _, last in rows), default=0)
        base = (top // 10_000_000 + 1) * 10_000_000
        for i, name in enumerate(names):
            cur.execute("SELECT setval(%s, %s)", [f'"{name}"', base + i * 10_000])


@dataclass
class Store:
    location: Location
    marker: str  # a word in every patient's and the store's name, for leak checks in bodies
    patients: list[Patient] = field(default_factory=list)


def _encounter_ready(enc: Encounter, user: Any) -> Encounter:
    return encounter_save(
        user=user,
        encounter=enc,
        fields={"minutes": 35, "assessment": "Statin myalgia.", "plan": "Switch statin."},
        problems=[
            {
                "medication": "Atorvastatin",
                "reason_code": "SE",
                "service_code": "M0",
                "result_code": "3E",
                "talked_about": "Muscle aches.",
                "patient_action": "Take the new statin at night.",
            }
        ],
    )


def store_stock(store: Store, *, owner: Any, vb_plan: Plan, acme: Plan) -> None:
    """One of every store-level kind: patients with fills (worklist items follow from the
    build), 835 payments, an import job with a quarantined row, MTM encounters (one signed,
    so billed; one draft), an immunization with its registry message, an HL7 message."""
    loc, m = store.location, store.marker
    owner.__dict__.pop("_rxrevops_access", None)  # grants cached before this store existed
    at_risk = PatientFactory.create(location=loc, last_name=f"{m}statin", phone="555-0100")
    dispense(at_risk, ATORVASTATIN, every(date(2026, 1, 5), 30, date(2026, 9, 2)), plan=vb_plan)
    synced = synced_patient(loc, sync_date=AS_OF + timedelta(days=6), name=f"{m}sync")
    manymeds = PatientFactory.create(
        location=loc, last_name=f"{m}manymeds", date_of_birth=date(1950, 3, 4)
    )
    for spec in [METFORMIN, LISINOPRIL, ATORVASTATIN, AMLODIPINE, *OTHER_DRUGS]:
        dispense(manymeds, spec, every(date(2026, 1, 10), 30, date(2026, 11, 10)))
    store.patients += [at_risk, synced, manymeds]

    atorva = drug(ATORVASTATIN)
    dos = date(2026, 10, 5)
    short = claim(loc, at_risk, drug=atorva, plan=acme, paid=5000, acquisition=3000, dos=dos)
    claim(loc, at_risk, drug=atorva, plan=acme, paid=2500, acquisition=1000, dos=dos)  # unpaid
    remit(loc.organization, loc, [(short, 4000, [("CO", "45", 1000)])])

    job = Job.objects.create(
        organization=loc.organization,
        location=loc,
        kind="pms",
        label=f"{m} export.csv",
        status=Job.Status.SUCCEEDED,
        error_count=1,
    )
    QuarantinedRow.objects.create(job=job, line=3, field="ndc", value="12-34", reason="bad NDC")

    signed = encounter_start(user=owner, patient=at_risk, today=AS_OF)
    encounter_sign(user=owner, encounter=_encounter_ready(signed, owner))
    encounter_start(user=owner, patient=manymeds, today=AS_OF)  # stays a draft

    dose = immunization_record(
        user=owner,
        patient=synced,
        administered_on=AS_OF,
        cvx="150",
        mvx="SKB",
        lot=f"{m}LOT",
        expiration=date(2027, 6, 30),
        dose_ml="0.5",
        site="LD",
        route="IM",
        vis_edition_date=date(2023, 8, 6),
        vis_given_on=AS_OF,
        funding_eligibility="V01",
        administering_npi="1598000011",
        billed_cents=4000,
    )
    registry_message_enqueue(immunization=dose)
    Hl7Message.objects.create(
        organization=loc.organization,
        location=loc,
        transport="http",
        message_type="ADT^A08",
        control_id=f"{m}1",
        raw="MSH|^~\\&|PMS|" + loc.ncpdp_id,
        raw_sha256=hashlib.sha256(m.encode()).hexdigest(),
        outcome="AA",
    )


def organization_stock(org: Organization, *, owner: Any, unpaid_fill_ids: list[int]) -> None:
    """Organization-level kinds and what is derived from the stores' facts: payer and
    value-based contracts, a registry, an API token with a webhook, worklists built,
    a reconciliation run with its dashboard rollups, and an exception case on each store's
    unpaid claim."""
    payer_contract_save(
        user=owner,
        organization=org,
        name=f"{org.name} commercial",
        payer_name="Keystone PBM",
        bin="610442",
        pcn="KSCOMM",
        group="*",
        effective_from=date(2026, 1, 1),
        brand_basis="awp_minus",
        brand_percent=Decimal("17"),
        brand_dispensing_fee_cents=100,
        generic_basis="mac",
        generic_dispensing_fee_cents=100,
        fee_per_claim_cents=60,
        days_to_pay=14,
        grace_days=7,
    )
    contract_save(
        organization=org,
        name=f"{org.name} star bonus",
        payer_name="Test Payer",
        bin="610999",
        measurement_year=2026,
        effective_from=date(2026, 1, 1),
        measures=[MeasureTerm("PDC-STA", Decimal("80"), 10_000)],
    )
    issued = api_token_create(organization=org, name=f"{org.name} PMS", scopes=Scope.values)
    webhook_endpoint_create(
        token=issued.token,
        url="http://127.0.0.1:9/hook",
        events=["job.succeeded"],
        created_by=None,
    )
    job = worklists_build_now(organization=org, as_of=AS_OF)
    assert job.status == Job.Status.SUCCEEDED, job.message
    run = reconcile_now(organization=org, as_of=AS_OF)
    assert run.status == Job.Status.SUCCEEDED, run.message
    rollup = rollups_refresh_now(organization=org, run=run)  # the dashboards read these
    assert rollup.status == Job.Status.SUCCEEDED, rollup.message
    for fill_id in unpaid_fill_ids:
        case_update(user=owner, fill_id=fill_id, status="appealed", note="Appealed")


# --- whose rows -------------------------------------------------------------------------------


def _paths_to(model: type[models.Model], target: type[models.Model], depth: int = 3) -> str | None:
    """The shortest forward foreign-key lookup from `model` to `target`, e.g.
    "claim__location"; None when there is none within `depth` hops."""
    frontier: list[tuple[type[models.Model], str]] = [(model, "")]
    for _ in range(depth):
        nxt: list[tuple[type[models.Model], str]] = []
        for m, path in frontier:
            for f in m._meta.get_fields():
                if not (f.many_to_one or f.one_to_one) or not f.concrete:
                    continue
                related = f.related_model
                if related is None or related == m:
                    continue
                lookup = f"{path}__{f.name}" if path else f.name
                if related is target:
                    return lookup
                nxt.append((related, lookup))
        frontier = nxt
    return None


def tenant_models() -> list[tuple[type[models.Model], str | None, str | None]]:
    """(model, lookup to its Location, lookup to its Organization) for every model that
    belongs to a tenant, the tenancy models themselves included."""
    out: list[tuple[type[models.Model], str | None, str | None]] = [
        (Location, "pk", "organization"),
        (Organization, None, "pk"),
    ]
    for model in apps.get_models():
        if model in (Location, Organization):
            continue
        to_loc = _paths_to(model, Location)
        direct_org = _paths_to(model, Organization, depth=1)
        to_org = direct_org or (f"{to_loc}__organization" if to_loc else None)
        to_org = to_org or _paths_to(model, Organization)
        if to_loc or to_org:
            out.append((model, to_loc, to_org))
    return out


@dataclass(frozen=True)
class Foreign:
    """The rows of one store or one organization: the ids that name them and nothing else."""

    label: str
    ids: tuple[int, ...]  # one or two ids per kind, sorted, none shared with another row
    kinds: dict[int, str]  # id -> model label, for messages
    strings: tuple[str, ...]  # for str converters: the store's NCPDP ID and the ids as text
    excluded: int  # ids dropped because another row has the same id


def _scope_filter(
    lookups: tuple[str | None, str | None],
    *,
    location: Location | None,
    organization: Organization | None,
) -> dict[str, Any] | None:
    to_loc, to_org = lookups
    if location is not None:
        return {to_loc: location.pk} if to_loc else None
    return {to_org: organization.pk} if to_org and organization else None


def foreign_rows(
    *, label: str, location: Location | None = None, organization: Organization | None = None
) -> Foreign:
    """The first and last row of every kind held by `location` (location-level kinds) or by
    `organization` (every kind), minus any id another row of any table also has."""
    assert (location is None) != (organization is None)
    mine: dict[int, str] = {}
    everyone_else: set[int] = set()
    for model, to_loc, to_org in tenant_models():
        pk = model._meta.pk
        if not isinstance(pk, models.AutoField | models.BigAutoField):
            continue
        scope = _scope_filter((to_loc, to_org), location=location, organization=organization)
        qs = model._default_manager.all()
        if scope is None:
            everyone_else.update(qs.values_list("pk", flat=True))
            continue
        ours = qs.filter(**scope).order_by("pk").values_list("pk", flat=True)
        pks = list(ours)
        # every row of a small kind (a view may want one in a given state), else the ends
        for p in pks if len(pks) <= 5 else {pks[0], pks[-1]}:
            if p in mine:  # two of the store's own kinds share the id: neither is a clean probe
                everyone_else.add(p)
            mine.setdefault(p, model._meta.label)
        everyone_else.update(qs.exclude(pk__in=pks).values_list("pk", flat=True))
    for model in apps.get_models():
        if model not in {m for m, _, _ in tenant_models()}:
            pk = model._meta.pk
            if isinstance(pk, models.AutoField | models.BigAutoField):
                everyone_else.update(model._default_manager.values_list("pk", flat=True))
    kept = {i: k for i, k in mine.items() if i not in everyone_else}
    ids = tuple(sorted(kept))
    ncpdp = (
        location.ncpdp_id
        if location
        else Location.objects.filter(organization=organization)
        .values_list("ncpdp_id", flat=True)
        .first()
    )
    return Foreign(
        label=label,
        ids=ids,
        kinds=kept,
        strings=(str(ncpdp), *(str(i) for i in ids)),
        excluded=len(mine) - len(kept),
    )


def rows_fingerprint(
    *, location: Location | None = None, organization: Organization | None = None
) -> dict[str, str]:
    """A digest of every row held by the store or organization, per model: what a refused
    write must leave as it was."""
    out: dict[str, str] = {}
    for model, to_loc, to_org in tenant_models():
        scope = _scope_filter((to_loc, to_org), location=location, organization=organization)
        if scope is None:
            continue
        rows = list(model._default_manager.filter(**scope).order_by("pk").values())
        for row in rows:
            row.pop("last_used_at", None)  # a token's use stamp, not its data
        out[model._meta.label] = hashlib.sha256(
            json.dumps(rows, default=str, sort_keys=True).encode()
        ).hexdigest()
    return out


# --- principals -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    label: str  # "A owner", "A token remits:read", ...
    user: Any = None
    token_key: str | None = None

    @property
    def is_token(self) -> bool:
        return self.token_key is not None


def org_a_principals(org: Organization, a1: Location) -> list[Principal]:
    """Every role of org A across the organization and at store A1, and an API token per
    scope, with every scope, and with every scope at store A1 only."""
    people = [
        Principal(f"A {role}", member(organization=org, role=role))
        for role in (Role.OWNER, Role.REVENUE, Role.PHARMACIST, Role.TECHNICIAN)
    ]
    people += [
        Principal(f"A1 {role}", member(organization=org, role=role, locations=[a1]))
        for role in (Role.REVENUE, Role.PHARMACIST, Role.TECHNICIAN)
    ]
    tokens = [
        Principal(
            f"A token {scope}",
            token_key=api_token_create(organization=org, name=f"A {scope}", scopes=[scope]).key,
        )
        for scope in Scope.values
    ]
    tokens.append(
        Principal(
            "A token all scopes",
            token_key=api_token_create(organization=org, name="A all", scopes=Scope.values).key,
        )
    )
    tokens.append(
        Principal(
            "A1 token all scopes",
            token_key=api_token_create(
                organization=org, name="A1 all", scopes=Scope.values, locations=[a1]
            ).key,
        )
    )
    return people + tokens


def world_build() -> dict[str, Any]:
    """Org A (stores A1, A2) and org B (store B1), in that order, each stocked with one of
    every kind; B's and A2's ids in blocks of their own."""
    vb_plan, _ = Plan.objects.get_or_create(
        bin="610999", pcn="VB", group="STAR", defaults={"contract_type": "value_based"}
    )
    acme, _ = Plan.objects.get_or_create(
        bin="610011", pcn="ACME", group="G1", defaults={"name": "Acme Part D"}
    )
    org_a = OrganizationFactory.create(name="Alder Pharmacies", slug="alder-iso")
    a1 = LocationFactory.create(organization=org_a, name="Alder One")
    owner_a = member(organization=org_a, role=Role.OWNER)
    registry_create(organization=org_a, url="http://127.0.0.1:9/vxu")
    store_a1 = Store(a1, "Alderpat")
    store_stock(store_a1, owner=owner_a, vb_plan=vb_plan, acme=acme)
    sequences_jump()
    a2 = LocationFactory.create(organization=org_a, name="Alder Aspentwo")
    store_a2 = Store(a2, "Aspenpat")
    store_stock(store_a2, owner=owner_a, vb_plan=vb_plan, acme=acme)
    sequences_jump()
    organization_stock(org_a, owner=owner_a, unpaid_fill_ids=_unpaid(a1) + _unpaid(a2))
    principals = org_a_principals(org_a, a1)

    sequences_jump()
    org_b = OrganizationFactory.create(name="Zebrawood Drug", slug="zebrawood-iso")
    b1 = LocationFactory.create(organization=org_b, name="Zebrawood Main")
    owner_b = member(organization=org_b, role=Role.OWNER)
    registry_create(organization=org_b, url="http://127.0.0.1:9/vxu")
    store_b1 = Store(b1, "Zebrapat")
    store_stock(store_b1, owner=owner_b, vb_plan=vb_plan, acme=acme)
    organization_stock(org_b, owner=owner_b, unpaid_fill_ids=_unpaid(b1))
    return {
        "org_a": org_a,
        "a1": a1,
        "a2_location": a2,
        "org_b": org_b,
        "b1": b1,
        "owner_a": owner_a,
        "owner_b": owner_b,
        "principals": principals,
        "store_a2": store_a2,
        "acme": acme,
        "store_b1": store_b1,
    }


def _unpaid(loc: Location) -> list[int]:
    from claims.models import Fill

    return list(
        Fill.objects.filter(location=loc, total_paid_cents=2500).values_list("pk", flat=True)
    )
