"""HL7 v2 over MLLP: messages per second with their ACKs, against a plain TCP echo.

Issue 10, Performance ("MLLP >= 500 messages/s with ACKs"). Measured end to end from the
client's side: the real listener (`manage.py mllp_listen`, a child process, its default
thread pool of 8) on the database `rxrevops_bench_mllp` (created and migrated if missing),
and python-hl7's `MLLPClient` sending over several connections at once, each connection
sending a message, waiting for its ACK, then sending the next (what an interface engine
does). Every ACK must be AA. Two message kinds: ADT^A08 (a patient update: one upsert) and
VXU^V04 (a new patient from the PID and a new dose: dose checks, the dose, its registry
outbox row and its clinical claim). Each message has a fresh control id, so nothing is
answered from the duplicate store.

Baseline, in the same run: a plain TCP server (a child process, asyncio) that sends each
frame straight back, driven by the same client over the same number of connections. The
ratio says what reading, writing the database and answering cost over moving the bytes.
Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from bench.django_db import django_on
from bench.report import met, print_table

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "rxrevops_bench_mllp"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
ORG_SLUG = "bench-mllp"
STORE_NCPDP = "5990001"
TARGET = 500.0


def _setup() -> None:
    """The database, migrated, with one organization and its store (a child process)."""
    django_on(DB_NAME)
    from rxrevops.identifiers import npi_is_valid
    from rxrevops.models import Location, Organization

    org, _ = Organization.objects.get_or_create(slug=ORG_SLUG, defaults={"name": "Bench MLLP"})
    npi = next(
        f"19900000{d}{c}" for d in range(10) for c in range(10) if npi_is_valid(f"19900000{d}{c}")
    )
    Location.objects.get_or_create(
        ncpdp_id=STORE_NCPDP, defaults={"organization": org, "name": "Bench store", "npi": npi}
    )


def _messages(kind: str, n: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    from tests.integrations.samples import adt, vxu

    if kind == "adt":
        return [
            adt(
                facility=STORE_NCPDP,
                control_id=f"B{run}-{i}",
                patient_id=f"BP{i % 500}",
                phone=f"217555{i % 10000:04d}",
            )
            for i in range(n)
        ]
    # a new patient and a new dose each: the lot differs per message
    return [
        vxu(
            facility=STORE_NCPDP,
            control_id=f"B{run}-{i}",
            patient_id=f"BV{run}{i}",
            lot=f"L{run}{i}"[:20],
        )
        for i in range(n)
    ]


def _send_all(port: int, messages: list[str], connections: int, check_aa: bool) -> float:
    """Seconds to send every message and read its answer over `connections` connections."""
    from hl7.client import MLLPClient

    slices = [messages[i::connections] for i in range(connections)]
    failures: list[str] = []

    def work(part: list[str]) -> None:
        with MLLPClient("127.0.0.1", port) as client:
            for message in part:
                answer = client.send_message(message)
                if not answer.endswith(b"\x1c\r"):  # the whole answer in one read, as sent
                    answer += client.socket.recv(65536)
                if check_aa and b"MSA|AA|" not in answer:
                    failures.append(answer.decode(errors="replace")[:300])

    threads = [threading.Thread(target=work, args=(part,)) for part in slices]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} message(s) not AA, e.g. {failures[0]}")
    return elapsed


def _start(cmd: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter, module and manage.py)
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline().decode() if ready else ""
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"{cmd[2]} did not start: {line!r}")
    return proc, int(line.split()[3].rsplit(":", 1)[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


async def _echo(port: int) -> None:
    """The baseline server: every byte straight back."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print(f"echo listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


def run(
    messages: int = 5000,
    connections: int = 8,
    processes: int = 2,
    kinds: str = "adt,vxu",
    workers: int = 8,
) -> None:
    print(
        f"MLLP: {messages} messages per kind over {connections} connections, ACK each; "
        f"listener with {processes} process(es)"
    )
    subprocess.run([sys.executable, "-m", "bench.mllp", "setup"], cwd=ROOT, check=True)
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "PYTHONPATH": str(ROOT)}
    echo, echo_port = _start([sys.executable, "-m", "bench.mllp", "echo"], env)
    listener, port = _start(
        [
            sys.executable,
            "manage.py",
            "mllp_listen",
            "--port",
            "0",
            "--org",
            ORG_SLUG,
            "--processes",
            str(processes),
            "--workers",
            str(workers),
        ],
        env,
    )
    rows = []
    try:
        _send_all(port, _messages("adt", 200), connections, check_aa=True)  # warm-up
        for kind, label in (("adt", "ADT^A08"), ("vxu", "VXU^V04")):
            if kind not in kinds.split(","):
                continue
            batch = _messages(kind, messages)
            base = len(batch) / _send_all(echo_port, batch, connections, check_aa=False)
            rate = len(batch) / _send_all(port, batch, connections, check_aa=True)
            rows += [
                (
                    f"{label} over MLLP, msg/s with ACKs",
                    f"{rate:,.0f}",
                    f">= {TARGET:.0f}",
                    met(rate >= TARGET),
                    f"TCP echo {base:,.0f} msg/s",
                    f"{rate / base:.3f}",
                ),
                (f"{label} same bytes, TCP echo, msg/s", f"{base:,.0f}", "", ""),
                (f"{label} echo / MLLP", f"{base / rate:.1f}x", "", ""),
            ]
    finally:
        _stop(listener)
        _stop(echo)
    print_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", nargs="?", choices=["setup", "echo"])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--workers", type=int, default=8, help="threads per listener process")
    parser.add_argument("--kinds", default="adt,vxu", help="adt, vxu or adt,vxu")
    args = parser.parse_args()
    if args.step == "setup":
        _setup()
    elif args.step == "echo":
        asyncio.run(_echo(0))
    else:
        run(
            messages=args.messages,
            connections=args.connections,
            processes=args.processes,
            kinds=args.kinds,
            workers=args.workers,
        )


if __name__ == "__main__":
    main()
