use crate::common::*;
use mailroom_core::store::entities::users;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

#[tokio::test]
async fn platform_admin_creates_reads_lists_updates_and_deletes_tenants() {
    let app = TestApp::spawn_isolated_with(|c| c.jobs.enabled = true).await;
    let slug = format!("acme-{}", rand_suffix());
    let owner = format!("boss@{slug}.test");
    let r = app
        .post(
            "/v1/tenants",
            &app.admin_token,
            json!({"name": "Acme", "slug": slug, "owner": {"email": owner, "password": PASSWORD, "name": "Boss"},
                   "limits": {"max_domains": 3}}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.headers["location"], format!("/v1/tenants/{id}"));
    assert_eq!(r.body["owner"]["role"], "owner");
    assert_eq!(r.body["owner"]["name"], "Boss");
    assert_eq!(r.body["limits"]["max_domains"], 3);
    assert!(r.body["limits"]["max_mailboxes"].is_null());

    let got = app
        .get(&format!("/v1/tenants/{id}"), &app.admin_token)
        .await;
    assert_eq!(got.body["slug"], slug);

    // Limits: null makes one unlimited; omitted ones stay.
    let r = app
        .patch(
            &format!("/v1/tenants/{id}"),
            &app.admin_token,
            json!({"name": "Acme Corp", "limits": {"max_domains": null, "max_mailboxes": 50}}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["name"], "Acme Corp");
    assert!(r.body["limits"]["max_domains"].is_null());
    assert_eq!(r.body["limits"]["max_mailboxes"], 50);
    let r = app
        .patch(
            &format!("/v1/tenants/{id}"),
            &app.admin_token,
            json!({"limits": {"max_storage_bytes": 10}}),
        )
        .await;
    assert_eq!(r.body["limits"]["max_mailboxes"], 50);
    let bad = app
        .patch(
            &format!("/v1/tenants/{id}"),
            &app.admin_token,
            json!({"limits": {"max_domains": -1}}),
        )
        .await;
    assert_eq!(
        (bad.status.as_u16(), bad.body["errors"][0]["field"].as_str()),
        (400, Some("limits.max_domains"))
    );
    let bad = app
        .patch(
            &format!("/v1/tenants/{id}"),
            &app.admin_token,
            json!({"status": "gone"}),
        )
        .await;
    assert_eq!(bad.status, 400);

    // Delete: gone at once, its owner locked out, then purged by the job runner.
    let owner_token = app.login(&owner, PASSWORD).await;
    let del = app
        .delete(&format!("/v1/tenants/{id}"), &app.admin_token)
        .await;
    assert_eq!(del.status, 202, "{del:?}");
    let job: uuid::Uuid = del.body["purge_job_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        app.get(&format!("/v1/tenants/{id}"), &app.admin_token)
            .await
            .status,
        404
    );
    assert_eq!(
        app.delete(&format!("/v1/tenants/{id}"), &app.admin_token)
            .await
            .status,
        404
    );
    assert_eq!(app.get("/v1/me", &owner_token).await.status, 401);
    assert_eq!(app.try_login(&owner, PASSWORD).await.status, 401);
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
    let tid: uuid::Uuid = id.parse().unwrap();
    let db = sea_orm::Database::connect(app.cfg.effective_database_url())
        .await
        .unwrap();
    let left = users::Entity::find()
        .filter(users::Column::TenantId.eq(tid))
        .all(&db)
        .await
        .unwrap();
    assert!(left.is_empty(), "users survived the purge");
    // The platform log keeps who deleted it, after the purge.
    let log = app
        .get(&format!("/v1/audit-log?object_id={id}"), &app.admin_token)
        .await;
    let actions: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{log:?}"))
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "tenant.delete",
            "tenant.update",
            "tenant.update",
            "tenant.create"
        ],
        "{log:?}"
    );
    assert_eq!(log.body["items"][0]["actor"]["type"], "platform_admin");
    // The slug and the owner's email are free again.
    let again = app
        .post(
            "/v1/tenants",
            &app.admin_token,
            json!({"name": "Acme", "slug": slug, "owner": {"email": owner, "password": PASSWORD}}),
        )
        .await;
    assert_eq!(again.status, 201, "{again:?}");
}

#[tokio::test]
async fn tenant_lists_are_paginated_with_cursors() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.tenant().await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/tenants?limit=2&cursor={c}"),
            None => "/v1/tenants?limit=2".to_string(),
        };
        let r = app.get(&path, &app.admin_token).await;
        assert_eq!(r.status, 200, "{r:?}");
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_string()));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a tenant appeared twice");
    assert!(seen.len() >= 3);
    for bad in ["limit=0", "limit=201", "cursor=%21%21"] {
        let r = app
            .get(&format!("/v1/tenants?{bad}"), &app.admin_token)
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "validation_failed"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn tenant_creation_validates_every_field_and_refuses_duplicates() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/v1/tenants", &app.admin_token, json!({"name": "", "slug": "Bad Slug", "owner": {"email": "nope", "password": "short"}}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "validation_failed"),
        "{r:?}"
    );
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["name", "slug", "owner.email", "owner.password"] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    let missing = app
        .post("/v1/tenants", &app.admin_token, json!({"name": "x"}))
        .await;
    assert_eq!(missing.status, 400);

    let t = app.tenant().await;
    let dup = app
        .post("/v1/tenants", &app.admin_token, json!({"name": "x", "slug": t.slug, "owner": {"email": "new@x.test", "password": PASSWORD}}))
        .await;
    assert_eq!((dup.status.as_u16(), dup.code()), (409, "slug_taken"));
    let dup = app
        .post(
            "/v1/tenants",
            &app.admin_token,
            json!({"name": "x", "slug": format!("s-{}", rand_suffix()), "owner": {"email": t.owner_email, "password": PASSWORD}}),
        )
        .await;
    assert_eq!((dup.status.as_u16(), dup.code()), (409, "email_taken"));
}

#[tokio::test]
async fn tenant_credentials_cannot_manage_tenants_but_may_read_their_own() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    let r = app.get("/v1/tenants", &t.owner_token).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "platform_admin_required")
    );
    let r = app
        .post("/v1/tenants", &t.owner_token, json!({"name": "x", "slug": "xx-yy", "owner": {"email": "a@b.test", "password": PASSWORD}}))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        app.patch(
            &format!("/v1/tenants/{}", t.id),
            &t.owner_token,
            json!({"status": "active"})
        )
        .await
        .status,
        403
    );
    assert_eq!(
        app.delete(&format!("/v1/tenants/{}", t.id), &t.owner_token)
            .await
            .status,
        403
    );

    let own = app
        .get(&format!("/v1/tenants/{}", t.id), &t.owner_token)
        .await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body["slug"], t.slug);
    assert_eq!(
        app.get(&format!("/v1/tenants/{}", other.id), &t.owner_token)
            .await
            .status,
        404
    );
    // Platform admins work through platform endpoints only.
    let r = app.get("/v1/users", &app.admin_token).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "tenant_required"));
}
