//! Vacation auto-replies: set over REST (by the mailbox's own login), answering a person once
//! per interval, with `Auto-Submitted: auto-replied`, threaded to the message answered — and
//! never a mailing list, automatic mail (so two auto-replies never answer each other), or
//! mail that does not name the mailbox.

use crate::common::*;
use crate::smtp::{all_messages_in, raw, receiving, send_data, subjects};
use crate::smtp_wire::code_of;
use serde_json::json;

/// Sends `headers` + a short body from `from` to the SMTP recipient `to`; the final reply.
async fn send(app: &TestApp, from: &str, to: &str, headers: &str) -> String {
    let message = format!(
        "From: <{from}>\r\n{headers}Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\nHello.\r\n"
    );
    send_data(app, from, &[to], &message).await
}

#[tokio::test]
async fn people_get_one_auto_reply_and_lists_and_robots_none() {
    let app = TestApp::spawn_isolated_with(|c| c.jobs.enabled = true).await;
    let (t, d, _, ana_id, ana) = receiving(&app).await;
    let tok = &t.owner_token;
    let (bob_id, bob) = crate::mailboxes::mailbox(&app, tok, &d, "bob").await;
    let ana_token = app.login(&ana, PASSWORD).await;
    let path = format!("/v1/mailboxes/{ana_id}/vacation");

    let r = app.get(&path, &ana_token).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["enabled"], false);
    for (bad, field) in [
        (json!({"enabled": true}), "body"),
        (json!({"interval_days": 0}), "interval_days"),
        (
            json!({"starts_at": "2026-12-10T00:00:00Z", "ends_at": "2026-12-09T00:00:00Z"}),
            "ends_at",
        ),
        (json!({"subject": "two\nlines"}), "subject"),
    ] {
        let r = app.put_json(&path, &ana_token, bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {r:?}");
        assert_eq!(r.body["errors"][0]["field"], field, "{bad}: {r:?}");
    }
    let r = app
        .put_json(
            &path,
            &ana_token,
            json!({"enabled": true, "body": "I am away until Monday.", "interval_days": 3}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["active"], true);
    // Bob is away too: his auto-reply must not answer Ana's.
    let r = app
        .put_json(
            &format!("/v1/mailboxes/{bob_id}/vacation"),
            tok,
            json!({"enabled": true, "body": "Bob is out."}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    let first = format!("To: <{ana}>\r\nSubject: Quote\r\nMessage-ID: <q1@acme.test>\r\n");
    assert_eq!(code_of(&send(&app, &bob, &ana, &first).await), 250);
    let replied = eventually(20, || async {
        all_messages_in(&app, tok, &bob_id, "INBOX")
            .await
            .iter()
            .any(|m| m["subject"] == "Auto: Quote")
    })
    .await;
    assert!(
        replied,
        "{:?}",
        all_messages_in(&app, tok, &bob_id, "INBOX").await
    );
    let reply = all_messages_in(&app, tok, &bob_id, "INBOX").await;
    let id = reply[0]["id"].as_str().unwrap();
    let text = String::from_utf8(raw(&app, tok, &bob_id, id).await).unwrap();
    assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
    assert!(text.contains("In-Reply-To: <q1@acme.test>"), "{text}");
    assert!(text.contains("I am away until Monday."), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("From:") && l.contains(ana.as_str())),
        "{text}"
    );

    // A second message from Bob within the interval, a list message, automatic mail and mail
    // that names someone else: no reply to any of them.
    let second = format!("To: <{ana}>\r\nSubject: Quote again\r\nMessage-ID: <q2@acme.test>\r\n");
    assert_eq!(code_of(&send(&app, &bob, &ana, &second).await), 250);
    let list = format!("To: <{ana}>\r\nSubject: Digest\r\nList-Id: <news.list.test>\r\n");
    assert_eq!(
        code_of(&send(&app, "news@list.test", &ana, &list).await),
        250
    );
    let robot = format!("To: <{ana}>\r\nSubject: Receipt\r\nAuto-Submitted: auto-generated\r\n");
    assert_eq!(
        code_of(&send(&app, "shop@store.test", &ana, &robot).await),
        250
    );
    let bcc = "To: <team@elsewhere.test>\r\nSubject: FYI\r\n";
    assert_eq!(
        code_of(&send(&app, "carol@client.test", &ana, bcc).await),
        250
    );
    // Let the job runner do whatever it would (it polls every few hundred milliseconds).
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let bobs = subjects(&all_messages_in(&app, tok, &bob_id, "INBOX").await);
    assert_eq!(bobs, ["Auto: Quote"], "one reply to Bob");
    // Ana's inbox: what she was sent, and no auto-reply from Bob's auto-reply.
    let anas = subjects(&all_messages_in(&app, tok, &ana_id, "INBOX").await);
    assert_eq!(anas, ["Digest", "FYI", "Quote", "Quote again", "Receipt"]);

    // Off: nothing more. Another tenant and another mailbox's login cannot see it.
    let b = app.tenant().await;
    assert_eq!(app.get(&path, &b.owner_token).await.status, 404);
    let r = app
        .put_json(&path, &b.owner_token, json!({"enabled": false}))
        .await;
    assert_eq!(r.status, 404);
    let bob_token = app.login(&bob, PASSWORD).await;
    assert_eq!(app.get(&path, &bob_token).await.status, 404);
    let r = app
        .put_json(
            &path,
            &ana_token,
            json!({"starts_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.body["enabled"], true, "{r:?}");
    assert_eq!(r.body["active"], false, "{r:?}");
}
