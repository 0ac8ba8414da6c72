"""The MLLP listener as a real process (`manage.py mllp_listen`) on the test database, with
python-hl7's MLLP client (not our code) sending to it."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from hl7.client import MLLPClient

from claims.models import Fill
from clinical.models import Immunization
from integrations.models import Hl7Message
from tests.integrations.samples import adt, field, fields, rds, vxu

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Listener:
    proc: subprocess.Popen[bytes]
    port: int
    host: str = "127.0.0.1"

    def client(self) -> MLLPClient:
        return MLLPClient(self.host, self.port)


def _test_database_url() -> str:
    db = settings.DATABASES["default"]
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


def _start(slug: str, processes: int = 1, idle: float = 20, *extra: str) -> Listener:
    """`manage.py mllp_listen --port 0 --org SLUG` against the test database; the port is
    read from its first line."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "manage.py", "mllp_listen", "--port", "0", "--org", slug]
    command += ["--idle-timeout", str(idle), "--processes", str(processes), *extra]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline().decode() if ready else ""
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"listener did not start: {line}{proc.stdout.read().decode()}")
    return Listener(proc, int(line.split(" for ")[0].rsplit(":", 1)[1]))


def _stop(listener: Listener) -> None:
    proc = listener.proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def listener(transactional_db: Any, chain: SimpleNamespace) -> Iterator[Listener]:
    running = _start(chain.org.slug)
    try:
        yield running
    finally:
        _stop(running)


def unframed(ack: bytes) -> str:
    assert ack.startswith(b"\x0b"), ack
    assert ack.endswith(b"\x1c\r"), ack
    return ack[1:-2].decode()


def test_messages_over_mllp_are_acknowledged_field_by_field(
    listener: Listener, chain: SimpleNamespace
) -> None:
    store, pid = chain.loc_a.ncpdp_id, chain.patient_a.pms_patient_id
    with listener.client() as client:
        vxu_ack = unframed(client.send_message(vxu(facility=store, patient_id=pid)))
        rds_ack = unframed(client.send_message(rds(facility=store, patient_id=pid)))
        adt_ack = unframed(client.send_message(adt(facility=store, patient_id=pid, last="Moved")))
        bad_ack = unframed(
            client.send_message(vxu(facility=store, patient_id=pid, control_id="V2", cvx="999"))
        )
        unknown_ack = unframed(client.send_message(adt(facility="9999999", control_id="A9")))

    assert field(vxu_ack, "MSH", 9) == "ACK^V04^ACK"
    assert field(vxu_ack, "MSH", 5) == "TestPMS"
    assert field(vxu_ack, "MSH", 6) == store
    assert field(vxu_ack, "MSH", 12) == "2.5.1"
    assert field(vxu_ack, "MSA", 1) == "AA", vxu_ack
    assert field(vxu_ack, "MSA", 2) == "VXU-1"
    assert field(rds_ack, "MSH", 9) == "ACK^O13^ACK"
    assert field(rds_ack, "MSA", 1) == "AA", rds_ack
    assert field(rds_ack, "MSA", 2) == "RDS-1"
    assert field(adt_ack, "MSH", 9) == "ACK^A08^ACK"
    assert field(adt_ack, "MSA", 1) == "AA", adt_ack
    assert field(adt_ack, "MSA", 2) == "ADT-1"

    assert field(bad_ack, "MSA", 1) == "AE"
    assert field(bad_ack, "MSA", 2) == "V2"
    err = fields(bad_ack, "ERR")
    assert err[2] == "RXA^1^5"
    assert err[3] == "103^Table value not found^HL70357"
    assert err[4] == "E"
    assert "CVX 999" in err[8]

    assert field(unknown_ack, "MSA", 1) == "AR"
    assert fields(unknown_ack, "ERR")[2] == "MSH^1^4"

    assert Immunization.objects.filter(patient=chain.patient_a).count() == 1
    assert Fill.objects.filter(location=chain.loc_a, rx_number=1000123).count() == 1
    chain.patient_a.refresh_from_db()
    assert chain.patient_a.last_name == "Moved"
    assert set(Hl7Message.objects.values_list("transport", flat=True)) == {"mllp"}
    assert Hl7Message.objects.count() == 5


def test_a_client_that_disconnects_mid_message_leaves_nothing_and_the_next_is_served(
    listener: Listener, chain: SimpleNamespace
) -> None:
    store, pid = chain.loc_a.ncpdp_id, chain.patient_a.pms_patient_id
    whole = vxu(facility=store, patient_id=pid).encode()
    with socket.create_connection((listener.host, listener.port)) as sock:
        sock.sendall(b"\x0b" + whole[: len(whole) // 2])
    time.sleep(0.3)
    with listener.client() as client:
        ack = unframed(client.send_message(adt(facility=store, patient_id=pid)))
    assert field(ack, "MSA", 1) == "AA"
    assert not Immunization.objects.exists()
    assert list(Hl7Message.objects.values_list("message_type", flat=True)) == ["ADT^A08"]


def test_an_unframed_message_gets_an_ar_and_a_framed_one_after_it_an_aa(
    listener: Listener, chain: SimpleNamespace
) -> None:
    store = chain.loc_a.ncpdp_id
    with listener.client() as client:
        client.socket.sendall(adt(facility=store, control_id="LOOSE").encode())
        ack = unframed(client.send_message(adt(facility=store, control_id="FRAMED")))
        if ack.count("MSA|") == 1 and field(ack, "MSA", 2) == "LOOSE":
            second = unframed(client.socket.recv(4096))
        else:  # both ACKs arrived in one read
            first, _, rest = ack.partition("\x1c\r\x0b")
            ack, second = first, rest
    assert field(ack, "MSA", 1) == "AR"
    assert field(ack, "MSA", 2) == "LOOSE"
    assert fields(ack, "ERR")[3].startswith("100^")
    assert field(second, "MSA", 1) == "AA"
    assert field(second, "MSA", 2) == "FRAMED"
    assert list(Hl7Message.objects.values_list("control_id", flat=True)) == ["FRAMED"]


def test_junk_that_is_no_message_closes_the_connection_and_the_listener_keeps_serving(
    listener: Listener, chain: SimpleNamespace
) -> None:
    with socket.create_connection((listener.host, listener.port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(10)
        assert sock.recv(4096) == b""  # closed, nothing answered
    with listener.client() as client:
        ack = unframed(client.send_message(adt(facility=chain.loc_a.ncpdp_id)))
    assert field(ack, "MSA", 1) == "AA"


def test_sigterm_stops_the_listener_cleanly(listener: Listener) -> None:
    os.killpg(listener.proc.pid, signal.SIGTERM)
    assert listener.proc.wait(timeout=30) == 0


def test_two_processes_share_the_port_and_keep_each_connections_acks_in_order(
    transactional_db: Any, chain: SimpleNamespace
) -> None:
    running = _start(chain.org.slug, processes=2)
    try:
        store = chain.loc_a.ncpdp_id
        clients = [running.client() for _ in range(4)]
        for n in range(5):
            for c, client in enumerate(clients):
                control_id = f"C{c}-{n}"
                message = adt(facility=store, control_id=control_id, patient_id=f"P{c}")
                ack = unframed(client.send_message(message))
                assert field(ack, "MSA", 1) == "AA", ack
                assert field(ack, "MSA", 2) == control_id
        for client in clients:
            client.close()
    finally:
        _stop(running)
    assert Hl7Message.objects.filter(outcome="AA").count() == 20


def test_a_silent_connection_is_closed_after_the_idle_timeout(
    transactional_db: Any, chain: SimpleNamespace
) -> None:
    running = _start(chain.org.slug, idle=1)
    try:
        with socket.create_connection((running.host, running.port)) as sock:
            sock.settimeout(10)
            started = time.monotonic()
            assert sock.recv(1) == b""  # the listener hung up
            assert 0.5 < time.monotonic() - started < 5
        with running.client() as client:  # and still serves
            ack = unframed(client.send_message(adt(facility=chain.loc_a.ncpdp_id)))
        assert field(ack, "MSA", 1) == "AA"
    finally:
        _stop(running)


def test_a_frame_trickled_slower_than_the_frame_timeout_closes_the_connection(
    transactional_db: Any, chain: SimpleNamespace
) -> None:
    running = _start(chain.org.slug, 1, 20, "--frame-timeout", "1")
    try:
        with socket.create_connection(("127.0.0.1", running.port), timeout=10) as slow:
            slow.sendall(b"\x0bMSH|^~\\&|")  # a frame starts ...
            time.sleep(0.6)
            slow.sendall(b"PMS|")  # ... a byte now and then keeps it from being idle
            assert slow.recv(1024) == b""  # closed past the frame's second
        message = adt(facility=chain.loc_a.ncpdp_id, control_id="AFTER", patient_id="P9")
        client = running.client()
        assert field(unframed(client.send_message(message)), "MSA", 1) == "AA"
        client.close()
    finally:
        _stop(running)


def test_connections_past_the_limit_are_closed_at_once(
    transactional_db: Any, chain: SimpleNamespace
) -> None:
    running = _start(chain.org.slug, 1, 20, "--max-connections", "1")
    try:
        first = running.client()
        message = adt(facility=chain.loc_a.ncpdp_id, control_id="FIRST", patient_id="P8")
        assert field(unframed(first.send_message(message)), "MSA", 1) == "AA"
        with socket.create_connection(("127.0.0.1", running.port), timeout=10) as second:
            assert second.recv(1024) == b""
        again = adt(facility=chain.loc_a.ncpdp_id, control_id="SECOND", patient_id="P8")
        assert field(unframed(first.send_message(again)), "MSA", 1) == "AA"
        first.close()
    finally:
        _stop(running)
