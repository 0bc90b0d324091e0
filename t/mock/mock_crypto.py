"""Web Push cryptography for the mock push service and its test client.

An implementation independent of lib/ (python-cryptography only), so the
mock checks our C code instead of agreeing with it by construction:

  * RFC 8291 / RFC 8188 aes128gcm: decrypt as the user agent (the mock)
    and encrypt as an application server (t/mock/pushclient.py);
  * RFC 8292 VAPID: verify an ES256 JWT with the key from "k=" and sign
    one (the client).

Every failure raises CryptoError with a short reason for logs and bodies.
"""

import base64
import hashlib
import hmac
import json
import os
import struct

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature, encode_dss_signature)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

P256_PUB_LEN = 65
AUTH_LEN = 16
SALT_LEN = 16
HEADER_LEN = 86           # salt 16 + rs 4 + idlen 1 + keyid 65
TAG_LEN = 16
MAX_VAPID_TTL = 24 * 3600


class CryptoError(Exception):
    """A body that does not decrypt or a token that does not verify."""


# ---- encodings -----------------------------------------------------------

def b64u_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text, what="value"):
    """Strict base64url, '=' padding optional (RFC 4648 section 5)."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    body = text.rstrip("=")
    if not body or len(body) % 4 == 1 or any(
            c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789-_" for c in body):
        raise CryptoError("%s is not base64url" % what)
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise CryptoError("%s is not base64url" % what)


# ---- P-256 ---------------------------------------------------------------

def public_bytes(key):
    """The 65-byte uncompressed point of a private or public key."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.X962,
                            serialization.PublicFormat.UncompressedPoint)


def load_public(raw, what="key"):
    """A P-256 public key from 65 bytes; off-curve points are refused."""
    if len(raw) != P256_PUB_LEN or raw[0] != 4:
        raise CryptoError("%s is not an uncompressed P-256 point" % what)
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                            raw)
    except ValueError:
        raise CryptoError("%s is not on P-256" % what)


def load_private(raw):
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def private_bytes(key):
    return key.private_numbers().private_value.to_bytes(32, "big")


def new_user_agent_keys():
    """What a browser makes at subscribe time: ECDH key pair + auth secret."""
    return ec.generate_private_key(ec.SECP256R1()), os.urandom(AUTH_LEN)


# ---- RFC 8291 key schedule ----------------------------------------------

def _hmac(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def _cek_and_nonce(ecdh_secret, auth, ua_public, as_public, salt):
    prk_key = _hmac(auth, ecdh_secret)
    key_info = b"WebPush: info\x00" + ua_public + as_public
    ikm = _hmac(prk_key, key_info + b"\x01")
    prk = _hmac(salt, ikm)
    cek = _hmac(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
    nonce = _hmac(prk, b"Content-Encoding: nonce\x00\x01")[:12]
    return cek, nonce


def decrypt(body, ua_private, auth):
    """Decrypt a Web Push body as the user agent.

    Returns (plaintext, as_public).  Web Push allows exactly one record
    with a 65-byte keyid (RFC 8291 section 4), so anything else fails.
    """
    if len(body) < HEADER_LEN + TAG_LEN + 1:
        raise CryptoError("body shorter than the aes128gcm header + a record")
    salt = body[:16]
    rs, idlen = struct.unpack(">IB", body[16:21])
    if rs < 18:
        raise CryptoError("record size %d < 18" % rs)
    if idlen != P256_PUB_LEN:
        raise CryptoError("idlen %d, Web Push needs 65" % idlen)
    as_public = bytes(body[21:HEADER_LEN])
    record = body[HEADER_LEN:]
    if len(record) > rs:
        raise CryptoError("more than one record (record size %d)" % rs)

    as_key = load_public(as_public, "keyid (sender key)")
    ua_public = public_bytes(ua_private)
    secret = ua_private.exchange(ec.ECDH(), as_key)
    cek, nonce = _cek_and_nonce(secret, auth, ua_public, as_public, salt)
    try:
        padded = AESGCM(cek).decrypt(nonce, bytes(record), None)
    except InvalidTag:
        raise CryptoError("AES-GCM tag mismatch (wrong keys or corrupted)")

    end = len(padded.rstrip(b"\x00"))
    if end == 0:
        raise CryptoError("record is all padding, no delimiter")
    if padded[end - 1] != 2:
        raise CryptoError("last record delimiter is 0x%02x, not 0x02"
                          % padded[end - 1])
    return padded[:end - 1], as_public


def encrypt(plaintext, ua_public, auth, pad=0, as_private=None, salt=None,
            rs=4096):
    """Encrypt as an application server (the test client)."""
    as_private = as_private or ec.generate_private_key(ec.SECP256R1())
    salt = salt or os.urandom(SALT_LEN)
    as_public = public_bytes(as_private)
    secret = as_private.exchange(ec.ECDH(), load_public(ua_public))
    cek, nonce = _cek_and_nonce(secret, auth, ua_public, as_public, salt)
    record = AESGCM(cek).encrypt(nonce, plaintext + b"\x02" + b"\x00" * pad,
                                 None)
    return salt + struct.pack(">IB", rs, P256_PUB_LEN) + as_public + record


# ---- RFC 8292 VAPID -----------------------------------------------------

def parse_vapid_authorization(value):
    """Split 'vapid t=<jwt>, k=<key>' into (jwt, key text).

    Returns None when the scheme is not vapid or a parameter is missing
    (the service then answers 401: no usable credentials).
    """
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "vapid":
        return None
    params = {}
    for item in rest.split(","):
        name, eq, val = item.strip().partition("=")
        if eq:
            params[name.strip().lower()] = val.strip()
    if not params.get("t") or not params.get("k"):
        return None
    return params["t"], params["k"]


def verify_vapid(jwt, key_raw, now):
    """Verify an ES256 JWT with the raw VAPID public key; return claims.

    Checks the header, the raw r||s signature and exp's window (RFC 8292
    section 2); aud and sub are left to the caller, which knows its origin.
    """
    parts = jwt.split(".")
    if len(parts) != 3:
        raise CryptoError("JWT does not have three parts")
    try:
        header = json.loads(b64u_decode(parts[0], "JWT header"))
        claims = json.loads(b64u_decode(parts[1], "JWT claims"))
    except ValueError:
        raise CryptoError("JWT header or claims are not JSON")
    if not isinstance(header, dict) or header.get("alg") != "ES256":
        raise CryptoError("JWT alg is not ES256")
    if header.get("typ", "JWT") != "JWT":
        raise CryptoError("JWT typ is not JWT")
    if not isinstance(claims, dict):
        raise CryptoError("JWT claims are not an object")

    sig = b64u_decode(parts[2], "JWT signature")
    if len(sig) != 64:
        raise CryptoError("JWT signature is %d bytes, ES256 needs raw r||s = 64"
                          % len(sig))
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                               int.from_bytes(sig[32:], "big"))
    key = load_public(key_raw, "k")
    try:
        key.verify(der, (parts[0] + "." + parts[1]).encode("ascii"),
                   ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise CryptoError("JWT signature does not verify with k")

    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise CryptoError("exp is missing or not an integer")
    if exp <= now:
        raise CryptoError("JWT expired (exp %d <= now %d)" % (exp, now))
    if exp > now + MAX_VAPID_TTL:
        raise CryptoError("exp more than 24 h ahead (exp - now = %d s)"
                          % (exp - now))
    return claims


def sign_vapid(private_key, claims):
    """An ES256 JWT with a raw r||s signature (the test client)."""
    header = b64u_encode(b'{"typ":"JWT","alg":"ES256"}')
    body = b64u_encode(json.dumps(claims, separators=(",", ":")).encode())
    der = private_key.sign((header + "." + body).encode("ascii"),
                           ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return "%s.%s.%s" % (header, body,
                         b64u_encode(r.to_bytes(32, "big")
                                     + s.to_bytes(32, "big")))


# ---- self-test against the RFC vectors ----------------------------------

def self_test():
    """RFC 8291 Appendix A and RFC 8292 section 2.4; raises on mismatch."""
    ua = load_private(b64u_decode("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"))
    auth = b64u_decode("BTBZMqHH6r4Tts7J_aSIgg")
    body = b64u_decode(
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlml"
        "MoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4M"
        "qgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN")
    pt, _ = decrypt(body, ua, auth)
    assert pt == b"When I grow up, I want to be a watermelon", pt
    again = encrypt(pt, public_bytes(ua), auth,
                    as_private=load_private(b64u_decode(
                        "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")),
                    salt=b64u_decode("DGv6ra1nlYgDCS1FRnbzlw"))
    assert again == body, "encrypt does not reproduce RFC 8291 Appendix A"

    jwt = ("eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2"
           "guZXhhbXBsZS5uZXQiLCJleHAiOjE0NTM1MjM3NjgsInN1YiI6Im1haWx0bzpwdXN"
           "oQGV4YW1wbGUuY29tIn0.i3CYb7t4xfxCDquptFOepC9GAu_HLGkMlMuCGSK2rpiUf"
           "nK9ojFwDXb1JrErtmysazNjjvW2L9OkSSHzvoD1oA")
    k = b64u_decode("BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic"
                    "-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs")
    claims = verify_vapid(jwt, k, 1453523768 - 3600)
    assert claims["aud"] == "https://push.example.net", claims
    try:
        verify_vapid(jwt[:-2] + ("AA" if jwt[-2:] != "AA" else "AB"), k,
                     1453523768 - 3600)
        raise AssertionError("forged signature verified")
    except CryptoError:
        pass
    try:
        verify_vapid(jwt, k, 1453523768)
        raise AssertionError("expired token verified")
    except CryptoError:
        pass
