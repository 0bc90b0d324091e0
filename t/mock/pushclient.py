#!/usr/bin/python3
"""A Web Push sender in Python, to prove the mock checks what it claims.

    t/mock/pushclient.py --subscription JSON --payload TEXT --cafile PEM
        [--vapid-public B64 --vapid-private B64 | fresh keys]
        [--sub mailto:...] [--break WHAT]...

Sends one correct request (HTTP/1.1) unless told to break it:
    no-ttl, bad-ttl, bad-urgency, long-topic, no-auth, forge-jwt,
    wrong-aud, expired, far-exp, bad-sub, corrupt-body, bad-delimiter,
    crypto-key, big-body
Prints the status on the first line, then the response body.
"""

import argparse
import http.client
import json
import os
import ssl
import sys
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscription", required=True, help="toJSON() text")
    ap.add_argument("--payload", default="hello")
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--vapid-private", help="b64url scalar (else fresh)")
    ap.add_argument("--sub", default="mailto:ops@example.com")
    ap.add_argument("--break", dest="broken", action="append", default=[])
    args = ap.parse_args()

    sub = json.loads(args.subscription)
    key = (mc.load_private(mc.b64u_decode(args.vapid_private))
           if args.vapid_private else ec.generate_private_key(ec.SECP256R1()))
    host, port, path, headers, body = build(sub, args.payload.encode(), key,
                                            args.sub, set(args.broken))
    ctx = ssl.create_default_context(cafile=args.cafile)
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    print(resp.status)
    print(resp.read().decode("utf-8", "replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
