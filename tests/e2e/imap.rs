//! The IMAP server over real sockets: reading, flags, search, copy, move, expunge, append, IDLE,
//! login rules and tenant isolation, bad input; and Python's imaplib as a real client.

use crate::common::*;
use crate::imap_wire::Imap;
use crate::smtp::{bdat, receiving, smtp_addr};
use crate::smtp_wire::Wire;
use serde_json::json;

fn imap_addr(app: &TestApp) -> std::net::SocketAddr {
    app.running.as_ref().unwrap().imap_addr.unwrap()
}

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Bea Example <bea@client.example>\r\nTo: ana@example.com\r\nSubject: {subject}\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{}@client.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        rand_suffix()
    )
    .into_bytes()
}

async fn deliver(app: &TestApp, to: &str, subject: &str, body: &str) {
    let mut w = Wire::connect(smtp_addr(app)).await;
    let r = bdat(&mut w, "bea@client.example", &[to], &message(subject, body)).await;
    assert!(r.starts_with("250"), "{r}");
}

#[tokio::test]
async fn a_mailbox_reads_flags_searches_copies_moves_and_expunges() {
    let app = TestApp::spawn().await;
    let (_t, _, _, _ana_id, ana) = receiving(&app).await;
    deliver(&app, &ana, "First note", "alpha words").await;
    deliver(&app, &ana, "Second note", "beta words").await;

    let (mut c, greeting) = Imap::connect(imap_addr(&app)).await;
    assert!(
        greeting.starts_with("* OK [CAPABILITY IMAP4rev1 ") && greeting.contains("AUTH=PLAIN"),
        "{greeting}"
    );
    let r = c.cmd(&format!("LOGIN {ana} wrong-password")).await;
    assert!(r.last_line().contains("NO [AUTHENTICATIONFAILED]"), "{r:?}");
    let r = c.cmd(&format!("LOGIN {ana} \"{PASSWORD}\"")).await;
    assert!(r.ok() && r.last_line().contains("[CAPABILITY "), "{r:?}");

    let r = c.cmd("LIST \"\" \"*\"").await;
    assert!(r.ok(), "{r:?}");
    let all = r.all();
    for want in [
        "(\\HasNoChildren) \"/\" \"INBOX\"",
        "(\\HasNoChildren \\Sent) \"/\" \"Sent\"",
        "(\\HasNoChildren \\Trash) \"/\" \"Trash\"",
        "(\\HasNoChildren \\Junk) \"/\" \"Junk\"",
    ] {
        assert!(all.contains(want), "{want} in {all}");
    }

    let r = c.cmd("SELECT INBOX").await;
    assert!(r.ok() && r.last_line().contains("[READ-WRITE]"), "{r:?}");
    assert!(r.untagged("2 EXISTS").len() == 1, "{r:?}");
    // The first session to see new mail gets it as \Recent; the next one does not.
    assert!(r.untagged("2 RECENT").len() == 1, "{r:?}");
    let mut other = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    let r2 = other.cmd("SELECT INBOX").await;
    assert!(r2.untagged("0 RECENT").len() == 1, "{r2:?}");
    drop(other);
    let uidvalidity = r
        .all()
        .split("[UIDVALIDITY ")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap()
        .to_string();

    // Metadata and a header section; PEEK leaves \Seen alone.
    let r = c
        .cmd("FETCH 1 (UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await;
    assert!(r.ok(), "{r:?}");
    let f = r.all();
    assert!(f.contains("* 1 FETCH (UID 1 FLAGS (\\Recent)"), "{f}");
    assert!(
        f.contains("ENVELOPE (\"Mon, 7 Dec 2026 10:00:00 +0000\" \"First note\" ((\"Bea Example\" NIL \"bea\" \"client.example\"))"),
        "{f}"
    );
    assert!(
        f.contains("BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL"),
        "{f}"
    );
    assert!(
        f.contains("BODY[HEADER.FIELDS (SUBJECT)] {23}\r\nSubject: First note\r\n\r\n"),
        "{f}"
    );

    // RFC822.SIZE is exactly what BODY[] sends.
    let size: usize = f
        .split("RFC822.SIZE ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    let r = c.cmd("UID FETCH 1 BODY[]").await;
    assert!(r.ok(), "{r:?}");
    let body = r.all();
    assert!(body.contains(&format!("BODY[] {{{size}}}\r\n")), "{body}");
    assert!(
        body.contains("FLAGS (\\Seen \\Recent)"),
        "BODY[] sets \\Seen: {body}"
    );

    let r = c.cmd("SEARCH UNSEEN").await;
    assert_eq!(r.untagged("SEARCH"), vec!["SEARCH 2\r\n"], "{r:?}");
    let r = c.cmd("UID SEARCH BODY beta").await;
    assert_eq!(r.untagged("SEARCH"), vec!["SEARCH 2\r\n"], "{r:?}");
    let r = c.cmd("SEARCH RETURN (COUNT MIN) SUBJECT note").await;
    let e = r.untagged("ESEARCH (TAG \"t");
    assert!(
        e.len() == 1 && e[0].ends_with("\") MIN 1 COUNT 2\r\n"),
        "{r:?}"
    );

    let r = c.cmd("STORE 2 +FLAGS ($Work \\Flagged)").await;
    assert!(r.ok(), "{r:?}");
    assert!(
        r.all()
            .contains("* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent $Work))"),
        "{r:?}"
    );
    let r = c.cmd("UID SEARCH KEYWORD $Work").await;
    assert_eq!(r.untagged("SEARCH"), vec!["SEARCH 2\r\n"], "{r:?}");

    // COPY keeps the flags and says where the copies went.
    let r = c.cmd("COPY 1:2 Archive").await;
    assert!(r.ok() && r.last_line().contains("[COPYUID "), "{r:?}");
    let r = c.cmd("STATUS Archive (MESSAGES UNSEEN UIDNEXT SIZE)").await;
    assert!(
        r.all()
            .contains("* STATUS \"Archive\" (MESSAGES 2 UNSEEN 1 UIDNEXT 3 SIZE "),
        "{r:?}"
    );
    let r = c.cmd("COPY 1 Nowhere").await;
    assert!(r.last_line().contains("NO [TRYCREATE]"), "{r:?}");

    // MOVE reports the expunge in this session.
    let r = c.cmd("UID MOVE 1 Trash").await;
    assert!(r.ok(), "{r:?}");
    assert!(r.all().contains("* OK [COPYUID "), "{r:?}");
    assert_eq!(r.untagged("1 EXPUNGE").len(), 1, "{r:?}");
    let r = c.cmd("NOOP").await;
    assert!(r.untagged("1 EXISTS").is_empty() && r.ok(), "{r:?}");

    // MOVE into the selected folder gives the message a new UID there.
    let r = c.cmd("UID MOVE 2 INBOX").await;
    assert!(r.all().contains("[COPYUID "), "{r:?}");
    assert!(
        r.untagged("1 EXPUNGE").len() == 1 && r.untagged("1 EXISTS").len() == 1,
        "{r:?}"
    );
    let r = c.cmd("UID FETCH 1:* (FLAGS)").await;
    assert!(
        r.all().contains("UID 3 FLAGS (\\Flagged \\Recent $Work)"),
        "{r:?}"
    );

    // \Deleted then EXPUNGE deletes for good.
    let r = c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert!(r.ok() && r.untagged("1 FETCH").is_empty(), "{r:?}");
    let r = c.cmd("EXPUNGE").await;
    assert_eq!(r.untagged("1 EXPUNGE").len(), 1, "{r:?}");
    let r = c.cmd("STATUS INBOX (MESSAGES)").await;
    assert!(r.all().contains("(MESSAGES 0)"), "{r:?}");

    // APPEND goes through the store's one path and says the new UID.
    let msg = message("Appended", "gamma");
    c.send(format!("a1 APPEND Drafts (\\Draft \\Seen) {{{}+}}\r\n", msg.len()).as_bytes())
        .await;
    c.send(&msg).await;
    c.send(b"\r\n").await;
    let r = c.until("a1").await;
    assert!(r.ok() && r.last_line().contains("[APPENDUID "), "{r:?}");
    let r = c.cmd("EXAMINE Drafts").await;
    assert!(r.last_line().contains("[READ-ONLY]"), "{r:?}");
    let r = c.cmd("FETCH 1 (FLAGS BODY[TEXT])").await;
    assert!(r.all().contains("FLAGS (\\Seen \\Draft \\Recent)"), "{r:?}");
    assert!(r.all().contains("gamma"), "{r:?}");
    let r = c.cmd("STORE 1 +FLAGS (\\Flagged)").await;
    assert!(r.last_line().contains("NO [READ-ONLY]"), "{r:?}");

    // Folders: create, rename, delete.
    assert!(c.cmd("CREATE Projects/2026").await.ok());
    let r = c.cmd("LIST \"\" \"Projects/%\"").await;
    assert!(r.all().contains("\"Projects/2026\""), "{r:?}");
    let r = c.cmd("DELETE Projects").await;
    assert!(r.last_line().contains("NO [INUSE]"), "{r:?}");
    assert!(c.cmd("RENAME Projects/2026 Projects/Done").await.ok());
    // A subscription outlives its folder (LSUB lists it; LIST (SUBSCRIBED) says it is gone).
    assert!(c.cmd("SUBSCRIBE Projects/Done").await.ok());
    assert!(c.cmd("DELETE Projects/Done").await.ok());
    let r = c.cmd("LSUB \"\" Projects/*").await;
    assert!(
        r.all().contains("* LSUB () \"/\" \"Projects/Done\""),
        "{r:?}"
    );
    let r = c.cmd("LIST (SUBSCRIBED) \"\" Projects/*").await;
    assert!(
        r.all()
            .contains("(\\Subscribed \\NonExistent) \"/\" \"Projects/Done\""),
        "{r:?}"
    );
    assert!(c.cmd("UNSUBSCRIBE Projects/Done").await.ok());
    let r = c.cmd("LSUB \"\" *").await;
    assert!(!r.all().contains("Projects/Done"), "{r:?}");
    let r = c.cmd("SELECT Projects/Done").await;
    assert!(r.last_line().contains("NO [NONEXISTENT]"), "{r:?}");
    let r = c.cmd("CREATE INBOX").await;
    assert!(r.last_line().contains("NO [ALREADYEXISTS]"), "{r:?}");

    // The UIDVALIDITY stays across sessions.
    let mut again = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    let r = again.cmd("EXAMINE INBOX").await;
    assert!(
        r.all().contains(&format!("[UIDVALIDITY {uidvalidity}]")),
        "{r:?}"
    );
    let r = again.cmd("GETQUOTAROOT INBOX").await;
    assert!(r.all().contains("* QUOTA \"\" (STORAGE "), "{r:?}");
    let r = c.cmd("LOGOUT").await;
    assert!(r.untagged("BYE").len() == 1 && r.ok(), "{r:?}");
}

#[tokio::test]
async fn idle_reports_mail_from_smtp_and_changes_from_rest() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    deliver(&app, &ana, "Before", "one").await;
    let mut c = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    assert!(c.cmd("SELECT INBOX").await.ok());
    c.send(b"i1 IDLE\r\n").await;
    assert!(c.line().await.starts_with("+ "));

    deliver(&app, &ana, "During", "two").await;
    assert_eq!(c.line().await, "* 2 EXISTS\r\n");
    // This session is the first to see it: \Recent.
    assert_eq!(c.line().await, "* 2 RECENT\r\n");

    // A change made over REST reaches the idling client too.
    let items = crate::smtp::inbox(&app, &t.owner_token, &ana_id).await;
    let first = items.iter().find(|m| m["subject"] == "Before").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .patch(
            &format!("/v1/mailboxes/{ana_id}/messages/{first}"),
            &t.owner_token,
            json!({"seen": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        c.line().await,
        "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))\r\n"
    );
    c.send(b"DONE\r\n").await;
    let r = c.until("i1").await;
    assert!(r.ok(), "{r:?}");

    // CLOSE expunges silently in its own session, and the others hear of it.
    let mut other = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    assert!(other.cmd("SELECT INBOX").await.ok());
    assert!(other.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").await.ok());
    let r = other.cmd("CLOSE").await;
    assert!(r.ok() && r.untagged("1 EXPUNGE").is_empty(), "{r:?}");
    let r = c.cmd("NOOP").await;
    assert_eq!(r.untagged("1 EXPUNGE").len(), 1, "{r:?}");
}

#[tokio::test]
async fn logins_follow_the_mailbox_rules_and_tenants_stay_apart() {
    let app = TestApp::spawn().await;
    let (a, _, _, ana_id, ana) = receiving(&app).await;
    let (b, _, _, _bob_id, bob) = receiving(&app).await;
    deliver(&app, &ana, "For Ana only", "secret").await;

    // An app password works as the password.
    let r = app
        .post(
            &format!("/v1/mailboxes/{ana_id}/app-passwords"),
            &a.owner_token,
            json!({"name": "phone"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let app_password = r.body["password"].as_str().unwrap().to_string();
    let mut c = Imap::login(imap_addr(&app), &ana, &app_password).await;
    let r = c.cmd("STATUS INBOX (MESSAGES)").await;
    assert!(r.all().contains("(MESSAGES 1)"), "{r:?}");

    // AUTHENTICATE PLAIN, with the initial response and without.
    use base64::Engine;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{bob}\0{PASSWORD}"));
    let (mut b1, _) = Imap::connect(imap_addr(&app)).await;
    assert!(b1.cmd(&format!("AUTHENTICATE PLAIN {plain}")).await.ok());
    let (mut b2, _) = Imap::connect(imap_addr(&app)).await;
    b2.send(b"x AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(b2.line().await, "+ \r\n");
    b2.send(format!("{plain}\r\n").as_bytes()).await;
    assert!(b2.until("x").await.ok());
    // Acting for someone else is refused.
    let other =
        base64::engine::general_purpose::STANDARD.encode(format!("{ana}\0{bob}\0{PASSWORD}"));
    let (mut b3, _) = Imap::connect(imap_addr(&app)).await;
    let r = b3.cmd(&format!("AUTHENTICATE PLAIN {other}")).await;
    assert!(r.last_line().contains("NO [AUTHORIZATIONFAILED]"), "{r:?}");

    // Bob, of another tenant, sees his own mailbox only: nothing of Ana's, by any name.
    let r = b1.cmd("SELECT INBOX").await;
    assert!(r.all().contains("* 0 EXISTS"), "{r:?}");
    let r = b1.cmd("UID FETCH 1:* (BODY.PEEK[])").await;
    assert!(r.ok() && !r.all().contains("secret"), "{r:?}");
    let r = b1.cmd("UID SEARCH TEXT secret").await;
    assert_eq!(r.untagged("SEARCH"), vec!["SEARCH\r\n"], "{r:?}");
    assert!(c.cmd("CREATE Private").await.ok());
    assert!(c.cmd("SUBSCRIBE Private").await.ok());
    let r = b1.cmd("LIST \"\" *").await;
    assert!(!r.all().contains("Private"), "{r:?}");
    let r = b1.cmd("LSUB \"\" *").await;
    assert!(r.ok() && !r.all().contains("Private"), "{r:?}");
    let r = b1.cmd("UID COPY 1 Private").await;
    assert!(r.last_line().contains("NO [TRYCREATE]"), "{r:?}");

    // A suspended mailbox cannot log in; the tenant owner's account is not a mailbox.
    let r = app
        .patch(
            &format!("/v1/mailboxes/{ana_id}"),
            &a.owner_token,
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let (mut s, _) = Imap::connect(imap_addr(&app)).await;
    let r = s.cmd(&format!("LOGIN {ana} \"{PASSWORD}\"")).await;
    assert!(r.last_line().contains(" NO "), "{r:?}");
    let r = s
        .cmd(&format!("LOGIN {} \"{PASSWORD}\"", b.owner_email))
        .await;
    assert!(r.last_line().contains("NO [AUTHENTICATIONFAILED]"), "{r:?}");
}

#[tokio::test]
async fn bad_input_gets_bad_and_the_session_is_bounded() {
    let app = TestApp::spawn_with(|c| {
        c.imap.max_bad_commands = 7;
        c.imap.max_append_bytes = 1000;
    })
    .await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    let (mut c, _) = Imap::connect(imap_addr(&app)).await;
    let r = c.cmd("FROB").await;
    assert_eq!(r.last_line(), "t1 BAD unknown command\r\n");
    c.send(b"\r\n").await;
    assert!(c.line().await.starts_with("* BAD"));
    let r = c.cmd("SELECT INBOX").await;
    assert!(r.last_line().starts_with("t2 BAD"), "{r:?}");
    let r = c.cmd(&format!("LOGIN {ana} \"{PASSWORD}\"")).await;
    assert!(r.ok(), "{r:?}");
    let r = c.cmd("FETCH 1 (FLAGS)").await;
    assert!(
        r.last_line().contains("BAD select a mailbox first"),
        "{r:?}"
    );
    assert!(c.cmd("SELECT INBOX").await.ok());
    let r = c.cmd("FETCH 5 (FLAGS)").await;
    assert!(r.last_line().contains("BAD no such message"), "{r:?}");
    // A literal over the limit is refused before it is sent.
    c.send(b"big APPEND INBOX {5000}\r\n").await;
    assert!(c.line().await.starts_with("big NO [TOOBIG]"));
    // The seventh bad or refused command ends the session.
    let r = c.cmd("FETCH x").await;
    assert!(r.last_line().contains("BAD"), "{r:?}");
    assert_eq!(c.line().await, "* BYE too many bad commands\r\n");
    assert_eq!(c.line().await, "", "and the connection is closed");
}

/// Python's imaplib (a real client from the standard library) logs in, lists, selects,
/// fetches, flags, searches, appends, copies and moves.
#[tokio::test]
async fn python_imaplib_works() {
    let app = TestApp::spawn().await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    deliver(&app, &ana, "Hello imaplib", "from python").await;
    let addr = imap_addr(&app);
    let script = r#"
import imaplib, sys, email
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
M = imaplib.IMAP4(host, port)
assert 'IMAP4REV1' in M.capabilities, M.capabilities
M.login(user, pw)
typ, folders = M.list()
assert typ == 'OK' and any(b'"Sent"' in f for f in folders), folders
typ, data = M.select('INBOX')
assert typ == 'OK' and data == [b'1'], data
typ, data = M.uid('FETCH', '1', '(RFC822)')
msg = email.message_from_bytes(data[0][1])
assert msg['Subject'] == 'Hello imaplib', msg['Subject']
typ, data = M.search(None, 'SEEN')
assert data == [b'1'], data
M.store('1', '+FLAGS', '\\Flagged')
typ, data = M.search(None, 'FLAGGED', 'FROM', 'bea')
assert data == [b'1'], data
typ, data = M.append('Drafts', '(\\Draft)', imaplib.Time2Internaldate(0), b'Subject: draft\r\n\r\nbody\r\n')
assert typ == 'OK', data
typ, data = M.copy('1', 'Archive')
assert typ == 'OK', data
typ, data = M.status('Archive', '(MESSAGES)')
assert b'MESSAGES 1' in data[0], data
M.create('Receipts')
typ, data = M.uid('MOVE', '1', 'Receipts')
assert typ == 'OK', data
typ, data = M.status('INBOX', '(MESSAGES)')
assert b'MESSAGES 0' in data[0], data
M.close()
M.logout()
print('imaplib ok')
"#;
    let out = tokio::process::Command::new("python3")
        .args([
            "-c",
            script,
            &addr.ip().to_string(),
            &addr.port().to_string(),
            &ana,
            PASSWORD,
        ])
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("imaplib ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Behind a load balancer (`imap.proxy_protocol`): the PROXY header names the client, whose
/// address the per-address cap counts; a connection without one is closed; and on the
/// implicit-TLS listener the header comes before the handshake (curl `--haproxy-protocol`
/// reads over IMAPS and over STARTTLS).
#[tokio::test]
async fn behind_a_proxy_the_header_names_the_client_and_tls_follows_it() {
    let app = TestApp::spawn_with(|c| {
        c.imap.proxy_protocol = true;
        c.imap.tls_listen = "127.0.0.1:0".into();
        c.imap.max_connections_per_ip = 1;
    })
    .await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    deliver(&app, &ana, "Proxied", "proxied words").await;
    let addr = imap_addr(&app);
    let greet = |header: &'static str| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(header.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 512];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer or a close")
            .unwrap_or(0);
        (s, String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    // Two clients through the same balancer: each counted as itself.
    let (_a, g1) = greet("PROXY TCP4 203.0.113.1 127.0.0.1 40001 143\r\n").await;
    let (_b, g2) = greet("PROXY TCP4 203.0.113.2 127.0.0.1 40002 143\r\n").await;
    assert!(
        g1.starts_with("* OK ") && g2.starts_with("* OK "),
        "{g1}{g2}"
    );
    // A second connection of the first client is over its cap of one.
    let (_c, g3) = greet("PROXY TCP4 203.0.113.1 127.0.0.1 40003 143\r\n").await;
    assert!(g3.starts_with("* BYE"), "{g3}");
    // No header: closed without a greeting.
    let (_d, g4) = greet("a1 CAPABILITY\r\n").await;
    assert!(!g4.contains("* OK"), "{g4}");
    // A command right behind the header (one packet) is read after the greeting, not lost.
    let (mut e, mut seen) =
        greet("PROXY TCP4 203.0.113.5 127.0.0.1 40005 143\r\na1 NOOP\r\n").await;
    while !seen.contains("a1 OK") {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 512];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), e.read(&mut buf))
            .await
            .expect("the NOOP is answered")
            .unwrap();
        assert!(n > 0, "{seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }

    let imaps = app.running.as_ref().unwrap().imaps_addr.unwrap();
    for (flag, url) in [
        (
            "--no-progress-meter",
            format!("imaps://{imaps}/INBOX;UID=1"),
        ),
        ("--ssl-reqd", format!("imap://{addr}/INBOX;UID=1")),
    ] {
        let body = curl_reads(&["--haproxy-protocol", flag], &url, &ana).await;
        assert!(body.contains("proxied words"), "{url}: {body}");
    }
}

/// What curl reads from `url` as `user` (any certificate accepted); the run must succeed.
async fn curl_reads(flags: &[&str], url: &str, user: &str) -> String {
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "-k"])
        .args(flags)
        .args([url, "--user", &format!("{user}:{PASSWORD}")])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A big folder selected again (its index kept by the process, brought up to date from the
/// change log) shows exactly what a first load would: flags changed, messages expunged and
/// appended by another session in between; another tenant's session sees its own folder.
#[tokio::test]
async fn a_big_folder_selected_again_is_current() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let (_t2, _, _, _, other) = receiving(&app).await;
    let mbox: String = (0..1200)
        .map(|i| format!("From a@x Mon Jan  1 00:00:00 2024\nSubject: n{i}\n\nbody {i}\n\n"))
        .collect();
    let res = app
        .import(
            &t.owner_token,
            &ana_id,
            "folder=INBOX",
            "application/mbox",
            mbox,
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut a = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    assert!(a.cmd("EXAMINE INBOX").await.all().contains("* 1200 EXISTS"));
    // Another session changes the folder meanwhile.
    let mut b = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    assert!(b.cmd("SELECT INBOX").await.ok());
    for command in [
        "UID STORE 5 +FLAGS (\\Flagged)",
        "UID STORE 10 +FLAGS (\\Deleted)",
        "UID EXPUNGE 10",
    ] {
        assert!(b.cmd(command).await.ok(), "{command}");
    }
    b.send(b"ap APPEND INBOX {16+}\r\nSubject: late\r\n\r\n\r\n")
        .await;
    assert!(b.until("ap").await.ok());
    // A new session's SELECT shows all of it.
    let mut c = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    let r = c.cmd("SELECT INBOX").await;
    assert!(r.all().contains("* 1200 EXISTS"), "{r:?}");
    let r = c.cmd("UID FETCH 5 FLAGS").await;
    assert!(r.all().contains("FLAGS (\\Flagged)"), "{r:?}");
    let r = c.cmd("UID SEARCH UID 9:11").await;
    assert_eq!(r.untagged("SEARCH"), vec!["SEARCH 9 11\r\n"], "{r:?}");
    let r = c.cmd("FETCH 1200 (UID)").await;
    assert!(r.all().contains("* 1200 FETCH (UID 1201)"), "{r:?}");
    // The first session, re-selecting, agrees.
    let r = a.cmd("SELECT INBOX").await;
    assert!(r.all().contains("* 1200 EXISTS"), "{r:?}");
    let r = a.cmd("UID SEARCH FLAGGED").await;
    assert_eq!(r.untagged("SEARCH"), vec!["SEARCH 5\r\n"], "{r:?}");
    // Another tenant's INBOX is its own.
    let mut o = Imap::login(imap_addr(&app), &other, PASSWORD).await;
    assert!(o.cmd("SELECT INBOX").await.all().contains("* 0 EXISTS"));
}

/// A mailbox deleted over REST is gone for its open IMAP sessions too: reads of its folders
/// and messages, flag changes and expunges answer NO, nothing of it comes back.
#[tokio::test]
async fn a_deleted_mailbox_is_gone_for_open_sessions() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    deliver(&app, &ana, "Before", "kept words").await;
    let mut c = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    assert!(c.cmd("SELECT INBOX").await.ok());
    let r = app
        .delete(&format!("/v1/mailboxes/{ana_id}"), &t.owner_token)
        .await;
    assert!(r.status.is_success(), "{r:?}");
    for command in [
        "UID FETCH 1 BODY.PEEK[]",
        "UID STORE 1 +FLAGS (\\Flagged)",
        "EXPUNGE",
        "STATUS INBOX (MESSAGES)",
        "SELECT INBOX",
    ] {
        let r = c.cmd(command).await;
        assert!(r.last_line().contains(" NO "), "{command}: {r:?}");
        assert!(!r.all().contains("kept words"), "{command}: {r:?}");
    }
}

/// RENAME INBOX moves INBOX's messages, flags and all, into a new folder; INBOX stays, empty,
/// and keeps its subfolders; sessions with INBOX selected hear the expunges; a name in use is
/// refused with nothing moved; another tenant's INBOX is untouched.
#[tokio::test]
async fn renaming_inbox_moves_its_messages_and_leaves_it_empty() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let (_, _, _, _, other) = receiving(&app).await;
    for s in ["one", "two", "three"] {
        deliver(&app, &ana, s, "words").await;
    }
    deliver(&app, &other, "theirs", "words").await;
    let mut watcher = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    assert!(watcher.cmd("SELECT INBOX").await.ok());
    let mut c = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    for command in [
        "CREATE INBOX/Sub",
        "CREATE Taken",
        "SELECT INBOX",
        "STORE 2 +FLAGS (\\Flagged)",
    ] {
        assert!(c.cmd(command).await.ok(), "{command}");
    }
    let r = c.cmd("RENAME INBOX Taken").await;
    assert!(r.last_line().contains("NO [ALREADYEXISTS]"), "{r:?}");
    assert!(
        c.cmd("RENAME INBOX INBOX")
            .await
            .last_line()
            .contains(" NO ")
    );
    let r = c.cmd("STATUS INBOX (MESSAGES)").await;
    assert_eq!(
        r.untagged("STATUS"),
        vec!["STATUS \"INBOX\" (MESSAGES 3)\r\n"],
        "{r:?}"
    );

    let r = c.cmd("RENAME INBOX \"Old mail\"").await;
    assert!(r.ok(), "{r:?}");
    let expunges =
        |r: &crate::imap_wire::Resp| r.0.iter().filter(|l| l.ends_with(" EXPUNGE\r\n")).count();
    assert_eq!(expunges(&r), 3, "{r:?}");
    let r = watcher.cmd("NOOP").await;
    assert_eq!(expunges(&r), 3, "{r:?}");
    let r = c.cmd("STATUS INBOX (MESSAGES)").await;
    assert_eq!(
        r.untagged("STATUS"),
        vec!["STATUS \"INBOX\" (MESSAGES 0)\r\n"],
        "{r:?}"
    );
    let r = c.cmd("SELECT \"Old mail\"").await;
    assert!(r.untagged("3 EXISTS").len() == 1, "{r:?}");
    let r = c
        .cmd("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await;
    let all = r.all();
    for s in ["one", "two", "three"] {
        assert!(all.contains(&format!("Subject: {s}")), "{r:?}");
    }
    assert_eq!(r.untagged("2 FETCH (FLAGS (\\Flagged ").len(), 1, "{r:?}");
    assert_eq!(r.untagged("1 FETCH (FLAGS (\\Flagged ").len(), 0, "{r:?}");
    let r = c.cmd("LIST \"\" *").await;
    for name in ["\"INBOX\"", "\"INBOX/Sub\"", "\"Old mail\""] {
        assert!(
            r.untagged("LIST")
                .iter()
                .any(|l| l.ends_with(&format!("{name}\r\n"))),
            "{name}: {r:?}"
        );
    }
    // REST sees the same: INBOX empty, the new folder holding the three.
    let folders = app
        .get(&format!("/v1/mailboxes/{ana_id}/folders"), &t.owner_token)
        .await;
    let count = |name: &str| {
        folders.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["total"].clone())
    };
    assert_eq!(count("INBOX"), Some(json!(0)), "{folders:?}");
    assert_eq!(count("Old mail"), Some(json!(3)), "{folders:?}");
    // Another tenant's INBOX is as it was.
    let mut theirs = Imap::login(imap_addr(&app), &other, PASSWORD).await;
    let r = theirs.cmd("STATUS INBOX (MESSAGES)").await;
    assert_eq!(
        r.untagged("STATUS"),
        vec!["STATUS \"INBOX\" (MESSAGES 1)\r\n"],
        "{r:?}"
    );
}

/// COMPRESS=DEFLATE (RFC 4978): offered once logged in; after its OK every byte either way is
/// DEFLATE, including a command the client sent in the same packet as COMPRESS; a big message
/// comes through whole and smaller on the wire; a second COMPRESS is `NO [COMPRESSIONACTIVE]`,
/// another mechanism BAD; bytes that are not DEFLATE end that session only.
#[tokio::test]
async fn compress_deflate_carries_the_session() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn().await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    let big = "a line of text that compresses well\r\n".repeat(20_000);
    deliver(&app, &ana, "Big", &big).await;

    let (mut pre, _) = Imap::connect(imap_addr(&app)).await;
    assert!(!pre.cmd("CAPABILITY").await.all().contains("COMPRESS"));
    assert!(
        pre.cmd("COMPRESS DEFLATE")
            .await
            .last_line()
            .contains(" BAD ")
    );

    let mut c = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    assert!(
        c.cmd("CAPABILITY")
            .await
            .all()
            .contains(" COMPRESS=DEFLATE")
    );
    assert!(c.cmd("COMPRESS LZW").await.last_line().contains(" BAD "));
    let r = c.cmd("COMPRESS DEFLATE").await;
    assert!(r.ok(), "{r:?}");
    c.compress();
    assert!(c.cmd("SELECT INBOX").await.ok());
    let before = c.wire_bytes;
    let r = c.cmd("FETCH 1 BODY[TEXT]").await;
    assert!(r.ok(), "{:?}", r.last_line());
    assert!(r.all().contains(&big));
    let on_the_wire = c.wire_bytes - before;
    assert!(
        on_the_wire < big.len() / 10,
        "{on_the_wire} bytes on the wire for {} of text",
        big.len()
    );
    assert!(!c.cmd("CAPABILITY").await.all().contains("COMPRESS"));
    let r = c.cmd("COMPRESS DEFLATE").await;
    assert!(r.last_line().contains("NO [COMPRESSIONACTIVE]"), "{r:?}");
    let r = c.cmd("LOGOUT").await;
    assert!(r.all().contains("* BYE"), "{r:?}");

    // A command right behind COMPRESS, in the same write, is read through the inflater.
    let mut p = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    let mut bytes = b"p1 COMPRESS DEFLATE\r\n".to_vec();
    p.compress_out();
    bytes.extend(p.deflated(b"p2 STATUS INBOX (MESSAGES)\r\n"));
    p.s.write_all(&bytes).await.unwrap();
    let r = p.until("p1").await;
    assert!(r.ok(), "{r:?}");
    p.compress_in();
    let r = p.until("p2").await;
    assert!(r.ok(), "{r:?}");
    assert!(r.all().contains("(MESSAGES 1)"), "{r:?}");

    // Not DEFLATE: that session ends; others go on.
    let mut g = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    assert!(g.cmd("COMPRESS DEFLATE").await.ok());
    g.s.write_all(b"g1 NOOP, not compressed at all\r\n")
        .await
        .unwrap();
    assert_eq!(g.line().await, "", "the session should have ended");
    let mut after = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    assert!(after.cmd("NOOP").await.ok());
}

/// A folder renamed onto a name whose folder was deleted while subscribed takes that
/// subscription: the name is listed once, subscribed.
#[tokio::test]
async fn a_rename_onto_a_subscribed_name_takes_the_subscription() {
    let app = TestApp::spawn().await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    let mut c = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    for command in [
        "CREATE Done",
        "SUBSCRIBE Done",
        "DELETE Done",
        "CREATE Later",
        "RENAME Later Done",
    ] {
        assert!(c.cmd(command).await.ok(), "{command}");
    }
    let r = c.cmd("LIST (SUBSCRIBED) \"\" Done").await;
    assert_eq!(
        r.untagged("LIST"),
        vec!["LIST (\\HasNoChildren \\Subscribed) \"/\" \"Done\"\r\n"],
        "{r:?}"
    );
    let r = c.cmd("LSUB \"\" Done").await;
    assert_eq!(r.untagged("LSUB").len(), 1, "{r:?}");
}

/// SORT and THREAD (RFC 5256) over a small conversation: base subjects, sent dates, senders'
/// local parts and display names; REFERENCES and ORDEREDSUBJECT threads; Python's imaplib
/// reads the same answers; another tenant's mail never shows up in them.
#[tokio::test]
async fn sort_and_thread_order_a_conversation() {
    let app = TestApp::spawn().await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    let (_t2, _, _, _, other) = receiving(&app).await;
    let raw = |from: &str, subject: &str, hour: u32, id: &str, refs: &str| {
        let refs = if refs.is_empty() {
            String::new()
        } else {
            let last = refs.split(' ').next_back().unwrap();
            format!("In-Reply-To: {last}\r\nReferences: {refs}\r\n")
        };
        format!(
            "From: {from}\r\nTo: ana@example.com\r\nSubject: {subject}\r\nDate: Mon, 7 Dec 2026 {hour:02}:00:00 +0000\r\nMessage-ID: {id}\r\n{refs}\r\nbody\r\n"
        )
        .into_bytes()
    };
    let plan = format!("<plan.{}@x.example>", rand_suffix());
    let reply = format!("<reply.{}@x.example>", rand_suffix());
    let lunch = format!("<lunch.{}@x.example>", rand_suffix());
    let last = format!("<last.{}@x.example>", rand_suffix());
    let both = format!("{plan} {reply}");
    for (to, m) in [
        (&ana, raw("Zed <zed@x.example>", "Plan", 10, &plan, "")),
        (&ana, raw("amy@x.example", "Re: Plan", 11, &reply, &plan)),
        (&ana, raw("Bob <zz@x.example>", "Lunch", 9, &lunch, "")),
        (
            &ana,
            raw("carl@x.example", "Re: Re: Plan", 12, &last, &both),
        ),
        // Another tenant's mailbox holds a message of the same conversation.
        (
            &other,
            raw("eve@x.example", "Re: Plan", 8, "<eve@x>", &plan),
        ),
    ] {
        let mut w = Wire::connect(smtp_addr(&app)).await;
        let r = bdat(&mut w, "bea@client.example", &[to], &m).await;
        assert!(r.starts_with("250"), "{r}");
    }

    let mut c = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    let r = c.cmd("CAPABILITY").await;
    for cap in [
        " SORT ",
        " SORT=DISPLAY ",
        " THREAD=REFERENCES ",
        " THREAD=ORDEREDSUBJECT",
    ] {
        assert!(r.all().contains(cap), "{cap}: {r:?}");
    }
    assert!(c.cmd("SELECT INBOX").await.ok());
    for (command, want) in [
        // Base subjects: lunch, then the three of the plan in sequence order.
        ("SORT (SUBJECT) UTF-8 ALL", "SORT 3 1 2 4"),
        ("SORT (REVERSE DATE) UTF-8 ALL", "SORT 4 2 1 3"),
        // Local parts: amy, carl, zed, zz; display names: amy, Bob, carl, Zed.
        ("SORT (FROM) US-ASCII ALL", "SORT 2 4 1 3"),
        ("SORT (DISPLAYFROM) US-ASCII ALL", "SORT 2 3 4 1"),
        (
            "SORT (SUBJECT REVERSE DATE) UTF-8 SUBJECT plan",
            "SORT 4 2 1",
        ),
        // Arrival in delivery order, to the millisecond.
        ("SORT (REVERSE ARRIVAL) UTF-8 SUBJECT plan", "SORT 4 2 1"),
        ("UID SORT (SIZE) UTF-8 SUBJECT lunch", "SORT 3"),
        ("SORT (DATE) UTF-8 SUBJECT nothing-like-this", "SORT"),
        ("THREAD REFERENCES UTF-8 ALL", "THREAD (3)(1 2 4)"),
        ("THREAD ORDEREDSUBJECT UTF-8 ALL", "THREAD (3)(1 (2)(4))"),
        (
            "UID THREAD REFERENCES UTF-8 NOT SUBJECT lunch",
            "THREAD (1 2 4)",
        ),
    ] {
        let r = c.cmd(command).await;
        assert!(r.ok(), "{command}: {r:?}");
        let word = want.split(' ').next().unwrap();
        assert_eq!(r.untagged(word), vec![format!("{want}\r\n")], "{command}");
    }
    // ESORT (RFC 5267): ESEARCH answers, MIN and MAX first and last in sort order, ALL in
    // sort order; SAVE keeps the result for `$`.
    assert!(r.all().contains(" ESORT "), "{r:?}");
    for (command, want) in [
        (
            "SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 ALL",
            "MIN 3 MAX 4 COUNT 4",
        ),
        ("SORT RETURN (ALL) (REVERSE DATE) UTF-8 ALL", "ALL 4,2,1,3"),
        ("SORT RETURN () (SUBJECT) UTF-8 ALL", "ALL 3,1:2,4"),
        (
            "UID SORT RETURN (COUNT) (SIZE) UTF-8 SUBJECT nothing-like-this",
            "UID COUNT 0",
        ),
    ] {
        let r = c.cmd(command).await;
        assert!(r.ok(), "{command}: {r:?}");
        let got = r.untagged("ESEARCH (TAG ");
        assert_eq!(got.len(), 1, "{command}: {r:?}");
        assert_eq!(
            got[0].split_once(") ").map(|(_, rest)| rest.trim_end()),
            Some(want),
            "{command}: {r:?}"
        );
    }
    let r = c
        .cmd("SORT RETURN (SAVE) (REVERSE SUBJECT) UTF-8 SUBJECT plan")
        .await;
    assert!(r.ok() && r.untagged("ESEARCH").is_empty(), "{r:?}");
    let r = c.cmd("SEARCH $").await;
    assert_eq!(r.untagged("SEARCH"), vec!["SEARCH 1 2 4\r\n"], "{r:?}");
    let r = c.cmd("SORT RETURN (PARTIAL 1:2) (SUBJECT) UTF-8 ALL").await;
    assert!(r.last_line().contains(" BAD "), "{r:?}");
    let r = c.cmd("SORT (WEIGHT) UTF-8 ALL").await;
    assert!(r.last_line().contains(" BAD "), "{r:?}");
    let r = c.cmd("THREAD REFERENCES KOI8-R ALL").await;
    assert!(r.last_line().contains("NO [BADCHARSET"), "{r:?}");
    let r = c.cmd("THREAD TANGLED UTF-8 ALL").await;
    assert!(r.last_line().contains(" BAD "), "{r:?}");

    let addr = imap_addr(&app);
    let script = r#"
import imaplib, sys
M = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
M.login(sys.argv[3], sys.argv[4])
M.select('INBOX', readonly=True)
typ, data = M.sort('(REVERSE SUBJECT)', 'UTF-8', 'ALL')
assert typ == 'OK' and data == [b'1 2 4 3'], data
typ, data = M.thread('REFERENCES', 'UTF-8', 'ALL')
assert typ == 'OK' and data == [b'(3)(1 2 4)'], data
print('sorted ok')
"#;
    let out = tokio::process::Command::new("python3")
        .args([
            "-c",
            script,
            &addr.ip().to_string(),
            &addr.port().to_string(),
            &ana,
            PASSWORD,
        ])
        .output()
        .await
        .expect("python3 runs");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sorted ok"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Moving into Junk and out of it again (not into Trash) are spam-training signals, whoever
/// moves: the tenant's event log shows them; another tenant's does not.
#[tokio::test]
async fn moves_into_and_out_of_junk_are_spam_signals() {
    let app = TestApp::spawn().await;
    let (t, _, _, _, ana) = receiving(&app).await;
    let (other, ..) = receiving(&app).await;
    deliver(&app, &ana, "Cheap pills", "buy").await;
    deliver(&app, &ana, "Real mail", "hello").await;
    let mut c = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    assert!(c.cmd("SELECT INBOX").await.ok());
    assert!(c.cmd("UID MOVE 1:2 Junk").await.ok());
    assert!(c.cmd("SELECT Junk").await.ok());
    // The real one comes back; the spam is thrown away.
    assert!(c.cmd("UID MOVE 2 INBOX").await.ok());
    assert!(c.cmd("UID MOVE 1 Trash").await.ok());
    let signals = |token: String| {
        let app = &app;
        async move {
            let r = app
                .get("/v1/events?kind=message.spam_signal&limit=50", &token)
                .await;
            assert_eq!(r.status, 200, "{r:?}");
            let mut v: Vec<String> = r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["payload"]["verdict"].as_str().unwrap_or("?").to_string())
                .collect();
            v.sort();
            v
        }
    };
    assert_eq!(
        signals(t.owner_token.clone()).await,
        ["ham", "spam", "spam"]
    );
    assert!(signals(other.owner_token.clone()).await.is_empty());
}

/// A client that enables IMAP4rev2 (RFC 9051) gets its rules: no `\\Recent` and no RECENT,
/// SELECT names the mailbox in a LIST response, SEARCH answers with ESEARCH, names are UTF-8.
/// A rev1 session on the same mailbox keeps rev1's.
#[tokio::test]
async fn imap4rev2_when_enabled() {
    let app = TestApp::spawn().await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    deliver(&app, &ana, "One", "first").await;
    let mut c = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    let r = c.cmd("CAPABILITY").await;
    assert!(r.all().contains("IMAP4rev1 IMAP4rev2 "), "{r:?}");
    let r = c.cmd("ENABLE IMAP4rev2").await;
    assert_eq!(
        r.untagged("ENABLED"),
        vec!["ENABLED IMAP4rev2\r\n"],
        "{r:?}"
    );
    let r = c.cmd("SELECT INBOX").await;
    let all = r.all();
    assert!(r.ok() && all.contains("* 1 EXISTS\r\n"), "{all}");
    assert!(all.contains("* LIST () \"/\" \"INBOX\"\r\n"), "{all}");
    assert!(!all.contains("RECENT") && !all.contains("[UNSEEN"), "{all}");
    let r = c.cmd("FETCH 1 FLAGS").await;
    assert_eq!(
        r.untagged("1 FETCH"),
        vec!["1 FETCH (FLAGS ())\r\n"],
        "{r:?}"
    );
    let r = c.cmd("SEARCH ALL").await;
    assert!(r.untagged("SEARCH").is_empty(), "{r:?}");
    let e = r.untagged("ESEARCH (TAG \"t");
    assert!(e.len() == 1 && e[0].ends_with("\") ALL 1\r\n"), "{r:?}");
    let r = c.cmd("UID SEARCH SUBJECT nothing-like-it").await;
    let e = r.untagged("ESEARCH (TAG \"t");
    assert!(e.len() == 1 && e[0].ends_with("\") UID\r\n"), "{r:?}");
    // New mail: EXISTS without RECENT.
    deliver(&app, &ana, "Two", "second").await;
    // (With Redis the news crosses the bus a moment after the 250: poll as a client does.)
    let mut r = c.cmd("NOOP").await;
    for _ in 0..50 {
        if r.all().contains("* 2 EXISTS") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        r = c.cmd("NOOP").await;
    }
    assert!(
        r.all().contains("* 2 EXISTS") && !r.all().contains("RECENT"),
        "{r:?}"
    );
    // Names in UTF-8, as they are.
    assert!(c.cmd("CREATE \"Entwürfe/Ideen\"").await.ok());
    let r = c.cmd("LIST \"\" \"Entw*\"").await;
    assert!(r.all().contains("\"Entwürfe/Ideen\""), "{r:?}");

    // A rev1 session meanwhile: RECENT and modified UTF-7, as before.
    let mut old = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    let r = old.cmd("SELECT INBOX").await;
    assert!(r.all().contains(" RECENT\r\n"), "{r:?}");
    let r = old.cmd("LIST \"\" \"Entw*\"").await;
    assert!(r.all().contains("\"Entw&APw-rfe/Ideen\""), "{r:?}");
    let r = old.cmd("SEARCH ALL").await;
    assert_eq!(r.untagged("SEARCH"), vec!["SEARCH 1 2\r\n"], "{r:?}");
}

/// BINARY (RFC 3516): parts come back with their transfer encoding undone, sizes are of the
/// decoded bytes, NUL travels only in literal8, an unknown encoding is refused; binary content
/// appended in a literal8 is stored in base64 (BODY[] shows that) and BINARY[] returns it as
/// it was.
#[tokio::test]
async fn binary_fetches_decoded_parts() {
    let app = TestApp::spawn().await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    let mut c = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    assert!(c.cmd("CAPABILITY").await.all().contains(" BINARY"));
    let msg = "From: a@x.example\r\nSubject: files\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nau lait\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n--b\r\nContent-Type: application/x-odd\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n--b--\r\n";
    c.send(format!("a1 APPEND INBOX {{{}+}}\r\n{msg}\r\n", msg.len()).as_bytes())
        .await;
    assert!(c.until("a1").await.ok());
    assert!(c.cmd("SELECT INBOX").await.ok());
    let r = c
        .cmd("FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.SIZE[2] BINARY.PEEK[2] BINARY.PEEK[2]<1.2> FLAGS)")
        .await;
    assert!(r.ok(), "{r:?}");
    let f = r.all();
    for want in [
        "BINARY.SIZE[1] 13 ",
        "BINARY[1] {13}\r\ncafé au lait ",
        "BINARY.SIZE[2] 5 ",
        "BINARY[2] ~{5}\r\n\0\u{1}\u{2}\u{3}\u{4} ",
        "BINARY[2]<1> {2}\r\n\u{1}\u{2} ",
        "FLAGS (\\Recent)",
    ] {
        assert!(f.contains(want), "{want:?} in {f:?}");
    }
    for command in ["FETCH 1 BINARY.PEEK[3]", "FETCH 1 (BINARY[1] BINARY[3])"] {
        let r = c.cmd(command).await;
        assert!(r.last_line().contains("NO [UNKNOWN-CTE]"), "{r:?}");
    }
    // The refused FETCH marked nothing \Seen.
    let r = c.cmd("FETCH 1 FLAGS").await;
    assert!(!r.all().contains("\\Seen"), "{r:?}");
    // Not PEEK: \Seen is set, as with BODY[].
    let r = c.cmd("FETCH 1 (BINARY[1])").await;
    assert!(r.all().contains("\\Seen"), "{r:?}");

    let bin = "Subject: raw\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\0ab\n";
    c.send(format!("a2 APPEND INBOX ~{{{}+}}\r\n{bin}\r\n", bin.len()).as_bytes())
        .await;
    assert!(c.until("a2").await.ok());
    let r = c
        .cmd("FETCH 2 (BODY.PEEK[1] BINARY.PEEK[1] BODYSTRUCTURE)")
        .await;
    let f = r.all();
    assert!(
        r.ok() && f.contains("BODY[1] {10}\r\nAGFiCg==\r\n"),
        "{f:?}"
    );
    assert!(f.contains("BINARY[1] ~{4}\r\n\0ab\n"), "{f:?}");
    assert!(f.contains("\"base64\""), "{f:?}");
}

/// CREATE-SPECIAL-USE (RFC 6154) and its REST twin: one folder per use; a folder made Junk
/// after the old one was deleted is where moves count as spam signals.
#[tokio::test]
async fn created_folders_take_a_special_use() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    deliver(&app, &ana, "Cheap pills", "buy now").await;
    let mut c = Imap::login(imap_addr(&app), &ana, PASSWORD).await;
    assert!(
        c.cmd("CAPABILITY")
            .await
            .all()
            .contains(" CREATE-SPECIAL-USE")
    );
    for (command, why) in [
        ("CREATE Spam (USE (\\Junk))", "Junk has the use already"),
        ("CREATE Spam (USE (\\All))", "no virtual folders"),
        ("CREATE Spam (USE (\\Junk \\Trash))", "one use per folder"),
    ] {
        let r = c.cmd(command).await;
        assert!(r.last_line().contains("NO [USEATTR]"), "{why}: {r:?}");
    }
    assert!(c.cmd("LIST \"\" Spam").await.untagged("LIST").is_empty());
    assert!(c.cmd("DELETE Junk").await.ok());
    assert!(c.cmd("CREATE Spam (USE (\\Junk))").await.ok());
    let r = c.cmd("LIST (SPECIAL-USE) \"\" \"*\"").await;
    assert!(r.all().contains(" \\Junk) \"/\" \"Spam\"\r\n"), "{r:?}");
    assert!(c.cmd("SELECT INBOX").await.ok());
    assert!(c.cmd("UID MOVE 1 Spam").await.ok());
    let r = app
        .get(
            "/v1/events?kind=message.spam_signal&limit=50",
            &t.owner_token,
        )
        .await;
    let verdicts: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["payload"]["verdict"].as_str())
        .collect();
    assert_eq!(verdicts, ["spam"], "{r:?}");

    let base = format!("/v1/mailboxes/{ana_id}/folders");
    let r = app
        .post(
            &base,
            &t.owner_token,
            json!({"name": "Old", "special_use": "archive"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "special_use_taken"),
        "{r:?}"
    );
    let r = app
        .post(
            &base,
            &t.owner_token,
            json!({"name": "Old", "special_use": "inbox"}),
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        app.delete(
            &format!(
                "{base}/{}",
                folder_id(&app, &t.owner_token, &ana_id, "Archive").await
            ),
            &t.owner_token
        )
        .await
        .status
        .is_success()
    );
    let r = app
        .post(
            &base,
            &t.owner_token,
            json!({"name": "Old", "special_use": "archive"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["special_use"].as_str()),
        (201, Some("archive")),
        "{r:?}"
    );
}

async fn folder_id(app: &TestApp, token: &str, mailbox: &str, name: &str) -> String {
    let r = app
        .get(&format!("/v1/mailboxes/{mailbox}/folders"), token)
        .await;
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .and_then(|f| f["id"].as_str())
        .unwrap()
        .to_string()
}

/// With `imap.require_tls`, passwords wait for STARTTLS (LOGINDISABLED, PRIVACYREQUIRED); curl
/// upgrades and reads, and reads again over implicit TLS (`imap.tls_listen`).
#[tokio::test]
async fn passwords_wait_for_tls_when_required() {
    let app = TestApp::spawn_with(|c| {
        c.imap.require_tls = true;
        c.imap.tls_listen = "127.0.0.1:0".into();
    })
    .await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    deliver(&app, &ana, "Over TLS", "secret words").await;
    let addr = imap_addr(&app);
    let (mut c, greeting) = Imap::connect(addr).await;
    assert!(
        greeting.contains("STARTTLS") && greeting.contains("LOGINDISABLED"),
        "{greeting}"
    );
    let r = c.cmd(&format!("LOGIN {ana} \"{PASSWORD}\"")).await;
    assert!(r.last_line().contains("NO [PRIVACYREQUIRED]"), "{r:?}");
    // curl upgrades with STARTTLS, and reads over implicit TLS (the handshake first, then the
    // greeting; passwords welcome).
    let imaps = app.running.as_ref().unwrap().imaps_addr.unwrap();
    for (flag, url) in [
        ("--ssl-reqd", format!("imap://{addr}/INBOX;UID=1")),
        (
            "--no-progress-meter",
            format!("imaps://{imaps}/INBOX;UID=1"),
        ),
    ] {
        let body = curl_reads(&[flag], &url, &ana).await;
        assert!(body.contains("secret words"), "{url}: {body}");
    }
}

/// A client that does not log in is cut off after `login_timeout_secs`; a mailbox has at most
/// `max_connections_per_user` sessions at once.
#[tokio::test]
async fn silent_clients_and_too_many_sessions_are_refused() {
    let app = TestApp::spawn_with(|c| {
        c.imap.login_timeout_secs = 1;
        c.imap.max_connections_per_user = 2;
    })
    .await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    let addr = imap_addr(&app);
    let (mut idle, _) = Imap::connect(addr).await;
    let bye = tokio::time::timeout(std::time::Duration::from_secs(10), idle.line())
        .await
        .expect("cut off");
    assert!(bye.starts_with("* BYE"), "{bye}");

    let first = Imap::login(addr, &ana, PASSWORD).await;
    let _second = Imap::login(addr, &ana, PASSWORD).await;
    let (mut third, _) = Imap::connect(addr).await;
    let r = third.cmd(&format!("LOGIN {ana} \"{PASSWORD}\"")).await;
    assert!(r.last_line().contains("NO [LIMIT]"), "{r:?}");
    // A session that ends gives its place back.
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        let r = third.cmd(&format!("LOGIN {ana} \"{PASSWORD}\"")).await;
        if r.ok() {
            again = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(again.is_some(), "a place came free");
}
