#!/usr/bin/python3
"""Mock DNS server for the sender's resolver tests: answers NXDOMAIN.

    t/mock/dnsserver.py --port 0 --ready-file F --queries-file Q
                        [--release-file R]

UDP on 127.0.0.1.  Every query's name is appended to the queries file
(one line each, as it arrives).  With --release-file, queries are held
unanswered until that file exists, then all of them (and every later
one) get NXDOMAIN: a test decides exactly when lookups end, so it can
check what happened while they were pending without timing anything.
Once listening it writes the bound port to the ready file.
"""

import argparse
import os
import select
import socket
import struct


def qname(msg):
    """The question's name, or None when the message is malformed."""
    labels, i = [], 12
    while i < len(msg):
        n = msg[i]
        if n == 0:
            return ".".join(labels), i + 5
        if n & 0xC0:
            return None
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    return None


def nxdomain(msg, end):
    """The NXDOMAIN answer to msg, whose question ends at end."""
    qid, flags = struct.unpack("!HH", msg[:4])
    rd = flags & 0x0100
    hdr = struct.pack("!HHHHHH", qid, 0x8000 | rd | 0x0080 | 3, 1, 0, 0, 0)
    return hdr + msg[12:end]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--queries-file", required=True)
    ap.add_argument("--release-file")
    a = ap.parse_args()

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", a.port))
    with open(a.ready_file + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(a.ready_file + ".tmp", a.ready_file)

    s.setblocking(False)
    log = open(a.queries_file, "a", buffering=1)
    held = []
    released = a.release_file is None

    while True:
        r, _, _ = select.select([s], [], [], 0.05)
        if not released and os.path.exists(a.release_file):
            released = True
            for msg, peer, end in held:
                s.sendto(nxdomain(msg, end), peer)
            held = []
        if not r:
            continue
        while True:
            try:
                msg, peer = s.recvfrom(4096)
            except BlockingIOError:
                break
            q = qname(msg) if len(msg) > 12 else None
            if q is not None:
                log.write(q[0] + "\n")
                if released:
                    s.sendto(nxdomain(msg, q[1]), peer)
                else:
                    held.append((msg, peer, q[1]))


if __name__ == "__main__":
    main()
