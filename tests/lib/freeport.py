"""free_port() for the python test drivers: a loopback TCP port that is free now
and was never handed out before by this process (the kernel may give one
ephemeral port to two bind(0) calls once the first socket is closed; see
tests/lib/ports.sh for the shell twin)."""
import socket

_handed = set()


def free_port():
    for _ in range(1000):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in _handed:
            break
    _handed.add(port)
    return port
