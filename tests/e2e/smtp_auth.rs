//! SPF, DKIM and DMARC of inbound mail against a real DNS server (dnsmasq): the results are
//! stored with the message and written into the Authentication-Results field we add.

use crate::common::*;
use crate::dns::{DnsServer, Rec, free_port};
use crate::smtp::{bdat, inbox, raw, receiving, smtp_addr};
use crate::smtp_wire::{Wire, code_of};
use base64::Engine;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;

const ZONE: &str = "sender.example";
// The DMARC tree walk also asks `_dmarc.example`: dnsmasq answers for both zones (NXDOMAIN for
// what it does not hold), as the real DNS would.
const SEED: [u8; 32] = [7; 32];

fn signed(body: &str) -> Vec<u8> {
    let public = ed25519_dalek::SigningKey::from_bytes(&SEED)
        .verifying_key()
        .to_bytes();
    let key = Ed25519Key::from_seed_and_public_key(&SEED, &public).unwrap();
    let sig = DkimSigner::from_key(key)
        .domain(ZONE)
        .selector("sel")
        .headers(["From", "To", "Subject", "Message-ID"])
        .sign(body.as_bytes())
        .unwrap();
    [sig.to_header().as_bytes(), body.as_bytes()].concat()
}

fn records() -> Vec<Rec> {
    let public = ed25519_dalek::SigningKey::from_bytes(&SEED)
        .verifying_key()
        .to_bytes();
    let p = base64::engine::general_purpose::STANDARD.encode(public);
    vec![
        Rec::Txt(ZONE.into(), vec!["v=spf1 ip4:127.0.0.1 -all".into()]),
        Rec::Txt(
            format!("sel._domainkey.{ZONE}"),
            vec![format!("v=DKIM1; k=ed25519; p={p}")],
        ),
        Rec::Txt(format!("_dmarc.{ZONE}"), vec!["v=DMARC1; p=reject".into()]),
    ]
}

#[tokio::test]
async fn spf_dkim_dmarc_results_are_stored_and_written() {
    let dns = DnsServer::start(&[ZONE, "example"], &records()).await;
    let app = TestApp::spawn_with(|c| {
        c.smtp.authenticate = true;
        c.dns.nameservers = vec![dns.addr()];
        c.dns.timeout_ms = 1000;
    })
    .await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let body = format!(
        "From: bea@{ZONE}\r\nTo: {ana}\r\nSubject: signed\r\nMessage-ID: <s1@{ZONE}>\r\n\r\nsigned body\r\n"
    );
    let good = signed(&body);
    let mut w = Wire::connect(smtp_addr(&app)).await;
    assert_eq!(
        code_of(&bdat(&mut w, &format!("bea@{ZONE}"), &[&ana], &good).await),
        250
    );
    // The same signature over a changed body fails DKIM; SPF still passes and aligns.
    let tampered = String::from_utf8(good.clone())
        .unwrap()
        .replace("signed body", "forged body");
    w.cmd("RSET").await;
    assert_eq!(
        code_of(&bdat(&mut w, &format!("bea@{ZONE}"), &[&ana], tampered.as_bytes()).await),
        250
    );
    let items = inbox(&app, &t.owner_token, &ana_id).await;
    let text = |i: usize| {
        let id = items[i]["id"].as_str().unwrap().to_string();
        let (app, tok, mb) = (&app, t.owner_token.clone(), ana_id.clone());
        async move { String::from_utf8(raw(app, &tok, &mb, &id).await).unwrap() }
    };
    let first = text(1).await;
    let ar = first.split("Authentication-Results: ").nth(1).unwrap();
    let ar = &ar[..ar
        .find("\r\nFrom:")
        .or_else(|| ar.find("\r\nDKIM"))
        .unwrap()];
    assert!(ar.starts_with("mx.mailroom.test;"), "{ar}");
    assert!(ar.contains("spf=pass ("), "{ar}");
    assert!(ar.contains(&format!("smtp.mailfrom=bea@{ZONE}")), "{ar}");
    assert!(
        ar.contains(&format!("dkim=pass header.d={ZONE} header.s=sel")),
        "{ar}"
    );
    assert!(
        ar.contains(&format!("dmarc=pass header.from={ZONE}")),
        "{ar}"
    );
    assert!(ar.contains("policy.dmarc=reject"), "{ar}");
    let second = text(0).await;
    // RFC 6376 §3.7: a body hash that does not verify is a fail.
    assert!(
        second.contains("dkim=fail (body hash did not verify)"),
        "{second}"
    );
    assert!(second.contains("spf=pass"));
}

#[tokio::test]
async fn spf_fail_and_dns_outages_are_reported_not_fatal() {
    let dns = DnsServer::start(&[ZONE, "example"], &records()).await;
    let app = TestApp::spawn_with(|c| {
        c.smtp.authenticate = true;
        c.dns.nameservers = vec![dns.addr()];
        c.dns.timeout_ms = 500;
    })
    .await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    // A sender whose SPF does not list us, unsigned: spf fail, dmarc fail.
    let body = format!("From: bea@{ZONE}\r\nSubject: forged\r\n\r\nx\r\n");
    // Loopback 127.0.0.2 is not in the SPF record; connect from it.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let s = sock.connect(smtp_addr(&app)).await.unwrap();
    let mut w = Wire::from_stream(s).await;
    assert_eq!(
        code_of(&bdat(&mut w, &format!("bea@{ZONE}"), &[&ana], body.as_bytes()).await),
        250
    );
    let items = inbox(&app, &t.owner_token, &ana_id).await;
    let stored = String::from_utf8(
        raw(
            &app,
            &t.owner_token,
            &ana_id,
            items[0]["id"].as_str().unwrap(),
        )
        .await,
    )
    .unwrap();
    assert!(stored.contains("spf=fail"), "{stored}");
    assert!(stored.contains("dmarc=fail"), "{stored}");
    assert!(!stored.contains("dkim=pass"), "{stored}");
    assert!(stored.contains("policy.dmarc=reject"), "{stored}");
    drop(dns);

    // DNS down: the message is still accepted, with temperror, within the deadline.
    let dead = free_port();
    let app = TestApp::spawn_with(|c| {
        c.smtp.authenticate = true;
        c.dns.nameservers = vec![format!("127.0.0.1:{dead}")];
        c.dns.timeout_ms = 300;
        c.smtp.auth_deadline_ms = 2000;
    })
    .await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let mut w = Wire::connect(smtp_addr(&app)).await;
    let started = std::time::Instant::now();
    assert_eq!(
        code_of(&bdat(&mut w, &format!("bea@{ZONE}"), &[&ana], body.as_bytes()).await),
        250
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let items = inbox(&app, &t.owner_token, &ana_id).await;
    let stored = String::from_utf8(
        raw(
            &app,
            &t.owner_token,
            &ana_id,
            items[0]["id"].as_str().unwrap(),
        )
        .await,
    )
    .unwrap();
    assert!(stored.contains("spf=temperror"), "{stored}");
}
