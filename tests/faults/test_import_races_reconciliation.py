"""A PMS import and a reconciliation run of the same organization at the same time, on real
workers: both succeed (no deadlock, neither waits for the other to fail), and the results
end as they would have run one after the other. A run reads one snapshot and takes in only
imports that had finished by then; the import's success queues a follow-up run (the
post-import trigger, on in these workers) that takes in what the racing run could not.

The overlap is made for sure with a table lock, each way round:
- the import mid-file (two batches committed, the third waiting on the quarantine table the
  test holds) while a run starts and finishes: the run sees half an import's fills;
- the run mid-write (waiting on the unmatched-payments table) while an import runs start to
  finish: the run's snapshot has none of it.

"One after the other" is a full rebuild on the final facts, made in this process once the
workers are done (an incremental run equals a full one: tests/reconciliation holds them
equal), on the date the follow-up run used."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery import current_app
from django.db import models
from django.utils import timezone

from claims.services.pms_import import pms_import_create, pms_import_path
from reconciliation.models import (
    ClaimResult,
    ConsumedImport,
    PaymentMatch,
    PlbAllocation,
    ReconcileState,
    UnmatchedPayment,
)
from reconciliation.services.remit_import import remit_import_path
from reconciliation.services.runs import JOB_KIND, reconcile_now
from rxrevops.models import Job
from rxrevops.services.jobs import job_create
from tests.faults.conftest import QUEUE, blocked_on, send, table_locked, wait_until
from tests.support.pms_fixtures import pms_file

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RECON_QUEUE = f"{QUEUE}-recon"
DERIVED = (ClaimResult, PaymentMatch, UnmatchedPayment, PlbAllocation)
# the file the race imports: one store's February, the rest of the world loaded before
HELD_BACK = {"layout": "canonical", "period": "2026-02"}


def content(model: type[models.Model]) -> list[tuple[Any, ...]]:
    """Every row of `model` by content: ids, timestamps and the writing job left out."""
    names = [
        f.attname
        for f in model._meta.concrete_fields
        if not f.primary_key and not isinstance(f, models.DateTimeField) and f.name != "job"
    ]
    return sorted(model._default_manager.values_list(*names), key=repr)


def finished(pk: int) -> Job | None:
    job = Job.objects.get(pk=pk)
    return job if job.is_finished else None


def follow_up(*after: int) -> Job | None:
    """The run the import's success queued, once it has finished."""
    job = Job.objects.filter(kind=JOB_KIND).exclude(pk__in=after).order_by("pk").first()
    return job if job is not None and job.is_finished else None


@pytest.fixture
def world_but_one_file(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    transactional_db: Any,
) -> SimpleNamespace:
    """The world loaded but one store's February export, and reconciled once (so runs after
    it are incremental, as in production), as of today (the follow-up's date)."""
    store = stores.locations[0]
    by_ncpdp = {loc.ncpdp_id: loc for loc in stores.locations}
    held = pms_file(world_manifest, world_files, location=store.ncpdp_id, **HELD_BACK)
    for e in sorted(world_manifest["files"], key=lambda e: (e["kind"], e["path"])):
        path = world_files / e["path"]
        if e["kind"] == "pms" and e["layout"] == "canonical" and path != held:
            job = pms_import_path(location=by_ncpdp[e["location"]], path=path)
        elif e["kind"] == "remit_835":
            job = remit_import_path(organization=stores.org, path=path)
        else:
            continue
        assert job.status == Job.Status.SUCCEEDED, job.message
    first = reconcile_now(organization=stores.org, as_of=timezone.localdate(), full=True)
    assert first.status == Job.Status.SUCCEEDED, first.message
    return SimpleNamespace(org=stores.org, store=store, held=held, first=first)


def import_job(world: SimpleNamespace, data: bytes) -> Job:
    job = pms_import_create(
        location=world.store, stream=io.BytesIO(data), original_name="export.csv", enqueue=False
    )
    job.params["batch_rows"] = 40
    Job.objects.filter(pk=job.pk).update(params=job.params)
    return job


def run_job(world: SimpleNamespace) -> Job:
    job = job_create(
        organization=world.org,
        kind=JOB_KIND,
        params={"as_of": timezone.localdate().isoformat()},
        enqueue=False,
    )
    current_app.send_task("rxrevops.tasks.job_run", args=[job.pk], queue=RECON_QUEUE)
    return job


def start_workers(start_worker: Any) -> None:
    """One worker for imports (queueing the follow-up run when one changed claims), one for
    runs: this test's runs, and the follow-up on the recon queue."""
    start_worker("race-import", env_extra={"RECONCILE_AFTER_IMPORT": "true"})
    start_worker("race-recon", queues=[RECON_QUEUE, "recon"])


def assert_as_if_one_after_the_other(world: SimpleNamespace, *jobs: Job) -> None:
    for job in jobs:
        done = Job.objects.get(pk=job.pk)
        assert done.status == Job.Status.SUCCEEDED, (done.kind, done.message)
    later = wait_until(lambda: follow_up(world.first.pk, *(j.pk for j in jobs)), timeout=120)
    assert later.status == Job.Status.SUCCEEDED, later.message
    # the follow-up took the import in, building on the racing run's rows
    imp = next(j for j in jobs if j.kind == "pms")
    assert ConsumedImport.objects.filter(job=imp.pk, run=later).exists()
    assert later.counts["incremental"] == 1, later.counts
    raced = [content(m) for m in DERIVED]
    assert raced[0]

    for model in (*DERIVED, ReconcileState, ConsumedImport):
        model.objects.all().delete()
    one_after = reconcile_now(
        organization=world.org, as_of=date.fromisoformat(later.params["as_of"]), full=True
    )
    assert one_after.status == Job.Status.SUCCEEDED, one_after.message
    assert raced == [content(m) for m in DERIVED]
    assert later.counts["claims"] == one_after.counts["claims"]


def test_a_run_during_an_import_sees_half_of_it_and_the_follow_up_run_takes_it_all_in(
    world_but_one_file: SimpleNamespace, start_worker: Any
) -> None:
    world = world_but_one_file
    rows = list(csv.reader(world.held.open(newline="")))
    header, body = rows[0], rows[1:]
    assert len(body) > 120
    body[95][header.index("ndc")] = "12345"  # line 97, in the third batch: quarantined
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *body])
    start_workers(start_worker)

    imp = import_job(world, buf.getvalue().encode())
    with table_locked("rxrevops_quarantinedrow", "EXCLUSIVE") as lock:
        send(imp)
        wait_until(lambda: blocked_on(lock), timeout=120)
        assert Job.objects.get(pk=imp.pk).params["batches_done"] == 2  # half-imported
        run = run_job(world)
        ran = wait_until(lambda: finished(run.pk), timeout=120)  # while the import waits
        assert ran.status == Job.Status.SUCCEEDED, ran.message
        assert Job.objects.get(pk=imp.pk).status == Job.Status.RUNNING
        assert not ConsumedImport.objects.filter(job=imp.pk).exists()
    done = wait_until(lambda: finished(imp.pk), timeout=120)
    assert done.counts["quarantined"] == 1
    assert_as_if_one_after_the_other(world, imp, run)


def test_an_import_during_a_run_is_taken_in_by_the_follow_up_run(
    world_but_one_file: SimpleNamespace, start_worker: Any
) -> None:
    world = world_but_one_file
    start_workers(start_worker)

    imp = import_job(world, world.held.read_bytes())
    # the run writes unmatched payments after it has matched and copied in its results
    with table_locked("reconciliation_unmatchedpayment", "EXCLUSIVE") as lock:
        run = run_job(world)
        wait_until(lambda: blocked_on(lock), timeout=120)
        send(imp)
        imported = wait_until(lambda: finished(imp.pk), timeout=120)  # while the run waits
        assert imported.status == Job.Status.SUCCEEDED, imported.message
        assert imported.counts["inserted"] > 0
        assert Job.objects.get(pk=run.pk).status == Job.Status.RUNNING
    wait_until(lambda: finished(run.pk), timeout=120)
    assert not ConsumedImport.objects.filter(job=imp.pk, run=run.pk).exists()
    assert_as_if_one_after_the_other(world, imp, run)
