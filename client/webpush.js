/**
 * webpush.js: the page side of ngx_webpush, with no dependencies.
 *
 * A classic script: `<script src="/push/webpush.js"></script>` defines the
 * global `WebPush` (a module can `import "/push/webpush.js"` for the same
 * effect and then read `globalThis.WebPush`).  It was kept a classic script
 * rather than an ES module so that it also works on pages without a build
 * step or `type="module"`, and in inline event handlers.
 *
 *   const push = WebPush.create({
 *     apiBase: "https://push.example.com",   // default: this page's origin
 *     token: () => myApp.currentJwt(),       // sync or async; Bearer token
 *     serviceWorker: "/push/sw.js",          // its folder is the scope
 *   });
 *   await push.subscribe({ topics: ["event:123"] });
 *
 * Every failure is a `WebPush.Error` whose `code` says what went wrong in a
 * way a page can branch on (see ERROR_CODES below) and whose `message` can
 * be shown to a user as is.
 *
 * The API it talks to (routes under /api/push/, JSON bodies):
 *   GET    vapid-public-key  -> {"publicKey"}
 *   POST   subscribe         PushSubscription.toJSON() [+ "topics"] -> {"id"}
 *   DELETE subscribe         {"endpoint"} -> 204 | 404
 *   PUT|POST|DELETE topics   {"endpoint","topics"} -> {"id","topics"}
 * Errors come back as {"error":{"code","message"}}.
 */
(function (global) {
  "use strict";

  /**
   * The error codes this script produces itself; API errors keep the
   * server's own code (e.g. "unauthorized", "invalid_subscription").
   * @readonly
   */
  const ERROR_CODES = Object.freeze({
    UNSUPPORTED: "unsupported",                 // no SW / Push / Notification API
    INSECURE_CONTEXT: "insecure_context",       // page not on HTTPS or localhost
    PERMISSION_DENIED: "permission_denied",     // the user (or policy) said no
    PERMISSION_DISMISSED: "permission_dismissed", // prompt closed without answer
    PUSH_SERVICE_UNREACHABLE: "push_service_unreachable",
    SUBSCRIBE_FAILED: "subscribe_failed",       // the browser refused otherwise
    SERVICE_WORKER_FAILED: "service_worker_failed",
    NETWORK_ERROR: "network_error",             // the API could not be reached
    BAD_RESPONSE: "bad_response",               // the API answered non-JSON
    NO_TOKEN: "no_token",                       // the token provider gave nothing
    NOT_SUBSCRIBED: "not_subscribed",
  });

  /** Default routes, relative to apiBase; overridable through `paths`. */
  const DEFAULT_PATHS = Object.freeze({
    vapidKey: "/api/push/vapid-public-key",
    subscribe: "/api/push/subscribe",
    topics: "/api/push/topics",
  });

  /** localStorage key prefix: remembers which endpoint the API last got. */
  const STORE_PREFIX = "webpush:";

  /**
   * An error a page can branch on: `code` is stable, `message` is for
   * humans, `status` is the HTTP status for API errors (else 0), `cause`
   * keeps the underlying exception for the console.
   */
  class WebPushError extends Error {
    /**
     * @param {string} code
     * @param {string} message
     * @param {{status?: number, cause?: unknown, detail?: unknown}} [extra]
     */
    constructor(code, message, extra = {}) {
      super(message);
      this.name = "WebPushError";
      this.code = code;
      this.status = extra.status || 0;
      this.detail = extra.detail;
      if (extra.cause !== undefined) this.cause = extra.cause;
    }
  }

  /**
   * applicationServerKey must be bytes: browsers differ in whether they
   * accept a base64url string, and a bytes key also catches a malformed
   * key here, with a clear message, instead of deep inside subscribe().
   * @param {string} b64u base64url, padding optional
   * @returns {Uint8Array}
   */
  function base64UrlToBytes(b64u) {
    if (typeof b64u !== "string" || !/^[A-Za-z0-9_-]+={0,2}$/.test(b64u)) {
      throw new WebPushError(ERROR_CODES.BAD_RESPONSE,
        "The server's VAPID public key is not base64url text.");
    }
    const b64 = b64u.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  /**
   * Is this browser able to do Web Push at all?  Checked before anything
   * else so that the page can hide its button instead of failing later.
   * @returns {{ok: boolean, code?: string, reason?: string}}
   */
  function supportCheck() {
    if (typeof global.isSecureContext === "boolean" && !global.isSecureContext) {
      return { ok: false, code: ERROR_CODES.INSECURE_CONTEXT,
        reason: "Push notifications need a secure page (HTTPS, or http://localhost)." };
    }
    const nav = global.navigator || {};
    if (!("serviceWorker" in nav)) {
      return { ok: false, code: ERROR_CODES.UNSUPPORTED,
        reason: "This browser has no service workers, so it cannot receive push notifications." };
    }
    if (!("PushManager" in global)) {
      return { ok: false, code: ERROR_CODES.UNSUPPORTED,
        reason: "This browser does not support the Push API" +
          " (on iPhone and iPad: add the site to the Home Screen first)." };
    }
    if (!("Notification" in global)) {
      return { ok: false, code: ERROR_CODES.UNSUPPORTED,
        reason: "This browser cannot show notifications." };
    }
    return { ok: true };
  }

  /** Reject after `ms` with a WebPushError, unless `promise` settles first. */
  function withTimeout(promise, ms, code, message) {
    if (!ms || ms <= 0) return promise;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new WebPushError(code, message)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * Create a client.
   * @param {object} [options]
   * @param {string} [options.apiBase] API origin (+ optional path prefix);
   *   default the page's origin.  Cross-origin needs CORS on the API.
   * @param {() => (string|null|Promise<string|null>)} [options.token]
   *   returns the user's JWT; asked before each authenticated call so
   *   that a refreshed token is always used.
   * @param {string} [options.serviceWorker] URL of sw.js (default "sw.js",
   *   relative to the page).  Its folder is the default scope.
   * @param {string} [options.scope] service worker scope, if not its folder.
   * @param {number} [options.subscribeTimeoutMs] give up on the browser's
   *   push service after this long (default 20000): where the push service
   *   cannot be reached, some browsers never answer subscribe().
   * @param {Partial<typeof DEFAULT_PATHS>} [options.paths]
   * @param {typeof fetch} [options.fetch] for tests or instrumentation.
   */
  function create(options = {}) {
    const loc = global.location || { origin: "", href: "" };
    const apiBase = String(options.apiBase || loc.origin).replace(/\/+$/, "");
    const paths = Object.assign({}, DEFAULT_PATHS, options.paths || {});
    const swUrl = options.serviceWorker || "sw.js";
    const subscribeTimeoutMs = options.subscribeTimeoutMs ?? 20000;
    const doFetch = options.fetch || (global.fetch && global.fetch.bind(global));
    const tokenProvider = options.token || null;
    const storeKey = STORE_PREFIX + apiBase;
    let vapidKeyPromise = null;
    let registrationPromise = null;

    function requireSupport() {
      const s = supportCheck();
      if (!s.ok) throw new WebPushError(s.code, s.reason);
    }

    async function bearer() {
      const token = tokenProvider ? await tokenProvider() : null;
      if (!token) {
        throw new WebPushError(ERROR_CODES.NO_TOKEN,
          "You need to be signed in to manage notifications (no token).");
      }
      return "Bearer " + token;
    }

    /**
     * One API call.  Turns every failure into a WebPushError carrying the
     * server's JSON error code and message, so that a page never has to
     * parse a response to tell the user what happened.
     * @returns {Promise<{status: number, body: any}>}
     */
    async function api(method, path, { body, auth = false, okStatuses = [] } = {}) {
      const headers = { Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (auth) headers.Authorization = await bearer();
      let res;
      try {
        res = await doFetch(apiBase + path, {
          method, headers, credentials: "omit", cache: "no-store",
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (e) {
        throw new WebPushError(ERROR_CODES.NETWORK_ERROR,
          `The notification server (${apiBase}) could not be reached: ${e.message}`,
          { cause: e });
      }
      const text = await res.text();
      let json = null;
      if (text) {
        try { json = JSON.parse(text); } catch (e) { /* handled below */ }
      }
      if (res.ok || okStatuses.includes(res.status)) {
        if (text && json === null) {
          throw new WebPushError(ERROR_CODES.BAD_RESPONSE,
            `${method} ${path}: the server answered ${res.status} with a body that is not JSON.`,
            { status: res.status });
        }
        return { status: res.status, body: json };
      }
      const err = json && json.error;
      if (err && typeof err.code === "string") {
        throw new WebPushError(err.code,
          `${method} ${path} failed (${res.status} ${err.code}): ${err.message || "no message"}`,
          { status: res.status, detail: json.error });
      }
      throw new WebPushError(ERROR_CODES.BAD_RESPONSE,
        `${method} ${path} failed with HTTP ${res.status}` +
        (text ? `: ${text.slice(0, 200)}` : " and no body."),
        { status: res.status });
    }

    /** The server's VAPID public key (base64url), fetched once. */
    function getVapidKey() {
      if (!vapidKeyPromise) {
        vapidKeyPromise = api("GET", paths.vapidKey).then(({ body }) => {
          if (!body || typeof body.publicKey !== "string") {
            throw new WebPushError(ERROR_CODES.BAD_RESPONSE,
              "The server's answer has no publicKey.");
          }
          base64UrlToBytes(body.publicKey);          // validate now
          return body.publicKey;
        });
        vapidKeyPromise.catch(() => { vapidKeyPromise = null; }); // retryable
      }
      return vapidKeyPromise;
    }

    /**
     * Register the service worker (once) and wait until it is active: a
     * subscription needs an active worker, and pushes go to it.  The API
     * base reaches the worker as ?api=..., so that on
     * pushsubscriptionchange it can fetch the key without a page.
     */
    function register() {
      requireSupport();
      if (!registrationPromise) {
        const url = new URL(swUrl, loc.href);
        if (apiBase !== loc.origin) url.searchParams.set("api", apiBase);
        const opts = options.scope ? { scope: options.scope } : undefined;
        registrationPromise = global.navigator.serviceWorker
          .register(url.href, opts)
          .then(waitActive)
          .catch((e) => {
            registrationPromise = null;
            throw e instanceof WebPushError ? e : new WebPushError(
              ERROR_CODES.SERVICE_WORKER_FAILED,
              `The service worker ${url.pathname} could not be registered: ${e.message}`,
              { cause: e });
          });
      }
      return registrationPromise;
    }

    /** Resolve once `reg` has an active worker (installing/waiting finish). */
    function waitActive(reg) {
      if (reg.active) return reg;
      const sw = reg.installing || reg.waiting;
      if (!sw) return reg;
      return new Promise((resolve, reject) => {
        sw.addEventListener("statechange", () => {
          if (sw.state === "activated") resolve(reg);
          if (sw.state === "redundant") {
            reject(new WebPushError(ERROR_CODES.SERVICE_WORKER_FAILED,
              "The service worker failed to install (see the console)."));
          }
        });
      });
    }

    /**
     * Ask for notification permission; must run from a user gesture (a
     * click) in most browsers, or the prompt is blocked.
     * @returns {Promise<"granted">}
     */
    async function requestPermission() {
      requireSupport();
      let p = global.Notification.permission;
      if (p === "default") p = await global.Notification.requestPermission();
      if (p === "granted") return p;
      if (p === "denied") {
        throw new WebPushError(ERROR_CODES.PERMISSION_DENIED,
          "Notifications are blocked for this site. Allow them in the browser's site settings, then try again.");
      }
      throw new WebPushError(ERROR_CODES.PERMISSION_DISMISSED,
        "The notification prompt was closed without an answer; click Subscribe again to be asked.");
    }

    /** The browser's current subscription, or null. */
    async function getSubscription() {
      const reg = await register();
      return reg.pushManager.getSubscription();
    }

    /**
     * The browser half of subscribing: pushManager.subscribe() with the
     * server's key.  An existing subscription made with another key (the
     * server rotated its VAPID keys) is dropped first, since push
     * services refuse messages signed with a key it was not made with.
     */
    async function browserSubscribe(reg, keyB64u) {
      const key = base64UrlToBytes(keyB64u);
      let sub = await reg.pushManager.getSubscription();
      if (sub && !sameKey(sub.options && sub.options.applicationServerKey, key)) {
        await sub.unsubscribe().catch(() => {});
        sub = null;
      }
      if (sub) return sub;
      try {
        return await withTimeout(
          reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }),
          subscribeTimeoutMs, ERROR_CODES.PUSH_SERVICE_UNREACHABLE,
          `The browser's push service did not answer within ${Math.round(subscribeTimeoutMs / 1000)} s` +
          " (offline, or a network that blocks it?). Nothing was saved on the server.");
      } catch (e) {
        if (e instanceof WebPushError) throw e;
        if (e && e.name === "NotAllowedError") {
          throw new WebPushError(ERROR_CODES.PERMISSION_DENIED,
            "The browser refused to subscribe: notifications are not allowed for this site.",
            { cause: e });
        }
        if (e && e.name === "AbortError") {
          // Chromium: "Registration failed - push service error" and the like.
          throw new WebPushError(ERROR_CODES.PUSH_SERVICE_UNREACHABLE,
            `The browser's push service could not be reached: ${e.message}`, { cause: e });
        }
        throw new WebPushError(ERROR_CODES.SUBSCRIBE_FAILED,
          `The browser could not subscribe: ${e && e.message}`, { cause: e });
      }
    }

    /**
     * Send a subscription to the API for the current user.  Public so that
     * a page can re-post one it got elsewhere (the worker's
     * pushsubscriptionchange message, say).
     * @param {PushSubscription|object} subscription or its toJSON()
     * @param {string[]} [topics] replaces the followed topics when given
     * @returns {Promise<{id: string, created: boolean}>}
     */
    async function saveSubscription(subscription, topics) {
      const json = typeof subscription.toJSON === "function"
        ? subscription.toJSON() : subscription;
      const body = Object.assign({}, json);
      if (topics !== undefined) body.topics = normalizeTopics(topics);
      const { status, body: res } = await api("POST", paths.subscribe, { body, auth: true });
      remember(json.endpoint);
      return { id: res && res.id, created: status === 201 };
    }

    /**
     * Everything a Subscribe button needs: support check, permission,
     * worker, VAPID key, browser subscription, POST to the API.
     * @param {{topics?: string[]}} [opts]
     * @returns {Promise<{id: string, created: boolean, endpoint: string}>}
     */
    async function subscribe(opts = {}) {
      requireSupport();
      await bearer();   // no signed-in user: say so before any prompt
      await requestPermission();
      const [reg, key] = await Promise.all([register(), getVapidKey()]);
      const sub = await browserSubscribe(reg, key);
      const saved = await saveSubscription(sub, opts.topics);
      return Object.assign({ endpoint: sub.endpoint }, saved);
    }

    /**
     * Stop notifications: DELETE on the API first (so that the server stops
     * sending even if the browser part fails), then the browser's
     * unsubscribe().  A 404 from the API is fine: already gone there.
     * @returns {Promise<{wasSubscribed: boolean}>}
     */
    async function unsubscribe() {
      const sub = await getSubscription();
      if (!sub) {
        forget();
        return { wasSubscribed: false };
      }
      await deleteSubscription(sub.endpoint);
      await sub.unsubscribe();
      forget();
      return { wasSubscribed: true };
    }

    /**
     * Remove the current user's subscription for `endpoint` on the server
     * only (the browser stays subscribed): for a sign-out, say, where the
     * next user of this browser must not get the previous one's messages.
     * @param {string} endpoint
     * @returns {Promise<{deleted: boolean}>} false: the server had none
     */
    async function deleteSubscription(endpoint) {
      const { status } = await api("DELETE", paths.subscribe,
        { body: { endpoint }, auth: true, okStatuses: [404] });
      return { deleted: status !== 404 };
    }

    /**
     * PUT replaces, POST adds, DELETE removes topics of this browser's
     * subscription (or of `endpoint`, for one saved with saveSubscription).
     * @returns {Promise<{id: string, topics: string[]}>} the resulting set
     */
    async function topics(method, list, endpoint) {
      if (!endpoint) {
        const sub = await getSubscription();
        if (!sub) {
          throw new WebPushError(ERROR_CODES.NOT_SUBSCRIBED,
            "Subscribe to notifications first, then choose topics.");
        }
        endpoint = sub.endpoint;
      }
      const { body } = await api(method, paths.topics,
        { body: { endpoint, topics: normalizeTopics(list) }, auth: true });
      return { id: body && body.id, topics: (body && body.topics) || [] };
    }

    /**
     * Where the worker re-subscribed on its own (pushsubscriptionchange)
     * the API still has the old endpoint: the worker cannot post the new
     * one, having no user token.  sync() posts it when it differs from the
     * one last posted from this browser.  Call it on page load.
     * @returns {Promise<{resynced: boolean}>}
     */
    async function sync() {
      if (!supportCheck().ok || global.Notification.permission !== "granted") {
        return { resynced: false };
      }
      const sub = await getSubscription();
      if (!sub || sub.endpoint === recall()) return { resynced: false };
      if (!tokenProvider || !(await tokenProvider())) return { resynced: false };
      await saveSubscription(sub);
      return { resynced: true };
    }

    /** A snapshot for a settings screen. */
    async function status() {
      const s = supportCheck();
      if (!s.ok) return { supported: false, reason: s.reason, code: s.code };
      const sub = await getSubscription();
      return {
        supported: true,
        permission: global.Notification.permission,
        subscribed: !!sub,
        endpoint: sub ? sub.endpoint : null,
      };
    }

    function remember(endpoint) {
      try { global.localStorage.setItem(storeKey, endpoint); } catch (e) { /* private mode */ }
    }
    function forget() {
      try { global.localStorage.removeItem(storeKey); } catch (e) { /* private mode */ }
    }
    function recall() {
      try { return global.localStorage.getItem(storeKey); } catch (e) { return null; }
    }

    // The worker tells open pages when it re-subscribed by itself; post
    // the new subscription right away if a token is at hand.
    if (supportCheck().ok) {
      global.navigator.serviceWorker.addEventListener("message", (ev) => {
        if (ev.data && ev.data.type === "webpush:subscriptionchange") {
          sync().catch((e) => console.warn("webpush: re-posting the subscription failed:", e));
        }
      });
    }

    /**
     * Any other route of the API with the same token and error handling
     * (the demo's "send a test" uses it for the admin send route).
     * @param {string} method
     * @param {string} path e.g. "/api/push/send"
     * @param {object} [body]
     * @returns {Promise<{status: number, body: any}>}
     */
    function request(method, path, body) {
      return api(method, path, { body, auth: true });
    }

    return Object.freeze({
      apiBase, supported: supportCheck, request, getVapidKey, register, requestPermission,
      getSubscription, subscribe, saveSubscription, deleteSubscription,
      unsubscribe, sync, status,
      setTopics: (list, endpoint) => topics("PUT", list, endpoint),
      follow: (list, endpoint) => topics("POST", list, endpoint),
      unfollow: (list, endpoint) => topics("DELETE", list, endpoint),
    });
  }

  /** Topics are plain strings ("event:123"); drop blanks and duplicates. */
  function normalizeTopics(list) {
    if (!Array.isArray(list)) list = String(list || "").split(/[\s,]+/);
    return [...new Set(list.map((t) => String(t).trim()).filter(Boolean))];
  }

  function sameKey(a, b) {
    if (!a) return false;
    const x = new Uint8Array(a);
    return x.length === b.length && x.every((v, i) => v === b[i]);
  }

  global.WebPush = Object.freeze({
    create, Error: WebPushError, ERROR_CODES, supported: supportCheck,
    base64UrlToBytes, normalizeTopics,
  });
})(typeof self !== "undefined" ? self : globalThis);
