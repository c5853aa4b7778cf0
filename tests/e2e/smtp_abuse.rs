//! Clients that hold sessions without sending mail: trickling a command or a message byte by
//! byte, and crowds of idle connections. None of them may hold a slot for long, and a normal
//! sender gets through.

use crate::common::*;
use crate::smtp::{bdat, receiving, smtp_addr};
use crate::smtp_wire::{Wire, code_of};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `bytes` one at a time, `gap` apart, until the server closes the connection; returns
/// what it answered and whether it closed before everything was sent.
async fn trickle(w: &mut Wire, bytes: &[u8], gap: Duration) -> (String, bool) {
    for b in bytes {
        if w.s.write_all(&[*b]).await.is_err() {
            break;
        }
        let mut chunk = [0u8; 512];
        if let Ok(r) = tokio::time::timeout(gap, w.s.read(&mut chunk)).await {
            let n = r.unwrap_or(0);
            return (String::from_utf8_lossy(&chunk[..n]).into_owned(), true);
        }
    }
    (String::new(), false)
}

#[tokio::test]
async fn a_command_trickled_byte_by_byte_is_cut_off() {
    let app = TestApp::spawn_with(|c| c.smtp.command_timeout_secs = 2).await;
    let mut w = Wire::connect(smtp_addr(&app)).await;
    // 40 bytes, one every 300 ms: 12 s in all, each byte well within any per-read time-out.
    let (reply, cut) = trickle(&mut w, &[b'x'; 40], Duration::from_millis(300)).await;
    assert!(cut, "the server waited for the whole trickle");
    assert!(reply.starts_with("421 4.4.2"), "{reply}");
}

#[tokio::test]
async fn message_data_below_the_minimum_rate_is_cut_off_and_nothing_is_stored() {
    let app = TestApp::spawn_with(|c| {
        c.smtp.min_data_rate_bytes_per_sec = 1000;
        c.smtp.min_data_rate_grace_secs = 1;
    })
    .await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let mut w = Wire::connect(smtp_addr(&app)).await;
    assert_eq!(w.code("EHLO c.test").await, 250);
    assert_eq!(w.code("MAIL FROM:<x@outside.example>").await, 250);
    assert_eq!(w.code(&format!("RCPT TO:<{ana}>")).await, 250);
    assert_eq!(code_of(&w.cmd("DATA").await), 354);
    let (reply, cut) = trickle(&mut w, &[b'y'; 60], Duration::from_millis(200)).await;
    assert!(cut, "the server waited for the whole trickle");
    assert!(
        reply.starts_with("421 4.4.2") && reply.contains("slowly"),
        "{reply}"
    );
    // The same over BDAT.
    let mut w = Wire::connect(smtp_addr(&app)).await;
    assert_eq!(w.code("EHLO c.test").await, 250);
    assert_eq!(w.code("MAIL FROM:<x@outside.example>").await, 250);
    assert_eq!(w.code(&format!("RCPT TO:<{ana}>")).await, 250);
    w.send(b"BDAT 100 LAST\r\n").await;
    let (reply, cut) = trickle(&mut w, &[b'y'; 60], Duration::from_millis(200)).await;
    assert!(cut && reply.starts_with("421 4.4.2"), "{reply}");
    assert!(
        crate::smtp::all_messages(&app, &t.owner_token, &ana_id)
            .await
            .is_empty()
    );
    // A sender at a normal pace is unaffected.
    let mut w = Wire::connect(smtp_addr(&app)).await;
    let r = bdat(
        &mut w,
        "x@outside.example",
        &[&ana],
        b"Subject: ok\r\n\r\nfine\r\n",
    )
    .await;
    assert_eq!(code_of(&r), 250, "{r}");
}

/// A crowd of idle connections fills the server; while it is busy (over three quarters full),
/// idle clients get the short time-out, so slots free up and a sender gets through without
/// waiting minutes, while the rest of the crowd keeps the normal time-out.
#[tokio::test]
async fn idle_crowds_give_way_to_senders() {
    let app = TestApp::spawn_with(|c| {
        c.smtp.max_connections = 8;
        c.smtp.max_connections_per_ip = 100;
        c.smtp.command_timeout_secs = 300;
        c.smtp.busy_command_timeout_secs = 1;
    })
    .await;
    let (_, _, _, _, ana) = receiving(&app).await;
    let addr = smtp_addr(&app);
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(Wire::connect(addr).await);
    }
    // Full: the next one is refused at once.
    let mut refused = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 256];
    let n = refused.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("421 4.3.2"));
    // Busy: idle ones are closed after the short time-out, not the 5-minute one, until the
    // server is no longer busy (6 of 8 open).
    let replies = futures_util::future::join_all(idle.iter_mut().map(|w| async {
        tokio::time::timeout(Duration::from_secs(5), w.reply())
            .await
            .ok()
    }))
    .await;
    let closed = replies
        .iter()
        .flatten()
        .filter(|r| r.starts_with("421 4.4.2"))
        .count();
    assert!(closed >= 2, "{replies:?}");
    let mut w = Wire::connect(addr).await;
    let r = bdat(
        &mut w,
        "x@outside.example",
        &[&ana],
        b"Subject: through\r\n\r\nhi\r\n",
    )
    .await;
    assert_eq!(code_of(&r), 250, "{r}");
}

/// The listen backlog is the configured one (`ss` shows it as the listening socket's Send-Q).
#[tokio::test]
async fn the_listen_backlog_is_configurable() {
    let app = TestApp::spawn_with(|c| c.smtp.listen_backlog = 2048).await;
    let port = smtp_addr(&app).port();
    let out = std::process::Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .expect("ss (Debian iproute2)");
    let text = String::from_utf8_lossy(&out.stdout);
    let send_q: u32 = text
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(send_q, 2048.min(somaxconn), "{text}");
}
