"""How long a full reconciliation run takes from Postgres, at ~100k and ~1M claims.

Issue 6, Performance ("full reconciliation of 1,000,000 claims with their remits and fee
lines <= 30 s; time at 100k and 1M in the same run to show growth is linear"). Measured:
`reconciliation.services.runs.reconcile_organization(organization=..., as_of=2026-12-31)`
end to end, in-process: the advisory lock, loading the organization's claims (with each
claim's contract terms and estimated fees), current 835 payments with their CAS rows and PLB
amounts, actual fee lines and acquisition costs (SQL), the set-based engine
(`reconciliation.engine.fast.reconcile`), the balance check, and replacing the derived rows
(DELETE, then COPY of results and payment matches, inserts of unmatched payments and PLB
placements) in one REPEATABLE READ transaction, including its commit. One warm-up run, then
the best of 2; each timed run replaces the full result set the run before it wrote (the
nightly case), after an untimed VACUUM ANALYZE of the result tables and a CHECKPOINT, so
every run starts from the same state. Also: where the time goes (each of the run's steps
timed by wrapping the functions `runs.py` calls, no change to it), and the peak RSS of the
process.

The inputs, built once under `var/bench/` and reused by later runs:

- ~1M claims: the large world (seed 7, 25 stores of 2,150 patients, the whole of 2026; the
  files `bench.pms_import` generates into `var/bench/world-large-7`) in the database
  `rxrevops_bench_recon`;
- ~100k claims: a world of the same kind with 3 stores of 1,800 patients (seed 7, the whole
  of 2026; registered here as the scale "recon-100k", written to
  `var/bench/world-recon100k-7`) in the database `rxrevops_bench_recon_100k`. Every world
  numbers its stores from the same NCPDP and NPI, which the schema keeps unique across
  organizations, so the two chains cannot share one database.

Each is imported through the product's importers (every store's canonical monthly PMS
export, every 835, every fee statement, the NADAC file and the stores' invoices; a file
already imported is skipped), and the payers' contracts are created from the world's payer
catalog. Imports, timing and counting run in child processes (`python -m bench.recon_db
load|time 1m|100k`), each with its own DATABASE_URL. Timings are reported, never asserted.
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.child import json_child
from bench.django_db import django_on, settle
from bench.pms_import import WORLD_DIR
from bench.report import met, print_table

if TYPE_CHECKING:
    from rxrevops.models import Organization

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench"
MEDIA_DIR = CACHE / "media-recon"
YEAR = 2026
AS_OF = date(2026, 12, 31)  # the worlds' last day
CONTRACTS_FROM = date(YEAR, 1, 1)
TIMED_RUNS = 2
TARGET_1M_S = 30.0
SMALL_SCALE = "recon-100k"

RESULT_TABLES = (
    "reconciliation_claimresult",
    "reconciliation_paymentmatch",
    "reconciliation_unmatchedpayment",
    "reconciliation_plballocation",
)
INPUT_TABLES = (
    "claims_fill",
    "claims_plan",
    "claims_drug",
    "reconciliation_remittance",
    "reconciliation_claimpayment",
    "reconciliation_adjustment",
    "reconciliation_provideradjustment",
    "reconciliation_feeline",
    "reconciliation_nadacprice",
    "reconciliation_acquisitioncost",
)
# the importer's job kind per manifest entry kind, in import order (PMS first)
IMPORT_KINDS = {
    "pms": "pms",
    "remit_835": "x12_835",
    "fee_statement": "fees",
    "nadac": "nadac",
    "acquisition": "acquisition",
}


@dataclass(frozen=True)
class Point:
    key: str
    label: str
    world: Path
    db: str
    slug: str

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:5432/{self.db}"


POINTS = {
    "100k": Point(
        "100k",
        "3 stores x 1,800 patients",
        CACHE / "world-recon100k-7",
        "rxrevops_bench_recon_100k",
        "bench-recon-100k",
    ),
    "1m": Point(
        "1m",
        "large world, 25 stores x 2,150 patients",
        WORLD_DIR,
        "rxrevops_bench_recon",
        "bench-recon-large",
    ),
}


def _say(text: str) -> None:
    """Progress, on stderr (a child's stdout carries its JSON answer)."""
    print(text, file=sys.stderr, flush=True)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# --- the worlds (no Django) ---------------------------------------------------------------------


def _ensure_world(point: Point) -> dict[str, Any]:
    """The point's world files (generated once), as their manifest."""
    manifest = point.world / "manifest.json"
    if point.key == "1m":
        from bench.pms_import import _world_files

        _world_files()  # generates the large world when it is missing (about 5-9 minutes)
    elif not manifest.exists():
        from demo.world.build import build_world
        from demo.world.simulate import SCALES, Scale
        from demo.world.writers import write_world

        # the large world's kind of chain with fewer stores; the scale's name seeds its streams
        SCALES.setdefault(SMALL_SCALE, Scale(3, 1800, SCALES["large"].acute_per_patient_year))
        print(f"generating the {point.key} world into {_rel(point.world)} ...", flush=True)
        started = time.perf_counter()
        write_world(build_world(seed=7, scale=SMALL_SCALE, year=YEAR), point.world)
        print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    answer: dict[str, Any] = json.loads(manifest.read_text())
    return answer


# --- the database (child processes) -------------------------------------------------------------


def _setup_django(point: Point) -> None:
    django_on(
        point.db,
        env={
            "MEDIA_ROOT": str(MEDIA_DIR),
            # as in production: no query log growing with every statement
            "DEBUG": "false",
            # the benchmark runs reconciliation itself: imports queue nothing
            "RECONCILE_AFTER_IMPORT": "false",
            "WORKLISTS_AFTER_IMPORT": "false",
        },
        say=_say,
    )


def _organization(point: Point) -> Organization:
    from rxrevops.models import Organization
    from rxrevops.services.tenancy import location_upsert

    chain = json.loads((point.world / "chain.json").read_text())
    org, _ = Organization.objects.get_or_create(
        slug=point.slug, defaults={"name": f"Benchmark: {chain['organization']} ({point.key})"}
    )
    for loc in chain["locations"]:
        location_upsert(
            organization=org,
            ncpdp_id=loc["ncpdp"],
            npi=loc["npi"],
            name=loc["name"],
            address_line=loc["street"],
            city=loc["city"],
            state=loc["state"],
            postal_code=loc["zip"],
        )
    return org


def _entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The files to import, in order: canonical PMS exports per store, month by month (a
    reversal comes after its claim), then 835s by payment date, then fees, NADAC, invoices."""
    order = list(IMPORT_KINDS)
    chosen = [
        e
        for e in manifest["files"]
        if e["kind"] in IMPORT_KINDS and (e["kind"] != "pms" or e.get("layout") == "canonical")
    ]
    return sorted(
        chosen,
        key=lambda e: (
            order.index(e["kind"]),
            e.get("location", ""),
            e.get("period", ""),
            e["path"],
        ),
    )


def _load(point: Point) -> dict[str, Any]:
    """Import what an earlier run did not (by SHA-256 of each file), create the contracts,
    and count what the organization holds."""
    manifest = json.loads((point.world / "manifest.json").read_text())
    _setup_django(point)
    from claims.services.pms_import import pms_import_path
    from demo.world.catalog import PAYERS
    from reconciliation.services.contracts import demo_payer_contracts_create
    from reconciliation.services.cost_import import acquisition_import_path, nadac_import_path
    from reconciliation.services.fee_import import fee_import_path
    from reconciliation.services.remit_import import remit_import_path
    from rxrevops.models import Job, Location

    org = _organization(point)
    stores = {loc.ncpdp_id: loc for loc in Location.objects.filter(organization=org)}
    done = set(
        Job.objects.filter(
            organization=org, kind__in=IMPORT_KINDS.values(), status=Job.Status.SUCCEEDED
        ).values_list("params__sha256", flat=True)
    )
    todo = [e for e in _entries(manifest) if e["sha256"] not in done]
    started = time.perf_counter()
    if todo:
        _say(f"importing {len(todo):,} files into {point.db} (once; later runs reuse them) ...")
    seconds: dict[str, float] = defaultdict(float)
    for n, e in enumerate(todo, start=1):
        path, kind = point.world / e["path"], e["kind"]
        began = time.perf_counter()
        if kind == "pms":
            job = pms_import_path(location=stores[e["location"]], path=path)
        elif kind == "remit_835":
            job = remit_import_path(organization=org, path=path)
        elif kind == "fee_statement":
            job = fee_import_path(organization=org, path=path)
        elif kind == "nadac":
            job = nadac_import_path(organization=org, path=path)
        else:
            job = acquisition_import_path(location=stores[e["location"]], path=path)
        if job.status != Job.Status.SUCCEEDED:
            raise RuntimeError(f"import of {e['path']} failed: {job.message}")
        seconds[kind] += time.perf_counter() - began
        if n % 50 == 0 or n == len(todo):
            _say(f"  {n:,}/{len(todo):,} files, {time.perf_counter() - started:.0f} s")
    demo_payer_contracts_create(org, [asdict(p) for p in PAYERS], effective_from=CONTRACTS_FROM)
    if todo:
        settle(INPUT_TABLES)
    return {
        "imported": len(todo),
        "load_s": time.perf_counter() - started,
        "by_kind_s": dict(seconds),
        "world": {k: manifest["counts"][k] for k in ("claims", "remit_claims", "fee_lines")},
        **_holdings(org),
    }


_HOLDINGS_SQL = {
    "stores": "SELECT count(*) FROM rxrevops_location WHERE organization_id = %(org)s",
    "claims": (
        "SELECT count(*) FROM claims_fill f JOIN rxrevops_location l ON l.id = f.location_id "
        "WHERE l.organization_id = %(org)s"
    ),
    "remittances": (
        "SELECT count(*) FROM reconciliation_remittance "
        "WHERE organization_id = %(org)s AND superseded_by_id IS NULL"
    ),
    "payments": (
        "SELECT count(*) FROM reconciliation_claimpayment p "
        "JOIN reconciliation_remittance r ON r.id = p.remittance_id "
        "WHERE r.organization_id = %(org)s AND r.superseded_by_id IS NULL"
    ),
    "cas": (
        "SELECT count(*) FROM reconciliation_adjustment a "
        "JOIN reconciliation_claimpayment p ON p.id = a.claim_id "
        "JOIN reconciliation_remittance r ON r.id = p.remittance_id "
        "WHERE r.organization_id = %(org)s AND r.superseded_by_id IS NULL"
    ),
    "plb": (
        "SELECT count(*) FROM reconciliation_provideradjustment a "
        "JOIN reconciliation_remittance r ON r.id = a.remittance_id "
        "WHERE r.organization_id = %(org)s AND r.superseded_by_id IS NULL"
    ),
    "fee_lines": "SELECT count(*) FROM reconciliation_feeline WHERE organization_id = %(org)s",
    "nadac": "SELECT count(*) FROM reconciliation_nadacprice WHERE organization_id = %(org)s",
    "invoice_lines": (
        "SELECT count(*) FROM reconciliation_acquisitioncost WHERE organization_id = %(org)s"
    ),
    "contracts": (
        "SELECT count(*) FROM reconciliation_payercontract WHERE organization_id = %(org)s"
    ),
}


def _holdings(org: Organization) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cur:
        out = {}
        for name, sql in _HOLDINGS_SQL.items():
            cur.execute(sql, {"org": org.pk})
            out[name] = int(cur.fetchone()[0])
        return out


# the functions reconcile_organization calls, in order, under the names the table shows
_STEPS = (
    ("runs", "contract_terms", "contracts + plans"),
    ("runs", "_claims_frame", "load claims by COPY (+ terms, fee estimates)"),
    ("runs", "_payments_frame", "load payments + CAS by COPY"),
    ("runs", "_plb_frame", "load PLB"),
    ("fast", "reconcile_frames", "engine (fast.reconcile_frames)"),
    ("runs", "_check_balance", "balance check"),
    ("runs", "_costs_and_fees", "acquisition costs + fee lines (SQL, COPY)"),
    ("runs", "_result_rows", "result rows (columns)"),
    ("runs", "_write", "write"),
    ("runs", "_totals", "organization totals (SQL)"),
)


WRITE_COPY = "  of which COPY"
WRITE_DELETE = "  of which DELETE of the previous rows"
WRITE_INSERT = "  of which other statements"
WRITE_PYTHON = "  of which Python (frames to CSV)"
COMMIT = "commit"
REST = "rest (advisory lock, BEGIN/SET, glue)"


@contextlib.contextmanager
def _instrumented(spent: dict[str, float]) -> Iterator[None]:
    """Time each step of a run into `spent` (seconds by label) while inside: the module
    functions `reconcile_organization` looks up at call time are wrapped, and so is the
    connection's commit; inside `_write`, the time in COPY blocks and in other statements
    (DELETEs, inserts) is told apart. Everything is put back on the way out."""
    from django.db import connections
    from django.db.backends.utils import CursorWrapper

    from reconciliation.engine import fast
    from reconciliation.services import runs

    modules = {"runs": runs, "fast": fast}
    active: list[str] = []

    def timed(fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            active.append(label)
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started
                active.pop()

        return wrapper

    @contextlib.contextmanager
    def copy(self: CursorWrapper, statement: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        started = time.perf_counter()
        with self.cursor.copy(statement, *args, **kwargs) as block:
            yield block
        if active and active[-1] == "write":  # the loads' COPY is in their own steps
            spent[WRITE_COPY] += time.perf_counter() - started

    def statements(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if active and active[-1] == "write":
                verb = sql.lstrip()[:6].upper()
                spent[WRITE_DELETE if verb == "DELETE" else WRITE_INSERT] += (
                    time.perf_counter() - started
                )

    originals = [(modules[m], name, getattr(modules[m], name)) for m, name, _ in _STEPS]
    for (module, name, fn), (_, _, label) in zip(originals, _STEPS, strict=True):
        setattr(module, name, timed(fn, label))
    connection = connections["default"]
    connection.commit = timed(connection.commit, COMMIT)  # type: ignore[method-assign]
    setattr(CursorWrapper, "copy", copy)  # noqa: B010 (instrumenting a class, not an instance)
    try:
        with connection.execute_wrapper(statements):
            yield
    finally:
        delattr(CursorWrapper, "copy")
        del connection.commit
        for module, name, fn in originals:
            setattr(module, name, fn)


def _steps(total: float, spent: dict[str, float]) -> dict[str, float]:
    """The run's steps in the order it takes them, with write's parts under it."""
    out: dict[str, float] = {}
    for _, _, label in _STEPS:
        out[label] = spent.get(label, 0.0)
        if label == "write":
            out[WRITE_COPY] = spent.get(WRITE_COPY, 0.0)
            out[WRITE_DELETE] = spent.get(WRITE_DELETE, 0.0)
            out[WRITE_INSERT] = spent.get(WRITE_INSERT, 0.0)
            out[WRITE_PYTHON] = out[label] - sum(
                out[k] for k in (WRITE_COPY, WRITE_DELETE, WRITE_INSERT)
            )
    out[COMMIT] = spent.get(COMMIT, 0.0)
    out[REST] = total - sum(v for k, v in out.items() if not k.startswith(" "))
    return out


def _full_run(org: Organization) -> tuple[float, dict[str, float], dict[str, int]]:
    """One full reconcile_organization, each step timed: seconds, steps, the run's counts."""
    from reconciliation.services.runs import reconcile_organization

    spent: dict[str, float] = defaultdict(float)
    with _instrumented(spent):
        started = time.perf_counter()
        counts = reconcile_organization(organization=org, as_of=AS_OF, full=True)
        total = time.perf_counter() - started
    _say(f"    {total:.1f} s")
    return total, _steps(total, spent), counts


def _time(point: Point) -> dict[str, Any]:
    """A warm-up run, then TIMED_RUNS timed runs of reconcile_organization, each step timed."""
    _setup_django(point)
    from django.db import connection

    from rxrevops.models import Organization

    org = Organization.objects.get(slug=point.slug)
    holdings = _holdings(org)
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    runs = []
    counts: dict[str, int] = {}
    autovacuum = ""
    for n in range(TIMED_RUNS + 1):
        autovacuum = settle(RESULT_TABLES)
        label = "warm-up" if n == 0 else f"run {n}"
        _say(f"  {point.key}: reconcile_organization as of {AS_OF} ({label}) ...")
        total, steps, counts = _full_run(org)
        runs.append({"seconds": total, "steps": steps, "warmup": n == 0})
    full_sum = _checksum(org.pk)
    # the first run of an organization (or after its derived rows are gone): every row written
    with connection.cursor() as cur:
        for table in RESULT_TABLES:
            cur.execute(f"DELETE FROM {table} WHERE organization_id = %s", [org.pk])  # noqa: S608
    settle(RESULT_TABLES)
    _say(f"  {point.key}: reconcile_organization into empty result tables ...")
    total, steps, _ = _full_run(org)
    empty = {"seconds": total, "steps": steps, "same_rows": _checksum(org.pk) == full_sum}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM reconciliation_claimresult WHERE organization_id = %s", [org.pk]
        )
        written = int(cur.fetchone()[0])
    incremental = _time_incremental(org)
    return {
        "empty": empty,
        "incremental": incremental,
        "incremental_equals_full": _checksum(org.pk) == full_sum,
        "holdings": holdings,
        "runs": runs,
        "counts": counts,
        "results_in_db": written,
        "autovacuum": autovacuum,
        "baseline_rss_kib": baseline_kib,
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


INCREMENTAL_DAY = date(2026, 12, 30)
_CHECKSUM_SQL = (
    "SELECT md5(string_agg(t::text, ',' ORDER BY t.fill_id)) FROM (SELECT fill_id, location_id, "
    "date_of_service, status, matched_by, payments, expected_cents, remitted_cents, "
    "recouped_cents, dir_cents, variance_cents, fees_actual_cents, fees_estimated_cents, "
    "acquisition_cents, acquisition_source, net_margin_cents, due_on, age_bucket, below_cost, "
    "reasons FROM reconciliation_claimresult WHERE organization_id = %(org)s) t",
    "SELECT md5(string_agg(t::text, ',' ORDER BY t.payment_id)) FROM (SELECT payment_id, "
    "fill_id, how FROM reconciliation_paymentmatch WHERE organization_id = %(org)s) t",
    "SELECT md5(string_agg(t::text, ',' ORDER BY t.payment_id)) FROM (SELECT payment_id, "
    "location_id, paid_cents, reason FROM reconciliation_unmatchedpayment "
    "WHERE organization_id = %(org)s) t",
    "SELECT md5(string_agg(t::text, ',' ORDER BY t.adjustment_id, t.fill_id)) FROM (SELECT "
    "adjustment_id, fill_id, amount_cents, allocated FROM reconciliation_plballocation "
    "WHERE organization_id = %(org)s) t",
)


def _checksum(org_id: int) -> tuple[str, ...]:
    """The derived rows' content (ids, job and time of writing aside), as md5 per table."""
    from django.db import connection

    with connection.cursor() as cur:
        out = []
        for sql in _CHECKSUM_SQL:
            cur.execute(sql, {"org": org_id})
            out.append(str(cur.fetchone()[0]))
        return tuple(out)


def _time_incremental(org: Organization) -> dict[str, Any]:
    """Incremental runs: with nothing new, and after a one-day import. The import is stood in
    for by what one leaves behind (the bench times the run, not the import): a finished
    `pms` job per store as the source job of the store's claims dated INCREMENTAL_DAY, and a
    finished `x12_835` job as the job of the remittances of the last payment day on or
    before it (payers pay weekly): once without the remittances (a day with no payment),
    once with them."""
    from django.db import connection
    from django.utils import timezone

    from reconciliation.services.runs import reconcile_organization
    from rxrevops.models import Job, Location

    def one_day_import(*, payment_day: bool) -> dict[str, int]:
        now = timezone.now()
        claims = remits = 0
        with connection.cursor() as cur:
            for loc in Location.objects.filter(organization=org):
                job = Job.objects.create(
                    organization=org, location=loc, kind="pms", status=Job.Status.SUCCEEDED,
                    started_at=now, finished_at=now, label="bench: one day of claims",
                )  # fmt: skip
                cur.execute(
                    "UPDATE claims_fill SET source_job_id = %s "
                    "WHERE location_id = %s AND date_of_service = %s",
                    [job.pk, loc.pk, INCREMENTAL_DAY],
                )
                claims += cur.rowcount
            if not payment_day:
                return {"claims": claims, "remittances": 0}
            job = Job.objects.create(
                organization=org, kind="x12_835", status=Job.Status.SUCCEEDED,
                started_at=now, finished_at=now, label="bench: one day of remittances",
            )  # fmt: skip
            # the remittances of the last payment day on or before it
            cur.execute(
                "UPDATE reconciliation_remittance SET job_id = %(job)s "
                "WHERE organization_id = %(org)s AND superseded_by_id IS NULL AND payment_date = "
                "(SELECT max(payment_date) FROM reconciliation_remittance "
                "WHERE organization_id = %(org)s AND payment_date <= %(day)s)",
                {"job": job.pk, "org": org.pk, "day": INCREMENTAL_DAY},
            )
            remits += cur.rowcount
        return {"claims": claims, "remittances": remits}

    out: dict[str, Any] = {"nothing_new": [], "one_day": [], "payment_day": []}
    for n in range(TIMED_RUNS):
        started = time.perf_counter()
        counts = reconcile_organization(organization=org, as_of=AS_OF)
        out["nothing_new"].append(
            {"seconds": time.perf_counter() - started, "rebuilt": counts["rebuilt"]}
        )
        for key, payment_day in (("one_day", False), ("payment_day", True)):
            day = one_day_import(payment_day=payment_day)
            _say(f"  incremental {n + 1}, {key}: {day}")
            started = time.perf_counter()
            counts = reconcile_organization(organization=org, as_of=AS_OF)
            seconds = time.perf_counter() - started
            _say(f"    {seconds:.2f} s, {counts['rebuilt']:,} claims rebuilt")
            out[key].append(
                {"seconds": seconds, "rebuilt": counts["rebuilt"],
                 "incremental": counts["incremental"], **day}
            )  # fmt: skip
    return out


def _child(mode: str, point: Point) -> dict[str, Any]:
    """`python -m bench.recon_db <mode> <point>`: progress streams through stderr, the answer
    is the last line of its stdout."""
    return json_child("bench.recon_db", mode, point.key)


# --- the run ------------------------------------------------------------------------------------


def _holdings_line(point: Point, h: dict[str, int]) -> str:
    return (
        f"  {point.key:>4} ({point.label}; {point.db}): {h['claims']:,} claims, "
        f"{h['payments']:,} payments ({h['cas']:,} CAS) in {h['remittances']:,} 835 "
        f"transactions, {h['plb']:,} PLB amounts, {h['fee_lines']:,} fee lines, "
        f"{h['nadac']:,} NADAC prices, {h['invoice_lines']:,} invoice lines, "
        f"{h['contracts']} contracts"
    )


def _print_steps(
    small: dict[str, Any],
    big: dict[str, Any],
    title: str = "where the time goes (best run of each; seconds and share of that run):",
) -> None:
    print(title)
    rows = []
    for step in big["steps"]:
        s, b = small["steps"].get(step, 0.0), big["steps"][step]
        rows.append(
            (
                step,
                f"{s:6.2f} s {s / small['seconds']:4.0%}",
                f"{b:6.2f} s {b / big['seconds']:4.0%}",
                f"{b / s:.1f}" if s > 0.005 else "",
            )
        )
    w = max(len(r[0]) for r in rows) + 2
    print(f"{'step':<{w}}{'100k':>14}{'1M':>14}{'1M/100k':>9}")
    for name, a, b_, g in rows:
        print(f"{name:<{w}}{a:>14}{b_:>14}{g:>9}")


def run() -> None:
    bench_started = time.perf_counter()
    CACHE.mkdir(parents=True, exist_ok=True)
    loads, times = {}, {}
    for key, point in POINTS.items():
        _ensure_world(point)
        print(f"{key}: loading {_rel(point.world)} into {point.db} ...", flush=True)
        loads[key] = _child("load", point)
        if loads[key]["imported"]:
            print(
                f"  imported {loads[key]['imported']:,} files in {loads[key]['load_s']:.0f} s",
                flush=True,
            )
    for key, point in POINTS.items():
        print(f"{key}: timing reconcile_organization ...", flush=True)
        times[key] = _child("time", point)

    def best(key: str) -> dict[str, Any]:
        timed = [r for r in times[key]["runs"] if not r["warmup"]]
        return min(timed, key=lambda r: r["seconds"])

    def listed(key: str) -> str:
        return ", ".join(f"{r['seconds']:.1f}" for r in times[key]["runs"])

    small, big = best("100k"), best("1m")
    n_small = times["100k"]["holdings"]["claims"]
    n_big = times["1m"]["holdings"]["claims"]
    growth, ratio = big["seconds"] / small["seconds"], n_big / n_small
    pro_rata = big["seconds"] * 1_000_000 / n_big

    print()
    print(
        f"Reconciliation from Postgres: reconcile_organization as of {AS_OF}, best of "
        f"{TIMED_RUNS} after a warm-up, each a full rebuild over the results of the one before "
        "(the nightly run: only rows that differ are rewritten), then one into empty tables"
    )
    for point in POINTS.values():
        print(_holdings_line(point, times[point.key]["holdings"]))
    print()
    print_table(
        [
            (
                f"full run, {n_small:,} claims",
                f"{small['seconds']:.1f} s  {n_small / small['seconds']:,.0f} claims/s",
                "",
                "",
            ),
            (
                f"full run, {n_big:,} claims",
                f"{big['seconds']:.1f} s  {n_big / big['seconds']:,.0f} claims/s",
                f"<= {TARGET_1M_S:.0f} s",
                met(big["seconds"] <= TARGET_1M_S),
                f"{n_small:,} claims: {small['seconds']:.1f} s",
                f"{growth / ratio:.2f} per claim",
            ),
            (
                "  pro rata at 1,000,000 claims",
                f"{pro_rata:.1f} s",
                f"<= {TARGET_1M_S:.0f} s",
                met(pro_rata <= TARGET_1M_S),
            ),
            *[
                (
                    f"full run into empty result tables (an organization's first), {key}",
                    f"{times[key]['empty']['seconds']:.1f} s",
                    f"<= {TARGET_1M_S:.0f} s" if key == "1m" else "",
                    met(times[key]["empty"]["seconds"] <= TARGET_1M_S) if key == "1m" else "",
                )
                for key in ("100k", "1m")
            ],
            (
                "  same rows as the full runs over earlier results",
                "yes" if all(times[k]["empty"]["same_rows"] for k in times) else "NO",
                "yes",
                met(all(times[k]["empty"]["same_rows"] for k in times)),
            ),
            (
                "growth 100k -> 1M: time ratio / claim ratio",
                f"{growth:.2f} / {ratio:.2f} = {growth / ratio:.2f}",
                "~1.00",
                "",
            ),
            *[
                row
                for key in ("100k", "1m")
                for row in (
                    (
                        f"incremental, nothing new, {key}",
                        f"{min(r['seconds'] for r in times[key]['incremental']['nothing_new']):.2f} s",  # noqa: E501
                        "",
                        "",
                    ),
                    (
                        f"incremental after a one-day import, {key} "
                        f"({times[key]['incremental']['one_day'][-1]['claims']:,} claims, "
                        f"{times[key]['incremental']['one_day'][-1]['remittances']:,} remittances"
                        f" of the day; {times[key]['incremental']['one_day'][-1]['rebuilt']:,} "
                        "rebuilt)",
                        f"{min(r['seconds'] for r in times[key]['incremental']['one_day']):.2f} s",
                        "<= 2 s" if key == "1m" else "",
                        met(min(r["seconds"] for r in times[key]["incremental"]["one_day"]) <= 2)
                        if key == "1m"
                        else "",
                    ),
                    (
                        f"incremental after a one-day import with a payment day's 835s, {key} "
                        f"({times[key]['incremental']['payment_day'][-1]['claims']:,} claims, "
                        f"{times[key]['incremental']['payment_day'][-1]['remittances']:,} "
                        "remittances; "
                        f"{times[key]['incremental']['payment_day'][-1]['rebuilt']:,} rebuilt)",
                        f"{min(r['seconds'] for r in times[key]['incremental']['payment_day']):.2f} s",  # noqa: E501
                        "<= 2 s" if key == "1m" else "",
                        met(
                            min(r["seconds"] for r in times[key]["incremental"]["payment_day"]) <= 2
                        )
                        if key == "1m"
                        else "",
                    ),
                    (
                        f"incremental rows = full rebuild's rows, {key}",
                        "yes" if times[key]["incremental_equals_full"] else "NO",
                        "yes",
                        met(times[key]["incremental_equals_full"]),
                    ),
                )
            ],
            (
                "peak RSS of the timing process, 100k",
                f"{times['100k']['max_rss_kib'] / 1024:,.0f} MB",
                "",
                "",
            ),
            (
                "peak RSS of the timing process, 1M",
                f"{times['1m']['max_rss_kib'] / 1024:,.0f} MB",
                "",
                "",
            ),
        ]
    )
    print()
    _print_steps(small, big)
    print()
    _print_steps(times["100k"]["empty"], times["1m"]["empty"], "the runs into empty result tables:")
    print()
    print("notes:")
    print(
        f"- every run, warm-up first (s): 100k {listed('100k')}; 1M {listed('1m')}. Growth "
        "1.00 = linear: the 1M run takes as many times longer as it has times more claims."
    )
    c = times["1m"]["counts"]
    statuses = ", ".join(
        f"{k.removeprefix('status_')} {v:,}" for k, v in c.items() if k.startswith("status_")
    )
    print(
        f"- 1M outcome: {c['results']:,} results ({statuses}); {c['unmatched_payments']:,} "
        f"payments unmatched; {times['1m']['results_in_db']:,} result rows in the database."
    )
    print(
        "- steps: the functions reconcile_organization calls, and the connection's commit, "
        "timed by wrapping them in the timing child (runs.py unchanged). Under write: the time "
        "in its COPY blocks (results, payment matches, unmatched payments, PLB placements) and "
        "its DELETEs; the remainder is Python (frames to CSV with pyarrow). The derived tables "
        "have no foreign-key constraints, so commit checks nothing. 'rest' is the run minus "
        "the steps listed. Full runs (full=True); the incremental runs follow them."
    )
    print(
        f"- peak RSS: ru_maxrss of the timing child (Django set up, then {TIMED_RUNS + 1} runs); "
        f"{times['1m']['baseline_rss_kib'] / 1024:,.0f} MB of it before the first run."
    )
    print(
        "- before every run (untimed) VACUUM ANALYZE of the 4 result tables and a "
        f"CHECKPOINT; this server's autovacuum is {times['1m']['autovacuum']}."
    )
    print(f"- whole benchmark: {time.perf_counter() - bench_started:.0f} s")


def _main(argv: list[str]) -> None:
    mode, key = argv
    point = POINTS[key]
    answer = _load(point) if mode == "load" else _time(point)
    print(json.dumps(answer))


if __name__ == "__main__":
    if len(sys.argv) == 3:
        _main(sys.argv[1:])
    else:
        run()
