"""A local immunization registry for tests: a real HTTP server on 127.0.0.1 that takes a VXU
the way a state registry's HTTP endpoint does and answers an ACK.

It reads each VXU with the independent `hl7` package (not the code under test), records it,
and answers by the test's plan: AA by default; AE with an ERR on RXA-15 for a lot it was
told to refuse; a warning-only AE; HTTP 503 for the next n requests; or a slow answer (for
timeouts). The ACK itself is written with `clinical.hl7.ack.build_ack`, whose output the
ACK parser tests check against hand-written ACKs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import hl7
import pytest

from clinical.hl7.ack import AckIssue, build_ack
from clinical.models import ImmunizationRegistry
from rxrevops.models import Organization


@dataclass
class Received:
    body: str
    content_type: str
    message: Any  # hl7.Message

    def field(self, segment: str, n: int) -> str:
        return str(self.message.segment(segment)[n])

    @property
    def control_id(self) -> str:
        return self.field("MSH", 10)

    @property
    def lot(self) -> str:
        return self.field("RXA", 15)


@dataclass
class Plan:
    unavailable: int = 0  # answer HTTP 503 to this many requests first
    rejected_lots: set[str] = field(default_factory=set)  # AE + ERR on RXA-15
    warn: bool = False  # AE with only a warning
    delay: float = 0.0  # seconds to wait before answering
    ack_control_id: str | None = None  # answer for another message id


class LocalRegistry:
    def __init__(self) -> None:
        self.plan = Plan()
        self.received: list[Received] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/vxu"

    def start(self) -> LocalRegistry:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, body: str, content_type: str) -> tuple[int, str]:
        with self._lock:
            self.requests += 1
            if self.plan.unavailable > 0:
                self.plan.unavailable -= 1
                return 503, "Service Unavailable: the registry is down for maintenance"
        message = hl7.parse(body)
        received = Received(body, content_type, message)
        with self._lock:
            self.received.append(received)
        now = datetime.now(UTC)
        if received.lot in self.plan.rejected_lots:
            issue = AckIssue(
                location="RXA-15",
                code="103",
                code_text="Table value not found",
                severity="E",
                application_code="5",
                application_text="Table value not found",
                user_message=f"Lot number {received.lot} is not valid for this vaccine",
            )
            return 200, build_ack(body, code="AE", issues=[issue], sent_at=now)
        if self.plan.warn:
            issue = AckIssue(
                location="PID-11",
                code="101",
                code_text="Required field missing",
                severity="W",
                user_message="Patient address is missing",
            )
            return 200, build_ack(body, code="AE", issues=[issue], sent_at=now)
        if self.plan.ack_control_id is not None:
            return 200, build_ack(
                body.replace(received.control_id, self.plan.ack_control_id), sent_at=now
            )
        return 200, build_ack(body, code="AA", sent_at=now)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API names it so
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode("utf-8")
                if registry.plan.delay:
                    time.sleep(registry.plan.delay)
                status, text = registry.answer(body, self.headers.get("Content-Type", ""))
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "x-application/hl7-v2+er7; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet test output

        return Handler


@pytest.fixture
def local_registry() -> Iterator[LocalRegistry]:
    registry = LocalRegistry().start()
    try:
        yield registry
    finally:
        registry.stop()


def registry_create(
    *, organization: Organization, url: str, state: str = "IL", **fields: Any
) -> ImmunizationRegistry:
    """An enabled registry for the organization's stores in `state` (the factories put
    stores in IL)."""
    values: dict[str, Any] = {
        "name": "Illinois I-CARE",
        "receiving_application": "ICARE",
        "receiving_facility": "IDPH",
        "processing_id": "T",
        "timeout_seconds": 5,
        **fields,
    }
    return ImmunizationRegistry.objects.create(
        organization=organization, state=state, endpoint_url=url, **values
    )
