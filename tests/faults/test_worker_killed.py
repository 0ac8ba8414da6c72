"""A Celery worker killed outright (SIGKILL to the main process and its pool child, like a
node that dies) while a job is mid-run: a new worker gets the unacknowledged message again
(acks_late; Redis gives it back once the visibility timeout has passed, shortened here for
the new worker only), finishes the job, and the end state equals an uninterrupted run's.

The job is provably mid-run when the worker dies: the test holds a lock on a table the job
writes late, and kills the worker once the job's database session waits on that lock (the
job has claimed its row, read its inputs and, for the import, committed its first
batches). tests/support/tasks.py covers the gentler case of a pool child that dies and is
replaced by the same worker."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import models

from adherence.models import MeasureRate, MeasureResult, WorklistItem
from adherence.services.build import worklists_build_now
from claims.models import Fill
from claims.services.pms_import import pms_import_create
from reconciliation.models import ClaimResult, PaymentMatch, PlbAllocation, UnmatchedPayment
from reconciliation.services.runs import reconcile_now
from rxrevops.models import Job, QuarantinedRow
from rxrevops.services.jobs import job_create
from tests.conftest import WorkerProcess
from tests.faults.conftest import (
    blocked_on,
    claim_holders,
    kill,
    send,
    table_locked,
    wait_until,
)
from tests.support.adherence_world import AS_OF as WORKLIST_AS_OF
from tests.support.pms_fixtures import pms_file
from tests.support.recon_world import AS_OF, load_world

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def content(model: type[models.Model], *skip: str) -> list[tuple[Any, ...]]:
    """Every row of `model` by content: ids, timestamps and the writing job left out."""
    names = [
        f.attname
        for f in model._meta.concrete_fields
        if not f.primary_key
        and not isinstance(f, models.DateTimeField)
        and f.name not in ("job", *skip)
    ]
    return sorted(model._default_manager.values_list(*names), key=repr)


def finished(job: Job) -> Job | None:
    fresh = Job.objects.get(pk=job.pk)
    return fresh if fresh.is_finished else None


def kill_mid_run(job: Job, worker: WorkerProcess, table: str, mode: str) -> None:
    """Send `job` to `worker`, let it run until it waits on `table`, SIGKILL the worker, and
    wait until Postgres has ended the dead worker's session (its claim on the job with it)."""
    with table_locked(table, mode) as lock:
        send(job)
        wait_until(lambda: blocked_on(lock), timeout=120)
        running = Job.objects.get(pk=job.pk)
        assert (running.status, running.attempts) == (Job.Status.RUNNING, 1)
        assert claim_holders(job), "the worker holds the job's claim while it runs"
        kill(worker)
    # the dead client's session ends once it is let go of the lock and finds no client
    wait_until(lambda: not claim_holders(job), timeout=60)
    left = Job.objects.get(pk=job.pk)
    assert (left.status, left.attempts) == (Job.Status.RUNNING, 1)  # orphaned, not finished


def test_a_worker_killed_mid_reconciliation_finishes_it_on_a_new_worker_with_the_same_rows(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    transactional_db: Any,
    start_worker: Any,
) -> None:
    load_world(stores, world_files, world_manifest)
    control = reconcile_now(organization=stores.org, as_of=AS_OF, full=True)
    assert control.status == Job.Status.SUCCEEDED, control.message
    derived = (ClaimResult, PaymentMatch, UnmatchedPayment, PlbAllocation)
    expected = [content(m) for m in derived]
    assert expected[0]  # a run that reconciled claims
    for model in derived:
        model.objects.all().delete()

    job = job_create(
        organization=stores.org,
        kind="reconcile",
        params={"as_of": AS_OF.isoformat(), "full": True},
        enqueue=False,
    )
    # the run writes unmatched payments after it has matched and copied in its results
    kill_mid_run(job, start_worker("recon-1"), "reconciliation_unmatchedpayment", "EXCLUSIVE")
    assert not ClaimResult.objects.exists()  # its writes died with it (one transaction)

    start_worker("recon-2", visibility_timeout=2)
    done = wait_until(lambda: finished(job), timeout=180)
    assert done.status == Job.Status.SUCCEEDED, done.message
    assert done.attempts == 2
    assert [content(m) for m in derived] == expected
    assert {k: done.counts[k] for k in control.counts} == dict(control.counts)


def test_a_worker_killed_mid_worklist_build_finishes_it_on_a_new_worker_with_the_same_items(
    worklist_chain: SimpleNamespace, transactional_db: Any, start_worker: Any
) -> None:
    def clear() -> None:  # the fixture built the lists once already
        for model in (WorklistItem, MeasureResult, MeasureRate):
            model.objects.all().delete()

    clear()
    control = worklists_build_now(organization=worklist_chain.org, as_of=WORKLIST_AS_OF)
    assert control.status == Job.Status.SUCCEEDED, control.message
    expected = (content(MeasureResult), content(MeasureRate), content(WorklistItem))
    assert expected[2]  # items on the lists
    clear()

    job = job_create(
        organization=worklist_chain.org,
        kind="worklists",
        params={"as_of": WORKLIST_AS_OF.isoformat()},
        enqueue=False,
    )
    # rates are written after the measure results, in the build's one transaction
    kill_mid_run(job, start_worker("worklists-1"), "adherence_measurerate", "EXCLUSIVE")
    assert not MeasureResult.objects.exists()

    start_worker("worklists-2", visibility_timeout=2)
    done = wait_until(lambda: finished(job), timeout=180)
    assert done.status == Job.Status.SUCCEEDED, done.message
    assert done.attempts == 2
    assert (content(MeasureResult), content(MeasureRate), content(WorklistItem)) == expected
    assert done.counts == control.counts


def test_a_worker_killed_mid_import_finishes_it_on_a_new_worker_with_the_same_claims(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    transactional_db: Any,
    start_worker: Any,
    tmp_path: Path,
) -> None:
    """Batches of 40 rows, each committed with its checkpoint; the third holds a bad row,
    and the quarantine it writes is what the test holds locked: two batches are in when the
    worker dies, and the retry resumes after them."""
    control_store, store = stores.locations[1], stores.locations[0]
    source = pms_file(
        world_manifest, world_files, layout="canonical", location=store.ncpdp_id, period="2026-01"
    )
    rows = list(csv.reader(source.open(newline="")))
    header, body = rows[0], rows[1:201]
    body[95][header.index("ndc")] = "12345"  # line 97, in the third batch
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *body])
    data = buf.getvalue().encode()

    def create(location: Any) -> Job:
        job = pms_import_create(
            location=location, stream=io.BytesIO(data), original_name="export.csv", enqueue=False
        )
        job.params["batch_rows"] = 40
        Job.objects.filter(pk=job.pk).update(params=job.params)
        return job

    def fills(location: Any) -> list[tuple[Any, ...]]:
        return sorted(
            Fill.objects.filter(location=location).values_list(
                "rx_number",
                "fill_number",
                "date_of_service",
                "transaction_code",
                "status",
                "total_paid_cents",
                "row_hash",
            )
        )

    from rxrevops.services.jobs import job_execute

    control = create(control_store)
    job_execute(job_id=control.pk)
    control.refresh_from_db()
    assert control.status == Job.Status.SUCCEEDED, control.message
    assert control.counts["quarantined"] == 1

    job = create(store)
    kill_mid_run(job, start_worker("import-1"), "rxrevops_quarantinedrow", "EXCLUSIVE")
    mid = Job.objects.get(pk=job.pk)
    assert mid.params["batches_done"] == 2
    assert Fill.objects.filter(location=store).count() == 80  # two batches committed

    start_worker("import-2", visibility_timeout=2)
    done = wait_until(lambda: finished(job), timeout=180)
    assert done.status == Job.Status.SUCCEEDED, done.message
    assert done.attempts == 2
    keys = ("read", "inserted", "updated", "unchanged", "quarantined")
    assert {k: done.counts[k] for k in keys} == {k: control.counts[k] for k in keys}
    assert fills(store) == fills(control_store)
    assert [(q.line, q.field, q.reason) for q in QuarantinedRow.objects.filter(job=job)] == [
        (q.line, q.field, q.reason) for q in QuarantinedRow.objects.filter(job=control)
    ]
