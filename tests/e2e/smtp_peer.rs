//! A scripted SMTP server on 127.0.0.1 standing in for the rest of the Internet: it records
//! every message it accepts and answers each recipient by its local part:
//!
//! - `later…`: `451 4.7.1` the first time that address is seen, `250` after (greylisting);
//! - `temp…`: `451 4.3.0` always;
//! - `reject…`: `550 5.1.1`;
//! - `drop…`: the connection is closed at once (a crashed peer);
//! - `slow…`: `250` after 6 seconds; `pause…`: `250` after 300 ms;
//! - anything else: `250`.
//!
//! With `hang_up_after_data` set it closes each session after answering a message's data,
//! as a server does with sessions idle past its timeout.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message the peer accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub rcpts: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Clone, Default)]
pub struct Peer {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Received>>>,
    seen: Arc<Mutex<HashSet<String>>>,
    /// Every command line, in order.
    pub lines: Arc<Mutex<Vec<String>>>,
    /// Sessions open now, and the most open at once.
    pub open: Arc<Mutex<(usize, usize)>>,
    /// Sessions opened in all.
    pub sessions: Arc<AtomicUsize>,
    /// Close each session after a message's data.
    pub hang_up_after_data: Arc<AtomicBool>,
}

impl Peer {
    pub async fn start() -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = Peer {
            port: listener.local_addr().unwrap().port(),
            ..Peer::default()
        };
        let p = peer.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                let p = p.clone();
                tokio::spawn(async move {
                    p.sessions.fetch_add(1, Ordering::SeqCst);
                    {
                        let mut o = p.open.lock().unwrap();
                        o.0 += 1;
                        o.1 = o.1.max(o.0);
                    }
                    let _ = p.session(s).await;
                    p.open.lock().unwrap().0 -= 1;
                });
            }
        });
        peer
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    async fn session(&self, s: tokio::net::TcpStream) -> std::io::Result<()> {
        let (r, mut w) = s.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 peer.test ESMTP test peer\r\n").await?;
        let mut from = String::new();
        let mut rcpts = Vec::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let line = line.trim_end().to_string();
            self.lines.lock().unwrap().push(line.clone());
            let upper = line.to_ascii_uppercase();
            let reply: String = if upper.starts_with("EHLO") {
                "250-peer.test\r\n250-8BITMIME\r\n250-SIZE 100000000\r\n250 PIPELINING".into()
            } else if upper.starts_with("MAIL FROM:") {
                from = between(&line);
                rcpts.clear();
                "250 2.1.0 ok".into()
            } else if upper.starts_with("RCPT TO:") {
                let to = between(&line);
                let local = to.split('@').next().unwrap_or("").to_string();
                if local.starts_with("slow") {
                    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
                } else if local.starts_with("pause") {
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
                if local.starts_with("drop") {
                    return Ok(());
                } else if local.starts_with("reject") {
                    "550 5.1.1 no such user here".into()
                } else if local.starts_with("temp") {
                    "451 4.3.0 try again later".into()
                } else if local.starts_with("later") && self.seen.lock().unwrap().insert(to.clone())
                {
                    "451 4.7.1 greylisted, come back later".into()
                } else {
                    rcpts.push(to);
                    "250 2.1.5 ok".into()
                }
            } else if upper == "DATA" {
                w.write_all(b"354 go ahead\r\n").await?;
                let mut data = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if r.read_until(b'\n', &mut l).await? == 0 {
                        return Ok(());
                    }
                    if l == b".\r\n" {
                        break;
                    }
                    let l = if l.starts_with(b"..") {
                        &l[1..]
                    } else {
                        &l[..]
                    };
                    data.extend_from_slice(l);
                }
                self.received.lock().unwrap().push(Received {
                    from: from.clone(),
                    rcpts: rcpts.clone(),
                    data,
                });
                if self.hang_up_after_data.load(Ordering::SeqCst) {
                    w.write_all(b"250 2.0.0 queued here\r\n").await?;
                    return Ok(());
                }
                "250 2.0.0 queued here".into()
            } else if upper == "QUIT" {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else if upper == "RSET" || upper == "NOOP" {
                "250 ok".into()
            } else {
                "502 5.5.1 not here".into()
            };
            w.write_all(format!("{reply}\r\n").as_bytes()).await?;
        }
    }
}

fn between(line: &str) -> String {
    let start = line.find('<').map_or(0, |p| p + 1);
    let end = line[start..].find('>').map_or(line.len(), |p| start + p);
    line[start..end].to_string()
}
