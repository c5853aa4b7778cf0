//! A small IMAP client over a raw socket, for tests that send exact commands and read exact
//! responses (literals included).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Imap {
    pub s: TcpStream,
    buf: Vec<u8>,
    n: u32,
    /// COMPRESS DEFLATE (RFC 4978) is on for what is sent.
    deflate: Option<flate2::Compress>,
    /// COMPRESS DEFLATE is on for what is read.
    inflate: Option<flate2::Decompress>,
    /// Bytes read from the socket, as they came (compressed or not).
    pub wire_bytes: usize,
}

impl Imap {
    /// Connects and reads the greeting.
    pub async fn connect(addr: std::net::SocketAddr) -> (Imap, String) {
        let s = TcpStream::connect(addr).await.unwrap();
        let mut c = Imap {
            s,
            buf: Vec::new(),
            n: 0,
            deflate: None,
            inflate: None,
            wire_bytes: 0,
        };
        let greeting = c.line().await;
        (c, greeting)
    }

    /// Connects and logs in.
    pub async fn login(addr: std::net::SocketAddr, user: &str, password: &str) -> Imap {
        let (mut c, g) = Imap::connect(addr).await;
        assert!(g.starts_with("* OK"), "{g}");
        let r = c.cmd(&format!("LOGIN \"{user}\" \"{password}\"")).await;
        assert!(r.last_line().contains(" OK "), "{r:?}");
        c
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        let n = tokio::time::timeout(std::time::Duration::from_secs(30), self.s.read(&mut chunk))
            .await
            .expect("IMAP response timed out")
            .unwrap_or(0);
        self.wire_bytes += n;
        if self.inflate.is_some() {
            self.inflate_into_buf(&chunk[..n]);
        } else {
            self.buf.extend_from_slice(&chunk[..n]);
        }
        n > 0
    }

    /// Turns on DEFLATE both ways, as after the tagged OK of COMPRESS DEFLATE.
    pub fn compress(&mut self) {
        self.compress_out();
        self.compress_in();
    }

    /// Deflates what is sent from now on.
    pub fn compress_out(&mut self) {
        self.deflate = Some(flate2::Compress::new(flate2::Compression::default(), false));
    }

    /// Inflates what is read from now on, and what was read after the last line taken.
    pub fn compress_in(&mut self) {
        let early = std::mem::take(&mut self.buf);
        self.inflate = Some(flate2::Decompress::new(false));
        self.inflate_into_buf(&early);
    }

    fn inflate_into_buf(&mut self, mut input: &[u8]) {
        let inflate = self.inflate.as_mut().unwrap();
        loop {
            self.buf.reserve(65536);
            let before = inflate.total_in();
            inflate
                .decompress_vec(input, &mut self.buf, flate2::FlushDecompress::Sync)
                .expect("the server's DEFLATE stream is valid");
            input = &input[(inflate.total_in() - before) as usize..];
            if input.is_empty() && self.buf.len() < self.buf.capacity() {
                return;
            }
        }
    }

    /// `bytes` as they go on the wire: deflated (with a sync flush) once compression is on.
    pub fn deflated(&mut self, bytes: &[u8]) -> Vec<u8> {
        let Some(deflate) = &mut self.deflate else {
            return bytes.to_vec();
        };
        let mut out = Vec::with_capacity(bytes.len() + 64);
        let mut input = bytes;
        loop {
            let before = deflate.total_in();
            deflate
                .compress_vec(input, &mut out, flate2::FlushCompress::Sync)
                .unwrap();
            input = &input[(deflate.total_in() - before) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                return out;
            }
            out.reserve(4096);
        }
    }

    /// One response line with any literals it carries; "" when the server closed.
    pub async fn line(&mut self) -> String {
        String::from_utf8_lossy(&self.line_bytes().await).into_owned()
    }

    /// [`Imap::line`] as the bytes sent.
    pub async fn line_bytes(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            if let Some(p) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=p).collect();
                out.extend_from_slice(&line);
                // A literal: `{n}\r\n` then n bytes, then the line goes on.
                let text = String::from_utf8_lossy(&line).to_string();
                if let Some(n) = text
                    .trim_end()
                    .strip_suffix('}')
                    .and_then(|t| t.rsplit_once('{'))
                    .and_then(|(_, n)| n.parse::<usize>().ok())
                {
                    while self.buf.len() < n {
                        if !self.fill().await {
                            break;
                        }
                    }
                    let lit: Vec<u8> = self.buf.drain(..n.min(self.buf.len())).collect();
                    out.extend_from_slice(&lit);
                    continue;
                }
                return out;
            }
            if !self.fill().await {
                return out;
            }
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        let wire = self.deflated(bytes);
        self.s.write_all(&wire).await.unwrap();
    }

    /// Sends a tagged command and reads up to its tagged response.
    pub async fn cmd(&mut self, command: &str) -> Resp {
        self.n += 1;
        let tag = format!("t{}", self.n);
        self.send(format!("{tag} {command}\r\n").as_bytes()).await;
        self.until(&tag).await
    }

    /// Reads lines up to the one tagged `tag`.
    pub async fn until(&mut self, tag: &str) -> Resp {
        let mut lines = Vec::new();
        loop {
            let l = self.line().await;
            if l.is_empty() {
                lines.push("<closed>".to_string());
                return Resp(lines);
            }
            let done = l.starts_with(&format!("{tag} "));
            lines.push(l);
            if done {
                return Resp(lines);
            }
        }
    }
}

#[derive(Debug)]
pub struct Resp(pub Vec<String>);

impl Resp {
    pub fn last_line(&self) -> &str {
        self.0.last().map(|s| s.as_str()).unwrap_or("")
    }

    pub fn ok(&self) -> bool {
        self.last_line()
            .split_whitespace()
            .nth(1)
            .is_some_and(|w| w == "OK")
    }

    /// The untagged lines starting with `prefix` (after `* `).
    pub fn untagged(&self, prefix: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|l| l.strip_prefix("* "))
            .filter(|l| l.starts_with(prefix))
            .collect()
    }

    pub fn all(&self) -> String {
        self.0.concat()
    }
}
