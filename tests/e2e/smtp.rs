//! The SMTP server's recipient check against the real store.

use crate::common::*;
use crate::mailboxes::{fixture_verified_domain, mailbox};
use mailroom_worker::smtp::recipients::StoreRecipients;
use mailroom_worker::smtp::session::{Recipients, Verdict};
use serde_json::json;

#[tokio::test]
async fn rcpt_verdicts_come_from_the_resolver_and_quotas() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let tok = &t.owner_token;
    let (d, domain) = fixture_verified_domain(&app, tok).await;
    let (_, ana) = mailbox(&app, tok, &d, "ana").await;
    let (bo_id, bo) = mailbox(&app, tok, &d, "bo").await;
    let (full_id, full) = mailbox(&app, tok, &d, "full").await;
    app.patch(
        &format!("/v1/mailboxes/{full_id}"),
        tok,
        json!({"quota_bytes": 0}),
    )
    .await;
    app.patch(
        &format!("/v1/mailboxes/{bo_id}"),
        tok,
        json!({"status": "suspended"}),
    )
    .await;
    app.post("/v1/aliases", tok, json!({"domain_id": d, "local_part": "sales", "destinations": [ana, "partner@elsewhere.example"]})).await;
    let pending = app
        .post(
            "/v1/domains",
            tok,
            json!({"name": format!("p{}.com", rand_suffix())}),
        )
        .await;
    let pending_name = pending.body["name"].as_str().unwrap().to_string();

    let mut rcpts = StoreRecipients::new(app.store().system());
    for (address, want) in [
        (ana.clone(), Verdict::Accept),
        (ana.to_uppercase(), Verdict::Accept),
        (format!("ana+news@{domain}"), Verdict::Accept),
        (format!("sales@{domain}"), Verdict::Accept),
        (format!("nobody@{domain}"), Verdict::Unknown),
        (bo, Verdict::Suspended),
        (full, Verdict::OverQuota),
        (format!("ana@{pending_name}"), Verdict::NotOurs),
        ("someone@elsewhere.example".to_string(), Verdict::NotOurs),
    ] {
        assert_eq!(rcpts.check(&address).await, want, "{address}");
    }
}
