"""The mock push service's application: push checks, behaviours, inspection.

Transport-free: the HTTP/1.1 and HTTP/2 servers (mock_http.py) turn each
request into a Request and send back the Response that Service.handle()
returns.  See t/mock/README.md for the API.

A push request (POST /push/<id>) goes through the checks a real push
service makes, in this order, and gets the first failure's answer:
    subscription known      404 (410 after DELETE)
    headers                 400 TTL / Urgency / Topic / encoding, 411, 413
    Authorization           401 absent or not "vapid t=, k=",
                            403 signature, aud, exp, sub, key mismatch
    body                    400 does not decrypt (RFC 8291)
Only a request that passes every check meets the subscription's scripted
behaviour (429, 503, 410, delay, ...); otherwise it is 201 Created.
"""

import asyncio
import email.utils
import itertools
import json
import re
import threading
import time
import uuid

import mock_crypto as mc

MAX_BODY = 4096                 # RFC 8030 7.2: must accept up to 4096
MAX_TTL = 30 * 24 * 3600        # autopush clamps longer TTLs to 30 days
URGENCIES = ("very-low", "low", "normal", "high")
TOPIC_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
TTL_RE = re.compile(r"^[0-9]+$")

# autopush's errno values (docs/src/errors.md) for the answers we give.
ERRNO = {
    "missing_ttl": (400, 111), "invalid_ttl": (400, 112),
    "invalid_topic": (400, 113), "invalid_urgency": (400, 114),
    "bad_encoding": (400, 110), "missing_crypto": (400, 101),
    "decrypt": (400, 110), "vapid_ecdh_same": (400, 110),
    "length_required": (411, 104), "too_large": (413, 104),
    "unauthorized": (401, 109),
    "not_found": (404, 102), "gone": (410, 106),
    "method": (405, 101),
}

STATUS_TEXT = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 410: "Gone",
    411: "Length Required", 413: "Payload Too Large",
    429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable",
}


class Request:
    """One HTTP request; header names are lowercase, values kept in order."""

    def __init__(self, method, target, headers, body, protocol, conn=None,
                 stream=None):
        self.method = method
        self.target = target
        self.path, _, self.query = target.partition("?")
        self.headers = headers          # list of (name, value)
        self.body = body
        self.protocol = protocol        # "h2" or "http/1.1"
        self.conn = conn                # connection number (1, 2, ...)
        self.stream = stream            # HTTP/2 stream id, None on HTTP/1.1
        # built once the whole request (body included) has arrived: the
        # service's delay counts from here
        self.received = time.monotonic()

    def values(self, name):
        return [v for n, v in self.headers if n == name]

    def header(self, name):
        vals = self.values(name)
        return vals[0] if vals else None

    def params(self):
        out = {}
        for item in self.query.split("&"):
            name, _, val = item.partition("=")
            if name:
                out[name] = val
        return out


class Response:
    def __init__(self, status, body=b"", headers=None, delay_ms=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode()
        self.headers = list(headers or [])
        self.delay_ms = delay_ms        # None: the service's --delay-ms
        self.push = False               # a push request (held, counted)
        self.reason = ""                # short text for the log line
        # a transport step instead of an answer: "refuse", "goaway" or
        # "drop" (the transport carries it out; status is then 0)
        self.transport = None
        self.reset_after = False        # HTTP/2: RST_STREAM after the answer
        self.record = None              # the /_mock/messages record, if any


def json_response(status, obj, headers=None):
    hdrs = [("content-type", "application/json")] + list(headers or [])
    return Response(status, json.dumps(obj, indent=1) + "\n", hdrs)


def autopush_error(kind, message):
    """autopush's JSON error body {code, errno, error, message, more_info}."""
    status, errno = ERRNO[kind]
    resp = json_response(status, {
        "code": status, "errno": errno,
        "error": STATUS_TEXT.get(status, "Error"), "message": message,
        "more_info": "http://autopush.readthedocs.io/en/latest/http.html"
                     "#error-codes"})
    resp.reason = message
    return resp


def wns_error(status, description):
    """WNS's answer: an empty body, the reason in X-WNS-Error-Description."""
    resp = Response(status, b"", [("x-wns-error-description", description)])
    resp.reason = description
    return resp


def apple_error(status, reason, detail):
    """Apple's JSON error body {"reason": ...}; detail only goes to logs."""
    resp = json_response(status, {"reason": reason})
    resp.reason = "%s: %s" % (reason, detail)
    return resp


class Behaviour:
    """A subscription's scripted answers, consumed in order.

    Spec: one step or a list of steps, each
        {"status": 429, "times": 2, "retry_after": 3,
         "retry_after_date": false, "delay_ms": 0, "body": "..."}
    ("wns_error": "..." answers the status the WNS way: an empty body and
    the text in X-WNS-Error-Description)
    or a transport step (the request is not answered with a status):
        {"h2": "refuse" | "goaway" | "drop", "times": 1, "delay_ms": 0}
    or an answer followed by RST_STREAM (HTTP/2; HTTP/1.1 just answers):
        {"h2": "answer_then_reset", "status": 201, "times": 1}
    "times" absent = every request from then on.  A step without "status"
    only delays (then 201).  After the last limited step: 201.
    """

    KEYS = {"status", "times", "retry_after", "retry_after_date",
            "delay_ms", "body", "h2", "wns_error"}
    TRANSPORT = ("refuse", "goaway", "drop")
    H2 = TRANSPORT + ("answer_then_reset",)

    def __init__(self, spec):
        steps = spec if isinstance(spec, list) else [spec] if spec else []
        self.steps = []
        for s in steps:
            if not isinstance(s, dict) or set(s) - self.KEYS:
                raise ValueError("behaviour step must be an object with keys "
                                 + ", ".join(sorted(self.KEYS)))
            st = s.get("status", 201)
            if not isinstance(st, int) or not 200 <= st <= 599:
                raise ValueError("behaviour status must be 200..599")
            if "wns_error" in s and not isinstance(s["wns_error"], str):
                raise ValueError("behaviour wns_error must be a string")
            for k in ("times", "retry_after", "delay_ms"):
                if k in s and (not isinstance(s[k], int) or s[k] < 0):
                    raise ValueError("behaviour %s must be an integer >= 0"
                                     % k)
            if "h2" in s and (s["h2"] not in self.H2 or set(s) - {
                    "h2", "times", "delay_ms"} - (
                        {"status"} if s["h2"] == "answer_then_reset"
                        else set())):
                raise ValueError("behaviour h2 must be one of "
                                 + ", ".join(self.H2)
                                 + " (with only times, delay_ms; status for"
                                 " answer_then_reset)")
            self.steps.append(dict(s))
        self.spec = spec

    def peek(self):
        """The step the next request would meet, without consuming it."""
        for step in self.steps:
            if "times" not in step or step["times"] > 0:
                return step
        return None

    def next(self):
        """The step for this request (consuming one of its times) or None."""
        while self.steps:
            step = self.steps[0]
            if "times" not in step:
                return step
            if step["times"] > 0:
                step["times"] -= 1
                return step
            self.steps.pop(0)
        return None


def scripted_response(step):
    """The answer a scripted step stands for, in the style of real services."""
    status = step.get("status", 201)
    if "wns_error" in step:
        resp = wns_error(status, step["wns_error"])
    elif status == 201:
        resp = Response(201)
    elif status in (401, 403):
        resp = apple_error(status, "BadJwtToken" if status == 403
                           else "MissingProviderToken", "scripted")
    elif status == 406:             # WNS throttling: empty body, X-WNS-*
        resp = Response(406, b"", [("x-wns-status", "dropped"),
                                   ("x-wns-error-description",
                                    "Throttle limit exceeded")])
    else:
        text = step.get("body") or ("scripted %d" % status)
        errno = {404: 102, 410: 106, 413: 104, 429: 201, 500: 999,
                 502: 900, 503: 201}.get(status, 999)
        resp = json_response(status, {
            "code": status, "errno": errno,
            "error": STATUS_TEXT.get(status, "Error"), "message": text})
    if "retry_after" in step:
        secs = step["retry_after"]
        value = (email.utils.formatdate(time.time() + secs, usegmt=True)
                 if step.get("retry_after_date") else str(secs))
        resp.headers.append(("retry-after", value))
    resp.delay_ms = step.get("delay_ms")    # None: the service's default
    resp.reason = resp.reason or "scripted"
    return resp


class Subscription:
    def __init__(self, sub_id, app_server_key, behaviour):
        self.id = sub_id
        self.ua_private, self.auth = mc.new_user_agent_keys()
        self.p256dh = mc.public_bytes(self.ua_private)
        self.app_server_key = app_server_key      # raw 65 bytes or None
        self.behaviour = behaviour
        self.deleted = False


class Service:
    """State and request handling; safe to call from several threads."""

    def __init__(self, origin_host, log, wns=False, delay_ms=0):
        self.host = origin_host         # "127.0.0.1"
        self.wns = wns                  # WNS's X-WNS-Cache-Policy rule
        # every push request is answered this long after it was received
        # (--delay-ms; PUT /_mock/delay); a behaviour step's delay_ms wins
        self.delay_ms = delay_ms
        self.port = None                # set once bound
        self.log = log
        self.lock = threading.Lock()
        self.counter = itertools.count(1)
        self.reset(keep_subscriptions=False)

    @property
    def origin(self):
        return "https://%s:%d" % (self.host, self.port)

    def reset(self, keep_subscriptions):
        with self.lock:
            if not keep_subscriptions:
                self.subs = {}
            self.messages = []
            # in_flight counts live requests (this reset among them): keep it
            live = getattr(self, "stats", {}).get("in_flight", 0)
            self.stats = {"requests": 0, "push_requests": 0,
                          "by_status": {}, "by_protocol": {},
                          "connections": 0, "connections_by_protocol": {},
                          "in_flight": live,
                          "max_in_flight": 0, "max_streams_per_conn": 0,
                          "max_streams_per_conn_acked": 0,
                          "by_transport": {}, "client_resets": 0,
                          "concurrent": 0, "max_concurrent": 0,
                          "push_connections": 0,
                          "push_connections_by_protocol": {},
                          "push_requests_by_conn": {}}
            # push requests held now (between begin and finish): a reset
            # while they wait must not make the counter negative
            self.held = getattr(self, "held", 0)
            self.stats["concurrent"] = self.held

    # ---- transport hooks (counted for the sender's tests) -------------

    def connection_opened(self, protocol):
        """A new connection; returns its number (1, 2, ...)."""
        with self.lock:
            self.conn_seq = getattr(self, "conn_seq", 0) + 1
            self.stats["connections"] += 1
            p = self.stats["connections_by_protocol"]
            p[protocol] = p.get(protocol, 0) + 1
            return self.conn_seq

    def streams_seen(self, n, acked=True):
        """n streams open on one HTTP/2 connection; acked: the client has
        acknowledged our SETTINGS (so it knows MAX_CONCURRENT_STREAMS)."""
        with self.lock:
            self.stats["max_streams_per_conn"] = max(
                self.stats["max_streams_per_conn"], n)
            if acked:
                self.stats["max_streams_per_conn_acked"] = max(
                    self.stats["max_streams_per_conn_acked"], n)

    def client_reset(self, record):
        """The client reset a stream before it was answered (its timeout)."""
        with self.lock:
            self.stats["client_resets"] += 1
            if record is not None:
                record["cancelled"] = True
                record["cancelled_at"] = time.time()

    def transport_done(self, kind, record, detail=""):
        """A transport step was carried out (refuse, goaway, drop)."""
        with self.lock:
            t = self.stats["by_transport"]
            t[kind] = t.get(kind, 0) + 1
            if record is not None:
                record["transport"] = kind
                record["reason"] = detail or kind
        self.log("transport: %s%s" % (kind, " (%s)" % detail if detail
                                      else ""))

    # ---- dispatch -------------------------------------------------------

    async def handle(self, req):
        return await self.finish(req, self.begin(req))

    def begin(self, req):
        """Count, route and record req (no waiting); finish() must follow."""
        with self.lock:
            self.stats["requests"] += 1
            self.stats["in_flight"] += 1
            self.stats["max_in_flight"] = max(self.stats["max_in_flight"],
                                              self.stats["in_flight"])
            p = self.stats["by_protocol"]
            p[req.protocol] = p.get(req.protocol, 0) + 1
        try:
            return self.route(req)
        except BaseException:
            with self.lock:
                self.stats["in_flight"] -= 1
            raise

    async def finish(self, req, resp):
        """The delay (counted from when req was fully received), then the
        log line; returns resp.  Other requests and streams go on
        meanwhile: each waits in its own task."""
        try:
            if resp.delay_ms:
                wait = req.received + resp.delay_ms / 1000.0 - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
        finally:
            with self.lock:
                self.stats["in_flight"] -= 1
                if resp.push:
                    self.held -= 1
                    self.stats["concurrent"] = max(0, self.held)
        self.log("%s %s %s -> %s%s" % (req.protocol, req.method, req.target,
                                       resp.transport or resp.status,
                                       " (%s)" % resp.reason if resp.reason
                                       else ""))
        return resp

    def route(self, req):
        path = req.path
        if path.startswith("/push/"):
            if req.method != "POST":
                return autopush_error("method", "push resources take POST")
            return self.push(req, path[len("/push/"):])
        if path == "/_mock/subscriptions" and req.method == "POST":
            return self.create_subscription(req)
        m = re.match(r"^/_mock/subscriptions/([A-Za-z0-9_-]+)(/behaviour)?$",
                     path)
        if m:
            return self.subscription_admin(req, m.group(1), m.group(2))
        if path == "/_mock/messages" and req.method == "GET":
            return self.list_messages(req)
        if path == "/_mock/stats" and req.method == "GET":
            with self.lock:
                return json_response(200, dict(self.stats,
                                               subscriptions=len(self.subs),
                                               delay_ms=self.delay_ms))
        if path == "/_mock/delay":
            return self.delay_admin(req)
        if path == "/_mock/reset" and req.method == "POST":
            opts = self.json_body(req) or {}
            self.reset(bool(opts.get("keep_subscriptions")))
            return json_response(200, {"reset": True})
        return autopush_error("not_found", "no such resource")

    @staticmethod
    def json_body(req):
        if not req.body.strip():
            return None
        try:
            return json.loads(req.body)
        except ValueError:
            raise BadAdminRequest("body is not JSON")

    # ---- the inspection API --------------------------------------------

    def create_subscription(self, req):
        try:
            opts = self.json_body(req) or {}
            if not isinstance(opts, dict):
                raise BadAdminRequest("body must be a JSON object")
            key = opts.get("applicationServerKey")
            raw = None
            if key is not None:
                raw = mc.b64u_decode(key, "applicationServerKey")
                mc.load_public(raw, "applicationServerKey")
            behaviour = Behaviour(opts.get("behaviour"))
        except (BadAdminRequest, mc.CryptoError, ValueError) as e:
            return json_response(400, {"error": str(e)})

        sub = Subscription(uuid.uuid4().hex, raw, behaviour)
        with self.lock:
            self.subs[sub.id] = sub
        return json_response(201, self.subscription_json(sub),
                             [("location", self.endpoint(sub))])

    def endpoint(self, sub):
        return "%s/push/%s" % (self.origin, sub.id)

    def subscription_json(self, sub):
        """Exactly PushSubscription.toJSON()'s shape."""
        return {"endpoint": self.endpoint(sub), "expirationTime": None,
                "keys": {"p256dh": mc.b64u_encode(sub.p256dh),
                         "auth": mc.b64u_encode(sub.auth)}}

    def subscription_admin(self, req, sub_id, behaviour_path):
        with self.lock:
            sub = self.subs.get(sub_id)
        if sub is None:
            return json_response(404, {"error": "no such subscription"})
        if behaviour_path:
            if req.method not in ("PUT", "POST"):
                return json_response(405, {"error": "PUT a behaviour"})
            try:
                b = Behaviour(self.json_body(req))
            except (BadAdminRequest, ValueError) as e:
                return json_response(400, {"error": str(e)})
            with self.lock:
                sub.behaviour = b
            return json_response(200, {"behaviour": b.spec})
        if req.method == "DELETE":
            with self.lock:
                sub.deleted = True          # later pushes get 410
            return json_response(200, {"deleted": sub_id})
        if req.method == "GET":
            info = self.subscription_json(sub)
            info.update(id=sub.id, deleted=sub.deleted,
                        behaviour=sub.behaviour.steps,
                        applicationServerKey=(
                            mc.b64u_encode(sub.app_server_key)
                            if sub.app_server_key else None))
            return json_response(200, info)
        return json_response(405, {"error": "GET, DELETE or PUT behaviour"})

    def delay_admin(self, req):
        """GET / PUT {"delay_ms": N}: the service-wide answer delay."""
        if req.method == "PUT":
            try:
                body = self.json_body(req)
            except BadAdminRequest as e:
                return json_response(400, {"error": str(e)})
            ms = body.get("delay_ms") if isinstance(body, dict) else None
            if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
                return json_response(400, {"error": "body must be "
                                           "{\"delay_ms\": integer >= 0}"})
            with self.lock:
                self.delay_ms = ms
        elif req.method != "GET":
            return json_response(405, {"error": "GET or PUT"})
        with self.lock:
            return json_response(200, {"delay_ms": self.delay_ms})

    def list_messages(self, req):
        params = req.params()
        want_all = params.get("all") in ("1", "true")
        with self.lock:
            out = [m for m in self.messages
                   if (not params.get("sub") or m["sub"] == params["sub"])
                   and (want_all or m["status"] == 201)]
        return json_response(200, {"messages": out})

    # ---- the push resource ---------------------------------------------

    def push(self, req, sub_id):
        with self.lock:
            sub = self.subs.get(sub_id)
            self.stats["push_requests"] += 1
            self.held += 1
            st = self.stats
            st["concurrent"] = self.held
            st["max_concurrent"] = max(st["max_concurrent"], self.held)
            key = str(req.conn)
            by_conn = st["push_requests_by_conn"]
            if key not in by_conn:
                st["push_connections"] += 1
                p = st["push_connections_by_protocol"]
                p[req.protocol] = p.get(req.protocol, 0) + 1
            by_conn[key] = by_conn.get(key, 0) + 1
        try:
            resp = self.push_checked(req, sub_id, sub)
        except BaseException:
            with self.lock:
                self.held -= 1
                self.stats["concurrent"] = max(0, self.held)
            raise
        resp.push = True
        if resp.delay_ms is None:
            resp.delay_ms = self.delay_ms
        return resp

    def push_checked(self, req, sub_id, sub):
        record = {"seq": next(self.counter), "sub": sub_id,
                  "received_at": time.time(), "protocol": req.protocol,
                  "conn": req.conn, "stream": req.stream,
                  "headers": {}, "status": None, "reason": "",
                  "transport": None, "cancelled": False,
                  "payload": None, "payload_b64": None, "vapid": None}
        for n, v in req.headers:
            if not n.startswith(":"):
                record["headers"].setdefault(n, v)

        # A transport step comes before any check: the request is not
        # processed at all (refused, beyond a GOAWAY, or the connection
        # dropped).  Recorded with status 0 (listed with all=1 only).
        step = None
        if sub is not None and not sub.deleted:
            with self.lock:
                head = sub.behaviour.peek()
                if head is not None and head.get("h2") in \
                        Behaviour.TRANSPORT:
                    step = sub.behaviour.next()
        if step is not None:
            resp = Response(0, delay_ms=step.get("delay_ms"))
            resp.transport = step["h2"]
            resp.reason = "not processed: %s" % step["h2"]
            resp.record = record
            record["status"] = 0
            record["transport"] = step["h2"]
            record["reason"] = resp.reason
            with self.lock:
                self.messages.append(record)
                s = self.stats["by_status"]
                s["0"] = s.get("0", 0) + 1
            return resp

        resp = self.check_push(req, sub, record)
        if resp is None:
            with self.lock:
                step = sub.behaviour.next()
            if step is not None:
                resp = scripted_response(step)
                resp.reset_after = step.get("h2") == "answer_then_reset"
            else:
                resp = Response(201)
            if resp.status == 201:
                ttl = min(int(req.header("ttl")), MAX_TTL)
                resp.headers += [
                    ("location", "%s/m/%s" % (self.origin, uuid.uuid4().hex)),
                    ("ttl", str(ttl))]

        record["status"] = resp.status
        record["reason"] = resp.reason
        resp.record = record
        with self.lock:
            self.messages.append(record)
            s = self.stats["by_status"]
            s[str(resp.status)] = s.get(str(resp.status), 0) + 1
        return resp

    def check_push(self, req, sub, record):
        """None when the request is valid, else the error Response."""
        if sub is None:
            return autopush_error("not_found", "no such subscription")
        if sub.deleted:
            return autopush_error("gone", "subscription has unsubscribed")
        return (self.check_headers(req)
                or self.check_vapid(req, sub, record)
                or self.check_body(req, sub, record))

    def check_headers(self, req):
        ttl = req.values("ttl")
        if not ttl:
            return autopush_error("missing_ttl", "Missing TTL header")
        if len(ttl) != 1 or not TTL_RE.match(ttl[0].strip()):
            return autopush_error("invalid_ttl", "Invalid TTL header")

        # WNS: the cache policy must agree with the TTL ("no-cache" for 0)
        policy = req.header("x-wns-cache-policy")
        if self.wns and ((int(ttl[0]) == 0) != (policy == "no-cache")
                         or policy not in (None, "cache", "no-cache")):
            return wns_error(400, "Ttl value conflicts with"
                                  " X-WNS-Cache-Policy")

        urgency = req.values("urgency")
        if urgency and (len(urgency) != 1 or urgency[0] not in URGENCIES):
            return autopush_error("invalid_urgency", "Invalid Urgency header")

        topic = req.values("topic")
        if topic:
            if len(topic) != 1 or not TOPIC_RE.match(topic[0]):
                return autopush_error("invalid_topic",
                                      "Topic must be 1..32 base64url chars")
            if len(topic[0]) % 4 == 1:      # Apple: BadWebPushTopic
                return autopush_error("invalid_topic",
                                      "Topic length is 1 mod 4 (Apple)")

        if req.header("crypto-key") is not None \
                or req.header("encryption") is not None:
            return autopush_error("bad_encoding",
                                  "Crypto-Key/Encryption headers belong to "
                                  "aesgcm, not aes128gcm")

        length = req.values("content-length")
        if len(length) != 1 or not TTL_RE.match(length[0].strip()):
            return autopush_error("length_required",
                                  "Content-Length is required")
        if int(length[0]) > MAX_BODY:
            return autopush_error("too_large", "Body over 4096 bytes")
        if int(length[0]) != len(req.body):
            return autopush_error("bad_encoding",
                                  "Content-Length does not match the body")

        enc = req.values("content-encoding")
        if req.body and (len(enc) != 1 or enc[0].strip().lower()
                         != "aes128gcm"):
            return autopush_error("bad_encoding",
                                  "Content-Encoding must be aes128gcm")
        return None

    def check_vapid(self, req, sub, record):
        auth = req.values("authorization")
        if not auth:
            return apple_error(401, "MissingProviderToken",
                               "no Authorization header")
        parsed = mc.parse_vapid_authorization(auth[0]) \
            if len(auth) == 1 else None
        if parsed is None:
            return apple_error(401, "MissingProviderToken",
                               "Authorization is not 'vapid t=..., k=...'")
        jwt, k_text = parsed
        try:
            k = mc.b64u_decode(k_text, "k")
            mc.load_public(k, "k")
        except mc.CryptoError as e:
            return apple_error(403, "BadVapidPublicKey", str(e))
        try:
            claims = mc.verify_vapid(jwt, k, int(time.time()))
        except mc.CryptoError as e:
            return apple_error(403, "BadJwtToken", str(e))
        record["vapid"] = {"aud": claims.get("aud"), "sub": claims.get("sub"),
                           "exp": claims.get("exp"), "k": k_text}

        if claims.get("aud") != self.origin:
            return apple_error(403, "BadJwtToken", "aud %r is not %s"
                               % (claims.get("aud"), self.origin))
        subject = claims.get("sub")
        if not isinstance(subject, str) or not (
                subject.startswith("mailto:") or
                subject.startswith("https:")):
            return apple_error(403, "BadJwtToken",
                               "sub is not a mailto: or https: URL")
        if sub.app_server_key is not None and k != sub.app_server_key:
            return apple_error(403, "VapidPkHashMismatch",
                               "k is not the subscription's "
                               "applicationServerKey")
        return None

    def check_body(self, req, sub, record):
        if not req.body:
            record["payload"] = ""          # a push without data is valid
            return None
        try:
            pt, as_public = mc.decrypt(req.body, sub.ua_private, sub.auth)
        except mc.CryptoError as e:
            return autopush_error("decrypt", "Body does not decrypt: %s" % e)
        if record["vapid"] and as_public == mc.b64u_decode(
                record["vapid"]["k"]):
            # RFC 8292 3.2: the VAPID key must not be the ECDH key
            return autopush_error("vapid_ecdh_same",
                                  "VAPID key used as the ECDH key")
        record["payload"] = pt.decode("utf-8", "replace")
        record["payload_b64"] = mc.b64u_encode(pt)
        return None


class BadAdminRequest(Exception):
    pass
