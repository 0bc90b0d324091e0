"""HTTP/1.1 (keep-alive) and HTTP/2 (python3-h2) over TLS, on asyncio.

Both turn requests into mock_service.Request objects and write back what
service.handle() answers.  HTTP/2 streams are answered concurrently, so a
slow (delayed) stream never holds up the others on its connection, as
on a real push service.

Transport steps (a behaviour step {"h2": ...}, mock_service.Behaviour) are
carried out here instead of an answer:
    refuse  RST_STREAM(REFUSED_STREAM) on that stream (HTTP/2)
    goaway  GOAWAY with last_stream_id below the stream; streams above it
            are never processed; the connection closes once the streams
            at or below it are answered (HTTP/2)
    drop    the TCP connection is closed at once, without close_notify
Over HTTP/1.1, which cannot say "not processed", all three drop.
"""

import asyncio

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame

from mock_service import Request, STATUS_TEXT

MAX_HEADER_LINES = 100
MAX_DISCARD = 1 << 20       # read and drop bodies up to this, to answer 413


async def serve_connection(reader, writer, service, max_streams, log,
                           strict_streams=False):
    ssl_obj = writer.get_extra_info("ssl_object")
    proto = ssl_obj.selected_alpn_protocol() if ssl_obj else None
    conn = service.connection_opened(proto or "http/1.1")
    try:
        if proto == "h2":
            await H2Server(reader, writer, service, max_streams, log,
                           conn, strict_streams).run()
        else:
            await serve_http1(reader, writer, service, conn)
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        pass
    finally:
        writer.close()


def drop(writer):
    """Close the TCP connection at once: no answer, no TLS close_notify."""
    writer.transport.abort()


# ---- HTTP/1.1 -----------------------------------------------------------

async def serve_http1(reader, writer, service, conn=None):
    while True:
        line = await reader.readline()
        if not line:
            return
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            await write_http1(writer, 400, [], b"bad request line\n", False)
            return
        method, target, version = parts

        headers = []
        while True:
            hline = await reader.readline()
            if hline in (b"\r\n", b"\n", b""):
                break
            if len(headers) >= MAX_HEADER_LINES:
                await write_http1(writer, 431, [], b"", False)
                return
            name, _, value = hline.decode("latin-1").partition(":")
            headers.append((name.strip().lower(), value.strip()))

        keep = version == "HTTP/1.1" and not any(
            n == "connection" and v.lower() == "close" for n, v in headers)
        if any(n == "transfer-encoding" for n, _ in headers):
            # Web Push requires Content-Length; refuse chunked bodies
            await write_http1(writer, 411, [], b"chunked bodies refused\n",
                              False)
            return
        lengths = [v for n, v in headers if n == "content-length"]
        length = int(lengths[0]) if lengths and lengths[0].isdigit() else 0
        if length > MAX_DISCARD:
            await write_http1(writer, 413, [], b"", False)
            return
        body = await reader.readexactly(length) if length else b""

        resp = await service.handle(Request(method, target, headers, body,
                                            "http/1.1", conn))
        if resp.transport:
            service.transport_done("drop", resp.record,
                                   "%s over HTTP/1.1: connection dropped"
                                   % resp.transport)
            drop(writer)
            return
        await write_http1(writer, resp.status, resp.headers, resp.body, keep)
        if not keep:
            return


async def write_http1(writer, status, headers, body, keep):
    lines = ["HTTP/1.1 %d %s" % (status, STATUS_TEXT.get(status, "Status"))]
    lines += ["%s: %s" % (n, v) for n, v in headers]
    lines.append("content-length: %d" % len(body))
    lines.append("connection: %s" % ("keep-alive" if keep else "close"))
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


# ---- HTTP/2 -------------------------------------------------------------

class H2Server:
    def __init__(self, reader, writer, service, max_streams, log, conn_no=None,
                 strict_streams=False):
        self.reader = reader
        self.writer = writer
        self.service = service
        self.log = log
        self.conn_no = conn_no
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False,
                                             header_encoding="utf-8"))
        self.max_streams = max_streams
        # strict: a stream beyond max_streams open at once is refused even
        # before the client acknowledged our SETTINGS (as nginx does)
        self.strict = strict_streams
        self.excess = set()         # stream ids to refuse when they end
        self.streams = {}           # stream id -> [headers, bytearray body]
        self.tasks = set()
        self.window_open = {}       # stream id -> asyncio.Event
        self.records = {}           # stream id -> its messages record
        self.settings_acked = False # the client acknowledged our SETTINGS
        self.max_routed = 0         # highest stream id handed to the service
        self.goaway_last = None     # last_stream_id of our GOAWAY, once sent
        self.dropped = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)

    async def run(self):
        self.conn.initiate_connection()
        self.conn.update_settings({
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS:
                self.max_streams})
        self.flush()
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    return
                try:
                    events = self.conn.receive_data(data)
                except h2.exceptions.ProtocolError as e:
                    # e.g. more streams than MAX_CONCURRENT_STREAMS allows
                    self.log("h2 protocol error from client: %r" % e)
                    self.flush()
                    return
                for ev in events:
                    if not self.event(ev):
                        self.flush()
                        return
                self.flush()
                await self.writer.drain()
        finally:
            for t in self.tasks:
                t.cancel()

    def event(self, ev):
        """Handle one h2 event; False ends the connection."""
        if isinstance(ev, h2.events.RequestReceived):
            if self.beyond_goaway(ev.stream_id):
                return True         # never processed
            if self.strict and len(self.streams) >= self.max_streams:
                self.excess.add(ev.stream_id)
            else:
                self.streams[ev.stream_id] = [ev.headers, bytearray()]
            self.service.streams_seen(len(self.streams) + len(self.excess),
                                      self.settings_acked)
        elif isinstance(ev, h2.events.SettingsAcknowledged):
            if h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS in \
                    ev.changed_settings:
                self.settings_acked = True
        elif isinstance(ev, h2.events.DataReceived):
            st = self.streams.get(ev.stream_id)
            if st is not None:
                st[1] += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length,
                                                ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            if ev.stream_id in self.excess:
                self.excess.discard(ev.stream_id)
                self.refuse(ev.stream_id)
                self.service.transport_done(
                    "refuse_excess", None, "stream %d: more than %d streams"
                    " open" % (ev.stream_id, self.max_streams))
                return True
            st = self.streams.get(ev.stream_id)
            if st is not None:
                t = asyncio.ensure_future(self.respond(ev.stream_id, *st))
                self.tasks.add(t)
                t.add_done_callback(self.tasks.discard)
        elif isinstance(ev, h2.events.StreamReset):
            self.excess.discard(ev.stream_id)
            if self.streams.pop(ev.stream_id, None) is not None:
                self.service.client_reset(self.records.get(ev.stream_id))
            self.wake(ev.stream_id)
            self.maybe_close_after_goaway()
        elif isinstance(ev, h2.events.WindowUpdated):
            self.wake(ev.stream_id)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            return False
        return True

    def beyond_goaway(self, sid):
        return self.goaway_last is not None and sid > self.goaway_last

    async def respond(self, sid, headers, body):
        if self.beyond_goaway(sid) or self.dropped:
            self.streams.pop(sid, None)
            return                  # above our GOAWAY: never processed
        pseudo = {n: v for n, v in headers if n.startswith(":")}
        req = Request(pseudo.get(":method", ""), pseudo.get(":path", "/"),
                      [(n, v) for n, v in headers if not n.startswith(":")],
                      bytes(body), "h2", self.conn_no, sid)
        # routed (and recorded) at once, in the order the streams ended
        self.max_routed = max(self.max_routed, sid)
        resp = self.service.begin(req)
        if resp.record is not None:
            self.records[sid] = resp.record
        resp = await self.service.finish(req, resp)
        if resp.transport:
            self.transport(sid, resp)
            return
        try:
            await self.answer(sid, resp)
        finally:
            self.records.pop(sid, None)
            self.maybe_close_after_goaway()

    async def answer(self, sid, resp):
        if self.streams.pop(sid, None) is None:
            return                  # the client reset the stream meanwhile
        if self.dropped:
            return
        out = [(":status", str(resp.status))] + resp.headers + [
            ("content-length", str(len(resp.body)))]
        try:
            if resp.reset_after:
                # the whole answer, then RST_STREAM(NO_ERROR) instead of
                # END_STREAM (RFC 9113 8.1: answered, stop sending)
                self.conn.send_headers(sid, out, end_stream=False)
                if resp.body:
                    self.conn.send_data(sid, resp.body, end_stream=False)
                self.conn.reset_stream(sid, h2.errors.ErrorCodes.NO_ERROR)
                self.flush()
                self.service.transport_done("answer_then_reset", None,
                                            "stream %d: %d then RST_STREAM"
                                            % (sid, resp.status))
                return
            self.conn.send_headers(sid, out, end_stream=not resp.body)
            self.flush()
            await self.send_body(sid, resp.body)
        except h2.exceptions.StreamClosedError:
            return

    def transport(self, sid, resp):
        """Carry out a transport step for stream sid instead of answering."""
        record = self.records.pop(sid, None)
        if self.streams.pop(sid, None) is None or self.dropped:
            return                  # the client reset it meanwhile
        kind = resp.transport
        if kind == "drop":
            self.service.transport_done("drop", record,
                                        "connection dropped, no answer")
            self.dropped = True
            self.flush()
            drop(self.writer)
            return
        if kind == "goaway" and self.goaway_last is None:
            # Every stream processed so far stays at or below last_stream_id;
            # this one must be above it.  If a later stream was already
            # processed, last_stream_id covers it and this one is refused.
            last = max(self.max_routed if self.max_routed != sid else 0,
                       sid - 2)
            self.goaway_last = last
            for other in [s for s in self.streams if s > last]:
                del self.streams[other]     # received, never processed
            self.flush()
            self.writer.write(hyperframe.frame.GoAwayFrame(
                0, last_stream_id=last, error_code=0).serialize())
            detail = "GOAWAY last_stream_id=%d, stream %d" % (last, sid)
            if last > sid:
                self.refuse(sid)
                detail += " refused (a later stream was already processed)"
            self.service.transport_done("goaway", record, detail)
            self.maybe_close_after_goaway()
            return
        # "refuse", or a second "goaway" on a draining connection
        self.refuse(sid)
        self.service.transport_done(kind if kind == "refuse" else "refuse",
                                    record, "RST_STREAM REFUSED_STREAM on"
                                    " stream %d" % sid)
        self.maybe_close_after_goaway()

    def refuse(self, sid):
        try:
            self.conn.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
        except h2.exceptions.StreamClosedError:
            pass
        self.flush()

    def maybe_close_after_goaway(self):
        """After our GOAWAY: close once no stream at or below it is open."""
        if self.goaway_last is None or self.dropped:
            return
        if any(s <= self.goaway_last for s in self.streams):
            return
        self.dropped = True         # nothing more is answered
        try:
            self.conn.close_connection(last_stream_id=self.goaway_last)
        except h2.exceptions.ProtocolError:
            pass
        self.flush()
        self.writer.close()

    async def send_body(self, sid, body):
        """DATA frames within flow control (message listings can be big)."""
        while body:
            room = min(self.conn.local_flow_control_window(sid),
                       self.conn.max_outbound_frame_size)
            if room <= 0:
                ev = self.window_open.setdefault(sid, asyncio.Event())
                await ev.wait()
                ev.clear()
                continue
            chunk, body = body[:room], body[room:]
            self.conn.send_data(sid, chunk, end_stream=not body)
            self.flush()
        self.window_open.pop(sid, None)

    def wake(self, sid):
        """A WINDOW_UPDATE (or reset): let blocked senders try again."""
        for s, ev in self.window_open.items():
            if sid in (0, s):
                ev.set()
