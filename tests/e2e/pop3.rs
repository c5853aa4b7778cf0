//! The POP3 server over real sockets: the session of RFC 1939 (STAT, LIST, UIDL, RETR, TOP,
//! DELE, RSET, QUIT), what a deletion does under each `pop3_after_download`, one session per
//! mailbox (`[IN-USE]`), a dropped connection that changes nothing, SASL PLAIN and STLS, bad
//! input, tenant isolation, and sizes and bytes exact for the MIME torture corpus.

use crate::common::*;
use crate::smtp::{bdat, receiving, smtp_addr};
use crate::smtp_wire::Wire;
use base64::Engine;
use serde_json::json;
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub fn pop3_addr(app: &TestApp) -> SocketAddr {
    app.running.as_ref().unwrap().pop3_addr.unwrap()
}

/// A POP3 client on a socket: one line, or a multi-line response undone as a client undoes it.
pub struct Pop3 {
    r: BufReader<tokio::io::ReadHalf<TcpStream>>,
    w: tokio::io::WriteHalf<TcpStream>,
}

impl Pop3 {
    pub async fn connect(addr: SocketAddr) -> (Pop3, String) {
        let s = TcpStream::connect(addr).await.unwrap();
        let (r, w) = tokio::io::split(s);
        let mut c = Pop3 {
            r: BufReader::new(r),
            w,
        };
        let greeting = c.line().await;
        (c, greeting)
    }

    pub async fn login(addr: SocketAddr, user: &str, password: &str) -> Pop3 {
        let (mut c, g) = Pop3::connect(addr).await;
        assert!(g.starts_with("+OK"), "{g}");
        assert!(c.cmd(&format!("USER {user}")).await.starts_with("+OK"));
        let r = c.cmd(&format!("PASS {password}")).await;
        assert!(r.starts_with("+OK maildrop has "), "{r}");
        c
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).await.unwrap();
    }

    /// One response line, without its CRLF ("" at the end of the stream).
    pub async fn line(&mut self) -> String {
        String::from_utf8_lossy(&self.line_bytes().await).into_owned()
    }

    async fn line_bytes(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            self.r.read_until(b'\n', &mut buf),
        )
        .await
        .expect("the server answers")
        .unwrap();
        assert!(buf.is_empty() || buf.ends_with(b"\r\n"), "CRLF: {buf:?}");
        buf.truncate(buf.len().saturating_sub(2));
        buf
    }

    /// A command and its status line.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.line().await
    }

    /// The body of a multi-line response, stuffing undone, each line with CRLF.
    pub async fn body(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let line = self.line_bytes().await;
            if line == b"." {
                return out;
            }
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
            out.extend_from_slice(b"\r\n");
        }
    }

    /// A command with a multi-line answer: its status line and body (empty after `-ERR`).
    pub async fn multi(&mut self, line: &str) -> (String, Vec<u8>) {
        let status = self.cmd(line).await;
        if status.starts_with("+OK") {
            (status, self.body().await)
        } else {
            (status, Vec::new())
        }
    }

    /// Whether the server closed the connection.
    pub async fn closed(&mut self) -> bool {
        let mut b = [0u8; 64];
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(10), self.r.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// Lines of a LIST or UIDL body as (number, value).
fn listing(body: &[u8]) -> Vec<(u32, String)> {
    String::from_utf8_lossy(body)
        .lines()
        .map(|l| {
            let (n, v) = l.split_once(' ').unwrap();
            (n.parse().unwrap(), v.to_string())
        })
        .collect()
}

/// The message as POP3 must send it: every line ending CRLF, a last line given one.
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in raw.split_inclusive(|b| *b == b'\n') {
        let l = line.strip_suffix(b"\n").unwrap_or(line);
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        out.extend_from_slice(l);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `PATCH /v1/mailboxes/{mailbox}` setting `pop3_after_download`, as `token`.
pub async fn after_download(app: &TestApp, token: &str, mailbox: &str, value: &str) -> Resp {
    app.patch(
        &format!("/v1/mailboxes/{mailbox}"),
        token,
        json!({"pop3_after_download": value}),
    )
    .await
}

pub async fn deliver(app: &TestApp, to: &str, subject: &str, body: &str) {
    let msg = format!(
        "From: bea@client.example\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@client.example>\r\n\r\n{body}\r\n",
        rand_suffix()
    );
    let mut w = Wire::connect(smtp_addr(app)).await;
    let r = bdat(&mut w, "bea@client.example", &[to], msg.as_bytes()).await;
    assert!(r.starts_with("250"), "{r}");
}

async fn folder_subjects(
    app: &TestApp,
    token: &str,
    mailbox: &str,
    folder: &str,
) -> Vec<(String, bool)> {
    let r = app
        .get(
            &format!("/v1/mailboxes/{mailbox}/messages?folder={folder}&limit=200"),
            token,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let mut out: Vec<(String, bool)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let seen = m["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "seen"));
            (m["subject"].as_str().unwrap_or("").to_string(), seen)
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_pop3_session_lists_retrieves_and_deletes() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    deliver(&app, &ana, "one", "first body").await;
    deliver(
        &app,
        &ana,
        "two",
        ".a line that starts with a dot\r\n..and two",
    )
    .await;
    deliver(
        &app,
        &ana,
        "three",
        "third body\r\nsecond line\r\nthird line",
    )
    .await;

    let (mut c, greeting) = Pop3::connect(pop3_addr(&app)).await;
    assert!(greeting.starts_with("+OK "), "{greeting}");
    let (status, caps) = c.multi("CAPA").await;
    assert!(status.starts_with("+OK"), "{status}");
    let caps = String::from_utf8(caps).unwrap();
    for want in [
        "TOP",
        "UIDL",
        "USER",
        "SASL PLAIN",
        "RESP-CODES",
        "PIPELINING",
        "STLS",
    ] {
        assert!(caps.lines().any(|l| l == want), "{want} in {caps}");
    }
    // Before login, only login commands.
    assert!(c.cmd("STAT").await.starts_with("-ERR"));
    assert!(c.cmd("PASS x").await.starts_with("-ERR"));
    assert!(c.cmd(&format!("USER {ana}")).await.starts_with("+OK"));
    let r = c.cmd("PASS wrong-password").await;
    assert!(r.starts_with("-ERR [AUTH]"), "{r}");
    assert!(c.cmd(&format!("USER {ana}")).await.starts_with("+OK"));
    let r = c.cmd(&format!("PASS {PASSWORD}")).await;
    assert!(r.starts_with("+OK maildrop has 3 messages"), "{r}");

    // The listing, and sizes that are the octets RETR sends.
    let stat = c.cmd("STAT").await;
    let (status, list) = c.multi("LIST").await;
    assert!(status.starts_with("+OK 3 messages"), "{status}");
    let list = listing(&list);
    assert_eq!(list.iter().map(|l| l.0).collect::<Vec<_>>(), [1, 2, 3]);
    let total: u64 = list.iter().map(|l| l.1.parse::<u64>().unwrap()).sum();
    assert_eq!(stat, format!("+OK 3 {total}"));
    assert_eq!(c.cmd("LIST 2").await, format!("+OK 2 {}", list[1].1));
    assert!(c.cmd("LIST 4").await.starts_with("-ERR"));
    let (_, uidl) = c.multi("UIDL").await;
    let uidl = listing(&uidl);
    assert_eq!(uidl.len(), 3);
    assert!(
        uidl.iter()
            .all(|(_, u)| u.bytes().all(|b| (0x21..=0x7e).contains(&b)))
    );
    let mut ids: Vec<&String> = uidl.iter().map(|u| &u.1).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "unique ids");

    let (status, two) = c.multi("RETR 2").await;
    assert!(status.starts_with("+OK"), "{status}");
    assert_eq!(
        two.len().to_string(),
        list[1].1,
        "LIST size is the octets sent"
    );
    let text = String::from_utf8_lossy(&two);
    assert!(
        text.contains("\r\n.a line that starts with a dot\r\n..and two\r\n"),
        "dots undone as sent: {text}"
    );
    // The bytes are the stored message's.
    let rows = crate::smtp::inbox(&app, &t.owner_token, &ana_id).await;
    let id = rows.iter().find(|m| m["subject"] == "two").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stored = crate::smtp::raw(&app, &t.owner_token, &ana_id, &id).await;
    assert_eq!(two, crlf(&stored));

    // TOP: the header, the blank line, n lines of the body.
    let (status, top) = c.multi("TOP 3 1").await;
    assert!(status.starts_with("+OK"), "{status}");
    let top = String::from_utf8(top).unwrap();
    assert!(
        top.contains("Subject: three\r\n") && top.ends_with("\r\n\r\nthird body\r\n"),
        "{top}"
    );

    // DELE marks; a marked message is gone from the listing until RSET.
    assert_eq!(c.cmd("DELE 1").await, "+OK message 1 deleted");
    assert!(c.cmd("DELE 1").await.starts_with("-ERR"));
    assert!(c.cmd("RETR 1").await.starts_with("-ERR"));
    assert!(c.cmd("STAT").await.starts_with("+OK 2 "));
    assert!(
        c.cmd("RSET")
            .await
            .starts_with("+OK maildrop has 3 messages")
    );
    assert!(c.cmd("STAT").await.starts_with("+OK 3 "));
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));

    // One session per mailbox.
    let (mut d, _) = Pop3::connect(pop3_addr(&app)).await;
    assert!(d.cmd(&format!("USER {ana}")).await.starts_with("+OK"));
    let r = d.cmd(&format!("PASS {PASSWORD}")).await;
    assert!(r.starts_with("-ERR [IN-USE]"), "{r}");

    // QUIT commits. The default keeps downloaded mail in INBOX: marked \Seen, and no longer
    // offered to POP3.
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
    assert!(c.closed().await);
    let inbox = folder_subjects(&app, &t.owner_token, &ana_id, "INBOX").await;
    assert_eq!(
        inbox,
        [
            ("one".to_string(), true),
            ("three".to_string(), false),
            ("two".to_string(), true)
        ]
    );
    let r = d.cmd(&format!("PASS {PASSWORD}")).await;
    assert!(r.starts_with("-ERR"), "USER again first: {r}");
    assert!(d.cmd(&format!("USER {ana}")).await.starts_with("+OK"));
    let r = d.cmd(&format!("PASS {PASSWORD}")).await;
    assert!(r.starts_with("+OK maildrop has 2 messages"), "{r}");
    let (_, uidl2) = d.multi("UIDL").await;
    let uidl2: Vec<String> = listing(&uidl2).into_iter().map(|u| u.1).collect();
    assert_eq!(
        uidl2,
        [uidl[1].1.clone(), uidl[2].1.clone()],
        "UIDLs are stable"
    );
    assert!(d.cmd("QUIT").await.starts_with("+OK"));
}

#[tokio::test]
async fn deletion_follows_the_mailbox_setting_and_a_dropped_connection_changes_nothing() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    for s in ["a", "b", "c"] {
        deliver(&app, &ana, s, "body").await;
    }
    // A connection that ends without QUIT: nothing changes, and the mailbox is free again.
    {
        let mut c = Pop3::login(pop3_addr(&app), &ana, PASSWORD).await;
        assert!(c.multi("RETR 1").await.0.starts_with("+OK"));
        assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    }
    let free = eventually(10, || async {
        let (mut c, _) = Pop3::connect(pop3_addr(&app)).await;
        c.cmd(&format!("USER {ana}")).await;
        let r = c.cmd(&format!("PASS {PASSWORD}")).await;
        let ok = r.starts_with("+OK maildrop has 3 messages");
        if ok {
            // QUIT, so this check's own lease is back before the next login (nothing was
            // retrieved or deleted, so the UPDATE state changes nothing).
            assert!(c.cmd("QUIT").await.starts_with("+OK"));
        }
        ok
    })
    .await;
    assert!(free, "the lease is given back when the connection drops");
    assert!(
        folder_subjects(&app, &t.owner_token, &ana_id, "INBOX")
            .await
            .iter()
            .all(|(_, seen)| !seen),
        "no \\Seen without QUIT"
    );

    // move_to_trash: deleted messages go to Trash.
    let r = after_download(&app, &t.owner_token, &ana_id, "move_to_trash").await;
    assert_eq!(r.status, 200, "{r:?}");
    let mut c = Pop3::login(pop3_addr(&app), &ana, PASSWORD).await;
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    assert!(c.cmd("QUIT").await.starts_with("+OK bye (2 messages left)"));
    assert_eq!(
        folder_subjects(&app, &t.owner_token, &ana_id, "Trash").await,
        [("a".to_string(), false)]
    );

    // delete: gone for good, and the quota gets the bytes back.
    let before = app
        .get(&format!("/v1/mailboxes/{ana_id}"), &t.owner_token)
        .await;
    let r = after_download(&app, &t.owner_token, &ana_id, "delete").await;
    assert_eq!(r.status, 200);
    let mut c = Pop3::login(pop3_addr(&app), &ana, PASSWORD).await;
    assert!(c.multi("RETR 1").await.0.starts_with("+OK"));
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
    assert_eq!(
        folder_subjects(&app, &t.owner_token, &ana_id, "INBOX").await,
        [("c".to_string(), false)]
    );
    assert_eq!(
        folder_subjects(&app, &t.owner_token, &ana_id, "Trash")
            .await
            .len(),
        1
    );
    let after = app
        .get(&format!("/v1/mailboxes/{ana_id}"), &t.owner_token)
        .await;
    assert!(
        after.body["used_bytes"].as_i64().unwrap() < before.body["used_bytes"].as_i64().unwrap(),
        "{before:?} {after:?}"
    );
    // The setting is checked.
    let r = after_download(&app, &t.owner_token, &ana_id, "shred").await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.code(), "validation_failed");
}

#[tokio::test]
async fn sasl_plain_pipelining_and_bad_input() {
    let app = TestApp::spawn_with(|c| c.pop3.max_bad_commands = 5).await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    deliver(&app, &ana, "x", "body").await;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);

    // AUTH PLAIN with an initial response, then with a continuation; `*` cancels.
    let (mut c, _) = Pop3::connect(pop3_addr(&app)).await;
    assert_eq!(c.multi("AUTH").await.1, b"PLAIN\r\n");
    assert!(c.cmd("AUTH CRAM-MD5").await.starts_with("-ERR"));
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    assert!(c.cmd("*").await.starts_with("-ERR"));
    let r = c
        .cmd(&format!("AUTH PLAIN {}", b64(&format!("\0{ana}\0wrong"))))
        .await;
    assert!(r.starts_with("-ERR [AUTH]"), "{r}");
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    let r = c.cmd(&b64(&format!("\0{ana}\0{PASSWORD}"))).await;
    assert!(r.starts_with("+OK maildrop has 1 messages"), "{r}");
    // PIPELINING: commands sent at once are answered in order.
    c.send(b"STAT\r\nLIST 1\r\nUIDL 1\r\nNOOP\r\n").await;
    assert!(c.line().await.starts_with("+OK 1 "));
    assert!(c.line().await.starts_with("+OK 1 "));
    assert!(c.line().await.starts_with("+OK 1 "));
    assert_eq!(c.line().await, "+OK");
    assert!(c.cmd("USER again").await.starts_with("-ERR"));
    assert!(c.cmd("QUIT").await.starts_with("+OK"));

    // Bad input: clear errors, and the connection ends after too many.
    let (mut c, _) = Pop3::connect(pop3_addr(&app)).await;
    let long = format!("USER {}\r\n", "x".repeat(10_000));
    c.send(long.as_bytes()).await;
    assert_eq!(c.line().await, "-ERR line too long");
    assert!(c.cmd("FROB").await.starts_with("-ERR unknown command"));
    assert!(c.cmd("RETR abc").await.starts_with("-ERR"));
    c.send(b"\xff\xfe\r\n").await;
    assert!(c.line().await.starts_with("-ERR"));
    assert!(c.cmd("TOP 1").await.starts_with("-ERR"));
    assert!(c.line().await.contains("too many bad commands"));
    assert!(c.closed().await);
}

#[tokio::test]
async fn require_tls_refuses_passwords_in_the_clear() {
    let app = TestApp::spawn_with(|c| c.pop3.require_tls = true).await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    let (mut c, _) = Pop3::connect(pop3_addr(&app)).await;
    let (_, caps) = c.multi("CAPA").await;
    let caps = String::from_utf8(caps).unwrap();
    assert!(
        caps.lines().any(|l| l == "STLS")
            && !caps.lines().any(|l| l == "USER" || l.starts_with("SASL")),
        "{caps}"
    );
    let r = c.cmd(&format!("USER {ana}")).await;
    assert!(r.starts_with("-ERR [AUTH]") && r.contains("STLS"), "{r}");
    assert!(
        c.cmd("AUTH PLAIN AGFAYgBj")
            .await
            .starts_with("-ERR [AUTH]")
    );
}

#[tokio::test]
async fn pop3_is_confined_to_its_own_mailbox_and_tenant() {
    let app = TestApp::spawn().await;
    let (t1, _, _, ana_id, ana) = receiving(&app).await;
    let (t2, _, _, bob_id, bob) = receiving(&app).await;
    deliver(&app, &ana, "for ana", "secret of ana").await;
    deliver(&app, &bob, "for bob", "secret of bob").await;
    let mut c = Pop3::login(pop3_addr(&app), &bob, PASSWORD).await;
    let (_, list) = c.multi("LIST").await;
    assert_eq!(listing(&list).len(), 1);
    let (_, m) = c.multi("RETR 1").await;
    let m = String::from_utf8_lossy(&m);
    assert!(
        m.contains("secret of bob") && !m.contains("secret of ana"),
        "{m}"
    );
    assert!(c.cmd("DELE 1").await.starts_with("+OK"));
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
    // Bob's session left Ana's mail alone; Ana holds her own lease meanwhile.
    let mut a = Pop3::login(pop3_addr(&app), &ana, PASSWORD).await;
    let (_, m) = a.multi("RETR 1").await;
    assert!(String::from_utf8_lossy(&m).contains("secret of ana"));
    // Another tenant cannot change how Ana's mailbox treats POP3 deletions.
    let r = after_download(&app, &t2.owner_token, &ana_id, "delete").await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = app
        .get(&format!("/v1/mailboxes/{ana_id}"), &t1.owner_token)
        .await;
    assert_eq!(r.body["pop3_after_download"], "keep");
    let r = app
        .get(&format!("/v1/mailboxes/{bob_id}"), &t1.owner_token)
        .await;
    assert_eq!(r.status, 404);
    assert!(a.cmd("QUIT").await.starts_with("+OK"));
}

/// Every message of the MIME torture corpus comes out of RETR as stored, with CRLF line
/// endings and byte-stuffing undone, and LIST gives exactly the octets the client holds then.
#[tokio::test]
async fn the_mime_torture_corpus_is_exact_over_pop3() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let files = mime_torture_corpus();
    let mut expected = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let res = app
            .import(
                &t.owner_token,
                &ana_id,
                "folder=INBOX",
                "message/rfc822",
                bytes.clone(),
            )
            .await;
        assert!(
            res.status().is_success(),
            "{}: {}",
            f.display(),
            res.status()
        );
        expected.push((f, bytes));
    }
    let mut c = Pop3::login(pop3_addr(&app), &ana, PASSWORD).await;
    let (_, list) = c.multi("LIST").await;
    let list = listing(&list);
    assert_eq!(list.len(), files.len());
    for (i, (f, bytes)) in expected.iter().enumerate() {
        let (status, got) = c.multi(&format!("RETR {}", i + 1)).await;
        assert!(status.starts_with("+OK"), "{}: {status}", f.display());
        assert_eq!(
            got.len().to_string(),
            list[i].1,
            "{}: LIST size",
            f.display()
        );
        assert!(
            got == crlf(bytes),
            "{} comes back as stored, CRLF",
            f.display()
        );
    }
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
}

/// A message stored before POP3 sizes were recorded (no `wire_size`) is counted from its
/// bytes: LIST still gives what RETR sends. The message here has bare LF line endings, so the
/// size differs from the stored one.
#[tokio::test]
async fn sizes_of_messages_stored_before_they_were_recorded_are_counted() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let lf = b"From: a@x.example\nSubject: old one\n\n.line one\nline two\n".to_vec();
    let res = app
        .import(
            &t.owner_token,
            &ana_id,
            "folder=INBOX",
            "message/rfc822",
            lf.clone(),
        )
        .await;
    assert!(res.status().is_success());
    let db = sea_orm::Database::connect(app.cfg.effective_database_url())
        .await
        .unwrap();
    use mailroom_core::store::entities::messages;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let r = messages::Entity::update_many()
        .col_expr(
            messages::Column::WireSize,
            sea_orm::sea_query::Expr::value(Option::<i64>::None),
        )
        .filter(messages::Column::MailboxId.eq(ana_id.parse::<uuid::Uuid>().unwrap()))
        .exec(&db)
        .await
        .unwrap();
    assert_eq!(r.rows_affected, 1);
    let mut c = Pop3::login(pop3_addr(&app), &ana, PASSWORD).await;
    let (_, list) = c.multi("LIST").await;
    let (_, got) = c.multi("RETR 1").await;
    assert_eq!(got, crlf(&lf));
    assert_eq!(listing(&list)[0].1, got.len().to_string());
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
}

/// An app password logs in; a suspended mailbox and a tenant owner's account (not a mailbox)
/// do not; POP3S (`pop3.tls_listen`) serves over implicit TLS.
#[tokio::test]
async fn app_passwords_suspension_and_implicit_tls() {
    let app = TestApp::spawn_with(|c| c.pop3.tls_listen = "127.0.0.1:0".into()).await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    deliver(&app, &ana, "over pop3s", "tls body").await;
    let r = app
        .post(
            &format!("/v1/mailboxes/{ana_id}/app-passwords"),
            &t.owner_token,
            json!({"name": "phone"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let app_password = r.body["password"].as_str().unwrap().to_string();
    let mut c = Pop3::login(pop3_addr(&app), &ana, &app_password).await;
    assert!(c.cmd("QUIT").await.starts_with("+OK"));

    let pop3s = app.running.as_ref().unwrap().pop3s_addr.unwrap();
    let work = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new("curl")
        .args([
            "-sSf",
            "-k",
            &format!("pop3s://{pop3s}/1"),
            "--user",
            &format!("{ana}:{PASSWORD}"),
        ])
        .current_dir(work.path())
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("Subject: over pop3s"),
        "{text}"
    );

    let (mut o, _) = Pop3::connect(pop3_addr(&app)).await;
    assert!(
        o.cmd(&format!("USER {}", t.owner_email))
            .await
            .starts_with("+OK")
    );
    let r = o.cmd(&format!("PASS {PASSWORD}")).await;
    assert!(r.starts_with("-ERR [AUTH]"), "{r}");

    let r = app
        .patch(
            &format!("/v1/mailboxes/{ana_id}"),
            &t.owner_token,
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let (mut s, _) = Pop3::connect(pop3_addr(&app)).await;
    assert!(s.cmd(&format!("USER {ana}")).await.starts_with("+OK"));
    let r = s.cmd(&format!("PASS {PASSWORD}")).await;
    assert!(r.starts_with("-ERR [AUTH]"), "{r}");
}

/// The lease is what keeps one session per mailbox across processes: a live one held
/// elsewhere refuses the login with `[IN-USE]`; one whose holder stopped renewing it (a
/// crashed process) has lapsed and is taken over.
#[tokio::test]
async fn a_lapsed_lease_is_taken_over_and_a_live_one_is_not() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let db = sea_orm::Database::connect(app.cfg.effective_database_url())
        .await
        .unwrap();
    use mailroom_core::store::entities::pop3_leases;
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let mailbox: uuid::Uuid = ana_id.parse().unwrap();
    let lease = |secs: i64| pop3_leases::ActiveModel {
        mailbox_id: Set(mailbox),
        tenant_id: Set(t.id.parse().unwrap()),
        holder: Set(uuid::Uuid::new_v4()),
        expires_at: Set(chrono::Utc::now() + chrono::Duration::seconds(secs)),
    };
    // Held by another process, renewed a moment ago.
    pop3_leases::Entity::insert(lease(50))
        .exec(&db)
        .await
        .unwrap();
    let (mut c, _) = Pop3::connect(pop3_addr(&app)).await;
    assert!(c.cmd(&format!("USER {ana}")).await.starts_with("+OK"));
    let r = c.cmd(&format!("PASS {PASSWORD}")).await;
    assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
    // Its holder died: the lease lapsed.
    pop3_leases::Entity::delete_by_id(mailbox)
        .exec(&db)
        .await
        .unwrap();
    pop3_leases::Entity::insert(lease(-5))
        .exec(&db)
        .await
        .unwrap();
    assert!(c.cmd(&format!("USER {ana}")).await.starts_with("+OK"));
    let r = c.cmd(&format!("PASS {PASSWORD}")).await;
    assert!(r.starts_with("+OK maildrop"), "{r}");
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
    // QUIT gave it back.
    assert!(
        pop3_leases::Entity::find_by_id(mailbox)
            .one(&db)
            .await
            .unwrap()
            .is_none()
    );
}

/// Failed POP3 logins count against the same limits as every other login: past them, even the
/// right password is refused for a while (`[SYS/TEMP]`), and nothing says whether the address
/// exists.
#[tokio::test]
async fn failed_logins_are_limited() {
    let app = TestApp::spawn_with(|c| {
        c.auth.login_max_failures_per_account = 3;
        c.pop3.max_bad_commands = 100;
    })
    .await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    let (mut c, _) = Pop3::connect(pop3_addr(&app)).await;
    for _ in 0..3 {
        assert!(c.cmd(&format!("USER {ana}")).await.starts_with("+OK"));
        let r = c.cmd("PASS wrong-password").await;
        assert!(r.starts_with("-ERR [AUTH]"), "{r}");
    }
    assert!(c.cmd(&format!("USER {ana}")).await.starts_with("+OK"));
    let r = c.cmd(&format!("PASS {PASSWORD}")).await;
    assert!(r.starts_with("-ERR [SYS/TEMP]"), "{r}");
    // An address that does not exist gets the same answer as a wrong password.
    assert!(
        c.cmd("USER nobody@nowhere.example")
            .await
            .starts_with("+OK")
    );
    let r = c.cmd("PASS wrong-password").await;
    assert!(r.starts_with("-ERR [AUTH] invalid credentials"), "{r}");
}
