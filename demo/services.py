"""The demo organization: the synthetic chain of `demo.world`, with one user per role.

Everything here is invented. The chain and its stores come from the same seeded world
that `demo_data` writes as files; patients, prescriptions and claims arrive the way a real
chain's do, by importing each store's PMS exports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from adherence.services.build import worklists_build_now
from claims.services.pms_import import pms_import_path
from clinical.services.immunization_import import immunization_import_path
from dashboards.models import MarginDaily
from dashboards.services.rollups import rollups_refresh_now
from demo.clinical import ClinicalSeed, demo_clinical_seed, demo_registries_create
from demo.world.build import build_world
from demo.world.catalog import PAYERS
from demo.world.model import World
from demo.world.writers import clear_world, write_world
from reconciliation.services.contracts import demo_payer_contracts_create
from reconciliation.services.cost_import import acquisition_import_path, nadac_import_path
from reconciliation.services.fee_import import fee_import_path
from reconciliation.services.remit_import import remit_import_path
from reconciliation.services.runs import reconcile_now
from rxrevops.models import Job, Location, Organization, Role
from rxrevops.services.tenancy import location_upsert, organization_upsert, user_upsert_with_role

DEMO_SLUG = "demo"
DEMO_DOMAIN = "demo.rxrevops"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    scope: str


@dataclass(frozen=True)
class DemoResult:
    logins: list[DemoLogin]
    world: World
    files: Path
    file_count: int
    imported: int  # PMS export files imported by this run
    worklists: dict[str, Any]  # the worklist build's counts
    clinical: ClinicalSeed | None  # None when a re-seed found the clinical work done
    reconciliation: dict[str, Any]  # the reconciliation run's counts


def demo_seed(*, password: str, seed: int, scale: str, as_of: date, files_dir: Path) -> DemoResult:
    """Create or refresh the demo chain from the seeded world; write the world's files to
    `files_dir` for users to import. Running it twice leaves the same state."""
    world = build_world(seed=seed, scale=scale, year=as_of.year, as_of=as_of)
    clear_world(files_dir)
    manifest = write_world(world, files_dir)
    with transaction.atomic():
        org = organization_upsert(slug=DEMO_SLUG, name=world.organization)
        locations = [
            location_upsert(
                organization=org,
                ncpdp_id=loc.ncpdp,
                npi=loc.npi,
                name=loc.name,
                address_line=loc.street,
                city=loc.city,
                state=loc.state,
                postal_code=loc.zip,
            )
            for loc in world.locations
        ]
        logins = _demo_users(org=org, locations=locations, password=password)
    imported = _import_pms_exports(
        manifest=manifest, files_dir=files_dir, locations={loc.ncpdp_id: loc for loc in locations}
    )
    imported += _import_remittances(manifest=manifest, files_dir=files_dir, organization=org)
    imported += _import_recon_inputs(
        manifest=manifest,
        files_dir=files_dir,
        organization=org,
        locations={loc.ncpdp_id: loc for loc in locations},
    )
    # the payers' contracts (payment, fee and price terms) from the world's payer catalog
    demo_payer_contracts_create(
        org, [asdict(p) for p in PAYERS], effective_from=date(as_of.year, 1, 1)
    )
    reconciliation = _reconcile(organization=org, as_of=as_of, changed=imported > 0)
    _refresh_rollups(organization=org, changed=imported > 0)
    # before the import: each dose goes to its state's registry (the app's sandbox)
    demo_registries_create(org)
    # before the build: the doses given close their care gaps
    imported += _import_immunizations(manifest=manifest, files_dir=files_dir, organization=org)
    worklists = _build_worklists(organization=org, as_of=as_of, changed=imported > 0)
    clinical = demo_clinical_seed(
        organization=org,
        pharmacist=User.objects.get(email=f"pharmacist@{DEMO_DOMAIN}"),
        owner=User.objects.get(email=f"owner@{DEMO_DOMAIN}"),
        as_of=as_of,
    )
    if clinical is not None and clinical.cmrs_signed + clinical.tmrs_signed:
        # the signed CMRs close their gaps
        worklists = _build_worklists(organization=org, as_of=as_of, changed=True)
    return DemoResult(
        logins=logins,
        world=world,
        files=files_dir,
        file_count=len(manifest["files"]),
        imported=imported,
        worklists=worklists,
        clinical=clinical,
        reconciliation=reconciliation,
    )


def _build_worklists(*, organization: Organization, as_of: date, changed: bool) -> dict[str, Any]:
    """PDC results and the technicians' worklists as of the demo date; a re-seed that
    imported nothing reuses the build already done for that date."""
    done = (
        Job.objects.filter(
            organization=organization,
            kind="worklists",
            status=Job.Status.SUCCEEDED,
            params__as_of=as_of.isoformat(),
        )
        .order_by("-pk")
        .first()
    )
    if done is not None and not changed:
        return dict(done.counts)
    build = worklists_build_now(organization=organization, as_of=as_of)
    if build.status != Job.Status.SUCCEEDED:
        raise RuntimeError(f"Demo worklist build failed: {build.message}")
    return dict(build.counts)


def _demo_users(*, org: Organization, locations: list[Location], password: str) -> list[DemoLogin]:
    # invented names: the pharmacist's signs the take-aways
    plan = [
        ("owner", Role.OWNER, None, ("Dana", "Lindqvist")),
        ("revenue", Role.REVENUE, None, ("Marcus", "Okafor")),
        ("pharmacist", Role.PHARMACIST, [locations[0]], ("Priya", "Halvorsen")),
        ("technician", Role.TECHNICIAN, [locations[0]], ("Jordan", "Reyes")),
    ]
    logins = []
    for local, role, scoped, (first, last) in plan:
        email = f"{local}@{DEMO_DOMAIN}"
        user_upsert_with_role(
            email=email,
            password=password,
            organization=org,
            role=role,
            locations=scoped,
            first_name=first,
            last_name=last,
        )
        where = ", ".join(loc.name for loc in scoped) if scoped else "all locations"
        logins.append(DemoLogin(email=email, role=Role(role).label, scope=where))
    return logins


def _import_pms_exports(
    *, manifest: dict[str, Any], files_dir: Path, locations: dict[str, Location]
) -> int:
    """Every store's own PMS exports (its vendor's layout), through the real importer.
    A file already imported for that store (same SHA-256) is skipped, so seeding again adds
    no jobs and changes nothing."""
    imported = 0
    native = [e for e in manifest["files"] if e["kind"] == "pms" and e["layout"] != "canonical"]
    for entry in sorted(native, key=lambda e: (e["location"], e["period"])):
        location = locations[entry["location"]]
        done = Job.objects.filter(
            kind="pms",
            location=location,
            status=Job.Status.SUCCEEDED,
            params__sha256=entry["sha256"],
        ).exists()
        if not done:
            job = pms_import_path(location=location, path=files_dir / entry["path"])
            if job.status != Job.Status.SUCCEEDED:
                raise RuntimeError(f"Demo import of {entry['path']} failed: {job.message}")
            imported += 1
    return imported


def _import_remittances(
    *, manifest: dict[str, Any], files_dir: Path, organization: Organization
) -> int:
    """Every payer's 835 files, through the real importer, oldest payment first; a file
    already imported (same SHA-256) is skipped."""
    imported = 0
    remits = [e for e in manifest["files"] if e["kind"] == "remit_835"]
    done = set(
        Job.objects.filter(
            kind="x12_835", organization=organization, status=Job.Status.SUCCEEDED
        ).values_list("params__sha256", flat=True)
    )
    for entry in sorted(remits, key=lambda e: (e["period"], e["payer"])):
        if entry["sha256"] in done:
            continue
        job = remit_import_path(organization=organization, path=files_dir / entry["path"])
        if job.status != Job.Status.SUCCEEDED:
            raise RuntimeError(f"Demo import of {entry['path']} failed: {job.message}")
        imported += 1
    return imported


def _import_recon_inputs(
    *,
    manifest: dict[str, Any],
    files_dir: Path,
    organization: Organization,
    locations: dict[str, Location],
) -> int:
    """Fee statements, NADAC prices and each store's acquisition invoices, through the real
    importers; a file already imported (same SHA-256) is skipped."""
    imported = 0
    done = set(
        Job.objects.filter(
            kind__in=("fees", "nadac", "acquisition"),
            organization=organization,
            status=Job.Status.SUCCEEDED,
        ).values_list("params__sha256", flat=True)
    )
    for entry in sorted(manifest["files"], key=lambda e: e["path"]):
        if entry["kind"] not in ("fee_statement", "nadac", "acquisition"):
            continue
        if entry["sha256"] in done:
            continue
        path = files_dir / entry["path"]
        if entry["kind"] == "fee_statement":
            job = fee_import_path(organization=organization, path=path)
        elif entry["kind"] == "nadac":
            job = nadac_import_path(organization=organization, path=path)
        else:
            job = acquisition_import_path(location=locations[entry["location"]], path=path)
        if job.status != Job.Status.SUCCEEDED:
            raise RuntimeError(f"Demo import of {entry['path']} failed: {job.message}")
        imported += 1
    return imported


def _reconcile(*, organization: Organization, as_of: date, changed: bool) -> dict[str, Any]:
    """Every claim reconciled as of the demo date; a re-seed that imported nothing reuses the
    run already done for that date."""
    done = (
        Job.objects.filter(
            organization=organization,
            kind="reconcile",
            status=Job.Status.SUCCEEDED,
            params__as_of=as_of.isoformat(),
        )
        .order_by("-pk")
        .first()
    )
    if done is not None and not changed:
        return dict(done.counts)
    run = reconcile_now(organization=organization, as_of=as_of)
    if run.status != Job.Status.SUCCEEDED:
        raise RuntimeError(f"Demo reconciliation failed: {run.message}")
    return dict(run.counts)


def _refresh_rollups(*, organization: Organization, changed: bool) -> None:
    """The owner dashboards' rollups from the run's results (here, not left to a worker); a
    re-seed that imported nothing keeps the ones already built."""
    if not changed and MarginDaily.objects.filter(organization=organization).exists():
        return
    job = rollups_refresh_now(organization=organization)
    if job.status != Job.Status.SUCCEEDED:
        raise RuntimeError(f"Demo margin rollups failed: {job.message}")


def _import_immunizations(
    *, manifest: dict[str, Any], files_dir: Path, organization: Organization
) -> int:
    """The chain's immunization records, through the real importer; a file already imported
    (same SHA-256) is skipped."""
    imported = 0
    done = set(
        Job.objects.filter(
            kind="immunizations", organization=organization, status=Job.Status.SUCCEEDED
        ).values_list("params__sha256", flat=True)
    )
    for entry in [e for e in manifest["files"] if e["kind"] == "clinical_immunizations"]:
        if entry["sha256"] in done:
            continue
        job = immunization_import_path(organization=organization, path=files_dir / entry["path"])
        if job.status != Job.Status.SUCCEEDED:
            raise RuntimeError(f"Demo import of {entry['path']} failed: {job.message}")
        imported += 1
    return imported
