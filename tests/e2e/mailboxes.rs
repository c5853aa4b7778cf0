//! Mailboxes, app passwords and mailbox owners' logins.

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Fixture: a domain of `token`'s tenant, marked verified in the database (DNS verification
/// itself is tested in `domains`). Returns (id, name).
pub async fn fixture_verified_domain(app: &TestApp, token: &str) -> (String, String) {
    let name = format!("m{}.com", rand_suffix());
    let r = app.post("/v1/domains", token, json!({"name": name})).await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.body["id"].as_str().unwrap().to_string();
    let db = sea_orm::Database::connect(app.cfg.effective_database_url())
        .await
        .unwrap();
    use mailroom_core::store::entities::domains;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    domains::Entity::update_many()
        .col_expr(domains::Column::Status, Expr::value("verified"))
        .filter(domains::Column::Id.eq(id.parse::<uuid::Uuid>().unwrap()))
        .exec(&db)
        .await
        .unwrap();
    (id, name)
}

/// A mailbox `local@domain`: (id, address).
pub async fn mailbox(app: &TestApp, token: &str, domain_id: &str, local: &str) -> (String, String) {
    let r = app
        .post(
            "/v1/mailboxes",
            token,
            json!({"domain_id": domain_id, "local_part": local, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    (
        r.body["id"].as_str().unwrap().to_string(),
        r.body["address"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn admins_create_change_and_delete_mailboxes() {
    let app = TestApp::spawn_isolated_with(|c| c.jobs.enabled = true).await;
    let t = app.tenant().await;
    let (domain_id, domain) = fixture_verified_domain(&app, &t.owner_token).await;
    let r = app
        .post(
            "/v1/mailboxes",
            &t.owner_token,
            json!({"domain_id": domain_id, "local_part": " Ana.Silva ", "password": PASSWORD, "display_name": "Ana Silva"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["address"], format!("ana.silva@{domain}"));
    assert_eq!(r.body["quota_bytes"], 10737418240i64);
    assert_eq!(r.body["used_bytes"], 0);
    assert_eq!(
        (
            r.body["status"].as_str(),
            r.body["pop3_after_download"].as_str()
        ),
        (Some("active"), Some("keep"))
    );
    assert!(!r.text.contains("password"), "{r:?}");

    // The default folders, with their SPECIAL-USE roles and IMAP state.
    let db = sea_orm::Database::connect(app.cfg.effective_database_url())
        .await
        .unwrap();
    use mailroom_core::store::entities::folders;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mid: uuid::Uuid = id.parse().unwrap();
    let fs = folders::Entity::find()
        .filter(folders::Column::MailboxId.eq(mid))
        .all(&db)
        .await
        .unwrap();
    let mut names: Vec<(String, Option<String>)> = fs
        .iter()
        .map(|f| (f.name.clone(), f.special_use.clone()))
        .collect();
    names.sort();
    assert_eq!(names.len(), 6);
    assert!(
        names.contains(&("INBOX".into(), Some("inbox".into())))
            && names.contains(&("Junk".into(), Some("junk".into())))
    );
    assert!(fs.iter().all(|f| f.uidnext == 1 && f.uidvalidity > 0));

    let up = app
        .patch(
            &format!("/v1/mailboxes/{id}"),
            &t.owner_token,
            json!({"quota_bytes": null, "pop3_after_download": "delete", "display_name": "Ana"}),
        )
        .await;
    assert_eq!(up.status, 200, "{up:?}");
    assert!(up.body["quota_bytes"].is_null());
    assert_eq!(up.body["pop3_after_download"], "delete");
    let bad = app
        .patch(
            &format!("/v1/mailboxes/{id}"),
            &t.owner_token,
            json!({"pop3_after_download": "shred"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    let list = app
        .get(
            &format!("/v1/mailboxes?domain_id={domain_id}"),
            &t.owner_token,
        )
        .await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);

    // Deleting frees the address at once and purges the data.
    let del = app
        .delete(&format!("/v1/mailboxes/{id}"), &t.owner_token)
        .await;
    assert_eq!(del.status, 202, "{del:?}");
    assert_eq!(
        app.get(&format!("/v1/mailboxes/{id}"), &t.owner_token)
            .await
            .status,
        404
    );
    assert_eq!(
        app.try_login(&format!("ana.silva@{domain}"), PASSWORD)
            .await
            .status,
        401
    );
    mailbox(&app, &t.owner_token, &domain_id, "ana.silva").await;
    let job: uuid::Uuid = del.body["purge_job_id"].as_str().unwrap().parse().unwrap();
    let sys = app.store().system();
    assert!(
        eventually(20, || async {
            sys.job(job)
                .await
                .unwrap()
                .is_some_and(|j| j.status.to_string() == "done")
        })
        .await
    );
    assert!(
        folders::Entity::find()
            .filter(folders::Column::MailboxId.eq(mid))
            .all(&db)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn mailbox_input_domains_addresses_and_plan_limits_are_checked() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (domain_id, _) = fixture_verified_domain(&app, &t.owner_token).await;
    let r = app
        .post(
            "/v1/mailboxes",
            &t.owner_token,
            json!({"domain_id": domain_id, "local_part": "ana+news", "password": "short"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["local_part", "password"]);

    let pending = app
        .post(
            "/v1/domains",
            &t.owner_token,
            json!({"name": format!("p{}.com", rand_suffix())}),
        )
        .await;
    let r = app
        .post(
            "/v1/mailboxes",
            &t.owner_token,
            json!({"domain_id": pending.body["id"], "local_part": "ana", "password": PASSWORD}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "domain_not_verified"));

    mailbox(&app, &t.owner_token, &domain_id, "ana").await;
    let dup = app
        .post(
            "/v1/mailboxes",
            &t.owner_token,
            json!({"domain_id": domain_id, "local_part": "ANA", "password": PASSWORD}),
        )
        .await;
    assert_eq!((dup.status.as_u16(), dup.code()), (409, "address_taken"));

    app.patch(
        &format!("/v1/tenants/{}", t.id),
        &app.admin_token,
        json!({"limits": {"max_mailboxes": 2, "max_storage_bytes": 30}}),
    )
    .await;
    let r = app
        .post("/v1/mailboxes", &t.owner_token, json!({"domain_id": domain_id, "local_part": "bo", "password": PASSWORD, "quota_bytes": null}))
        .await;
    assert_eq!(
        r.code(),
        "plan_limit_reached",
        "unlimited quota under a storage limit: {r:?}"
    );
    let r = app
        .post("/v1/mailboxes", &t.owner_token, json!({"domain_id": domain_id, "local_part": "bo", "password": PASSWORD, "quota_bytes": 10}))
        .await;
    assert_eq!(
        r.code(),
        "plan_limit_reached",
        "the first mailbox's 10 GiB already exceed 30 bytes: {r:?}"
    );
    app.patch(
        &format!("/v1/tenants/{}", t.id),
        &app.admin_token,
        json!({"limits": {"max_storage_bytes": null}}),
    )
    .await;
    mailbox(&app, &t.owner_token, &domain_id, "bo").await;
    let r = app
        .post(
            "/v1/mailboxes",
            &t.owner_token,
            json!({"domain_id": domain_id, "local_part": "cy", "password": PASSWORD}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "plan_limit_reached"));
}

#[tokio::test]
async fn a_mailbox_owner_logs_in_and_reaches_only_its_mailbox() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (domain_id, _) = fixture_verified_domain(&app, &t.owner_token).await;
    let (ana_id, ana) = mailbox(&app, &t.owner_token, &domain_id, "ana").await;
    let (bo_id, _) = mailbox(&app, &t.owner_token, &domain_id, "bo").await;
    let token = app.login(&ana.to_uppercase(), PASSWORD).await;
    let me = app.get("/v1/me", &token).await;
    assert_eq!(
        (me.body["kind"].as_str(), me.body["role"].as_str()),
        (Some("mailbox"), Some("mailbox"))
    );
    assert_eq!(me.body["mailbox_id"], ana_id);
    assert_eq!(me.body["email"], ana);

    assert_eq!(
        app.get(&format!("/v1/mailboxes/{ana_id}"), &token)
            .await
            .status,
        200
    );
    let list = app.get("/v1/mailboxes", &token).await;
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ana_id.as_str()]);
    for (method, path, body) in [
        (Method::GET, format!("/v1/mailboxes/{bo_id}"), None),
        (
            Method::PATCH,
            format!("/v1/mailboxes/{bo_id}"),
            Some(json!({"display_name": "x"})),
        ),
        (
            Method::GET,
            format!("/v1/mailboxes/{bo_id}/app-passwords"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/mailboxes/{bo_id}/app-passwords"),
            Some(json!({"name": "x"})),
        ),
    ] {
        let r = app.call(method.clone(), &path, Some(&token), body).await;
        assert_eq!(r.status, 404, "{method} {path}: {r:?}");
    }
    let own = app
        .patch(
            &format!("/v1/mailboxes/{ana_id}"),
            &token,
            json!({"display_name": "Ana S."}),
        )
        .await;
    assert_eq!(own.body["display_name"], "Ana S.");
    for body in [json!({"quota_bytes": 1}), json!({"status": "active"})] {
        let r = app
            .patch(&format!("/v1/mailboxes/{ana_id}"), &token, body)
            .await;
        assert_eq!((r.status.as_u16(), r.code()), (403, "admin_required"));
    }
    assert_eq!(
        app.delete(&format!("/v1/mailboxes/{ana_id}"), &token)
            .await
            .code(),
        "admin_required"
    );
    assert_eq!(
        app.post(
            &format!("/v1/mailboxes/{ana_id}/password"),
            &token,
            json!({"password": "x".repeat(12)})
        )
        .await
        .code(),
        "admin_required"
    );
    let r = app
        .post(
            "/v1/mailboxes",
            &token,
            json!({"domain_id": domain_id, "local_part": "eve", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 403);
    for path in [
        "/v1/users",
        "/v1/domains",
        "/v1/audit-log",
        "/v1/api-keys",
        "/v1/events",
    ] {
        assert_eq!(app.get(path, &token).await.status, 403, "{path}");
    }

    // Its own password, with the current one.
    let r = app
        .post(
            "/v1/me/password",
            &token,
            json!({"current_password": PASSWORD, "new_password": "a new mailbox password"}),
        )
        .await;
    assert_eq!(r.status, 204, "{r:?}");
    app.login(&ana, "a new mailbox password").await;
    let log = app
        .get(
            "/v1/audit-log?action=mailbox.password_change",
            &t.owner_token,
        )
        .await;
    assert_eq!(log.body["items"][0]["actor"]["type"], "mailbox");
}

#[tokio::test]
async fn app_passwords_log_in_until_revoked() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (domain_id, _) = fixture_verified_domain(&app, &t.owner_token).await;
    let (id, address) = mailbox(&app, &t.owner_token, &domain_id, "ana").await;
    let owner = app.login(&address, PASSWORD).await;
    let r = app
        .post(
            &format!("/v1/mailboxes/{id}/app-passwords"),
            &owner,
            json!({"name": "Thunderbird"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let secret = r.body["password"].as_str().unwrap().to_string();
    let pid = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 19, "four groups of four letters: {secret}");
    assert!(
        secret
            .split(' ')
            .all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_lowercase()))
    );
    app.login(&address, &secret).await;
    app.login(&address, &secret.replace(' ', "")).await;
    let list = app
        .get(&format!("/v1/mailboxes/{id}/app-passwords"), &t.owner_token)
        .await;
    assert!(!list.text.contains(&secret.replace(' ', "")) && !list.text.contains(&secret));
    assert!(list.body["items"][0]["last_used_at"].is_string());

    assert_eq!(
        app.delete(
            &format!("/v1/mailboxes/{id}/app-passwords/{pid}"),
            &t.owner_token
        )
        .await
        .status,
        204
    );
    assert_eq!(app.try_login(&address, &secret).await.status, 401);
    assert_eq!(
        app.delete(
            &format!("/v1/mailboxes/{id}/app-passwords/{pid}"),
            &t.owner_token
        )
        .await
        .status,
        404
    );

    // Admin resets the password: the owner's sessions end.
    let r = app
        .post(
            &format!("/v1/mailboxes/{id}/password"),
            &t.owner_token,
            json!({"password": "reset by the admin"}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(app.get("/v1/me", &owner).await.status, 401);
    app.login(&address, "reset by the admin").await;

    // Suspension locks the owner out at once.
    let owner = app.login(&address, "reset by the admin").await;
    app.patch(
        &format!("/v1/mailboxes/{id}"),
        &t.owner_token,
        json!({"status": "suspended"}),
    )
    .await;
    assert_eq!(app.get("/v1/me", &owner).await.status, 401);
    let r = app.try_login(&address, "reset by the admin").await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "mailbox_suspended"));
}

#[tokio::test]
async fn another_tenant_cannot_see_or_touch_a_mailbox() {
    let app = TestApp::spawn().await;
    let a = app.tenant().await;
    let b = app.tenant().await;
    let (domain_id, _) = fixture_verified_domain(&app, &a.owner_token).await;
    let (id, _) = mailbox(&app, &a.owner_token, &domain_id, "ana").await;
    let (_, b_key) = app.api_key(&b.owner_token, &["mailboxes:write"]).await;
    for cred in [&b.owner_token, &b_key] {
        for (method, path, body) in [
            (Method::GET, format!("/v1/mailboxes/{id}"), Value::Null),
            (
                Method::PATCH,
                format!("/v1/mailboxes/{id}"),
                json!({"display_name": "x"}),
            ),
            (Method::DELETE, format!("/v1/mailboxes/{id}"), Value::Null),
            (
                Method::POST,
                format!("/v1/mailboxes/{id}/password"),
                json!({"password": "x".repeat(12)}),
            ),
            (
                Method::GET,
                format!("/v1/mailboxes/{id}/app-passwords"),
                Value::Null,
            ),
            (
                Method::POST,
                format!("/v1/mailboxes/{id}/app-passwords"),
                json!({"name": "x"}),
            ),
        ] {
            let body = (!body.is_null()).then_some(body);
            assert_eq!(
                app.call(method.clone(), &path, Some(cred), body)
                    .await
                    .status,
                404,
                "{method} {path}"
            );
        }
        assert!(!app.get("/v1/mailboxes", cred).await.text.contains(&id));
        let r = app
            .post(
                "/v1/mailboxes",
                cred,
                json!({"domain_id": domain_id, "local_part": "eve", "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 400, "another tenant's domain: {r:?}");
    }
}

#[tokio::test]
async fn one_address_names_one_principal_and_as_chooses_the_mailbox() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (domain_id, domain) = fixture_verified_domain(&app, &t.owner_token).await;
    let address = format!("boss@{domain}");
    let r = app
        .post(
            "/v1/users",
            &t.owner_token,
            json!({"email": address, "password": "the admin password", "role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let user_id = r.body["id"].clone();
    let r = app.post("/v1/mailboxes", &t.owner_token, json!({"domain_id": domain_id, "local_part": "boss", "password": "the mailbox password"})).await;
    assert_eq!(r.status, 201, "{r:?}");
    let mailbox_id = r.body["id"].clone();
    // Without `as`, the address names the user; the answer says so.
    let r = app.try_login(&address, "the admin password").await;
    assert_eq!(
        (r.body["kind"].clone(), r.body["principal_id"].clone()),
        (json!("user"), user_id)
    );
    let as_user = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/v1/me", &as_user).await.body["kind"], "user");
    // The mailbox password does not open the user: one principal, one password check.
    assert_eq!(
        app.try_login(&address, "the mailbox password").await.status,
        401
    );
    // `as: mailbox` names the mailbox.
    let login_as = |kind: &str, password: &str| {
        app.call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": address, "password": password, "as": kind})),
        )
    };
    let r = login_as("mailbox", "the mailbox password").await;
    assert_eq!(
        (r.status.as_u16(), r.body["kind"].clone()),
        (200, json!("mailbox")),
        "{r:?}"
    );
    assert_eq!(r.body["principal_id"], mailbox_id);
    let as_mailbox = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/v1/me", &as_mailbox).await.body["kind"], "mailbox");
    assert_eq!(login_as("mailbox", "the admin password").await.status, 401);
    assert_eq!(login_as("user", "the admin password").await.status, 200);
    let bad = login_as("robot", "x").await;
    assert_eq!(
        (bad.status.as_u16(), bad.body["errors"][0]["field"].clone()),
        (400, json!("as"))
    );
    assert_eq!(
        app.try_login(&address, "neither password").await.status,
        401
    );
}
