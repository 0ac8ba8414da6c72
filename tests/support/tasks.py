"""Job handlers that exist only for the test suite. The test worker imports this module with
`--include tests.support.tasks`, and conftest imports it in the test process."""

from __future__ import annotations

import os
import signal
from typing import Any

from rxrevops.models import Job
from rxrevops.services.jobs import JobFailed, Progress, job_handler


@job_handler("test.count", queue="default")
def count(job: Job, progress: Progress) -> dict[str, Any]:
    n = int(job.params.get("n", 3))
    progress.set_total(n)
    for i in range(1, n + 1):
        progress.advance(i, counted=i)
    return {"counted": n}


@job_handler("test.crash_once", queue="ingest")
def crash_once(job: Job, progress: Progress) -> dict[str, Any]:
    """Dies like an OOM-killed worker on the first attempt; succeeds on the redelivery."""
    if job.attempts == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"survived_attempt": job.attempts}


@job_handler("test.bad_rows", queue="default")
def bad_rows(job: Job, progress: Progress) -> dict[str, Any]:
    raise JobFailed(
        "2 rows could not be read",
        errors=[
            {"line": 3, "field": "ndc", "value": "12-34", "reason": "NDC must have 11 digits"},
            {"line": 9, "field": "date_of_service", "value": "13/45/2026", "reason": "not a date"},
        ],
    )


@job_handler("test.pms_crash_mid_file", queue="ingest")
def pms_crash_mid_file(job: Job, progress: Progress) -> dict[str, Any]:
    """The real PMS import, killed like an OOM-killed worker after its second batch on the
    first attempt."""
    from claims.services.pms_import import pms_import_run

    class Dying(Progress):
        def advance(self, done: int, **counts: int) -> None:
            super().advance(done, **counts)
            if job.attempts == 1 and int(job.params.get("batches_done", 0)) >= 2:
                os.kill(os.getpid(), signal.SIGKILL)

    return pms_import_run(job, Dying(job))


@job_handler("test.x12_crash_mid_file", queue="ingest")
def x12_crash_mid_file(job: Job, progress: Progress) -> dict[str, Any]:
    """The real 835 import, killed like an OOM-killed worker right after its first COPY
    round on the first attempt (rows written, transaction not committed)."""
    from reconciliation.services import remit_import

    if job.attempts == 1:
        original = remit_import._Loader.flush

        def flush_then_die(self: Any) -> None:
            original(self)
            os.kill(os.getpid(), signal.SIGKILL)

        remit_import._Loader.flush = flush_then_die  # type: ignore[method-assign]
    return remit_import.remit_import_run(job, progress)


@job_handler("test.worklists_crash_mid_build", queue="analytics")
def worklists_crash_mid_build(job: Job, progress: Progress) -> dict[str, Any]:
    """The real worklist build, killed like an OOM-killed worker on its first attempt after
    the measure results are written and before the items are (nothing committed yet)."""
    from adherence.services import build

    if job.attempts == 1:
        original = build._write_rates

        def write_then_die(*args: Any, **kwargs: Any) -> int:
            original(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
            return 0

        build._write_rates = write_then_die
    return dict(build._run(job, progress))


@job_handler("test.reconcile_crash_mid_run", queue="recon")
def reconcile_crash_mid_run(job: Job, progress: Progress) -> dict[str, Any]:
    """The real reconciliation run, killed like an OOM-killed worker on its first attempt
    after the results are copied in and before the unmatched payments are (nothing committed)."""
    from reconciliation.services import runs

    if job.attempts == 1:
        original = runs._copy_in

        def die(table: str, frame: Any) -> None:
            if table == "reconciliation_unmatchedpayment":
                os.kill(os.getpid(), signal.SIGKILL)
            original(table, frame)

        runs._copy_in = die
    return dict(runs._run(job, progress))
