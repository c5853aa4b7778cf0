//! Real POP3 clients against the POP3 server: Python's poplib (with STLS), curl `pop3://`,
//! fetchmail (keep, then delete, with the mailbox set to delete), getmail6 and mpop.

use crate::common::*;
use crate::pop3::{Pop3, after_download, deliver, pop3_addr};
use crate::smtp::receiving;

/// Messages POP3 offers the mailbox now.
async fn offered(app: &TestApp, user: &str) -> usize {
    let mut c = Pop3::login(pop3_addr(app), user, PASSWORD).await;
    let r = c.cmd("STAT").await;
    assert!(c.cmd("QUIT").await.starts_with("+OK"));
    r.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn python_poplib_works_over_stls() {
    let app = TestApp::spawn().await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    deliver(&app, &ana, "Hello poplib", ".dotted line\r\nfrom python").await;
    let addr = pop3_addr(&app);
    let script = format!(
        r#"
import poplib, ssl, email
c = poplib.POP3("{ip}", {port}, timeout=20)
caps = c.capa()
assert "STLS" in caps and "UIDL" in caps and "TOP" in caps, caps
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c.stls(ctx)
c.user("{ana}")
c.pass_("{PASSWORD}")
count, size = c.stat()
assert count == 1, count
resp, lines, octets = c.retr(1)
msg = email.message_from_bytes(b"\r\n".join(lines))
assert msg["Subject"] == "Hello poplib", msg["Subject"]
assert b".dotted line" in lines, lines
assert octets - 2 * len(lines) <= size, (octets, size)
resp, listing, _ = c.list()
assert listing[0].split()[1] == str(size).encode(), (listing, size)
resp, uids, _ = c.uidl()
assert len(uids) == 1
resp, top, _ = c.top(1, 0)
assert top[-1] == b"", top
c.dele(1)
c.quit()
print("poplib ok")
"#,
        ip = addr.ip(),
        port = addr.port()
    );
    let work = tempfile::tempdir().unwrap();
    let out = run_client("python3", &["-c", &script], work.path()).await;
    assert!(out.contains("poplib ok"), "{out}");
    // The default (keep): no longer offered to POP3.
    assert_eq!(offered(&app, &ana).await, 0);
}

#[tokio::test]
async fn curl_lists_and_retrieves() {
    let app = TestApp::spawn().await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    deliver(&app, &ana, "first for curl", "one").await;
    deliver(&app, &ana, "second for curl", "two").await;
    let addr = pop3_addr(&app);
    let work = tempfile::tempdir().unwrap();
    let user = format!("{ana}:{PASSWORD}");
    let list = run_client(
        "curl",
        &["-sSf", &format!("pop3://{addr}/"), "--user", &user],
        work.path(),
    )
    .await;
    let lines: Vec<&str> = list.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(
        lines[0].starts_with("1 ") && lines[1].starts_with("2 "),
        "{list}"
    );
    let two = run_client(
        "curl",
        &["-sSf", &format!("pop3://{addr}/2"), "--user", &user],
        work.path(),
    )
    .await;
    assert!(two.contains("Subject: second for curl"), "{two}");
    // curl's STLS with a self-signed certificate.
    let one = run_client(
        "curl",
        &[
            "-sSf",
            "--ssl-reqd",
            "-k",
            &format!("pop3://{addr}/1"),
            "--user",
            &user,
        ],
        work.path(),
    )
    .await;
    assert!(one.contains("Subject: first for curl"), "{one}");
}

#[tokio::test]
async fn fetchmail_keeps_then_deletes_over_pop3() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    deliver(&app, &ana, "first", "a").await;
    deliver(&app, &ana, "second", "b").await;
    let work = tempfile::tempdir().unwrap();
    let addr = pop3_addr(&app);
    let out = work.path().join("out.mbox");
    let rc = |keep: &str| {
        format!(
            "set no syslog\npoll {} service {} protocol POP3 user \"{ana}\" password \"{PASSWORD}\" is root here {keep} fetchall sslproto TLS1.2+ no sslcertck mda \"/bin/sh -c 'cat >> {}'\"\n",
            addr.ip(),
            addr.port(),
            out.display()
        )
    };
    // The mailbox deletes what POP3 deletes.
    let r = after_download(&app, &t.owner_token, &ana_id, "delete").await;
    assert_eq!(r.status, 200);
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
        assert_eq!(offered(&app, &ana).await, left, "{keep}");
    }
    let r = app
        .get(
            &format!("/v1/mailboxes/{ana_id}/messages?folder=INBOX"),
            &t.owner_token,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{r:?}");
}

#[tokio::test]
async fn getmail_and_mpop_retrieve() {
    let app = TestApp::spawn().await;
    let (_t, _, _, _, ana) = receiving(&app).await;
    deliver(&app, &ana, "for getmail", "g").await;
    let addr = pop3_addr(&app);
    let work = tempfile::tempdir().unwrap();
    let mbox = work.path().join("inbox.mbox");
    std::fs::write(&mbox, "").unwrap();
    let rc = format!(
        "[retriever]\ntype = SimplePOP3Retriever\nserver = {}\nport = {}\nusername = {ana}\npassword = {PASSWORD}\n\n\
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

    // mpop, over STLS, into a maildir; it keeps what it fetched here.
    let maildir = work.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let rc = format!(
        "account default\nhost {}\nport {}\nuser {ana}\npassword {PASSWORD}\ntls on\ntls_starttls on\ntls_certcheck off\nkeep on\ndelivery maildir {}\nuidls_file {}\n",
        addr.ip(),
        addr.port(),
        maildir.display(),
        work.path().join("uidls").display()
    );
    let rcfile = work.path().join("mpoprc");
    std::fs::write(&rcfile, rc).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rcfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    run_client("mpop", &["-C", rcfile.to_str().unwrap(), "-q"], work.path()).await;
    let files: Vec<_> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(files.len(), 1, "one message in the maildir");
    let got = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(got.contains("Subject: for getmail"), "{got}");
}

/// STLS upgrades the connection, and a command pipelined behind STLS in the clear is dropped,
/// not run inside TLS (a command-injection attack on STARTTLS): the first answer over TLS is
/// the one to the first command sent over TLS.
#[tokio::test]
async fn stls_drops_what_was_pipelined_before_the_handshake() {
    let app = TestApp::spawn().await;
    let addr = pop3_addr(&app);
    let script = format!(
        r#"
import socket, ssl
s = socket.create_connection(("{ip}", {port}), timeout=20)
f = s.makefile("rb")
assert f.readline().startswith(b"+OK")
s.sendall(b"STLS\r\nCAPA\r\n")
line = f.readline()
assert line.startswith(b"+OK"), line
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s)
g = t.makefile("rb")
t.sendall(b"NOOP\r\n")
first = g.readline()
assert first == b"+OK\r\n", first
print("stls ok")
"#,
        ip = addr.ip(),
        port = addr.port()
    );
    let work = tempfile::tempdir().unwrap();
    let out = run_client("python3", &["-c", &script], work.path()).await;
    assert!(out.contains("stls ok"), "{out}");
}
