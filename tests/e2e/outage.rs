//! Redis holds only what may be lost: with it killed, logins still work (rate limits count in
//! process) and `/readyz` says what is wrong; when it returns, readiness returns.

use crate::common::*;
use reqwest::Method;
use std::process::{Child, Command, Stdio};

fn start_redis(port: u16) -> Child {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (Debian package redis-server)")
}

async fn wait_ready(app: &TestApp, want: u16) -> bool {
    eventually(15, || async {
        app.call(Method::GET, "/readyz", None, None).await.status == want
    })
    .await
}

#[tokio::test]
async fn a_redis_outage_degrades_readiness_but_not_logins() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = start_redis(port);
    let url = format!("redis://127.0.0.1:{port}");
    assert!(
        eventually(10, || async {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .await,
        "redis did not start"
    );
    let app = TestApp::spawn_with(|c| {
        c.redis_url = url.clone();
        c.auth.login_max_failures_per_account = 2;
    })
    .await;
    let t = app.tenant().await;
    assert!(wait_ready(&app, 200).await);

    redis.kill().unwrap();
    redis.wait().unwrap();
    let r = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (503, "redis_unavailable"),
        "{r:?}"
    );
    // Logins go on, and failures are still limited, in process.
    app.login(&t.owner_email, PASSWORD).await;
    for _ in 0..2 {
        assert_eq!(
            app.try_login(&t.owner_email, "wrong password!")
                .await
                .status,
            401
        );
    }
    assert_eq!(app.try_login(&t.owner_email, PASSWORD).await.status, 429);

    let mut redis = start_redis(port);
    assert!(
        wait_ready(&app, 200).await,
        "readiness did not come back with Redis"
    );
    redis.kill().unwrap();
    redis.wait().unwrap();
}
