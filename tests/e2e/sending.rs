//! Sending mail: SMTP submission with real clients (Python smtplib, swaks, raw commands), the
//! outbound queue's delivery to mailboxes of this deployment (this tenant and another) and to
//! a scripted remote server found through a real DNS server's MX records; DKIM signatures
//! checked by an independent verifier (dkimpy); retries, bounces and expiry.

use crate::common::*;
use crate::dns::{DnsServer, Rec};
use crate::mailboxes::{fixture_verified_domain, mailbox};
use crate::smtp::inbox;
use crate::smtp_peer::Peer;
use crate::smtp_wire::{Wire, code_of};
use mailroom_core::config::Config;

/// A deployment that sends to `remote` (MX `mx.<remote>` → the peer) and a tenant with `ana`
/// and `bob` on a verified domain.
struct Sending {
    app: TestApp,
    _dns: DnsServer,
    peer: Peer,
    remote: String,
    t: TestTenant,
    domain_id: String,
    ana_id: String,
    ana: String,
    bob_id: String,
    bob: String,
}

async fn setup(tweak: impl FnOnce(&mut Config)) -> Sending {
    let peer = Peer::start().await;
    let remote = format!("r{}.test", rand_suffix());
    let dns = DnsServer::start(
        &[&remote],
        &[
            Rec::Mx(remote.clone(), format!("mx.{remote}"), 10),
            Rec::Host(format!("mx.{remote}"), "127.0.0.1".into()),
        ],
    )
    .await;
    let app = TestApp::spawn_isolated_with(|c| {
        c.jobs.enabled = true;
        c.dns.nameservers = vec![dns.addr()];
        c.dns.timeout_ms = 1000;
        c.outbound.mx_port = peer.port;
        c.outbound.retry_base_secs = 1;
        c.outbound.retry_max_secs = 1;
        tweak(c);
    })
    .await;
    let t = app.tenant().await;
    let (domain_id, _) = fixture_verified_domain(&app, &t.owner_token).await;
    let (ana_id, ana) = mailbox(&app, &t.owner_token, &domain_id, "ana").await;
    let (bob_id, bob) = mailbox(&app, &t.owner_token, &domain_id, "bob").await;
    Sending {
        app,
        _dns: dns,
        peer,
        remote,
        t,
        domain_id,
        ana_id,
        ana,
        bob_id,
        bob,
    }
}

fn submission_addr(app: &TestApp) -> std::net::SocketAddr {
    app.running.as_ref().unwrap().submission_addr.unwrap()
}

fn message(from: &str, to: &str, subject: &str) -> String {
    format!(
        "From: Ana <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@client.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello from the test.\r\n.leading dot stays\r\n",
        rand_suffix()
    )
}

/// Sends with Python's smtplib: STARTTLS (certificate not checked: the test server's is
/// self-signed), AUTH, one message. Returns what sendmail returned (refused recipients) as
/// JSON, or the error's text.
async fn smtplib(
    addr: std::net::SocketAddr,
    user: &str,
    from: &str,
    to: &[&str],
    msg: &str,
) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("msg.eml"), msg).unwrap();
    let script = format!(
        r#"
import json, smtplib, ssl
ctx = ssl._create_unverified_context()
s = smtplib.SMTP("127.0.0.1", {port}, timeout=30)
s.ehlo(); s.starttls(context=ctx); s.ehlo()
s.login({user:?}, {pw:?})
try:
    print("REFUSED", json.dumps(s.sendmail({from:?}, {to:?}, open("msg.eml", "rb").read())))
except smtplib.SMTPException as e:
    print("ERROR", e)
s.quit()
"#,
        port = addr.port(),
        pw = PASSWORD,
        to = to.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    );
    run_client("python3", &["-c", &script], dir.path()).await
}

/// The messages of a folder: (subject, seen).
async fn folder(app: &TestApp, token: &str, mailbox: &str, name: &str) -> Vec<(String, bool)> {
    let r = app
        .get(
            &format!("/v1/mailboxes/{mailbox}/messages?folder={name}&limit=200"),
            token,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["subject"].as_str().unwrap_or("").to_string(),
                m["flags"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|x| x == "seen")),
            )
        })
        .collect()
}

/// Verifies the DKIM signature of `msg` with dkimpy, the key taken from the domain's DNS
/// records as the API lists them.
async fn dkim_verifies(app: &TestApp, token: &str, domain_id: &str, msg: &[u8]) -> bool {
    let r = app
        .get(&format!("/v1/domains/{domain_id}/dns-records"), token)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let txt: Vec<(String, String)> = r.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["purpose"] == "dkim")
        .map(|x| {
            (
                x["name"].as_str().unwrap().to_string(),
                x["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(!txt.is_empty(), "{r:?}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("msg.eml"), msg).unwrap();
    let records: String = txt.iter().map(|(n, v)| format!("{n:?}: {v:?}, ")).collect();
    let script = format!(
        r#"
import dkim
records = {{{records}}}
def dns(name, timeout=5):
    return records.get(name.decode().rstrip("."), "").encode()
print("VERIFIED" if dkim.verify(open("msg.eml", "rb").read(), dnsfunc=dns) else "FAILED")
"#
    );
    // Debian's python3-dkim lives with Debian's interpreter.
    let out = run_client("/usr/bin/python3", &["-c", &script], dir.path()).await;
    out.contains("VERIFIED")
}

#[tokio::test]
async fn submission_delivers_here_there_and_elsewhere_signed() {
    let s = setup(|_| {}).await;
    let app = &s.app;
    // Carol, in another tenant on this deployment.
    let t2 = app.tenant().await;
    let (d2, _) = fixture_verified_domain(app, &t2.owner_token).await;
    let (carol_id, carol) = mailbox(app, &t2.owner_token, &d2, "carol").await;
    let faraway = format!("dave@{}", s.remote);
    let msg = message(
        &s.ana,
        &format!("{}, {carol}, {faraway}", s.bob),
        "Quarterly numbers",
    );
    let out = smtplib(
        submission_addr(app),
        &s.ana,
        &s.ana,
        &[&s.bob, &carol, &faraway],
        &msg,
    )
    .await;
    assert!(out.contains("REFUSED {}"), "{out}");
    // Bob (this tenant) and Carol (another) get it through the inbound pipeline.
    let delivered = eventually(20, || async {
        inbox(app, &s.t.owner_token, &s.bob_id).await.len() == 1
            && inbox(app, &t2.owner_token, &carol_id).await.len() == 1
            && s.peer.received().len() == 1
    })
    .await;
    assert!(delivered, "peer got {:?}", s.peer.received());
    let got = inbox(app, &s.t.owner_token, &s.bob_id).await;
    assert_eq!(got[0]["subject"], "Quarterly numbers");
    // The remote server got it once, from Ana, for Dave only, signed, byte-stuffing undone.
    let r = &s.peer.received()[0];
    assert_eq!(r.from, s.ana);
    assert_eq!(r.rcpts, vec![faraway.clone()]);
    let text = String::from_utf8_lossy(&r.data).to_string();
    assert!(text.starts_with("DKIM-Signature: "), "{text}");
    assert!(text.contains("\r\n.leading dot stays\r\n"), "{text}");
    assert!(
        dkim_verifies(app, &s.t.owner_token, &s.domain_id, &r.data).await,
        "dkimpy rejects the signature:\n{text}"
    );
    // A changed body no longer verifies: the check can fail.
    let tampered = String::from_utf8_lossy(&r.data).replace("Hello from", "Hullo from");
    assert!(!dkim_verifies(app, &s.t.owner_token, &s.domain_id, tampered.as_bytes()).await);
    // Ana's copy is in Sent, read; not in her INBOX.
    assert_eq!(
        folder(app, &s.t.owner_token, &s.ana_id, "Sent").await,
        [("Quarterly numbers".to_string(), true)]
    );
    assert!(inbox(app, &s.t.owner_token, &s.ana_id).await.is_empty());
    // The people Ana wrote to are in her contacts now, once each, named as in To.
    let c = app
        .get(
            &format!("/v1/contacts?mailbox_id={}", s.ana_id),
            &s.t.owner_token,
        )
        .await;
    assert_eq!(c.status, 200, "{c:?}");
    let mut emails: Vec<String> = c.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["emails"][0]["value"].as_str().unwrap().to_string())
        .collect();
    emails.sort();
    let mut want = vec![s.bob.clone(), carol.clone(), faraway.clone()];
    want.sort();
    assert_eq!(emails, want, "{c:?}");
    // Nothing reached another tenant's view of Ana's mailbox.
    let r = app
        .get(
            &format!("/v1/mailboxes/{}/messages?folder=Sent", s.ana_id),
            &t2.owner_token,
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn submission_wants_tls_a_login_and_an_address_of_ones_own() {
    let s = setup(|_| {}).await;
    let app = &s.app;
    let addr = submission_addr(app);
    let plain = |u: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("\0{u}\0{PASSWORD}"))
    };
    let mut w = Wire::connect(addr).await;
    let ehlo = w.cmd("EHLO laptop.test").await;
    assert!(
        ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    let r = w.cmd(&format!("AUTH PLAIN {}", plain(&s.ana))).await;
    assert!(r.starts_with("538 5.7.11"), "{r}");
    let r = w.cmd(&format!("MAIL FROM:<{}>", s.ana)).await;
    assert!(r.starts_with("530 5.7.0"), "{r}");
    drop(w);

    // Loopback tests may allow AUTH without TLS; the rules after login are the same.
    let s = setup(|c| c.submission.require_tls_for_auth = false).await;
    let app = &s.app;
    let addr = submission_addr(app);
    let mut w = Wire::connect(addr).await;
    assert!(w.cmd("EHLO laptop.test").await.contains("AUTH PLAIN LOGIN"));
    let r = w.cmd("AUTH PLAIN AGFuYUBub3doZXJlAHdyb25n").await;
    assert!(r.starts_with("535 5.7.8"), "{r}");
    assert_eq!(
        code_of(&w.cmd(&format!("AUTH PLAIN {}", plain(&s.ana))).await),
        235
    );
    // Bob's address, and an address of another tenant, are not Ana's to send as.
    let r = w.cmd(&format!("MAIL FROM:<{}>", s.bob)).await;
    assert!(r.starts_with("553 5.7.1"), "{r}");
    let t2 = app.tenant().await;
    let (d2, _) = fixture_verified_domain(app, &t2.owner_token).await;
    let (_, carol) = mailbox(app, &t2.owner_token, &d2, "carol").await;
    let r = w.cmd(&format!("MAIL FROM:<{carol}>")).await;
    assert!(r.starts_with("553 5.7.1"), "{r}");
    // A recipient on no real domain is refused as such.
    assert_eq!(
        code_of(&w.cmd(&format!("MAIL FROM:<{}>", s.ana)).await),
        250
    );
    let r = w.cmd("RCPT TO:<x@localhost>").await;
    assert!(r.starts_with("501 5.1.3"), "{r}");
    assert_eq!(code_of(&w.cmd("RSET").await), 250);
    // Her own envelope, but Bob in From: refused at the end of data, nothing queued.
    assert_eq!(
        code_of(&w.cmd(&format!("MAIL FROM:<{}>", s.ana)).await),
        250
    );
    assert_eq!(
        code_of(&w.cmd(&format!("RCPT TO:<x@{}>", s.remote)).await),
        250
    );
    assert_eq!(code_of(&w.cmd("DATA").await), 354);
    let forged = message(&s.bob, &format!("x@{}", s.remote), "forged");
    w.send(format!("{forged}.\r\n").as_bytes()).await;
    let r = w.reply().await;
    assert!(r.starts_with("553 5.7.1"), "{r}");
    // An identity added through the API may be sent as.
    let alias = format!("sales@{}", s.ana.split('@').nth(1).unwrap());
    let r = app
        .post(
            "/v1/aliases",
            &s.t.owner_token,
            serde_json::json!({"domain_id": s.domain_id, "local_part": "sales", "destinations": [s.ana]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = app
        .post(
            &format!("/v1/mailboxes/{}/identities", s.ana_id),
            &s.t.owner_token,
            serde_json::json!({"email": alias, "name": "Sales"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(code_of(&w.cmd(&format!("MAIL FROM:<{alias}>")).await), 250);
    assert_eq!(
        code_of(&w.cmd(&format!("RCPT TO:<y@{}>", s.remote)).await),
        250
    );
    assert_eq!(code_of(&w.cmd("DATA").await), 354);
    let ok = message(&alias, &format!("y@{}", s.remote), "from sales");
    w.send(format!("{ok}.\r\n").as_bytes()).await;
    let r = w.reply().await;
    assert!(r.starts_with("250 2.0.0 queued as "), "{r}");
    let arrived = eventually(20, || async { s.peer.received().len() == 1 }).await;
    assert!(arrived);
    let got = s.peer.received();
    assert_eq!(got[0].from, alias);
    assert!(!String::from_utf8_lossy(&got[0].data).contains("Subject: forged"));
}

#[tokio::test]
async fn deferred_recipients_are_retried_and_refused_ones_bounce() {
    let s = setup(|c| {
        c.outbound.expire_secs = 4;
        c.outbound.delay_notice_secs = 1;
        c.outbound.max_recipients_per_transaction = 2;
    })
    .await;
    let app = &s.app;
    let later = format!("later@{}", s.remote);
    let reject = format!("reject@{}", s.remote);
    let temp = format!("temp@{}", s.remote);
    let domain = s.ana.split('@').nth(1).unwrap().to_string();
    let nobody = format!("nobody@{domain}");
    let msg = message(&s.ana, &later, "Try, try again");
    let out = smtplib(
        submission_addr(app),
        &s.ana,
        &s.ana,
        &[&later, &reject, &temp, &nobody],
        &msg,
    )
    .await;
    assert!(out.contains("REFUSED {}"), "{out}");
    // Greylisted first, delivered on the retry.
    let retried = eventually(30, || async {
        s.peer.received().iter().any(|r| r.rcpts == [later.clone()])
    })
    .await;
    assert!(retried, "{:?}", s.peer.lines.lock().unwrap());
    // The refused remote recipient, the unknown local one and, once the message expired, the
    // one that was never accepted: each reported to Ana in a delivery status notification.
    let bounced = eventually(30, || async {
        let reports: String = inbox(app, &s.t.owner_token, &s.ana_id)
            .await
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join(",");
        let mut all = String::new();
        for id in reports.split(',').filter(|x| !x.is_empty()) {
            all.push_str(&String::from_utf8_lossy(
                &crate::smtp::raw(app, &s.t.owner_token, &s.ana_id, id).await,
            ));
        }
        all.contains(&format!("Final-Recipient: rfc822; {reject}"))
            && all.contains(&format!("Final-Recipient: rfc822; {nobody}"))
            && all.contains(&format!(
                "Final-Recipient: rfc822; {temp}\r\nAction: failed\r\nStatus: 4.4.7"
            ))
    })
    .await;
    let reports = inbox(app, &s.t.owner_token, &s.ana_id).await;
    assert!(bounced, "{reports:?}");
    // Failure reports, and one notice that Temp's delivery was late (while it was retried).
    let mut all = String::new();
    let mut delays = Vec::new();
    for m in &reports {
        let id = m["id"].as_str().unwrap();
        let text =
            String::from_utf8_lossy(&crate::smtp::raw(app, &s.t.owner_token, &s.ana_id, id).await)
                .to_string();
        let subject = m["subject"].as_str().unwrap();
        if subject.starts_with("Delayed Mail (still being retried)") {
            delays.push(text);
        } else {
            assert!(
                subject.starts_with("Undelivered Mail Returned to Sender"),
                "{m:?}"
            );
            all.push_str(&text);
        }
    }
    assert_eq!(delays.len(), 1, "{delays:?}");
    assert!(delays[0].contains("Action: delayed"), "{}", delays[0]);
    assert!(
        delays[0].contains(&format!("Final-Recipient: rfc822; {temp}")),
        "{}",
        delays[0]
    );
    assert!(all.contains("report-type=delivery-status"));
    assert!(all.contains("Status: 5.1.1"), "{all}");
    assert!(all.contains("Status: 4.4.7"), "{all}");
    assert!(all.contains("Remote-MTA: dns; mx."), "{all}");
    assert!(
        !all.contains(&format!("Final-Recipient: rfc822; {later}")),
        "{all}"
    );
    // The delivered one was delivered once; the refused one never reached the peer.
    let copies = s
        .peer
        .received()
        .iter()
        .filter(|r| r.rcpts.contains(&later))
        .count();
    assert_eq!(copies, 1);
    assert!(!s.peer.received().iter().any(|r| r.rcpts.contains(&reject)));
    // The three remote recipients went in transactions of at most two.
    let lines = s.peer.lines.lock().unwrap().clone();
    let mut per_transaction = Vec::new();
    for l in &lines {
        if l.starts_with("MAIL FROM") {
            per_transaction.push(0);
        } else if l.starts_with("RCPT TO")
            && let Some(n) = per_transaction.last_mut()
        {
            *n += 1;
        }
    }
    assert!(per_transaction.contains(&2), "{lines:?}");
    assert!(per_transaction.iter().all(|n| *n <= 2), "{lines:?}");
}

/// swaks, a real client, through STARTTLS with PLAIN and an app password, and through
/// implicit TLS (port 465's way) with LOGIN and the mailbox password.
#[tokio::test]
async fn swaks_sends_with_an_app_password_and_over_implicit_tls() {
    let s = setup(|c| c.submission.tls_listen = "127.0.0.1:0".into()).await;
    let app = &s.app;
    let r = app
        .post(
            &format!("/v1/mailboxes/{}/app-passwords", s.ana_id),
            &s.t.owner_token,
            serde_json::json!({"name": "laptop"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let app_password = r.body["password"].as_str().unwrap().to_string();
    let starttls = submission_addr(app).port().to_string();
    let implicit = app
        .running
        .as_ref()
        .unwrap()
        .submissions_addr
        .unwrap()
        .port()
        .to_string();
    for (port, tls, mech, password, subject) in [
        (
            &starttls,
            "--tls",
            "PLAIN",
            app_password.as_str(),
            "via swaks and STARTTLS",
        ),
        (
            &implicit,
            "--tls-on-connect",
            "LOGIN",
            PASSWORD,
            "via swaks and implicit TLS",
        ),
    ] {
        let out = tokio::process::Command::new("swaks")
            .args(["--server", "127.0.0.1", "--port", port, tls])
            .args([
                "--auth",
                mech,
                "--auth-user",
                &s.ana,
                "--auth-password",
                password,
            ])
            .args(["--from", &s.ana, "--to", &s.bob, "--header"])
            .arg(format!("Subject: {subject}"))
            .args(["--body", "hello from swaks"])
            .output()
            .await
            .expect("swaks is installed (Debian package swaks)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("250 2.0.0 queued as "), "{text}");
    }
    let both = eventually(20, || async {
        inbox(app, &s.t.owner_token, &s.bob_id).await.len() == 2
    })
    .await;
    assert!(both);
    let sent = folder(app, &s.t.owner_token, &s.ana_id, "Sent").await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    // Two messages to Bob: one contact.
    let c = app
        .get(
            &format!("/v1/contacts?mailbox_id={}", s.ana_id),
            &s.t.owner_token,
        )
        .await;
    assert_eq!(c.body["items"].as_array().unwrap().len(), 1, "{c:?}");
}

/// A POST to `/send` with an optional Idempotency-Key.
async fn send_rest(
    app: &TestApp,
    token: &str,
    mailbox: &str,
    key: Option<&str>,
    body: serde_json::Value,
) -> Resp {
    let mut req = app
        .http
        .post(format!("{}/v1/mailboxes/{mailbox}/send", app.base))
        .bearer_auth(token)
        .json(&body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        text,
    }
}

#[tokio::test]
async fn rest_send_replies_signs_attaches_once_per_key_and_reports_deliveries() {
    use base64::Engine;
    let s = setup(|_| {}).await;
    let app = &s.app;
    let token = &s.t.owner_token;
    // Bob wrote to Ana; she answers from the API, to Bob and a remote Dave, Bcc remote Eve.
    let original = format!(
        "From: Bob <{}>\r\nTo: {}\r\nSubject: Lunch?\r\nMessage-ID: <lunch@bob.test>\r\nReferences: <root@bob.test>\r\n\r\nAre you free on Friday?\r\n",
        s.bob, s.ana
    );
    let res = app
        .import(token, &s.ana_id, "folder=INBOX", "message/rfc822", original)
        .await;
    assert!(res.status().is_success());
    let lunch = inbox(app, token, &s.ana_id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sig = app
        .post(
            &format!("/v1/mailboxes/{}/signatures", s.ana_id),
            token,
            serde_json::json!({"name": "Work", "text": "Ana Lima\nAcme"}),
        )
        .await;
    assert_eq!(sig.status, 201, "{sig:?}");
    let dave = format!("dave@{}", s.remote);
    let eve = format!("eve@{}", s.remote);
    let body = serde_json::json!({
        "to": [s.bob, dave],
        "bcc": [eve],
        "text": "Friday works.",
        "in_reply_to": lunch,
        "signature_id": sig.body["id"],
        "attachments": [{"filename": "menu.txt", "content_type": "text/plain",
            "content_base64": base64::engine::general_purpose::STANDARD.encode("soup\n")}],
    });
    let r = send_rest(app, token, &s.ana_id, Some("lunch-reply-1"), body.clone()).await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.body["recipients"].as_array().unwrap().len(), 3);
    let sent_id = r.body["sent_message_id"].as_str().unwrap().to_string();
    // The same key again: the same message, not sent twice.
    let again = send_rest(app, token, &s.ana_id, Some("lunch-reply-1"), body.clone()).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["id"], r.body["id"]);
    // Every recipient delivered, as the deliveries of the Sent copy say.
    let done = eventually(20, || async {
        let d = app
            .get(
                &format!("/v1/mailboxes/{}/messages/{sent_id}/deliveries", s.ana_id),
                token,
            )
            .await;
        d.status == 200
            && d.body["recipients"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x["status"] == "delivered")
    })
    .await;
    assert!(done);
    let outbox = app
        .get(&format!("/v1/mailboxes/{}/outbox", s.ana_id), token)
        .await;
    assert_eq!(outbox.status, 200);
    assert_eq!(
        outbox.body["items"].as_array().unwrap().len(),
        1,
        "{outbox:?}"
    );
    assert_eq!(outbox.body["items"][0]["subject"], "Re: Lunch?");
    // The remote copy: one transaction for Dave and Eve, Eve nowhere in the header, the reply
    // threaded, quoted, signed, with its attachment and a valid DKIM signature.
    let got = s.peer.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].rcpts.len(), 2);
    let text = String::from_utf8_lossy(&got[0].data).to_string();
    assert!(!text.contains(&eve), "{text}");
    assert!(text.contains("In-Reply-To: <lunch@bob.test>"), "{text}");
    assert!(text.contains("<root@bob.test> <lunch@bob.test>"), "{text}");
    assert!(text.contains("Subject: Re: Lunch?"), "{text}");
    assert!(text.contains("> Are you free on Friday?"), "{text}");
    assert!(text.contains("-- \r\nAna Lima\r\nAcme"), "{text}");
    assert!(text.contains("menu.txt"), "{text}");
    assert!(
        dkim_verifies(app, token, &s.domain_id, &got[0].data).await,
        "{text}"
    );
    // Bob has it, in the conversation he started.
    let bobs = inbox(app, token, &s.bob_id).await;
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0]["subject"], "Re: Lunch?");
    // Bad requests say what is wrong and send nothing.
    for (body, field) in [
        (serde_json::json!({"text": "nobody"}), "to"),
        (serde_json::json!({"to": ["not-an-address"]}), "to"),
        (
            serde_json::json!({"to": [s.bob], "identity_id": uuid::Uuid::nil()}),
            "identity_id",
        ),
        (
            serde_json::json!({"to": [s.bob], "signature_id": uuid::Uuid::nil()}),
            "signature_id",
        ),
        (
            serde_json::json!({"to": [s.bob], "in_reply_to": uuid::Uuid::nil()}),
            "in_reply_to",
        ),
    ] {
        let r = send_rest(app, token, &s.ana_id, None, body).await;
        assert_eq!(r.status, 400, "{field}: {r:?}");
        assert_eq!(r.code(), "validation_failed", "{r:?}");
        assert!(r.text.contains(field), "{field}: {r:?}");
    }
    let r = send_rest(
        app,
        token,
        &s.ana_id,
        None,
        serde_json::json!({"to": [s.bob], "colour": "red"}),
    )
    .await;
    assert_eq!(r.status, 400, "{r:?}");
    // Another tenant neither sends from Ana's mailbox nor sees what she sent.
    let t2 = app.tenant().await;
    let r = send_rest(
        app,
        &t2.owner_token,
        &s.ana_id,
        None,
        serde_json::json!({"to": [s.bob], "text": "x"}),
    )
    .await;
    assert_eq!(r.status, 404, "{r:?}");
    for path in [
        format!("/v1/mailboxes/{}/outbox", s.ana_id),
        format!("/v1/mailboxes/{}/messages/{sent_id}/deliveries", s.ana_id),
    ] {
        let r = app.get(&path, &t2.owner_token).await;
        assert_eq!(r.status, 404, "{path}: {r:?}");
    }
    assert_eq!(s.peer.received().len(), 1);
    assert_eq!(inbox(app, token, &s.bob_id).await.len(), 1);
}

/// Sends over submission on a raw socket (AUTH allowed without TLS by the setup); returns
/// the RCPT replies and the final reply.
async fn submit_raw(
    app: &TestApp,
    user: &str,
    from: &str,
    to: &[&str],
    subject: &str,
) -> (Vec<String>, String) {
    use base64::Engine;
    let mut w = Wire::connect(submission_addr(app)).await;
    w.cmd("EHLO laptop.test").await;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{PASSWORD}"));
    assert_eq!(code_of(&w.cmd(&format!("AUTH PLAIN {plain}")).await), 235);
    assert_eq!(code_of(&w.cmd(&format!("MAIL FROM:<{from}>")).await), 250);
    let mut rcpts = Vec::new();
    for t in to {
        rcpts.push(w.cmd(&format!("RCPT TO:<{t}>")).await);
    }
    let r = w.cmd("DATA").await;
    if code_of(&r) != 354 {
        return (rcpts, r);
    }
    let m = message(from, to[0], subject);
    w.send(format!("{m}.\r\n").as_bytes()).await;
    (rcpts, w.reply().await)
}

#[tokio::test]
async fn hard_bounces_are_suppressed_until_removed_and_deliveries_are_events() {
    let s = setup(|c| c.submission.require_tls_for_auth = false).await;
    let app = &s.app;
    let token = &s.t.owner_token;
    let reject = format!("reject@{}", s.remote);
    let ok = format!("fine@{}", s.remote);
    let (_, end) = submit_raw(app, &s.ana, &s.ana, &[&reject, &ok], "first").await;
    assert!(end.starts_with("250 "), "{end}");
    let listed = eventually(20, || async {
        app.get("/v1/suppressions", token)
            .await
            .text
            .contains(&reject)
    })
    .await;
    assert!(listed);
    let list = app.get("/v1/suppressions", token).await;
    let item = &list.body["items"][0];
    assert_eq!(item["address"], reject);
    assert_eq!(item["source"], "bounce");
    assert!(item["reason"].as_str().unwrap().contains("5.1.1"), "{item}");
    // Delivery events, for webhooks and dashboards.
    let ev = app.get("/v1/events?kind=message.bounced", token).await;
    assert!(ev.text.contains(&reject), "{ev:?}");
    let ev = app.get("/v1/events?kind=message.delivered", token).await;
    assert!(ev.text.contains(&ok), "{ev:?}");
    // Now refused at RCPT, the others still go.
    let (rcpts, end) = submit_raw(app, &s.ana, &s.ana, &[&reject, &ok], "second").await;
    assert!(rcpts[0].starts_with("550 5.1.1"), "{rcpts:?}");
    assert!(rcpts[1].starts_with("250"), "{rcpts:?}");
    assert!(end.starts_with("250 "), "{end}");
    // Another tenant sees nothing of it and cannot remove it.
    let t2 = app.tenant().await;
    let other = app.get("/v1/suppressions", &t2.owner_token).await;
    assert_eq!(other.body["items"].as_array().unwrap().len(), 0);
    let id = item["id"].as_str().unwrap();
    let r = app
        .delete(&format!("/v1/suppressions/{id}"), &t2.owner_token)
        .await;
    assert_eq!(r.status, 404);
    // Removed: mail goes to it again.
    let r = app.delete(&format!("/v1/suppressions/{id}"), token).await;
    assert_eq!(r.status, 204, "{r:?}");
    let (rcpts, _) = submit_raw(app, &s.ana, &s.ana, &[&reject], "third").await;
    assert!(rcpts[0].starts_with("250"), "{rcpts:?}");
    // Added by hand, with bad input refused.
    let r = app
        .post(
            "/v1/suppressions",
            token,
            serde_json::json!({"address": "Noisy@Example.NET", "reason": "asked us to stop"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["address"], "noisy@example.net");
    let r = app
        .post(
            "/v1/suppressions",
            token,
            serde_json::json!({"address": "noisy@example.net"}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.code(), "already_suppressed");
    let r = app
        .post(
            "/v1/suppressions",
            token,
            serde_json::json!({"address": "nope"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = send_rest(
        app,
        token,
        &s.ana_id,
        None,
        serde_json::json!({"to": ["noisy@example.net"], "text": "x"}),
    )
    .await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.body["recipients"][0]["status"], "bounced");
    assert!(
        r.body["recipients"][0]["last_reply"]
            .as_str()
            .unwrap()
            .starts_with("suppressed")
    );
}

#[tokio::test]
async fn sending_rates_and_the_daily_plan_limit_hold() {
    let s = setup(|c| {
        c.submission.require_tls_for_auth = false;
        c.outbound.max_messages_per_mailbox_per_hour = 2;
    })
    .await;
    let app = &s.app;
    let token = &s.t.owner_token;
    let to = format!("x@{}", s.remote);
    for i in 0..2 {
        let (_, end) = submit_raw(app, &s.ana, &s.ana, &[&to], &format!("n{i}")).await;
        assert!(end.starts_with("250 "), "{end}");
    }
    let (_, end) = submit_raw(app, &s.ana, &s.ana, &[&to], "too many").await;
    assert!(end.starts_with("451 4.7.0"), "{end}");
    let r = send_rest(
        app,
        token,
        &s.ana_id,
        None,
        serde_json::json!({"to": [to], "text": "x"}),
    )
    .await;
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.code(), "rate_limited");
    assert!(r.headers.contains_key("retry-after"));
    // Bob has his own hourly allowance; the tenant's daily plan limit counts everyone.
    let r = app
        .patch(
            &format!("/v1/tenants/{}", s.t.id),
            &app.admin_token,
            serde_json::json!({"limits": {"max_messages_per_day": 3}}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let (_, end) = submit_raw(app, &s.bob, &s.bob, &[&to], "third of the day").await;
    assert!(end.starts_with("250 "), "{end}");
    let (_, end) = submit_raw(app, &s.bob, &s.bob, &[&to], "fourth of the day").await;
    assert!(end.starts_with("550 5.4.5"), "{end}");
    let r = send_rest(
        app,
        token,
        &s.bob_id,
        None,
        serde_json::json!({"to": [to], "text": "x"}),
    )
    .await;
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.code(), "daily_limit_exceeded");
    let arrived = eventually(20, || async { s.peer.received().len() == 3 }).await;
    assert!(arrived, "{:?}", s.peer.received().len());
}

#[tokio::test]
async fn drafts_are_saved_replaced_seen_over_imap_and_sent() {
    let s = setup(|_| {}).await;
    let app = &s.app;
    let token = &s.t.owner_token;
    let dave = format!("dave@{}", s.remote);
    let eve = format!("eve@{}", s.remote);
    // A draft with no recipient yet.
    let r = app
        .post(
            &format!("/v1/mailboxes/{}/drafts", s.ana_id),
            token,
            serde_json::json!({"subject": "Plan", "text": "first thoughts"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let first = r.body["id"].as_str().unwrap().to_string();
    // Saved again, now addressed (Bcc kept in the draft): one draft, the new one.
    let r = app
        .call(
            reqwest::Method::PUT,
            &format!("/v1/mailboxes/{}/drafts/{first}", s.ana_id),
            Some(token),
            Some(serde_json::json!({"subject": "Plan", "text": "the plan", "to": [dave], "bcc": [eve]})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let second = r.body["id"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    let drafts = folder(app, token, &s.ana_id, "Drafts").await;
    assert_eq!(drafts, [("Plan".to_string(), true)]);
    let raw = crate::smtp::raw(app, token, &s.ana_id, &second).await;
    assert!(String::from_utf8_lossy(&raw).contains(&format!("Bcc: {eve}")));
    // IMAP sees it as a draft.
    let mut imap = crate::imap_wire::Imap::login(
        app.running.as_ref().unwrap().imap_addr.unwrap(),
        &s.ana,
        PASSWORD,
    )
    .await;
    let r = imap.cmd("SELECT Drafts").await.all();
    assert!(r.contains("* 1 EXISTS"), "{r}");
    let r = imap.cmd("FETCH 1 (FLAGS)").await.all();
    assert!(r.contains("\\Draft"), "{r}");
    // The old id is gone; another tenant cannot send or replace it.
    let r = app
        .post(
            &format!("/v1/mailboxes/{}/drafts/{first}/send", s.ana_id),
            token,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let t2 = app.tenant().await;
    let r = app
        .post(
            &format!("/v1/mailboxes/{}/drafts/{second}/send", s.ana_id),
            &t2.owner_token,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    // Sent: queued, gone from Drafts, in Sent without Bcc; Dave and Eve get it, Eve unseen.
    let r = app
        .post(
            &format!("/v1/mailboxes/{}/drafts/{second}/send", s.ana_id),
            token,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.body["recipients"].as_array().unwrap().len(), 2);
    assert!(folder(app, token, &s.ana_id, "Drafts").await.is_empty());
    assert_eq!(folder(app, token, &s.ana_id, "Sent").await.len(), 1);
    let arrived = eventually(20, || async { s.peer.received().len() == 1 }).await;
    assert!(arrived);
    let got = &s.peer.received()[0];
    assert_eq!(got.rcpts.len(), 2);
    let text = String::from_utf8_lossy(&got.data);
    assert!(!text.contains(&eve), "{text}");
    assert!(text.contains("the plan"), "{text}");
}

/// A restart between two tries of a deferred recipient: the retry still happens, once.
#[tokio::test]
async fn a_restart_between_retries_loses_nothing_and_sends_nothing_twice() {
    let mut s = setup(|c| {
        c.outbound.retry_base_secs = 3;
        c.outbound.retry_max_secs = 3;
    })
    .await;
    let later = format!("later-restart@{}", s.remote);
    let now = format!("now@{}", s.remote);
    let msg = message(&s.ana, &later, "Across a restart");
    let out = smtplib(
        submission_addr(&s.app),
        &s.ana,
        &s.ana,
        &[&later, &now],
        &msg,
    )
    .await;
    assert!(out.contains("REFUSED {}"), "{out}");
    // The first try: Now delivered, Later greylisted.
    let tried = eventually(20, || async {
        s.peer.received().iter().any(|r| r.rcpts == [now.clone()])
    })
    .await;
    assert!(tried);
    assert!(!s.peer.received().iter().any(|r| r.rcpts.contains(&later)));
    let cfg = s.app.cfg.clone();
    s.app.stop().await;
    let dir = std::mem::replace(&mut s.app.dir, tempfile::tempdir().unwrap());
    let app = TestApp::boot(cfg, dir).await;
    let retried = eventually(30, || async {
        s.peer.received().iter().any(|r| r.rcpts.contains(&later))
    })
    .await;
    assert!(retried, "{:?}", s.peer.lines.lock().unwrap());
    // Time for a duplicate to show, were one coming.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let count = |who: &str| {
        s.peer
            .received()
            .iter()
            .filter(|r| r.rcpts.iter().any(|x| x == who))
            .count()
    };
    assert_eq!(count(&later), 1);
    assert_eq!(count(&now), 1);
    let r = app
        .get(
            &format!("/v1/mailboxes/{}/outbox", s.ana_id),
            &s.t.owner_token,
        )
        .await;
    let statuses: Vec<&str> = r.body["items"][0]["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["delivered", "delivered"], "{r:?}");
}

/// Mail clients save their own copy of what they sent (IMAP APPEND to Sent): the copy
/// Mailroom filed at submission answers it, so Sent does not show the message twice.
#[tokio::test]
async fn a_client_saving_its_sent_copy_over_imap_finds_the_one_already_there() {
    let s = setup(|c| c.submission.require_tls_for_auth = false).await;
    let app = &s.app;
    let to = format!("x@{}", s.remote);
    let msg = message(&s.ana, &to, "Saved once");
    let out = smtplib(submission_addr(app), &s.ana, &s.ana, &[&to], &msg).await;
    assert!(out.contains("REFUSED {}"), "{out}");
    let mut c = crate::imap_wire::Imap::login(
        app.running.as_ref().unwrap().imap_addr.unwrap(),
        &s.ana,
        PASSWORD,
    )
    .await;
    let r = c.cmd("SELECT Sent").await.all();
    assert!(r.contains("* 1 EXISTS"), "{r}");
    let uid_line = c.cmd("UID FETCH 1:* (UID)").await.all();
    let append = |tag: &'static str, folder: &'static str, m: String| {
        format!("{tag} APPEND {folder} (\\Seen) {{{}+}}\r\n{m}\r\n", m.len())
    };
    c.send(append("a1", "Sent", msg.clone()).as_bytes()).await;
    let r = c.until("a1").await;
    assert!(r.ok(), "{r:?}");
    // The same UID as the copy already there, and still one message.
    let uid = uid_line
        .split("UID ")
        .nth(1)
        .and_then(|x| x.split(')').next())
        .unwrap()
        .trim()
        .to_string();
    assert!(
        r.last_line().contains(&format!(" {uid}] ")),
        "{r:?} vs {uid_line}"
    );
    assert_eq!(
        folder(app, &s.t.owner_token, &s.ana_id, "Sent").await.len(),
        1
    );
    // A message not sent through Mailroom is stored as asked, as is any copy elsewhere.
    c.send(append("a2", "Sent", message(&s.ana, &to, "Sent elsewhere")).as_bytes())
        .await;
    assert!(c.until("a2").await.ok());
    c.send(append("a3", "Archive", msg.clone()).as_bytes())
        .await;
    assert!(c.until("a3").await.ok());
    assert_eq!(
        folder(app, &s.t.owner_token, &s.ana_id, "Sent").await.len(),
        2
    );
    assert_eq!(
        folder(app, &s.t.owner_token, &s.ana_id, "Archive")
            .await
            .len(),
        1
    );
}

/// A slow server cannot hold a delivery past the job's lease (another worker would take the
/// job and deliver again); deliveries to one domain are capped.
#[tokio::test]
async fn attempts_end_within_the_lease_and_domains_get_a_few_connections_at_most() {
    let s = setup(|c| {
        c.submission.require_tls_for_auth = false;
        c.jobs.lease_secs = 4;
        c.outbound.retry_base_secs = 60;
        c.outbound.retry_max_secs = 60;
        c.outbound.max_connections_per_domain = 1;
    })
    .await;
    let app = &s.app;
    let slow = format!("slow@{}", s.remote);
    let (_, end) = submit_raw(app, &s.ana, &s.ana, &[&slow], "slow").await;
    assert!(end.starts_with("250 "), "{end}");
    let cut = eventually(20, || async {
        let r = app
            .get(
                &format!("/v1/mailboxes/{}/outbox", s.ana_id),
                &s.t.owner_token,
            )
            .await;
        r.body["items"][0]["recipients"][0]["status"] == "deferred"
    })
    .await;
    let r = app
        .get(
            &format!("/v1/mailboxes/{}/outbox", s.ana_id),
            &s.t.owner_token,
        )
        .await;
    assert!(cut, "{r:?}");
    let reply = r.body["items"][0]["recipients"][0]["last_reply"]
        .as_str()
        .unwrap();
    assert!(reply.contains("took longer than 3 s"), "{reply}");
    // Four messages to one domain, one connection at a time.
    // (The peer notices the cut connection only when its pause ends.)
    let quiet = eventually(10, || async { s.peer.open.lock().unwrap().0 == 0 }).await;
    assert!(quiet);
    s.peer.open.lock().unwrap().1 = 0;
    for i in 0..4 {
        let to = format!("pause{i}@{}", s.remote);
        let (_, end) = submit_raw(app, &s.ana, &s.ana, &[&to], "paced").await;
        assert!(end.starts_with("250 "), "{end}");
    }
    let all = eventually(30, || async {
        s.peer
            .received()
            .iter()
            .filter(|r| r.rcpts[0].starts_with("pause"))
            .count()
            == 4
    })
    .await;
    assert!(all);
    assert_eq!(
        s.peer.open.lock().unwrap().1,
        1,
        "more than one connection at once"
    );
}

/// A mailbox whose copy in Sent would not fit sends nothing and is told why.
#[tokio::test]
async fn a_full_mailbox_is_told_and_nothing_goes_out() {
    let s = setup(|c| c.submission.require_tls_for_auth = false).await;
    let app = &s.app;
    let r = app
        .patch(
            &format!("/v1/mailboxes/{}", s.ana_id),
            &s.t.owner_token,
            serde_json::json!({"quota_bytes": 100}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let to = format!("x@{}", s.remote);
    let (_, end) = submit_raw(app, &s.ana, &s.ana, &[&to], "too big for the box").await;
    assert!(end.starts_with("552 5.2.2"), "{end}");
    let r = send_rest(
        app,
        &s.t.owner_token,
        &s.ana_id,
        None,
        serde_json::json!({"to": [to], "text": "x"}),
    )
    .await;
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(r.code(), "quota_exceeded");
    let outbox = app
        .get(
            &format!("/v1/mailboxes/{}/outbox", s.ana_id),
            &s.t.owner_token,
        )
        .await;
    assert_eq!(
        outbox.body["items"].as_array().unwrap().len(),
        0,
        "{outbox:?}"
    );
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(s.peer.received().is_empty());
}

/// Mailroom to Mailroom: the recipient's MX is another deployment (found through DNS) that
/// offers STARTTLS with a certificate no one signed; the message goes over TLS all the same
/// (opportunistic, as MTAs do) and arrives signed.
#[tokio::test]
async fn delivery_to_another_mx_upgrades_to_tls() {
    // The receiving deployment, with its own database.
    let receiver = TestApp::spawn_isolated_with(|_| {}).await;
    let rt = receiver.tenant().await;
    let (rd, rdomain) = fixture_verified_domain(&receiver, &rt.owner_token).await;
    let (rita_id, rita) = mailbox(&receiver, &rt.owner_token, &rd, "rita").await;
    let mx_port = receiver.running.as_ref().unwrap().smtp_addr.unwrap().port();
    let dns = DnsServer::start(
        &[&rdomain],
        &[
            Rec::Mx(rdomain.clone(), format!("mx.{rdomain}"), 10),
            Rec::Host(format!("mx.{rdomain}"), "127.0.0.1".into()),
        ],
    )
    .await;
    let sender = TestApp::spawn_isolated_with(|c| {
        c.jobs.enabled = true;
        c.dns.nameservers = vec![dns.addr()];
        c.outbound.mx_port = mx_port;
    })
    .await;
    let st = sender.tenant().await;
    let (sd, _) = fixture_verified_domain(&sender, &st.owner_token).await;
    let (ana_id, _) = mailbox(&sender, &st.owner_token, &sd, "ana").await;
    let r = send_rest(
        &sender,
        &st.owner_token,
        &ana_id,
        None,
        serde_json::json!({"to": [rita], "subject": "Across", "text": "over TLS"}),
    )
    .await;
    assert_eq!(r.status, 202, "{r:?}");
    let arrived = eventually(20, || async {
        inbox(&receiver, &rt.owner_token, &rita_id).await.len() == 1
    })
    .await;
    assert!(arrived);
    let m = &inbox(&receiver, &rt.owner_token, &rita_id).await[0];
    let raw = crate::smtp::raw(
        &receiver,
        &rt.owner_token,
        &rita_id,
        m["id"].as_str().unwrap(),
    )
    .await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("with ESMTPS"), "{text}");
    assert!(text.contains("DKIM-Signature: "), "{text}");
    let d = sender
        .get(&format!("/v1/mailboxes/{ana_id}/outbox"), &st.owner_token)
        .await;
    let reply = d.body["items"][0]["recipients"][0]["last_reply"]
        .as_str()
        .unwrap();
    assert!(reply.contains("250"), "{reply}");
}

/// A domain whose MX points at an internal address (here loopback) does not get Mailroom to
/// connect there: the message bounces.
#[tokio::test]
async fn mx_hosts_on_internal_addresses_are_not_delivered_to() {
    let s = setup(|c| {
        c.submission.require_tls_for_auth = false;
        c.outbound.public_mx_only = true;
    })
    .await;
    let app = &s.app;
    let to = format!("x@{}", s.remote);
    let (_, end) = submit_raw(app, &s.ana, &s.ana, &[&to], "to the inside").await;
    assert!(end.starts_with("250 "), "{end}");
    let bounced = eventually(20, || async {
        !inbox(app, &s.t.owner_token, &s.ana_id).await.is_empty()
    })
    .await;
    assert!(bounced);
    let m = &inbox(app, &s.t.owner_token, &s.ana_id).await[0];
    let raw = crate::smtp::raw(app, &s.t.owner_token, &s.ana_id, m["id"].as_str().unwrap()).await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("Status: 5.4.4"), "{text}");
    assert!(text.contains("internal addresses"), "{text}");
    assert!(s.peer.received().is_empty());
    assert!(
        s.peer.lines.lock().unwrap().is_empty(),
        "a connection was made"
    );
}

/// Mail a user sends to a group of this deployment counts as from an authenticated member
/// (no SPF verdict on the loopback address): a members-only group takes it.
#[tokio::test]
async fn a_members_only_group_takes_mail_its_member_sent_from_here() {
    let s = setup(|_| {}).await;
    let app = &s.app;
    let token = &s.t.owner_token;
    let r = app
        .post(
            "/v1/groups",
            token,
            serde_json::json!({"domain_id": s.domain_id, "local_part": "team", "members": [s.ana, s.bob], "send_policy": "members"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let team = r.body["address"].as_str().unwrap().to_string();
    let r = send_rest(
        app,
        token,
        &s.ana_id,
        None,
        serde_json::json!({"to": [team], "subject": "Standup", "text": "at ten"}),
    )
    .await;
    assert_eq!(r.status, 202, "{r:?}");
    let arrived = eventually(20, || async {
        inbox(app, token, &s.bob_id).await.len() == 1
    })
    .await;
    assert!(
        arrived,
        "{:?}",
        app.get(&format!("/v1/mailboxes/{}/outbox", s.ana_id), token)
            .await
    );
    let m = &inbox(app, token, &s.bob_id).await[0];
    let raw = crate::smtp::raw(app, token, &s.bob_id, m["id"].as_str().unwrap()).await;
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains(&format!(
            "auth=pass (sent by a user of this server) smtp.auth={}",
            s.ana
        )),
        "{text}"
    );
}

/// An address here that forwards outside the platform is deferred, as the MX answers it
/// (451), rather than delivered to its local part only: nothing is dropped unnoticed.
#[tokio::test]
async fn an_address_forwarding_outside_is_deferred_not_half_delivered() {
    let s = setup(|_| {}).await;
    let app = &s.app;
    let token = &s.t.owner_token;
    let r = app
        .post(
            "/v1/aliases",
            token,
            serde_json::json!({"domain_id": s.domain_id, "local_part": "fwd", "destinations": [s.bob, "partner@elsewhere.example"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let fwd = r.body["address"].as_str().unwrap().to_string();
    let r = send_rest(
        app,
        token,
        &s.ana_id,
        None,
        serde_json::json!({"to": [fwd], "text": "x"}),
    )
    .await;
    assert_eq!(r.status, 202, "{r:?}");
    let deferred = eventually(20, || async {
        let o = app
            .get(&format!("/v1/mailboxes/{}/outbox", s.ana_id), token)
            .await;
        o.body["items"][0]["recipients"][0]["status"] == "deferred"
    })
    .await;
    let o = app
        .get(&format!("/v1/mailboxes/{}/outbox", s.ana_id), token)
        .await;
    assert!(deferred, "{o:?}");
    let reply = o.body["items"][0]["recipients"][0]["last_reply"]
        .as_str()
        .unwrap();
    assert!(reply.contains("forwards outside"), "{reply}");
    assert!(inbox(app, token, &s.bob_id).await.is_empty());
}

/// Messages to one server one after another share one session; a session the server closed
/// while it waited in the cache costs nothing (the message goes over a new one, first try);
/// an idle session is ended with QUIT.
#[tokio::test]
async fn sessions_with_a_server_are_reused_and_ended_when_idle() {
    let s = setup(|c| {
        c.submission.require_tls_for_auth = false;
        c.outbound.connection_cache_secs = 3;
        c.outbound.retry_base_secs = 60;
        c.outbound.retry_max_secs = 60;
    })
    .await;
    let app = &s.app;
    let delivered = |n: usize| {
        let peer = s.peer.clone();
        async move { eventually(20, || async { peer.received().len() == n }).await }
    };
    for i in 0..3 {
        let to = format!("friend{i}@{}", s.remote);
        let (_, end) = submit_raw(app, &s.ana, &s.ana, &[&to], "again").await;
        assert!(end.starts_with("250 "), "{end}");
        assert!(delivered(i + 1).await, "message {i} not delivered");
    }
    let lines = s.peer.lines.lock().unwrap().clone();
    assert_eq!(
        s.peer.sessions.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "{lines:?}"
    );
    assert_eq!(lines.iter().filter(|l| l.starts_with("EHLO")).count(), 1);
    assert!(!lines.iter().any(|l| l == "QUIT"), "{lines:?}");
    // Idle past connection_cache_secs: ended politely.
    let ended = eventually(10, || async { s.peer.open.lock().unwrap().0 == 0 }).await;
    assert!(ended);
    assert_eq!(s.peer.lines.lock().unwrap().last().unwrap(), "QUIT");
    // A server that hangs up after each message: the next one still goes out at once.
    s.peer
        .hang_up_after_data
        .store(true, std::sync::atomic::Ordering::SeqCst);
    for i in 3..5 {
        let to = format!("friend{i}@{}", s.remote);
        let (_, end) = submit_raw(app, &s.ana, &s.ana, &[&to], "closed").await;
        assert!(end.starts_with("250 "), "{end}");
        assert!(delivered(i + 1).await, "message {i} not delivered");
    }
    // Each recorded delivered at the first attempt.
    let outbox = || async {
        app.get(
            &format!("/v1/mailboxes/{}/outbox", s.ana_id),
            &s.t.owner_token,
        )
        .await
    };
    let recorded = eventually(20, || async {
        let r = outbox().await;
        r.body["items"].as_array().is_some_and(|items| {
            items.len() == 5
                && items
                    .iter()
                    .all(|m| m["recipients"][0]["status"] != "queued")
        })
    })
    .await;
    let r = outbox().await;
    assert!(recorded, "{r:?}");
    for m in r.body["items"].as_array().unwrap() {
        let rcpt = &m["recipients"][0];
        assert_eq!(rcpt["status"], "delivered", "{m}");
        assert_eq!(rcpt["attempts"], 1, "{m}");
    }
}

/// `connection_cache_secs = 0`: each delivery opens its own session and ends it.
#[tokio::test]
async fn without_the_session_cache_each_delivery_has_its_own_session() {
    let s = setup(|c| {
        c.submission.require_tls_for_auth = false;
        c.outbound.connection_cache_secs = 0;
    })
    .await;
    let app = &s.app;
    for i in 0..2 {
        let to = format!("friend{i}@{}", s.remote);
        let (_, end) = submit_raw(app, &s.ana, &s.ana, &[&to], "each").await;
        assert!(end.starts_with("250 "), "{end}");
        let peer = s.peer.clone();
        assert!(eventually(20, || async { peer.received().len() == i + 1 }).await);
    }
    let quit = eventually(10, || async {
        s.peer
            .lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| *l == "QUIT")
            .count()
            == 2
    })
    .await;
    assert!(quit, "{:?}", s.peer.lines.lock().unwrap());
    assert_eq!(s.peer.sessions.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// Deleting a tenant that has sent mail leaves nothing of it behind: its queue (with the
/// message bytes), its suppression list and every other table with a `tenant_id`.
#[tokio::test]
async fn a_purged_tenant_leaves_no_row_in_any_table() {
    use sea_orm::{ConnectionTrait, Statement};
    let s = setup(|c| c.submission.require_tls_for_auth = false).await;
    let app = &s.app;
    let reject = format!("reject@{}", s.remote);
    let (_, end) = submit_raw(app, &s.ana, &s.ana, &[&reject], "bounces").await;
    assert!(end.starts_with("250 "), "{end}");
    let suppressed = eventually(20, || async {
        app.get("/v1/suppressions", &s.t.owner_token)
            .await
            .text
            .contains(&reject)
    })
    .await;
    assert!(suppressed);
    let db = sea_orm::Database::connect(app.cfg.effective_database_url())
        .await
        .unwrap();
    let backend = db.get_database_backend();
    let tables_sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT table_name AS t FROM information_schema.columns WHERE column_name = 'tenant_id' AND table_schema = current_schema()".to_string()
        }
        _ => "SELECT m.name AS t FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'tenant_id'".to_string(),
    };
    let tables: Vec<String> = db
        .query_all_raw(Statement::from_string(backend, tables_sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "t").unwrap())
        .collect();
    assert!(tables.contains(&"outbound".to_string()), "{tables:?}");
    assert!(tables.contains(&"suppressions".to_string()), "{tables:?}");
    let tid: uuid::Uuid = s.t.id.parse().unwrap();
    let count = |table: String| {
        let db = &db;
        async move {
            // The purge job itself stays, as the record of the purge.
            let own = if table == "jobs" {
                " AND kind <> 'tenant.purge'"
            } else {
                ""
            };
            let sql = match backend {
                sea_orm::DatabaseBackend::Postgres => {
                    format!("SELECT COUNT(*) AS n FROM {table} WHERE tenant_id = '{tid}'{own}")
                }
                // SQLite stores UUIDs as text or as 16 bytes, depending on the column.
                _ => format!(
                    "SELECT COUNT(*) AS n FROM {table} WHERE (tenant_id = '{tid}' OR hex(tenant_id) = '{}'){own}",
                    tid.simple().to_string().to_uppercase()
                ),
            };
            db.query_one_raw(Statement::from_string(backend, sql))
                .await
                .unwrap()
                .unwrap()
                .try_get::<i64>("", "n")
                .unwrap()
        }
    };
    // And it taught its spam filter.
    let trained = app
        .http
        .post(format!("{}/v1/spam/train?verdict=spam", app.base))
        .bearer_auth(&s.t.owner_token)
        .header("content-type", "message/rfc822")
        .body("Subject: win\r\n\r\nwin a prize\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(trained.status(), 200);
    // And it has a routing rule.
    let rule = app
        .post(
            "/v1/rules",
            &s.t.owner_token,
            serde_json::json!({"name": "flag all", "actions": [{"type": "flag", "flag": "flagged"}]}),
        )
        .await;
    assert_eq!(rule.status, 201, "{rule:?}");
    // And an auto-reply.
    let away = app
        .call(
            reqwest::Method::PUT,
            &format!("/v1/mailboxes/{}/vacation", s.ana_id),
            Some(&s.t.owner_token),
            Some(serde_json::json!({"enabled": true, "body": "Away."})),
        )
        .await;
    assert_eq!(away.status, 200, "{away:?}");
    // Before: the tenant has rows in the queue, the suppression list, the spam tables and
    // the rules.
    for t in [
        "outbound",
        "suppressions",
        "spam_tokens",
        "spam_learned",
        "spam_settings",
        "rules",
        "vacations",
    ] {
        assert!(count(t.into()).await > 0, "{t}");
    }
    let del = app
        .delete(&format!("/v1/tenants/{}", s.t.id), &app.admin_token)
        .await;
    assert_eq!(del.status, 202, "{del:?}");
    let job: uuid::Uuid = del.body["purge_job_id"].as_str().unwrap().parse().unwrap();
    let sys = app.store().system();
    assert!(
        eventually(20, || async {
            sys.job(job)
                .await
                .unwrap()
                .is_some_and(|j| j.status.to_string() == "done")
        })
        .await
    );
    let mut left = Vec::new();
    for t in tables {
        let n = count(t.clone()).await;
        if n > 0 {
            left.push(format!("{t}: {n}"));
        }
    }
    assert!(left.is_empty(), "rows left after the purge: {left:?}");
}
