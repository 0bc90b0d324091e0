#!/usr/bin/env node
/**
 * The browser client (client/webpush.js, client/sw.js, client/demo.html)
 * in Debian's headless Chromium, driven by playwright-core, against the
 * stack's nginx, which serves the demo at /demo/ and the API under /api/.
 * Prints TAP.  Run it through t/browser/run.sh, which sets up the private
 * D-Bus session, the npm package and the environment:
 *   API_URL, API_CA_FILE, VAPID_PUBLIC_KEY, JWT_SECRET (a stack's dev.env)
 *   WEBPUSH_CLI   webpush-cli, to mint user tokens
 *
 * What stands in for what, and why (so that every check is honest):
 * - The push message: ServiceWorker.deliverPushMessage (DevTools protocol)
 *   delivers a payload to the worker's push event, as the browser's push
 *   service would after decrypting it.  Encryption and the push service
 *   are the sender's side, tested elsewhere.
 * - The desktop: Chromium on Linux shows notifications through the
 *   freedesktop Notifications D-Bus service.  t/browser/notifyd.py is that
 *   service on a private session bus: it sees exactly what the user would
 *   see (title, body) and clicks by sending ActionInvoked, which is what a
 *   desktop does when the user clicks.  Chromium then fires a genuine
 *   notificationclick in the worker, which may open or focus a window.
 * - The push service: this machine has no route to FCM, so
 *   pushManager.subscribe() can never succeed here (Chromium waits on it
 *   forever).  The test says so and checks that the page reports it
 *   clearly; the API half of subscribing is checked with a subscription
 *   made up by the test, through the same webpush.js in the page.
 */
"use strict";

const { spawn, execFileSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");
const http = require("node:http");

// ---- TAP -----------------------------------------------------------------

let testNo = 0;
let passed = 0;
let failed = 0;

/** One TAP line; diagnostics (on failure) as "#" lines. */
function ok(cond, name, diag) {
  testNo++;
  if (cond) {
    passed++;
    console.log(`ok ${testNo} - ${name}`);
  } else {
    failed++;
    console.log(`not ok ${testNo} - ${name}`);
    if (diag !== undefined) {
      const text = typeof diag === "string" ? diag : JSON.stringify(diag, null, 2);
      for (const l of text.split("\n")) console.log(`#   ${l}`);
    }
  }
  return !!cond;
}
function is(got, want, name) {
  return ok(got === want, name, { got, want });
}
function skip(name, reason) {
  testNo++;
  passed++;
  console.log(`ok ${testNo} - ${name} # SKIP ${reason}`);
}
/**
 * What the user reads in a desktop notification's body: Chromium puts the
 * site's origin (as a link) first, then a blank line, then the body.
 */
function bodyText(ev) {
  return ev.body.replace(/^<a href="[^"]*">[^<]*<\/a>(\n\n)?/, "");
}
function note(msg) {
  for (const l of String(msg).split("\n")) console.log(`# ${l}`);
}
function finish() {
  console.log(`1..${testNo}`);
  note(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll fn() until it returns a truthy value or ms pass; returns it. */
async function until(fn, ms = 10000, every = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(every);
  }
}

// ---- the fake desktop ----------------------------------------------------

/** Start notifyd.py; resolves once it owns the D-Bus name. */
function startDesktop() {
  const proc = spawn("/usr/bin/python3", [path.join(__dirname, "notifyd.py")],
    { stdio: ["pipe", "pipe", "inherit"] });
  const events = [];
  const waiters = [];
  readline.createInterface({ input: proc.stdout }).on("line", (line) => {
    let ev;
    try { ev = JSON.parse(line); } catch (e) { return; }
    events.push(ev);
    for (const w of waiters.splice(0)) w();
  });
  const desktop = {
    proc,
    events,
    notifications: () => events.filter((e) => e.event === "notify"),
    /** Wait for an event matching pred (seen already, or to come). */
    async waitFor(pred, ms = 10000) {
      const end = Date.now() + ms;
      for (;;) {
        const hit = events.find(pred);
        if (hit) return hit;
        if (Date.now() > end) return null;
        await Promise.race([new Promise((r) => waiters.push(r)), sleep(100)]);
      }
    },
    send(cmd) { proc.stdin.write(JSON.stringify(cmd) + "\n"); },
    stop() { proc.stdin.end(); proc.kill(); },
  };
  return desktop.waitFor((e) => e.event === "ready" || e.event === "error", 10000)
    .then((ev) => {
      if (!ev || ev.event !== "ready") {
        throw new Error("notifyd did not start: " + JSON.stringify(ev));
      }
      return desktop;
    });
}

// ---- a plain-HTTP copy of the client, for the insecure-page check --------

/**
 * Serve client/ over plain HTTP on 127.0.0.1; the browser reaches it as
 * http://insecure.test (--host-resolver-rules), a name that is not
 * localhost, so the page is not a secure context: what a site deployed
 * without HTTPS gets.
 */
function startPlainServer() {
  const dir = path.join(__dirname, "..", "..", "client");
  const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
  const server = http.createServer((req, res) => {
    const name = path.basename(new URL(req.url, "http://x").pathname);
    const file = path.join(dir, name);
    if (!types[path.extname(name)] || !fs.existsSync(file)) {
      res.writeHead(404, { "Content-Type": "application/json" });
      res.end('{"error":{"code":"not_found","message":"no such file"}}');
      return;
    }
    res.writeHead(200, { "Content-Type": types[path.extname(name)] });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// ---- main ----------------------------------------------------------------

async function main() {
  for (const v of ["API_URL", "API_CA_FILE", "VAPID_PUBLIC_KEY", "WEBPUSH_CLI"]) {
    if (!process.env[v]) throw new Error(`${v} is not set (run t/browser/run.sh)`);
  }
  const { chromium } = require(path.join(__dirname, "node_modules", "playwright-core"));
  const apiUrl = process.env.API_URL.replace(/\/+$/, "");
  const origin = new URL(apiUrl).origin;
  const demoUrl = `${apiUrl}/demo/demo.html`;

  // Trust the stack's self-signed certificate by its key, as a user who
  // installed it would: service workers refuse pages with certificate
  // errors, and this flag makes Chromium treat that one key as valid.
  const cert = new crypto.X509Certificate(fs.readFileSync(process.env.API_CA_FILE));
  const spki = crypto.createHash("sha256")
    .update(cert.publicKey.export({ type: "spki", format: "der" })).digest("base64");

  if (process.env.WEBPUSH_SPKI) {
    is(process.env.WEBPUSH_SPKI, spki,
      "the README's openssl command gives the certificate's key hash");
  }

  const token = execFileSync(process.env.WEBPUSH_CLI,
    ["token", "--sub", "browser-test-" + process.pid], { encoding: "utf8" }).trim();

  const desktop = await startDesktop();
  const plain = await startPlainServer();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "webpush-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update",
      "--disable-sync", `--ignore-certificate-errors-spki-list=${spki}`,
      "--host-resolver-rules=MAP insecure.test 127.0.0.1"],
  });
  const consoleErrors = [];
  try {
    await run(ctx, desktop, { apiUrl, origin, demoUrl, token, consoleErrors });
    await insecurePage(ctx, `http://insecure.test:${plain.address().port}/demo.html`, token);
  } finally {
    plain.close();
    await ctx.close().catch(() => {});
    desktop.stop();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function run(ctx, desktop, { apiUrl, origin, demoUrl, token, consoleErrors }) {
  const page = await ctx.newPage();
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  // -- the page and its worker ---------------------------------------------
  // ?timeout: how long webpush.js waits for the browser's push service.
  const res = await page.goto(`${demoUrl}?timeout=4000`);
  ok(res && res.ok() && res.url().startsWith("https://"),
    "demo page loads over HTTPS from the stack's nginx", res && `${res.status()} ${res.url()}`);
  is(await page.title(), "ngx_webpush demo", "it is the demo page");

  const key = await until(async () => {
    const t = await page.textContent("#vapid-key");
    return t && t !== "loading…" ? t : null;
  });
  is(key, process.env.VAPID_PUBLIC_KEY, "page shows the server's VAPID public key");

  const workerActive = await until(() => page.getAttribute("body", "data-worker"), 10000);
  is(workerActive, "active", "service worker registered and active");
  const reg = await page.evaluate(async () => {
    const r = await navigator.serviceWorker.getRegistration();
    return r && { scope: r.scope, script: r.active && r.active.scriptURL };
  });
  ok(reg && reg.scope === `${apiUrl}/demo/` && reg.script === `${apiUrl}/demo/sw.js`,
    "worker /demo/sw.js has scope /demo/ (covers the page)", reg);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null,
    { timeout: 5000 }).catch(() => {});
  ok(await page.evaluate(() => navigator.serviceWorker.controller !== null),
    "the worker controls the page (clients.claim)");

  // -- subscribing: errors the user must understand ------------------------
  await page.fill("#token", "");
  await page.click("#subscribe");
  const noToken = await until(() => page.getAttribute("#error", "data-code"));
  is(noToken, "no_token", "Subscribe without a token: page says to sign in");

  // As if the user had clicked "Block" in the site's permission prompt.
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Browser.setPermission",
    { permission: { name: "notifications" }, setting: "denied", origin });
  await page.fill("#token", token);
  await page.click("#subscribe");
  const denied = await until(async () => {
    const c = await page.getAttribute("#error", "data-code");
    return c && c !== "no_token" ? c : null;
  });
  is(denied, "permission_denied", "Subscribe with notifications blocked: page says they are blocked");
  ok(/blocked|not allowed/i.test(await page.textContent("#error")),
    "... in words a user understands", await page.textContent("#error"));

  await ctx.grantPermissions(["notifications"], { origin });
  is(await page.evaluate(() => Notification.permission), "granted",
    "notifications allowed for the stack's origin");

  note("This machine has no route to Chromium's push service (FCM):");
  note("pushManager.subscribe() cannot succeed here; the page must say so.");
  await page.click("#subscribe");
  const t0 = Date.now();
  const outcome = await until(async () => {
    const c = await page.getAttribute("#error", "data-code");
    if (c && c !== "permission_denied") return { error: c, text: await page.textContent("#error") };
    const s = await page.textContent("#status");
    return /^Subscribed/.test(s) ? { ok: s } : null;
  }, 20000);
  if (outcome && outcome.ok) {
    note(`subscribe succeeded after all (a push service is reachable): ${outcome.ok}`);
    ok(true, "Subscribe reached the push service and the API");
    ok(true, "(no push-service error to report)");
  } else {
    is(outcome && outcome.error, "push_service_unreachable",
      "Subscribe with the push service unreachable: page reports push_service_unreachable");
    ok(outcome && /push service/i.test(outcome.text) && Date.now() - t0 < 15000,
      "... promptly (after the configured 4 s), naming the push service",
      { text: outcome && outcome.text, ms: Date.now() - t0 });
  }
  if (!(outcome && outcome.ok)) {
    is(await page.textContent("#endpoint"), "none", "... and shows no endpoint as subscribed");
  }

  await page.fill("#topics", "news");
  await page.click("#follow");
  is(await until(async () => {
    const c = await page.getAttribute("#error", "data-code");
    return c === "not_subscribed" ? c : null;
  }), "not_subscribed", "Follow before subscribing: page says to subscribe first");
  await page.click("#unsubscribe");
  is(await until(async () => {
    const t = await page.textContent("#status");
    return /not subscribed/.test(t) ? t : null;
  }), "This browser was not subscribed.", "Unsubscribe when not subscribed: page says so");

  // -- the demo's send box: the admin send route through the page ---------
  const adminToken = execFileSync(process.env.WEBPUSH_CLI,
    ["token", "--sub", "browser-test-admin", "--role", "admin"], { encoding: "utf8" }).trim();
  await page.click("#send-box summary");
  await page.fill("#admin-token", token);           // a user token: not allowed
  await page.click("#send-test");
  const refused = await until(async () => {
    const c = await page.getAttribute("#error", "data-code");
    return c && c !== "not_subscribed" ? { code: c, text: await page.textContent("#error") } : null;
  });
  ok(refused && /\(403 [a-z_]+\)/.test(refused.text),
    "Send test with a user's token: the page shows the API's 403 and its code", refused);
  await page.fill("#admin-token", adminToken);
  await page.click("#send-test");
  const queued = await until(async () => {
    const t = await page.textContent("#status");
    return /^Queued/.test(t) ? t : null;
  });
  ok(queued && /job [0-9a-f-]{36}\b/.test(queued) && queued.includes("browser-test-"),
    "Send test with an admin token: queued (202), the page shows the job id and the user", queued);

  // -- the API half, with a subscription the test makes up ----------------
  await apiChecks(page, token);

  // -- a push shows the notification --------------------------------------
  const regs = new Map();
  cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => {
    for (const r of e.registrations) regs.set(r.scopeURL, r);
  });
  await cdp.send("ServiceWorker.enable");
  const swReg = await until(() => regs.get(`${apiUrl}/demo/`), 5000);
  ok(swReg && !swReg.isDeleted, "DevTools sees the worker's registration", [...regs.values()]);
  if (!swReg) return;
  const deliver = (data) => cdp.send("ServiceWorker.deliverPushMessage",
    { origin, registrationId: swReg.registrationId, data });
  const shown = () => page.evaluate(async () => {
    const r = await navigator.serviceWorker.getRegistration();
    return (await r.getNotifications()).map((n) => ({
      title: n.title, body: n.body, tag: n.tag, icon: n.icon,
      requireInteraction: n.requireInteraction, data: n.data,
    }));
  });

  const target = `${apiUrl}/demo/demo.html?from=push`;
  const payload = {
    title: "Match starts", body: "Kick-off in 10 minutes", tag: "event-123",
    icon: "/demo/icon.png", url: "/demo/demo.html?from=push",
    requireInteraction: true, data: { eventId: 123 },
  };
  await deliver(JSON.stringify(payload));
  const onDesktop = await desktop.waitFor((e) => e.event === "notify" && e.summary === payload.title);
  ok(onDesktop && bodyText(onDesktop) === payload.body,
    "push with a JSON payload: the desktop shows its title and body", desktop.notifications());
  ok(onDesktop && onDesktop.body.includes(`>${new URL(origin).host}</a>`),
    "... with the site it comes from", onDesktop);
  ok(onDesktop && onDesktop.timeout === 0,
    "... and, as requireInteraction asks, it stays until the user acts", onDesktop);
  let list = await until(async () => {
    const l = await shown();
    return l.length ? l : null;
  });
  const n = list && list.find((x) => x.tag === "event-123");
  ok(n && n.title === payload.title && n.body === payload.body &&
     n.icon === `${apiUrl}/demo/icon.png` && n.requireInteraction === true,
    "getNotifications(): title, body, tag, icon, requireInteraction from the payload", list);
  ok(n && n.data && n.data.url === payload.url && n.data.payload &&
     n.data.payload.eventId === 123, "... its data keeps the url and the payload's data", n);

  await deliver(JSON.stringify(Object.assign({}, payload, { body: "Kick-off in 5 minutes", renotify: true })));
  await desktop.waitFor((e) => e.event === "notify" && bodyText(e) === "Kick-off in 5 minutes");
  list = await shown();
  ok(list.filter((x) => x.tag === "event-123").length === 1 &&
     list.find((x) => x.tag === "event-123").body === "Kick-off in 5 minutes",
  "same tag again: replaces the notification instead of adding one", list);

  await deliver("The match was moved to 21:00");
  const plain = await desktop.waitFor((e) => e.event === "notify" &&
    bodyText(e) === "The match was moved to 21:00");
  ok(plain && plain.summary === "New notification",
    "push with a text payload: fallback title, the text as body", plain);
  await deliver("");
  const empty = await desktop.waitFor((e) => e.event === "notify" &&
    e.summary === "New notification" && bodyText(e) === "");
  ok(empty, "push with an empty payload: still a notification, with the fallback title",
    desktop.notifications());

  await deliver(JSON.stringify({ title: "Odd", body: "bad options", renotify: true, actions: "oops" }));
  const odd = await desktop.waitFor((e) => e.event === "notify" && e.summary === "Odd");
  ok(odd && bodyText(odd) === "bad options",
    "options the browser rejects (actions not a list, renotify without tag): still shown", odd);

  // -- a click opens the url ----------------------------------------------
  // notifyd answers Notify with its id: the first notify of our payload.
  const clickId = (await desktop.waitFor((e) => e.event === "notify" &&
    e.summary === payload.title && bodyText(e) === "Kick-off in 5 minutes")).id;
  const opened = ctx.waitForEvent("page", { timeout: 10000 }).catch(() => null);
  desktop.send({ cmd: "click", id: clickId, action: "default" });
  const newPage = await opened;
  if (newPage) await newPage.waitForLoadState("domcontentloaded").catch(() => {});
  is(newPage && newPage.url(), target, "clicking the notification opens its url in a new tab");
  const closed = await until(async () =>
    !(await shown()).some((x) => x.tag === "event-123"), 5000);
  ok(closed, "... and the clicked notification is closed");

  // A second click for a url already open focuses that tab: no new one.
  const pagesBefore = ctx.pages().length;
  await deliver(JSON.stringify({ title: "Again", url: "/demo/demo.html?from=push", tag: "again" }));
  const again = await desktop.waitFor((e) => e.event === "notify" && e.summary === "Again");
  let extra = null;
  const onPage = (p) => { extra = p.url(); };
  ctx.on("page", onPage);
  if (again) desktop.send({ cmd: "click", id: again.id });
  await until(async () => !(await shown()).some((x) => x.tag === "again"), 5000);
  await sleep(500);
  ctx.off("page", onPage);
  ok(again && extra === null && ctx.pages().length === pagesBefore,
    "clicking a notification whose url is already open reuses that tab", { extra });

  await deliver(JSON.stringify({ title: "Bad link", url: "javascript:alert(1)", tag: "bad" }));
  const bad = await desktop.waitFor((e) => e.event === "notify" && e.summary === "Bad link");
  const openedBad = ctx.waitForEvent("page", { timeout: 5000 }).catch(() => null);
  if (bad) desktop.send({ cmd: "click", id: bad.id });
  const badPage = await openedBad;
  is(badPage && badPage.url(), `${apiUrl}/demo/`,
    "a javascript: url is never run: the click opens the worker's scope instead");

  // An action button with its own url (Chromium shows at most two).
  await deliver(JSON.stringify({
    title: "With buttons", url: "/demo/demo.html?from=body", tag: "buttons",
    actions: [{ action: "details", title: "Details", url: "/demo/demo.html?from=button" },
      { action: "later", title: "Later" }],
  }));
  const withButtons = await desktop.waitFor((e) => e.event === "notify" && e.summary === "With buttons");
  // D-Bus actions come as [key, label, key, label...].
  const acts = (withButtons && withButtons.actions) || [];
  const detailsKey = acts[acts.indexOf("Details") - 1];
  ok(acts.includes("Details") && acts.includes("Later"),
    "action buttons reach the desktop with their titles", acts);
  const openedByButton = ctx.waitForEvent("page", { timeout: 10000 }).catch(() => null);
  if (detailsKey !== undefined) desktop.send({ cmd: "click", id: withButtons.id, action: detailsKey });
  const buttonPage = await openedByButton;
  is(buttonPage && buttonPage.url(), `${apiUrl}/demo/demo.html?from=button`,
    "clicking an action button opens that button's url");

  ok(consoleErrors.every((e) => !/Uncaught|TypeError|ReferenceError|SyntaxError/.test(e)),
    "no script errors on the page", consoleErrors);
}

/** The same page over plain HTTP: it must say that it needs HTTPS. */
async function insecurePage(ctx, url, token) {
  const page = await ctx.newPage();
  await page.goto(url);
  is(await page.evaluate(() => isSecureContext), false, "the demo over plain HTTP is not a secure context");
  const support = await until(async () =>
    (await page.isVisible("#support")) && page.textContent("#support"));
  ok(support && /HTTPS/.test(support),
    "... and, before any click, the page says push needs HTTPS", support);
  await page.fill("#token", token);
  await page.click("#subscribe");
  is(await until(async () => {
    const c = await page.getAttribute("#error", "data-code");
    return c === "insecure_context" ? c : null;
  }), "insecure_context", "Subscribe there: insecure_context, nothing asked of the user");
  await page.close();
}

/**
 * The API half of subscribing, through webpush.js in the page, with a
 * made-up subscription (the browser cannot get a real one here).
 */
async function apiChecks(page, token) {
  const probe = await page.evaluate(async () => {
    const r = await fetch("/api/push/subscribe", { method: "POST", body: "{}" });
    return { status: r.status, body: await r.text() };
  });
  const routed = !(probe.status === 404 && /not_found/.test(probe.body));

  // A real subscription's shape: a P-256 point and 16 random bytes.
  const { publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const p256dh = publicKey.export({ type: "spki", format: "der" }).subarray(-65).toString("base64url");
  const auth = crypto.randomBytes(16).toString("base64url");
  const sub = {
    endpoint: `https://fcm.googleapis.com/fcm/send/browser-test-${crypto.randomUUID()}`,
    expirationTime: null, keys: { p256dh, auth },
  };
  const call = (tok, method, ...args) => page.evaluate(async ({ tok, method, args }) => {
    const c = WebPush.create({ token: () => tok });
    try {
      return { ok: await c[method](...args) };
    } catch (e) {
      return { error: { code: e.code, status: e.status, message: e.message, isWebPushError: e instanceof WebPush.Error } };
    }
  }, { tok, method, args });

  const badToken = await call("not.a.jwt", "saveSubscription", sub, ["event:123"]);
  ok(badToken.error && badToken.error.isWebPushError && badToken.error.status >= 400 &&
     badToken.error.message.includes(badToken.error.code) &&
     badToken.error.message.includes(String(badToken.error.status)),
  "API error: WebPush.Error with the server's JSON code, status and message", badToken);

  if (!routed) {
    skip("POST subscribe with a user token stores the subscription (201, id)",
      "the dev stack has no /api/push/subscribe location yet");
    skip("POST it again: 200, same id", "no subscribe route");
    skip("follow, unfollow, set topics", "no subscribe route");
    skip("DELETE subscribe: 204, then 404 (deleted: false)", "no subscribe route");
    return;
  }
  is(badToken.error && badToken.error.status, 401, "... a bad token is a 401");
  const first = await call(token, "saveSubscription", sub, ["event:123"]);
  ok(first.ok && first.ok.created === true && first.ok.id,
    "POST subscribe with a user token stores the subscription (201, id)", first);
  const second = await call(token, "saveSubscription", sub);
  ok(second.ok && second.ok.created === false && second.ok.id === (first.ok && first.ok.id),
    "POST it again: 200, same id", second);

  const topicsProbe = await page.evaluate(async () => {
    const r = await fetch("/api/push/topics", { method: "PUT", body: "{}" });
    return { status: r.status, body: await r.text() };
  });
  if (topicsProbe.status === 404 && /not_found/.test(topicsProbe.body)) {
    skip("follow, unfollow, set topics", "the dev stack has no /api/push/topics location yet");
  } else {
    const sorted = (r) => r.ok && [...r.ok.topics].sort().join(",");
    const followed = await call(token, "follow", ["news", " news "], sub.endpoint);
    is(sorted(followed), "event:123,news", "follow: adds a topic to those given at subscribe");
    const unfollowed = await call(token, "unfollow", ["event:123"], sub.endpoint);
    is(sorted(unfollowed), "news", "unfollow: removes one");
    const set = await call(token, "setTopics", "a:2, a:1", sub.endpoint);
    is(sorted(set), "a:1,a:2", "setTopics: replaces the set (comma-separated text accepted)");
  }
  const del = await call(token, "deleteSubscription", sub.endpoint);
  const delAgain = await call(token, "deleteSubscription", sub.endpoint);
  ok(del.ok && del.ok.deleted === true && delAgain.ok && delAgain.ok.deleted === false,
    "DELETE subscribe: 204, then 404 (deleted: false)", { del, delAgain });
}

main().then(finish, (e) => {
  ok(false, "the browser test ran to its end", e && e.stack ? e.stack : String(e));
  finish();
});
