#!/usr/bin/env python3
"""relay.py -- byte relay between a TCP port and a unix socket, so that a process in a
network namespace of its own (record.sh's kube-proxy, which must not program the host's
iptables) reaches the API server on the host's loopback:

  relay.py unix-to-tcp SOCK HOST PORT     (host side: SOCK accepts, connects to HOST:PORT)
  relay.py tcp-to-unix PORT SOCK          (namespace side: 127.0.0.1:PORT accepts, connects to SOCK)

Runs until killed. TLS passes through untouched.
"""
import os
import socket
import sys
import threading


def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(listener, connect):
    while True:
        c, _ = listener.accept()
        try:
            u = connect()
        except OSError:
            c.close()
            continue
        threading.Thread(target=pump, args=(c, u), daemon=True).start()
        threading.Thread(target=pump, args=(u, c), daemon=True).start()


def main():
    mode = sys.argv[1]
    if mode == "unix-to-tcp":
        path, host, port = sys.argv[2], sys.argv[3], int(sys.argv[4])
        if os.path.exists(path):
            os.unlink(path)
        ls = socket.socket(socket.AF_UNIX)
        ls.bind(path)
        ls.listen(64)
        serve(ls, lambda: socket.create_connection((host, port)))
    elif mode == "tcp-to-unix":
        port, path = int(sys.argv[2]), sys.argv[3]
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", port))
        ls.listen(64)

        def conn():
            u = socket.socket(socket.AF_UNIX)
            u.connect(path)
            return u
        serve(ls, conn)
    else:
        sys.exit("usage: relay.py unix-to-tcp SOCK HOST PORT | tcp-to-unix PORT SOCK")


if __name__ == "__main__":
    main()
