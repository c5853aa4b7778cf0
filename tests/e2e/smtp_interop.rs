//! Real clients against the SMTP server: Python's smtplib (plain and STARTTLS) and swaks
//! (Debian package; with TLS and with a pipelined transaction), and the MIME torture corpus
//! delivered over SMTP and imported over REST, each coming back byte for byte.

use crate::common::*;
use crate::smtp::{all_messages, all_messages_in, bdat, inbox, raw, receiving, smtp_addr};
use crate::smtp_wire::{Wire, code_of};

#[tokio::test]
async fn smtplib_plain_and_starttls() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let out = tokio::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/interop/smtp_clients.py"
        ))
        .arg(smtp_addr(&app).port().to_string())
        .arg(&ana)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let items = inbox(&app, &t.owner_token, &ana_id).await;
    let subjects: Vec<&str> = items
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["over tls", "plain"]);
    let tls = raw(
        &app,
        &t.owner_token,
        &ana_id,
        items[0]["id"].as_str().unwrap(),
    )
    .await;
    assert!(
        String::from_utf8_lossy(&tls).contains("with ESMTPS id"),
        "the trace field says TLS"
    );
}

#[tokio::test]
async fn swaks_with_tls_and_pipelining() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let port = smtp_addr(&app).port().to_string();
    for extra in [&["--tls"][..], &["--pipeline"][..]] {
        let out = tokio::process::Command::new("swaks")
            .args([
                "--server",
                "127.0.0.1",
                "--port",
                &port,
                "--to",
                &ana,
                "--from",
                "sw@outside.example",
                "--helo",
                "swaks.example",
                "--header",
                "Subject: via swaks",
                "--body",
                "hello from swaks",
            ])
            .args(extra)
            .output()
            .await
            .expect("swaks is installed (Debian package swaks)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("250 2.0.0 message accepted"), "{text}");
    }
    let items = inbox(&app, &t.owner_token, &ana_id).await;
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|m| m["subject"] == "via swaks"));
}

#[tokio::test]
async fn the_torture_corpus_round_trips_over_smtp_and_import() {
    let app = TestApp::spawn().await;
    let (t, d, _, ana_id, ana) = receiving(&app).await;
    let (bo_id, _) = crate::mailboxes::mailbox(&app, &t.owner_token, &d, "bo").await;
    let files = mime_torture_corpus();
    let mut w = Wire::connect(smtp_addr(&app)).await;
    let mut import_ids = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let r = bdat(&mut w, "t@outside.example", &[&ana], &bytes).await;
        assert_eq!(code_of(&r), 250, "{}: {r}", f.display());
        let res = app
            .http
            .post(format!("{}/v1/mailboxes/{bo_id}/import", app.base))
            .bearer_auth(&t.owner_token)
            .header("content-type", "message/rfc822")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", f.display());
        let body: serde_json::Value = res.json().await.unwrap();
        import_ids.push(body["messages"][0]["id"].as_str().unwrap().to_string());
    }
    // SMTP deliveries: one per distinct file (malformed/009 and 011 are identical bytes: the
    // second is, by the documented rule, a retry of the first). Imports: every file.
    let distinct: std::collections::HashSet<Vec<u8>> =
        files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    // Odd MIME is what spam looks like too: some are filed in Junk.
    let mut by_smtp = all_messages(&app, &t.owner_token, &ana_id).await;
    by_smtp.extend(all_messages_in(&app, &t.owner_token, &ana_id, "Junk").await);
    assert_eq!(by_smtp.len(), distinct.len());
    let mut seen = std::collections::HashSet::new();
    for m in &by_smtp {
        let stored = raw(&app, &t.owner_token, &ana_id, m["id"].as_str().unwrap()).await;
        assert_eq!(m["size"].as_u64().unwrap() as usize, stored.len());
        // Our trace field (no authentication in this test) and the spam filter's two, then
        // exactly the file.
        let end = stored.windows(2).position(|w| w == b"\r\n").unwrap();
        assert!(stored.starts_with(b"Received: from client.test"));
        let mut rest = &stored[end + 2..];
        while rest.starts_with(b"\t") {
            let e = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            rest = &rest[e + 2..];
        }
        for ours in [&b"X-Spam-Score: "[..], b"X-Spam-Status: "] {
            assert!(rest.starts_with(ours), "message {}", m["id"]);
            let e = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            rest = &rest[e + 2..];
        }
        assert!(
            distinct.contains(rest),
            "message {} is not byte-identical to any file",
            m["id"]
        );
        seen.insert(rest.to_vec());
    }
    assert_eq!(seen.len(), distinct.len(), "every file came back");
    let imported = all_messages(&app, &t.owner_token, &bo_id).await;
    assert_eq!(
        imported.len(),
        files.len(),
        "an import is never deduplicated"
    );
    for (id, f) in import_ids.iter().zip(&files) {
        let stored = raw(&app, &t.owner_token, &bo_id, id).await;
        assert_eq!(stored, std::fs::read(f).unwrap(), "{}", f.display());
        // And every one renders for a reader, its HTML sanitised.
        let r = app
            .get(
                &format!("/v1/mailboxes/{bo_id}/messages/{id}"),
                &t.owner_token,
            )
            .await;
        assert_eq!(r.status, 200, "{}: {r:?}", f.display());
        let html = r.body["html"].as_str().unwrap_or("").to_ascii_lowercase();
        assert!(!html.contains("<script"), "{}", f.display());
        for (n, _) in r.body["attachments"].as_array().unwrap().iter().enumerate() {
            let a = app
                .http
                .get(format!(
                    "{}/v1/mailboxes/{bo_id}/messages/{id}/attachments/{n}",
                    app.base
                ))
                .bearer_auth(&t.owner_token)
                .send()
                .await
                .unwrap();
            assert_eq!(a.status(), 200, "{} attachment {n}", f.display());
            assert!(
                a.headers()["content-disposition"]
                    .to_str()
                    .unwrap()
                    .starts_with("attachment")
            );
        }
    }
}

#[tokio::test]
async fn mbox_import_files_every_message() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, _) = receiving(&app).await;
    let r = app
        .post(
            &format!("/v1/mailboxes/{ana_id}/folders"),
            &t.owner_token,
            serde_json::json!({"name": "Archive/2020"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let mbox = "From a@x Mon Jan  1 00:00:00 2024\nSubject: one\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nhi\n>From quoted\n\nFrom b@x Mon Jan  1 00:00:00 2024\nSubject: two\n\nbye\n";
    let res = app
        .import(
            &t.owner_token,
            &ana_id,
            "folder=Archive/2020&seen=true",
            "application/mbox",
            mbox,
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["imported"], 2, "{body}");
    let r = app
        .get(
            &format!("/v1/mailboxes/{ana_id}/messages?folder=Archive/2020"),
            &t.owner_token,
        )
        .await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["subject"], "one");
    assert_eq!(items[1]["flags"], serde_json::json!(["seen"]));
    assert_eq!(
        items[1]["received_at"], "2024-01-01T00:00:00Z",
        "INTERNALDATE from the Date header"
    );
    let first = raw(
        &app,
        &t.owner_token,
        &ana_id,
        items[1]["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        first,
        b"Subject: one\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nhi\nFrom quoted\n"
    );
    // Bad input: clear errors, nothing stored.
    for (ctype, body, status, code) in [
        ("text/plain", "x", 415, "unsupported_media_type"),
        ("application/mbox", "", 400, "empty_import"),
    ] {
        let res = app
            .http
            .post(format!("{}/v1/mailboxes/{ana_id}/import", app.base))
            .bearer_auth(&t.owner_token)
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let b: serde_json::Value = res.json().await.unwrap();
        assert_eq!(b["code"], code);
    }
    let r = app
        .get(
            &format!("/v1/mailboxes/{ana_id}/messages?folder=Nope"),
            &t.owner_token,
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
}
