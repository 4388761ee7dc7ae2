#!/usr/bin/env python3
"""usage: tcpcut.py DIR HOST:PORT

A TCP relay from a free loopback port (written to DIR/port once listening) to
HOST:PORT that can be cut on demand, like a network partition between a client and
the real API server (the bytes, TLS included, pass through untouched):

  SIGUSR1  cut: every relayed connection is reset, new ones are accepted and reset
  SIGUSR2  relay again
DIR/state says "open" or "cut" once the signal has taken effect.

The client sees its connections drop and its reconnects fail until SIGUSR2, then
reconnects to the same server with whatever state (resourceVersions) it kept.
Only the Python standard library. Stops on SIGTERM/SIGINT.
"""
import os
import signal
import socket
import struct
import sys
import threading

LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def reset(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
    except OSError:
        pass
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.replace(path + ".tmp", path)


class Relay:
    def __init__(self, target, dir_):
        self.target = target
        self.dir = dir_
        self.open = True
        self.lock = threading.Lock()
        self.conns = set()

    def cut(self, *_):
        with self.lock:
            self.open = False
            for s in list(self.conns):
                reset(s)
        self.say("cut")

    def resume(self, *_):
        with self.lock:
            self.open = True
        self.say("open")

    def say(self, state):
        write(os.path.join(self.dir, "state"), state)

    def pump(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        finally:
            reset(b)
            with self.lock:
                self.conns.discard(a)
            a.close()

    def serve(self, c):
        with self.lock:
            ok = self.open
        if not ok:
            reset(c)
            c.close()
            return
        try:
            u = socket.create_connection(self.target, timeout=10)
            u.settimeout(None)
        except OSError:
            reset(c)
            c.close()
            return
        with self.lock:
            if not self.open:
                reset(c)
                reset(u)
                c.close()
                u.close()
                return
            self.conns.update((c, u))
        threading.Thread(target=self.pump, args=(c, u), daemon=True).start()
        threading.Thread(target=self.pump, args=(u, c), daemon=True).start()


def main():
    if len(sys.argv) != 3 or ":" not in sys.argv[2]:
        sys.exit(__doc__)
    host, port = sys.argv[2].rsplit(":", 1)
    relay = Relay((host, int(port)), sys.argv[1])
    signal.signal(signal.SIGUSR1, relay.cut)
    signal.signal(signal.SIGUSR2, relay.resume)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    relay.say("open")
    write(os.path.join(sys.argv[1], "port"), str(ls.getsockname()[1]))
    while True:
        c, _ = ls.accept()
        relay.serve(c)


if __name__ == "__main__":
    main()
