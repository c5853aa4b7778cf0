//! Signatures and identities.

use crate::common::*;
use crate::mailboxes::{fixture_verified_domain, mailbox};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn signatures_are_sanitised_and_one_is_the_default() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (d, _) = fixture_verified_domain(&app, &t.owner_token).await;
    let (mid, address) = mailbox(&app, &t.owner_token, &d, "ana").await;
    let token = app.login(&address, PASSWORD).await;
    let base = format!("/v1/mailboxes/{mid}/signatures");
    let evil = r#"<p onclick="steal()">Ana <b>Silva</b></p><script>alert(1)</script><a href="javascript:alert(2)">x</a><form action="https://evil.example"><input name=p></form><style>body{display:none}</style><a href="https://acme.example">site</a>"#;
    let r = app
        .post(
            &base,
            &token,
            json!({"name": "Work", "text": "Ana Silva\nAcme", "html": evil}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let html = r.body["html"].as_str().unwrap();
    for gone in [
        "<script",
        "onclick",
        "javascript:",
        "<form",
        "<input",
        "<style",
        "display:none",
    ] {
        assert!(!html.contains(gone), "{gone} survived: {html}");
    }
    assert!(
        html.contains("<b>Silva</b>") && html.contains(r#"href="https://acme.example""#),
        "{html}"
    );
    assert_eq!(
        r.body["is_default"], true,
        "the first signature is the default"
    );
    let first = r.body["id"].as_str().unwrap().to_string();

    let r = app
        .post(
            &base,
            &token,
            json!({"name": "Short", "text": "A.", "is_default": true}),
        )
        .await;
    let second = r.body["id"].as_str().unwrap().to_string();
    let list = app.get(&base, &token).await;
    let defaults: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["is_default"] == true)
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(defaults, [second.as_str()]);
    let r = app
        .patch(
            &format!("{base}/{first}"),
            &token,
            json!({"is_default": true, "html": "<i>new</i><img src=x onerror=alert(1)>"}),
        )
        .await;
    assert_eq!(r.body["is_default"], true);
    assert!(!r.body["html"].as_str().unwrap().contains("onerror"));
    assert_eq!(
        app.get(&format!("{base}/{second}"), &token).await.body["is_default"],
        false
    );

    for bad in [
        json!({"text": "no name"}),
        json!({"name": "", "text": "x"}),
        json!({"name": "x", "text": "y".repeat(10_001)}),
    ] {
        assert_eq!(app.post(&base, &token, bad).await.status, 400);
    }
    assert_eq!(
        app.delete(&format!("{base}/{second}"), &token).await.status,
        204
    );
    assert_eq!(
        app.get(&format!("{base}/{second}"), &token).await.status,
        404
    );
}

#[tokio::test]
async fn identities_are_the_addresses_a_mailbox_may_send_as() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let tok = &t.owner_token;
    let (d, domain) = fixture_verified_domain(&app, tok).await;
    let (mid, ana) = mailbox(&app, tok, &d, "ana").await;
    let (_, bo) = mailbox(&app, tok, &d, "bo").await;
    app.post(
        "/v1/aliases",
        tok,
        json!({"domain_id": d, "local_part": "sales", "destinations": [ana]}),
    )
    .await;
    app.post(
        "/v1/aliases",
        tok,
        json!({"domain_id": d, "local_part": "billing", "destinations": [bo]}),
    )
    .await;
    app.post(
        "/v1/groups",
        tok,
        json!({"domain_id": d, "local_part": "team", "members": [ana, bo]}),
    )
    .await;
    app.post(
        "/v1/aliases",
        tok,
        json!({"domain_id": d, "local_part": "*", "destinations": [ana]}),
    )
    .await;
    let token = app.login(&ana, PASSWORD).await;
    let base = format!("/v1/mailboxes/{mid}/identities");

    let list = app.get(&base, &token).await;
    assert_eq!(list.body["items"][0]["email"], ana);
    assert_eq!(list.body["items"][0]["may_delete"], false);

    let sig = app
        .post(
            &format!("/v1/mailboxes/{mid}/signatures"),
            &token,
            json!({"name": "Sales", "text": "Sales team"}),
        )
        .await;
    let sig_id = sig.body["id"].as_str().unwrap();
    for allowed in [
        format!("sales@{domain}"),
        format!("team@{domain}"),
        format!("ana+shop@{domain}"),
    ] {
        let r = app.post(&base, &token, json!({"email": allowed, "name": "Acme Sales", "reply_to": [format!("sales@{domain}")], "signature_id": sig_id})).await;
        assert_eq!(r.status, 201, "{allowed}: {r:?}");
        assert_eq!(r.body["signature_id"], sig_id);
    }
    for refused in [
        format!("billing@{domain}"),
        bo.clone(),
        format!("anything@{domain}"),
        "ceo@bigcorp.example".to_string(),
    ] {
        let r = app.post(&base, &token, json!({"email": refused})).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "not_allowed_sender"),
            "{refused}: {r:?}"
        );
    }
    let r = app
        .post(
            &base,
            &token,
            json!({"email": format!("sales@{domain}"), "reply_to": ["not an address"]}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "reply_to[0]");

    let list = app.get(&base, &token).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 4);
    let own_id = list.body["items"][0]["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("{base}/{own_id}"), &token).await.code(),
        "own_identity"
    );
    let sales_id = list.body["items"][1]["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("{base}/{sales_id}"),
            &token,
            json!({"signature_id": null, "bcc": [bo]}),
        )
        .await;
    assert_eq!(
        (r.body["signature_id"].is_null(), r.body["bcc"][0].as_str()),
        (true, Some(bo.as_str()))
    );
    assert_eq!(
        app.patch(&format!("{base}/{sales_id}"), &token, json!({"email": bo}))
            .await
            .status,
        400
    );
    // Deleting the signature detaches it from identities.
    app.delete(&format!("/v1/mailboxes/{mid}/signatures/{sig_id}"), &token)
        .await;
    let list = app.get(&base, &token).await;
    assert!(
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["signature_id"].is_null())
    );
    assert_eq!(
        app.delete(&format!("{base}/{sales_id}"), &token)
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn signatures_and_identities_of_another_mailbox_or_tenant_are_out_of_reach() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let (d, _) = fixture_verified_domain(&app, &a.owner_token).await;
    let (ana, ana_addr) = mailbox(&app, &a.owner_token, &d, "ana").await;
    let (bo, _) = mailbox(&app, &a.owner_token, &d, "bo").await;
    let sig = app
        .post(
            &format!("/v1/mailboxes/{bo}/signatures"),
            &a.owner_token,
            json!({"name": "Bo", "text": "Bo"}),
        )
        .await;
    let sig_id = sig.body["id"].as_str().unwrap();
    let ident = app
        .get(&format!("/v1/mailboxes/{bo}/identities"), &a.owner_token)
        .await
        .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ana_token = app.login(&ana_addr, PASSWORD).await;
    let (_, b_key) = app.api_key(&b.owner_token, &["mailboxes:write"]).await;
    for cred in [&ana_token, &b.owner_token, &b_key] {
        for (method, path, body) in [
            (Method::GET, format!("/v1/mailboxes/{bo}/signatures"), None),
            (
                Method::GET,
                format!("/v1/mailboxes/{bo}/signatures/{sig_id}"),
                None,
            ),
            (
                Method::PATCH,
                format!("/v1/mailboxes/{bo}/signatures/{sig_id}"),
                Some(json!({"name": "x"})),
            ),
            (
                Method::DELETE,
                format!("/v1/mailboxes/{bo}/signatures/{sig_id}"),
                None,
            ),
            (Method::GET, format!("/v1/mailboxes/{bo}/identities"), None),
            (
                Method::PATCH,
                format!("/v1/mailboxes/{bo}/identities/{ident}"),
                Some(json!({"name": "x"})),
            ),
            (
                Method::DELETE,
                format!("/v1/mailboxes/{bo}/identities/{ident}"),
                None,
            ),
        ] {
            assert_eq!(
                app.call(method.clone(), &path, Some(cred), body)
                    .await
                    .status,
                404,
                "{method} {path}"
            );
        }
    }
    // Another mailbox's signature through one's own mailbox.
    let r = app
        .patch(
            &format!("/v1/mailboxes/{ana}/signatures/{sig_id}"),
            &ana_token,
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(r.status, 404);
    let own_ident = app
        .get(&format!("/v1/mailboxes/{ana}/identities"), &ana_token)
        .await
        .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .patch(
            &format!("/v1/mailboxes/{ana}/identities/{own_ident}"),
            &ana_token,
            json!({"signature_id": sig_id}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "signature_id", "{r:?}");
}
