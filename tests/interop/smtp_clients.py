#!/usr/bin/env python3
"""Interop: Python's smtplib against Mailroom's SMTP server, plain and with STARTTLS.

usage: smtp_clients.py PORT RCPT
Sends three messages and exits 0 only when the server answered as a standard MTA must:
a plain delivery, one over STARTTLS (the self-signed certificate is not verified: the test
checks the protocol, not the PKI), and an unknown recipient refused with 550 5.1.1.
"""
import smtplib
import ssl
import sys

port, rcpt = int(sys.argv[1]), sys.argv[2]
domain = rcpt.split("@", 1)[1]
msg = "From: py@outside.example\r\nTo: {0}\r\nSubject: {1}\r\nMessage-ID: <{2}@py.example>\r\n\r\nsent by smtplib\r\n"

with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    code, caps = s.ehlo("py.example")
    assert code == 250, code
    for ext in ("pipelining", "8bitmime", "smtputf8", "size", "starttls", "enhancedstatuscodes"):
        assert s.has_extn(ext), ext
    refused = s.sendmail("py@outside.example", [rcpt], msg.format(rcpt, "plain", "p1"))
    assert refused == {}, refused
    try:
        s.sendmail("py@outside.example", ["nobody@" + domain], msg.format(rcpt, "x", "x1"))
        raise SystemExit("unknown recipient accepted")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients["nobody@" + domain]
        assert code == 550 and text.startswith(b"5.1.1"), (code, text)

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    s.ehlo("py.example")
    s.starttls(context=ctx)
    code, _ = s.ehlo("py.example")
    assert code == 250 and not s.has_extn("starttls")
    s.sendmail("py@outside.example", [rcpt], msg.format(rcpt, "over tls", "t1"))
print("smtplib: ok")
