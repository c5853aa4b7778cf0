//! The `mailroom` binary's subcommands on a fresh data directory.

use crate::common::*;
use mailroom_migration::MigratorTrait;
use std::process::Output;

fn mailroom(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mailroom"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MAILROOM_DATA_DIR", dir)
        .env("MAILROOM_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Ok(url) = std::env::var("MAILROOM_TEST_DATABASE_URL") {
        cmd.env("MAILROOM_DATABASE_URL", url);
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn admin_commands_bootstrap_a_fresh_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let email = format!("root-{}@platform.test", rand_suffix());
    let out = mailroom(
        dir.path(),
        &[
            "admin",
            "create-platform-admin",
            "--email",
            &email,
            "--password",
            PASSWORD,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["role"], "platform_admin");
    if !is_postgres() {
        assert!(dir.path().join("mailroom.db").exists());
    }

    let again = mailroom(
        dir.path(),
        &[
            "admin",
            "create-platform-admin",
            "--email",
            &email,
            "--password",
            PASSWORD,
        ],
        None,
    );
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );

    let weak = mailroom(
        dir.path(),
        &[
            "admin",
            "create-platform-admin",
            "--email",
            "w@x.test",
            "--password",
            "short",
        ],
        None,
    );
    assert!(!weak.status.success());

    let slug = format!("cli-{}", rand_suffix());
    let owner = format!("owner@{slug}.test");
    let t = mailroom(
        dir.path(),
        &[
            "admin",
            "create-tenant",
            "--name",
            "CLI Co",
            "--slug",
            &slug,
            "--owner-email",
            &owner,
        ],
        Some("owner password 1\n"),
    );
    assert!(t.status.success(), "{}", text(&t.stderr));
    let reset = mailroom(
        dir.path(),
        &["admin", "reset-password", "--email", &owner],
        Some("a new password 22\n"),
    );
    assert!(reset.status.success(), "{}", text(&reset.stderr));
    let nobody = mailroom(
        dir.path(),
        &[
            "admin",
            "reset-password",
            "--email",
            "nobody@x.test",
            "--password",
            PASSWORD,
        ],
        None,
    );
    assert!(!nobody.status.success());
}

#[tokio::test]
async fn the_bootstrap_admin_from_the_environment_can_log_in() {
    let email = format!("boot-{}@platform.test", rand_suffix());
    let app = TestApp::spawn_with(|c| {
        c.bootstrap.admin_email = email.clone();
        c.bootstrap.admin_password = PASSWORD.into();
    })
    .await;
    let token = app.login(&email, PASSWORD).await;
    assert_eq!(
        app.get("/v1/me", &token).await.body["role"],
        "platform_admin"
    );
}

#[test]
fn migrate_and_openapi_work_and_bad_configuration_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = mailroom(dir.path(), &["migrate"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = mailroom(dir.path(), &["openapi"], None);
    assert_eq!(text(&out.stdout), mailroom_api::openapi::json());

    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[api]\nlisten = \"127.0.0.1:0\"\nlissten = \"x\"\n").unwrap();
    let out = mailroom(
        dir.path(),
        &["--config", cfg.to_str().unwrap(), "migrate"],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("lissten"),
        "{}",
        text(&out.stderr)
    );

    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mailroom"));
    let out = cmd
        .arg("migrate")
        .env_clear()
        .env("MAILROOM_DATA_DIR", dir.path())
        .env("MAILROOM_DATABSE_URL", "x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("MAILROOM_DATABSE_URL"),
        "{}",
        text(&out.stderr)
    );
}

/// Every failure is one line on stderr that names what to change, a non-zero exit, and no
/// backtrace (the test clears RUST_BACKTRACE).
fn one_clear_line(out: &Output, wants: &[&str]) {
    assert!(!out.status.success());
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = lines.last().copied().unwrap_or_default();
    assert!(last.starts_with("mailroom: error: "), "{err}");
    for w in wants {
        assert!(last.contains(w), "{w:?} missing from {last:?}");
    }
    assert!(
        !err.contains("backtrace") && !err.contains("Caused by"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "colour codes on a pipe: {err}");
}

#[test]
fn errors_say_which_argument_or_setting_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = mailroom(
        dir.path(),
        &[
            "admin",
            "create-platform-admin",
            "--email",
            "not-an-address",
            "--password",
            "short",
        ],
        None,
    );
    one_clear_line(&out, &["--email", "email address", "--password", "10"]);
    let out = mailroom(
        dir.path(),
        &[
            "admin",
            "create-tenant",
            "--name",
            "N",
            "--slug",
            "Bad Slug!",
            "--owner-email",
            "x@y.test",
            "--owner-password",
            PASSWORD,
        ],
        None,
    );
    one_clear_line(&out, &["--slug"]);

    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[api]\nlisten = \"127.0.0.1:0\"\nlissten = \"x\"\n").unwrap();
    let out = mailroom(
        dir.path(),
        &["--config", cfg.to_str().unwrap(), "migrate"],
        None,
    );
    one_clear_line(&out, &["bad.toml line 3", "lissten"]);

    let run = |vars: &[(&str, &str)], args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mailroom"));
        cmd.args(args)
            .env_clear()
            .env("MAILROOM_DATA_DIR", dir.path())
            .env("MAILROOM_LOG", "warn");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[("MAILROOM_DATABSE_URL", "x")], &["migrate"]);
    one_clear_line(
        &out,
        &[
            "MAILROOM_DATABSE_URL",
            "did you mean MAILROOM_DATABASE_URL?",
        ],
    );
    // A database that does not answer: which one (password hidden) and which setting.
    let refused = crate::dns::free_port();
    let out = run(
        &[(
            "MAILROOM_DATABASE_URL",
            &format!("postgres://mailroom:s3cret@127.0.0.1:{refused}/mailroom"),
        )],
        &["migrate"],
    );
    one_clear_line(&out, &["MAILROOM_DATABASE_URL", "mailroom:***@127.0.0.1"]);
    assert!(!text(&out.stderr).contains("s3cret"));
    // A port in use: the setting to change, before anything else starts.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(
        &[
            ("MAILROOM_API_LISTEN", &addr),
            ("MAILROOM_IMAP_LISTEN", "127.0.0.1:0"),
            ("MAILROOM_POP3_LISTEN", "127.0.0.1:0"),
            ("MAILROOM_SUBMISSION_LISTEN", "127.0.0.1:0"),
        ],
        &["serve"],
    );
    one_clear_line(&out, &[&addr, "MAILROOM_API_LISTEN"]);
    let out = run(
        &[
            ("MAILROOM_SMTP_LISTEN", &addr),
            ("MAILROOM_API_LISTEN", "127.0.0.1:0"),
            ("MAILROOM_IMAP_LISTEN", "127.0.0.1:0"),
            ("MAILROOM_POP3_LISTEN", "127.0.0.1:0"),
            ("MAILROOM_SUBMISSION_LISTEN", "127.0.0.1:0"),
        ],
        &["worker"],
    );
    one_clear_line(&out, &[&addr, "MAILROOM_SMTP_LISTEN"]);
}

/// `serve` says where everything is once it is ready, in plain text on a pipe.
#[test]
fn serve_announces_where_everything_is() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mailroom"))
        .arg("serve")
        .env_clear()
        .env("MAILROOM_DATA_DIR", dir.path())
        .env("MAILROOM_API_LISTEN", "127.0.0.1:0")
        .env("MAILROOM_SMTP_LISTEN", "127.0.0.1:0")
        .env("MAILROOM_IMAP_LISTEN", "127.0.0.1:0")
        .env("MAILROOM_POP3_LISTEN", "127.0.0.1:0")
        .env("MAILROOM_SUBMISSION_LISTEN", "127.0.0.1:0")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        let done = line.contains("event bus");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let all = seen.join("\n");
    for want in [
        "Mailroom is ready",
        "REST API   http://127.0.0.1:",
        "/docs",
        "SMTP (MX)  127.0.0.1:",
        "data dir",
        "database   SQLite",
        "event bus  in-process",
    ] {
        assert!(all.contains(want), "{want:?} missing from:\n{all}");
    }
    assert!(!all.contains('\u{1b}'), "colour codes on a pipe:\n{all}");
}

fn readme_block(marker: &str) -> String {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let block = readme
        .split(&format!("<!-- {marker}:start -->"))
        .nth(1)
        .unwrap()
        .split(&format!("<!-- {marker}:end -->"))
        .next()
        .unwrap();
    block
        .trim()
        .trim_start_matches("```sh")
        .trim_end_matches("```")
        .to_string()
}

/// The README's quickstart, run verbatim: it starts the real binary itself (on free ports, in
/// a fresh data directory) and ends with the message read over REST.
#[tokio::test]
async fn the_readme_quickstart_works() {
    let work = tempfile::tempdir().unwrap();
    let port = || crate::dns::free_port().to_string();
    let mut cmd = tokio::process::Command::new("bash");
    // A newcomer's shell: none of this process's MAILROOM_* settings.
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("MAILROOM_")) {
        cmd.env_remove(k);
    }
    let run = cmd
        .args(["-c", &readme_block("quickstart")])
        .kill_on_drop(true)
        .current_dir(work.path())
        .env("MAILROOM", env!("CARGO_BIN_EXE_mailroom"))
        .env("API_PORT", port())
        .env("SMTP_PORT", port())
        .env("IMAP_PORT", port())
        .env("POP3_PORT", port())
        .env("SUBMISSION_PORT", port())
        .env("DNS_PORT", port())
        .env("TMPDIR", work.path())
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("the quickstart took over 2 minutes")
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "quickstart failed:\n{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains(r#"{"verified":true}"#), "{stdout}");
    assert!(
        stdout.contains(r#""subject":"Hello from the quickstart""#) && stdout.contains("It works."),
        "{stdout}"
    );
    // Read over IMAP and over POP3 by curl: the header line as the message has it.
    assert_eq!(
        stdout
            .matches("Subject: Hello from the quickstart\r\n")
            .count()
            + stdout
                .matches("Subject: Hello from the quickstart\n")
                .count(),
        2,
        "{stdout}"
    );
}

/// The README's walk-throughs, run verbatim with curl, jq and dnsmasq against a real server.
#[tokio::test]
async fn the_readme_walkthroughs_work() {
    let dns_port = crate::dns::free_port();
    let work = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_isolated_with(|c| {
        c.bootstrap.admin_email = "admin@example.com".into();
        c.bootstrap.admin_password = "change-me-now".into();
        c.dns.nameservers = vec![format!("127.0.0.1:{dns_port}")];
        c.dns.timeout_ms = 1000;
        c.public_hostname = "mail.example.net".into();
    })
    .await;
    let smtp = app.running.as_ref().unwrap().smtp_addr.unwrap();
    let submission = app.running.as_ref().unwrap().submission_addr.unwrap();
    let run = |script: String| {
        let (base, dir) = (app.base.clone(), work.path().to_path_buf());
        async move {
            let out = tokio::process::Command::new("bash")
                .args(["-euo", "pipefail", "-c", &script])
                .current_dir(dir)
                .env("API", base)
                .env("DNS_PORT", dns_port.to_string())
                .env("SMTP", smtp.to_string())
                .env("SUBMISSION", submission.to_string())
                .output()
                .await
                .unwrap();
            let stdout = text(&out.stdout);
            assert!(
                out.status.success(),
                "walk-through failed:\n{stdout}\n{}",
                text(&out.stderr)
            );
            stdout
        }
    };
    let stdout = run(readme_block("walkthrough")).await;
    assert!(stdout.contains("\"kind\": \"api_key\""), "{stdout}");
    assert!(stdout.contains("\"ana@acme.example\""), "{stdout}");
    assert!(
        stdout.contains("\"code\": \"insufficient_scope\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"action\": \"api_key.create\""),
        "{stdout}"
    );

    let stdout = run(readme_block("walkthrough-domains")).await;
    assert!(
        stdout.contains("error\tTXT\t_mailroom.acme.example"),
        "{stdout}"
    );
    assert!(stdout.contains("\"verified\": true"), "{stdout}");
    assert!(
        stdout.contains("\"ready_to_receive\": true") && stdout.contains("\"ready_to_send\": true"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("\"missing "),
        "a record stayed missing: {stdout}"
    );

    let stdout = run(readme_block("walkthrough-mail")).await;
    for expected in [
        "INBOX inbox",
        "Junk junk",
        r#"{"mailboxes":["ana@acme.example"],"external":["partner@elsewhere.example"]}"#,
        "sub-address of ana@acme.example",
        r#""name":"Thunderbird""#,
        r#"{"name":"Work","html":"<b>Ana Silva</b>, Acme"}"#,
        r#"{"email":"sales@acme.example","name":"Acme Sales"}"#,
        r#"{"imported":1,"errors":[]}"#,
        "Bea Costa,,,bea@client.example (work),,Client Lda",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected} missing from:\n{stdout}"
        );
    }

    let stdout = run(readme_block("walkthrough-receive")).await;
    for expected in [
        "refused: curl exit 55",
        r#"{"subject":"Quote","from":"Bea <bea@client.example>","message_id":"q1@client.example""#,
        "Received: from ",
        "by mail.example.net (Mailroom) with ESMTP id",
        r#"{"imported":1,"errors":[]}"#,
        r#"{"subject":"old mail","received_at":"2024-01-01T09:00:00Z","flags":["seen"]}"#,
    ] {
        assert!(
            stdout.contains(expected),
            "{expected} missing from:\n{stdout}"
        );
    }
    assert_eq!(
        stdout.matches(r#""subject":"Quote""#).count(),
        1,
        "ana@ and sales@ in one transaction: one copy\n{stdout}"
    );

    let stdout = run(readme_block("walkthrough-send")).await;
    for expected in [
        "refused: curl exit 55",
        r#"202 {"subject":"Follow-up","sender":"sales@acme.example","recipients":[{"recipient":"bea@client.example","status":"queued"}]}"#,
        r#"200 {"subject":"Follow-up","sender":"sales@acme.example""#,
        r#"["Follow-up","Your quote"]"#,
        r#"{"subject":"Your quote","recipients":["bea@client.example"]}"#,
    ] {
        assert!(
            stdout.contains(expected),
            "{expected} missing from:\n{stdout}"
        );
    }
    assert_eq!(
        stdout
            .matches(r#"{"subject":"Follow-up","recipients""#)
            .count(),
        1,
        "one message per Idempotency-Key\n{stdout}"
    );

    let stdout = run(readme_block("walkthrough-read")).await;
    for expected in [
        r#"{"name":"INBOX","total":1,"unread":1}"#,
        r#"{"name":"Archive","total":1,"unread":0}"#,
        r#"{"subject":"Re: Quote","snippet":"Any news?"#,
        r#""message_count":2,"unread_count":2,"participants":["Bea <bea@client.example>"]}"#,
        r#""remote_content_blocked":true}"#,
        r#"{"flags":["seen","flagged"]}"#,
        r#"{"subject":"Re: Quote","uid":2}"#,
        r#"{"subject":"Re: Quote","from":"Bea <bea@client.example>"}"#,
        r#"{"name":"Trash","total":1}"#,
    ] {
        assert!(
            stdout.contains(expected),
            "{expected} missing from:\n{stdout}"
        );
    }
    let html = stdout
        .lines()
        .find(|l| l.contains(r#""html":"#))
        .unwrap_or_default();
    assert!(html.contains("Any news?"), "{stdout}");
    for gone in ["<script", "onclick", "tracker.example"] {
        assert!(!html.contains(gone), "{gone} survived: {html}");
    }
}

/// Replicas starting at the same moment on a fresh database apply the migrations once.
#[test]
fn concurrent_first_starts_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mailroom"));
            cmd.arg("migrate")
                .env_clear()
                .env("MAILROOM_DATA_DIR", dir.path())
                .env("MAILROOM_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            if let Ok(url) = std::env::var("MAILROOM_TEST_DATABASE_URL") {
                cmd.env("MAILROOM_DATABASE_URL", url);
            }
            cmd.spawn().unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    if !is_postgres() {
        let url = format!(
            "sqlite://{}?mode=ro",
            dir.path().join("mailroom.db").display()
        );
        let rt = tokio::runtime::Runtime::new().unwrap();
        let applied = rt.block_on(async {
            use sea_orm::{ConnectionTrait, Statement};
            let db = sea_orm::Database::connect(url).await.unwrap();
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT COUNT(*) AS n FROM seaql_migrations",
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        });
        assert_eq!(
            applied as usize,
            mailroom_migration::Migrator::migrations().len()
        );
    }
}
