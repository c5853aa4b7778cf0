//! A tiny SMTP client over a raw socket, for tests that must send exact bytes (malformed
//! input, BDAT, pipelining) and read exact replies.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Wire {
    pub s: TcpStream,
    buf: Vec<u8>,
}

impl Wire {
    pub async fn connect(addr: std::net::SocketAddr) -> Wire {
        Self::from_stream(TcpStream::connect(addr).await.unwrap()).await
    }

    pub async fn from_stream(s: TcpStream) -> Wire {
        let mut w = Wire { s, buf: Vec::new() };
        let greet = w.reply().await;
        assert!(greet.starts_with("220 "), "{greet}");
        w
    }

    /// Reads one (possibly multi-line) reply; "" when the server closed.
    pub async fn reply(&mut self) -> String {
        let mut out = String::new();
        loop {
            while let Some(p) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=p).collect();
                let line = String::from_utf8_lossy(&line).to_string();
                out.push_str(&line);
                if line.len() >= 4 && line.as_bytes()[3] == b' ' {
                    return out;
                }
            }
            let mut chunk = [0u8; 4096];
            let n =
                tokio::time::timeout(std::time::Duration::from_secs(30), self.s.read(&mut chunk))
                    .await
                    .expect("reply timed out")
                    .unwrap_or(0);
            if n == 0 {
                return out;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).await.unwrap();
    }

    /// Sends a command line and returns the reply.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    pub async fn code(&mut self, line: &str) -> u16 {
        let r = self.cmd(line).await;
        r.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
    }
}

pub fn code_of(reply: &str) -> u16 {
    reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
}
