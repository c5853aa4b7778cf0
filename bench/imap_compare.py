#!/usr/bin/env python3
"""Compares what two IMAP servers answer for the same messages: every file of a corpus is
APPENDed to a fresh folder of each, then `FETCH n (ENVELOPE)`, `FETCH n (BODYSTRUCTURE)` and
`FETCH n (BODY.PEEK[TEXT])` are compared byte for byte. Used with Dovecot as the reference
(bench/imap.sh starts one; any two servers do):

    imap_compare.py CORPUS_DIR HOST:PORT:USER:PASS HOST:PORT:USER:PASS [MAX_DIFFS]

Prints one line per item with the count of identical answers, then the first differences.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from imap_bench import Conn  # noqa: E402


def corpus(d):
    out = []
    for root, _, files in os.walk(d):
        for f in files:
            if not f.endswith(".md"):
                out.append(os.path.join(root, f))
    return sorted(out)


def untagged(resp: bytes) -> bytes:
    """The response without its tagged line."""
    lines = resp.rstrip(b"\r\n").rsplit(b"\r\n", 1)
    return lines[0] if len(lines) == 2 else b""


def main():
    files = corpus(sys.argv[1])
    servers = []
    folder = f"compare{int(time.time())}"
    for spec in sys.argv[2:4]:
        host, port, user, password = spec.split(":", 3)
        c = Conn(host, int(port), user, password)
        assert b" OK" in c.cmd(f"CREATE {folder}"), folder
        for f in files:
            data = open(f, "rb").read()
            r = c.cmd(f"APPEND {folder} {{{len(data)}+}}", data + b"\r\n")
            assert b" OK" in r.splitlines()[-1], (f, r)
        c.cmd(f"SELECT {folder}")
        servers.append(c)
    max_diffs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    # Messages with bare line feeds are kept byte for byte by Mailroom and converted to CRLF by
    # Dovecot, so sizes and line counts differ for them by design: counted apart.
    def crlf_clean(f):
        data = open(f, "rb").read()
        return data.count(b"\n") == data.count(b"\r\n")

    clean = {f for f in files if crlf_clean(f)}
    for item in ["ENVELOPE", "BODYSTRUCTURE", "BODY.PEEK[TEXT]"]:
        same, same_clean, diffs = 0, 0, []
        for i, f in enumerate(files, 1):
            a, b = (untagged(s.cmd(f"FETCH {i} ({item})")) for s in servers)
            if a == b:
                same += 1
                same_clean += f in clean
            elif f in clean:
                diffs.append((f, a, b))
        print(f"{item}: {same}/{len(files)} identical; "
              f"{same_clean}/{len(clean)} of the messages with CRLF line ends only")
        for f, a, b in diffs[:max_diffs]:
            print(f"  {os.path.relpath(f, sys.argv[1])}\n    ours: {a[:400]!r}\n    ref:  {b[:400]!r}")


if __name__ == "__main__":
    main()
