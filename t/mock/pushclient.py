#!/usr/bin/python3
"""A Web Push sender in Python, to prove the mock checks what it claims.

    t/mock/pushclient.py --subscription JSON --payload TEXT --cafile PEM
        [--vapid-public B64 --vapid-private B64 | fresh keys]
        [--sub mailto:...] [--break WHAT]... [--count N [--h2]]

Sends one correct request (HTTP/1.1) unless told to break it:
    no-ttl, bad-ttl, bad-urgency, long-topic, no-auth, forge-jwt,
    wrong-aud, expired, far-exp, bad-sub, corrupt-body, bad-delimiter,
    crypto-key, big-body
Prints the status on the first line, then the response body.

--count N sends N requests at once, each encrypted and signed on its own:
over N HTTP/1.1 connections in parallel, or with --h2 as N concurrent
streams of one HTTP/2 connection (no more open at once than the service's
SETTINGS_MAX_CONCURRENT_STREAMS).  Prints one line per request, in order:
the status, a space, the body on one line.
"""

import argparse
import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mock_crypto as mc  # noqa: E402

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402


def build(sub, payload, vapid_priv, subject, broken):
    url = urllib.parse.urlsplit(sub["endpoint"])
    origin = "%s://%s" % (url.scheme, url.netloc)
    ua_public = mc.b64u_decode(sub["keys"]["p256dh"])
    auth = mc.b64u_decode(sub["keys"]["auth"])

    body = mc.encrypt(payload, ua_public, auth)
    if "corrupt-body" in broken:
        body = body[:-1] + bytes([body[-1] ^ 1])
    if "bad-delimiter" in broken:       # valid AEAD, delimiter 0x01
        body = encrypt_with_delimiter(payload, ua_public, auth, b"\x01")
    if "big-body" in broken:
        body = mc.encrypt(payload + b"x" * 4000, ua_public, auth)

    claims = {"aud": origin, "exp": int(time.time()) + 12 * 3600,
              "sub": subject}
    if "wrong-aud" in broken:
        claims["aud"] = origin + "/push"
    if "expired" in broken:
        claims["exp"] = int(time.time()) - 10
    if "far-exp" in broken:
        claims["exp"] = int(time.time()) + 25 * 3600
    if "bad-sub" in broken:
        claims["sub"] = "ops@example.com"
    jwt = mc.sign_vapid(vapid_priv, claims)
    if "forge-jwt" in broken:           # claims changed after signing
        h, _, s = jwt.split(".")
        claims["sub"] = "mailto:mallory@example.com"
        jwt = "%s.%s.%s" % (h, mc.b64u_encode(json.dumps(claims).encode()),
                            s)

    headers = {"TTL": "60", "Content-Encoding": "aes128gcm",
               "Content-Type": "application/octet-stream",
               "Authorization": "vapid t=%s, k=%s" % (
                   jwt, mc.b64u_encode(mc.public_bytes(vapid_priv)))}
    if "no-ttl" in broken:
        del headers["TTL"]
    if "bad-ttl" in broken:
        headers["TTL"] = "-1"
    if "bad-urgency" in broken:
        headers["Urgency"] = "urgent"
    if "long-topic" in broken:
        headers["Topic"] = "t" * 33
    if "no-auth" in broken:
        del headers["Authorization"]
    if "crypto-key" in broken:
        headers["Crypto-Key"] = "dh=abc"
    path = url.path + ("?" + url.query if url.query else "")
    return url.hostname, url.port or 443, path, headers, body


def encrypt_with_delimiter(payload, ua_public, auth, delim):
    """Like mc.encrypt() but with another delimiter byte (a sender bug)."""
    as_priv = ec.generate_private_key(ec.SECP256R1())
    salt = os.urandom(16)
    as_pub = mc.public_bytes(as_priv)
    secret = as_priv.exchange(ec.ECDH(), mc.load_public(ua_public))
    cek, nonce = mc._cek_and_nonce(secret, auth, ua_public, as_pub, salt)
    record = AESGCM(cek).encrypt(nonce, payload + delim, None)
    return salt + (4096).to_bytes(4, "big") + bytes([65]) + as_pub + record


def send_h1(host, port, ctx, path, headers, body):
    """One request on its own HTTP/1.1 connection: (status, body bytes)."""
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def send_many_h1(host, port, ctx, reqs):
    """Every request on its own connection, all at once (threads)."""
    out = [None] * len(reqs)

    def one(i):
        try:
            out[i] = send_h1(host, port, ctx, *reqs[i])
        except (OSError, http.client.HTTPException) as e:
            out[i] = (0, str(e).encode())

    threads = [threading.Thread(target=one, args=(i,))
               for i in range(len(reqs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def send_many_h2(host, port, ctx, reqs):
    """Every request as a stream of one HTTP/2 connection, concurrently
    (at most the service's MAX_CONCURRENT_STREAMS open at once); returns
    [(status, body)] in request order (status 0: the stream was reset)."""
    import h2.config
    import h2.connection
    import h2.events

    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection((host, port), timeout=30)
    sock = ctx.wrap_socket(raw, server_hostname=host)
    if sock.selected_alpn_protocol() != "h2":
        raise SystemExit("the service did not agree to h2")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())

    todo = list(enumerate(reqs))
    index = {}                      # stream id -> request index
    unsent = {}                     # stream id -> body still to send
    status = {}
    bodies = {}
    ended = set()
    got_settings = False
    while len(ended) < len(reqs):
        # wait for the service's SETTINGS before opening streams, so that
        # its MAX_CONCURRENT_STREAMS is known
        while got_settings and todo and conn.open_outbound_streams < \
                conn.remote_settings.max_concurrent_streams:
            i, (path, headers, body) = todo.pop(0)
            sid = conn.get_next_available_stream_id()
            hdrs = [(":method", "POST"), (":scheme", "https"),
                    (":authority", "%s:%d" % (host, port)), (":path", path)]
            hdrs += [(k.lower(), v) for k, v in headers.items()]
            hdrs.append(("content-length", str(len(body))))
            conn.send_headers(sid, hdrs, end_stream=not body)
            index[sid] = i
            if body:
                unsent[sid] = body
        for sid in list(unsent):
            body = unsent[sid]
            room = min(conn.local_flow_control_window(sid),
                       conn.max_outbound_frame_size)
            if room > 0:
                conn.send_data(sid, body[:room], end_stream=len(body) <= room)
                if len(body) <= room:
                    del unsent[sid]
                else:
                    unsent[sid] = body[room:]
        data = conn.data_to_send()
        if data:
            sock.sendall(data)
        data = sock.recv(65536)
        if not data:
            raise SystemExit("the service closed the connection")
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                got_settings = True
            elif isinstance(ev, h2.events.ResponseReceived):
                status[ev.stream_id] = int(dict(ev.headers)[":status"])
            elif isinstance(ev, h2.events.DataReceived):
                bodies[ev.stream_id] = bodies.get(ev.stream_id, b"") + ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length,
                                               ev.stream_id)
            elif isinstance(ev, (h2.events.StreamEnded,
                                 h2.events.StreamReset)):
                if ev.stream_id in index:
                    ended.add(ev.stream_id)
                    unsent.pop(ev.stream_id, None)
        data = conn.data_to_send()
        if data:
            sock.sendall(data)
    conn.close_connection()
    sock.sendall(conn.data_to_send())
    sock.close()
    out = [None] * len(reqs)
    for sid, i in index.items():
        out[i] = (status.get(sid, 0), bodies.get(sid, b""))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscription", required=True, help="toJSON() text")
    ap.add_argument("--payload", default="hello")
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--vapid-private", help="b64url scalar (else fresh)")
    ap.add_argument("--sub", default="mailto:ops@example.com")
    ap.add_argument("--break", dest="broken", action="append", default=[])
    ap.add_argument("--count", type=int, default=0,
                    help="send N requests at once (one line each)")
    ap.add_argument("--h2", action="store_true",
                    help="with --count: as streams of one HTTP/2 connection")
    args = ap.parse_args()

    sub = json.loads(args.subscription)
    key = (mc.load_private(mc.b64u_decode(args.vapid_private))
           if args.vapid_private else ec.generate_private_key(ec.SECP256R1()))
    ctx = ssl.create_default_context(cafile=args.cafile)
    if args.count > 0:
        reqs = []
        for _ in range(args.count):
            host, port, path, headers, body = build(
                sub, args.payload.encode(), key, args.sub, set(args.broken))
            reqs.append((path, headers, body))
        results = (send_many_h2 if args.h2 else send_many_h1)(host, port,
                                                              ctx, reqs)
        for st, text in results:
            print(st, " ".join(text.decode("utf-8", "replace").split()))
        return 0
    host, port, path, headers, body = build(sub, args.payload.encode(), key,
                                            args.sub, set(args.broken))
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    print(resp.status)
    print(resp.read().decode("utf-8", "replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
