"""A working morning: owners on dashboards, technicians on call lists and integrations pushing
fills, all at once, against gunicorn with the large world loaded.

Issue 11, Load ("50 concurrent users for 5 minutes with zero errors and p95 within the pages'
targets"). Timings are reported, never asserted.

The data: the 1M-claim chain `bench.recon_db` builds (`rxrevops_bench_recon`, 25 stores),
reconciled and rolled up as `bench.dashboard_pages` prepares it; the worklists are built once
(a child process `python -m bench.load prepare`). People: the owner of `bench.dashboard_pages`
(all stores, signed in through the login form), a technician of the store with the most open
call-list items (signed in the same way), and INTEGRATIONS API tokens (scope claims:write),
each limited to a store of its own that the benchmark adds to the chain for this run and
removes afterwards with everything pushed into it.

The load (locust as a library in a child process `python -m bench.load load CONFIG`): USERS
users for DURATION_S seconds (starting SPAWN_PER_S a second):
- OWNERS owners, each opening a dashboard page at random (`bench.dashboard_pages.PAGES`),
  then reading it for OWNER_THINK_S seconds;
- TECHNICIANS technicians, each opening the call list or one of its three worklists at
  random, then working a call for TECHNICIAN_THINK_S seconds;
- INTEGRATIONS integrations, each pushing the next PUSH_BATCH fills of the large world's rows
  (`POST /api/v1/fills/bulk/`) into its store, then waiting PUSH_THINK_S seconds.
gunicorn runs as the Procfile runs it (`bench.dashboard_pages._serve`); server time is its own
per request (the access log), the clients' time is beside it. Anything but a 200 is an error.

The dashboards keep the rollups' answers until the chain's rollups are refreshed
(`dashboards.rollup_cache`); no worker runs during the load, so no refresh happens and an
owner's page is read from the rollups only the first time anyone asks it (the warm-up asks
each once). `bench.dashboard_pages` measures the pages reading the rollups each time too.

Targets: zero errors; p95 server time within each page's own target: owner dashboards
<= 150 ms (issue 7), the technician's call list <= 100 ms (issue 8); the push has no page
target (its throughput is reported).

Reproduce: `.venv/bin/python -m bench --only load`.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench import api_fills, api_reads, dashboard_pages, pms_import, recon_db
from bench.child import json_child
from bench.report import met, print_table

ROOT = Path(__file__).resolve().parent.parent
POINT = recon_db.POINTS["1m"]
LOG_DIR = recon_db.CACHE / "load"
USERS = 50
OWNERS, TECHNICIANS, INTEGRATIONS = 30, 15, 5
DURATION_S = 300
OWNER_THINK_S = (3.0, 8.0)  # reading a dashboard page
TECHNICIAN_THINK_S = (3.0, 8.0)  # a call, then back to the list
PUSH_THINK_S = (2.0, 5.0)
# a PMS feed pushing as it dispenses, in small batches: 5 feeds at about 140 fills/s in all,
# far above a chain's real rate (a busy store fills about a thousand scripts a day)
PUSH_BATCH = 100
SPAWN_PER_S = 5  # users start over the first USERS / SPAWN_PER_S seconds, not all at once
PUSH_ROWS = 200_000
TECHNICIAN_EMAIL = "bench-technician@example.com"
TECHNICIAN_PASSWORD = "bench-technician-password-1"  # noqa: S105 (a benchmark's own user)
PUSH_NCPDP_PREFIX = "98"
TARGETS_MS = {"owner": 150.0, "technician": 100.0}
TECHNICIAN_PAGES = {
    "call list": "/adherence/",
    "med-sync calls": "/adherence/worklist/med_sync/",
    "refills": "/adherence/worklist/refill/",
    "care gaps": "/adherence/worklist/care_gap/",
}
PUSH_PAGE = "fills/bulk (push)"
assert OWNERS + TECHNICIANS + INTEGRATIONS == USERS


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- preparation (a child process with Django) ------------------------------------------------


def _prepare() -> dict[str, Any]:
    """The technician, the integrations' stores and tokens (earlier runs' removed first), the
    worklists built once; the store the technician works."""
    recon_db._setup_django(POINT)
    from django.db.models import Count

    from adherence.models import WorklistItem
    from adherence.services.build import worklists_build
    from rxrevops.models import Location, Organization
    from rxrevops.models.tenancy import Role
    from rxrevops.services.tenancy import user_upsert_with_role
    from rxrevops.services.tokens import api_token_create

    org = Organization.objects.get(slug=POINT.slug)
    _remove_pushing_stores(org)
    if not WorklistItem.objects.filter(location__organization=org).exists():
        _say("  worklists build for the chain (once) ...")
        worklists_build(organization=org, as_of=recon_db.AS_OF)
    busiest = (
        WorklistItem.objects.filter(location__organization=org, status="open")
        .values("location")
        .annotate(n=Count("id"))
        .order_by("-n", "location")
        .first()
    )
    store = (
        Location.objects.get(pk=busiest["location"])
        if busiest
        else Location.objects.filter(organization=org).order_by("pk")[0]
    )
    user_upsert_with_role(
        email=TECHNICIAN_EMAIL,
        password=TECHNICIAN_PASSWORD,
        organization=org,
        role=Role.TECHNICIAN,
        locations=[store],
    )
    keys = []
    for n in range(INTEGRATIONS):
        ncpdp = f"{PUSH_NCPDP_PREFIX}{n + 1:05d}"
        loc = Location.objects.create(
            organization=org,
            ncpdp_id=ncpdp,
            name=f"Bench load: pushing store {n + 1}",
            npi=pms_import._npi_for(ncpdp),
        )
        keys.append(
            api_token_create(
                organization=org,
                name=f"bench load push {n + 1}",
                scopes=["claims:write"],
                locations=[loc],
            ).key
        )
    return {"keys": keys, "store": store.name, "open_items": busiest["n"] if busiest else 0}


def _remove_pushing_stores(org: Any) -> None:
    """What earlier runs pushed, and their stores and tokens."""
    from django.db import connection

    from rxrevops.models import ApiToken, Job, Location

    old = list(
        Location.objects.filter(
            organization=org, ncpdp_id__startswith=PUSH_NCPDP_PREFIX
        ).values_list("pk", flat=True)
    )
    ApiToken.objects.filter(organization=org, name__startswith="bench load push").delete()
    if not old:
        return
    with connection.cursor() as cur:
        cur.execute("DELETE FROM claims_fill WHERE location_id = ANY(%s)", [old])
        cur.execute("DELETE FROM claims_prescription WHERE location_id = ANY(%s)", [old])
        cur.execute("DELETE FROM claims_patient WHERE location_id = ANY(%s)", [old])
    Job.objects.filter(location__in=old).delete()
    Location.objects.filter(pk__in=old).delete()


def _cleanup() -> dict[str, Any]:
    recon_db._setup_django(POINT)
    from rxrevops.models import Organization

    _remove_pushing_stores(Organization.objects.get(slug=POINT.slug))
    return {}


# --- the load (a child process with locust) ---------------------------------------------------


def _load(config: dict[str, Any]) -> dict[str, Any]:
    import gevent
    from locust import FastHttpUser, between, task
    from locust.env import Environment

    header = dashboard_pages.PAGE_HEADER
    owner_urls: dict[str, list[str]] = config["owner_urls"]
    bodies = [Path(p).read_text() for p in config["bodies"]]
    keys: list[str] = config["keys"]
    times: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    pushed = Counter[str]()
    next_integration = iter(range(1 << 30))

    def check(response: Any) -> None:
        if response.status_code == 0:
            response.failure(repr(getattr(response, "error", None)))
        elif response.status_code != 200:
            response.failure(f"HTTP {response.status_code}")

    class Owner(FastHttpUser):
        weight = OWNERS
        wait_time = between(*OWNER_THINK_S)

        @task
        def page(self) -> None:
            key = random.choice(sorted(owner_urls))
            with self.client.get(
                random.choice(owner_urls[key]),
                name=f"owner: {key}",
                headers={header: f"owner: {key}", "Cookie": config["owner_cookie"]},
                allow_redirects=False,
                catch_response=True,
            ) as response:
                check(response)

    class Technician(FastHttpUser):
        weight = TECHNICIANS
        wait_time = between(*TECHNICIAN_THINK_S)

        @task
        def page(self) -> None:
            key = random.choice(sorted(TECHNICIAN_PAGES))
            with self.client.get(
                TECHNICIAN_PAGES[key],
                name=f"technician: {key}",
                headers={header: f"technician: {key}", "Cookie": config["technician_cookie"]},
                allow_redirects=False,
                catch_response=True,
            ) as response:
                check(response)

    class Integration(FastHttpUser):
        weight = INTEGRATIONS
        wait_time = between(*PUSH_THINK_S)

        def on_start(self) -> None:
            self.number = next(next_integration) % len(keys)
            self.sent = 0

        @task
        def push(self) -> None:
            # each integration its own run of the rows, from its own starting point
            body = bodies[(self.number * len(bodies) // len(keys) + self.sent) % len(bodies)]
            self.sent += 1
            with self.client.post(
                "/api/v1/fills/bulk/",
                data=body,
                name=PUSH_PAGE,
                headers={
                    header: PUSH_PAGE,
                    "Authorization": f"Token {keys[self.number]}",
                    "Content-Type": "application/json",
                },
                catch_response=True,
            ) as response:
                check(response)
                if response.status_code == 200:
                    pushed.update(
                        {k: int(v) for k, v in json.loads(response.content)["counts"].items()}
                    )

    def on_request(
        name: str, response_time: float, exception: Any, response: Any, **_: Any
    ) -> None:
        times[name].append(float(response_time))
        if exception is not None:
            status = getattr(response, "status_code", 0) or 0
            errors[f"{name}: HTTP {status}" if status else f"{name}: no answer: {exception}"] += 1

    env = Environment(user_classes=[Owner, Technician, Integration], host=config["base"])
    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    started = time.perf_counter()
    runner.start(USERS, spawn_rate=SPAWN_PER_S)
    gevent.spawn_later(config["seconds"], runner.quit)
    assert runner.greenlet is not None
    runner.greenlet.join()
    return {
        "seconds": time.perf_counter() - started,
        "times": dict(times),
        "errors": dict(errors),
        "pushed": dict(pushed),
    }


def _child(mode: str, arg: str = "-") -> dict[str, Any]:
    return json_child("bench.load", mode, arg)


def _bodies() -> list[Path]:
    """The large world's rows as bulk-push bodies of PUSH_BATCH fills, one file each."""
    stores = list(pms_import._world_files().values())
    data, _ = pms_import._build_file(recon_db.CACHE / f"pms-{PUSH_ROWS}.csv", stores, PUSH_ROWS)
    folder = LOG_DIR / f"bodies-{PUSH_BATCH}"
    if not folder.exists():
        folder.mkdir(parents=True)
        saved = api_fills.BATCH
        api_fills.BATCH = PUSH_BATCH
        try:
            for n, body in enumerate(api_fills._bodies(data, PUSH_ROWS)):
                (folder / f"{n:05d}.json").write_bytes(body)
        finally:
            api_fills.BATCH = saved
    return sorted(folder.glob("*.json"))


def _login(base: str, email: str, password: str) -> str:
    saved = dashboard_pages.OWNER_EMAIL, dashboard_pages.OWNER_PASSWORD
    dashboard_pages.OWNER_EMAIL, dashboard_pages.OWNER_PASSWORD = email, password
    try:
        return dashboard_pages._login(base)
    finally:
        dashboard_pages.OWNER_EMAIL, dashboard_pages.OWNER_PASSWORD = saved


def run(*, seconds: int = DURATION_S) -> None:
    print(
        f"Load: {USERS} users at once for {seconds} s ({OWNERS} owners on dashboards, "
        f"{TECHNICIANS} technicians on call lists, {INTEGRATIONS} integrations pushing fills)"
    )
    if not api_reads._database_exists():
        recon_db.run()  # the 1M chain, imported and reconciled
    # the server must not start follow-ups no worker here would run
    os.environ["RECONCILE_AFTER_IMPORT"] = "false"
    os.environ["WORKLISTS_AFTER_IMPORT"] = "false"
    owner = dashboard_pages._child("prepare", POINT.key)
    prepared = _child("prepare")
    bodies = _bodies()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    access_log = LOG_DIR / "access-load.log"
    port = dashboard_pages._free_port()
    base = f"http://127.0.0.1:{port}"
    server = dashboard_pages._serve(POINT, port, access_log)
    try:
        owner_cookie = dashboard_pages._login(base)
        technician_cookie = _login(base, TECHNICIAN_EMAIL, TECHNICIAN_PASSWORD)
        owner_urls = dashboard_pages._urls(owner)
        dashboard_pages._warm_up(base, {"Cookie": owner_cookie}, owner_urls)
        dashboard_pages._warm_up(
            base, {"Cookie": technician_cookie}, {k: [v] for k, v in TECHNICIAN_PAGES.items()}
        )
        config = {
            "base": base,
            "seconds": seconds,
            "owner_cookie": owner_cookie,
            "technician_cookie": technician_cookie,
            "owner_urls": owner_urls,
            "keys": prepared["keys"],
            "bodies": [str(p) for p in bodies],
        }
        config_path = LOG_DIR / "load.json"
        config_path.write_text(json.dumps(config))
        clients = _child("load", str(config_path))
    finally:
        dashboard_pages._stop(server)
        _child("cleanup")
    _report(prepared, clients, access_log)


def _report(prepared: dict[str, Any], clients: dict[str, Any], access_log: Path) -> None:
    server_times, server_errors, _ = dashboard_pages._server_times(access_log)
    seconds = clients["seconds"]
    everything = sum(len(t) for t in server_times.values())
    pushed = clients["pushed"]
    print(
        f"  {POINT.db}: {everything:,} requests in {seconds:.0f} s ({everything / seconds:.1f}/s); "
        f"technician at {prepared['store']} ({prepared['open_items']:,} open items); "
        f"pushed {pushed.get('read', 0):,} fills ({pushed.get('read', 0) / seconds:,.0f}/s: "
        f"{pushed.get('created', 0):,} created, {pushed.get('unchanged', 0):,} unchanged)"
    )

    def p(values: list[float], q: float) -> float:
        return dashboard_pages.percentile(values, q)

    rows = []
    for role in ("owner", "technician", "fills"):
        keys = sorted(k for k in server_times if k.startswith(role))
        mine = [t for k in keys for t in server_times[k]]
        seen = [t for k in keys for t in clients["times"].get(k, [])]
        if not mine:
            continue
        target = TARGETS_MS.get(role)
        label = f"push ({PUSH_BATCH} fills a request)" if role == "fills" else f"{role}s' pages"
        rows.append(
            (
                f"{label}: {len(mine):,} requests, server p50 / p95",
                f"{p(mine, 0.5):.0f} / {p(mine, 0.95):.0f} ms",
                f"p95 <= {target:.0f} ms" if target else "",
                met(p(mine, 0.95) <= target) if target else "",
            )
        )
        rows.append(("  as the clients saw it, p95", f"{p(seen, 0.95):.0f} ms", "", ""))
        for key in keys:
            rows.append(
                (
                    f"  {key.split(': ', 1)[-1]}",
                    f"{p(server_times[key], 0.5):.0f} / {p(server_times[key], 0.95):.0f} ms",
                    "",
                    "",
                )
            )
    errors = sum(server_errors.values()) + sum(
        n for k, n in clients["errors"].items() if "no answer" in k
    )
    rows.append(("errors (not a 200, or no answer)", f"{errors}", "0", met(errors == 0)))
    print()
    print_table(rows)
    for line, n in sorted({**server_errors, **clients["errors"]}.items()):
        print(f"  error: {line} x{n}")


def _main(argv: list[str]) -> None:
    mode, arg = argv
    if mode == "prepare":
        answer = _prepare()
    elif mode == "cleanup":
        answer = _cleanup()
    elif mode == "load":
        answer = _load(json.loads(Path(arg).read_text()))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(answer))


if __name__ == "__main__":
    if len(sys.argv) == 3:
        _main(sys.argv[1:])
    else:
        run()
