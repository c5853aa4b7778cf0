//! Faults of the storage under the server: a full disk while mail streams in. Every message
//! answered `250` is stored, exactly once; every other answer is a 4xx and stores nothing;
//! `/readyz` says not ready while writes fail; writing resumes by itself once space is back.
//!
//! SQLite: the data directory is a small tmpfs. Postgres: the test database lives in a
//! tablespace on a small tmpfs. Both need root (mount, and a directory owned by postgres).

use crate::common::*;
use crate::smtp::{all_messages, receiving, smtp_addr};
use crate::smtp_wire::code_of;
use reqwest::Method;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A tmpfs mounted on a fresh directory, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size_mib: u32) -> Tmpfs {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m,mode=0777")])
            .arg("tmpfs")
            .arg(dir)
            .output()
            .expect("mount(8)");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }
}

/// Fills the filesystem of `dir` with a file until nothing is left; returns the file.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    for size in [1 << 20, 4096, 512, 1] {
        let chunk = vec![0u8; size];
        while f.write_all(&chunk).is_ok() {}
    }
    let _ = f.sync_all();
    path
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// One message over a fresh connection: its final reply (code and text), or `None` when the
/// connection broke before it.
async fn deliver(addr: std::net::SocketAddr, rcpt: &str, n: usize) -> Option<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let body = format!(
        "From: f@outside.example\r\nSubject: fault {n}\r\nMessage-ID: <fault-{n}@outside.example>\r\n\r\n{}\r\n",
        format!("{n:08} ").repeat(8000)
    );
    let script = format!(
        "EHLO c.test\r\nMAIL FROM:<f@outside.example>\r\nRCPT TO:<{rcpt}>\r\nBDAT {} LAST\r\n{body}QUIT\r\n",
        body.len()
    );
    s.write_all(script.as_bytes()).await.ok()?;
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut all)).await;
    let text = String::from_utf8_lossy(&all).into_owned();
    // Replies: greeting, EHLO (multi-line), MAIL, RCPT, BDAT, QUIT. The outcome is the first
    // refusal among MAIL, RCPT and BDAT (a full disk may be noticed at MAIL), else BDAT's.
    let finals: Vec<&str> = text
        .lines()
        .filter(|l| l.len() >= 4 && l.as_bytes()[3] == b' ')
        .collect();
    let outcome = finals
        .get(2..5)?
        .iter()
        .find(|l| code_of(l) != 250)
        .or(finals.get(4))?;
    Some((code_of(outcome), outcome.to_string()))
}

/// Sends messages `range` from 4 connections at a time; returns each one's final reply.
async fn stream(
    addr: std::net::SocketAddr,
    rcpt: &str,
    range: std::ops::Range<usize>,
) -> HashMap<usize, Option<(u16, String)>> {
    let mut out = HashMap::new();
    let ids: Vec<usize> = range.collect();
    for chunk in ids.chunks(4) {
        let replies = futures_util::future::join_all(
            chunk
                .iter()
                .map(|n| async move { (*n, deliver(addr, rcpt, *n).await) }),
        )
        .await;
        out.extend(replies);
    }
    out
}

/// Postgres: a database of its own in a tablespace on a tmpfs. Dropped (database, then
/// tablespace) before the tmpfs is unmounted, also when the test fails: a tablespace whose
/// files vanish under a running server leaves dirty buffers no backend can write, which breaks
/// the whole server. If the drop fails, the tmpfs stays mounted.
struct PgOnTmpfs {
    name: String,
    url: String,
    tmpfs: Option<Tmpfs>,
}

impl PgOnTmpfs {
    async fn create(tmpfs: Tmpfs) -> PgOnTmpfs {
        use sea_orm::ConnectionTrait;
        let shared = std::env::var("MAILROOM_TEST_DATABASE_URL").unwrap();
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&tmpfs.0)
            .status()
            .unwrap();
        assert!(status.success());
        let name = format!("mailroom_test_full_{}", rand_suffix());
        let admin = sea_orm::Database::connect(&shared).await.unwrap();
        admin
            .execute_unprepared(&format!(
                "CREATE TABLESPACE {name} LOCATION '{}'",
                tmpfs.0.display()
            ))
            .await
            .unwrap();
        let mut guard = PgOnTmpfs {
            name: name.clone(),
            url: String::new(),
            tmpfs: Some(tmpfs),
        };
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name} TABLESPACE {name}"))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let (base, query) = shared.split_once('?').unwrap_or((&shared, ""));
        let server = base.rsplit_once('/').unwrap().0;
        guard.url = if query.is_empty() {
            format!("{server}/{name}")
        } else {
            format!("{server}/{name}?{query}")
        };
        guard
    }
}

impl Drop for PgOnTmpfs {
    fn drop(&mut self) {
        // Blocking on purpose: on the test's runtime thread, the app's tasks cannot reconnect
        // while the database is dropped.
        let shared = std::env::var("MAILROOM_TEST_DATABASE_URL").unwrap_or_default();
        let sql = |q: String| {
            Command::new("psql")
                .args([shared.as_str(), "-v", "ON_ERROR_STOP=1", "-qc", &q])
                .status()
                .is_ok_and(|s| s.success())
        };
        let dropped = sql(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )) && sql(format!("DROP TABLESPACE IF EXISTS {}", self.name));
        if !dropped {
            eprintln!("could not drop {}: leaving its tmpfs mounted", self.name);
            std::mem::forget(self.tmpfs.take());
        }
    }
}

#[tokio::test]
async fn a_full_disk_loses_no_acknowledged_mail_and_writing_resumes() {
    let mount_dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(mount_dir.path(), 48);
    // The data directory must keep 1 MiB free (the disk check); on Postgres the tablespace
    // fills while the data directory has room, so the failing writes themselves are seen.
    let (pg, _fs, app) = if is_postgres() {
        let db = PgOnTmpfs::create(fs).await;
        let url = db.url.clone();
        let app = TestApp::spawn_with(|c| {
            c.database_url = url;
            c.storage.min_free_bytes = 1 << 20;
        })
        .await;
        (Some(db), None, app)
    } else {
        let mut cfg = test_config(mount_dir.path());
        cfg.storage.min_free_bytes = 1 << 20;
        let app = TestApp::boot(cfg, tempfile::tempdir().unwrap()).await;
        (None, Some(fs), app)
    };
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let addr = smtp_addr(&app);

    // Space for a while, then none.
    let before = stream(addr, &ana, 0..8).await;
    assert!(
        before
            .values()
            .all(|r| r.as_ref().is_some_and(|(c, _)| *c == 250)),
        "{before:?}"
    );
    let filler = fill(mount_dir.path());
    let full = stream(addr, &ana, 8..40).await;
    let mut refused = 0;
    for (n, r) in &full {
        let (code, line) = r
            .as_ref()
            .unwrap_or_else(|| panic!("message {n}: connection broke"));
        match code {
            250 => {}
            452 => {
                assert!(line.contains("4.3.1"), "{line}");
                refused += 1;
            }
            451 => assert!(line.contains("4.3.0"), "{line}"),
            _ => panic!("message {n}: {line}"),
        }
    }
    assert!(refused > 0, "nothing was refused on a full disk: {full:?}");
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, 503, "ready while writes fail: {ready:?}");
    assert!(
        matches!(
            ready.body["code"].as_str(),
            Some("writes_failing" | "disk_low")
        ),
        "{ready:?}"
    );
    // REST writes fail cleanly too, and reads go on.
    let list = app
        .get(&format!("/v1/mailboxes/{ana_id}/folders"), &t.owner_token)
        .await;
    assert_eq!(list.status, 200, "{list:?}");

    // Space again: writes resume by themselves, no restart.
    std::fs::remove_file(&filler).unwrap();
    assert!(
        eventually(30, || async {
            app.call(Method::GET, "/readyz", None, None).await.status == 200
        })
        .await,
        "not ready again after space came back"
    );
    let after = stream(addr, &ana, 40..48).await;
    assert!(
        after
            .values()
            .all(|r| r.as_ref().is_some_and(|(c, _)| *c == 250)),
        "{after:?}"
    );

    // Every 250 stored exactly once; nothing refused was stored.
    let acked: Vec<usize> = before
        .iter()
        .chain(&full)
        .chain(&after)
        .filter(|(_, r)| r.as_ref().is_some_and(|(c, _)| *c == 250))
        .map(|(n, _)| *n)
        .collect();
    let stored = all_messages(&app, &t.owner_token, &ana_id).await;
    let mut stored_ids: Vec<usize> = stored
        .iter()
        .map(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .trim_start_matches("fault ")
                .parse()
                .unwrap()
        })
        .collect();
    stored_ids.sort();
    let mut acked_sorted = acked.clone();
    acked_sorted.sort();
    eprintln!(
        "disk full: {} sent, {} acknowledged, {} refused with 452, {} stored",
        48,
        acked.len(),
        refused,
        stored_ids.len()
    );
    assert_eq!(stored_ids, acked_sorted, "stored differs from acknowledged");
    let mut app = app;
    app.stop().await;
    drop(pg);
}

/// Below `storage.min_free_bytes` the MX refuses mail at MAIL FROM, before the data is sent,
/// and `/readyz` names the disk; REST reads go on.
#[tokio::test]
async fn too_little_free_space_refuses_mail_before_the_data() {
    let app = TestApp::spawn_with(|c| c.storage.min_free_bytes = u64::MAX / 4).await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    assert!(
        eventually(10, || async {
            app.call(Method::GET, "/readyz", None, None).await.status == 503
        })
        .await
    );
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.body["code"], "disk_low", "{ready:?}");
    assert_eq!(ready.body["checks"]["disk"]["status"], "down", "{ready:?}");
    assert!(
        ready.body["checks"]["disk"]["error"]
            .as_str()
            .unwrap()
            .contains("storage.min_free_bytes")
    );
    let mut w = crate::smtp_wire::Wire::connect(smtp_addr(&app)).await;
    assert_eq!(w.code("EHLO c.test").await, 250);
    let mail = w.cmd("MAIL FROM:<x@outside.example>").await;
    assert!(mail.starts_with("452 4.3.1"), "{mail}");
    let r = app
        .get(&format!("/v1/mailboxes/{ana_id}/folders"), &t.owner_token)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    drop(ana);
}

/// A TCP relay in front of Postgres that, once armed, lets the next `COMMIT` of a transaction
/// that inserted messages reach the server and then cuts the connection before the reply
/// comes back: the commit happens, and the client cannot know.
struct CommitCutter {
    addr: std::net::SocketAddr,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cuts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl CommitCutter {
    async fn start(upstream: std::net::SocketAddr) -> CommitCutter {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let armed = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(AtomicUsize::new(0));
        let (a, c) = (armed.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (armed, cuts) = (a.clone(), c.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let down = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    // Frontend messages are read whole: the start-up packet (no type byte),
                    // then type, length, body. Prepared statements that insert messages are
                    // remembered by name, as later executions only name them.
                    let mut pending: Vec<u8> = Vec::new();
                    let mut started = false;
                    let mut inserting: HashSet<Vec<u8>> = HashSet::new();
                    let mut inserted = false;
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        pending.extend_from_slice(&buf[..n]);
                        let mut cut = false;
                        loop {
                            let at = usize::from(started);
                            let Some(len) = pending.get(at..at + 4) else {
                                break;
                            };
                            let end = at + u32::from_be_bytes(len.try_into().unwrap()) as usize;
                            if pending.len() < end {
                                break;
                            }
                            let msg: Vec<u8> = pending.drain(..end).collect();
                            if !started {
                                started = true;
                                continue;
                            }
                            let cstrs: Vec<&[u8]> = msg[5..].split(|b| *b == 0).collect();
                            match msg[0] {
                                b'P' if cstrs.len() > 1
                                    && cstrs[1].starts_with(b"INSERT INTO \"messages\"") =>
                                {
                                    inserting.insert(cstrs[0].to_vec());
                                    inserted = true;
                                }
                                b'B' if cstrs.len() > 1 && inserting.contains(cstrs[1]) => {
                                    inserted = true;
                                }
                                b'Q' if cstrs.first() == Some(&&b"COMMIT"[..]) => {
                                    cut |= inserted && armed.swap(false, Ordering::SeqCst);
                                    inserted = false;
                                }
                                _ => {}
                            }
                        }
                        if cut {
                            // No reply reaches the client from now on; the server gets the
                            // COMMIT and time to carry it out; then the link is gone.
                            cuts.fetch_add(1, Ordering::SeqCst);
                            down.abort();
                            let _ = sw.write_all(&buf[..n]).await;
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            return;
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    down.abort();
                });
            }
        });
        CommitCutter { addr, armed, cuts }
    }
}

/// The connection to Postgres breaks after `COMMIT` was sent and before its reply came: the
/// server finds out whether the transaction committed before it answers. It did, so the
/// sender gets `250` (not a `451` that would make it send the message again), and the
/// message is stored once.
#[tokio::test]
async fn a_commit_whose_reply_is_lost_is_found_out_before_answering() {
    use std::sync::atomic::Ordering;
    if !is_postgres() {
        eprintln!("Postgres only: SQLite commits in process, its outcome is always known");
        return;
    }
    let shared = std::env::var("MAILROOM_TEST_DATABASE_URL").unwrap();
    let opts: sea_orm::sqlx::postgres::PgConnectOptions = shared.parse().unwrap();
    let upstream = tokio::net::lookup_host((opts.get_host(), opts.get_port()))
        .await
        .unwrap()
        .next()
        .unwrap();
    let cutter = CommitCutter::start(upstream).await;
    let app = TestApp::spawn_isolated_with(|c| {
        // The same database, through the relay, in clear (the relay reads statements).
        let (base, _) = c
            .database_url
            .split_once('?')
            .unwrap_or((&c.database_url, ""));
        let name = base.rsplit_once('/').unwrap().1.to_string();
        c.database_url = format!(
            "postgres://{}@{}/{name}?sslmode=disable",
            opts.get_username(),
            cutter.addr
        );
    })
    .await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let addr = smtp_addr(&app);

    cutter.armed.store(true, Ordering::SeqCst);
    let reply = deliver(addr, &ana, 1).await;
    assert_eq!(cutter.cuts.load(Ordering::SeqCst), 1, "no commit was cut");
    let (code, line) = reply.expect("the SMTP connection broke");
    let stored = all_messages(&app, &t.owner_token, &ana_id).await;
    assert_eq!(stored.len(), 1, "the message was not committed: {line}");
    assert_eq!(code, 250, "committed, yet answered: {line}");

    // A sender that retries anyway (it saw the connection drop) still finds one copy.
    assert_eq!(deliver(addr, &ana, 1).await.map(|r| r.0), Some(250));
    assert_eq!(all_messages(&app, &t.owner_token, &ana_id).await.len(), 1);
}
