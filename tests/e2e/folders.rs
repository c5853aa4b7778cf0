//! A mailbox's folders.

use crate::common::*;
use crate::mailboxes::{fixture_verified_domain, mailbox};
use reqwest::Method;
use serde_json::{Value, json};

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

fn id_of(list: &Value, name: &str) -> String {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn folders_form_a_hierarchy_and_inbox_is_fixed() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (domain_id, _) = fixture_verified_domain(&app, &t.owner_token).await;
    let (mid, address) = mailbox(&app, &t.owner_token, &domain_id, "ana").await;
    let token = app.login(&address, PASSWORD).await;
    let base = format!("/v1/mailboxes/{mid}/folders");

    let list = app.get(&base, &token).await;
    assert_eq!(
        names(&list.body),
        ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]
    );
    let inbox = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "INBOX")
        .unwrap()
        .clone();
    assert_eq!(
        (inbox["special_use"].as_str(), inbox["uidnext"].as_i64()),
        (Some("inbox"), Some(1))
    );

    // Missing parents are created; INBOX in any case is INBOX.
    let r = app
        .post(&base, &token, json!({"name": "Projects/2026/Q1"}))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        (r.body["name"].as_str(), r.body["parent"].as_str()),
        (Some("Projects/2026/Q1"), Some("Projects/2026"))
    );
    let r = app
        .post(&base, &token, json!({"name": "inbox/Receipts"}))
        .await;
    assert_eq!(r.body["name"], "INBOX/Receipts");
    for (bad, code) in [
        ("Projects", "folder_exists"),
        ("Inbox", "folder_exists"),
        ("a//b", "validation_failed"),
        ("/a", "validation_failed"),
        ("a*", "validation_failed"),
    ] {
        let r = app.post(&base, &token, json!({"name": bad})).await;
        assert_eq!(r.code(), code, "{bad}: {r:?}");
    }

    // Renaming moves the children; UIDVALIDITY of moved folders stays.
    let list = app.get(&base, &token).await;
    let projects = id_of(&list.body, "Projects");
    let q1_before = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Projects/2026/Q1")
        .unwrap()["uidvalidity"]
        .clone();
    let r = app
        .patch(
            &format!("{base}/{projects}"),
            &token,
            json!({"name": "Archive/Projects"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let list = app.get(&base, &token).await;
    let n = names(&list.body);
    assert!(
        n.contains(&"Archive/Projects/2026/Q1".to_string())
            && !n.iter().any(|x| x.starts_with("Projects")),
        "{n:?}"
    );
    let q1 = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Archive/Projects/2026/Q1")
        .unwrap()
        .clone();
    assert_eq!(q1["uidvalidity"], q1_before);
    let archive = id_of(&list.body, "Archive");
    let r = app
        .patch(
            &format!("{base}/{archive}"),
            &token,
            json!({"name": "Archive/Projects/Deeper"}),
        )
        .await;
    assert_eq!(r.status, 400, "moved inside itself: {r:?}");

    let inbox_id = id_of(&list.body, "INBOX");
    assert_eq!(
        app.patch(
            &format!("{base}/{inbox_id}"),
            &token,
            json!({"name": "Old"})
        )
        .await
        .code(),
        "inbox_protected"
    );
    assert_eq!(
        app.delete(&format!("{base}/{inbox_id}"), &token)
            .await
            .code(),
        "inbox_protected"
    );
    let sent = id_of(&list.body, "Sent");
    assert_eq!(
        app.patch(&format!("{base}/{sent}"), &token, json!({"name": "INBOX"}))
            .await
            .code(),
        "inbox_protected"
    );
    let r = app
        .patch(
            &format!("{base}/{sent}"),
            &token,
            json!({"subscribed": false}),
        )
        .await;
    assert_eq!(
        (
            r.body["subscribed"].as_bool(),
            r.body["special_use"].as_str()
        ),
        (Some(false), Some("sent"))
    );

    // Deleting takes the children; a folder re-created under an old name gets a new UIDVALIDITY.
    let ap = id_of(&list.body, "Archive/Projects");
    assert_eq!(
        app.delete(&format!("{base}/{ap}"), &token).await.status,
        204
    );
    let n = names(&app.get(&base, &token).await.body);
    assert!(
        !n.iter().any(|x| x.starts_with("Archive/Projects")),
        "{n:?}"
    );
    let again = app
        .post(&base, &token, json!({"name": "Archive/Projects/2026/Q1"}))
        .await;
    assert!(again.body["uidvalidity"].as_i64().unwrap() > q1["uidvalidity"].as_i64().unwrap());
    let log = app
        .get("/v1/audit-log?action=folder.rename", &t.owner_token)
        .await;
    assert_eq!(log.body["items"][0]["actor"]["type"], "mailbox");
}

#[tokio::test]
async fn folders_of_another_mailbox_or_tenant_are_out_of_reach() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let (domain_id, _) = fixture_verified_domain(&app, &a.owner_token).await;
    let (ana, ana_address) = mailbox(&app, &a.owner_token, &domain_id, "ana").await;
    let (bo, _) = mailbox(&app, &a.owner_token, &domain_id, "bo").await;
    let bo_folders = app
        .get(&format!("/v1/mailboxes/{bo}/folders"), &a.owner_token)
        .await;
    let bo_inbox = id_of(&bo_folders.body, "INBOX");
    let ana_token = app.login(&ana_address, PASSWORD).await;
    let (_, b_key) = app.api_key(&b.owner_token, &["mailboxes:write"]).await;
    let cases = [
        (Method::GET, format!("/v1/mailboxes/{bo}/folders"), None),
        (
            Method::POST,
            format!("/v1/mailboxes/{bo}/folders"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::GET,
            format!("/v1/mailboxes/{bo}/folders/{bo_inbox}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/v1/mailboxes/{bo}/folders/{bo_inbox}"),
            Some(json!({"subscribed": false})),
        ),
        (
            Method::DELETE,
            format!("/v1/mailboxes/{bo}/folders/{bo_inbox}"),
            None,
        ),
        // Right mailbox, folder of another one.
        (
            Method::GET,
            format!("/v1/mailboxes/{ana}/folders/{bo_inbox}"),
            None,
        ),
    ];
    for cred in [&ana_token, &b.owner_token, &b_key] {
        for (method, path, body) in &cases {
            if cred != &ana_token || !path.contains(&ana) {
                let r = app
                    .call(method.clone(), path, Some(cred), body.clone())
                    .await;
                assert_eq!(r.status, 404, "{method} {path}: {r:?}");
            }
        }
    }
    let r = app
        .call(
            Method::GET,
            &format!("/v1/mailboxes/{ana}/folders/{bo_inbox}"),
            Some(&ana_token),
            None,
        )
        .await;
    assert_eq!(
        r.status, 404,
        "a folder of another mailbox through one's own: {r:?}"
    );
    assert_eq!(
        app.get(
            &format!("/v1/mailboxes/{bo}/folders/{bo_inbox}"),
            &a.owner_token
        )
        .await
        .status,
        200
    );
}
