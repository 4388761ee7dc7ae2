#!/usr/bin/env python3
"""A fake systemd manager on a D-Bus bus, for the systemd collector tests.

  fake_systemd.py ADDRESS        serve org.freedesktop.systemd1 on the bus at
                                 ADDRESS (a private dbus-daemon) until killed
                                 (FAKE_SYSTEMD_BADTYPE=1: SystemState
                                 answered as a u32)
  fake_systemd.py --garbage PATH listen on the unix socket PATH, accept SASL
                                 EXTERNAL and answer every message with a
                                 malformed one (no bus: the agent connects
                                 to it directly)
  fake_systemd.py --private ADDRESS
                                 the same manager peer to peer on ADDRESS
                                 (as systemd's /run/systemd/private)
  fake_systemd.py --hang PATH    listen on PATH and never answer (the
                                 agent's D-Bus deadline ends each scrape)

The manager implements what node_exporter's systemd collector (and ours)
reads: Manager.ListUnits, the Manager properties Version, Virtualization and
SystemState, and per-unit properties on the unit objects
/org/freedesktop/systemd1/unit/<escaped name> (systemd's escaping: bytes
outside [A-Za-z0-9], and a leading digit, become _xx). A property the table
lacks is an org.freedesktop.DBus.Error.UnknownProperty error, as systemd
answers for an interface the unit does not have.
"""
import os
import socket
import sys

UNITS = [
    # name, load, active, sub, {interface: {property: (dbus type, value)}}
    ("ssh.service", "loaded", "active", "running",
     {"Service": {"Type": ("s", "notify"), "NRestarts": ("u", 2), "TasksCurrent": ("t", 3),
                  "TasksMax": ("t", 4915)},
      "Unit": {"ActiveEnterTimestamp": ("t", 1700000000123456)}}),
    ("cron.service", "loaded", "inactive", "dead",
     {"Service": {"Type": ("s", "simple"), "NRestarts": ("u", 0),
                  "TasksCurrent": ("t", 2**64 - 1), "TasksMax": ("t", 2**64 - 1)}}),
    ("broken.service", "loaded", "failed", "failed",
     {"Service": {"Type": ("s", "oneshot"), "NRestarts": ("u", 7), "TasksCurrent": ("t", 0),
                  "TasksMax": ("t", 100)}}),
    ("starting.service", "loaded", "activating", "start",
     {"Service": {"Type": ("s", "forking")}}),
    ("stopping.service", "loaded", "deactivating", "stop-sigterm",
     {"Service": {"Type": ("s", "exec")}}),
    # systemd's own escaping in a name (\x2d), a template instance, a colon
    ("odd\\x2dname@inst:1.service", "loaded", "active", "running",
     {"Service": {"Type": ("s", "simple")},
      "Unit": {"ActiveEnterTimestamp": ("t", 1650000000000001)}}),
    ("9lives.service", "loaded", "active", "exited",
     {"Service": {"Type": ("s", "oneshot")}, "Unit": {"ActiveEnterTimestamp": ("t", 0)}}),
    # the manager refuses Type: type=""
    ("notype.service", "loaded", "active", "running", {}),
    ("weird.service", "loaded", "reloading", "reload", {"Service": {"Type": ("s", "notify-reload")}}),
    ("gone.service", "not-found", "inactive", "dead", {}),
    ("dbus.socket", "loaded", "active", "running",
     {"Socket": {"NAccepted": ("u", 5), "NConnections": ("u", 1), "NRefused": ("u", 0)},
      "Unit": {"ActiveEnterTimestamp": ("t", 1700000001000000)}}),
    # old systemd: no NRefused
    ("old.socket", "loaded", "listening", "listening",
     {"Socket": {"NAccepted": ("u", 9), "NConnections": ("u", 0)}}),
    ("logrotate.timer", "loaded", "active", "waiting",
     {"Timer": {"LastTriggerUSec": ("t", 1700000000000000)},
      "Unit": {"ActiveEnterTimestamp": ("t", 1699999999000000)}}),
    # excluded by the default unit-exclude
    ("home.mount", "loaded", "active", "mounted", {"Mount": {"Type": ("s", "ext4")}}),
    ("user.slice", "loaded", "active", "active", {}),
    ("dev-sda.device", "loaded", "active", "plugged", {}),
]

MANAGER = {"Version": "252.38-1~deb12u1", "Virtualization": "", "SystemState": "degraded"}


def escape(name):
    if not name:
        return "_"
    out = []
    for i, b in enumerate(name.encode()):
        c = chr(b)
        if (c.isascii() and c.isalpha()) or (c.isdigit() and i > 0):
            out.append(c)
        else:
            out.append("_%02x" % b)
    return "".join(out)


def serve_bus(address, private=False):
    import dbus
    import dbus.server
    import dbus.service
    from dbus.mainloop.glib import DBusGMainLoop
    from gi.repository import GLib

    DBusGMainLoop(set_as_default=True)
    by_path = {escape(u[0]): u for u in UNITS}
    wrap = {"s": dbus.String, "u": dbus.UInt32, "t": dbus.UInt64}

    class UnknownProperty(dbus.DBusException):
        _dbus_error_name = "org.freedesktop.DBus.Error.UnknownProperty"

    class Manager(dbus.service.Object):
        @dbus.service.method("org.freedesktop.systemd1.Manager", in_signature="",
                             out_signature="a(ssssssouso)")
        def ListUnits(self):
            return [(u[0], u[0] + " (fake)", u[1], u[2], u[3], "",
                     dbus.ObjectPath("/org/freedesktop/systemd1/unit/" + escape(u[0])),
                     dbus.UInt32(0), "", dbus.ObjectPath("/")) for u in UNITS]

        @dbus.service.method("org.freedesktop.DBus.Properties", in_signature="ss",
                             out_signature="v")
        def Get(self, iface, prop):
            if iface != "org.freedesktop.systemd1.Manager" or prop not in MANAGER:
                raise UnknownProperty("no property " + prop)
            if prop == "SystemState" and os.environ.get("FAKE_SYSTEMD_BADTYPE"):
                # well-formed D-Bus, wrong type: a string property as u
                return dbus.UInt32(1, variant_level=1)
            return dbus.String(MANAGER[prop], variant_level=1)

    class Units(dbus.service.FallbackObject):
        @dbus.service.method("org.freedesktop.DBus.Properties", in_signature="ss",
                             out_signature="v", rel_path_keyword="rel")
        def Get(self, iface, prop, rel=None):
            u = by_path.get(rel.lstrip("/"))
            short = iface.rsplit(".", 1)[-1]
            if u is None:
                raise dbus.DBusException("no unit", name="org.freedesktop.systemd1.NoSuchUnit")
            props = u[4].get(short, {})
            if prop not in props:
                raise UnknownProperty("no property %s.%s" % (short, prop))
            t, v = props[prop]
            return wrap[t](v, variant_level=1)

    if private:
        # systemd's private socket: peer to peer, no bus daemon, no Hello;
        # every connection gets its own manager objects.
        class Private(dbus.server.Server):
            def connection_added(self, conn):
                Manager(conn, "/org/freedesktop/systemd1")
                Units(conn, "/org/freedesktop/systemd1/unit")

        server = Private(address)  # noqa: F841 (kept alive by the main loop)
    else:
        bus = dbus.bus.BusConnection(address)
        name = dbus.service.BusName("org.freedesktop.systemd1", bus)
        Manager(name, "/org/freedesktop/systemd1")
        Units(bus, "/org/freedesktop/systemd1/unit")
    print("ready", flush=True)
    GLib.MainLoop().run()


def garbage(path):
    """SASL as a server, then malformed replies: a header whose fields
    array claims more bytes than the message has, then random bytes."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    print("ready", flush=True)
    n = 0
    while True:
        c, _ = srv.accept()
        try:
            c.settimeout(5)
            buf = b""
            said_ok = False
            while b"BEGIN\r\n" not in buf:
                d = c.recv(4096)
                if not d:
                    break
                buf += d
                if not said_ok and b"AUTH" in buf and buf.endswith(b"\r\n"):
                    c.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
                    said_ok = True
            if not buf.split(b"BEGIN\r\n", 1)[-1]:
                c.recv(65536)  # the first message (Hello)
            n += 1
            kinds = [
                # reply, serial 1, fields array length 200 bytes, body 0: truncated
                b"l\x02\x00\x01" + (0).to_bytes(4, "little") + (1).to_bytes(4, "little")
                + (200).to_bytes(4, "little") + b"\x05\x01u\x00\x01\x00\x00\x00",
                # bad endianness marker
                b"X\x02\x00\x01" + b"\x00" * 12,
                # huge body length
                b"l\x02\x00\x01" + (0x7fffffff).to_bytes(4, "little") + (1).to_bytes(4, "little")
                + (0).to_bytes(4, "little"),
                os.urandom(64),
            ]
            c.sendall(kinds[n % len(kinds)])
            c.recv(65536)
        except OSError:
            pass
        finally:
            c.close()


def hang(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(64)
    print("ready", flush=True)
    conns = []
    while True:
        c, _ = srv.accept()
        conns.append(c)  # kept open, never read: the client waits for "OK"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--private":
        serve_bus(sys.argv[2], private=True)
    elif len(sys.argv) == 3 and sys.argv[1] == "--hang":
        hang(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--garbage":
        garbage(sys.argv[2])
    elif len(sys.argv) == 2:
        serve_bus(sys.argv[1])
    else:
        sys.exit(__doc__)
