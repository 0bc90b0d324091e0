"""HTTP/1.1 (keep-alive) and HTTP/2 (python3-h2) over TLS, on asyncio.

Both turn requests into mock_service.Request objects and write back what
service.handle() answers.  HTTP/2 streams are answered concurrently, so a
slow (delayed) stream never holds up the others on its connection, as
on a real push service.
"""

import asyncio

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from mock_service import Request, STATUS_TEXT

MAX_HEADER_LINES = 100
MAX_DISCARD = 1 << 20       # read and drop bodies up to this, to answer 413


async def serve_connection(reader, writer, service, max_streams, log):
    ssl_obj = writer.get_extra_info("ssl_object")
    proto = ssl_obj.selected_alpn_protocol() if ssl_obj else None
    service.connection_opened(proto or "http/1.1")
    try:
        if proto == "h2":
            await H2Server(reader, writer, service, max_streams, log).run()
        else:
            await serve_http1(reader, writer, service)
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        pass
    finally:
        writer.close()


# ---- HTTP/1.1 -----------------------------------------------------------

async def serve_http1(reader, writer, service):
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
                                            "http/1.1"))
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
    def __init__(self, reader, writer, service, max_streams, log):
        self.reader = reader
        self.writer = writer
        self.service = service
        self.log = log
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False,
                                             header_encoding="utf-8"))
        self.max_streams = max_streams
        self.streams = {}           # stream id -> [headers, bytearray body]
        self.tasks = set()
        self.window_open = {}       # stream id -> asyncio.Event

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
            self.streams[ev.stream_id] = [ev.headers, bytearray()]
            self.service.streams_seen(len(self.streams))
        elif isinstance(ev, h2.events.DataReceived):
            st = self.streams.get(ev.stream_id)
            if st is not None:
                st[1] += ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length,
                                                ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            st = self.streams.get(ev.stream_id)
            if st is not None:
                t = asyncio.ensure_future(self.respond(ev.stream_id, *st))
                self.tasks.add(t)
                t.add_done_callback(self.tasks.discard)
        elif isinstance(ev, h2.events.StreamReset):
            self.streams.pop(ev.stream_id, None)
            self.wake(ev.stream_id)
        elif isinstance(ev, h2.events.WindowUpdated):
            self.wake(ev.stream_id)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            return False
        return True

    async def respond(self, sid, headers, body):
        pseudo = {n: v for n, v in headers if n.startswith(":")}
        req = Request(pseudo.get(":method", ""), pseudo.get(":path", "/"),
                      [(n, v) for n, v in headers if not n.startswith(":")],
                      bytes(body), "h2")
        resp = await self.service.handle(req)
        if self.streams.pop(sid, None) is None:
            return                  # the client reset the stream meanwhile
        out = [(":status", str(resp.status))] + resp.headers + [
            ("content-length", str(len(resp.body)))]
        try:
            self.conn.send_headers(sid, out, end_stream=not resp.body)
            self.flush()
            await self.send_body(sid, resp.body)
        except h2.exceptions.StreamClosedError:
            return

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
