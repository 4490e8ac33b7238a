"""The WebSocket actor: fans every stored garden event out to live viewers.

One bus subscription (`EventStored`) feeds a loop that folds the event into the garden snapshot,
frames it ONCE as a WebSocket text frame (`greenhouse.web.wsframe`), and appends the same bytes
to every interested viewer: written to the socket at once when the viewer is idle (one
non-blocking write, no task switch; see `greenhouse/web/outbox.py`), otherwise appended to its
bounded outbox. That loop never waits on a viewer. Each viewer has a send task that writes
everything queued for it in one batch, a receive task for client actions, and a keepalive task;
a viewer whose outbox overflows is closed with 1013 (it can come back with
`?since=<last id>`), so a stalled viewer never delays the others. This is the failure of the
original system, whose broadcast awaited each viewer in turn.

Protocol (`ws://HOST:PORT/ws`):

* No `since`: the first frame is `snapshot` (`id` = the last event folded into it), then every
  event with a larger id, in id order.
* `?since=N` (or a later `{"action": "resume", "since": N}`): a `resumed` frame, then every event
  with id > N exactly once in id order, replayed from the SQLite event log and then live.
  Frames that arrive before `resumed` belong to the old position and can be dropped by clients.
* `{"action": "subscribe", "types": [...]}` (`null` = all) -> `subscribed`; `{"action": "ping"}`
  -> `pong`. Bad JSON, an unknown action or a bad field -> an `error` frame; a frame over 4 KiB
  -> close 1009; too many messages -> `error` frames, then close 1008.
* Control frames (snapshot, resumed, subscribed, pong, error) use the envelope shape; their `id`
  is the last event id at that moment (snapshot, resumed) or null.

Viewer ids are random per connection; no address is stored or logged.
"""

from __future__ import annotations

import logging
import secrets
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import trio
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    WebSocketServer,
)

from greenhouse.garden_state import GardenState
from greenhouse.messages import (
    ConnectionStatsRequest,
    EventStored,
    EventType,
    SnapshotRequest,
    ViewerConnected,
    ViewerDisconnected,
    decode_envelope,
    iso_timestamp,
)
from greenhouse.runtime import Actor, Bus, Clock, Mailbox
from greenhouse.store import Store, events_since
from greenhouse.web.addresses import ListenAddresses
from greenhouse.web.outbox import HandoffLock, Overflowed, ViewerOutbox, try_write_now
from greenhouse.web.wsframe import (
    PreframedUnsupported,
    abort_connection,
    check_preframe_support,
    install_handoff_lock,
    send_frames,
    text_frame,
)

__all__ = ["IsolatingWebSocketServer", "ViewerLimits", "WebSocketActor"]

_log = logging.getLogger("greenhouse.websocket")


class IsolatingWebSocketServer(WebSocketServer):
    """A `WebSocketServer` where one connection's failure stays with that connection.

    trio-websocket runs each connection's reader task in the handler nursery, so a protocol
    error on one socket (a viewer's ping arriving while the server closes it: wsproto refuses
    the automatic pong with `LocalProtocolError`) would crash the whole actor and drop every
    viewer. This overrides the (pinned, private) `_handle_connection` to log and contain it.
    """

    async def _handle_connection(self, stream: trio.abc.Stream) -> None:
        try:
            await super()._handle_connection(stream)
        except Exception as error:  # cancellation (a BaseException) still propagates
            _log.warning("a viewer connection failed and was dropped: %r", error)
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await stream.aclose()


CLOSE_OVERFLOW = 1013  # "try again later": the viewer fell behind; resume with since
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
KNOWN_TYPES = frozenset(t.value for t in EventType) - {EventType.SNAPSHOT.value}


@dataclass(frozen=True)
class ViewerLimits:
    """Per-viewer and server limits (defaults suit a Raspberry Pi with 1,000 viewers)."""

    max_viewers: int = 1000
    # Frames queued per viewer before it is closed with 1013. The frames are shared bytes (built
    # once), so this costs references, not copies; it must absorb start-up bursts (the engines
    # rescore the whole garden) for a browser that reads a little slowly.
    queue_capacity: int = 1024
    max_batch_bytes: int = 256 * 1024  # one write per viewer carries at most this much
    # Stored events fanned out together (one write per viewer); see `WebSocketActor._gather`.
    max_batch_events: int = 256
    max_message_bytes: int = 4096  # inbound frames larger than this close with 1009
    inbound_rate: float = 5.0  # client messages per second, sustained
    inbound_burst: int = 20
    inbound_violations: int = 20  # messages over the rate before the viewer is closed (1008)
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    close_timeout: float = 5.0  # how long an overflowed viewer's last write may take
    replay_page: int = 500
    send_buffer_bytes: int | None = None  # SO_SNDBUF per viewer socket (None: kernel default)


class ClientAction(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """A message from a viewer."""

    action: str
    types: list[str] | None = None
    since: int | None = None


class ControlFrame(msgspec.Struct, frozen=True):
    """A non-event frame in the envelope shape."""

    id: int | None
    type: str
    data: Any
    timestamp: str
    source: str = "websocket"


_control = msgspec.json.Encoder()
_client = msgspec.json.Decoder(ClientAction)


@dataclass
class Viewer:
    """One connected viewer: its connection, queue, filter and counters."""

    id: str
    conn: WebSocketConnection
    outbox: ViewerOutbox
    lock: HandoffLock
    sock: Any  # the trio socket under the connection (its fileno() for direct writes)
    types: frozenset[str] | None = None
    last_sent: int = 0
    resume_to: int | None = None
    send_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    tokens: float = 0.0
    refilled: float = 0.0
    violations: int = 0
    closing: bool = False  # overflowed: the send task is closing it with 1013
    sending: bool = True  # the send task is busy (snapshot, replay, a batch): no direct writes

    def wants(self, event_type: str) -> bool:
        return self.types is None or event_type in self.types


_RESUME = (-1, "", b"")  # outbox marker: the receive task asked the send task to resume


def _join(
    fresh: list[tuple[int, str, bytes]], types: frozenset[str] | None, after: int
) -> tuple[bytes, int]:
    """The frames of `fresh` a viewer with filter `types` wants past id `after`, joined."""
    frames = [
        wire
        for event_id, event_type, wire in fresh
        if event_id > after and (types is None or event_type in types)
    ]
    if len(frames) == 1:
        return frames[0], 1
    return b"".join(frames), len(frames)


@dataclass
class ConnectionStats:
    """Counters behind `get_connection_stats()`."""

    total_accepted: int = 0
    rejected_origin: int = 0
    rejected_limit: int = 0
    rejected_request: int = 0
    messages_sent: int = 0
    bytes_sent: int = 0
    writes: int = 0
    direct_writes: int = 0
    closed_overflow: int = 0
    closed_dead: int = 0
    closed_policy: int = 0
    client_errors: int = 0
    events_by_type: dict[str, int] = field(default_factory=dict)


class WebSocketActor(Actor):
    """Serves viewers over trio-websocket and fans stored events out to them."""

    def __init__(
        self,
        inbox: Mailbox,
        bus: Bus,
        store: Store,
        *,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 8765,
        allowed_origins: tuple[str, ...] = (),
        limits: ViewerLimits | None = None,
        addresses: ListenAddresses | None = None,
        name: str = "websocket",
    ) -> None:
        super().__init__(name, inbox, bus, clock)
        self.store = store
        self.host = host
        self.port = port
        self.allowed_origins = frozenset(o.rstrip("/") for o in allowed_origins)
        self.limits = limits or ViewerLimits()
        self.addresses = addresses if addresses is not None else ListenAddresses()
        self.state = GardenState()
        self.viewers: dict[str, Viewer] = {}
        self.stats = ConnectionStats()
        self.url: str | None = None
        self.listen_error: str | None = None
        self.listen_retry = 30.0

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> None:
        # Through the clock, never `trio.to_thread` directly: under a MockClock (the simulation,
        # the stateful tests) a worker thread lets virtual time jump ahead while it runs, so
        # keepalives, timeouts and the tests' own deadlines fire while the actor sits in it.
        await self.clock.run_sync(self._rebuild)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._listen, nursery)
            await super().run()
            nursery.cancel_scope.cancel()

    async def _listen(self, nursery: trio.Nursery) -> None:
        # A port in use is a configuration problem, not a reason to stop the garden: say so,
        # keep folding events (the HTTP snapshot still works) and try again.
        while True:
            try:
                listeners = await trio.open_tcp_listeners(self.port, host=self.host)
                break
            except OSError as error:
                self.listen_error = f"cannot listen on {self.host}:{self.port}: {error.strerror}"
                self.log.error("%s; retrying in %gs", self.listen_error, self.listen_retry)
                await self.clock.sleep(self.listen_retry)
        self.listen_error = None
        server = IsolatingWebSocketServer(
            self._serve,
            listeners,
            handler_nursery=nursery,
            max_message_size=self.limits.max_message_bytes,
            connect_timeout=10.0,
            disconnect_timeout=self.limits.close_timeout,
        )
        await nursery.start(server.run)
        self.url = f"ws://{self.host}:{server.port}/ws"
        self.addresses.set("websocket", self.url)
        self.log.info("viewers: %s", self.url)

    def _rebuild(self) -> None:
        conn = self.store.reader()
        try:
            folded = self.state.rebuild_from_db(conn)
        finally:
            conn.close()
        self.log.info("garden snapshot rebuilt from %d stored events", folded)

    async def handle(self, message: Any) -> Any:
        if isinstance(message, EventStored):
            batch, after = await self._gather([message])
            self.fan_out_batch(batch)
            if after is not None:
                await self.dispatch(after)
            return None
        if isinstance(message, SnapshotRequest):
            return self.state.snapshot(live_viewers=len(self.viewers))
        if isinstance(message, ConnectionStatsRequest):
            return self.get_connection_stats()
        return None

    # -- fan-out -------------------------------------------------------------------------------

    async def _gather(self, batch: list[EventStored]) -> tuple[list[EventStored], Any]:
        """Take the `EventStored` messages waiting behind the first, over scheduler passes.

        Events that arrive together (the persistence actor publishes a whole group commit at
        once; a burst publisher adds one per scheduler pass) go out as one write per viewer,
        so a viewer wakes once for many frames. The wait is one scheduler pass at a time and
        ends at the first pass that brings nothing new (or at `max_batch_events`): a lone
        event is delayed by a single checkpoint. Returns the batch and the first other
        message taken from the mailbox, if any (the caller handles it after the batch).
        """
        inbox = self.inbox
        assert inbox is not None
        limits = self.limits
        # A batch lands whole in the outbox of a viewer whose send task is busy: it must not
        # fill that outbox by itself (that would close a viewer that reads fine with 1013).
        limit = min(limits.max_batch_events, max(1, limits.queue_capacity // 4))
        room = limits.max_batch_bytes
        size = sum(len(stored.frame) for stored in batch)
        while True:
            while len(batch) < limit and size < room:
                try:
                    message = inbox.get_nowait()
                except trio.WouldBlock:
                    break
                if not isinstance(message, EventStored):
                    return batch, message
                batch.append(message)
                size += len(message.frame)
            if len(batch) >= limit or size >= room:
                return batch, None
            await trio.lowlevel.checkpoint()
            if not len(inbox):
                return batch, None

    def fan_out(self, stored: EventStored) -> None:
        """Fold one stored event and send or queue its frame (see `fan_out_batch`)."""
        self.fan_out_batch([stored])

    def fan_out_batch(self, batch: list[EventStored]) -> None:
        """Fold stored events and hand their frames (each built once) to every interested viewer.

        An idle viewer with nothing queued gets all the frames it wants in one non-blocking
        write from here; the frames for the viewers that want every type are joined once and
        shared. Any other viewer gets them appended to its outbox, for its send task.
        """
        counts = self.stats.events_by_type
        fresh: list[tuple[int, str, bytes]] = []
        for stored in batch:
            envelope = decode_envelope(stored.frame)
            if not self.state.apply(stored.id, stored.type, envelope.data, envelope.timestamp):
                continue  # already folded (it was in the log when the snapshot was rebuilt)
            counts[stored.type] = counts.get(stored.type, 0) + 1
            fresh.append((stored.id, stored.type, text_frame(stored.frame)))
        if not fresh:
            return
        first_id, last_id = fresh[0][0], fresh[-1][0]
        joined: dict[frozenset[str] | None, tuple[bytes, int]] = {}
        stats = self.stats
        overflowed = []
        for viewer in self.viewers.values():
            outbox = viewer.outbox
            if (
                not viewer.sending
                and not viewer.closing
                and not outbox.items
                and outbox.partial is None
            ):
                # The direct path. The frames the viewer wants: shared by every viewer with
                # the same filter, unless it is already past some of them (after a replay).
                if first_id > viewer.last_sent:
                    wire, count = joined.get(viewer.types) or joined.setdefault(
                        viewer.types, _join(fresh, viewer.types, 0)
                    )
                else:
                    wire, count = _join(fresh, viewer.types, viewer.last_sent)
                if not count:
                    continue
                # fileno() is asked each time, never cached: once the socket is closed its
                # number can be handed to a new connection, and fileno() is then -1.
                if (fd := viewer.sock.fileno()) >= 0 and try_write_now(
                    fd, viewer.lock, outbox, wire
                ):
                    viewer.last_sent = last_id
                    stats.direct_writes += 1
                    stats.messages_sent += count
                    stats.bytes_sent += len(wire)
                    continue
            for item in fresh:
                if viewer.wants(item[1]) and not outbox.put(item):
                    overflowed.append(viewer)
                    break
        for viewer in overflowed:
            self._overflowed(viewer)

    def _overflowed(self, viewer: Viewer) -> None:
        # The outbox is emptied and the send task sees `Overflowed`. Bound the write in flight;
        # the send task then closes with 1013 or, if the write cannot finish, aborts.
        self.stats.closed_overflow += 1
        viewer.closing = True
        viewer.send_scope.deadline = min(
            viewer.send_scope.deadline, trio.current_time() + self.limits.close_timeout
        )

    def get_connection_stats(self) -> dict[str, Any]:
        """Active, accepted, rejected, sent, overflow closes and per-type counts."""
        s = self.stats
        return {
            "url": self.url,
            "listen_error": self.listen_error,
            "active": len(self.viewers),
            "max_viewers": self.limits.max_viewers,
            "total_accepted": s.total_accepted,
            "rejected": s.rejected_origin + s.rejected_limit + s.rejected_request,
            "rejected_by_reason": {
                "origin": s.rejected_origin,
                "viewer_limit": s.rejected_limit,
                "bad_request": s.rejected_request,
            },
            "messages_sent": s.messages_sent,
            "bytes_sent": s.bytes_sent,
            "writes": s.writes,
            "closed_overflow": s.closed_overflow,
            "closed_dead": s.closed_dead,
            "closed_policy": s.closed_policy,
            "client_errors": s.client_errors,
            "direct_writes": s.direct_writes,
            "queued": sum(len(v.outbox) for v in self.viewers.values()),
            "events_by_type": dict(s.events_by_type),
            "last_event_id": self.state.last_event_id,
        }

    # -- one viewer ----------------------------------------------------------------------------

    def _origin_allowed(self, request: WebSocketRequest) -> bool:
        origins = [v for k, v in request.headers if k.lower() == b"origin"]
        if not origins:
            return True  # not a browser: cross-site WebSocket hijacking needs one
        if "*" in self.allowed_origins:
            return True
        origin = origins[0].decode("latin-1").rstrip("/")
        return origin in self.allowed_origins or self._is_own_page(origin, request)

    def _is_own_page(self, origin: str, request: WebSocketRequest) -> bool:
        """True for the garden's own viewer page: same host as this socket, our HTTP port."""
        own = self.addresses.get("http")
        # trio-websocket keeps the Host header on the wsproto handshake event, not in
        # `headers` (h11 takes it out); fall back to the address the client connected to.
        host_header = getattr(getattr(request, "_event", None), "host", None)
        local = getattr(request.local, "address", None)
        if not own:
            return False
        try:
            page, ours = urlsplit(origin), urlsplit(own)
            host = urlsplit("//" + host_header).hostname if host_header else str(local)
        except ValueError:
            return False
        return (
            page.scheme in ("http", "https")
            and page.hostname is not None
            and page.hostname == host
            and page.port == ours.port
        )

    async def _reject(
        self, request: WebSocketRequest, status: int, error: str, detail: str
    ) -> None:
        body = msgspec.json.encode({"error": error, "detail": detail})
        await request.reject(
            status, extra_headers=[(b"content-type", b"application/json")], body=body
        )

    async def _serve(self, request: WebSocketRequest) -> None:
        # Runs in the actor's nursery: one viewer's failure must never take the actor down.
        try:
            await self._handshake(request)
        except ConnectionClosed:
            pass
        except Exception:
            self.log.exception("viewer session failed")

    async def _handshake(self, request: WebSocketRequest) -> None:
        url = urlsplit(request.path)
        if url.path != "/ws":
            self.stats.rejected_request += 1
            await self._reject(request, 404, "not_found", "the viewer endpoint is /ws")
            return
        if not self._origin_allowed(request):
            self.stats.rejected_origin += 1
            await self._reject(
                request, 403, "origin_not_allowed", "Origin is not in GREENHOUSE_ALLOWED_ORIGINS"
            )
            return
        since: int | None = None
        raw = parse_qs(url.query).get("since")
        if raw:
            try:
                since = int(raw[0])
                if since < 0:
                    raise ValueError
            except ValueError:
                self.stats.rejected_request += 1
                await self._reject(
                    request, 400, "bad_since", "since must be a non-negative integer"
                )
                return
        conn = await request.accept()
        if len(self.viewers) >= self.limits.max_viewers:
            self.stats.rejected_limit += 1
            await conn.aclose(CLOSE_OVERFLOW, f"viewer limit reached ({self.limits.max_viewers})")
            return
        try:
            check_preframe_support(conn)
        except PreframedUnsupported as error:
            self.log.error("cannot serve viewer: %s", error)
            await conn.aclose(CLOSE_INTERNAL, "server cannot frame for this connection")
            return
        self._shrink_send_buffer(conn)
        await self._viewer_session(conn, since)

    def _shrink_send_buffer(self, conn: WebSocketConnection) -> None:
        size = self.limits.send_buffer_bytes
        sock = getattr(conn._stream, "socket", None)
        if size is not None and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)

    async def _viewer_session(self, conn: WebSocketConnection, since: int | None) -> None:
        viewer = Viewer(
            id=secrets.token_hex(8),
            conn=conn,
            outbox=ViewerOutbox(self.limits.queue_capacity),
            lock=await install_handoff_lock(conn),
            sock=conn._stream.socket,
            tokens=float(self.limits.inbound_burst),
            refilled=trio.current_time(),
        )
        # Registered and snapshotted with no checkpoint in between: every event folded into the
        # snapshot is below `last_sent`, every later one lands in the outbox.
        self.viewers[viewer.id] = viewer
        self.stats.total_accepted += 1
        snapshot = None
        if since is None:
            viewer.last_sent = self.state.last_event_id
            snapshot = self._control(
                "snapshot",
                self.state.snapshot(live_viewers=len(self.viewers)),
                self.state.last_event_id,
            )
        try:
            await self.publish(
                ViewerConnected(connection_id=viewer.id, live_viewers=len(self.viewers))
            )
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    self._until_done, nursery, viewer, self._send_loop, since, snapshot
                )
                nursery.start_soon(self._until_done, nursery, viewer, self._receive_loop)
                nursery.start_soon(self._until_done, nursery, viewer, self._keepalive)
        finally:
            self.viewers.pop(viewer.id, None)
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + 1.0
                await self.publish(
                    ViewerDisconnected(connection_id=viewer.id, live_viewers=len(self.viewers))
                )

    @staticmethod
    async def _until_done(nursery: trio.Nursery, viewer: Viewer, fn: Any, *args: Any) -> None:
        # The first of a viewer's tasks to finish ends the session, except while an overflowed
        # viewer is being closed: then the send task (bounded by close_timeout) has the last word.
        try:
            await fn(viewer, *args)
        except ConnectionClosed:
            if viewer.closing and fn.__name__ != "_send_loop":
                return
        nursery.cancel_scope.cancel()

    def _control(self, kind: str, data: Any, event_id: int | None = None) -> bytes:
        frame = ControlFrame(event_id, kind, data, iso_timestamp(self.clock.time()))
        return text_frame(_control.encode(frame))

    async def _write(self, viewer: Viewer, frames: list[bytes]) -> None:
        written = await send_frames(viewer.conn, frames)
        self.stats.writes += 1
        self.stats.messages_sent += len(frames)
        self.stats.bytes_sent += written

    async def _send_loop(self, viewer: Viewer, since: int | None, snapshot: bytes | None) -> None:
        with viewer.send_scope:
            try:
                if snapshot is not None:
                    await self._write(viewer, [snapshot])
                if since is not None:
                    await self._replay(viewer, since)
                await self._live(viewer)
            except Overflowed:
                await viewer.conn.aclose(
                    CLOSE_OVERFLOW, f"viewer fell behind; reconnect with since={viewer.last_sent}"
                )
        if viewer.send_scope.cancelled_caught:
            # The write in flight did not finish in time: a partial frame may be on the wire,
            # so nothing more can be said on this connection.
            await abort_connection(viewer.conn)

    async def _live(self, viewer: Viewer) -> None:
        outbox = viewer.outbox
        while True:
            viewer.sending = False
            await outbox.wait()
            viewer.sending = True
            if outbox.partial is not None:
                await self._finish_partial(viewer)
            if not outbox.items:
                continue
            frames = []
            for item in outbox.take(self.limits.max_batch_bytes):
                if item is _RESUME:
                    if frames:
                        await self._write(viewer, frames)
                        frames = []
                    assert viewer.resume_to is not None
                    await self._replay(viewer, viewer.resume_to)
                    continue
                event_id, event_type, wire = item
                if event_id > viewer.last_sent and viewer.wants(event_type):
                    frames.append(wire)
                    viewer.last_sent = event_id
            if frames:
                await self._write(viewer, frames)
            else:
                await trio.lowlevel.checkpoint()

    async def _finish_partial(self, viewer: Viewer) -> None:
        """Write the rest of a frame the fan-out began, then release the lock it kept."""
        rest, viewer.outbox.partial = viewer.outbox.partial, None
        assert rest is not None
        try:
            await viewer.conn._stream.send_all(rest)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await abort_connection(viewer.conn)
            raise ConnectionClosed(viewer.conn.closed) from None
        finally:
            viewer.lock.release()

    async def _replay(self, viewer: Viewer, since: int) -> None:
        """Send every stored event with id > since (as filtered), oldest first, then go live."""
        viewer.resume_to = None
        # The log may be ahead of what this actor has folded so far; ask the store too.
        last = max(self.state.last_event_id, self.store.last_event_id())
        await self._write(viewer, [self._control("resumed", {"since": since}, last)])
        if since > last:
            await self._send_error(
                viewer,
                "since_ahead",
                f"since={since} is past the last event ({last}); "
                "reconnect without since for a snapshot",
            )
        viewer.last_sent = since
        conn = self.store.reader()
        try:
            while True:
                types = sorted(viewer.types) if viewer.types is not None else None
                if types == []:
                    return  # subscribed to nothing: nothing to replay
                # Through the clock (see `run`): inline under a MockClock, where a slow thread
                # let virtual time pass and a resumed viewer look stuck at its `since`.
                rows = await self.clock.run_sync(
                    events_since, conn, viewer.last_sent, self.limits.replay_page, types
                )
                if not rows:
                    # Caught up with the log; anything newer is (or will be) in the queue, and
                    # whatever in the queue is not newer is skipped by id.
                    return
                await self._write(viewer, [text_frame(row.frame()) for row in rows])
                viewer.last_sent = rows[-1].id
        finally:
            conn.close()

    async def _keepalive(self, viewer: Viewer) -> None:
        while True:
            await self.clock.sleep(self.limits.ping_interval)
            with trio.move_on_after(self.limits.ping_timeout) as scope:
                await viewer.conn.ping()
            if scope.cancelled_caught:
                self.stats.closed_dead += 1
                await abort_connection(viewer.conn)
                return

    # -- client actions ------------------------------------------------------------------------

    def _allow_inbound(self, viewer: Viewer) -> bool:
        now = trio.current_time()
        rate, burst = self.limits.inbound_rate, self.limits.inbound_burst
        viewer.tokens = min(burst, viewer.tokens + (now - viewer.refilled) * rate)
        viewer.refilled = now
        if viewer.tokens >= 1.0:
            viewer.tokens -= 1.0
            return True
        return False

    async def _send_error(self, viewer: Viewer, error: str, detail: str) -> None:
        self.stats.client_errors += 1
        await self._write(viewer, [self._control("error", {"error": error, "detail": detail})])

    async def _receive_loop(self, viewer: Viewer) -> None:
        while True:
            message = await viewer.conn.get_message()
            if self._allow_inbound(viewer):
                viewer.violations = 0
            else:
                viewer.violations += 1
                if viewer.violations >= self.limits.inbound_violations:
                    self.stats.closed_policy += 1
                    await viewer.conn.aclose(CLOSE_POLICY, "too many messages")
                    return
                if viewer.violations == 1:
                    await self._send_error(
                        viewer, "rate_limited", "slow down: messages are being dropped"
                    )
                continue
            await self._act(viewer, message)

    async def _act(self, viewer: Viewer, message: str | bytes) -> None:
        if isinstance(message, bytes):
            await self._send_error(viewer, "bad_frame", "send JSON text frames")
            return
        try:
            action = _client.decode(message)
        except msgspec.ValidationError as error:
            await self._send_error(viewer, "bad_message", str(error))
            return
        except msgspec.DecodeError:
            await self._send_error(viewer, "bad_json", "the message is not valid JSON")
            return
        if action.action == "ping":
            await self._write(viewer, [self._control("pong", {})])
        elif action.action == "subscribe":
            await self._subscribe(viewer, action.types)
        elif action.action == "resume":
            if action.since is None or action.since < 0:
                await self._send_error(viewer, "bad_message", "resume needs a non-negative since")
                return
            viewer.resume_to = action.since
            if not viewer.outbox.put(_RESUME):
                self._overflowed(viewer)
        else:
            await self._send_error(
                viewer,
                "unknown_action",
                f"unknown action {action.action[:40]!r}; use subscribe, ping or resume",
            )

    async def _subscribe(self, viewer: Viewer, types: list[str] | None) -> None:
        if types is None:
            viewer.types = None
        else:
            unknown = sorted(set(types) - KNOWN_TYPES)
            if unknown:
                shown = ", ".join(t[:40] for t in unknown[:5])
                await self._send_error(viewer, "unknown_type", f"unknown event types: {shown}")
                return
            viewer.types = frozenset(types)
        shown_types = None if viewer.types is None else sorted(viewer.types)
        await self._write(viewer, [self._control("subscribed", {"types": shown_types})])
