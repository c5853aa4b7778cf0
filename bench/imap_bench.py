#!/usr/bin/env python3
"""IMAP figures for issue 15, the same way against any server (Mailroom or Dovecot).

    imap_bench.py HOST PORT USER PASSWORD seed N [CONNECTIONS]   APPEND N messages to INBOX
    imap_bench.py HOST PORT USER PASSWORD read                    SELECT + UID FETCH 1:* (FLAGS),
                                                                  ENVELOPE+BODYSTRUCTURE of 50,
                                                                  UID SEARCH of a word in 1%
    imap_bench.py HOST PORT USER PASSWORD idle N                  N logged-in IDLE connections,
                                                                  held until stdin closes

Prints one JSON object per measurement. A raw-socket client: the time is the server's and the
network's, not a client library's parsing.
"""
import asyncio
import json
import socket
import statistics
import sys
import time

RARE_WORD = "zanzibar"
WORDS = ["meeting", "budget", "release", "customer", "invoice", "design", "review", "travel",
         "report", "schedule", "contract", "launch", "support", "hiring", "roadmap", "metrics"]


def message(i: int) -> bytes:
    """Message i: conversations of four, fifty senders, ~2 KB of text; one in ten has an
    attachment, one in a hundred holds RARE_WORD."""
    seed = (i * 6364136223846793005 + 1442695040888963407) % (1 << 64)
    words = []
    while sum(len(w) + 1 for w in words) < 2000:
        seed = (seed * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        words.append(WORDS[seed >> 60])
    if i % 100 == 7:
        words.insert(len(words) // 2, RARE_WORD)
    lines, line = [], []
    for w in words:
        line.append(w)
        if len(line) == 12:
            lines.append(" ".join(line))
            line = []
    lines.append(" ".join(line))
    text = "\r\n".join(lines) + "\r\n"
    conv = i // 4
    subject = ("Re: " if i % 4 else "") + f"Topic {conv} {WORDS[conv % 16]}"
    head = (f"From: Sender {i % 50} <sender{i % 50}@example.org>\r\n"
            f"To: reader@example.com\r\nSubject: {subject}\r\n"
            f"Date: Mon, 7 Dec 2026 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} +0000\r\n"
            f"Message-ID: <m{i}@example.org>\r\nMIME-Version: 1.0\r\n")
    if i % 10 == 3:
        att = ("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n" * 24)
        body = ("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
                "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text +
                "--b\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\n"
                "Content-Disposition: attachment; filename=\"r.pdf\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n" + att + "--b--\r\n")
    else:
        body = "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + text
    return (head + body).encode()


class Conn:
    """A blocking raw IMAP connection."""

    def __init__(self, host, port, user, password):
        self.s = socket.create_connection((host, port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.n = 0
        self._until(b"* OK")
        ok = self.cmd(f'LOGIN "{user}" "{password}"')
        assert b" OK" in ok.splitlines()[-1], ok

    def _until(self, marker: bytes) -> bytes:
        """The first line (it must start with `marker`)."""
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        assert line.startswith(marker), line
        return line

    def cmd(self, line: str, data: bytes = b"") -> bytes:
        self.n += 1
        tag = f"b{self.n}"
        self.s.sendall(f"{tag} {line}\r\n".encode() + data)
        out = b""
        while True:
            start = self.buf.find(f"\r\n{tag} ".encode())
            if self.buf.startswith(f"{tag} ".encode()):
                start = -2
            if start != -1 and self.buf.find(b"\r\n", start + 2) >= 0:
                end = self.buf.find(b"\r\n", start + 2) + 2
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk


def emit(**kw):
    print(json.dumps(kw), flush=True)


def seed(host, port, user, password, n, conns):
    start = time.time()
    counter = {"next": 0}

    def worker():
        c = Conn(host, port, user, password)
        while True:
            i = counter["next"]
            counter["next"] += 1
            if i >= n:
                return
            m = message(i)
            r = c.cmd(f"APPEND INBOX {{{len(m)}+}}", m + b"\r\n")
            assert b" OK" in r.splitlines()[-1], r

    import threading
    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.time() - start
    emit(what="append", messages=n, connections=conns, secs=round(secs, 1),
         per_sec=round(n / secs))


def read(host, port, user, password):
    c = Conn(host, port, user, password)
    times = []
    for _ in range(5):
        t = time.time()
        r = c.cmd("SELECT INBOX")
        exists = int([l for l in r.split(b"\r\n") if l.endswith(b" EXISTS")][0].split()[1])
        r = c.cmd("UID FETCH 1:* (FLAGS)")
        times.append(time.time() - t)
        assert r.count(b"FETCH (") == exists, (exists, r.count(b"FETCH ("))
    emit(what="select + uid fetch 1:* (flags)", messages=exists,
         median_ms=round(statistics.median(times) * 1000, 1), runs=5)
    c.cmd("SELECT INBOX")
    r = c.cmd("UID SEARCH ALL")
    uids = [int(x) for x in r.split(b"\r\n")[0].split()[2:]]
    mid = uids[len(uids) // 2]
    times = []
    for _ in range(20):
        t = time.time()
        r = c.cmd(f"UID FETCH {mid}:{mid + 49} (ENVELOPE BODYSTRUCTURE)")
        times.append(time.time() - t)
    assert r.count(b"ENVELOPE") == 50, r[:500]
    emit(what="uid fetch 50 (envelope bodystructure)",
         median_ms=round(statistics.median(times) * 1000, 1), runs=20)
    times = []
    for _ in range(3):
        t = time.time()
        r = c.cmd(f"UID SEARCH BODY {RARE_WORD}")
        times.append(time.time() - t)
    hits = len(r.split(b"\r\n")[0].split()) - 2
    emit(what=f"uid search body {RARE_WORD}", hits=hits,
         median_ms=round(statistics.median(times) * 1000, 1), runs=3)


async def idle(host, port, user, password, n):
    opened = []

    async def one():
        r, w = await asyncio.open_connection(host, port)
        await r.readline()
        w.write(f'a LOGIN "{user}" "{password}"\r\nb SELECT INBOX\r\nc IDLE\r\n'.encode())
        await w.drain()
        while True:
            line = await r.readline()
            if not line:
                raise RuntimeError("closed")
            if line.startswith(b"+ "):
                break
            if line.startswith((b"a NO", b"a BAD", b"b NO", b"b BAD")):
                raise RuntimeError(line)
        opened.append((r, w))

    start = time.time()
    sem = asyncio.Semaphore(64)

    async def limited():
        async with sem:
            await one()

    await asyncio.gather(*(limited() for _ in range(n)))
    emit(what="idle connections open", connections=len(opened),
         secs=round(time.time() - start, 1))
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def main():
    host, port, user, password, what = sys.argv[1:6]
    port = int(port)
    if what == "seed":
        seed(host, port, user, password, int(sys.argv[6]),
             int(sys.argv[7]) if len(sys.argv) > 7 else 4)
    elif what == "read":
        read(host, port, user, password)
    elif what == "idle":
        asyncio.run(idle(host, port, user, password, int(sys.argv[6])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
