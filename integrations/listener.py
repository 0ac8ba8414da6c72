"""The MLLP listener: HL7 v2 messages over TCP for one organization, one ACK per message.

An asyncio server reads each connection through the pure `MllpDecoder`; every complete
frame goes to `hl7_receive` on a thread pool (the ORM is synchronous; one Django database
connection per pool thread), and its ACK is written back framed before the next frame of
that connection is handled, so ACKs come back in the order the messages were sent while
several connections are served at once.

Framing trouble: bytes outside a frame that hold an MSH are answered with an AR built from
them (the sender can tell which message it was; nothing is stored); other junk ends the
connection cleanly after the ACKs already due. A client that disconnects mid-message leaves
nothing behind: the cut frame was never complete, so it was never processed. A connection
silent for `idle_timeout` seconds is closed. `stop()` (SIGTERM/SIGINT in the command) stops
accepting, lets every message being processed finish and answer, then closes connections.

Logs carry no PHI: peers, message types, control ids and outcomes only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from django.db import close_old_connections

from integrations.hl7.ack import build_response
from integrations.hl7.messages import Issue, peek_header
from integrations.hl7.mllp import Frame, FramingError, MllpDecoder, frame
from integrations.models import Hl7Message
from integrations.services.hl7 import hl7_receive
from rxrevops.models import Organization

log = logging.getLogger("integrations.mllp")

READ_SIZE = 64 * 1024


# how often a pool thread lets Django retire its database connection (CONN_MAX_AGE) and
# health-check it: per message, the check would be one more round trip each
CONNECTION_CHECK_SECONDS = 10.0
_thread_state = threading.local()


def _receive(organization: Organization, text: str) -> str:
    """One message, on a pool thread. Whatever happens, an ACK: when even filing the message
    failed (the database is down), an AE 207 that is not stored."""
    now = time.monotonic()
    if getattr(_thread_state, "checked", 0.0) + CONNECTION_CHECK_SECONDS < now:
        close_old_connections()  # a connection past its age or broken is replaced
        _thread_state.checked = now
    try:
        _, ack = hl7_receive(
            organization=organization, text=text, transport=Hl7Message.Transport.MLLP
        )
    except Exception as exc:  # the type only: a database error's text can quote values (PHI)
        log.error("mllp message could not be filed: %s", type(exc).__name__)
        _thread_state.checked = 0.0  # check (and replace) the connection before the next one
        issue = Issue(
            "The message could not be stored (internal error); send it again later.", code="207"
        )
        return build_response(text, code="AE", issues=[issue], sent_at=datetime.now(UTC))
    return ack


class MllpListener:
    def __init__(
        self,
        *,
        organization: Organization,
        host: str = "127.0.0.1",
        port: int = 2575,
        idle_timeout: float = 300.0,
        workers: int = 8,
        grace: float = 30.0,
        sock: socket.socket | None = None,
        max_connections: int = 256,
        frame_timeout: float = 30.0,
    ) -> None:
        self.organization = organization
        # each connection may hold a partly received frame (up to the decoder's maximum):
        # how many are served at once bounds the memory they take; past it a new one is
        # closed at once, and a frame must arrive whole within frame_timeout of its start
        # byte (a sender trickling a byte per idle period cannot hold a connection open)
        self.max_connections = max_connections
        self.frame_timeout = frame_timeout
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.grace = grace
        self.sock = sock  # an already bound socket, shared by pre-forked processes
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mllp")
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._busy: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def bound_port(self) -> int:
        """The port actually bound (the one asked for, or the one the OS chose for 0)."""
        if self._server is None:
            raise RuntimeError("the listener is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        if self.sock is not None:
            self._server = await asyncio.start_server(self._handle, sock=self.sock)
        else:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)

    async def stop(self) -> None:
        """Stop accepting; finish the messages in hand; close every connection."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            if task not in self._busy:
                task.cancel()  # waiting for bytes: nothing in hand
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=self.grace)
        for task in list(self._connections):
            task.cancel()
        self._pool.shutdown(wait=True)
        log.info("mllp listener stopped")

    async def serve_until_stopped(self, stopped: asyncio.Event) -> None:
        await self.start()
        await stopped.wait()
        await self.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None:  # a handler always runs in a task; for the type checker
            return
        peer = writer.get_extra_info("peername")
        if len(self._connections) >= self.max_connections:
            log.warning("mllp connection from %s refused: %d open", peer, self.max_connections)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return
        self._connections.add(task)
        log.info("mllp connection from %s", peer)
        decoder = MllpDecoder()
        loop = asyncio.get_running_loop()
        frame_deadline: float | None = None  # when the frame being received must be whole
        try:
            while not self._stopping:
                wait = self.idle_timeout
                if frame_deadline is not None:
                    wait = min(wait, frame_deadline - loop.time())
                try:
                    data = await asyncio.wait_for(reader.read(READ_SIZE), max(wait, 0))
                except TimeoutError:
                    if frame_deadline is not None and loop.time() >= frame_deadline:
                        log.warning("mllp %s: a frame did not arrive whole in time, closed", peer)
                    else:
                        log.info("mllp connection from %s idle, closed", peer)
                    break
                if not data:
                    break
                self._busy.add(task)
                try:
                    keep = await self._answer(decoder.feed(data), writer, peer)
                finally:
                    self._busy.discard(task)
                if not keep:
                    break
                if not decoder.inside_frame:
                    frame_deadline = None
                elif frame_deadline is None:
                    frame_deadline = loop.time() + self.frame_timeout
            for cut in decoder.close():
                log.warning(
                    "mllp %s disconnected mid-message (%d bytes dropped)", peer, len(cut.junk)
                )
        except (ConnectionError, asyncio.IncompleteReadError):
            log.info("mllp connection from %s lost", peer)
        except TimeoutError:
            log.warning("mllp %s does not read its ACKs, closed", peer)
        except asyncio.CancelledError:
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(
        self, events: list[Frame | FramingError], writer: asyncio.StreamWriter, peer: object
    ) -> bool:
        """Answer each event in order; False when the connection should close."""
        loop = asyncio.get_running_loop()
        for event in events:
            if isinstance(event, Frame):
                text = event.payload.decode("utf-8", errors="replace")
                ack = await loop.run_in_executor(self._pool, _receive, self.organization, text)
            else:
                junk = event.junk.decode("utf-8", errors="replace")
                reason = event.reason
                _, control_id, kind = peek_header(junk[junk.find("MSH") :] if "MSH" in junk else "")
                if not control_id:
                    log.warning("mllp %s framing error (%s): closing", peer, reason)
                    await writer.drain()
                    return False
                log.warning("mllp %s %s %s framing error (%s): AR", peer, kind, control_id, reason)
                issue = Issue(
                    f"The message was not framed as MLLP ({reason}); send it as 0x0B message "
                    "0x1C 0x0D. Nothing from it was stored.",
                    code="100",
                )
                ack = build_response(
                    junk[junk.find("MSH") :], code="AR", issues=[issue], sent_at=datetime.now(UTC)
                )
            writer.write(frame(ack.encode("utf-8")))
            # a sender that never reads its ACKs must not pin the connection
            await asyncio.wait_for(writer.drain(), self.idle_timeout)
        return True
