use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn a_key_is_shown_once_works_as_bearer_and_is_stored_hashed() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let r = app
        .post(
            "/v1/api-keys",
            &t.owner_token,
            json!({"name": "CRM sync", "scopes": ["users:write"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.body["id"].as_str().unwrap().to_string();
    let key = r.body["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("mrk_") && key.len() >= 40);
    assert!(key.starts_with(r.body["prefix"].as_str().unwrap()));
    // A write scope brings its read scope.
    assert_eq!(r.body["scopes"], json!(["users:read", "users:write"]));

    let me = app.get("/v1/me", &key).await;
    assert_eq!(
        (
            me.body["kind"].as_str(),
            me.body["api_key"]["name"].as_str()
        ),
        (Some("api_key"), Some("CRM sync"))
    );
    assert_eq!(me.body["scopes"], json!(["users:read", "users:write"]));

    let list = app.get("/v1/api-keys", &t.owner_token).await;
    assert!(!list.text.contains(&key), "a list shows the secret");
    assert!(list.body["items"][0].get("key").is_none());
    let got = app.get(&format!("/v1/api-keys/{id}"), &t.owner_token).await;
    assert!(!got.text.contains(&key));
    assert!(
        got.body["last_used_at"].is_string(),
        "last_used_at not tracked: {got:?}"
    );

    // The database holds only the hash.
    let db = sea_orm::Database::connect(app.cfg.effective_database_url())
        .await
        .unwrap();
    use sea_orm::EntityTrait;
    let row = mailroom_core::store::entities::api_keys::Entity::find_by_id(
        id.parse::<uuid::Uuid>().unwrap(),
    )
    .one(&db)
    .await
    .unwrap()
    .unwrap();
    assert_eq!(row.key_hash, mailroom_core::auth::sha256_hex(&key));
    assert_ne!(row.key_hash, key);

    assert_eq!(
        app.delete(&format!("/v1/api-keys/{id}"), &t.owner_token)
            .await
            .status,
        204
    );
    assert_eq!(app.get("/v1/me", &key).await.status, 401);
    assert_eq!(
        app.get(&format!("/v1/api-keys/{id}"), &t.owner_token)
            .await
            .body["status"],
        "revoked"
    );
}

#[tokio::test]
async fn scopes_are_enforced() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (_, read_only) = app.api_key(&t.owner_token, &["users:read"]).await;
    assert_eq!(app.get("/v1/users", &read_only).await.status, 200);
    let r = app
        .post(
            "/v1/users",
            &read_only,
            json!({"email": "x@y.test", "password": PASSWORD, "role": "member"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "insufficient_scope"));
    assert_eq!(
        app.delete(&format!("/v1/users/{}", t.owner_id), &read_only)
            .await
            .status,
        403
    );

    let (_, domains_read) = app.api_key(&t.owner_token, &["domains:read"]).await;
    assert_eq!(
        app.get("/v1/users", &domains_read).await.code(),
        "insufficient_scope"
    );
    assert_eq!(
        app.get("/v1/audit-log", &domains_read).await.code(),
        "insufficient_scope"
    );
    let r = app
        .post(
            "/v1/api-keys",
            &domains_read,
            json!({"name": "x", "scopes": ["domains:read"]}),
        )
        .await;
    assert_eq!(r.code(), "insufficient_scope");
}

#[tokio::test]
async fn a_key_never_exceeds_its_creator() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (member_id, _, member) = app.user(&t, "member").await;
    let r = app
        .post(
            "/v1/api-keys",
            &member,
            json!({"name": "x", "scopes": ["users:write"]}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "scope_exceeds_rights"));
    let (_, key) = app.api_key(&member, &["users:read"]).await;
    assert_eq!(app.get("/v1/users", &key).await.status, 200);

    // An admin's key loses what its creator loses.
    let (admin_id, _, admin) = app.user(&t, "admin").await;
    let (_, admin_key) = app.api_key(&admin, &["users:write"]).await;
    let new_user = json!({"email": format!("n-{}@{}.test", rand_suffix(), t.slug), "password": PASSWORD, "role": "member"});
    assert_eq!(
        app.post("/v1/users", &admin_key, new_user.clone())
            .await
            .status,
        201
    );
    app.patch(
        &format!("/v1/users/{admin_id}"),
        &t.owner_token,
        json!({"role": "member"}),
    )
    .await;
    assert_eq!(
        app.post("/v1/users", &admin_key, new_user).await.code(),
        "insufficient_scope"
    );

    // A key of a disabled or deleted user stops working.
    app.patch(
        &format!("/v1/users/{member_id}"),
        &t.owner_token,
        json!({"status": "disabled"}),
    )
    .await;
    assert_eq!(app.get("/v1/users", &key).await.status, 403);
    app.delete(&format!("/v1/users/{member_id}"), &t.owner_token)
        .await;
    assert_eq!(app.get("/v1/users", &key).await.status, 401);
}

#[tokio::test]
async fn members_see_only_their_own_keys() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (_, _, member) = app.user(&t, "member").await;
    let (owner_key, _) = app.api_key(&t.owner_token, &["users:read"]).await;
    let (member_key, _) = app.api_key(&member, &["users:read"]).await;
    let mine = app.get("/v1/api-keys", &member).await;
    let ids: Vec<&str> = mine.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![member_key.as_str()]);
    assert_eq!(
        app.get(&format!("/v1/api-keys/{owner_key}"), &member)
            .await
            .status,
        404
    );
    assert_eq!(
        app.delete(&format!("/v1/api-keys/{owner_key}"), &member)
            .await
            .status,
        404
    );
    assert_eq!(
        app.get("/v1/api-keys", &t.owner_token).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn key_input_is_validated_and_expiry_is_honoured() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let r = app
        .post(
            "/v1/api-keys",
            &t.owner_token,
            json!({"name": "x", "scopes": ["users:read", "mail:everything"]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errors"][0]["field"], "scopes[1]");
    let r = app
        .post(
            "/v1/api-keys",
            &t.owner_token,
            json!({"name": "x", "scopes": []}),
        )
        .await;
    assert_eq!(r.status, 400);
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let r = app
        .post(
            "/v1/api-keys",
            &t.owner_token,
            json!({"name": "x", "scopes": ["users:read"], "expires_at": past}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "expires_at");
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let r = app
        .post(
            "/v1/api-keys",
            &t.owner_token,
            json!({"name": "x", "scopes": ["users:read"], "expires_at": soon}),
        )
        .await;
    let key = r.body["key"].as_str().unwrap().to_string();
    assert_eq!(app.get("/v1/users", &key).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(app.get("/v1/users", &key).await.status, 401);
}
