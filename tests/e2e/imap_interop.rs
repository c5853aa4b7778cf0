//! Real IMAP clients from Debian against the IMAP server: isync/mbsync (two-way sync of flags
//! and moves), fetchmail (keep, then delete), getmail6; and the session of a modern client
//! (ID, LIST-STATUS, QRESYNC resync, IDLE hearing mail delivered through another process).

use crate::common::*;
use crate::imap_wire::Imap;
use crate::smtp::{bdat, receiving, smtp_addr};
use crate::smtp_wire::Wire;
use std::path::Path;

fn imap_addr(app: &TestApp) -> std::net::SocketAddr {
    app.running.as_ref().unwrap().imap_addr.unwrap()
}

async fn deliver(app: &TestApp, to: &str, subject: &str) {
    let body = format!(
        "From: bea@client.example\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@client.example>\r\n\r\nbody of {subject}\r\n",
        rand_suffix()
    );
    let mut w = Wire::connect(smtp_addr(app)).await;
    let r = bdat(&mut w, "bea@client.example", &[to], body.as_bytes()).await;
    assert!(r.starts_with("250"), "{r}");
}

/// Files of a maildir folder (`cur` and `new`).
fn maildir(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["cur", "new"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            for e in rd.flatten() {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn mbsync_syncs_both_ways() {
    let app = TestApp::spawn().await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    deliver(&app, &ana, "one").await;
    deliver(&app, &ana, "two").await;
    let work = tempfile::tempdir().unwrap();
    let addr = imap_addr(&app);
    let local = work.path().join("mail");
    std::fs::create_dir_all(&local).unwrap();
    let cfg = format!(
        "IMAPAccount mr\nHost {}\nPort {}\nUser {ana}\nPass \"{PASSWORD}\"\nSSLType None\nAuthMechs PLAIN LOGIN\n\n\
         IMAPStore remote\nAccount mr\n\n\
         MaildirStore local\nPath {}/\nInbox {}/INBOX\nSubFolders Verbatim\n\n\
         Channel sync\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n",
        addr.ip(),
        addr.port(),
        local.display(),
        local.display()
    );
    std::fs::write(work.path().join("mbsyncrc"), cfg).unwrap();
    let rc = work.path().join("mbsyncrc");
    let rc = rc.to_str().unwrap();
    // mbsync (built with zlib) turns on COMPRESS=DEFLATE when it is offered: the whole sync
    // after login runs compressed; its debug output shows the command it sent.
    let log = run_client("mbsync", &["-D", "-c", rc, "-a"], work.path()).await;
    assert!(
        log.lines()
            .any(|l| l.contains(">>> ") && l.ends_with("COMPRESS DEFLATE")),
        "mbsync did not turn compression on:\n{log}"
    );
    let inbox = maildir(&local.join("INBOX"));
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    for f in ["Sent", "Drafts", "Junk", "Trash", "Archive"] {
        assert!(local.join(f).is_dir(), "{f} made locally");
    }

    // Locally: read one (flag S) and move the other into Archive.
    let cur = local.join("INBOX").join("cur");
    std::fs::create_dir_all(&cur).unwrap();
    let mut files: Vec<std::path::PathBuf> = ["cur", "new"]
        .iter()
        .flat_map(|d| std::fs::read_dir(local.join("INBOX").join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let read = &files[0];
    let base = read.file_name().unwrap().to_string_lossy().to_string();
    let stem = base.split(":2,").next().unwrap().to_string();
    std::fs::rename(read, cur.join(format!("{stem}:2,S"))).unwrap();
    let moved = &files[1];
    let archive_cur = local.join("Archive").join("cur");
    std::fs::create_dir_all(&archive_cur).unwrap();
    // A new file name without the UID mbsync keeps in it: a new message for the far side.
    std::fs::rename(moved, archive_cur.join("1.moved.host:2,")).unwrap();
    run_client("mbsync", &["-c", rc, "-a"], work.path()).await;

    let mut c = Imap::login(addr, &ana, PASSWORD).await;
    let r = c.cmd("STATUS INBOX (MESSAGES UNSEEN)").await;
    assert!(r.all().contains("(MESSAGES 1 UNSEEN 0)"), "{r:?}");
    let r = c.cmd("STATUS Archive (MESSAGES)").await;
    assert!(r.all().contains("(MESSAGES 1)"), "{r:?}");

    // On the server: flag the message; the next sync brings the flag down.
    assert!(c.cmd("SELECT INBOX").await.ok());
    assert!(c.cmd("STORE 1 +FLAGS (\\Flagged)").await.ok());
    run_client("mbsync", &["-c", rc, "-a"], work.path()).await;
    let inbox = maildir(&local.join("INBOX"));
    assert!(inbox.len() == 1 && inbox[0].ends_with(":2,FS"), "{inbox:?}");
}

#[tokio::test]
async fn fetchmail_keeps_then_deletes() {
    let app = TestApp::spawn().await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    deliver(&app, &ana, "first").await;
    deliver(&app, &ana, "second").await;
    let work = tempfile::tempdir().unwrap();
    let addr = imap_addr(&app);
    let out = work.path().join("out.mbox");
    let rc = |keep: &str| {
        format!(
            // Over STARTTLS (the server's certificate is self-signed: not checked).
            "set no syslog\npoll {} service {} protocol IMAP user \"{ana}\" password \"{PASSWORD}\" is root here {keep} fetchall sslproto TLS1.2+ no sslcertck mda \"/bin/sh -c 'cat >> {}'\"\n",
            addr.ip(),
            addr.port(),
            out.display()
        )
    };
    let rcfile = work.path().join("fetchmailrc");
    use std::os::unix::fs::PermissionsExt;
    for (keep, left) in [("keep", 2), ("nokeep", 0)] {
        std::fs::write(&rcfile, rc(keep)).unwrap();
        std::fs::set_permissions(&rcfile, std::fs::Permissions::from_mode(0o600)).unwrap();
        run_client(
            "fetchmail",
            &["-f", rcfile.to_str().unwrap(), "--nodetach", "--silent"],
            work.path(),
        )
        .await;
        let got = std::fs::read_to_string(&out).unwrap();
        assert!(
            got.contains("Subject: first") && got.contains("Subject: second"),
            "{got}"
        );
        let mut c = Imap::login(addr, &ana, PASSWORD).await;
        let r = c.cmd("STATUS INBOX (MESSAGES)").await;
        assert!(
            r.all().contains(&format!("(MESSAGES {left})")),
            "{keep}: {r:?}"
        );
    }
}

#[tokio::test]
async fn getmail_retrieves_into_an_mbox() {
    let app = TestApp::spawn().await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    deliver(&app, &ana, "for getmail").await;
    let work = tempfile::tempdir().unwrap();
    let addr = imap_addr(&app);
    let mbox = work.path().join("inbox.mbox");
    std::fs::write(&mbox, "").unwrap();
    let rc = format!(
        "[retriever]\ntype = SimpleIMAPRetriever\nserver = {}\nport = {}\nusername = {ana}\npassword = {PASSWORD}\nmailboxes = (\"INBOX\",)\n\n\
         [destination]\ntype = MDA_external\npath = /bin/sh\narguments = (\"-c\", \"cat >> {}\")\nallow_root_commands = true\n\n\
         [options]\nread_all = true\ndelete = false\n",
        addr.ip(),
        addr.port(),
        mbox.display()
    );
    std::fs::write(work.path().join("getmailrc"), rc).unwrap();
    run_client(
        "getmail",
        &[
            "--rcfile",
            work.path().join("getmailrc").to_str().unwrap(),
            "--getmaildir",
            work.path().to_str().unwrap(),
        ],
        work.path(),
    )
    .await;
    let got = std::fs::read_to_string(&mbox).unwrap();
    assert!(got.contains("Subject: for getmail"), "{got}");
}

/// What a modern client does on reconnect: CAPABILITY, ID, LIST-STATUS, ENABLE QRESYNC,
/// SELECT with QRESYNC, `UID FETCH 1:* (FLAGS) (CHANGEDSINCE n VANISHED)`, then IDLE that
/// hears of mail delivered through another worker process on the same database.
#[tokio::test]
async fn a_modern_client_resyncs_and_idles() {
    let app = TestApp::spawn_isolated_with(|_| {}).await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    deliver(&app, &ana, "old one").await;
    deliver(&app, &ana, "old two").await;
    let addr = imap_addr(&app);

    // The first session remembers UIDVALIDITY and HIGHESTMODSEQ.
    let mut c = Imap::login(addr, &ana, PASSWORD).await;
    assert!(c.cmd("ENABLE QRESYNC").await.ok());
    let r = c.cmd("SELECT INBOX").await;
    let code = |r: &crate::imap_wire::Resp, name: &str| -> u64 {
        r.all()
            .split(&format!("[{name} "))
            .nth(1)
            .and_then(|s| s.split(']').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {r:?}"))
    };
    let (validity, modseq) = (code(&r, "UIDVALIDITY"), code(&r, "HIGHESTMODSEQ"));
    // While it is away: one message flagged, one deleted, one arrives.
    assert!(c.cmd("UID STORE 1 +FLAGS (\\Flagged)").await.ok());
    assert!(c.cmd("UID STORE 2 +FLAGS (\\Deleted)").await.ok());
    assert!(c.cmd("EXPUNGE").await.ok());
    assert!(c.cmd("LOGOUT").await.ok());
    deliver(&app, &ana, "new one").await;

    let (mut c, greeting) = Imap::connect(addr).await;
    assert!(greeting.contains("IMAP4rev1"), "{greeting}");
    let r = c.cmd("CAPABILITY").await;
    assert!(r.ok() && r.all().contains("QRESYNC"), "{r:?}");
    assert!(c.cmd(&format!("LOGIN {ana} \"{PASSWORD}\"")).await.ok());
    let r = c
        .cmd("ID (\"name\" \"test-client\" \"version\" \"1\")")
        .await;
    assert!(r.ok() && r.untagged("ID ").len() == 1, "{r:?}");
    let r = c
        .cmd("LIST \"\" \"*\" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN UIDNEXT))")
        .await;
    assert!(
        r.all()
            .contains("* STATUS \"INBOX\" (MESSAGES 2 UNSEEN 2 UIDNEXT 4)"),
        "{r:?}"
    );
    assert!(r.all().contains("\\Trash) \"/\" \"Trash\""), "{r:?}");
    assert!(c.cmd("ENABLE QRESYNC").await.ok());
    let r = c
        .cmd(&format!("SELECT INBOX (QRESYNC ({validity} {modseq}))"))
        .await;
    assert!(r.ok(), "{r:?}");
    assert!(r.all().contains("* VANISHED (EARLIER) 2\r\n"), "{r:?}");
    assert!(r.all().contains("FLAGS (\\Flagged)"), "{r:?}");
    let r = c
        .cmd(&format!(
            "UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)"
        ))
        .await;
    assert!(r.ok(), "{r:?}");
    assert!(r.all().contains("* VANISHED (EARLIER) 2\r\n"), "{r:?}");
    assert!(r.all().contains("UID 3 "), "the new message: {r:?}");

    // IDLE hears of a message delivered over SMTP: on Postgres + Redis through another
    // process (a second Mailroom on the same database and Redis, with its own SMTP server);
    // on the embedded default (one process by design) through this one.
    c.send(b"idle IDLE\r\n").await;
    assert!(c.line().await.starts_with("+ "));
    let other_dir = tempfile::tempdir().unwrap();
    let other = if is_postgres() {
        let mut cfg = app.cfg.clone();
        cfg.data_dir = other_dir.path().to_path_buf();
        let store = mailroom::open_store(&cfg, false).await.unwrap();
        let parts = mailroom::Parts {
            api: false,
            jobs: false,
            smtp: true,
            imap: false,
        };
        Some(mailroom::start(cfg, store, parts, None).await.unwrap())
    } else {
        None
    };
    let via = other
        .as_ref()
        .map_or(smtp_addr(&app), |o| o.smtp_addr.unwrap());
    let mut w = Wire::connect(via).await;
    let r = bdat(
        &mut w,
        "bea@client.example",
        &[&ana],
        b"Subject: from elsewhere\r\n\r\nhi\r\n",
    )
    .await;
    assert!(r.starts_with("250"), "{r}");
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), c.line())
        .await
        .expect("IDLE heard of the delivery");
    assert_eq!(heard, "* 3 EXISTS\r\n");
    c.send(b"DONE\r\n").await;
    assert!(c.until("idle").await.ok());
    if let Some(o) = other {
        o.stop().await;
    }
}

/// Every message of the MIME torture corpus, APPENDed over IMAP, comes back from `BODY[]`
/// byte for byte, `RFC822.SIZE` is the octets sent, and ENVELOPE and BODYSTRUCTURE answer.
#[tokio::test]
async fn the_mime_torture_corpus_round_trips_over_imap() {
    let app = TestApp::spawn().await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    let mut c = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    assert!(c.cmd("SELECT INBOX").await.ok());
    let files = mime_torture_corpus();
    for (i, f) in files.iter().enumerate() {
        let bytes = std::fs::read(f).unwrap();
        let tag = format!("ap{i}");
        c.send(format!("{tag} APPEND INBOX {{{}+}}\r\n", bytes.len()).as_bytes())
            .await;
        c.send(&bytes).await;
        c.send(b"\r\n").await;
        let r = c.until(&tag).await;
        assert!(r.ok(), "{}: {r:?}", f.display());
        let uid = i + 1;
        let tag = format!("f{i}");
        c.send(format!("{tag} UID FETCH {uid} (RFC822.SIZE BODY.PEEK[])\r\n").as_bytes())
            .await;
        let line = c.line_bytes().await;
        let head = format!(
            "* {uid} FETCH (UID {uid} RFC822.SIZE {} BODY[] {{{}}}\r\n",
            bytes.len(),
            bytes.len()
        );
        assert!(
            line.starts_with(head.as_bytes()),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&line[..line.len().min(200)])
        );
        assert_eq!(
            &line[head.len()..head.len() + bytes.len()],
            &bytes[..],
            "{} comes back byte for byte",
            f.display()
        );
        assert!(c.until(&tag).await.ok());
        let r = c
            .cmd(&format!("UID FETCH {uid} (ENVELOPE BODYSTRUCTURE)"))
            .await;
        assert!(
            r.ok() && r.all().contains("ENVELOPE (") && r.all().contains("BODYSTRUCTURE ("),
            "{}: {r:?}",
            f.display()
        );
    }
}
