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
    signed_as(ZONE, body)
}

fn signed_as(domain: &str, body: &str) -> Vec<u8> {
    let public = ed25519_dalek::SigningKey::from_bytes(&SEED)
        .verifying_key()
        .to_bytes();
    let key = Ed25519Key::from_seed_and_public_key(&SEED, &public).unwrap();
    let sig = DkimSigner::from_key(key)
        .domain(domain)
        .selector("sel")
        .headers(["From", "To", "Subject", "Message-ID"])
        .sign(body.as_bytes())
        .unwrap();
    [sig.to_header().as_bytes(), body.as_bytes()].concat()
}

fn records() -> Vec<Rec> {
    records_for(ZONE)
}

/// SPF (127.0.0.1 only), the Ed25519 DKIM key and a DMARC record for `zone`.
fn records_for(zone: &str) -> Vec<Rec> {
    let public = ed25519_dalek::SigningKey::from_bytes(&SEED)
        .verifying_key()
        .to_bytes();
    let p = base64::engine::general_purpose::STANDARD.encode(public);
    vec![
        Rec::Txt(zone.into(), vec!["v=spf1 ip4:127.0.0.1 -all".into()]),
        Rec::Txt(
            format!("sel._domainkey.{zone}"),
            vec![format!("v=DKIM1; k=ed25519; p={p}")],
        ),
        Rec::Txt(format!("_dmarc.{zone}"), vec!["v=DMARC1; p=reject".into()]),
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
    // Its domain asks to reject such mail: by default it is delivered, to Junk, and says why.
    let stored = newest_raw_in(&app, &t.owner_token, &ana_id, "Junk").await;
    assert!(stored.contains("spf=fail"), "{stored}");
    assert!(stored.contains("dmarc=fail"), "{stored}");
    assert!(!stored.contains("dkim=pass"), "{stored}");
    assert!(stored.contains("policy.dmarc=reject"), "{stored}");
    assert!(stored.contains("X-Spam-Status: Yes"), "{stored}");
    assert!(stored.contains("SPF_FAIL"), "{stored}");
    assert!(stored.contains("DMARC_REJECT"), "{stored}");
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
    let stored = newest_raw(&app, &t.owner_token, &ana_id).await;
    assert!(stored.contains("spf=temperror"), "{stored}");
}

/// A tenant that honours `p=reject` strictly (`dmarc_reject: reject`) has such mail refused
/// at SMTP time, `550 5.7.1` naming DMARC, and nothing stored; mail that passes is delivered.
#[tokio::test]
async fn a_tenant_may_refuse_mail_failing_a_reject_dmarc_policy() {
    let dns = DnsServer::start(&[ZONE, "example"], &records()).await;
    let app = TestApp::spawn_with(|c| {
        c.smtp.authenticate = true;
        c.dns.nameservers = vec![dns.addr()];
        c.dns.timeout_ms = 500;
    })
    .await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let r = app
        .patch(
            "/v1/spam/settings",
            &t.owner_token,
            serde_json::json!({"dmarc_reject": "reject"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let body = format!(
        "From: bea@{ZONE}\r\nTo: {ana}\r\nSubject: forged\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <f1@{ZONE}>\r\n\r\nplease pay the invoice\r\n"
    );
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let s = sock.connect(smtp_addr(&app)).await.unwrap();
    let mut w = Wire::from_stream(s).await;
    let r = bdat(&mut w, &format!("bea@{ZONE}"), &[&ana], body.as_bytes()).await;
    assert!(r.starts_with("550 5.7.1") && r.contains("DMARC"), "{r}");
    for folder in ["INBOX", "Junk"] {
        let r = app
            .get(
                &format!("/v1/mailboxes/{ana_id}/messages?folder={folder}"),
                &t.owner_token,
            )
            .await;
        assert_eq!(
            r.body["items"].as_array().unwrap().len(),
            0,
            "{folder}: {r:?}"
        );
    }
    // Signed and sent from an address SPF lists: delivered.
    let good = format!(
        "From: bea@{ZONE}\r\nTo: {ana}\r\nSubject: genuine\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <g1@{ZONE}>\r\n\r\nsee you at the meeting\r\n"
    );
    let mut w = Wire::connect(smtp_addr(&app)).await;
    let r = bdat(&mut w, &format!("bea@{ZONE}"), &[&ana], &signed(&good)).await;
    assert_eq!(code_of(&r), 250, "{r}");
    let stored = newest_raw(&app, &t.owner_token, &ana_id).await;
    assert!(stored.contains("Subject: genuine"), "{stored}");
}

/// Group sending policies judge the authenticated From (DMARC pass): `members` takes mail from
/// its member addresses only, `tenant` from the tenant's own domains only; a forged From (no
/// DMARC pass) passes neither. A refusal is `550 5.7.1` and stores nothing.
#[tokio::test]
async fn group_policies_admit_only_authenticated_members_or_colleagues() {
    use crate::mailboxes::{fixture_verified_domain, mailbox};
    use serde_json::json;
    let app = TestApp::spawn_with(|c| c.smtp.authenticate = true).await;
    let t = app.tenant().await;
    let (d_id, own) = fixture_verified_domain(&app, &t.owner_token).await;
    let (ana_id, ana) = mailbox(&app, &t.owner_token, &d_id, "ana").await;
    let mut recs = records();
    recs.extend(records_for(&own));
    let dns = DnsServer::start(&[ZONE, "example", &own, "com"], &recs).await;
    // The running app asks this DNS server from now on.
    let mut app = app;
    let cfg = {
        let mut c = app.cfg.clone();
        c.dns.nameservers = vec![dns.addr()];
        c.dns.timeout_ms = 1000;
        c
    };
    app.stop().await;
    let app = TestApp::boot(cfg, tempfile::tempdir().unwrap()).await;
    let bea = format!("bea@{ZONE}");
    for (local, policy) in [("board", "members"), ("staff", "tenant")] {
        let r = app
            .post(
                "/v1/groups",
                &t.owner_token,
                json!({"domain_id": d_id, "local_part": local, "members": [ana], "send_policy": policy}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    let send = |from: String, to: String, body: Vec<u8>| {
        let addr = smtp_addr(&app);
        async move {
            let mut w = Wire::connect(addr).await;
            bdat(&mut w, &from, &[&to], &body).await
        }
    };
    let mail = |from: &str, to: &str, subject: &str| {
        format!(
            "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@x>\r\n\r\nhi\r\n"
        )
    };
    let board = format!("board@{own}");
    let staff = format!("staff@{own}");
    let colleague = format!("carl@{own}");
    // A member, authenticated: delivered.
    let r = send(
        ana.clone(),
        board.clone(),
        signed_as(&own, &mail(&ana, &board, "member")),
    )
    .await;
    assert!(r.starts_with("250"), "{r}");
    // The same From, forged (unsigned, from an address SPF does not list): refused.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut w = Wire::from_stream(sock.connect(smtp_addr(&app)).await.unwrap()).await;
    let r = bdat(
        &mut w,
        &ana,
        &[&board],
        mail(&ana, &board, "forged").as_bytes(),
    )
    .await;
    assert!(r.starts_with("550 5.7.1") && r.contains("DMARC"), "{r}");
    // Authenticated, but not a member: refused.
    let r = send(
        colleague.clone(),
        board.clone(),
        signed_as(&own, &mail(&colleague, &board, "not-member")),
    )
    .await;
    assert!(r.starts_with("550 5.7.1") && r.contains("members"), "{r}");
    // `tenant`: a colleague on the tenant's domain passes, an authenticated outsider does not.
    let r = send(
        colleague.clone(),
        staff.clone(),
        signed_as(&own, &mail(&colleague, &staff, "colleague")),
    )
    .await;
    assert!(r.starts_with("250"), "{r}");
    let r = send(
        bea.clone(),
        staff.clone(),
        signed(&mail(&bea, &staff, "outsider")),
    )
    .await;
    assert!(r.starts_with("550 5.7.1"), "{r}");
    let subjects: Vec<String> = inbox(&app, &t.owner_token, &ana_id)
        .await
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(subjects, ["colleague", "member"]);
    drop(dns);
}

/// Answers are cached for their TTL and shared by every session: once the DNS server is gone,
/// a sender seen before still authenticates (from the cache), promptly.
#[tokio::test]
async fn authentication_answers_are_cached_across_sessions() {
    let mut dns = DnsServer::start_with_ttl(&[ZONE, "example"], &records(), 300).await;
    let app = TestApp::spawn_with(|c| {
        c.smtp.authenticate = true;
        c.dns.nameservers = vec![dns.addr()];
        c.dns.timeout_ms = 500;
    })
    .await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let send = |subject: &str| {
        let body = format!(
            "From: bea@{ZONE}\r\nTo: {ana}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@{ZONE}>\r\n\r\nhi\r\n"
        );
        let (addr, ana) = (smtp_addr(&app), ana.clone());
        async move {
            let mut w = Wire::connect(addr).await;
            bdat(&mut w, &format!("bea@{ZONE}"), &[&ana], &signed(&body)).await
        }
    };
    assert_eq!(code_of(&send("first").await), 250);
    dns.stop();
    assert_eq!(code_of(&send("second").await), 250);
    let second = newest_raw(&app, &t.owner_token, &ana_id).await;
    assert!(second.contains("Subject: second"), "{second}");
    for want in ["spf=pass", "dkim=pass", "dmarc=pass"] {
        assert!(
            second.contains(want),
            "{want} missing, DNS being down:\n{second}"
        );
    }
}

/// The newest message of a mailbox's INBOX, as stored (trace fields included).
async fn newest_raw(app: &TestApp, token: &str, mailbox: &str) -> String {
    newest_raw_in(app, token, mailbox, "INBOX").await
}

/// The newest message of a folder, as stored.
async fn newest_raw_in(app: &TestApp, token: &str, mailbox: &str, folder: &str) -> String {
    let r = app
        .get(
            &format!("/v1/mailboxes/{mailbox}/messages?folder={folder}&limit=1"),
            token,
        )
        .await;
    let id = r.body["items"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("nothing in {folder}: {r:?}"));
    String::from_utf8(raw(app, token, mailbox, id).await).unwrap()
}
