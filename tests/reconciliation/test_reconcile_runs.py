"""Reconciliation runs as jobs: queued after imports that change something, nightly by beat
(never twice), by the command; a real worker SIGKILLed mid-run finishes on the retry with the
same rows."""

from __future__ import annotations

from datetime import date
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command

from reconciliation.models import ClaimResult, PlbAllocation, UnmatchedPayment
from reconciliation.services.remit_import import remit_import_path
from reconciliation.tasks import reconcile_nightly
from rxrevops.models import Job
from rxrevops.services.jobs import job_create, job_enqueue
from tests.conftest import WorkerProcess, wait_until
from tests.support.recon_world import load_world

pytestmark = pytest.mark.django_db


def test_an_import_that_changed_remittances_queues_one_run_and_a_repeat_queues_none(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.RECONCILE_AFTER_IMPORT = True
    entry = next(e for e in world_manifest["files"] if e["kind"] == "remit_835")
    with django_capture_on_commit_callbacks(execute=True):
        remit_import_path(organization=stores.org, path=world_files / entry["path"])
    runs = Job.objects.filter(kind="reconcile", organization=stores.org)
    assert runs.count() == 1
    assert runs.get().status == Job.Status.QUEUED
    runs.update(status=Job.Status.SUCCEEDED)  # as if the worker ran it
    with django_capture_on_commit_callbacks(execute=True):
        again = remit_import_path(organization=stores.org, path=world_files / entry["path"])
    assert again.counts["loaded"] == 0
    assert runs.count() == 1  # the same file changed nothing: no new run


def test_beat_firing_twice_queues_one_run_per_organization(stores: SimpleNamespace) -> None:
    first = reconcile_nightly()
    second = reconcile_nightly()
    assert first == second
    assert Job.objects.filter(kind="reconcile").count() == 1


def test_the_command_reconciles_and_prints_a_balanced_summary(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    load_world(stores, world_files, world_manifest)
    out = StringIO()
    call_command("reconcile", "--org", stores.org.slug, "--as-of", "2026-02-28", stdout=out)
    text = out.getvalue()
    assert f"{ClaimResult.objects.count():,} claims reconciled as of 2026-02-28" in text
    assert "0 payments unmatched" in text


def _state() -> tuple[list[tuple[Any, ...]], int, int]:
    fields = ("fill_id", "status", "remitted_cents", "recouped_cents", "dir_cents", "reasons")
    return (
        sorted(ClaimResult.objects.values_list(*fields)),
        UnmatchedPayment.objects.count(),
        PlbAllocation.objects.count(),
    )


@pytest.mark.integration
def test_a_worker_killed_mid_run_finishes_it_on_retry_with_the_same_rows(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    transactional_db: Any,
    celery_worker: WorkerProcess,
) -> None:
    from reconciliation.services.runs import reconcile_now

    load_world(stores, world_files, world_manifest)
    reconcile_now(organization=stores.org, as_of=date(2026, 2, 28))
    expected = _state()
    ClaimResult.objects.all().delete()
    PlbAllocation.objects.all().delete()
    job = job_create(
        organization=stores.org,
        kind="reconcile",
        params={"as_of": "2026-02-28", "full": True},
        enqueue=False,
    )
    Job.objects.filter(pk=job.pk).update(kind="test.reconcile_crash_mid_run")
    job_enqueue(job=Job.objects.get(pk=job.pk))
    done = wait_until(lambda: (j := Job.objects.get(pk=job.pk)).is_finished and j, timeout=120)
    assert done.status == Job.Status.SUCCEEDED, done.message
    assert done.attempts == 2
    assert _state() == expected


def test_a_run_that_does_not_balance_writes_nothing(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reconciliation.engine import fast
    from reconciliation.services.runs import reconcile_now

    load_world(stores, world_files, world_manifest)
    first = reconcile_now(organization=stores.org, as_of=date(2026, 2, 28))
    before = _state()
    real = fast.reconcile_frames

    def drops_a_payment(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        out.unmatched = out.unmatched.iloc[1:]
        paid = out.results.index[out.results["remitted"] > 0][0]
        out.results = out.results.drop(index=paid)  # a claim and its payment silently lost
        return out

    monkeypatch.setattr(fast, "reconcile_frames", drops_a_payment)
    job = reconcile_now(organization=stores.org, as_of=date(2026, 2, 28), full=True)
    assert job.status == Job.Status.FAILED
    assert "does not balance" in job.message
    assert "Nothing was written" in job.message
    assert _state() == before  # the earlier run's rows stand
    assert first.status == Job.Status.SUCCEEDED


def test_the_run_page_shows_the_balance(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any], login: Any
) -> None:
    from django.urls import reverse

    from reconciliation.services.runs import reconcile_now
    from rxrevops.templatetags.money import cents

    load_world(stores, world_files, world_manifest)
    job = reconcile_now(organization=stores.org, as_of=date(2026, 2, 28))
    html = login(stores.owner).get(reverse("job_detail", args=[job.pk])).content.decode()
    assert 'data-testid="recon-balance"' in html
    assert f"Paid on claims (Σ CLP04) {cents(job.counts['remitted_cents'])}" in html
    assert f"matched to claims {cents(job.counts['matched_cents'])}" in html
    job.refresh_from_db()
    assert job.progress_done == job.progress_total == job.counts["claims"]
