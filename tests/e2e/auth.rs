use crate::common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn login_issues_a_bearer_pair_and_me_describes_the_caller() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let r = app.try_login(&t.owner_email.to_uppercase(), PASSWORD).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    assert!(
        r.body["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("mrr_")
    );
    assert_eq!(r.headers["cache-control"], "no-store");
    let me = app
        .get("/v1/me", r.body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["kind"], "user");
    assert_eq!(me.body["email"], t.owner_email);
    assert_eq!(me.body["role"], "owner");
    assert_eq!(me.body["tenant_id"], t.id);
    assert!(
        me.body["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("users:write"))
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let wrong = app
        .try_login(&t.owner_email, "not the password at all")
        .await;
    let unknown = app.try_login("nobody@nowhere.test", PASSWORD).await;
    for r in [&wrong, &unknown] {
        assert_eq!(r.status, 401);
        assert_eq!(r.headers["content-type"], "application/problem+json");
        assert_eq!(r.code(), "unauthenticated");
        assert!(
            r.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    assert_eq!(wrong.body["detail"], unknown.body["detail"]);
    for bad in ["", "Bearer", "Bearer not-a-jwt", "Basic abc"] {
        let r = app
            .http
            .get(format!("{}/v1/me", app.base))
            .header("authorization", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{bad}");
    }
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_whole_session() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let first = app.try_login(&t.owner_email, PASSWORD).await.body;
    let r1 = first["refresh_token"].as_str().unwrap();
    let second = app
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": r1})),
        )
        .await;
    assert_eq!(second.status, 200, "{second:?}");
    let r2 = second.body["refresh_token"].as_str().unwrap();
    let a2 = second.body["access_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_eq!(app.get("/v1/me", a2).await.status, 200);

    // Someone replays the first token: the session dies, for the thief and for the owner.
    let replay = app
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": r1})),
        )
        .await;
    assert_eq!(replay.status, 401);
    assert!(replay.body["detail"].as_str().unwrap().contains("revoked"));
    let after = app
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": r2})),
        )
        .await;
    assert_eq!(after.status, 401);
    assert_eq!(app.get("/v1/me", a2).await.status, 401);
    assert_eq!(
        app.get("/v1/me", first["access_token"].as_str().unwrap())
            .await
            .status,
        401
    );

    // Another login still works.
    app.login(&t.owner_email, PASSWORD).await;
    let junk = app
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": "mrr_nope"})),
        )
        .await;
    assert_eq!(junk.status, 401);
}

#[tokio::test]
async fn logout_ends_the_session_of_the_access_or_refresh_token() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let pair = app.try_login(&t.owner_email, PASSWORD).await.body;
    let access = pair["access_token"].as_str().unwrap();
    let r = app
        .call(Method::POST, "/v1/auth/logout", Some(access), None)
        .await;
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(app.get("/v1/me", access).await.status, 401);
    let refresh = app
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": pair["refresh_token"]})),
        )
        .await;
    assert_eq!(refresh.status, 401);

    let pair = app.try_login(&t.owner_email, PASSWORD).await.body;
    let r = app
        .call(
            Method::POST,
            "/v1/auth/logout",
            None,
            Some(json!({"refresh_token": pair["refresh_token"]})),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        app.get("/v1/me", pair["access_token"].as_str().unwrap())
            .await
            .status,
        401
    );

    let r = app.call(Method::POST, "/v1/auth/logout", None, None).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn failed_logins_are_limited_per_account() {
    let app = TestApp::spawn_with(|c| c.auth.login_max_failures_per_account = 3).await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    for _ in 0..3 {
        assert_eq!(
            app.try_login(&t.owner_email, "wrong password!!")
                .await
                .status,
            401
        );
    }
    // Locked out, even with the right password, until the window passes.
    let r = app.try_login(&t.owner_email, PASSWORD).await;
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.code(), "rate_limited");
    assert!(
        r.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    // Other accounts are unaffected.
    app.login(&other.owner_email, PASSWORD).await;
}

#[tokio::test]
async fn login_attempts_are_limited_per_client_address() {
    let app = TestApp::spawn_with(|c| c.auth.login_max_attempts_per_ip = 5).await;
    // Two attempts are spent already: the admin logged in at boot, the owner in tenant().
    let t = app.tenant().await;
    for _ in 0..3 {
        assert_ne!(app.try_login(&t.owner_email, PASSWORD).await.status, 429);
    }
    let r = app.try_login(&t.owner_email, PASSWORD).await;
    assert_eq!(r.status, 429, "{r:?}");
}

#[tokio::test]
async fn suspending_a_tenant_locks_out_its_users_and_keys_at_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (_, key) = app.api_key(&t.owner_token, &["users:read"]).await;
    let r = app
        .patch(
            &format!("/v1/tenants/{}", t.id),
            &app.admin_token,
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "suspended");
    let login = app.try_login(&t.owner_email, PASSWORD).await;
    assert_eq!(
        (login.status.as_u16(), login.code()),
        (403, "tenant_suspended")
    );
    assert_eq!(
        app.get("/v1/me", &t.owner_token).await.code(),
        "tenant_suspended"
    );
    assert_eq!(app.get("/v1/users", &key).await.code(), "tenant_suspended");

    app.patch(
        &format!("/v1/tenants/{}", t.id),
        &app.admin_token,
        json!({"status": "active"}),
    )
    .await;
    assert_eq!(app.get("/v1/me", &t.owner_token).await.status, 200);
    assert_eq!(app.get("/v1/users", &key).await.status, 200);
}

#[tokio::test]
async fn a_restart_keeps_sessions_valid_because_secrets_persist() {
    let mut app = TestApp::spawn().await;
    let t = app.tenant().await;
    let cfg = app.cfg.clone();
    app.stop().await;
    let dir = std::mem::replace(&mut app.dir, tempfile::tempdir().unwrap());
    let again = TestApp::boot(cfg, dir).await;
    assert_eq!(again.get("/v1/me", &t.owner_token).await.status, 200);
}

#[tokio::test]
async fn users_change_their_own_password_and_other_sessions_end() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (_, email, member) = app.user(&t, "member").await;
    let other_device = app.login(&email, PASSWORD).await;
    let wrong = app
        .post(
            "/v1/me/password",
            &member,
            json!({"current_password": "not it at all", "new_password": "a fresh password"}),
        )
        .await;
    assert_eq!(
        (
            wrong.status.as_u16(),
            wrong.body["errors"][0]["field"].as_str()
        ),
        (400, Some("current_password"))
    );
    let weak = app
        .post(
            "/v1/me/password",
            &member,
            json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!(weak.body["errors"][0]["field"], "new_password");
    let ok = app
        .post(
            "/v1/me/password",
            &member,
            json!({"current_password": PASSWORD, "new_password": "a fresh password"}),
        )
        .await;
    assert_eq!(ok.status, 204, "{ok:?}");
    assert_eq!(
        app.get("/v1/me", &member).await.status,
        200,
        "the caller's own session ended"
    );
    assert_eq!(
        app.get("/v1/me", &other_device).await.status,
        401,
        "another session survived"
    );
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 401);
    app.login(&email, "a fresh password").await;
    let (_, key) = app.api_key(&member, &["users:read"]).await;
    let by_key = app
        .post(
            "/v1/me/password",
            &key,
            json!({"current_password": "a fresh password", "new_password": "another one!!"}),
        )
        .await;
    assert_eq!(by_key.code(), "user_required");
    let log = app
        .get("/v1/audit-log?action=user.password_change", &t.owner_token)
        .await;
    assert_eq!(log.body["items"].as_array().unwrap().len(), 1);
}

/// Authentications are cached for a moment (`auth.principal_cache_secs`); a key revoked through
/// one process must not live on in another that had it cached. With Redis the bus relays the
/// change and the other process refuses at once; without Redis (two processes on one SQLite
/// file or Postgres) the cache's age bounds it.
#[tokio::test]
async fn a_key_revoked_in_another_process_is_refused_there_too() {
    let a = TestApp::spawn_with(|c| c.auth.principal_cache_secs = 3).await;
    // A second process: its own store, cache and bus, on the same database (and Redis).
    let b = TestApp::boot(a.cfg.clone(), tempfile::tempdir().unwrap()).await;
    let t = a.tenant().await;
    let (id, key) = a.api_key(&t.owner_token, &["users:read"]).await;
    for _ in 0..3 {
        assert_eq!(b.get("/v1/me", &key).await.status, 200);
    }
    assert_eq!(
        a.delete(&format!("/v1/api-keys/{id}"), &t.owner_token)
            .await
            .status,
        204
    );
    assert_eq!(
        a.get("/v1/me", &key).await.status,
        401,
        "refused at once here"
    );
    let revoked = std::time::Instant::now();
    assert!(
        eventually(10, || async { b.get("/v1/me", &key).await.status == 401 }).await,
        "the other process still accepts the revoked key"
    );
    let took = revoked.elapsed();
    let bound = if a.cfg.redis_url.is_empty() {
        std::time::Duration::from_millis(3_000 + 1_500)
    } else {
        std::time::Duration::from_millis(1_500)
    };
    assert!(took <= bound, "refused after {took:?}, bound {bound:?}");
}

/// A login's own bookkeeping (the new session, its refresh token, the login record) leaves the
/// auth epoch alone, so logins do not end every cached authentication on every process; a
/// revocation moves it.
#[tokio::test]
async fn logins_keep_cached_authentications_and_revocations_end_them() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (id, _) = app.api_key(&t.owner_token, &["users:read"]).await;
    let epoch = app.store().auth_epoch().clone();
    let before = epoch.current();
    for _ in 0..3 {
        app.login(&t.owner_email, PASSWORD).await;
    }
    assert_eq!(epoch.current(), before, "a login moved the auth epoch");
    assert_eq!(
        app.delete(&format!("/v1/api-keys/{id}"), &t.owner_token)
            .await
            .status,
        204
    );
    assert!(
        epoch.current() > before,
        "a revoked key left the auth epoch"
    );
}
