use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn admins_manage_users_of_their_tenant() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (_, _, admin) = app.user(&t, "admin").await;
    let email = format!("ana-{}@{}.test", rand_suffix(), t.slug);
    let r = app
        .post(
            "/v1/users",
            &admin,
            json!({"email": email, "password": PASSWORD, "role": "member", "name": "Ana"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.headers["location"], format!("/v1/users/{id}"));
    assert!(r.body.get("password_hash").is_none() && !r.text.contains("argon2"));
    assert_eq!(r.body["tenant_id"], t.id);

    let got = app.get(&format!("/v1/users/{id}"), &admin).await;
    assert_eq!(
        (got.body["email"].as_str(), got.body["name"].as_str()),
        (Some(email.as_str()), Some("Ana"))
    );
    let list = app.get("/v1/users", &admin).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 3);

    let up = app
        .patch(
            &format!("/v1/users/{id}"),
            &admin,
            json!({"role": "admin", "name": "Ana B."}),
        )
        .await;
    assert_eq!(
        (up.body["role"].as_str(), up.body["name"].as_str()),
        (Some("admin"), Some("Ana B."))
    );

    // A new password ends the user's sessions; the new one works.
    let ana = app.login(&email, PASSWORD).await;
    let up = app
        .patch(
            &format!("/v1/users/{id}"),
            &admin,
            json!({"password": "another good password"}),
        )
        .await;
    assert_eq!(up.status, 200);
    assert_eq!(app.get("/v1/me", &ana).await.status, 401);
    app.login(&email, "another good password").await;

    // Disabling locks the user out.
    app.patch(
        &format!("/v1/users/{id}"),
        &admin,
        json!({"status": "disabled"}),
    )
    .await;
    let r = app.try_login(&email, "another good password").await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "user_disabled"));

    assert_eq!(
        app.delete(&format!("/v1/users/{id}"), &admin).await.status,
        204
    );
    assert_eq!(
        app.get(&format!("/v1/users/{id}"), &admin).await.status,
        404
    );
    assert_eq!(
        app.delete(&format!("/v1/users/{id}"), &admin).await.status,
        404
    );
    assert_eq!(
        app.try_login(&email, "another good password").await.status,
        401
    );
}

#[tokio::test]
async fn members_read_but_cannot_administer() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (_, _, member) = app.user(&t, "member").await;
    assert_eq!(app.get("/v1/users", &member).await.status, 200);
    let r = app
        .post(
            "/v1/users",
            &member,
            json!({"email": "x@y.test", "password": PASSWORD, "role": "member"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "insufficient_scope"));
    assert_eq!(
        app.patch(
            &format!("/v1/users/{}", t.owner_id),
            &member,
            json!({"name": "x"})
        )
        .await
        .status,
        403
    );
    assert_eq!(
        app.delete(&format!("/v1/users/{}", t.owner_id), &member)
            .await
            .status,
        403
    );
    assert_eq!(app.get("/v1/audit-log", &member).await.status, 403);
}

#[tokio::test]
async fn only_owners_touch_owners_and_the_last_owner_stays() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (_, _, admin) = app.user(&t, "admin").await;
    let r = app
        .post(
            "/v1/users",
            &admin,
            json!({"email": format!("o2@{}.test", t.slug), "password": PASSWORD, "role": "owner"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "owner_required"));
    let r = app
        .patch(
            &format!("/v1/users/{}", t.owner_id),
            &admin,
            json!({"role": "member"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "owner_required"));
    assert_eq!(
        app.delete(&format!("/v1/users/{}", t.owner_id), &admin)
            .await
            .code(),
        "owner_required"
    );

    for body in [json!({"role": "admin"}), json!({"status": "disabled"})] {
        let r = app
            .patch(&format!("/v1/users/{}", t.owner_id), &t.owner_token, body)
            .await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "last_owner"));
    }
    assert_eq!(
        app.delete(&format!("/v1/users/{}", t.owner_id), &t.owner_token)
            .await
            .code(),
        "last_owner"
    );

    // With a second owner, the first may step down.
    let r = app
        .post(
            "/v1/users",
            &t.owner_token,
            json!({"email": format!("o2@{}.test", t.slug), "password": PASSWORD, "role": "owner"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = app
        .patch(
            &format!("/v1/users/{}", t.owner_id),
            &t.owner_token,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.body["role"], "admin");
}

#[tokio::test]
async fn user_input_is_validated_and_emails_are_unique() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let r = app
        .post(
            "/v1/users",
            &t.owner_token,
            json!({"email": "bad", "password": "short", "role": "member"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 2, "{r:?}");
    let r = app
        .post(
            "/v1/users",
            &t.owner_token,
            json!({"email": "a@b.test", "password": PASSWORD, "role": "platform_admin"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .post(
            "/v1/users",
            &t.owner_token,
            json!({"email": t.owner_email, "password": PASSWORD, "role": "member"}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "email_taken"));
}
