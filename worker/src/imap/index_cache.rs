//! The folder indexes SELECT loaded, kept per process so the next SELECT of a big folder reads
//! only what changed since (by MODSEQ, from the change log) instead of every message again.
//! Mail clients reconnect and re-select INBOX all day; a 100,000-message folder is then one
//! small query instead of 100,000 rows.
//!
//! An entry is found by folder id only after the caller read that folder through its
//! tenant-scoped store (so a session never sees an index it could not have loaded), and is
//! checked against the folder's UIDVALIDITY. Memory is bounded: only folders of at least
//! [`MIN_CACHED`] messages are kept, [`MAX_CACHED_ENTRIES`] messages in all, the least recently
//! used folder leaving first.

use mailroom_core::error::Result;
use mailroom_core::store::{FolderMark, IndexEntry, TenantStore};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Folders smaller than this are loaded whole each time (cheap enough).
pub const MIN_CACHED: usize = 1000;
/// Messages kept in all, over every folder (about 64 bytes each).
pub const MAX_CACHED_ENTRIES: usize = 1_000_000;

struct Cached {
    uidvalidity: i64,
    /// The folder's HIGHESTMODSEQ read before `entries` (they may hold later changes too;
    /// applying those again is harmless).
    modseq: i64,
    entries: Arc<Vec<IndexEntry>>,
    /// When it was last used (a counter).
    used: u64,
}

#[derive(Default)]
struct Inner {
    folders: HashMap<Uuid, Cached>,
    total: usize,
    clock: u64,
}

/// The cache, shared by the sessions of a process. Cheap to clone.
#[derive(Clone, Default)]
pub struct IndexCache {
    inner: Arc<Mutex<Inner>>,
}

impl IndexCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The folder (as read now) and its messages in UID order: from the cache and the changes
    /// since, or loaded whole.
    pub async fn load(
        &self,
        ts: &TenantStore,
        mailbox: Uuid,
        folder: Uuid,
    ) -> Result<(FolderMark, Vec<IndexEntry>)> {
        let hit = {
            let inner = self.lock();
            inner
                .folders
                .get(&folder)
                .map(|c| (c.uidvalidity, c.modseq, c.entries.clone()))
        };
        let (f, entries) = match hit {
            Some((uidvalidity, modseq, cached)) => {
                let ch = ts.index_changes(mailbox, folder, modseq).await?;
                if ch.folder.uidvalidity != uidvalidity || ch.folder.highestmodseq < modseq {
                    self.forget(folder);
                    ts.folder_index(mailbox, folder).await?
                } else {
                    let mut entries = (*cached).clone();
                    apply(&mut entries, ch.changed, &ch.vanished);
                    (ch.folder, entries)
                }
            }
            None => ts.folder_index(mailbox, folder).await?,
        };
        self.keep(&f, &entries);
        Ok((f, entries))
    }

    fn forget(&self, folder: Uuid) {
        let mut inner = self.lock();
        if let Some(old) = inner.folders.remove(&folder) {
            inner.total -= old.entries.len();
        }
    }

    /// Keeps a folder's index as of `f` (read before `entries`).
    fn keep(&self, f: &FolderMark, entries: &[IndexEntry]) {
        if entries.len() < MIN_CACHED || entries.len() > MAX_CACHED_ENTRIES {
            self.forget(f.id);
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let used = inner.clock;
        if let Some(old) = inner.folders.remove(&f.id) {
            inner.total -= old.entries.len();
        }
        while inner.total + entries.len() > MAX_CACHED_ENTRIES {
            let Some(oldest) = inner
                .folders
                .iter()
                .min_by_key(|(_, c)| c.used)
                .map(|(id, _)| *id)
            else {
                break;
            };
            if let Some(old) = inner.folders.remove(&oldest) {
                inner.total -= old.entries.len();
            }
        }
        inner.total += entries.len();
        inner.folders.insert(
            f.id,
            Cached {
                uidvalidity: f.uidvalidity,
                modseq: f.highestmodseq,
                entries: Arc::new(entries.to_vec()),
                used,
            },
        );
    }

    /// Messages held, over every folder.
    #[cfg(test)]
    fn total(&self) -> usize {
        self.lock().total
    }
}

/// Brings an index (UIDs ascending) up to date: `changed` (arrivals and changes, UIDs
/// ascending) replace or join their entries, `vanished` UIDs leave.
pub fn apply(entries: &mut Vec<IndexEntry>, changed: Vec<IndexEntry>, vanished: &[i64]) {
    for e in changed {
        match entries.binary_search_by_key(&e.uid, |x| x.uid) {
            Ok(i) => entries[i] = e,
            Err(i) => entries.insert(i, e),
        }
    }
    if !vanished.is_empty() {
        let gone: std::collections::HashSet<i64> = vanished.iter().copied().collect();
        entries.retain(|e| !gone.contains(&e.uid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(uid: i64, modseq: i64, flags: i32) -> IndexEntry {
        IndexEntry {
            id: Uuid::from_u128(uid as u128),
            uid,
            modseq,
            flags,
            keywords: Vec::new(),
        }
    }

    #[test]
    fn changes_join_replace_and_leave_in_uid_order() {
        let mut v = vec![e(1, 1, 0), e(2, 1, 0), e(4, 1, 0)];
        apply(&mut v, vec![e(2, 5, 1), e(3, 5, 0), e(7, 6, 0)], &[1, 4, 9]);
        let got: Vec<(i64, i64, i32)> = v.iter().map(|x| (x.uid, x.modseq, x.flags)).collect();
        assert_eq!(got, [(2, 5, 1), (3, 5, 0), (7, 6, 0)]);
    }

    fn folder(id: u128, n: i64) -> FolderMark {
        FolderMark {
            id: Uuid::from_u128(id),
            mailbox_id: Uuid::nil(),
            uidvalidity: 1,
            uidnext: n + 1,
            highestmodseq: n,
            recent_uid: 1,
        }
    }

    #[test]
    fn memory_stays_bounded_and_small_folders_are_not_kept() {
        let cache = IndexCache::default();
        let big: Vec<IndexEntry> = (1..=(MAX_CACHED_ENTRIES as i64 / 2))
            .map(|u| e(u, 1, 0))
            .collect();
        cache.keep(&folder(1, 1), &big);
        cache.keep(&folder(2, 1), &big);
        assert_eq!(cache.total(), big.len() * 2);
        // A third big folder pushes out the least recently used one.
        cache.keep(&folder(3, 1), &big);
        assert_eq!(cache.total(), big.len() * 2);
        assert!(!cache.lock().folders.contains_key(&Uuid::from_u128(1)));
        // Kept again: replaced, not counted twice.
        cache.keep(&folder(3, 1), &big);
        assert_eq!(cache.total(), big.len() * 2);
        // Small folders are loaded whole each time.
        cache.keep(&folder(4, 1), &big[..10]);
        assert!(!cache.lock().folders.contains_key(&Uuid::from_u128(4)));
    }
}
