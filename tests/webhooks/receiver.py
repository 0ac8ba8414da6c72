"""A real HTTP server on loopback that records what webhooks send it and answers with the
status codes a test queues (default 200)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: Message  # case-insensitive, as HTTP header names are
    body: bytes


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    answers: deque[int] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/rxrevops"


def start_receiver() -> Receiver:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = holder["r"]
            length = int(self.headers.get("Content-Length") or 0)
            receiver.received.append(Received(self.path, self.headers, self.rfile.read(length)))
            status = receiver.answers.popleft() if receiver.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = Receiver(server=server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return holder["r"]
