/**
 * sw.js: the service worker half of ngx_webpush's browser client.
 *
 * Shows the notification a push carries, opens its url on click, and
 * keeps the browser subscribed when the push service rotates the
 * subscription.  No dependencies, no imports: copy it next to your pages
 * (its folder is its default scope: it only receives pushes for
 * subscriptions made by pages under that folder).
 *
 * Payload (the JSON webpush-sender delivers; every field optional):
 *   title, body, icon, badge, image, url, tag, renotify,
 *   requireInteraction, silent, timestamp, lang, dir, actions, data
 * A payload that is empty or not a JSON object still shows a notification
 * (the fallback title, the text as body): Chromium penalises a push that
 * shows nothing (userVisibleOnly), and a user should never miss a message
 * because a sender got the format wrong.
 *
 * The worker reads one optional setting from its own URL: ?api=ORIGIN,
 * where the API lives when not on the worker's origin (webpush.js adds it).
 */
/* eslint-env serviceworker */
"use strict";

/** Shown when the payload has no usable title. */
const FALLBACK_TITLE = "New notification";

/** Keys of the payload passed through to showNotification() as they are. */
const PASSTHROUGH = ["body", "icon", "badge", "image", "tag", "lang", "dir",
  "requireInteraction", "silent", "timestamp", "vibrate", "actions"];

const API_BASE = new URL(self.location.href).searchParams.get("api") ||
  self.location.origin;

self.addEventListener("install", () => {
  // A new version of this file takes over at once: it only displays
  // notifications, so there is no cache a page could depend on.
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

/**
 * Turn a push's data into showNotification() arguments.  Never throws: a
 * malformed payload gives the fallback notification.
 * @param {PushMessageData|null} data
 * @returns {{title: string, options: NotificationOptions}}
 */
function notificationFromPush(data) {
  let text = "";
  let msg = null;
  if (data) {
    try { text = data.text(); } catch (e) { text = ""; }
    try {
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) msg = parsed;
    } catch (e) { /* not JSON: shown as text below */ }
  }
  if (!msg) {
    return {
      title: FALLBACK_TITLE,
      options: { body: text.slice(0, 500), data: { url: null, payload: text } },
    };
  }
  const options = {};
  for (const k of PASSTHROUGH) {
    if (msg[k] !== undefined && msg[k] !== null) options[k] = msg[k];
  }
  if (options.body !== undefined) options.body = String(options.body);
  // renotify without a tag is a TypeError in Chromium: keep it only with one.
  if (msg.renotify && options.tag) options.renotify = true;
  // Action buttons ({action, title, icon, url}): the browser ignores url,
  // so keep each one in data for the click handler.
  const actionUrls = {};
  if (Array.isArray(msg.actions)) {
    for (const a of msg.actions) {
      if (a && typeof a.action === "string" && typeof a.url === "string") {
        actionUrls[a.action] = a.url;
      }
    }
  }
  options.data = {
    url: typeof msg.url === "string" && msg.url ? msg.url : null,
    actionUrls,
    payload: msg.data === undefined ? null : msg.data,
  };
  const title = typeof msg.title === "string" && msg.title.trim()
    ? msg.title : FALLBACK_TITLE;
  return { title, options };
}

/**
 * Show it.  If the browser rejects an option (an image URL it cannot
 * fetch, actions without support...), show the bare title and body rather
 * than nothing at all.
 */
async function show(title, options) {
  try {
    await self.registration.showNotification(title, options);
  } catch (e) {
    console.warn("webpush sw: showNotification failed, retrying plain:", e);
    await self.registration.showNotification(title,
      { body: options.body, tag: options.tag, data: options.data });
  }
}

self.addEventListener("push", (event) => {
  const { title, options } = notificationFromPush(event.data);
  event.waitUntil(show(title, options));
});

/**
 * Resolve a notification's url against the worker's scope; only http(s)
 * URLs are opened, anything else (javascript:, data:) falls back to the
 * scope: the payload comes from a server, but a page must not become a
 * launcher for arbitrary schemes if that server is ever fed bad input.
 */
function targetUrl(url) {
  const scope = self.registration.scope;
  if (!url) return scope;
  try {
    const u = new URL(url, scope);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : scope;
  } catch (e) {
    return scope;
  }
}

/**
 * Focus a tab already showing the url (ignoring the #fragment), else open
 * a new one.  Must run inside notificationclick: browsers only let a
 * worker focus or open windows while handling a user's click.
 */
async function focusOrOpen(url) {
  const strip = (u) => u.split("#")[0];
  const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const tab = wins.find((c) => strip(c.url) === strip(url));
  if (tab && "focus" in tab) return tab.focus();
  return self.clients.openWindow(url);
}

self.addEventListener("notificationclick", (event) => {
  const n = event.notification;
  n.close();
  const data = n.data || {};
  const perAction = event.action && data.actionUrls && data.actionUrls[event.action];
  const url = targetUrl(perAction || data.url);
  event.waitUntil(focusOrOpen(url));
});

/**
 * The push service replaced or dropped the subscription.  Re-subscribe
 * with the same server key (from the old subscription, else fetched from
 * the API) so that the browser stays reachable, then tell open pages:
 * the API needs the user's token to store the new endpoint, and only a
 * page has it (webpush.js re-posts on this message, and on next load).
 */
self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil((async () => {
    let sub = event.newSubscription || null;
    if (!sub) {
      let key = event.oldSubscription && event.oldSubscription.options &&
        event.oldSubscription.options.applicationServerKey;
      if (!key) {
        const res = await fetch(API_BASE + "/api/push/vapid-public-key");
        key = (await res.json()).publicKey;
      }
      sub = await self.registration.pushManager.subscribe(
        { userVisibleOnly: true, applicationServerKey: key });
    }
    const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const c of wins) {
      c.postMessage({
        type: "webpush:subscriptionchange",
        oldEndpoint: event.oldSubscription ? event.oldSubscription.endpoint : null,
        subscription: sub.toJSON(),
      });
    }
  })().catch((e) => console.warn("webpush sw: re-subscribing failed:", e)));
});
