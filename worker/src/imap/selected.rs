//! The selected folder as one session sees it: its messages in sequence-number order, with
//! the flags last reported to the client, kept current from what changed after the session's
//! MODSEQ. Sequence numbers change only when the session reports an expunge, and an expunge
//! is reported only where RFC 9051 §7.5.1 allows it (not during FETCH, STORE or SEARCH by
//! sequence number); until then the gone message keeps its number.

use mailroom_core::bus::{MailboxEvent, RESYNC};
use mailroom_core::error::Result;
use mailroom_core::mail::flags;
use mailroom_core::store::{IndexEntry, TenantStore};
use mailroom_proto::imap::lex::SequenceSet;
use tokio::sync::broadcast;
use uuid::Uuid;

/// The selected folder.
pub struct Selected {
    /// The mailbox.
    pub mailbox: Uuid,
    /// The folder.
    pub folder: Uuid,
    /// Its UIDNEXT as last read (a message from there on is new to this session).
    uidnext: i64,
    /// The MODSEQ up to which this session knows the folder.
    pub modseq: i64,
    /// Opened with EXAMINE.
    pub read_only: bool,
    /// The messages, by sequence number (index + 1), UIDs ascending.
    pub entries: Vec<IndexEntry>,
    /// UIDs known to be gone but not yet reported (their numbers stay until then).
    pending_expunge: Vec<i64>,
    /// The saved search result (SEARCHRES `$`), as UIDs.
    pub saved: Vec<i64>,
    /// UID ranges (`from..to`) that are `\Recent` for this session.
    recent: Vec<(i64, i64)>,
    /// IMAP4rev2 is on: no `\Recent`, no RECENT responses (RFC 9051).
    rev2: bool,
    /// Keywords the client has been told of in FLAGS.
    keywords: std::collections::BTreeSet<String>,
    /// Events of the mailbox, to learn cheaply that something changed.
    events: broadcast::Receiver<MailboxEvent>,
    /// Something may have changed since the last sync.
    dirty: bool,
}

/// How a sync reports.
#[derive(Debug, Clone, Copy)]
pub struct Sync<'a> {
    /// Expunges may be reported now.
    pub expunges: bool,
    /// QRESYNC is on: VANISHED instead of EXPUNGE.
    pub qresync: bool,
    /// CONDSTORE is on: FETCH responses carry MODSEQ.
    pub condstore: bool,
    /// UIDs whose flag changes the caller reports itself.
    pub quiet: &'a [i64],
}

/// Appends the flag list of an entry (`(\Seen \Recent $Work)`) without building names.
pub fn write_flags(out: &mut Vec<u8>, e: &IndexEntry, recent: bool) {
    const SYSTEM: [(i32, &[u8]); 5] = [
        (flags::SEEN, b"\\Seen"),
        (flags::ANSWERED, b"\\Answered"),
        (flags::FLAGGED, b"\\Flagged"),
        (flags::DELETED, b"\\Deleted"),
        (flags::DRAFT, b"\\Draft"),
    ];
    out.push(b'(');
    let mut first = true;
    let mut put = |out: &mut Vec<u8>, b: &[u8]| {
        if !first {
            out.push(b' ');
        }
        first = false;
        out.extend_from_slice(b);
    };
    for (bit, name) in SYSTEM {
        if e.flags & bit != 0 {
            put(out, name);
        }
    }
    if recent {
        put(out, b"\\Recent");
    }
    for k in &e.keywords {
        put(out, k.as_bytes());
    }
    out.push(b')');
}

/// The system flags a message can carry, as PERMANENTFLAGS and FLAGS list them.
pub const SYSTEM_FLAGS: &str = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

impl Selected {
    /// `* FLAGS (…)` and `* OK [PERMANENTFLAGS (…)]` with every keyword in use, as SELECT
    /// sends them and as they are sent again when a new keyword appears.
    pub fn write_flags(&self, out: &mut Vec<u8>) {
        let kw: String = self.keywords.iter().map(|k| format!(" {k}")).collect();
        out.extend_from_slice(format!("* FLAGS ({SYSTEM_FLAGS}{kw})\r\n").as_bytes());
        let perm = if self.read_only {
            "()".to_string()
        } else {
            format!("({SYSTEM_FLAGS}{kw} \\*)")
        };
        out.extend_from_slice(format!("* OK [PERMANENTFLAGS {perm}] flags\r\n").as_bytes());
    }

    /// Sends FLAGS again when an entry carries a keyword the client has not been told of.
    fn announce(&mut self, e: &IndexEntry, out: &mut Vec<u8>) {
        if e.keywords.iter().any(|k| !self.keywords.contains(k)) {
            self.keywords.extend(e.keywords.iter().cloned());
            self.write_flags(out);
        }
    }

    /// A folder just loaded.
    pub fn new(
        mailbox: Uuid,
        folder: &mailroom_core::store::FolderMark,
        entries: Vec<IndexEntry>,
        read_only: bool,
        recent: Option<(i64, i64)>,
        events: broadcast::Receiver<MailboxEvent>,
    ) -> Self {
        let keywords = entries
            .iter()
            .flat_map(|e| e.keywords.iter().cloned())
            .collect();
        Self {
            mailbox,
            folder: folder.id,
            uidnext: folder.uidnext,
            modseq: folder.highestmodseq,
            read_only,
            entries,
            pending_expunge: Vec::new(),
            saved: Vec::new(),
            keywords,
            recent: recent.into_iter().collect(),
            rev2: recent.is_none(),
            events,
            dirty: false,
        }
    }

    /// Whether the message is `\Recent` in this session.
    pub fn is_recent(&self, uid: i64) -> bool {
        self.recent.iter().any(|(a, b)| (*a..*b).contains(&uid))
    }

    /// Messages `\Recent` in this session.
    pub fn recent_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| self.is_recent(e.uid))
            .count()
    }

    /// Sequence number of a UID.
    pub fn seq_of(&self, uid: i64) -> Option<usize> {
        self.entries
            .binary_search_by_key(&uid, |e| e.uid)
            .ok()
            .map(|i| i + 1)
    }

    /// The entry of a UID.
    pub fn entry(&self, uid: i64) -> Option<&IndexEntry> {
        self.seq_of(uid).map(|s| &self.entries[s - 1])
    }

    /// Whether the message is known to be gone.
    pub fn is_gone(&self, uid: i64) -> bool {
        self.pending_expunge.contains(&uid)
    }

    /// The UIDs a set names, ascending, without duplicates. `uid`: the set holds UIDs (those not
    /// in the folder are skipped), else sequence numbers (`None` when one is out of range: the
    /// command is BAD). `*` is the largest in use; `$` the saved result.
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Option<Vec<i64>> {
        let mut out = Vec::new();
        if uid {
            let largest = self.entries.last().map_or(0, |e| e.uid as u64);
            let Some(bounds) = set.bounds(largest) else {
                return Some(self.saved.clone());
            };
            for (lo, hi) in bounds {
                let start = self.entries.partition_point(|e| (e.uid as u64) < lo);
                out.extend(
                    self.entries[start..]
                        .iter()
                        .take_while(|e| e.uid as u64 <= hi)
                        .map(|e| e.uid),
                );
            }
        } else {
            let n = self.entries.len() as u64;
            let Some(bounds) = set.bounds(n) else {
                return Some(self.saved.clone());
            };
            for (lo, hi) in bounds {
                if lo == 0 || hi > n {
                    return None;
                }
                out.extend((lo..=hi).map(|s| self.entries[s as usize - 1].uid));
            }
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }

    /// Whether an event may tell this session something new: a resync, or a change of its
    /// folder above the MODSEQ it has read up to (its own changes, read back by its own sync,
    /// are not news again).
    fn news(&self, ev: &MailboxEvent) -> bool {
        ev.kind == RESYNC || (ev.folder_id == self.folder && ev.modseq > self.modseq)
    }

    /// Notes changes announced on the bus since the last look (cheap; no database).
    fn look(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(ev) => {
                    if self.news(&ev) {
                        self.dirty = true;
                    }
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => self.dirty = true,
                Err(_) => break,
            }
        }
    }

    /// Waits for the next event of this folder (for IDLE).
    pub async fn next_event(&mut self) {
        loop {
            match self.events.recv().await {
                Ok(ev) if self.news(&ev) => break,
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                // The bus is gone (shutdown): nothing more will come.
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
        self.dirty = true;
    }

    /// Marks the folder as changed (by this session).
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// Brings the view up to date and appends the untagged responses that tell the client:
    /// `FETCH (FLAGS …)` for changed flags, `EXISTS` for arrivals, and, when `expunges` is
    /// allowed, `EXPUNGE` (or `VANISHED` with QRESYNC) for departures. `modseq_in_fetch`:
    /// CONDSTORE is on, so FETCH responses carry MODSEQ.
    pub async fn sync(&mut self, ts: &TenantStore, out: &mut Vec<u8>, o: Sync<'_>) -> Result<()> {
        let (expunges, qresync, modseq_in_fetch) = (o.expunges, o.qresync, o.condstore);
        self.look();
        let mut changed = Vec::new();
        if self.dirty {
            self.dirty = false;
            let ch = ts
                .index_changes(self.mailbox, self.folder, self.modseq)
                .await?;
            self.modseq = self.modseq.max(ch.folder.highestmodseq);
            for uid in ch.vanished {
                if self.seq_of(uid).is_some() && !self.pending_expunge.contains(&uid) {
                    self.pending_expunge.push(uid);
                }
            }
            // New messages are recent for the first read-write session to hear of them;
            // a read-only one only sees which nobody has claimed yet.
            if !self.rev2 && ch.changed.last().is_some_and(|e| e.uid >= self.uidnext) {
                let range = if self.read_only {
                    (ch.folder.recent_uid, i64::MAX)
                } else {
                    ts.claim_recent(&ch.folder).await?
                };
                self.recent.push(range);
            }
            self.uidnext = ch.folder.uidnext;
            changed = ch.changed;
        }
        // Departures first, then arrivals: the numbers in EXISTS and FETCH are those after
        // the expunges the client has just been told of.
        if expunges && !self.pending_expunge.is_empty() {
            let mut gone = std::mem::take(&mut self.pending_expunge);
            gone.sort_unstable();
            if qresync {
                let set = uid_set(&gone);
                out.extend_from_slice(format!("* VANISHED {set}\r\n").as_bytes());
                self.entries.retain(|e| gone.binary_search(&e.uid).is_err());
            } else {
                // Highest first, so each number is right when the client reads it.
                for uid in gone.iter().rev() {
                    if let Some(seq) = self.seq_of(*uid) {
                        self.entries.remove(seq - 1);
                        out.extend_from_slice(format!("* {seq} EXPUNGE\r\n").as_bytes());
                    }
                }
            }
            self.saved.retain(|u| gone.binary_search(u).is_err());
        }
        let before = self.entries.len();
        let last = self.entries.last().map_or(0, |e| e.uid);
        for e in changed {
            if self.pending_expunge.contains(&e.uid) {
                continue;
            }
            if e.uid > last {
                self.announce(&e, out);
                self.entries.push(e);
                continue;
            }
            let Some(seq) = self.seq_of(e.uid) else {
                continue;
            };
            let e_uid = e.uid;
            self.announce(&e, out);
            let mine = &mut self.entries[seq - 1];
            let shown_changed = mine.flags != e.flags || mine.keywords != e.keywords;
            *mine = e;
            if (shown_changed || modseq_in_fetch) && !o.quiet.contains(&e_uid) {
                let recent = self.is_recent(e_uid);
                fetch_flags(out, seq, &self.entries[seq - 1], recent, modseq_in_fetch);
            }
        }
        if self.entries.len() != before {
            out.extend_from_slice(format!("* {} EXISTS\r\n", self.entries.len()).as_bytes());
            if !self.rev2 {
                out.extend_from_slice(format!("* {} RECENT\r\n", self.recent_count()).as_bytes());
            }
        }
        Ok(())
    }
}

/// Appends `* seq FETCH (FLAGS (…) UID n [MODSEQ (m)])`.
pub fn fetch_flags(out: &mut Vec<u8>, seq: usize, e: &IndexEntry, recent: bool, modseq: bool) {
    out.extend_from_slice(format!("* {seq} FETCH (UID {} FLAGS ", e.uid).as_bytes());
    write_flags(out, e, recent);
    if modseq {
        out.extend_from_slice(format!(" MODSEQ ({})", e.modseq).as_bytes());
    }
    out.extend_from_slice(b")\r\n");
}

/// UIDs (or numbers) in the compact form (`1:3,7,9:10`), runs compressed in the order given
/// (COPYUID pairs two such lists).
pub fn uid_set(uids: &[i64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}
