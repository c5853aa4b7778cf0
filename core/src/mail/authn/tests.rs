use super::*;
use base64::Engine;
use mail_auth::AuthenticationResults;
use mail_auth::arc::ArcSealer;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// dnsmasq (Debian `dnsmasq-base`) on a random 127.0.0.1 port, answering for `.test`:
/// the given TXT records, NXDOMAIN for every other name.
struct DnsServer {
    port: u16,
    child: Option<Child>,
}

impl DnsServer {
    /// `records`: (name, character-strings of one TXT record).
    async fn start(records: &[(String, Vec<String>)]) -> DnsServer {
        let port = free_port();
        let mut cmd = Command::new("dnsmasq");
        cmd.args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--user=root",
            "--pid-file=",
            "--log-facility=/dev/null",
            "--local=/test/",
        ])
        .arg(format!("--port={port}"));
        for (name, parts) in records {
            // No shell: each comma-separated part is one character-string.
            cmd.arg(format!("--txt-record={name},{}", parts.join(",")));
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq must be installed (Debian package dnsmasq-base)");
        let server = DnsServer {
            port,
            child: Some(child),
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("dnsmasq did not start on port {port}");
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port free for both UDP and TCP right now.
fn free_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// An Ed25519 key and its DKIM key record, split over two character-strings.
/// (PKCS#8 DER, record).
fn key() -> (Vec<u8>, Vec<String>) {
    let der = Ed25519Key::generate_pkcs8().unwrap();
    let k = Ed25519Key::from_pkcs8_der(&der).unwrap();
    let p = base64::engine::general_purpose::STANDARD.encode(k.public_key());
    (der, vec!["v=DKIM1; k=ed25519; ".into(), format!("p={p}")])
}

fn txt(name: &str, text: &str) -> (String, Vec<String>) {
    (name.to_string(), vec![text.to_string()])
}

struct World {
    dns: DnsServer,
    signer: Vec<u8>,
    arc_key: Vec<u8>,
}

async fn world() -> World {
    let (signer, dkim_record) = key();
    let (arc_key, arc_record) = key();
    let dns = DnsServer::start(&[
        txt("good.test", "v=spf1 ip4:127.0.0.1 -all"),
        txt("_dmarc.good.test", "v=DMARC1; p=reject"),
        ("sel._domainkey.good.test".into(), dkim_record),
        txt("other.test", "v=spf1 ip4:127.0.0.1 -all"),
        ("arc._domainkey.fwd.test".into(), arc_record),
    ])
    .await;
    World {
        dns,
        signer,
        arc_key,
    }
}

fn authenticator(dns: &str, deadline: Duration) -> Authenticator {
    Authenticator::new(
        &[dns.to_string()],
        Duration::from_secs(2),
        "mx.mailroom.test",
        deadline,
    )
    .unwrap()
}

const MESSAGE: &str = "From: Alice <alice@good.test>\r\n\
    To: bob@mailroom.test\r\n\
    Subject: Hello\r\n\
    Date: Mon, 4 May 2026 10:00:00 +0000\r\n\
    Message-ID: <1@good.test>\r\n\
    \r\n\
    Hello Bob.\r\n";

fn sign(key: &[u8], selector: &str, message: &str) -> String {
    let sig = DkimSigner::from_key(Ed25519Key::from_pkcs8_der(key).unwrap())
        .domain("good.test")
        .selector(selector)
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .sign(message.as_bytes())
        .unwrap();
    format!("{}{message}", sig.to_header())
}

fn peer(ip: &str, mail_from: &str) -> SmtpPeer {
    SmtpPeer {
        ip: ip.parse().unwrap(),
        helo: "client.good.test".into(),
        mail_from: mail_from.into(),
    }
}

fn pass(domain: &str, selector: &str) -> DkimResult {
    DkimResult {
        result: "pass".into(),
        domain: Some(domain.into()),
        selector: Some(selector.into()),
    }
}

/// The header is one well-formed field: only folding CRLFs (each followed by white space),
/// a final CRLF, lines within `limit` octets, and a parser sees exactly one field.
fn assert_one_field(header: &str, limit: usize) {
    assert!(header.starts_with("Authentication-Results: "), "{header}");
    let body = header.strip_suffix("\r\n").expect("ends with CRLF");
    for (i, line) in body.split("\r\n").enumerate() {
        assert!(!line.contains('\r') && !line.contains('\n'), "{header:?}");
        assert!(
            line.len() <= limit,
            "line {i} is {} long: {line:?}",
            line.len()
        );
        if i > 0 {
            assert!(
                line.starts_with(' ') || line.starts_with('\t'),
                "line {i} is not a continuation: {line:?}"
            );
            assert!(!line.trim().is_empty(), "white-space-only line {i}");
        }
    }
    let raw = format!("{header}Subject: x\r\n\r\nbody\r\n");
    let msg = AuthenticatedMessage::parse(raw.as_bytes()).expect("parses");
    assert_eq!(msg.headers.len(), 2, "{header:?}");
    assert_eq!(msg.headers[0].0, b"Authentication-Results");
}

#[test]
fn check_future_is_send() {
    fn send<T: Send>(_: &T) {}
    fn sync_clone<T: Send + Sync + Clone>() {}
    sync_clone::<Authenticator>();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let a = authenticator("127.0.0.1:9", Duration::from_secs(1));
        let p = peer("127.0.0.1", "");
        let f = a.check(b"", &p);
        send(&f);
    });
}

#[tokio::test]
async fn signed_message_from_the_right_address_passes() {
    let w = world().await;
    let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
    let raw = sign(&w.signer, "sel", MESSAGE);
    let out = a
        .check(raw.as_bytes(), &peer("127.0.0.1", "alice@good.test"))
        .await;
    assert_eq!(out.spf, "pass", "{out:?}");
    assert_eq!(out.spf_domain, "good.test");
    assert_eq!(out.dkim, vec![pass("good.test", "sel")], "{out:?}");
    assert_eq!(out.dmarc, "pass", "{out:?}");
    assert_eq!(out.dmarc_policy.as_deref(), Some("reject"));
    assert_eq!(out.arc, "none");
    let h = &out.header;
    assert_one_field(h, 78);
    assert!(
        h.starts_with("Authentication-Results: mx.mailroom.test;\r\n"),
        "{h}"
    );
    let flat = h.replace("\r\n\t ", " ").replace("\r\n", "");
    assert!(
        flat.contains("spf=pass (good.test permits 127.0.0.1) smtp.mailfrom=alice@good.test;"),
        "{h}"
    );
    assert!(
        flat.contains("dkim=pass header.d=good.test header.s=sel;"),
        "{h}"
    );
    assert!(
        flat.contains("dmarc=pass header.from=good.test policy.dmarc=reject;"),
        "{h}"
    );
    assert!(flat.ends_with("arc=none"), "{h}");
    // Stored as JSON and read back.
    let json = serde_json::to_string(&out).unwrap();
    assert_eq!(serde_json::from_str::<AuthOutcome>(&json).unwrap(), out);
}

#[tokio::test]
async fn changed_body_fails_dkim_and_dmarc_follows_alignment() {
    let w = world().await;
    let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
    let raw = sign(&w.signer, "sel", MESSAGE).replace("Hello Bob.", "Hello Rob.");
    let fail = DkimResult {
        result: "fail".into(),
        domain: Some("good.test".into()),
        selector: Some("sel".into()),
    };

    // RFC 7489 §4.2: an aligned SPF pass is enough for DMARC to pass.
    let out = a
        .check(raw.as_bytes(), &peer("127.0.0.1", "alice@good.test"))
        .await;
    assert_eq!(out.spf, "pass", "{out:?}");
    assert_eq!(out.dkim, vec![fail.clone()], "{out:?}");
    assert_eq!(out.dmarc, "pass", "{out:?}");
    assert_one_field(&out.header, 78);
    assert!(
        out.header
            .replace("\r\n", "")
            .contains("dkim=fail (body hash did not verify) header.d=good.test header.s=sel;"),
        "{}",
        out.header
    );

    // SPF passes for a domain that is not aligned with From, DKIM fails: DMARC fails.
    let out = a
        .check(raw.as_bytes(), &peer("127.0.0.1", "bounce@other.test"))
        .await;
    assert_eq!(out.spf, "pass", "{out:?}");
    assert_eq!(out.spf_domain, "other.test");
    assert_eq!(out.dkim, vec![fail], "{out:?}");
    assert_eq!(out.dmarc, "fail", "{out:?}");
    assert_eq!(out.dmarc_policy.as_deref(), Some("reject"));
    assert_one_field(&out.header, 78);
}

#[tokio::test]
async fn unsigned_message_from_the_wrong_address_fails() {
    let w = world().await;
    let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
    let out = a
        .check(MESSAGE.as_bytes(), &peer("127.0.0.2", "alice@good.test"))
        .await;
    assert_eq!(out.spf, "fail", "{out:?}");
    assert!(out.dkim.is_empty(), "{out:?}");
    assert_eq!(out.dmarc, "fail", "{out:?}");
    assert_eq!(out.dmarc_policy.as_deref(), Some("reject"));
    assert_eq!(out.arc, "none");
    assert_one_field(&out.header, 78);
    let flat = out.header.replace("\r\n\t ", " ").replace("\r\n", "");
    assert!(
        flat.contains(
            "spf=fail (good.test does not permit 127.0.0.2) smtp.mailfrom=alice@good.test;"
        ),
        "{flat}"
    );
    assert!(flat.contains("\tdkim=none;"), "{flat}");
    assert!(
        flat.contains("dmarc=fail header.from=good.test policy.dmarc=reject;"),
        "{flat}"
    );
}

#[tokio::test]
async fn domain_without_records_is_none() {
    let w = world().await;
    let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
    let raw = MESSAGE.replace("alice@good.test", "carol@nothing.test");
    let out = a
        .check(raw.as_bytes(), &peer("127.0.0.1", "carol@nothing.test"))
        .await;
    assert_eq!(out.spf, "none", "{out:?}");
    assert_eq!(out.spf_domain, "nothing.test");
    assert!(out.dkim.is_empty());
    assert_eq!(out.dmarc, "none", "{out:?}");
    assert_eq!(out.dmarc_policy, None);
    assert_one_field(&out.header, 78);
    assert!(
        out.header.contains("header.from=nothing.test"),
        "{}",
        out.header
    );
}

#[tokio::test]
async fn null_sender_checks_the_helo_name() {
    let w = world().await;
    let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
    let raw = sign(&w.signer, "sel", MESSAGE);
    let p = SmtpPeer {
        ip: "127.0.0.1".parse().unwrap(),
        helo: "good.test".into(),
        mail_from: String::new(),
    };
    let out = a.check(raw.as_bytes(), &p).await;
    assert_eq!(out.spf, "pass", "{out:?}");
    assert_eq!(out.spf_domain, "good.test");
    assert_eq!(out.dmarc, "pass", "{out:?}");
    assert!(
        out.header.contains("smtp.mailfrom=postmaster@good.test"),
        "{}",
        out.header
    );
    assert_one_field(&out.header, 78);
}

#[tokio::test]
async fn one_result_per_signature() {
    let w = world().await;
    let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
    // The second signature names a selector with no key in DNS.
    let (other, _) = key();
    let raw = sign(&other, "nokey", &sign(&w.signer, "sel", MESSAGE));
    let out = a
        .check(raw.as_bytes(), &peer("127.0.0.2", "alice@good.test"))
        .await;
    assert_eq!(out.spf, "fail");
    assert_eq!(out.dkim.len(), 2, "{out:?}");
    assert!(out.dkim.contains(&pass("good.test", "sel")), "{out:?}");
    assert!(
        out.dkim.contains(&DkimResult {
            result: "permerror".into(),
            domain: Some("good.test".into()),
            selector: Some("nokey".into()),
        }),
        "{out:?}"
    );
    // The aligned DKIM pass carries DMARC although SPF failed.
    assert_eq!(out.dmarc, "pass");
    let flat = out.header.replace("\r\n\t ", " ").replace("\r\n", "");
    assert!(flat.contains("header.s=sel"), "{flat}");
    assert!(flat.contains("header.s=nokey"), "{flat}");
    assert_one_field(&out.header, 78);
}

#[tokio::test]
async fn arc_sealed_message_passes_arc() {
    let w = world().await;
    let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
    let signed = sign(&w.signer, "sel", MESSAGE);
    let msg = AuthenticatedMessage::parse(signed.as_bytes()).unwrap();
    let r = &a.inner.resolver;
    let arc = r.verify_arc(&msg).await;
    let dkim = r.verify_dkim(&msg).await;
    let results =
        AuthenticationResults::new("fwd.test").with_dkim_results(&dkim, "alice@good.test");
    let set = ArcSealer::from_key(Ed25519Key::from_pkcs8_der(&w.arc_key).unwrap())
        .domain("fwd.test")
        .selector("arc")
        .headers(["From", "To", "Subject", "DKIM-Signature"])
        .seal(&msg, &results, &arc)
        .unwrap();
    let raw = format!("{}{signed}", set.to_header());
    let out = a
        .check(raw.as_bytes(), &peer("127.0.0.2", "list@fwd.test"))
        .await;
    assert_eq!(out.arc, "pass", "{out:?}");
    assert_eq!(out.dkim, vec![pass("good.test", "sel")], "{out:?}");
    assert!(out.header.ends_with("\tarc=pass\r\n"), "{}", out.header);
    assert_one_field(&out.header, 78);
}

#[tokio::test]
async fn stopped_dns_gives_temperror_within_the_deadline() {
    let mut w = world().await;
    let raw = sign(&w.signer, "sel", MESSAGE);
    let addr = w.dns.addr();
    w.dns.stop();
    // Per-query time-out past the deadline, then one well within it: either way every
    // DNS-dependent result is temperror, in time.
    for (timeout, deadline, why) in [(2000, 2000, "deadline exceeded"), (300, 5000, "DNS error")] {
        let deadline = Duration::from_millis(deadline);
        let a = Authenticator::new(
            std::slice::from_ref(&addr),
            Duration::from_millis(timeout),
            "mx.mailroom.test",
            deadline,
        )
        .unwrap();
        let started = std::time::Instant::now();
        let out = a
            .check(raw.as_bytes(), &peer("127.0.0.1", "alice@good.test"))
            .await;
        let took = started.elapsed();
        eprintln!("stopped DNS, time-out {timeout} ms: check took {took:?}");
        assert!(took < deadline + Duration::from_secs(1), "took {took:?}");
        assert_eq!(out.spf, "temperror", "{out:?}");
        assert_eq!(out.dkim.len(), 1, "{out:?}");
        assert_eq!(out.dkim[0].result, "temperror");
        assert_eq!(out.dkim[0].domain.as_deref(), Some("good.test"));
        assert_eq!(out.dkim[0].selector.as_deref(), Some("sel"));
        assert_eq!(out.dmarc, "temperror", "{out:?}");
        assert!(out.header.contains(why), "{}", out.header);
        assert_one_field(&out.header, 78);
    }
}

#[tokio::test]
async fn silent_dns_gives_temperror_at_the_deadline() {
    // A name server that takes queries and never answers; its time-out (2 s, two tries)
    // is longer than the deadline.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let _tcp = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (signer, _) = key();
    let deadline = Duration::from_millis(1500);
    let a = authenticator(&format!("127.0.0.1:{port}"), deadline);
    let raw = sign(&signer, "sel", MESSAGE);
    let started = std::time::Instant::now();
    let out = a
        .check(raw.as_bytes(), &peer("127.0.0.1", "alice@good.test"))
        .await;
    let took = started.elapsed();
    assert!(took < deadline + Duration::from_secs(1), "took {took:?}");
    assert!(
        took >= deadline - Duration::from_millis(50),
        "took {took:?}"
    );
    assert_eq!(out.spf, "temperror", "{out:?}");
    assert_eq!(out.dkim.len(), 1);
    assert_eq!(out.dkim[0].result, "temperror");
    assert_eq!(out.dkim[0].selector.as_deref(), Some("sel"));
    assert_eq!(out.dmarc, "temperror", "{out:?}");
    assert_eq!(out.arc, "none", "no ARC fields: nothing to look up");
    assert!(out.header.contains("(deadline exceeded)"), "{}", out.header);
    assert_one_field(&out.header, 78);
}

#[tokio::test]
async fn garbage_never_panics_and_still_gets_a_header() {
    let w = world().await;
    let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
    let mut noise = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push((x & 0xff) as u8);
    }
    let inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\r\n\r\n".to_vec(),
        b"no header here".to_vec(),
        b"\x00\xff\xfe: \x00\r\n\r\n".to_vec(),
        noise,
        b"DKIM-Signature: v=1; a=rsa-sha256; d=; s=\r\nFrom: <>\r\n\r\nx".to_vec(),
        b"From: a@good.test, b@other.test\r\n\r\nx".to_vec(),
        b"ARC-Seal: i=1; cv=none; a=rsa-sha256; d=x; s=y; b=\r\n\r\n".to_vec(),
    ];
    for raw in &inputs {
        let out = a.check(raw, &peer("127.0.0.1", "alice@good.test")).await;
        assert_eq!(out.spf, "pass");
        assert!(
            ["none", "permerror", "fail"].contains(&out.dmarc.as_str()),
            "{out:?}"
        );
        assert_one_field(&out.header, 78);
    }
    // Hostile envelope values cannot break the field.
    let p = SmtpPeer {
        ip: "127.0.0.1".parse().unwrap(),
        helo: "x\r\nBcc: evil@x\r\n".into(),
        mail_from: "\"a;b\r\n\\\"c\"@good.test".into(),
    };
    let out = a.check(MESSAGE.as_bytes(), &p).await;
    assert_one_field(&out.header, 78);
    assert!(!out.header.contains("Bcc"), "{}", out.header);
    let p = SmtpPeer {
        mail_from: String::new(),
        ..p
    };
    let out = a.check(MESSAGE.as_bytes(), &p).await;
    assert_eq!(out.spf, "none", "{out:?}");
    assert_one_field(&out.header, 78);
    assert!(
        out.header
            .contains("smtp.mailfrom=\"postmaster@xBcc: evil@x\""),
        "{}",
        out.header
    );
}

#[test]
fn no_results_is_none() {
    assert_eq!(
        render("mx", Vec::new()),
        "Authentication-Results: mx; none\r\n"
    );
}

#[test]
fn long_values_fold_and_stay_within_the_hard_limit() {
    let long_local = "a".repeat(45);
    let items = vec![
        vec![
            "spf=pass".into(),
            format!(
                "smtp.mailfrom={}",
                pvalue(&format!("{long_local}@example.test"))
            ),
        ],
        {
            let mut v = vec!["dkim=fail".to_string()];
            v.extend(comment(&"word ".repeat(40)));
            v.push("header.d=example.test".into());
            v
        },
        vec![format!("smtp.mailfrom={}", pvalue(&"b".repeat(2000)))],
    ];
    let h = render("mx.mailroom.test", items);
    // The last value cannot be folded; it is capped instead.
    assert_one_field(&h, 998);
    let lines: Vec<&str> = h.trim_end().split("\r\n").collect();
    assert!(lines.iter().filter(|l| l.len() > LINE).count() == 1, "{h}");
    assert_eq!(pvalue("a b@c"), "\"a b@c\"");
    assert_eq!(pvalue("x\"y\\z"), "\"x\\\"y\\\\z\"");
    assert_eq!(pvalue("good.test"), "good.test");
    assert_eq!(pvalue(""), "\"\"");
    assert_eq!(envelope_address(" <a@b> "), "a@b");
    assert_eq!(envelope_address("<>"), "");
}

#[test]
fn bad_configuration_is_an_error() {
    let t = Duration::from_secs(1);
    assert!(Authenticator::new(&["nope".into()], t, "mx", t).is_err());
    assert!(Authenticator::new(&["127.0.0.1".into()], t, "mx", t).is_err());
    assert!(Authenticator::new(&["127.0.0.1:53".into()], t, " ", t).is_err());
    assert!(Authenticator::new(&["[::1]:53".into()], t, "mx", t).is_ok());
}
