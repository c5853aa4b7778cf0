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

/// A submission session as the network loop drives it: SASL lines go to the exchange,
/// credentials and senders to the directory of the test (`ana` / `pw`, who owns
/// `ana@acme.example`).
fn submit(s: &mut Session, line: &str) -> Step {
    let step = if s.awaiting_sasl() {
        s.sasl_response(Ok(line.as_bytes().to_vec()))
    } else {
        s.command(parse(line.as_bytes()), Conditions::default())
    };
    match step {
        Step::Authenticate { user, password } => {
            let v = if user == "ana" && password == "pw" {
                AuthVerdict::Accept
            } else {
                AuthVerdict::Invalid
            };
            s.authenticated(&user, v)
        }
        Step::CheckSender(from) => s.sender_checked(if from == "ana@acme.example" {
            SenderVerdict::Accept
        } else {
            SenderVerdict::NotYours("not yours".into())
        }),
        Step::CheckRecipient(_) => s.recipient_checked(Verdict::Accept),
        step => step,
    }
}

fn reply(step: Step) -> Reply {
    match step {
        Step::Reply(r) | Step::Close(r) | Step::ReadData(r) | Step::StartTls(r) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn submission_wants_tls_then_a_login_then_an_own_sender() {
    let mut s = Session::submission("smtp.test", Limits::default(), true, true);
    let ehlo = reply(submit(&mut s, "EHLO laptop"));
    assert!(ehlo.lines.iter().any(|l| l == "STARTTLS"));
    assert!(
        !ehlo.lines.iter().any(|l| l.starts_with("AUTH")),
        "{ehlo:?}"
    );
    // No AUTH before TLS, and no mail without AUTH.
    let r = reply(submit(&mut s, "AUTH PLAIN AGFuYQBwdw=="));
    assert_eq!((r.code, r.enhanced), (538, Some("5.7.11")));
    let r = reply(submit(&mut s, "MAIL FROM:<ana@acme.example>"));
    assert_eq!((r.code, r.enhanced), (530, Some("5.7.0")));
    assert_eq!(reply(submit(&mut s, "STARTTLS")).code, 220);
    s.tls_started();
    let ehlo = reply(submit(&mut s, "EHLO laptop"));
    assert!(
        ehlo.lines.iter().any(|l| l == "AUTH PLAIN LOGIN"),
        "{ehlo:?}"
    );
    assert!(!ehlo.lines.iter().any(|l| l == "STARTTLS"));
    // A wrong password, then PLAIN with the response on its own line.
    let r = reply(submit(&mut s, "AUTH PLAIN AGFuYQB4"));
    assert_eq!((r.code, r.enhanced), (535, Some("5.7.8")));
    assert_eq!(reply(submit(&mut s, "AUTH PLAIN")).code, 334);
    assert!(s.awaiting_sasl());
    assert_eq!(reply(submit(&mut s, "AGFuYQBwdw==")).code, 235);
    assert_eq!(s.user(), Some("ana"));
    assert!(
        !reply(submit(&mut s, "EHLO laptop"))
            .lines
            .iter()
            .any(|l| l.starts_with("AUTH"))
    );
    assert_eq!(reply(submit(&mut s, "AUTH PLAIN AGFuYQBwdw==")).code, 503);
    // Someone else's address is refused; one's own is taken.
    let r = reply(submit(&mut s, "MAIL FROM:<boss@acme.example>"));
    assert_eq!((r.code, r.enhanced), (553, Some("5.7.1")));
    assert_eq!(reply(submit(&mut s, "RCPT TO:<x@y.example>")).code, 503);
    assert_eq!(
        reply(submit(&mut s, "MAIL FROM:<ana@acme.example>")).code,
        250
    );
    assert_eq!(
        reply(submit(&mut s, "RCPT TO:<anyone@elsewhere.example>")).code,
        250
    );
    assert_eq!(reply(submit(&mut s, "DATA")).code, 354);
}

#[test]
fn submission_login_exchange_and_cancels() {
    let mut s = Session::submission("smtp.test", Limits::default(), false, false);
    let ehlo = reply(submit(&mut s, "EHLO laptop"));
    assert!(
        ehlo.lines.iter().any(|l| l == "AUTH PLAIN LOGIN"),
        "{ehlo:?}"
    );
    assert_eq!(reply(submit(&mut s, "AUTH CRAM-MD5")).code, 504);
    // LOGIN, cancelled at the password.
    let r = reply(submit(&mut s, "AUTH LOGIN"));
    assert_eq!((r.code, r.lines[0].as_str()), (334, "VXNlcm5hbWU6"));
    assert_eq!(reply(submit(&mut s, "YW5h")).lines[0], "UGFzc3dvcmQ6");
    assert_eq!(reply(submit(&mut s, "*")).code, 501);
    assert!(!s.awaiting_sasl());
    // Not base64.
    reply(submit(&mut s, "AUTH LOGIN"));
    assert_eq!(reply(submit(&mut s, "not base64!")).code, 501);
    // LOGIN with the user name given at once.
    assert_eq!(reply(submit(&mut s, "AUTH LOGIN YW5h")).code, 334);
    assert_eq!(reply(submit(&mut s, "cHc=")).code, 235);
    assert_eq!(s.user(), Some("ana"));
}

#[test]
fn submission_closes_after_too_many_failed_logins() {
    let limits = Limits {
        max_errors: 3,
        ..Limits::default()
    };
    let mut s = Session::submission("smtp.test", limits, false, false);
    reply(submit(&mut s, "EHLO laptop"));
    assert_eq!(reply(submit(&mut s, "AUTH PLAIN AGFuYQB4")).code, 535);
    assert_eq!(reply(submit(&mut s, "AUTH PLAIN AGFuYQB4")).code, 535);
    let Step::Close(r) = submit(&mut s, "AUTH PLAIN AGFuYQB4") else {
        panic!("the session stays open")
    };
    assert_eq!(r.code, 421);
}
