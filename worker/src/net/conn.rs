//! A connection, plain or TLS, the STARTTLS upgrade from one to the other, and DEFLATE
//! compression over either (IMAP COMPRESS, RFC 4978).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a TLS handshake may take.
pub const TLS_TIMEOUT: Duration = Duration::from_secs(30);

/// A plain or TLS connection.
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
    /// DEFLATE both ways over a plain or TLS connection.
    Deflate(Box<Deflate>),
    /// Only while STARTTLS swaps one for the other.
    Gone,
}

impl Conn {
    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        match self {
            Conn::Tls(_) => true,
            Conn::Deflate(d) => d.inner.is_tls(),
            Conn::Plain(_) | Conn::Gone => false,
        }
    }

    /// Whether DEFLATE is on.
    pub fn is_compressed(&self) -> bool {
        matches!(self, Conn::Deflate(_))
    }

    /// Turns DEFLATE on both ways (RFC 4978): what is written from now on is compressed, what
    /// is read is inflated. `received` holds bytes already read from the connection after the
    /// command that asked for it: they are compressed too. A second call changes nothing.
    pub fn start_deflate(&mut self, received: Vec<u8>) {
        if self.is_compressed() {
            return;
        }
        let inner = std::mem::replace(self, Conn::Gone);
        *self = Conn::Deflate(Box::new(Deflate::new(inner, received)));
    }

    /// Turns a plain connection into TLS (STARTTLS). `Ok(false)`: the handshake failed or
    /// took too long, or the connection was not plain; the connection is then unusable.
    pub async fn start_tls(&mut self, acceptor: TlsAcceptor) -> io::Result<bool> {
        let Conn::Plain(tcp) = std::mem::replace(self, Conn::Gone) else {
            return Ok(false);
        };
        match tokio::time::timeout(TLS_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => {
                *self = Conn::Tls(Box::new(tls));
                Ok(true)
            }
            Ok(Err(e)) => {
                tracing::info!(error = %e, "TLS handshake failed");
                Ok(false)
            }
            Err(_) => {
                tracing::info!("TLS handshake timed out");
                Ok(false)
            }
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Deflate(d) => d.poll_read(cx, buf),
            Conn::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, b),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, b),
            Conn::Deflate(d) => d.poll_write(cx, b),
            Conn::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Deflate(d) => d.poll_flush(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Deflate(d) => d.poll_shutdown(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// Compressed bytes read from the connection at a time, at most.
const DEFLATE_READ: usize = 16 * 1024;
/// Uncompressed bytes taken from one write, at most (what is compressed waits in memory until
/// it is written).
const DEFLATE_WRITE: usize = 64 * 1024;

/// Raw DEFLATE (no zlib header, RFC 1951) both ways over a connection. Each write is
/// compressed with a sync flush, so whatever was written can be inflated by the peer at once,
/// as RFC 4978 requires of each response; a flush writes out what is still held. Reads inflate
/// into the caller's buffer only, so a small input that inflates to a lot is read piece by
/// piece within the caller's bounds, never held whole.
pub struct Deflate {
    inner: Conn,
    inflate: flate2::Decompress,
    deflate: flate2::Compress,
    /// Compressed bytes read and not inflated yet: `input[taken..]`.
    input: Vec<u8>,
    taken: usize,
    /// Compressed bytes not written yet: `output[sent..]`.
    output: Vec<u8>,
    sent: usize,
    /// The peer ended its compressed stream: nothing more is read.
    ended: bool,
}

impl Deflate {
    fn new(inner: Conn, received: Vec<u8>) -> Self {
        Self {
            inner,
            inflate: flate2::Decompress::new(false),
            deflate: flate2::Compress::new(flate2::Compression::default(), false),
            input: received,
            taken: 0,
            output: Vec::new(),
            sent: 0,
            ended: false,
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.ended || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let (before_in, before_out) = (self.inflate.total_in(), self.inflate.total_out());
            let status = self
                .inflate
                .decompress(
                    &self.input[self.taken..],
                    buf.initialize_unfilled(),
                    flate2::FlushDecompress::None,
                )
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let used = (self.inflate.total_in() - before_in) as usize;
            let made = (self.inflate.total_out() - before_out) as usize;
            self.taken += used;
            buf.advance(made);
            if status == flate2::Status::StreamEnd {
                self.ended = true;
            }
            if made > 0 || self.ended {
                return Poll::Ready(Ok(()));
            }
            if self.taken < self.input.len() {
                if used == 0 {
                    // Input left, room for output, and no progress: not DEFLATE.
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "compressed input makes no progress",
                    )));
                }
                continue;
            }
            // Everything read was inflated: read more.
            self.input.clear();
            self.taken = 0;
            self.input.resize(DEFLATE_READ, 0);
            let mut rb = ReadBuf::new(&mut self.input);
            let r = Pin::new(&mut self.inner).poll_read(cx, &mut rb);
            let n = rb.filled().len();
            self.input.truncate(n);
            match r {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                // The connection ended: so does the stream.
                Poll::Ready(Ok(())) if n == 0 => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {}
            }
        }
    }

    /// Writes out what is held; ready once nothing is.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.output.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.output[self.sent..]) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.sent += n,
            }
        }
        self.output.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        // What an earlier write compressed goes first.
        match self.poll_drain(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other.map(|r| r.map(|()| 0)),
        }
        let take = b.len().min(DEFLATE_WRITE);
        let mut rest = &b[..take];
        loop {
            self.output.reserve(rest.len() / 2 + 64);
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(rest, &mut self.output, flate2::FlushCompress::Sync)
                .map_err(|e| io::Error::other(e.to_string()))?;
            rest = &rest[(self.deflate.total_in() - before) as usize..];
            // Done when all is taken and the flush did not fill the room it had.
            if rest.is_empty() && self.output.len() < self.output.capacity() {
                break;
            }
        }
        // Start writing; what does not go now goes with the next write or flush.
        let _ = self.poll_drain(cx);
        Poll::Ready(Ok(take))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }
}
