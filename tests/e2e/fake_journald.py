"""Runs a command with a journald of its own: meant to be started as

    unshare --mount --propagation private -- python3 fake_journald.py OUT [--absent] -- CMD...

In the new mount namespace it mounts an empty tmpfs on /run/systemd (the
host's journald, if any, is out of sight), binds /run/systemd/journal/socket
as a datagram socket (unless --absent: then there is no journal at all) and
runs CMD. Every entry received in journald's native protocol is appended to
OUT as one JSON object of its fields. SIGTERM/SIGINT are passed on to CMD;
the script ends when CMD ends, with CMD's status (128+n for signal n)."""

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys

JOURNAL_DIR = "/run/systemd/journal"
JOURNAL_SOCKET = JOURNAL_DIR + "/socket"


def parse_native(data: bytes) -> dict:
    """journald's native protocol: KEY=value lines, or KEY, newline, a
    little-endian 64-bit size and that many bytes, newline."""
    fields = {}
    i = 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            nl = len(data)
        line = data[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            fields[key.decode()] = value.decode(errors="replace")
            i = nl + 1
        else:
            (size,) = struct.unpack_from("<Q", data, nl + 1)
            start = nl + 9
            fields[line.decode()] = data[start:start + size].decode(errors="replace")
            i = start + size + 1
    return fields


def main() -> int:
    args = sys.argv[1:]
    sep = args.index("--")
    opts, cmd = args[:sep], args[sep + 1:]
    out_path = opts[0]
    absent = "--absent" in opts[1:]

    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/systemd"], check=True)
    sock = None
    if not absent:
        os.makedirs(JOURNAL_DIR)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(JOURNAL_SOCKET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)

    child = subprocess.Popen(cmd)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda n, _f: child.send_signal(n))

    with open(out_path, "a", encoding="utf-8") as out:
        def drain(timeout: float) -> None:
            if sock is None:
                return
            while True:
                ready, _, _ = select.select([sock], [], [], timeout)
                if not ready:
                    return
                data = sock.recv(1 << 20)
                out.write(json.dumps(parse_native(data)) + "\n")
                out.flush()
                timeout = 0

        while child.poll() is None:
            if sock is None:
                try:
                    child.wait(timeout=0.2)
                except subprocess.TimeoutExpired:
                    pass
            else:
                drain(0.2)
        drain(0)
    rc = child.returncode
    return 128 - rc if rc < 0 else rc


if __name__ == "__main__":
    sys.exit(main())
