//! Crash test: the real `mailroom serve` binary takes a stream of deliveries from many
//! connections and is killed (SIGKILL) at random moments, then restarted, several times. Every
//! message that got a `250` must be stored exactly once; no message is ever stored twice.

use crate::common::*;
use crate::smtp::{all_messages, receiving};
use crate::smtp_wire::code_of;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn start(app: &TestApp, port: u16) -> std::process::Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mailroom"));
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MAILROOM_DATA_DIR", app.dir.path())
        .env("MAILROOM_DATABASE_URL", &app.cfg.database_url)
        .env("MAILROOM_API_LISTEN", "127.0.0.1:0")
        .env("MAILROOM_SMTP_LISTEN", format!("127.0.0.1:{port}"))
        .env("MAILROOM_IMAP_LISTEN", "127.0.0.1:0")
        .env("MAILROOM_POP3_LISTEN", "127.0.0.1:0")
        .env("MAILROOM_SUBMISSION_LISTEN", "127.0.0.1:0")
        .env("MAILROOM_SMTP_AUTHENTICATE", "false")
        .env("MAILROOM_JOBS_ENABLED", "false")
        .env("MAILROOM_PUBLIC_HOSTNAME", "mx.crash.test")
        .env("MAILROOM_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(log(app));
    cmd.spawn().unwrap()
}

/// The servers' log (appended to by every round), read when the test fails.
fn log(app: &TestApp) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(app.dir.path().join("crash-test.log"))
        .unwrap()
}

/// One delivery over a fresh connection: `Some(Some(reply))` when the server answered 250 to
/// the message (the reply names the session), `Some(None)` for any other answer.
async fn deliver(port: u16, rcpt: &str, n: usize) -> Option<Option<String>> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let body = format!(
        "From: c@outside.example\r\nSubject: crash {n}\r\nMessage-ID: <crash-{n}@outside.example>\r\n\r\n{}\r\n",
        "x".repeat(2000)
    );
    let script = format!(
        "EHLO c.test\r\nMAIL FROM:<c@outside.example>\r\nRCPT TO:<{rcpt}>\r\nBDAT {} LAST\r\n{body}QUIT\r\n",
        body.len()
    );
    s.write_all(script.as_bytes()).await.ok()?;
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut all)).await;
    let text = String::from_utf8_lossy(&all);
    // Replies: greeting, EHLO (multi-line), MAIL, RCPT, BDAT, QUIT.
    let finals: Vec<&str> = text
        .lines()
        .filter(|l| l.len() >= 4 && l.as_bytes()[3] == b' ')
        .collect();
    Some(
        finals
            .get(4)
            .filter(|l| code_of(l) == 250)
            .map(|l| l.to_string()),
    )
}

/// How many messages with Message-ID `<id>` the mailbox lists, oldest first.
async fn oldest_first_count(app: &TestApp, token: &str, mailbox: &str, id: &str) -> usize {
    let (mut n, mut cursor) = (0, String::new());
    loop {
        let r = app
            .get(
                &format!("/v1/mailboxes/{mailbox}/messages?limit=200&sort=oldest{cursor}"),
                token,
            )
            .await;
        let items = r.body["items"].as_array().cloned().unwrap_or_default();
        n += items.iter().filter(|m| m["message_id"] == id).count();
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return n,
        }
    }
}

#[tokio::test]
async fn every_acknowledged_message_survives_kills_exactly_once() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let acked: Arc<Mutex<HashMap<usize, String>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut seed = u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap());
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for round in 0..5 {
        let port = crate::dns::free_port();
        let mut child = start(&app, port);
        let up = eventually(30, || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(up, "round {round}: server did not start");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut clients = Vec::new();
        for _ in 0..8 {
            let (acked, next, stop, rcpt) =
                (acked.clone(), next.clone(), stop.clone(), ana.clone());
            clients.push(tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    match deliver(port, &rcpt, n).await {
                        Some(Some(reply)) => {
                            acked
                                .lock()
                                .unwrap()
                                .insert(n, format!("round {round}: {reply}"));
                        }
                        Some(None) => {}
                        None => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300 + rand(1500))).await;
        child.kill().unwrap();
        child.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "too few deliveries to mean anything: {}",
        acked.len()
    );
    // Read what is stored, through the API of the test app (same database).
    let mut counts: HashMap<String, usize> = HashMap::new();
    for m in all_messages(&app, &t.owner_token, &ana_id).await {
        *counts
            .entry(m["message_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for (n, reply) in &acked {
        let id = format!("crash-{n}@outside.example");
        if counts.get(&id) != Some(&1) {
            // What the server said about that session, for whoever debugs this.
            let session = reply.rsplit(' ').next().unwrap_or_default();
            let log =
                std::fs::read_to_string(app.dir.path().join("crash-test.log")).unwrap_or_default();
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| l.contains(session) || l.contains("WARN") || l.contains("ERROR"))
                .collect();
            // Listed the other way round (oldest first, other page boundaries): tells a
            // message that is stored but was skipped by the listing from one that is lost.
            let oldest_first = oldest_first_count(&app, &t.owner_token, &ana_id, &id).await;
            panic!(
                "{id} was acknowledged ({reply}) but is stored {:?} times \
                 ({oldest_first} times when listed oldest first); server log:\n{}",
                counts.get(&id),
                lines.join("\n")
            );
        }
    }
    assert!(counts.values().all(|c| *c == 1), "a message stored twice");
    eprintln!(
        "crash test: {} acknowledged, {} stored, {} attempted",
        acked.len(),
        counts.len(),
        next.load(std::sync::atomic::Ordering::Relaxed)
    );
}
