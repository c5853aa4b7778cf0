//! Where an upload being received (a message's data, later an IMAP APPEND literal) waits until
//! it is complete: in memory while small, then in an unnamed temporary file under the spool
//! directory, so a session receiving a large message holds a fixed amount of memory. The file
//! has no name (it is unlinked at creation), so nothing is left behind by a crash, and it is
//! gone when the spool is dropped.

use std::io;
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Bytes kept in memory before they go to a file.
pub const MEMORY_LIMIT: usize = 256 * 1024;

/// One upload being received.
pub struct Spool {
    dir: PathBuf,
    mem: Vec<u8>,
    file: Option<tokio::fs::File>,
    len: usize,
    /// A write failed (the disk is full): further bytes are dropped and the upload fails.
    failed: Option<io::Error>,
}

impl Spool {
    /// An empty spool whose file, if one is needed, goes into `dir` (created when missing).
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            mem: Vec::new(),
            file: None,
            len: 0,
            failed: None,
        }
    }

    /// Bytes received so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was received.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds bytes. Never fails: a write error is remembered and reported by
    /// [`Spool::into_bytes`], so the caller can read the upload to its end first.
    pub async fn write(&mut self, bytes: &[u8]) {
        if self.failed.is_some() || bytes.is_empty() {
            return;
        }
        self.len += bytes.len();
        if self.file.is_none() && self.mem.len() + bytes.len() <= MEMORY_LIMIT {
            self.mem.extend_from_slice(bytes);
            return;
        }
        if let Err(e) = self.append_to_file(bytes).await {
            tracing::warn!(error = %e, dir = %self.dir.display(), "cannot spool an upload to disk");
            self.mem = Vec::new();
            self.file = None;
            self.failed = Some(e);
        }
    }

    async fn append_to_file(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            tokio::fs::create_dir_all(&self.dir).await?;
            let dir = self.dir.clone();
            let f = tokio::task::spawn_blocking(move || tempfile::tempfile_in(dir))
                .await
                .map_err(io::Error::other)??;
            let mut f = tokio::fs::File::from_std(f);
            f.write_all(&std::mem::take(&mut self.mem)).await?;
            self.file = Some(f);
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(bytes).await?;
        }
        Ok(())
    }

    /// The whole upload, read back into memory (the file, if any, is then deleted), or the
    /// error that made it incomplete.
    pub async fn into_bytes(mut self) -> io::Result<Vec<u8>> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let Some(mut f) = self.file.take() else {
            return Ok(std::mem::take(&mut self.mem));
        };
        f.flush().await?;
        f.rewind().await?;
        let mut out = Vec::with_capacity(self.len);
        f.read_to_end(&mut out).await?;
        if out.len() != self.len {
            return Err(io::Error::other(format!(
                "spool file holds {} bytes, {} were written",
                out.len(),
                self.len
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn small_uploads_stay_in_memory_large_ones_go_to_an_unnamed_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut small = Spool::new(dir.path().join("spool"));
        small.write(b"hello").await;
        assert!(small.file.is_none());
        assert_eq!(small.into_bytes().await.unwrap(), b"hello");

        let mut big = Spool::new(dir.path().join("spool"));
        let chunk: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
        for _ in 0..40 {
            big.write(&chunk).await;
        }
        assert!(big.file.is_some() && big.mem.is_empty());
        assert_eq!(big.len(), 40 * chunk.len());
        // Nothing with a name is left in the spool directory.
        assert_eq!(
            std::fs::read_dir(dir.path().join("spool")).unwrap().count(),
            0
        );
        let back = big.into_bytes().await.unwrap();
        assert_eq!(back, chunk.repeat(40));
    }
}
