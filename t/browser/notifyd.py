#!/usr/bin/python3
"""A stand-in desktop notification daemon for the browser test.

Chromium on Linux hands its notifications to the desktop through the
freedesktop.org Notifications D-Bus interface, and a user's click comes
back as the ActionInvoked signal.  The DevTools protocol has no way to
click a notification, and a worker may only open a window from a real
(trusted) notificationclick; this daemon is that desktop: it owns
org.freedesktop.Notifications on the session bus of the test
(dbus-run-session), reports every Notify call on stdout, and clicks or
closes a notification when told to on stdin.

stdout, one JSON object a line:
  {"event": "ready"}
  {"event": "notify", "id": N, "app": ..., "summary": ..., "body": ...,
   "actions": [...], "hints": {...}, "replaces": N}
  {"event": "closed", "id": N}                  (Chromium closed it)
stdin, one JSON object a line:
  {"cmd": "click", "id": N, "action": "default"}  (ActionInvoked)
  {"cmd": "dismiss", "id": N}                      (NotificationClosed, 2)

Needs Debian's python3-gi (run with /usr/bin/python3).
"""
import json
import sys

from gi.repository import Gio, GLib

IFACE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
XML = """<node><interface name="org.freedesktop.Notifications">
 <method name="GetCapabilities"><arg direction="out" type="as"/></method>
 <method name="Notify">
  <arg direction="in" type="s"/><arg direction="in" type="u"/>
  <arg direction="in" type="s"/><arg direction="in" type="s"/>
  <arg direction="in" type="s"/><arg direction="in" type="as"/>
  <arg direction="in" type="a{sv}"/><arg direction="in" type="i"/>
  <arg direction="out" type="u"/></method>
 <method name="CloseNotification"><arg direction="in" type="u"/></method>
 <method name="GetServerInformation">
  <arg direction="out" type="s"/><arg direction="out" type="s"/>
  <arg direction="out" type="s"/><arg direction="out" type="s"/></method>
 <signal name="ActionInvoked"><arg type="u"/><arg type="s"/></signal>
 <signal name="NotificationClosed"><arg type="u"/><arg type="u"/></signal>
</interface></node>"""

state = {"next": 0, "conn": None}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def simple(v):
    """Hints as JSON: keep scalars, drop image bytes."""
    return v if isinstance(v, (str, int, float, bool)) else None


def on_call(conn, sender, path, iface, method, params, inv):
    if method == "GetCapabilities":
        caps = ["body", "actions", "body-markup", "body-hyperlinks",
                "icon-static", "persistence"]
        inv.return_value(GLib.Variant("(as)", (caps,)))
    elif method == "GetServerInformation":
        inv.return_value(GLib.Variant("(ssss)",
                                      ("webpush-test", "ngx_webpush", "1", "1.2")))
    elif method == "Notify":
        app, replaces, icon, summary, body, actions, hints, timeout = params.unpack()
        if replaces:
            nid = replaces
        else:
            state["next"] += 1
            nid = state["next"]
        inv.return_value(GLib.Variant("(u)", (nid,)))
        emit({"event": "notify", "id": nid, "replaces": replaces, "app": app,
              "summary": summary, "body": body, "actions": actions,
              "hints": {k: simple(v) for k, v in hints.items()},
              "timeout": timeout})
    elif method == "CloseNotification":
        (nid,) = params.unpack()
        inv.return_value(None)
        emit({"event": "closed", "id": nid})
    else:
        inv.return_error_literal(Gio.dbus_error_quark(),
                                 Gio.DBusError.UNKNOWN_METHOD, method)


def on_stdin(channel, cond):
    line = channel.readline()
    if not line:
        loop.quit()
        return False
    try:
        cmd = json.loads(line)
    except ValueError:
        return True
    conn = state["conn"]
    if cmd.get("cmd") == "click":
        conn.emit_signal(None, PATH, IFACE, "ActionInvoked",
                         GLib.Variant("(us)", (cmd["id"], cmd.get("action", "default"))))
    elif cmd.get("cmd") == "dismiss":
        conn.emit_signal(None, PATH, IFACE, "NotificationClosed",
                         GLib.Variant("(uu)", (cmd["id"], 2)))
    conn.flush_sync(None)
    emit({"event": "done", "cmd": cmd.get("cmd"), "id": cmd.get("id")})
    return True


def on_acquired(conn, name):
    state["conn"] = conn
    conn.register_object(PATH, Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0],
                         on_call, None, None)
    emit({"event": "ready"})


def on_lost(conn, name):
    emit({"event": "error", "message": "could not own " + IFACE +
          " (no session bus, or another daemon owns it)"})
    loop.quit()


loop = GLib.MainLoop()
Gio.bus_own_name(Gio.BusType.SESSION, IFACE, Gio.BusNameOwnerFlags.NONE,
                 None, on_acquired, on_lost)
GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()),
                  GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN | GLib.IOCondition.HUP,
                  on_stdin)
loop.run()
