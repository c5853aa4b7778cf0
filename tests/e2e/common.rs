//! The test harness: `TestApp::spawn()` boots Mailroom on 127.0.0.1:0 with its own data
//! directory; every test makes its own tenants with random slugs, so tests run in parallel.

use mailroom::{Parts, Running, open_store, start};
use mailroom_core::config::Config;
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use std::net::TcpListener;
use tempfile::TempDir;

/// A response, read whole.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// The problem `code` of an error response.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.text)
    }
}

/// A tenant made for one test, with its owner logged in.
pub struct TestTenant {
    pub id: String,
    pub slug: String,
    pub owner_id: String,
    pub owner_email: String,
    pub owner_token: String,
}

pub const PASSWORD: &str = "correct horse battery staple";

pub fn rand_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

pub fn is_postgres() -> bool {
    std::env::var("MAILROOM_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty())
}

/// Creates `<test database>_<random>` next to the shared test database and returns its URL.
async fn private_database(shared: &str) -> String {
    use sea_orm::ConnectionTrait;
    let (base, query) = shared.split_once('?').map_or((shared, ""), |(b, q)| (b, q));
    let (server, _) = base.rsplit_once('/').unwrap();
    let name = format!("mailroom_test_{}", rand_suffix());
    let admin = sea_orm::Database::connect(shared).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    admin.close().await.unwrap();
    if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    }
}

/// The configuration a test app runs with.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut cfg = Config {
        data_dir: dir.to_path_buf(),
        database_url: std::env::var("MAILROOM_TEST_DATABASE_URL").unwrap_or_default(),
        database_max_connections: 5,
        redis_url: std::env::var("MAILROOM_TEST_REDIS_URL").unwrap_or_default(),
        redis_key_prefix: format!("mailroom-test-{}:", rand_suffix()),
        ..Config::default()
    };
    cfg.api.workers = 2;
    cfg.jobs.enabled = false;
    cfg.jobs.poll_interval_ms = 50;
    cfg.smtp.listen = "127.0.0.1:0".into();
    cfg.imap.listen = "127.0.0.1:0".into();
    cfg.pop3.listen = "127.0.0.1:0".into();
    cfg.submission.listen = "127.0.0.1:0".into();
    // Test peers and test MX hosts are on 127.0.0.1.
    cfg.outbound.public_mx_only = false;
    cfg.public_hostname = "mx.mailroom.test".into();
    // Tests publish no SPF/DKIM records unless they start a DNS server of their own.
    cfg.smtp.authenticate = false;
    cfg
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub running: Option<Running>,
    pub admin_token: String,
    pub cfg: Config,
    pub dir: TempDir,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = test_config(dir.path());
        tweak(&mut cfg);
        Self::boot(cfg, dir).await
    }

    /// Like `spawn_with`, but on Postgres in a database of its own. Job runners claim every
    /// due job of their database, so tests of jobs must not share one.
    pub async fn spawn_isolated_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = test_config(dir.path());
        if is_postgres() {
            cfg.database_url = private_database(&cfg.database_url).await;
        }
        tweak(&mut cfg);
        Self::boot(cfg, dir).await
    }

    /// Boots on an existing data directory (a restart).
    pub async fn boot(cfg: Config, dir: TempDir) -> TestApp {
        let store = open_store(&cfg, true).await.unwrap();
        let admin_email = format!("admin-{}@platform.test", rand_suffix());
        store
            .system()
            .create_platform_admin(&admin_email, "Admin", PASSWORD)
            .await
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let running = start(
            cfg.clone(),
            store,
            Parts {
                api: true,
                jobs: true,
                smtp: true,
                imap: true,
            },
            Some(listener),
        )
        .await
        .unwrap();
        let base = format!("http://{}", running.api_addr.unwrap());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut app = TestApp {
            base,
            http,
            running: Some(running),
            admin_token: String::new(),
            cfg,
            dir,
        };
        app.admin_token = app.login(&admin_email, PASSWORD).await;
        app
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    pub fn store(&self) -> &mailroom_core::store::Store {
        &self.running.as_ref().unwrap().store
    }

    /// Sends a request and reads the whole response.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    /// `POST /v1/mailboxes/{mailbox}/import?{query}` with a raw body (`message/rfc822` or
    /// `application/mbox`).
    pub async fn import(
        &self,
        token: &str,
        mailbox: &str,
        query: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(format!(
                "{}/v1/mailboxes/{mailbox}/import?{query}",
                self.base
            ))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn put_json(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    pub async fn try_login(&self, email: &str, password: &str) -> Resp {
        self.call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let r = self.try_login(email, password).await;
        assert_eq!(r.status, 200, "login of {email}: {r:?}");
        r.body["access_token"].as_str().unwrap().to_string()
    }

    /// A new tenant with a logged-in owner.
    pub async fn tenant(&self) -> TestTenant {
        let slug = format!("t-{}", rand_suffix());
        let owner_email = format!("owner@{slug}.test");
        let r = self
            .post(
                "/v1/tenants",
                &self.admin_token,
                json!({"name": format!("Tenant {slug}"), "slug": slug, "owner": {"email": owner_email, "password": PASSWORD}}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        let owner_token = self.login(&owner_email, PASSWORD).await;
        TestTenant {
            id: r.body["id"].as_str().unwrap().to_string(),
            slug,
            owner_id: r.body["owner"]["id"].as_str().unwrap().to_string(),
            owner_email,
            owner_token,
        }
    }

    /// A user of `t` with `role`, logged in: (id, email, token).
    pub async fn user(&self, t: &TestTenant, role: &str) -> (String, String, String) {
        let email = format!("{role}-{}@{}.test", rand_suffix(), t.slug);
        let r = self
            .post(
                "/v1/users",
                &t.owner_token,
                json!({"email": email, "password": PASSWORD, "role": role}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        let token = self.login(&email, PASSWORD).await;
        (r.body["id"].as_str().unwrap().to_string(), email, token)
    }

    /// An API key of the holder of `token` with `scopes`: (id, secret).
    pub async fn api_key(&self, token: &str, scopes: &[&str]) -> (String, String) {
        let r = self
            .post(
                "/v1/api-keys",
                token,
                json!({"name": "test key", "scopes": scopes}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        (
            r.body["id"].as_str().unwrap().to_string(),
            r.body["key"].as_str().unwrap().to_string(),
        )
    }
}

/// Polls `check` every 50 ms for up to `secs` seconds.
pub async fn eventually<F, Fut>(secs: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// Every message file of the MIME torture corpus (`tests/data/mime-torture`), sorted.
pub fn mime_torture_corpus() -> Vec<std::path::PathBuf> {
    use std::path::{Path, PathBuf};
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x != "md") {
                out.push(p);
            }
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mime-torture");
    let mut out = Vec::new();
    walk(&dir, &mut out);
    out.sort();
    assert!(
        out.len() >= 190,
        "corpus at {}: {} files",
        dir.display(),
        out.len()
    );
    out
}

/// Runs a client program in `dir` (its HOME too) and returns what it printed; fails the test
/// when it fails.
pub async fn run_client(cmd: &str, args: &[&str], dir: &std::path::Path) -> String {
    let out = tokio::process::Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{cmd} runs: {e}"));
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd} failed: {text}");
    text
}
