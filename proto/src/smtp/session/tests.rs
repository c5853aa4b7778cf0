use super::*;
use crate::smtp::command::parse;

/// The directory of the tests.
fn check(address: &str) -> Verdict {
    match address.split_once('@') {
        Some((_, "elsewhere.example")) => Verdict::NotOurs,
        Some(("ana" | "ANA" | "bo", _)) => Verdict::Accept,
        Some(("full", _)) => Verdict::OverQuota,
        Some(("off", _)) => Verdict::Suspended,
        Some(("flaky", _)) => Verdict::TryLater,
        _ => Verdict::Unknown,
    }
}

/// One command line, with the directory answering look-ups, as the network loop does.
fn say(s: &mut Session, line: &str) -> Step {
    match s.command(parse(line.as_bytes()), Conditions::default()) {
        Step::CheckRecipient(to) => s.recipient_checked(check(&to)),
        step => step,
    }
}

fn code(step: &Step) -> u16 {
    match step {
        Step::Reply(r) | Step::Close(r) | Step::ReadData(r) | Step::StartTls(r) => r.code,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_full_transaction() {
    let mut s = Session::new("mx.test", Limits::default(), true);
    let ehlo = say(&mut s, "EHLO client.example");
    let Step::Reply(r) = &ehlo else {
        panic!("{ehlo:?}")
    };
    for cap in [
        "PIPELINING",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "STARTTLS",
        "CHUNKING",
    ] {
        assert!(r.lines.iter().any(|l| l == cap), "{cap}");
    }
    assert!(r.lines.iter().any(|l| l.starts_with("SIZE ")));
    // The MX neither advertises nor implements AUTH, and does not point elsewhere.
    assert!(!r.lines.iter().any(|l| l.starts_with("AUTH")));
    let Step::Reply(auth) = say(&mut s, "AUTH PLAIN AGFAYg==") else {
        panic!("AUTH closed the session")
    };
    assert_eq!((auth.code, auth.enhanced), (502, Some("5.5.1")));
    assert!(!auth.lines.concat().contains("submission"), "{auth:?}");
    assert_eq!(
        code(&say(&mut s, "MAIL FROM:<x@sender.example> BODY=8BITMIME")),
        250
    );
    assert_eq!(code(&say(&mut s, "RCPT TO:<ana@acme.example>")), 250);
    assert_eq!(code(&say(&mut s, "RCPT TO:<ANA@acme.example>")), 250);
    assert_eq!(code(&say(&mut s, "RCPT TO:<bo@acme.example>")), 250);
    assert!(matches!(say(&mut s, "DATA"), Step::ReadData(r) if r.code == 354));
    let env = s
        .message_received("Subject: olá\r\n\r\nhi\r\n".as_bytes(), false)
        .unwrap();
    assert_eq!(
        env.recipients,
        ["ana@acme.example", "bo@acme.example"],
        "each recipient once"
    );
    assert_eq!(
        (env.from.as_str(), env.helo.as_str()),
        ("x@sender.example", "client.example")
    );
    // The next transaction starts clean.
    assert_eq!(code(&say(&mut s, "DATA")), 503);
    assert!(matches!(say(&mut s, "QUIT"), Step::Close(r) if r.code == 221));
}

#[test]
fn recipients_get_the_replies_the_issue_asks_for() {
    let mut s = Session::new("mx.test", Limits::default(), false);
    say(&mut s, "EHLO c");
    say(&mut s, "MAIL FROM:<>");
    for (rcpt, want) in [
        ("nobody@acme.example", (550, "5.1.1")),
        ("x@elsewhere.example", (550, "5.7.1")),
        ("off@acme.example", (550, "5.2.1")),
        ("full@acme.example", (452, "4.2.2")),
        ("flaky@acme.example", (451, "4.3.0")),
    ] {
        let Step::Reply(r) = say(&mut s, &format!("RCPT TO:<{rcpt}>")) else {
            panic!()
        };
        assert_eq!((r.code, r.enhanced.unwrap_or("")), want, "{rcpt}");
    }
    let Step::Reply(r) = say(&mut s, "DATA") else {
        panic!()
    };
    assert_eq!(
        (r.code, r.enhanced),
        (503, Some("5.5.1")),
        "DATA without an accepted recipient"
    );
}

#[test]
fn sequence_limits_and_errors() {
    let limits = Limits {
        max_message: 100,
        max_recipients: 2,
        max_errors: 6,
    };
    let mut s = Session::new("mx.test", limits, false);
    assert_eq!(
        code(&say(&mut s, "MAIL FROM:<a@b.example>")),
        503,
        "MAIL before EHLO"
    );
    say(&mut s, "EHLO c");
    assert_eq!(
        code(&say(&mut s, "RCPT TO:<ana@acme.example>")),
        503,
        "RCPT before MAIL"
    );
    assert_eq!(code(&say(&mut s, "MAIL FROM:<a@b.example> SIZE=101")), 552);
    assert_eq!(code(&say(&mut s, "MAIL FROM:<a@b.example> SIZE=100")), 250);
    assert_eq!(
        code(&say(&mut s, "MAIL FROM:<a@b.example>")),
        503,
        "nested MAIL"
    );
    say(&mut s, "RCPT TO:<ana@acme.example>");
    say(&mut s, "RCPT TO:<bo@acme.example>");
    let Step::Reply(r) = say(&mut s, "RCPT TO:<ana2@acme.example>") else {
        panic!()
    };
    assert_eq!((r.code, r.enhanced), (452, Some("4.5.3")));
    say(&mut s, "DATA");
    assert_eq!(s.message_received(b"", true).unwrap_err().code, 552);
    say(&mut s, "MAIL FROM:<a@b.example>");
    say(&mut s, "RCPT TO:<ana@acme.example>");
    say(&mut s, "DATA");
    assert_eq!(
        s.message_received(b"caf\xc3\xa9\r\n", false)
            .unwrap_err()
            .code,
        554,
        "8-bit without BODY=8BITMIME"
    );
    assert_eq!(code(&say(&mut s, "VRFY ana")), 252);
    assert_eq!(code(&say(&mut s, "STARTTLS")), 503, "no TLS configured");
    // Errors add up to a 421 and a closed connection.
    let mut last = say(&mut s, "BOGUS");
    while let Step::Reply(_) = last {
        last = say(&mut s, "BOGUS");
    }
    assert!(matches!(last, Step::Close(r) if r.code == 421));
}

#[test]
fn starttls_restarts_the_session() {
    let mut s = Session::new("mx.test", Limits::default(), true);
    say(&mut s, "EHLO c");
    assert!(matches!(say(&mut s, "STARTTLS"), Step::StartTls(r) if r.code == 220));
    s.tls_started();
    assert_eq!(
        code(&say(&mut s, "MAIL FROM:<a@b.example>")),
        503,
        "EHLO again after TLS"
    );
    let Step::Reply(r) = say(&mut s, "EHLO c") else {
        panic!()
    };
    assert!(!r.lines.iter().any(|l| l == "STARTTLS"));
    assert_eq!(code(&say(&mut s, "STARTTLS")), 503);
}

#[test]
fn bdat_chunks_are_counted_and_the_last_one_delivers() {
    let limits = Limits {
        max_message: 10,
        ..Limits::default()
    };
    let mut s = Session::new("mx.test", limits, false);
    say(&mut s, "EHLO c");
    // Before MAIL, the chunk is still read (to stay in step), dropped, then refused.
    assert_eq!(say(&mut s, "BDAT 4"), Step::ReadChunk { size: 4 });
    assert!(!s.chunk_bytes(4));
    assert_eq!(code(&s.chunk_done()), 503);
    say(&mut s, "MAIL FROM:<a@b.example>");
    say(&mut s, "RCPT TO:<ana@acme.example>");
    assert_eq!(say(&mut s, "BDAT 6"), Step::ReadChunk { size: 6 });
    assert!(s.chunk_bytes(6));
    let Step::Reply(r) = s.chunk_done() else {
        panic!()
    };
    assert_eq!((r.code, r.lines[0].as_str()), (250, "6 octets received"));
    assert_eq!(say(&mut s, "BDAT 4 LAST"), Step::ReadChunk { size: 4 });
    assert!(s.chunk_bytes(4));
    assert_eq!(s.chunk_done(), Step::Deliver);
    let env = s.message_received(b"0123456789", false).unwrap();
    assert_eq!(env.recipients, ["ana@acme.example"]);
    // Over the limit: the bytes are dropped and the message is refused at its end.
    say(&mut s, "MAIL FROM:<a@b.example>");
    say(&mut s, "RCPT TO:<ana@acme.example>");
    say(&mut s, "BDAT 11 LAST");
    assert!(!s.chunk_bytes(11));
    assert_eq!(s.chunk_done(), Step::Deliver);
    assert_eq!(s.message_received(b"", false).unwrap_err().code, 552);
    // The next message starts with a clean count.
    say(&mut s, "MAIL FROM:<a@b.example>");
    say(&mut s, "RCPT TO:<ana@acme.example>");
    say(&mut s, "BDAT 3 LAST");
    assert!(s.chunk_bytes(3));
    assert_eq!(s.chunk_done(), Step::Deliver);
    assert!(s.message_received(b"abc", false).is_ok());
}

#[test]
fn low_storage_refuses_mail_before_the_data() {
    let mut s = Session::new("mx.test", Limits::default(), false);
    say(&mut s, "EHLO c");
    let low = Conditions { storage_low: true };
    let Step::Reply(r) = s.command(parse(b"MAIL FROM:<a@b.example>"), low) else {
        panic!()
    };
    assert_eq!((r.code, r.enhanced), (452, Some("4.3.1")));
    assert_eq!(code(&say(&mut s, "MAIL FROM:<a@b.example>")), 250);
}
