//! HTTP conventions: problem+json errors, request ids, health, metrics, docs, the audit log.

use crate::common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn bad_requests_get_problem_json_with_stable_codes() {
    let app = TestApp::spawn_with(|c| c.api.max_body_bytes = 1024).await;
    let t = app.tenant().await;
    let url = format!("{}/v1/users", app.base);
    let send = |body: String, ctype: &'static str| {
        app.http
            .post(&url)
            .bearer_auth(&t.owner_token)
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    let cases = [
        (
            send("{\"email\":".into(), "application/json")
                .await
                .unwrap(),
            400,
            "malformed_json",
        ),
        (
            send(
                json!({"email": "a@b.test", "password": PASSWORD, "role": "member", "admin": true})
                    .to_string(),
                "application/json",
            )
            .await
            .unwrap(),
            400,
            "unknown_field",
        ),
        (
            send(json!({"email": 5}).to_string(), "application/json")
                .await
                .unwrap(),
            400,
            "invalid_body",
        ),
        (
            send("email=a".into(), "application/x-www-form-urlencoded")
                .await
                .unwrap(),
            415,
            "unsupported_media_type",
        ),
        (
            send(
                format!("{{\"email\":\"{}\"}}", "a".repeat(2000)),
                "application/json",
            )
            .await
            .unwrap(),
            413,
            "payload_too_large",
        ),
    ];
    for (res, status, code) in cases {
        assert_eq!(res.status(), status, "{code}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let rid = res.headers()["x-request-id"].to_str().unwrap().to_string();
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], code);
        assert_eq!(body["status"], status);
        assert_eq!(body["type"], format!("urn:mailroom:problem:{code}"));
        assert!(body["title"].is_string() && body["detail"].is_string());
        assert_eq!(body["request_id"], rid);
    }
    let unknown = app
        .call(Method::GET, "/v1/does-not-exist", None, None)
        .await;
    assert_eq!(
        (unknown.status.as_u16(), unknown.code()),
        (404, "route_not_found")
    );
    let wrong_method = app
        .call(Method::DELETE, "/v1/users", Some(&t.owner_token), None)
        .await;
    assert_eq!(
        (wrong_method.status.as_u16(), wrong_method.code()),
        (405, "method_not_allowed"),
        "{wrong_method:?}"
    );
    assert_eq!(wrong_method.headers["allow"], "GET, POST");
    assert_eq!(
        wrong_method.headers["content-type"],
        "application/problem+json"
    );
    let bad_id = app.get("/v1/users/not-a-uuid", &t.owner_token).await;
    assert_eq!((bad_id.status.as_u16(), bad_id.code()), (404, "not_found"));
    let bad_query = app.get("/v1/users?limit=many", &t.owner_token).await;
    assert_eq!(
        (bad_query.status.as_u16(), bad_query.code()),
        (400, "invalid_query")
    );
}

#[tokio::test]
async fn bad_fields_are_named_and_bodies_must_be_objects() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let tok = Some(t.owner_token.as_str());
    // The field is named, not the value.
    let r = app
        .call(Method::POST, "/v1/users", tok, Some(json!({"email": 42})))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "invalid_body"),
        "{r:?}"
    );
    assert_eq!(r.body["errors"][0]["field"], "email", "{r:?}");
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expected a string"),
        "{r:?}"
    );
    assert!(!r.text.contains("line 1 column"), "{r:?}");
    // A required field left out is named too.
    let r = app
        .call(
            Method::POST,
            "/v1/users",
            tok,
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "email", "{r:?}");
    // Nested fields by their path.
    let r = app
        .call(
            Method::POST,
            "/v1/tenants",
            Some(&app.admin_token),
            Some(json!({"name": "N", "slug": format!("s{}", rand_suffix()), "owner": {"email": [1]}})),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "owner.email", "{r:?}");
    // Arrays, numbers and strings are not bodies, even where every field is optional.
    for body in [json!([]), json!([{"name": "x"}]), json!(7), json!("x")] {
        let r = app
            .call(
                Method::PATCH,
                &format!("/v1/users/{}", t.owner_id),
                tok,
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "invalid_body"),
            "{body}: {r:?}"
        );
        assert_eq!(r.body["errors"][0]["field"], "body");
    }
    // One rule for unknown fields everywhere, optional bodies included.
    let d = app
        .call(
            Method::POST,
            "/v1/domains",
            tok,
            Some(json!({"name": format!("d{}.com", rand_suffix())})),
        )
        .await;
    let rotate = format!("/v1/domains/{}/dkim/rotate", d.body["id"].as_str().unwrap());
    let r = app
        .call(
            Method::POST,
            &rotate,
            tok,
            Some(json!({"algoritm": "ed25519-sha256"})),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "unknown_field"),
        "{r:?}"
    );
    assert_eq!(r.body["errors"][0]["field"], "algoritm");
    let r = app
        .call(
            Method::POST,
            "/v1/auth/logout",
            None,
            Some(json!({"refresh": "x"})),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "unknown_field"),
        "{r:?}"
    );
    // A query parameter by its name.
    let r = app.get("/v1/users?limit=many", &t.owner_token).await;
    assert_eq!(r.body["errors"][0]["field"], "limit", "{r:?}");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_given_one_is_echoed() {
    let app = TestApp::spawn().await;
    let r = app
        .http
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "lb-1234.abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "lb-1234.abc");
    let r = app
        .http
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "bad id\twith junk")
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let a = app.call(Method::GET, "/healthz", None, None).await;
    let b = app.call(Method::GET, "/healthz", None, None).await;
    assert_ne!(a.headers["x-request-id"], b.headers["x-request-id"]);
}

#[tokio::test]
async fn unexpected_errors_are_500_with_the_request_id_and_blame_nobody() {
    // A private database: breaking it must not break other tests.
    let app = TestApp::spawn_isolated_with(|_| {}).await;
    let t = app.tenant().await;
    let db = sea_orm::Database::connect(app.cfg.effective_database_url())
        .await
        .unwrap();
    use sea_orm::ConnectionTrait;
    db.execute_unprepared("DROP TABLE audit_log").await.unwrap();
    let r = app.get("/v1/audit-log", &t.owner_token).await;
    assert_eq!((r.status.as_u16(), r.code()), (500, "internal_error"));
    assert_eq!(
        r.body["request_id"],
        r.headers["x-request-id"].to_str().unwrap()
    );
    assert!(
        !r.text.to_lowercase().contains("sqlite") && !r.text.contains("audit_log"),
        "internals leaked: {r:?}"
    );
}

#[tokio::test]
async fn health_readiness_metrics_and_docs_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.call(Method::GET, "/healthz", None, None).await.body["status"],
        "ok"
    );
    assert_eq!(
        app.call(Method::GET, "/readyz", None, None).await.status,
        200
    );
    let m = app.call(Method::GET, "/metrics", None, None).await;
    assert!(
        m.text.contains(
            "mailroom_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"
        ),
        "{}",
        m.text
    );
    assert!(
        m.text
            .contains("mailroom_http_request_duration_seconds_bucket")
    );
    let docs = app.call(Method::GET, "/docs", None, None).await;
    assert_eq!(docs.status, 308);
    let ui = app.call(Method::GET, "/docs/", None, None).await;
    assert_eq!(ui.status, 200);
    assert!(
        ui.text.contains("swagger-ui"),
        "{}",
        &ui.text[..ui.text.len().min(300)]
    );
    let js = app
        .call(Method::GET, "/docs/swagger-ui-bundle.js", None, None)
        .await;
    assert_eq!(js.status, 200, "the UI's assets must be served locally");
    let spec = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(
        spec.body,
        serde_json::from_str::<serde_json::Value>(&mailroom_api::openapi::json()).unwrap()
    );
}

#[tokio::test]
async fn every_change_is_in_the_audit_log_with_who_what_and_where() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (uid, email, _) = app.user(&t, "member").await;
    app.patch(
        &format!("/v1/users/{uid}"),
        &t.owner_token,
        json!({"name": "Renamed", "password": "a brand new password"}),
    )
    .await;
    let (key_id, key) = app.api_key(&t.owner_token, &["users:write"]).await;
    let r = app.post("/v1/users", &key, json!({"email": format!("k-{}@{}.test", rand_suffix(), t.slug), "password": PASSWORD, "role": "member"})).await;
    let by_key = r.body["id"].as_str().unwrap().to_string();
    app.delete(&format!("/v1/api-keys/{key_id}"), &t.owner_token)
        .await;
    app.delete(&format!("/v1/users/{uid}"), &t.owner_token)
        .await;

    let log = app.get("/v1/audit-log?limit=200", &t.owner_token).await;
    assert_eq!(log.status, 200, "{log:?}");
    let items = log.body["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "tenant.create",
        "user.create",
        "user.update",
        "api_key.create",
        "api_key.revoke",
        "user.delete",
        "auth.login",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    // Newest first.
    assert_eq!(actions[0], "user.delete");
    let update = items.iter().find(|e| e["action"] == "user.update").unwrap();
    assert_eq!(update["object_id"], uid);
    assert_eq!(update["actor"]["type"], "user");
    assert_eq!(update["actor"]["label"], t.owner_email);
    assert_eq!(update["ip"], "127.0.0.1");
    assert!(update["request_id"].is_string());
    assert_eq!(update["details"]["name"], "Renamed");
    assert!(
        !log.text.contains("a brand new password"),
        "a secret reached the audit log"
    );
    let create_by_key = items
        .iter()
        .find(|e| e["object_id"] == by_key.as_str())
        .unwrap();
    assert_eq!(
        (
            create_by_key["actor"]["type"].as_str(),
            create_by_key["actor"]["id"].as_str()
        ),
        (Some("api_key"), Some(key_id.as_str()))
    );
    let created = items
        .iter()
        .find(|e| e["action"] == "user.create" && e["details"]["email"] == email.as_str())
        .unwrap();
    assert_eq!(created["object_type"], "user");

    let only = app
        .get("/v1/audit-log?action=user.delete", &t.owner_token)
        .await;
    assert_eq!(only.body["items"].as_array().unwrap().len(), 1);
    let page = app.get("/v1/audit-log?limit=2", &t.owner_token).await;
    let next = page.body["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(
            &format!("/v1/audit-log?limit=2&cursor={next}"),
            &t.owner_token,
        )
        .await;
    assert_eq!(page2.body["items"][0]["id"], items[2]["id"]);
}

#[tokio::test]
async fn the_client_address_comes_from_trusted_proxies_only() {
    let direct = TestApp::spawn().await;
    let behind_lb = TestApp::spawn_with(|c| {
        c.api.trusted_proxies = vec!["127.0.0.0/8".into()];
        c.auth.login_max_attempts_per_ip = 3;
    })
    .await;
    for (app, want) in [(&direct, "127.0.0.1"), (&behind_lb, "198.51.100.7")] {
        let t = app.tenant().await;
        let r = app
            .http
            .post(format!("{}/v1/users", app.base))
            .bearer_auth(&t.owner_token)
            .header("x-forwarded-for", "203.0.113.1, 198.51.100.7")
            .json(&json!({"email": format!("x-{}@{}.test", rand_suffix(), t.slug), "password": PASSWORD, "role": "member"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let log = app
            .get("/v1/audit-log?action=user.create", &t.owner_token)
            .await;
        assert_eq!(log.body["items"][0]["ip"], want);
    }
    // Per-address login limits follow the forwarded address: one client locked out, another not.
    let t = behind_lb.tenant().await;
    let login = |ip: &'static str| {
        behind_lb
            .http
            .post(format!("{}/v1/auth/login", behind_lb.base))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": t.owner_email, "password": PASSWORD}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(login("192.0.2.10").await.unwrap().status(), 200);
    }
    assert_eq!(login("192.0.2.10").await.unwrap().status(), 429);
    assert_eq!(login("192.0.2.11").await.unwrap().status(), 200);
}
