//! Redis holds only what may be lost: with it killed (or never there), the process starts,
//! logins and deliveries work (rate limits count in process, notifications are dropped) and
//! `/readyz` says `degraded` with the details; when Redis returns, so does `ok`.

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

async fn wait_status(app: &TestApp, want: &str) -> bool {
    eventually(15, || async {
        app.call(Method::GET, "/readyz", None, None).await.body["status"] == want
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
    assert!(wait_status(&app, "ok").await);

    redis.kill().unwrap();
    redis.wait().unwrap();
    let r = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (r.status.as_u16(), r.body["status"].as_str()),
        (200, Some("degraded")),
        "{r:?}"
    );
    assert_eq!(r.body["checks"]["redis"]["status"], "down", "{r:?}");
    assert_eq!(r.body["checks"]["database"]["status"], "ok", "{r:?}");
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
        wait_status(&app, "ok").await,
        "readiness did not come back with Redis"
    );
    redis.kill().unwrap();
    redis.wait().unwrap();
}

/// Started while Redis is down: it starts, says `degraded`, and mail flows; the bus and the
/// limiter connect when Redis appears.
#[tokio::test]
async fn it_starts_and_delivers_while_redis_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(|c| c.redis_url = format!("redis://127.0.0.1:{port}")).await;
    let r = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (r.status.as_u16(), r.body["status"].as_str()),
        (200, Some("degraded")),
        "{r:?}"
    );
    let (t, _, _, ana_id, ana) = crate::smtp::receiving(&app).await;
    let mut events = app.running.as_ref().unwrap().pipeline.bus().subscribe();
    for n in 0..5 {
        let mut w = crate::smtp_wire::Wire::connect(crate::smtp::smtp_addr(&app)).await;
        let body = format!("Subject: while down {n}\r\n\r\nhello\r\n");
        let reply = crate::smtp::bdat(&mut w, "x@outside.example", &[&ana], body.as_bytes()).await;
        assert!(reply.starts_with("250"), "{reply}");
    }
    assert_eq!(
        crate::smtp::inbox(&app, &t.owner_token, &ana_id)
            .await
            .len(),
        5
    );
    // Redis appears: the bus subscribes, says listeners must re-read, and carries events again.
    let mut redis = start_redis(port);
    assert!(wait_status(&app, "ok").await, "not ok once Redis is up");
    let resync = tokio::time::timeout(std::time::Duration::from_secs(15), async {
        loop {
            match events.recv().await {
                Ok(ev) if ev.kind == mailroom_core::bus::RESYNC => return true,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return false,
            }
        }
    })
    .await;
    assert_eq!(resync, Ok(true), "no resync event after Redis came up");
    redis.kill().unwrap();
    redis.wait().unwrap();
}
