//! Tenant isolation: for every tenant-owned resource, another tenant's user and API key can
//! neither see it in lists nor read, change or delete it, and get 404 — never 403.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn another_tenant_cannot_see_or_touch_users_keys_or_audit_entries() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let (a_user, _, _) = app.user(&a, "member").await;
    let (a_key, _) = app.api_key(&a.owner_token, &["users:read"]).await;
    let (_, b_key) = app
        .api_key(
            &b.owner_token,
            &[
                "users:write",
                "api_keys:write",
                "audit:read",
                "tenants:read",
            ],
        )
        .await;

    for cred in [&b.owner_token, &b_key] {
        for user in [&a_user, &a.owner_id] {
            let path = format!("/v1/users/{user}");
            assert_eq!(app.get(&path, cred).await.status, 404, "read {path}");
            assert_eq!(
                app.patch(&path, cred, json!({"name": "pwned"}))
                    .await
                    .status,
                404,
                "update {path}"
            );
            assert_eq!(app.delete(&path, cred).await.status, 404, "delete {path}");
        }
        let key_path = format!("/v1/api-keys/{a_key}");
        assert_eq!(app.get(&key_path, cred).await.status, 404);
        assert_eq!(app.delete(&key_path, cred).await.status, 404);
        assert_eq!(
            app.get(&format!("/v1/tenants/{}", a.id), cred).await.status,
            404
        );

        let users = app.get("/v1/users", cred).await;
        assert!(
            !users.text.contains(&a_user) && !users.text.contains(&a.owner_email),
            "user leaked"
        );
        let keys = app.get("/v1/api-keys", cred).await;
        assert!(!keys.text.contains(&a_key), "key leaked");
        let audit = app.get("/v1/audit-log?limit=200", cred).await;
        assert_eq!(audit.status, 200);
        assert!(
            !audit.text.contains(&a_user) && !audit.text.contains(&a.id),
            "audit entry leaked"
        );
        let filtered = app
            .get(&format!("/v1/audit-log?object_id={a_user}"), cred)
            .await;
        assert!(filtered.body["items"].as_array().unwrap().is_empty());
    }
    // A's objects are untouched.
    let u = app
        .get(&format!("/v1/users/{a_user}"), &a.owner_token)
        .await;
    assert_eq!(u.status, 200);
    assert_ne!(u.body["name"], "pwned");
    assert_eq!(
        app.get(&format!("/v1/api-keys/{a_key}"), &a.owner_token)
            .await
            .body["status"],
        "active"
    );
}
