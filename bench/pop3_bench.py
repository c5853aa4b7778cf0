#!/usr/bin/env python3
"""POP3 figures for issue 16, the same way against any server (Mailroom or Dovecot).

    pop3_bench.py mbox N SIZE                       an mbox of N messages of about SIZE bytes
    pop3_bench.py maildir MBOX DIR                  the same messages as maildir files in DIR/cur
    pop3_bench.py retr HOST PORT PASSWORD USER...   each USER in its own connection at once:
                                                    LIST, then RETR of every message, one after
                                                    another (as fetchmail and mail clients do)

Prints one JSON object per measurement. A raw-socket client that reads whole responses (up to
the terminating CRLF.CRLF), so the time is the server's and the network's, not a library's.
"""
import json
import socket
import sys
import threading
import time

WORDS = ["meeting", "budget", "release", "customer", "invoice", "design", "review", "travel",
         "report", "schedule", "contract", "launch", "support", "hiring", "roadmap", "metrics"]


def message(i: int, size: int) -> bytes:
    """Message i: a plain-text message of about `size` bytes, lines of about 70 characters."""
    seed = (i * 6364136223846793005 + 1442695040888963407) % (1 << 64)
    head = (f"From: Sender {i % 50} <sender{i % 50}@example.org>\n"
            f"To: reader@example.com\nSubject: Message {i}\n"
            f"Date: Mon, 7 Dec 2026 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} +0000\n"
            f"Message-ID: <p{i}@example.org>\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=us-ascii\n\n")
    lines, line, total = [], [], len(head)
    while total < size:
        seed = (seed * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        w = WORDS[seed >> 60]
        line.append(w)
        total += len(w) + 1
        if len(line) == 10:
            lines.append(" ".join(line))
            line = []
    lines.append(" ".join(line))
    return (head + "\n".join(lines) + "\n").encode()


def write_mbox(n: int, size: int):
    out = sys.stdout.buffer
    for i in range(n):
        out.write(b"From sender@example.org Mon Dec  7 10:00:00 2026\n")
        out.write(message(i, size))
        out.write(b"\n")


def write_maildir(mbox: str, directory: str):
    import os
    os.makedirs(f"{directory}/cur", exist_ok=True)
    os.makedirs(f"{directory}/new", exist_ok=True)
    os.makedirs(f"{directory}/tmp", exist_ok=True)
    data = open(mbox, "rb").read()
    parts = data.split(b"From sender@example.org Mon Dec  7 10:00:00 2026\n")[1:]
    for i, p in enumerate(parts):
        body = p[:-1] if p.endswith(b"\n\n") else p
        with open(f"{directory}/cur/{1765101600 + i}.M{i}P1.bench:2,", "wb") as f:
            f.write(body)


class Conn:
    def __init__(self, host, port, user, password):
        self.s = socket.create_connection((host, port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        assert self.line().startswith(b"+OK")
        assert self.cmd(f"USER {user}").startswith(b"+OK")
        r = self.cmd(f"PASS {password}")
        assert r.startswith(b"+OK"), r

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise RuntimeError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def cmd(self, line: str) -> bytes:
        self.s.sendall(line.encode() + b"\r\n")
        return self.line()

    def multi(self, line: str) -> bytes:
        """A multi-line response's body (still stuffed), read up to the terminator."""
        status = self.cmd(line)
        assert status.startswith(b"+OK"), status
        data = bytearray(self.buf)
        if data.startswith(b".\r\n"):
            self.buf = bytes(data[3:])
            return b""
        searched = 0
        while True:
            i = data.find(b"\r\n.\r\n", max(0, searched - 4))
            if i >= 0:
                self.buf = bytes(data[i + 5:])
                return bytes(data[:i + 2])
            searched = len(data)
            chunk = self.s.recv(1 << 18)
            if not chunk:
                raise RuntimeError("closed")
            data += chunk


def retr(host, port, password, users):
    results = [None] * len(users)
    conns = [Conn(host, port, u, password) for u in users]
    counts = []
    for c in conns:
        listing = c.multi("LIST").split(b"\r\n")
        counts.append(len([l for l in listing if l]))
    barrier = threading.Barrier(len(users))

    def worker(k):
        c = conns[k]
        barrier.wait()
        t = time.time()
        octets = 0
        for n in range(1, counts[k] + 1):
            octets += len(c.multi(f"RETR {n}"))
        results[k] = (time.time() - t, octets)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(users))]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - start
    for c in conns:
        c.s.close()  # no QUIT: nothing is committed, the next run finds the same maildrop
    total = sum(counts)
    octets = sum(r[1] for r in results)
    print(json.dumps({"what": f"retr, {len(users)} client(s)", "messages": total,
                      "secs": round(wall, 2), "msg_per_sec": round(total / wall),
                      "mb_per_sec": round(octets / wall / 1e6, 1)}), flush=True)


def main():
    what = sys.argv[1]
    if what == "mbox":
        write_mbox(int(sys.argv[2]), int(sys.argv[3]))
    elif what == "maildir":
        write_maildir(sys.argv[2], sys.argv[3])
    elif what == "retr":
        retr(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
