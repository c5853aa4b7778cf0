//! The change log a listener catches up from after a missed event (an IMAP IDLE whose
//! subscription lagged, a live view after Redis was away): `TenantStore::folder_changes`
//! reports what was added, changed and removed after a MODSEQ, for the mailbox's own folders
//! only, and only to its own tenant.

use crate::common::*;
use crate::mail_rest::{folder, msg, put};
use crate::smtp::receiving;
use mailroom_core::auth::{Auth, ClientInfo, Scope};
use mailroom_core::ratelimit::RateLimiter;
use mailroom_core::secrets::Secrets;
use mailroom_core::store::TenantStore;
use serde_json::json;
use uuid::Uuid;

/// The tenant store a request with `token` would get.
async fn store_of(app: &TestApp, token: &str) -> TenantStore {
    let secrets = Secrets::load(&app.cfg).unwrap();
    let auth = Auth::new(
        app.store(),
        &secrets.jwt,
        app.cfg.auth.clone(),
        RateLimiter::memory(),
    );
    auth.authenticate(token)
        .await
        .unwrap()
        .tenant_store(app.store(), Scope::MessagesRead, &ClientInfo::default())
        .unwrap()
}

fn uuid(v: &serde_json::Value) -> Uuid {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_listener_catches_up_from_the_change_log_after_a_modseq() {
    let app = TestApp::spawn().await;
    let (t, d, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    let mut ids = Vec::new();
    for i in 0..3 {
        let raw = msg(1 + i, "bob@example.test", &format!("m{i}"), "", "hi");
        ids.push(put(&app, tok, &ana, "INBOX", false, &raw).await);
    }
    let inbox = folder(&app, tok, &ana, "INBOX").await;
    let (mbox, inbox_id) = (ana.parse::<Uuid>().unwrap(), uuid(&inbox["id"]));
    let ts = store_of(&app, tok).await;

    let all = ts.folder_changes(mbox, inbox_id, 0).await.unwrap();
    assert_eq!(
        all.changed.iter().map(|c| c.0).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(all.vanished.is_empty());
    assert_eq!(all.highestmodseq, inbox["highestmodseq"].as_i64().unwrap());
    let seen = all.highestmodseq;

    // Meanwhile: the second message is flagged, the third moves to Trash.
    let r = app
        .patch(
            &format!("/v1/mailboxes/{ana}/messages/{}", ids[1]),
            tok,
            json!({"flagged": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = app
        .delete(&format!("/v1/mailboxes/{ana}/messages/{}", ids[2]), tok)
        .await;
    assert!(r.status == 200 || r.status == 204, "{r:?}");

    let since = ts.folder_changes(mbox, inbox_id, seen).await.unwrap();
    let after = folder(&app, tok, &ana, "INBOX").await;
    assert_eq!(
        since.highestmodseq,
        after["highestmodseq"].as_i64().unwrap()
    );
    assert_eq!(since.changed.len(), 1, "{since:?}");
    assert_eq!(since.changed[0].0, 2);
    assert!(since.changed[0].1 > seen);
    assert_eq!(since.vanished, [3], "the message moved to Trash left INBOX");
    let trash = folder(&app, tok, &ana, "Trash").await;
    let in_trash = ts
        .folder_changes(mbox, uuid(&trash["id"]), 0)
        .await
        .unwrap();
    assert_eq!(in_trash.changed.len(), 1, "{in_trash:?}");
    // Nothing after the newest MODSEQ.
    let none = ts
        .folder_changes(mbox, inbox_id, since.highestmodseq)
        .await
        .unwrap();
    assert!(none.changed.is_empty() && none.vanished.is_empty());

    // Another mailbox's folder id, under this mailbox: not found.
    let (bo, _) = crate::mailboxes::mailbox(&app, tok, &d, "bo").await;
    let bo_inbox = folder(&app, tok, &bo, "INBOX").await;
    let wrong = ts.folder_changes(mbox, uuid(&bo_inbox["id"]), 0).await;
    assert!(wrong.is_err(), "{wrong:?}");

    // Another tenant sees none of it.
    let other = app.tenant().await;
    let theirs = store_of(&app, &other.owner_token).await;
    let leak = theirs.folder_changes(mbox, inbox_id, 0).await;
    assert!(leak.is_err(), "{leak:?}");
}

/// The quota is checked inside the storing transaction: imports racing each other cannot
/// together fill a mailbox past its quota (each alone would fit), and the ones that do not fit
/// get `409 quota_exceeded` with nothing stored.
#[tokio::test]
async fn concurrent_imports_cannot_overfill_a_quota() {
    let app = TestApp::spawn().await;
    let (t, d, _, _, _) = receiving(&app).await;
    let tok = &t.owner_token;
    let r = app
        .post(
            "/v1/mailboxes",
            tok,
            json!({"domain_id": d, "local_part": "small", "password": PASSWORD, "quota_bytes": 10_000}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let small = r.body["id"].as_str().unwrap().to_string();
    let raw = msg(1, "bob@example.test", "filler", "", &"x".repeat(1_800));
    let size = raw.len() as i64;
    let attempts = 8;
    let tries = (0..attempts).map(|_| {
        let (app, small, raw) = (&app, small.clone(), raw.clone());
        async move {
            app.http
                .post(format!(
                    "{}/v1/mailboxes/{small}/import?folder=INBOX",
                    app.base
                ))
                .bearer_auth(tok)
                .header("content-type", "message/rfc822")
                .body(raw)
                .send()
                .await
                .unwrap()
        }
    });
    let mut stored = 0;
    for r in futures_util::future::join_all(tries).await {
        match r.status().as_u16() {
            200 => stored += 1,
            409 => {
                let body: serde_json::Value = r.json().await.unwrap();
                assert_eq!(body["code"], "quota_exceeded", "{body}");
            }
            other => panic!("{other}: {}", r.text().await.unwrap()),
        }
    }
    assert_eq!(stored, 10_000 / size, "as many as fit, no more");
    let m = app.get(&format!("/v1/mailboxes/{small}"), tok).await;
    let used = m.body["used_bytes"].as_i64().unwrap();
    assert!(
        used <= 10_000,
        "{used} bytes stored against a 10000-byte quota"
    );
    assert_eq!(used, stored * size);
    let inbox = folder(&app, tok, &small, "INBOX").await;
    assert_eq!(inbox["total"].as_i64().unwrap(), stored, "{inbox}");
}

/// What an IMAP session reads after each command (`TenantStore::index_changes`, one query)
/// gives the folder's counters as REST shows them, and `\Recent` goes to one claimant only,
/// also to sessions that read the folder at the same moment (the second one's compare-and-set
/// finds the mark moved and gets nothing); a message arriving later is claimable again.
/// Another mailbox's or tenant's folder is not found.
#[tokio::test]
async fn recent_goes_to_one_claimant_even_from_the_same_read() {
    let app = TestApp::spawn().await;
    let (t, d, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    for i in 0..2 {
        let raw = msg(1 + i, "bob@example.test", &format!("m{i}"), "", "hi");
        put(&app, tok, &ana, "INBOX", false, &raw).await;
    }
    let inbox = folder(&app, tok, &ana, "INBOX").await;
    let (mbox, inbox_id) = (ana.parse::<Uuid>().unwrap(), uuid(&inbox["id"]));
    let ts = store_of(&app, tok).await;

    let ch = ts.index_changes(mbox, inbox_id, 0).await.unwrap();
    let seen = ch.folder;
    assert_eq!(seen.id, inbox_id);
    assert_eq!(seen.uidnext, 3);
    assert_eq!(seen.highestmodseq, inbox["highestmodseq"].as_i64().unwrap());
    assert_eq!(ch.changed.iter().map(|e| e.uid).collect::<Vec<_>>(), [1, 2]);

    // Two sessions read the folder at the same moment: the first claims both, the second none.
    let first = ts.claim_recent(&seen).await.unwrap();
    assert_eq!(first, (seen.recent_uid, 3));
    assert!(first.0 <= 1, "{first:?}");
    let second = ts.claim_recent(&seen).await.unwrap();
    assert!(second.0 >= second.1, "claimed twice: {second:?}");

    // A message arriving later is new again, for whoever reads the folder next.
    let raw = msg(3, "bob@example.test", "m2", "", "hi");
    put(&app, tok, &ana, "INBOX", false, &raw).await;
    let now = ts
        .index_changes(mbox, inbox_id, seen.highestmodseq)
        .await
        .unwrap();
    assert_eq!(now.changed.iter().map(|e| e.uid).collect::<Vec<_>>(), [3]);
    assert_eq!(ts.claim_recent(&now.folder).await.unwrap(), (3, 4));
    let stale = ts.claim_recent(&seen).await.unwrap();
    assert!(stale.0 >= stale.1, "claimed twice: {stale:?}");

    // Another mailbox's folder under this mailbox, and another tenant: not found.
    let (bo, _) = crate::mailboxes::mailbox(&app, tok, &d, "bo").await;
    let bo_inbox = folder(&app, tok, &bo, "INBOX").await;
    assert!(
        ts.index_changes(mbox, uuid(&bo_inbox["id"]), 0)
            .await
            .is_err()
    );
    let other = app.tenant().await;
    let theirs = store_of(&app, &other.owner_token).await;
    assert!(theirs.index_changes(mbox, inbox_id, 0).await.is_err());
    assert!(theirs.claim_recent(&now.folder).await.is_err());
}
