#!/usr/bin/python3
"""Mock Web Push service for the tests: stands for FCM, Mozilla and Apple.

    t/mock/pushservice.py --port 0 [--cert C --key K | --write-cert F]
                          --ready-file F [--http1-only] [--max-streams N]
                          [--strict-streams] [--wns] [--delay-ms N]

HTTPS only, on 127.0.0.1; ALPN offers h2 (python3-h2) and http/1.1.  It
checks every push request the way a real push service does, decrypts the
body (RFC 8291) and verifies VAPID (RFC 8292) with its own Python code,
and records what it received.  Once listening it writes the bound port to
the ready file.  Logs go to stderr.  API: t/mock/README.md.

`--self-test` checks the crypto against the RFC 8291/8292 vectors.
"""

import argparse
import asyncio
import datetime
import ipaddress
import os
import signal
import ssl
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mock_crypto  # noqa: E402
import mock_http  # noqa: E402
import mock_service  # noqa: E402


def log(msg):
    sys.stderr.write("[pushservice] %s\n" % msg)
    sys.stderr.flush()


def generate_cert(host, cert_path, key_path):
    """A one-day self-signed P-256 certificate for host (an IP)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           True)
            .sign(key, hashes.SHA256()))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def tls_context(cert, key, http1_only):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"] if http1_only else ["h2", "http/1.1"])
    return ctx


def write_ready(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)            # readers never see a half-written file


async def serve(args, ctx):
    service = mock_service.Service(args.host, log, args.wns, args.delay_ms)

    async def on_client(reader, writer):
        await mock_http.serve_connection(reader, writer, service,
                                         args.max_streams, log,
                                         args.strict_streams)

    loop = asyncio.get_running_loop()
    # a client refusing our certificate is a normal test case, not a crash
    loop.set_exception_handler(
        lambda _l, c: log("connection error: %s" % c.get("exception",
                                                          c["message"])))
    server = await asyncio.start_server(on_client, args.host, args.port,
                                        ssl=ctx, ssl_handshake_timeout=10)
    service.port = server.sockets[0].getsockname()[1]
    log("listening on %s (%s)" % (service.origin, "http/1.1 only"
                                  if args.http1_only else "h2, http/1.1"))
    if args.ready_file:
        write_ready(args.ready_file, service.port)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    log("stopped")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("--cert", help="PEM certificate (else one is generated)")
    ap.add_argument("--key", help="PEM private key for --cert")
    ap.add_argument("--write-cert", metavar="FILE",
                    help="save the generated certificate (a CA file)")
    ap.add_argument("--ready-file", metavar="FILE",
                    help="write the bound port here once listening")
    ap.add_argument("--http1-only", action="store_true",
                    help="do not offer h2 in ALPN")
    ap.add_argument("--max-streams", type=int, default=100,
                    help="HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (100)")
    ap.add_argument("--wns", action="store_true",
                    help="answer like WNS: X-WNS-Cache-Policy must agree"
                         " with the TTL (no-cache for TTL 0), else 400")
    ap.add_argument("--strict-streams", action="store_true",
                    help="refuse (RST_STREAM REFUSED_STREAM) streams beyond "
                         "--max-streams even before the client acknowledged "
                         "the SETTINGS, as nginx does")
    ap.add_argument("--delay-ms", type=int, default=0, metavar="N",
                    help="answer each push request N ms after it was fully"
                         " received (a push service's round trip; other"
                         " requests and streams are not held up)")
    ap.add_argument("--self-test", action="store_true",
                    help="check the crypto against the RFC vectors and exit")
    args = ap.parse_args()

    if args.self_test:
        mock_crypto.self_test()
        print("ok: RFC 8291 Appendix A and RFC 8292 2.4 vectors")
        return 0
    if args.delay_ms < 0:
        ap.error("--delay-ms must be >= 0")
    if bool(args.cert) != bool(args.key):
        ap.error("--cert and --key go together")

    with tempfile.TemporaryDirectory(prefix="pushservice.") as tmp:
        cert, key = args.cert, args.key
        if not cert:
            cert = args.write_cert or os.path.join(tmp, "cert.pem")
            key = os.path.join(tmp, "key.pem")
            generate_cert(args.host, cert, key)
        asyncio.run(serve(args, tls_context(cert, key, args.http1_only)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
