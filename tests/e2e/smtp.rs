//! Receiving mail: the SMTP server end to end, on a real socket, with real clients, into the
//! real store; read back through the REST API.

use crate::common::*;
use crate::mailboxes::{fixture_verified_domain, mailbox};
use crate::smtp_wire::{Wire, code_of};
use lettre::message::Mailbox as Addr;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mailroom_worker::smtp::recipients::{Recipients, StoreRecipients, Verdict};
use serde_json::{Value, json};

pub fn smtp_addr(app: &TestApp) -> std::net::SocketAddr {
    app.running.as_ref().unwrap().smtp_addr.unwrap()
}

/// A tenant with a verified domain and mailbox `ana`: (tenant, domain id, domain, ana id, ana).
pub async fn receiving(app: &TestApp) -> (TestTenant, String, String, String, String) {
    let t = app.tenant().await;
    let (d, domain) = fixture_verified_domain(app, &t.owner_token).await;
    let (ana_id, ana) = mailbox(app, &t.owner_token, &d, "ana").await;
    (t, d, domain, ana_id, ana)
}

pub async fn inbox(app: &TestApp, token: &str, mailbox: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/v1/mailboxes/{mailbox}/messages?folder=INBOX&limit=200"),
            token,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["items"].as_array().unwrap().clone()
}

/// Every message of a folder, following the cursor, newest first.
pub async fn all_messages(app: &TestApp, token: &str, mailbox: &str) -> Vec<Value> {
    all_messages_in(app, token, mailbox, "INBOX").await
}

/// Every message of the folder `folder`, following the cursor, newest first.
pub async fn all_messages_in(
    app: &TestApp,
    token: &str,
    mailbox: &str,
    folder: &str,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app
            .get(
                &format!("/v1/mailboxes/{mailbox}/messages?folder={folder}&limit=200{cursor}"),
                token,
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        out.extend(r.body["items"].as_array().unwrap().clone());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

pub async fn raw(app: &TestApp, token: &str, mailbox: &str, id: &str) -> Vec<u8> {
    let res = app
        .http
        .get(format!(
            "{}/v1/mailboxes/{mailbox}/messages/{id}/raw",
            app.base
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "message/rfc822");
    res.bytes().await.unwrap().to_vec()
}

/// Sends `body` (exact bytes) with BDAT; returns the final reply.
/// The subjects of messages (as listed by the API), sorted.
pub fn subjects(list: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = list
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    s.sort();
    s
}

/// One SMTP transaction over DATA: `message` (header and body, CRLF lines, no final dot)
/// from `from` to every address in `to` (each must be accepted); the final reply.
pub async fn send_data(app: &TestApp, from: &str, to: &[&str], message: &str) -> String {
    let mut w = Wire::connect(smtp_addr(app)).await;
    assert_eq!(w.code("EHLO client.test").await, 250);
    assert_eq!(w.code(&format!("MAIL FROM:<{from}>")).await, 250);
    for t in to {
        let r = w.cmd(&format!("RCPT TO:<{t}>")).await;
        assert_eq!(code_of(&r), 250, "{r}");
    }
    assert_eq!(w.code("DATA").await, 354);
    w.send(format!("{message}.\r\n").as_bytes()).await;
    let r = w.reply().await;
    w.cmd("QUIT").await;
    r
}

pub async fn bdat(w: &mut Wire, from: &str, to: &[&str], body: &[u8]) -> String {
    assert_eq!(w.code("EHLO client.test").await, 250);
    let r = w.cmd(&format!("MAIL FROM:<{from}> BODY=BINARYMIME")).await;
    assert_eq!(code_of(&r), 250, "{r}");
    for t in to {
        let r = w.cmd(&format!("RCPT TO:<{t}>")).await;
        assert_eq!(code_of(&r), 250, "{r}");
    }
    w.send(format!("BDAT {} LAST\r\n", body.len()).as_bytes())
        .await;
    w.send(body).await;
    w.reply().await
}

/// With `smtp.proxy_protocol`, a PROXY header comes first and the session runs as usual
/// after it; a connection without one is closed before any greeting.
#[tokio::test]
async fn behind_a_proxy_the_header_comes_first() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|c| c.smtp.proxy_protocol = true).await;
    let addr = smtp_addr(&app);
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 25\r\n")
        .await
        .unwrap();
    let mut w = Wire::from_stream(s).await;
    let r = w.cmd("EHLO client.example").await;
    assert!(r.starts_with("250"), "{r}");
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"EHLO client.example\r\n").await.unwrap();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), plain.read(&mut buf))
        .await
        .expect("closed")
        .unwrap_or(0);
    assert!(
        !String::from_utf8_lossy(&buf[..n]).contains("220"),
        "greeted without a header"
    );
}

#[tokio::test]
async fn rcpt_verdicts_come_from_the_resolver_and_quotas() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let tok = &t.owner_token;
    let (d, domain) = fixture_verified_domain(&app, tok).await;
    let (_, ana) = mailbox(&app, tok, &d, "ana").await;
    let (bo_id, bo) = mailbox(&app, tok, &d, "bo").await;
    let (full_id, full) = mailbox(&app, tok, &d, "full").await;
    app.patch(
        &format!("/v1/mailboxes/{full_id}"),
        tok,
        json!({"quota_bytes": 0}),
    )
    .await;
    app.patch(
        &format!("/v1/mailboxes/{bo_id}"),
        tok,
        json!({"status": "suspended"}),
    )
    .await;
    app.post(
        "/v1/aliases",
        tok,
        json!({"domain_id": d, "local_part": "sales", "destinations": [ana]}),
    )
    .await;
    app.post("/v1/aliases", tok, json!({"domain_id": d, "local_part": "fwd", "destinations": [ana, "partner@elsewhere.example"]})).await;
    let pending = app
        .post(
            "/v1/domains",
            tok,
            json!({"name": format!("p{}.com", rand_suffix())}),
        )
        .await;
    let pending_name = pending.body["name"].as_str().unwrap().to_string();

    let mut rcpts = StoreRecipients::new(app.store().system());
    for (address, want) in [
        (ana.clone(), Verdict::Accept),
        (ana.to_uppercase(), Verdict::Accept),
        (format!("ana+news@{domain}"), Verdict::Accept),
        (format!("sales@{domain}"), Verdict::Accept),
        // Outbound delivery does not exist yet: a forward outside is deferred, never dropped.
        (format!("fwd@{domain}"), Verdict::CannotForward),
        (format!("nobody@{domain}"), Verdict::Unknown),
        (bo, Verdict::Suspended),
        (full, Verdict::OverQuota),
        (format!("ana@{pending_name}"), Verdict::NotOurs),
        ("someone@elsewhere.example".to_string(), Verdict::NotOurs),
    ] {
        assert_eq!(rcpts.check(&address).await, want, "{address}");
    }
}

#[tokio::test]
async fn lettre_delivers_and_the_stored_bytes_come_back() {
    let app = TestApp::spawn().await;
    let (t, _, domain, ana_id, ana) = receiving(&app).await;
    let addr = smtp_addr(&app);
    let mut events = app.running.as_ref().unwrap().pipeline.bus().subscribe();
    let mailer: AsyncSmtpTransport<Tokio1Executor> =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(addr.port())
            .build();
    let email = Message::builder()
        .from("Sender <sender@outside.example>".parse::<Addr>().unwrap())
        .to(ana.parse::<Addr>().unwrap())
        .subject("Hello from lettre")
        .message_id(Some(format!("<lettre-1@{domain}>")))
        .body(String::from("First line\r\n.leading dot survives\r\nlast"))
        .unwrap();
    let sent_bytes = email.formatted();
    let res = mailer.send(email).await.unwrap();
    assert_eq!(res.code().to_string(), "250");

    let items = inbox(&app, &t.owner_token, &ana_id).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let m = &items[0];
    assert_eq!(m["subject"], "Hello from lettre");
    assert_eq!(m["from"], "Sender <sender@outside.example>");
    assert_eq!(m["message_id"], format!("lettre-1@{domain}"));
    assert_eq!(m["flags"], json!([]));
    let bytes = raw(&app, &t.owner_token, &ana_id, m["id"].as_str().unwrap()).await;
    assert_eq!(m["size"].as_u64().unwrap() as usize, bytes.len());
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("Received: from "), "{text}");
    assert!(text.contains("by mx.mailroom.test (Mailroom) with ESMTP id "));
    assert!(text.contains(&format!("for <{ana}>")));
    // After our trace field, exactly what lettre sent (dot-unstuffed), plus the CRLF lettre
    // had to add because its body did not end in one (SMTP cannot carry that; BDAT can).
    assert!(
        bytes.ends_with(&[sent_bytes.as_slice(), b"\r\n"].concat()),
        "{text}"
    );
    assert!(text.contains("\r\n.leading dot survives\r\n"));

    let ev = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev.mailbox_id.to_string(), ana_id);
    assert_eq!((ev.kind.as_str(), ev.uid), ("appended", 1));

    // Quota is exact: the stored size.
    let mb = app
        .get(&format!("/v1/mailboxes/{ana_id}"), &t.owner_token)
        .await;
    assert_eq!(
        mb.body["used_bytes"].as_u64().unwrap() as usize,
        bytes.len()
    );
}

#[tokio::test]
async fn a_group_stores_one_blob_and_a_retry_no_duplicate() {
    let app = TestApp::spawn().await;
    let (t, d, domain, ana_id, ana) = receiving(&app).await;
    let tok = &t.owner_token;
    let (bo_id, bo) = mailbox(&app, tok, &d, "bo").await;
    let g = app
        .post(
            "/v1/groups",
            tok,
            json!({"domain_id": d, "local_part": "team", "name": "Team", "members": [ana, bo]}),
        )
        .await;
    assert_eq!(g.status, 201, "{g:?}");
    let body = format!(
        "From: x@outside.example\r\nTo: team@{domain}\r\nSubject: to the team\r\nMessage-ID: <g1@outside.example>\r\n\r\nhello team\r\n"
    );
    let team = format!("team@{domain}");
    for _ in 0..2 {
        // Addressed to the group and to ana directly: ana still gets one copy.
        let mut w = Wire::connect(smtp_addr(&app)).await;
        let r = bdat(&mut w, "x@outside.example", &[&team, &ana], body.as_bytes()).await;
        assert_eq!(code_of(&r), 250, "{r}");
    }
    let a = inbox(&app, tok, &ana_id).await;
    let b = inbox(&app, tok, &bo_id).await;
    assert_eq!(
        (a.len(), b.len()),
        (1, 1),
        "a retry of the same bytes is not stored again"
    );
    let blobs: i64 = {
        use sea_orm::{ConnectionTrait, Statement};
        let db = sea_orm::Database::connect(app.cfg.effective_database_url())
            .await
            .unwrap();
        let hash = mailroom_core::store::blob_hash(body.as_bytes());
        let backend = db.get_database_backend();
        let sql = match backend {
            sea_orm::DbBackend::Postgres => "SELECT COUNT(*) AS n FROM blobs WHERE hash = $1",
            _ => "SELECT COUNT(*) AS n FROM blobs WHERE hash = ?",
        };
        let row = db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, [hash.into()]))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    assert_eq!(blobs, 1);
    // A changed message (another Message-ID) is a new message.
    let other = body.replace("g1@", "g2@");
    let mut w = Wire::connect(smtp_addr(&app)).await;
    assert_eq!(
        code_of(&bdat(&mut w, "x@outside.example", &[&ana], other.as_bytes()).await),
        250
    );
    assert_eq!(inbox(&app, tok, &ana_id).await.len(), 2);
}

#[tokio::test]
async fn replies_join_their_thread_even_before_the_parent() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let send = |mid: &str, extra: &str, subject: &str| {
        format!(
            "From: a@outside.example\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n{extra}\r\nbody\r\n"
        )
    };
    let mut w = Wire::connect(smtp_addr(&app)).await;
    // The reply arrives first, naming its parent.
    let reply = send(
        "r1@x",
        "In-Reply-To: <p1@x>\r\nReferences: <p1@x>\r\n",
        "Re: Plans",
    );
    assert_eq!(
        code_of(&bdat(&mut w, "a@outside.example", &[&ana], reply.as_bytes()).await),
        250
    );
    assert_eq!(w.code("RSET").await, 250);
    let parent = send("p1@x", "", "Plans");
    w.send(b"MAIL FROM:<a@outside.example> BODY=BINARYMIME\r\n")
        .await;
    w.reply().await;
    w.cmd(&format!("RCPT TO:<{ana}>")).await;
    w.send(format!("BDAT {} LAST\r\n", parent.len()).as_bytes())
        .await;
    w.send(parent.as_bytes()).await;
    assert_eq!(code_of(&w.reply().await), 250);
    let unrelated = send("u1@x", "", "Something else");
    w.send(b"MAIL FROM:<a@outside.example> BODY=BINARYMIME\r\n")
        .await;
    w.reply().await;
    w.cmd(&format!("RCPT TO:<{ana}>")).await;
    w.send(format!("BDAT {} LAST\r\n", unrelated.len()).as_bytes())
        .await;
    w.send(unrelated.as_bytes()).await;
    assert_eq!(code_of(&w.reply().await), 250);
    // A later "Re:" without headers joins by subject.
    let by_subject = send("s1@x", "", "RE: plans");
    w.send(b"MAIL FROM:<a@outside.example> BODY=BINARYMIME\r\n")
        .await;
    w.reply().await;
    w.cmd(&format!("RCPT TO:<{ana}>")).await;
    w.send(format!("BDAT {} LAST\r\n", by_subject.len()).as_bytes())
        .await;
    w.send(by_subject.as_bytes()).await;
    assert_eq!(code_of(&w.reply().await), 250);

    let items = inbox(&app, &t.owner_token, &ana_id).await;
    let thread_of =
        |mid: &str| items.iter().find(|m| m["message_id"] == mid).unwrap()["thread_id"].clone();
    assert_eq!(thread_of("r1@x"), thread_of("p1@x"));
    assert_eq!(thread_of("s1@x"), thread_of("p1@x"));
    assert_ne!(thread_of("u1@x"), thread_of("p1@x"));
    // UIDs are 1..=4 in arrival order, newest listed first.
    let uids: Vec<i64> = items.iter().map(|m| m["uid"].as_i64().unwrap()).collect();
    assert_eq!(uids, [4, 3, 2, 1]);
}

#[tokio::test]
async fn malformed_smtp_gets_the_right_replies_and_stores_nothing() {
    let app = TestApp::spawn_with(|c| {
        c.smtp.max_message_bytes = 10_000;
        c.smtp.max_recipients = 3;
    })
    .await;
    let (t, _, domain, ana_id, ana) = receiving(&app).await;
    let mut w = Wire::connect(smtp_addr(&app)).await;
    assert_eq!(
        w.code("MAIL FROM:<a@b.example>").await,
        503,
        "MAIL before EHLO"
    );
    assert_eq!(w.code("EHLO c.test").await, 250);
    assert_eq!(w.code("DATA").await, 503, "DATA without MAIL/RCPT");
    assert_eq!(w.code("MAIL FROM:<a@b.example>").await, 250);
    assert_eq!(w.code("DATA").await, 503, "DATA without RCPT");
    let r = w.cmd(&format!("RCPT TO:<nobody@{domain}>")).await;
    assert!(r.starts_with("550 5.1.1"), "{r}");
    let r = w.cmd("RCPT TO:<x@not-ours.example>").await;
    assert!(r.starts_with("550 5.7.1"), "{r}");
    assert_eq!(w.code(&format!("RCPT TO:<{ana}>")).await, 250);
    // An 8-bit body without BODY=8BITMIME.
    assert_eq!(w.code("DATA").await, 354);
    w.send("Subject: x\r\n\r\ncafé\r\n.\r\n".as_bytes()).await;
    let r = w.reply().await;
    assert!(r.starts_with("554 5.6.0"), "{r}");
    // NUL bytes in a DATA message.
    w.cmd("MAIL FROM:<a@b.example> BODY=8BITMIME").await;
    w.cmd(&format!("RCPT TO:<{ana}>")).await;
    w.cmd("DATA").await;
    w.send(b"Subject: x\r\n\r\na\0b\r\n.\r\n").await;
    assert!(w.reply().await.starts_with("554 5.6.0"));
    // Bare LF . LF does not end the message (no smuggling); only CRLF.CRLF does, and the
    // smuggled "MAIL FROM" stays message content.
    w.cmd("MAIL FROM:<a@b.example>").await;
    w.cmd(&format!("RCPT TO:<{ana}>")).await;
    w.cmd("DATA").await;
    w.send(b"Subject: smuggle\r\n\r\nhi\n.\nMAIL FROM:<evil@x>\r\n.\r\n")
        .await;
    assert_eq!(code_of(&w.reply().await), 250);
    // Too big: read to the end, then 552; nothing stored.
    w.cmd("MAIL FROM:<a@b.example>").await;
    w.cmd(&format!("RCPT TO:<{ana}>")).await;
    w.cmd("DATA").await;
    let big = format!("Subject: big\r\n\r\n{}\r\n.\r\n", "x".repeat(20_000));
    w.send(big.as_bytes()).await;
    assert!(w.reply().await.starts_with("552 5.3.4"));
    assert_eq!(w.code("MAIL FROM:<a@b.example> SIZE=20000").await, 552);
    // Too many recipients.
    w.cmd("MAIL FROM:<a@b.example>").await;
    let (local, dom) = ana.split_once('@').unwrap();
    for i in 0..3 {
        w.cmd(&format!("RCPT TO:<{local}+{i}@{dom}>")).await;
    }
    let r = w.cmd(&format!("RCPT TO:<{local}+9@{dom}>")).await;
    assert!(r.starts_with("452 4.5.3"), "{r}");
    assert_eq!(w.code("RSET").await, 250);
    // An overlong line, then pipelined garbage: each answered in order.
    let long = format!("NOOP {}", "a".repeat(5000));
    w.send(format!("{long}\r\nXYZZY\r\nNOOP\r\n").as_bytes())
        .await;
    assert!(w.reply().await.starts_with("500 5.5.2"));
    assert!(w.reply().await.starts_with("500 5.5.1"));
    assert_eq!(code_of(&w.reply().await), 250);
    assert_eq!(w.code("VRFY ana").await, 252);
    assert_eq!(w.code("QUIT").await, 221);

    let items = inbox(&app, &t.owner_token, &ana_id).await;
    assert_eq!(
        items.len(),
        1,
        "only the smuggling attempt was a whole message"
    );
    let bytes = raw(
        &app,
        &t.owner_token,
        &ana_id,
        items[0]["id"].as_str().unwrap(),
    )
    .await;
    assert!(bytes.ends_with(b"hi\n.\nMAIL FROM:<evil@x>\r\n"));
}

#[tokio::test]
async fn errors_and_connections_are_bounded() {
    let app = TestApp::spawn_with(|c| {
        c.smtp.max_errors = 3;
        c.smtp.max_connections_per_ip = 2;
        c.smtp.command_timeout_secs = 1;
    })
    .await;
    let addr = smtp_addr(&app);
    let mut w = Wire::connect(addr).await;
    w.cmd("BOGUS").await;
    w.cmd("BOGUS").await;
    let r = w.cmd("BOGUS").await;
    assert!(r.starts_with("421 4.7.0"), "{r}");
    assert_eq!(w.reply().await, "", "closed after too many errors");
    let _a = Wire::connect(addr).await;
    let _b = Wire::connect(addr).await;
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = vec![0u8; 200];
    use tokio::io::AsyncReadExt;
    let n = c.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("421 4.7.0"));
    // An idle session is closed after the command time-out.
    let mut idle = _a;
    let r = idle.reply().await;
    assert!(r.starts_with("421 4.4.2"), "{r}");
}

#[tokio::test]
async fn bdat_chunks_pipelining_and_starttls_refusal_of_injection() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let mut w = Wire::connect(smtp_addr(&app)).await;
    let ehlo = w.cmd("EHLO c.test").await;
    for cap in [
        "PIPELINING",
        "8BITMIME",
        "SMTPUTF8",
        "SIZE",
        "ENHANCEDSTATUSCODES",
        "STARTTLS",
        "CHUNKING",
    ] {
        assert!(ehlo.contains(cap), "{cap} in {ehlo}");
    }
    // Pipelined MAIL, RCPT and two BDAT chunks in one write.
    let (a, b) = (
        b"Subject: chunks\r\n\r\nfirst ".as_slice(),
        b"second\r\n".as_slice(),
    );
    let mut out = format!(
        "MAIL FROM:<x@outside.example>\r\nRCPT TO:<{ana}>\r\nBDAT {}\r\n",
        a.len()
    )
    .into_bytes();
    out.extend_from_slice(a);
    out.extend_from_slice(format!("BDAT {} LAST\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"NOOP\r\n");
    w.send(&out).await;
    for want in [250, 250, 250, 250, 250] {
        let r = w.reply().await;
        assert_eq!(code_of(&r), want, "{r}");
    }
    let items = inbox(&app, &t.owner_token, &ana_id).await;
    let bytes = raw(
        &app,
        &t.owner_token,
        &ana_id,
        items[0]["id"].as_str().unwrap(),
    )
    .await;
    assert!(bytes.ends_with(b"Subject: chunks\r\n\r\nfirst second\r\n"));
    // BDAT without a transaction: the chunk is read and dropped, the stream stays in step.
    w.send(b"BDAT 5 LAST\r\nhelloNOOP\r\n").await;
    assert_eq!(code_of(&w.reply().await), 503);
    assert_eq!(code_of(&w.reply().await), 250);
}

#[tokio::test]
async fn messages_are_invisible_to_another_tenant() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let mut w = Wire::connect(smtp_addr(&app)).await;
    assert_eq!(
        code_of(
            &bdat(
                &mut w,
                "x@o.example",
                &[&ana],
                b"Subject: private\r\n\r\nsecret\r\n"
            )
            .await
        ),
        250
    );
    let items = inbox(&app, &t.owner_token, &ana_id).await;
    let mid = items[0]["id"].as_str().unwrap();
    let other = app.tenant().await;
    for path in [
        format!("/v1/mailboxes/{ana_id}/messages"),
        format!("/v1/mailboxes/{ana_id}/messages/{mid}/raw"),
    ] {
        let r = app.get(&path, &other.owner_token).await;
        assert_eq!(r.status, 404, "{path}: {r:?}");
    }
    let r = app
        .http
        .post(format!("{}/v1/mailboxes/{ana_id}/import", app.base))
        .bearer_auth(&other.owner_token)
        .header("content-type", "message/rfc822")
        .body("Subject: planted\r\n\r\nx\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(inbox(&app, &t.owner_token, &ana_id).await.len(), 1);
    // A message id of this tenant under another mailbox of this tenant is not found either.
    let (_, d2, _, bo_id, _) = receiving(&app).await;
    let _ = d2;
    let r = app
        .get(
            &format!("/v1/mailboxes/{bo_id}/messages/{mid}/raw"),
            &t.owner_token,
        )
        .await;
    assert_eq!(r.status, 404);
}

/// Session ids name one session: distinct across many concurrent connections and across a
/// restart, in the `250` reply as in the `Received:` field.
#[tokio::test]
async fn session_ids_are_unique_across_connections_and_restarts() {
    let mut app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let mut ids = std::collections::HashSet::new();
    let mut total = 0;
    for round in 0..2 {
        let addr = smtp_addr(&app);
        let mut replies = Vec::new();
        // 16 at a time: the per-address connection cap is 20.
        for batch in 0..6 {
            replies.extend(
                futures_util::future::join_all((0..16).map(|n| {
                    let ana = ana.clone();
                    async move {
                        let mut w = Wire::connect(addr).await;
                        let body = format!("Subject: id {round}-{batch}-{n}\r\n\r\nx\r\n");
                        bdat(&mut w, "x@outside.example", &[&ana], body.as_bytes()).await
                    }
                }))
                .await,
            );
        }
        for r in replies {
            assert_eq!(code_of(&r), 250, "{r}");
            let id = r.trim().rsplit(' ').next().unwrap().to_string();
            assert_eq!(id.len(), 32, "{r}");
            ids.insert(id);
            total += 1;
        }
        // Restart on the same data.
        let (cfg, dir) = (
            app.cfg.clone(),
            std::mem::replace(&mut app.dir, tempfile::tempdir().unwrap()),
        );
        app.stop().await;
        app = TestApp::boot(cfg, dir).await;
    }
    assert_eq!(ids.len(), total, "repeated session ids");
    // The id of the reply is the one in the stored Received field.
    let items = all_messages(&app, &t.owner_token, &ana_id).await;
    let stored = raw(
        &app,
        &t.owner_token,
        &ana_id,
        items[0]["id"].as_str().unwrap(),
    )
    .await;
    let text = String::from_utf8_lossy(&stored);
    assert!(
        ids.iter().any(|id| text.contains(&format!("id {id}"))),
        "{text}"
    );
}

/// Messages over 256 KiB are spooled to an unnamed file while they arrive (DATA, with
/// dot-stuffed lines, and BDAT in chunks) and come back byte for byte; nothing is left in the
/// spool directory.
#[tokio::test]
async fn large_messages_are_spooled_and_come_back_exactly() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let mut body = b"Subject: big\r\nContent-Type: text/plain\r\n\r\n".to_vec();
    for i in 0..80_000 {
        body.extend_from_slice(
            format!(".line {i:06} of a large message, some dots...\r\n").as_bytes(),
        );
    }
    assert!(body.len() > 3 << 20);
    // DATA: dot-stuff the lines that start with a dot.
    let mut w = Wire::connect(smtp_addr(&app)).await;
    assert_eq!(w.code("EHLO c.test").await, 250);
    assert_eq!(w.code("MAIL FROM:<x@outside.example>").await, 250);
    assert_eq!(w.code(&format!("RCPT TO:<{ana}>")).await, 250);
    assert_eq!(code_of(&w.cmd("DATA").await), 354);
    let mut wire = Vec::new();
    for line in body.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b".") {
            wire.push(b'.');
        }
        wire.extend_from_slice(line);
    }
    wire.extend_from_slice(b".\r\n");
    w.send(&wire).await;
    let r = w.reply().await;
    assert_eq!(code_of(&r), 250, "{r}");
    // BDAT in three chunks (other bytes: the same ones would be taken for a retry).
    let body2 = [b"X-Copy: 2\r\n".as_slice(), &body].concat();
    let mut w = Wire::connect(smtp_addr(&app)).await;
    assert_eq!(w.code("EHLO c.test").await, 250);
    assert_eq!(w.code("MAIL FROM:<x@outside.example>").await, 250);
    assert_eq!(w.code(&format!("RCPT TO:<{ana}>")).await, 250);
    let third = body2.len() / 3;
    for (i, part) in [
        &body2[..third],
        &body2[third..2 * third],
        &body2[2 * third..],
    ]
    .into_iter()
    .enumerate()
    {
        let last = if i == 2 { " LAST" } else { "" };
        w.send(format!("BDAT {}{last}\r\n", part.len()).as_bytes())
            .await;
        w.send(part).await;
        let r = w.reply().await;
        assert_eq!(code_of(&r), 250, "{r}");
    }
    let items = all_messages(&app, &t.owner_token, &ana_id).await;
    assert_eq!(items.len(), 2);
    // Newest first: the BDAT one, then the DATA one.
    for (m, sent) in items.iter().zip([&body2, &body]) {
        let stored = raw(&app, &t.owner_token, &ana_id, m["id"].as_str().unwrap()).await;
        assert!(stored.ends_with(sent), "a large message came back changed");
    }
    let spool = app.dir.path().join("spool");
    let left = std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "files left in {}", spool.display());
}

/// A listener of one mailbox (what an IMAP IDLE will be) hears that mailbox's deliveries, with
/// folder, UID and MODSEQ, and not the other mailboxes' (in process, and through Redis).
#[tokio::test]
async fn a_mailbox_subscription_hears_only_its_own_mailbox() {
    let app = TestApp::spawn().await;
    let (t, d, _, ana_id, ana) = receiving(&app).await;
    let (_, bo) = mailbox(&app, &t.owner_token, &d, "bo").await;
    let ana_uuid: uuid::Uuid = ana_id.parse().unwrap();
    let bus = app.running.as_ref().unwrap().pipeline.bus();
    let mut on_ana = bus.subscribe_mailbox(ana_uuid);
    for rcpt in [&bo, &ana] {
        let mut w = Wire::connect(smtp_addr(&app)).await;
        let reply = bdat(
            &mut w,
            "x@outside.example",
            &[rcpt],
            b"Subject: hi\r\n\r\nhi\r\n",
        )
        .await;
        assert_eq!(code_of(&reply), 250, "{reply}");
    }
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let ev = on_ana.recv().await.unwrap();
            if ev.kind != mailroom_core::bus::RESYNC {
                return ev;
            }
        }
    })
    .await
    .expect("no event for ana");
    assert_eq!(
        first.mailbox_id, ana_uuid,
        "heard another mailbox: {first:?}"
    );
    assert_eq!(
        (first.kind.as_str(), first.uid),
        ("appended", 1),
        "{first:?}"
    );
    assert!(first.modseq > 0 && !first.folder_id.is_nil(), "{first:?}");
}
