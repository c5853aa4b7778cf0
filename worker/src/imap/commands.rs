//! What each IMAP command does to the mailbox, through the tenant-scoped store of the
//! logged-in mailbox (so a session can reach nothing of another mailbox or tenant), and the
//! untagged responses that keep the client's view current.

use super::fetch::{self as items, Message};
use super::search;
use super::selected::{Selected, Sync, fetch_flags, uid_set};
use super::server::{Flow, ImapServer, UserSlot};
use super::sort;
use crate::net::Conn;
use mailroom_core::auth::{ClientInfo, Principal, Scope};
use mailroom_core::error::{Error, Result};
use mailroom_core::mail::flags;
use mailroom_core::mail::summary::Summary;
use mailroom_core::store::entities::folders;
use mailroom_core::store::{Change, FetchRow, IndexEntry, MAX_BATCH, TenantStore};
use mailroom_proto::imap::command::{Command, ListOptions, Mailbox, Tagged};
use mailroom_proto::imap::fetch::{Attribute, Fetch, Store, StoreMode};
use mailroom_proto::imap::response;
use mailroom_proto::imap::search::{Key, ReturnOptions, Search, SortKey, ThreadBy};
use mailroom_proto::imap::session::Session;
use mailroom_proto::imap::thread;
use mailroom_proto::imap::utf7;
use std::collections::HashMap;
use std::net::IpAddr;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// Bytes of responses gathered before they are sent on (a big FETCH goes out in pieces).
const FLUSH_AT: usize = 1024 * 1024;

/// The logged-in mailbox.
struct User {
    ts: TenantStore,
    mailbox: Uuid,
    _slot: UserSlot,
}

/// One connection's state beyond the protocol state machine.
pub(super) struct Client<'a> {
    srv: &'a ImapServer,
    /// The protocol state machine.
    pub session: Session,
    /// The client's address.
    pub ip: IpAddr,
    user: Option<User>,
    sel: Option<Selected>,
}

/// An error as the tagged response tells it.
fn no(tag: &str, e: &Error) -> String {
    let (code, text) = match e {
        Error::NotFound => ("NONEXISTENT", "no such mailbox or message".to_string()),
        Error::Conflict { code, detail } => (
            match *code {
                "quota_exceeded" => "OVERQUOTA",
                "folder_exists" => "ALREADYEXISTS",
                "inbox_protected" => "CANNOT",
                "too_many_folders" => "LIMIT",
                "special_use_taken" => "USEATTR",
                _ => "CANNOT",
            },
            detail.clone(),
        ),
        Error::Validation(fields) => (
            "CANNOT",
            fields
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Error::Rejected { message, .. } => ("CANNOT", message.clone()),
        Error::Forbidden { detail, .. } => ("NOPERM", detail.clone()),
        other if other.outage() == Some(mailroom_core::error::Outage::StorageFull) => (
            "OVERQUOTA",
            "the server is short of storage; try again later".into(),
        ),
        other => {
            tracing::warn!(error = %other, "IMAP command failed on our side");
            ("UNAVAILABLE", "try again later".into())
        }
    };
    format!("{tag} NO [{code}] {text}\r\n")
}

/// The IMAP name of a stored folder name.
fn imap_name(name: &str, utf8: bool) -> String {
    if utf8 {
        name.to_string()
    } else {
        utf7::encode(name)
    }
}

/// The stored name an IMAP mailbox name means.
fn store_name(m: &Mailbox) -> String {
    match m {
        Mailbox::Inbox => "INBOX".into(),
        Mailbox::Other(n) | Mailbox::Invalid(n) => n.trim_end_matches('/').to_string(),
    }
}

/// The attribute a special use is listed with.
/// How long after sending a message an APPEND of it to Sent finds the copy saved then.
const SENT_COPY_WINDOW_SECS: i64 = 3600;

fn special_use_attr(role: &str) -> Option<&'static str> {
    Some(match role {
        "sent" => "\\Sent",
        "drafts" => "\\Drafts",
        "junk" => "\\Junk",
        "trash" => "\\Trash",
        "archive" => "\\Archive",
        "all" => "\\All",
        "flagged" => "\\Flagged",
        _ => return None,
    })
}

/// The role a CREATE-SPECIAL-USE attribute asks for, when folders can have it.
fn special_use_role(attr: &str) -> Option<&'static str> {
    mailroom_core::store::SPECIAL_USES
        .into_iter()
        .find(|role| special_use_attr(role).is_some_and(|a| a.eq_ignore_ascii_case(attr)))
}

/// Whether `name` matches a LIST pattern (`*` anything, `%` anything but the delimiter).
fn matches(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|i| matches(rest, &name[i..])),
        Some(('%', rest)) => {
            let stop = name.iter().position(|c| *c == '/').unwrap_or(name.len());
            (0..=stop).any(|i| matches(rest, &name[i..]))
        }
        Some((p, rest)) => name
            .split_first()
            .is_some_and(|(n, nrest)| n == p && matches(rest, nrest)),
    }
}

/// Flag names into bits and keywords; `Err` names the first that is neither.
fn parse_flags(names: &[String]) -> std::result::Result<(i32, Vec<String>), String> {
    let mut bits = 0;
    let mut keywords = Vec::new();
    for f in names {
        if f.eq_ignore_ascii_case("\\Recent") {
            continue;
        }
        match flags::bit(f) {
            Some(b) if f.starts_with('\\') => bits |= b,
            _ if f.starts_with('\\') => return Err(f.clone()),
            _ => {
                if !mailroom_core::store::valid_keyword(f) {
                    return Err(f.clone());
                }
                if !keywords.contains(f) {
                    keywords.push(f.clone());
                }
            }
        }
    }
    Ok((bits, keywords))
}

/// `dd-Mon-yyyy hh:mm:ss +zzzz` (APPEND's date-time).
fn parse_date_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_str(s.trim(), "%e-%b-%Y %H:%M:%S %z")
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

impl<'a> Client<'a> {
    /// A connection before login.
    pub fn new(srv: &'a ImapServer, session: Session, ip: IpAddr) -> Self {
        Self {
            srv,
            session,
            ip,
            user: None,
            sel: None,
        }
    }

    /// Whether a mailbox is logged in.
    pub fn logged_in(&self) -> bool {
        self.user.is_some()
    }

    /// The mailbox logged in: opens its tenant-scoped store.
    pub fn logged_in_as(&mut self, p: &Principal, slot: UserSlot, info: &ClientInfo) -> Result<()> {
        let mailbox = p.mailbox().ok_or(Error::NotFound)?;
        let ts = p.tenant_store(&self.srv.store, Scope::MessagesWrite, info)?;
        self.user = Some(User {
            ts,
            mailbox,
            _slot: slot,
        });
        self.session.logged_in();
        Ok(())
    }

    /// Brings the selected folder's view up to date, writing what changed.
    async fn sync(&mut self, out: &mut Vec<u8>, expunges: bool, quiet: &[i64]) -> Result<()> {
        let e = self.session.enabled();
        let opts = Sync {
            expunges,
            qresync: e.qresync,
            condstore: e.condstore,
            quiet,
        };
        if let (Some(u), Some(sel)) = (&self.user, &mut self.sel) {
            sel.sync(&u.ts, out, opts).await?;
        }
        Ok(())
    }

    /// Waits for a change of the selected folder (IDLE).
    pub async fn idle_event(&mut self) {
        match &mut self.sel {
            Some(sel) => sel.next_event().await,
            None => std::future::pending().await,
        }
    }

    /// Reports changes during IDLE.
    pub async fn idle_report(&mut self, out: &mut Vec<u8>) {
        if let Err(e) = self.sync(out, true, &[]).await {
            tracing::warn!(error = %e, "IMAP IDLE could not read changes");
        }
    }

    /// DONE ended IDLE.
    pub async fn after_idle(&mut self, tag: &str, out: &mut Vec<u8>) -> Flow {
        match self.sync(out, true, &[]).await {
            Ok(()) => out.extend_from_slice(format!("{tag} OK IDLE terminated\r\n").as_bytes()),
            Err(e) => out.extend_from_slice(no(tag, &e).as_bytes()),
        }
        Flow::Continue
    }

    /// Carries out a command the state machine passed on.
    pub async fn run(&mut self, t: Tagged, out: &mut Vec<u8>, conn: &mut Conn) -> Flow {
        let tag = t.tag.clone();
        match self.dispatch(t, out, conn).await {
            Ok(flow) => flow,
            Err(e) => {
                out.extend_from_slice(no(&tag, &e).as_bytes());
                Flow::Continue
            }
        }
    }

    fn user(&self) -> Result<&User> {
        self.user.as_ref().ok_or(Error::NotFound)
    }

    async fn folders(&self) -> Result<Vec<folders::Model>> {
        let u = self.user()?;
        u.ts.list_folders(u.mailbox).await
    }

    async fn folder_named(&self, m: &Mailbox) -> Result<Option<folders::Model>> {
        if matches!(m, Mailbox::Invalid(_)) {
            return Ok(None);
        }
        let name = store_name(m);
        Ok(self.folders().await?.into_iter().find(|f| f.name == name))
    }

    async fn dispatch(&mut self, t: Tagged, out: &mut Vec<u8>, conn: &mut Conn) -> Result<Flow> {
        let tag = t.tag;
        let ok = |out: &mut Vec<u8>, text: &str| {
            out.extend_from_slice(format!("{tag} OK {text}\r\n").as_bytes())
        };
        match t.command {
            Command::Noop | Command::Check => {
                // The client's explicit poll reads the change log whatever the bus has said:
                // an event from another process (over Redis) may still be on its way.
                if let Some(sel) = &mut self.sel {
                    sel.touch();
                }
                self.sync(out, true, &[]).await?;
                ok(out, "done");
            }
            Command::Idle => {
                self.sync(out, true, &[]).await?;
                return Ok(Flow::Idle(tag));
            }
            Command::Select {
                mailbox,
                read_only,
                condstore,
                qresync,
            } => {
                if condstore {
                    // SELECT (CONDSTORE) turns CONDSTORE on (RFC 7162 §3.1.8); SELECT itself
                    // reports HIGHESTMODSEQ.
                    self.session.enable_condstore();
                }
                if self.sel.take().is_some() {
                    self.session.deselected();
                    if self.session.enabled().condstore {
                        out.extend_from_slice(b"* OK [CLOSED] previous mailbox closed\r\n");
                    }
                }
                self.select(&tag, &mailbox, read_only, qresync.as_ref(), out)
                    .await?;
            }
            Command::Close | Command::Unselect => {
                let close = matches!(t.command, Command::Close);
                if let (true, Some(sel)) = (close, &self.sel)
                    && !sel.read_only
                {
                    // Silently here; other sessions hear of it.
                    self.expunge_deleted(sel.mailbox, sel.folder, None).await?;
                }
                self.sel = None;
                self.session.deselected();
                ok(out, "done");
            }
            Command::Create {
                mailbox,
                special_use,
            } => {
                let u = self.user()?;
                if matches!(mailbox, Mailbox::Inbox) {
                    return Err(Error::conflict("folder_exists", "INBOX always exists"));
                }
                if matches!(mailbox, Mailbox::Invalid(_)) {
                    return Err(Error::invalid(
                        "name",
                        "the name is not valid modified UTF-7",
                    ));
                }
                // CREATE-SPECIAL-USE: one use per folder, of those the store gives roles to.
                let role = match special_use.as_slice() {
                    [] => None,
                    [one] => match special_use_role(one) {
                        Some(role) => Some(role),
                        None => {
                            out.extend_from_slice(
                                format!("{tag} NO [USEATTR] {one} is not a use folders can have here (\\Sent \\Drafts \\Junk \\Trash \\Archive)\r\n")
                                    .as_bytes(),
                            );
                            return Ok(Flow::Continue);
                        }
                    },
                    _ => {
                        out.extend_from_slice(
                            format!("{tag} NO [USEATTR] a folder has one special use\r\n")
                                .as_bytes(),
                        );
                        return Ok(Flow::Continue);
                    }
                };
                // Created unsubscribed: clients subscribe to what they show.
                u.ts.create_folder_with(u.mailbox, &store_name(&mailbox), false, role)
                    .await?;
                ok(out, "created");
            }
            Command::Delete(mailbox) => {
                let all = self.folders().await?;
                let name = store_name(&mailbox);
                let Some(f) = all
                    .iter()
                    .find(|f| f.name == name && !matches!(mailbox, Mailbox::Invalid(_)))
                else {
                    return Err(Error::NotFound);
                };
                let children = all
                    .iter()
                    .any(|c| c.name.starts_with(&format!("{}/", f.name)));
                if children {
                    out.extend_from_slice(
                        format!("{tag} NO [INUSE] delete its subfolders first\r\n").as_bytes(),
                    );
                    return Ok(Flow::Continue);
                }
                if self.sel.as_ref().is_some_and(|s| s.folder == f.id) {
                    self.sel = None;
                    self.session.deselected();
                }
                let u = self.user()?;
                u.ts.delete_folder(u.mailbox, f.id).await?;
                ok(out, "deleted");
            }
            Command::Rename { from, to } => {
                let Some(f) = self.folder_named(&from).await? else {
                    return Err(Error::NotFound);
                };
                if matches!(from, Mailbox::Inbox) {
                    self.rename_inbox(&tag, f.id, &to, out).await?;
                    return Ok(Flow::Continue);
                }
                let u = self.user()?;
                u.ts.update_folder(u.mailbox, f.id, Some(&store_name(&to)), None)
                    .await?;
                ok(out, "renamed");
            }
            Command::Subscribe(ref mailbox) | Command::Unsubscribe(ref mailbox) => {
                let subscribe = matches!(t.command, Command::Subscribe(_));
                if matches!(mailbox, Mailbox::Invalid(_)) {
                    return Err(Error::NotFound);
                }
                let u = self.user()?;
                u.ts.set_subscription(u.mailbox, &store_name(mailbox), subscribe)
                    .await?;
                ok(out, "done");
            }
            Command::List {
                reference,
                patterns,
                options,
            } => {
                self.list(&reference, &patterns, &options, out).await?;
                ok(out, "done");
            }
            Command::Status { mailbox, items } => {
                let Some(f) = self.folder_named(&mailbox).await? else {
                    return Err(Error::NotFound);
                };
                self.status(&f, &items, out).await?;
                self.sync(out, true, &[]).await?;
                ok(out, "done");
            }
            cmd @ Command::Append { .. } => {
                return self.append(&tag, cmd, out).await;
            }
            Command::Expunge(set) => {
                self.expunge(&tag, set.as_ref(), out).await?;
            }
            Command::Copy { uid, set, mailbox } => {
                self.copy(&tag, uid, &set, &mailbox, false, out).await?;
            }
            Command::Move { uid, set, mailbox } => {
                self.copy(&tag, uid, &set, &mailbox, true, out).await?;
            }
            Command::GetQuotaRoot(mailbox) => {
                if self.folder_named(&mailbox).await?.is_none() {
                    return Err(Error::NotFound);
                }
                let name = imap_name(&store_name(&mailbox), self.session.enabled().utf8);
                out.extend_from_slice(b"* QUOTAROOT ");
                response::string(out, name.as_bytes(), self.session.enabled().utf8);
                out.extend_from_slice(b" \"\"\r\n");
                self.quota(out).await?;
                ok(out, "done");
            }
            Command::GetQuota(root) => {
                if !root.is_empty() {
                    return Err(Error::NotFound);
                }
                self.quota(out).await?;
                ok(out, "done");
            }
            Command::Fetch { uid, fetch } => {
                self.fetch(&tag, uid, &fetch, out, conn).await?;
            }
            Command::Store { uid, store } => {
                self.store(&tag, uid, &store, out).await?;
            }
            Command::Search { uid, search } => {
                self.search(&tag, uid, &search, out).await?;
            }
            Command::Sort {
                uid,
                returns,
                criteria,
                charset,
                keys,
            } => {
                self.sort(&tag, uid, returns, &criteria, &charset, &keys, out)
                    .await?;
            }
            Command::Thread {
                uid,
                by,
                charset,
                keys,
            } => {
                self.thread(&tag, uid, by, &charset, &keys, out).await?;
            }
            // Answered by the state machine; never passed on.
            _ => out.extend_from_slice(format!("{tag} BAD unexpected command\r\n").as_bytes()),
        }
        Ok(Flow::Continue)
    }

    async fn select(
        &mut self,
        tag: &str,
        mailbox: &Mailbox,
        read_only: bool,
        qresync: Option<&mailroom_proto::imap::command::Qresync>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let Some(named) = self.folder_named(mailbox).await? else {
            out.extend_from_slice(format!("{tag} NO [NONEXISTENT] no such mailbox\r\n").as_bytes());
            return Ok(());
        };
        let u = self.user()?;
        let events = self.srv.pipeline.bus().subscribe_mailbox(u.mailbox);
        let (f, entries) = self.srv.index.load(&u.ts, u.mailbox, named.id).await?;
        // IMAP4rev2 has no \Recent, no RECENT and no UNSEEN code, and names the mailbox in a
        // LIST response instead (RFC 9051 §6.3.2).
        let rev2 = self.session.enabled().rev2;
        let recent = if rev2 {
            None
        } else if read_only {
            Some((f.recent_uid, i64::MAX))
        } else {
            Some(u.ts.claim_recent(&f).await?)
        };
        let sel = Selected::new(u.mailbox, &f, entries, read_only, recent, events);
        sel.write_flags(out);
        out.extend_from_slice(format!("* {} EXISTS\r\n", sel.entries.len()).as_bytes());
        if rev2 {
            out.extend_from_slice(b"* LIST () \"/\" ");
            let name = imap_name(&named.name, true);
            response::string(out, name.as_bytes(), true);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(format!("* {} RECENT\r\n", sel.recent_count()).as_bytes());
            if let Some(first) = sel.entries.iter().position(|e| e.flags & flags::SEEN == 0) {
                out.extend_from_slice(
                    format!("* OK [UNSEEN {}] first unseen\r\n", first + 1).as_bytes(),
                );
            }
        }
        out.extend_from_slice(
            format!(
                "* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {}] predicted next UID\r\n",
                f.uidvalidity, f.uidnext
            )
            .as_bytes(),
        );
        out.extend_from_slice(
            format!("* OK [HIGHESTMODSEQ {}] modseq\r\n", f.highestmodseq.max(1)).as_bytes(),
        );
        if let Some(q) = qresync
            && i64::from(q.uidvalidity) == f.uidvalidity
        {
            let since = q.modseq as i64;
            let ch = u.ts.index_changes(u.mailbox, f.id, since).await?;
            // Only UIDs the client said it knows, when it said.
            let vanished: Vec<i64> = ch
                .vanished
                .into_iter()
                .filter(|v| q.known_uids.as_ref().is_none_or(|s| in_set(s, *v)))
                .collect();
            if !vanished.is_empty() {
                out.extend_from_slice(
                    format!("* VANISHED (EARLIER) {}\r\n", uid_set(&vanished)).as_bytes(),
                );
            }
            for e in ch.changed {
                if let Some(seq) = sel.seq_of(e.uid) {
                    let recent = sel.is_recent(e.uid);
                    fetch_flags(out, seq, &sel.entries[seq - 1], recent, true);
                }
            }
        }
        let mode = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        out.extend_from_slice(format!("{tag} OK [{mode}] selected\r\n").as_bytes());
        self.sel = Some(sel);
        self.session.selected(read_only);
        Ok(())
    }

    async fn list(
        &self,
        reference: &str,
        patterns: &[String],
        o: &ListOptions,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let utf8 = self.session.enabled().utf8;
        let word = if o.lsub { "LSUB" } else { "LIST" };
        if patterns.len() == 1 && patterns[0].is_empty() {
            out.extend_from_slice(format!("* {word} (\\Noselect) \"/\" \"\"\r\n").as_bytes());
            return Ok(());
        }
        let pats: Vec<Vec<char>> = patterns
            .iter()
            .map(|p| format!("{reference}{p}").chars().collect())
            .collect();
        let hit = |name: &str| {
            let chars: Vec<char> = name.chars().collect();
            pats.iter().any(|p| {
                matches(p, &chars)
                    // INBOX matches in any case.
                    || (name == "INBOX"
                        && matches(
                            &p.iter().map(|c| c.to_ascii_uppercase()).collect::<Vec<_>>(),
                            &chars,
                        ))
            })
        };
        let u = self.user()?;
        let all = self.folders().await?;
        let by_name: HashMap<&str, &folders::Model> =
            all.iter().map(|f| (f.name.as_str(), f)).collect();
        let want_subs = o.subscribed || o.return_subscribed || o.lsub;
        let subs: Vec<(String, bool)> = if want_subs {
            u.ts.subscribed_names(u.mailbox).await?
        } else {
            Vec::new()
        };
        let subscribed = |name: &str| subs.iter().any(|(n, _)| n == name);
        let has_children = |name: &str| {
            let prefix = format!("{name}/");
            all.iter().any(|c| c.name.starts_with(&prefix))
        };
        // (name, attributes, CHILDINFO)
        let mut rows: Vec<(String, Vec<&str>, bool)> = Vec::new();
        if o.lsub {
            for (name, _) in &subs {
                if hit(name) {
                    rows.push((name.clone(), Vec::new(), false));
                }
                // A `%` pattern that stops at a parent of a subscribed name lists the parent
                // as \Noselect (RFC 3501 §6.3.9).
                let levels: Vec<&str> = name.split('/').collect();
                for n in 1..levels.len() {
                    let parent = levels[..n].join("/");
                    if hit(&parent) && !subscribed(&parent) && !rows.iter().any(|r| r.0 == parent) {
                        rows.push((parent, vec!["\\Noselect"], false));
                    }
                }
            }
        } else if o.subscribed {
            for (name, exists) in &subs {
                if hit(name) {
                    let mut attrs = vec!["\\Subscribed"];
                    if !exists {
                        attrs.push("\\NonExistent");
                    }
                    rows.push((name.clone(), attrs, false));
                }
            }
            if o.recursive_match {
                // Names that match but are not subscribed, with a subscribed descendant that
                // the patterns do not match themselves: listed with CHILDINFO (RFC 5258 §3.5).
                let mut candidates: Vec<String> = all.iter().map(|f| f.name.clone()).collect();
                for (name, _) in &subs {
                    let levels: Vec<&str> = name.split('/').collect();
                    candidates.extend((1..levels.len()).map(|n| levels[..n].join("/")));
                }
                candidates.sort();
                candidates.dedup();
                for name in candidates {
                    if !hit(&name) || subscribed(&name) {
                        continue;
                    }
                    let prefix = format!("{name}/");
                    let hidden_child = subs.iter().any(|(s, _)| s.starts_with(&prefix) && !hit(s));
                    if hidden_child {
                        let attrs = if by_name.contains_key(name.as_str()) {
                            Vec::new()
                        } else {
                            vec!["\\NonExistent"]
                        };
                        rows.push((name, attrs, true));
                    }
                }
            }
        } else {
            for f in &all {
                if !hit(&f.name) {
                    continue;
                }
                let mut attrs = Vec::new();
                if o.return_subscribed && f.subscribed {
                    attrs.push("\\Subscribed");
                }
                rows.push((f.name.clone(), attrs, false));
            }
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, mut attrs, childinfo) in rows {
            let folder = by_name.get(name.as_str());
            if !o.lsub && !attrs.contains(&"\\NonExistent") {
                attrs.insert(
                    0,
                    if has_children(&name) {
                        "\\HasChildren"
                    } else {
                        "\\HasNoChildren"
                    },
                );
                let special = folder
                    .and_then(|f| f.special_use.as_deref())
                    .and_then(special_use_attr);
                if let Some(r) = special
                    && (!o.extended || o.return_special_use || o.special_use_only)
                {
                    attrs.push(r);
                }
                if o.special_use_only && special.is_none() {
                    continue;
                }
            }
            out.extend_from_slice(format!("* {word} ({}) \"/\" ", attrs.join(" ")).as_bytes());
            response::string(out, imap_name(&name, utf8).as_bytes(), utf8);
            if childinfo {
                out.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
            }
            out.extend_from_slice(b"\r\n");
            if let (false, Some(f)) = (o.return_status.is_empty(), folder) {
                self.status(f, &o.return_status, out).await?;
            }
        }
        Ok(())
    }

    async fn status(&self, f: &folders::Model, items: &[String], out: &mut Vec<u8>) -> Result<()> {
        let utf8 = self.session.enabled().utf8;
        let mut parts = Vec::new();
        for i in items {
            let v = match i.as_str() {
                "MESSAGES" => f.total_messages,
                "UNSEEN" => f.unseen_messages,
                "UIDNEXT" => f.uidnext,
                "UIDVALIDITY" => f.uidvalidity,
                "SIZE" => f.total_bytes,
                "HIGHESTMODSEQ" => f.highestmodseq.max(1),
                "RECENT" => {
                    let u = self.user()?;
                    u.ts.unclaimed_recent(f).await? as i64
                }
                "DELETED" => {
                    let u = self.user()?;
                    let (_, entries) = u.ts.folder_index(u.mailbox, f.id).await?;
                    entries
                        .iter()
                        .filter(|e| e.flags & flags::DELETED != 0)
                        .count() as i64
                }
                _ => continue,
            };
            parts.push(format!("{i} {v}"));
        }
        out.extend_from_slice(b"* STATUS ");
        response::string(out, imap_name(&f.name, utf8).as_bytes(), utf8);
        out.extend_from_slice(format!(" ({})\r\n", parts.join(" ")).as_bytes());
        Ok(())
    }

    async fn quota(&self, out: &mut Vec<u8>) -> Result<()> {
        let u = self.user()?;
        let m = u.ts.mailbox(u.mailbox).await?;
        match m.quota_bytes {
            Some(q) => out.extend_from_slice(
                format!(
                    "* QUOTA \"\" (STORAGE {} {})\r\n",
                    m.used_bytes.max(0) / 1024,
                    q.max(0) / 1024
                )
                .as_bytes(),
            ),
            None => out.extend_from_slice(b"* QUOTA \"\" ()\r\n"),
        }
        Ok(())
    }

    /// APPEND (`cmd` is a [`Command::Append`]).
    async fn append(&mut self, tag: &str, cmd: Command, out: &mut Vec<u8>) -> Result<Flow> {
        let Command::Append {
            mailbox,
            flags: names,
            date,
            message,
            binary,
        } = cmd
        else {
            return Err(Error::Internal("not an APPEND".into()));
        };
        let (mailbox, names, date, message) = (&mailbox, &names, date.as_deref(), &message[..]);
        let Some(f) = self.folder_named(mailbox).await? else {
            out.extend_from_slice(
                format!("{tag} NO [TRYCREATE] no such mailbox; create it first\r\n").as_bytes(),
            );
            return Ok(Flow::Continue);
        };
        let (bits, keywords) = match parse_flags(names) {
            Ok(x) => x,
            Err(f) => {
                out.extend_from_slice(format!("{tag} BAD {f} is not a flag\r\n").as_bytes());
                return Ok(Flow::Continue);
            }
        };
        let when = match date {
            None => None,
            Some(d) => match parse_date_time(d) {
                Some(t) => Some(t),
                None => {
                    out.extend_from_slice(format!("{tag} BAD bad date-time\r\n").as_bytes());
                    return Ok(Flow::Continue);
                }
            },
        };
        if message.is_empty() {
            out.extend_from_slice(format!("{tag} NO [CANNOT] the message is empty\r\n").as_bytes());
            return Ok(Flow::Continue);
        }
        // Binary content announced as such (a literal8 with NUL in a body) is stored in
        // base64: BODY[] then never carries a NUL, and BINARY[] gives the bytes back (RFC 3516
        // §4.3). A message in a plain literal is stored byte for byte, whatever it holds.
        let encoded;
        let message = if binary && message.contains(&0) {
            let summary = mailroom_core::mail::summary::summarize(message);
            let mut leaves = Vec::new();
            binary_leaves(message, &summary.body, &mut leaves);
            encoded = mailroom_proto::imap::binary::base64_parts(message, &leaves);
            &encoded[..]
        } else {
            message
        };
        let u = self.user()?;
        // A client saving its own copy of what it just sent through submission (Thunderbird,
        // Apple Mail and Outlook do by default) finds the copy Mailroom filed: no second one.
        if f.special_use.as_deref() == Some("sent")
            && let Some(id) = mailroom_core::mail::summary::summarize(message).message_id
            && let Some(copy) =
                u.ts.recent_sent_copy(
                    u.mailbox,
                    f.id,
                    &id,
                    chrono::Utc::now() - chrono::Duration::seconds(SENT_COPY_WINDOW_SECS),
                )
                .await?
        {
            self.sync(out, true, &[]).await?;
            out.extend_from_slice(
                format!(
                    "{tag} OK [APPENDUID {} {}] appended (the copy saved when it was sent)\r\n",
                    f.uidvalidity, copy.uid
                )
                .as_bytes(),
            );
            return Ok(Flow::Continue);
        }
        let stored = self
            .srv
            .pipeline
            .import(&u.ts, u.mailbox, f.id, message, bits, when)
            .await?;
        if !keywords.is_empty() {
            let change = Change {
                add_keywords: keywords,
                ..Change::default()
            };
            let report =
                u.ts.change_messages(u.mailbox, &[stored.message_id], &change)
                    .await?;
            self.srv.pipeline.bus().publish(&report.events).await;
        }
        if let Some(sel) = &mut self.sel {
            sel.touch();
        }
        self.sync(out, true, &[]).await?;
        out.extend_from_slice(
            format!(
                "{tag} OK [APPENDUID {} {}] appended\r\n",
                f.uidvalidity, stored.uid
            )
            .as_bytes(),
        );
        Ok(Flow::Continue)
    }

    /// The UIDs a set names in the selected folder; `None` (after answering BAD) when a
    /// sequence number is out of range.
    fn targets(
        &self,
        tag: &str,
        uid: bool,
        set: &mailroom_proto::imap::lex::SequenceSet,
        out: &mut Vec<u8>,
    ) -> Option<Vec<i64>> {
        let sel = self.sel.as_ref()?;
        let r = sel.resolve(set, uid);
        if r.is_none() {
            out.extend_from_slice(format!("{tag} BAD no such message number\r\n").as_bytes());
        }
        r
    }

    fn ids_of(&self, uids: &[i64]) -> Vec<Uuid> {
        let Some(sel) = &self.sel else {
            return Vec::new();
        };
        uids.iter()
            .filter_map(|u| sel.entry(*u))
            .map(|e| e.id)
            .collect()
    }

    /// Deletes for good the folder's messages flagged `\Deleted` (only those of `only`, when
    /// given), a batch at a time, and announces it to every other session.
    async fn expunge_deleted(
        &self,
        mailbox: Uuid,
        folder: Uuid,
        only: Option<&[Uuid]>,
    ) -> Result<()> {
        let u = self.user()?;
        let mut events = Vec::new();
        match only {
            None => loop {
                let r = u.ts.expunge_deleted(mailbox, folder, None).await?;
                let n = r.expunged.len();
                events.extend(r.events);
                if n < MAX_BATCH {
                    break;
                }
            },
            Some(ids) => {
                for chunk in ids.chunks(MAX_BATCH) {
                    let r = u.ts.expunge_deleted(mailbox, folder, Some(chunk)).await?;
                    events.extend(r.events);
                }
            }
        }
        self.srv.pipeline.bus().publish(&events).await;
        Ok(())
    }

    async fn expunge(
        &mut self,
        tag: &str,
        set: Option<&mailroom_proto::imap::lex::SequenceSet>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let only: Option<Vec<Uuid>> = match set {
            None => None,
            Some(s) => match self.targets(tag, true, s, out) {
                Some(uids) => Some(self.ids_of(&uids)),
                None => return Ok(()),
            },
        };
        let (mailbox, folder) = match &self.sel {
            Some(s) => (s.mailbox, s.folder),
            None => return Ok(()),
        };
        self.expunge_deleted(mailbox, folder, only.as_deref())
            .await?;
        if let Some(sel) = &mut self.sel {
            sel.touch();
        }
        self.sync(out, true, &[]).await?;
        out.extend_from_slice(format!("{tag} OK expunged\r\n").as_bytes());
        Ok(())
    }

    /// Applies `change` to the messages, [`MAX_BATCH`] to a transaction, and announces the
    /// changes to other sessions.
    async fn change_in_batches(&self, ids: &[Uuid], change: &Change) -> Result<()> {
        let u = self.user()?;
        let mut events = Vec::new();
        for chunk in ids.chunks(MAX_BATCH) {
            events.extend(u.ts.change_messages(u.mailbox, chunk, change).await?.events);
        }
        self.srv.pipeline.bus().publish(&events).await;
        Ok(())
    }

    /// RENAME INBOX (RFC 3501 §6.3.5, RFC 9051 §6.3.6): a new folder takes every message of
    /// INBOX, which stays, empty; INBOX's subfolders stay where they are. The messages move in
    /// batches, each one transaction: a failure part-way leaves every message in one of the
    /// two folders, none lost; the command can then be given again.
    async fn rename_inbox(
        &mut self,
        tag: &str,
        inbox: Uuid,
        to: &Mailbox,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        match to {
            Mailbox::Inbox => {
                return Err(Error::conflict("folder_exists", "INBOX always exists"));
            }
            Mailbox::Invalid(_) => {
                return Err(Error::invalid(
                    "name",
                    "the name is not valid modified UTF-7",
                ));
            }
            Mailbox::Other(_) => {}
        }
        let u = self.user()?;
        let dest =
            u.ts.create_folder_with(u.mailbox, &store_name(to), false, None)
                .await?;
        let (_, entries) = u.ts.folder_index(u.mailbox, inbox).await?;
        let ids: Vec<Uuid> = entries.iter().map(|e| e.id).collect();
        let change = Change {
            move_to: Some(dest.id),
            ..Change::default()
        };
        self.change_in_batches(&ids, &change).await?;
        if let Some(sel) = &mut self.sel {
            sel.touch();
        }
        self.sync(out, true, &[]).await?;
        out.extend_from_slice(format!("{tag} OK renamed; INBOX is empty\r\n").as_bytes());
        Ok(())
    }

    async fn copy(
        &mut self,
        tag: &str,
        uid: bool,
        set: &mailroom_proto::imap::lex::SequenceSet,
        mailbox: &Mailbox,
        moving: bool,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let Some(uids) = self.targets(tag, uid, set, out) else {
            return Ok(());
        };
        let Some(dest) = self.folder_named(mailbox).await? else {
            out.extend_from_slice(
                format!("{tag} NO [TRYCREATE] no such mailbox; create it first\r\n").as_bytes(),
            );
            return Ok(());
        };
        if moving && self.sel.as_ref().is_some_and(|s| s.read_only) {
            out.extend_from_slice(
                format!("{tag} NO [READ-ONLY] the mailbox was opened with EXAMINE\r\n").as_bytes(),
            );
            return Ok(());
        }
        let ids = self.ids_of(&uids);
        let u = self.user()?;
        let mut pairs = Vec::new();
        let mut events = Vec::new();
        for chunk in ids.chunks(MAX_BATCH) {
            let r = if moving {
                let change = Change {
                    move_to: Some(dest.id),
                    move_within: true,
                    ..Change::default()
                };
                u.ts.change_messages(u.mailbox, chunk, &change).await?
            } else {
                u.ts.copy_messages(u.mailbox, chunk, dest.id).await?
            };
            pairs.extend(r.uids);
            events.extend(r.events);
        }
        self.srv.pipeline.bus().publish(&events).await;
        pairs.sort_unstable();
        let code = if pairs.is_empty() {
            String::new()
        } else {
            let from: Vec<i64> = pairs.iter().map(|p| p.0).collect();
            let to: Vec<i64> = pairs.iter().map(|p| p.1).collect();
            format!(
                "[COPYUID {} {} {}] ",
                dest.uidvalidity,
                uid_set(&from),
                uid_set(&to)
            )
        };
        if let Some(sel) = &mut self.sel {
            sel.touch();
        }
        if moving {
            if !code.is_empty() {
                out.extend_from_slice(format!("* OK {}moved\r\n", code).as_bytes());
            }
            self.sync(out, true, &[]).await?;
            out.extend_from_slice(format!("{tag} OK moved\r\n").as_bytes());
        } else {
            // Copies into the selected folder show at the next NOOP, as Dovecot does.
            out.extend_from_slice(format!("{tag} OK {code}copied\r\n").as_bytes());
        }
        Ok(())
    }

    /// A CONDSTORE-enabling command: when it turns CONDSTORE on with a folder selected, the
    /// client is told the folder's HIGHESTMODSEQ (RFC 7162 §3.1).
    fn condstore_on(&mut self, out: &mut Vec<u8>) {
        if self.session.enable_condstore()
            && let Some(sel) = &self.sel
        {
            out.extend_from_slice(
                format!("* OK [HIGHESTMODSEQ {}] modseq\r\n", sel.modseq.max(1)).as_bytes(),
            );
        }
    }

    async fn store(&mut self, tag: &str, uid: bool, st: &Store, out: &mut Vec<u8>) -> Result<()> {
        if st.unchanged_since.is_some() {
            self.condstore_on(out);
        }
        let Some(uids) = self.targets(tag, uid, &st.set, out) else {
            return Ok(());
        };
        let (bits, keywords) = match parse_flags(&st.flags) {
            Ok(x) => x,
            Err(f) => {
                out.extend_from_slice(format!("{tag} BAD {f} is not a flag\r\n").as_bytes());
                return Ok(());
            }
        };
        let Some(sel) = &self.sel else {
            return Ok(());
        };
        // UNCHANGEDSINCE: messages changed after it are left alone and reported.
        let (mut todo, mut modified) = (Vec::new(), Vec::new());
        for u in &uids {
            if let Some(e) = sel.entry(*u) {
                match st.unchanged_since {
                    Some(n) if e.modseq as u64 > n => modified.push(*u),
                    _ => todo.push(e.clone()),
                }
            }
        }
        let all_flags =
            flags::SEEN | flags::ANSWERED | flags::FLAGGED | flags::DELETED | flags::DRAFT;
        let change = match st.mode {
            StoreMode::Add => Change {
                set_flags: bits,
                add_keywords: keywords.clone(),
                ..Change::default()
            },
            StoreMode::Remove => Change {
                clear_flags: bits,
                remove_keywords: keywords.clone(),
                ..Change::default()
            },
            StoreMode::Replace => {
                let mut others: Vec<String> = todo
                    .iter()
                    .flat_map(|e| e.keywords.iter().cloned())
                    .filter(|k| !keywords.contains(k))
                    .collect();
                others.sort();
                others.dedup();
                Change {
                    set_flags: bits,
                    clear_flags: all_flags & !bits,
                    add_keywords: keywords.clone(),
                    remove_keywords: others,
                    ..Change::default()
                }
            }
        };
        let ids: Vec<Uuid> = todo.iter().map(|e| e.id).collect();
        self.change_in_batches(&ids, &change).await?;
        let quiet: Vec<i64> = todo.iter().map(|e| e.uid).collect();
        if let Some(sel) = &mut self.sel {
            sel.touch();
        }
        self.sync(out, uid, &quiet).await?;
        let condstore = self.session.enabled().condstore;
        if let Some(sel) = &self.sel {
            for u in &quiet {
                if let Some(seq) = sel.seq_of(*u)
                    && (!st.silent || st.unchanged_since.is_some())
                {
                    fetch_flags(
                        out,
                        seq,
                        &sel.entries[seq - 1],
                        sel.is_recent(*u),
                        condstore,
                    );
                }
            }
        }
        if modified.is_empty() {
            out.extend_from_slice(format!("{tag} OK stored\r\n").as_bytes());
        } else {
            let set = if uid {
                uid_set(&modified)
            } else {
                let sel = self.sel.as_ref().ok_or(Error::NotFound)?;
                let mut seqs: Vec<i64> = modified
                    .iter()
                    .filter_map(|u| sel.seq_of(*u))
                    .map(|s| s as i64)
                    .collect();
                seqs.sort_unstable();
                uid_set(&seqs)
            };
            out.extend_from_slice(
                format!("{tag} OK [MODIFIED {set}] conditional store\r\n").as_bytes(),
            );
        }
        Ok(())
    }

    async fn fetch(
        &mut self,
        tag: &str,
        uid: bool,
        f: &Fetch,
        out: &mut Vec<u8>,
        conn: &mut Conn,
    ) -> Result<()> {
        let Some(mut uids) = self.targets(tag, uid, &f.set, out) else {
            return Ok(());
        };
        let (mailbox, folder, read_only) = match &self.sel {
            Some(s) => (s.mailbox, s.folder, s.read_only),
            None => return Ok(()),
        };
        if f.modifiers.changed_since.is_some() || f.items.contains(&Attribute::ModSeq) {
            self.condstore_on(out);
        }
        let condstore = self.session.enabled().condstore;
        if let Some(since) = f.modifiers.changed_since {
            let sel = self.sel.as_ref().ok_or(Error::NotFound)?;
            uids.retain(|u| sel.entry(*u).is_some_and(|e| e.modseq as u64 > since));
            if f.modifiers.vanished {
                let u = self.user()?;
                let ch = u.ts.index_changes(mailbox, folder, since as i64).await?;
                let gone: Vec<i64> = ch
                    .vanished
                    .into_iter()
                    .filter(|v| in_set(&f.set, *v))
                    .collect();
                if !gone.is_empty() {
                    out.extend_from_slice(
                        format!("* VANISHED (EARLIER) {}\r\n", uid_set(&gone)).as_bytes(),
                    );
                }
            }
        }
        let mut wanted = f.items.clone();
        let mut quiet = Vec::new();
        if items::sets_seen(&f.items) && !read_only {
            let sel = self.sel.as_ref().ok_or(Error::NotFound)?;
            // A BINARY that will be refused (an encoding the server cannot undo) must not
            // mark anything \Seen first.
            let parts = items::binary_parts(&f.items);
            if !parts.is_empty() {
                let u = self.user()?;
                let ids: Vec<Uuid> = uids
                    .iter()
                    .filter_map(|u| sel.entry(*u))
                    .map(|e| e.id)
                    .collect();
                for chunk in ids.chunks(500) {
                    for row in u.ts.messages_by_id(mailbox, chunk).await? {
                        let summary: Summary =
                            serde_json::from_str(&row.summary).unwrap_or_default();
                        if let Some(items::UnknownCte(cte)) = items::undecodable(&summary, &parts) {
                            out.extend_from_slice(
                                format!(
                                    "{tag} NO [UNKNOWN-CTE] cannot decode {cte:?} for BINARY\r\n"
                                )
                                .as_bytes(),
                            );
                            return Ok(());
                        }
                    }
                }
            }
            let unseen: Vec<Uuid> = uids
                .iter()
                .filter_map(|u| sel.entry(*u))
                .filter(|e| e.flags & flags::SEEN == 0)
                .map(|e| e.id)
                .collect();
            if !unseen.is_empty() {
                let u = self.user()?;
                let change = Change {
                    set_flags: flags::SEEN,
                    ..Change::default()
                };
                let mut events = Vec::new();
                for chunk in unseen.chunks(MAX_BATCH) {
                    events.extend(u.ts.change_messages(mailbox, chunk, &change).await?.events);
                }
                self.srv.pipeline.bus().publish(&events).await;
                if let Some(sel) = &mut self.sel {
                    sel.touch();
                }
                quiet = uids.clone();
                if !wanted.contains(&Attribute::Flags) {
                    wanted.push(Attribute::Flags);
                }
            }
        }
        // No expunge during FETCH by sequence number (RFC 9051 §7.5.1).
        self.sync(out, uid, &quiet).await?;
        let sel = self.sel.as_ref().ok_or(Error::NotFound)?;
        let u = self.user()?;
        let utf8 = self.session.enabled().utf8;
        let need_row = items::needs_row(&wanted);
        let need_summary = items::needs_summary(&wanted);
        let with_bytes = items::always_raw(&wanted);
        for chunk in uids.chunks(200) {
            let entries: Vec<&IndexEntry> = chunk
                .iter()
                .filter(|u| !sel.is_gone(**u))
                .filter_map(|u| sel.entry(*u))
                .collect();
            // One query for the rows, the bytes joined when every answer needs them.
            let rows: HashMap<Uuid, FetchRow> = if need_row {
                let ids: Vec<Uuid> = entries.iter().map(|e| e.id).collect();
                u.ts.fetch_rows(mailbox, &ids, with_bytes)
                    .await?
                    .into_iter()
                    .map(|m| (m.id, m))
                    .collect()
            } else {
                HashMap::new()
            };
            let summaries: HashMap<Uuid, Summary> = if need_summary {
                rows.values()
                    .filter_map(|r| Some((r.id, serde_json::from_str(&r.summary).ok()?)))
                    .collect()
            } else {
                HashMap::new()
            };
            // Bytes still missing for a message whose answer needs them (an ENVELOPE of a
            // message whose summary keeps no header fields).
            let missing: Vec<Uuid> = if with_bytes {
                Vec::new()
            } else {
                rows.values()
                    .filter(|r| items::needs_raw(&wanted, summaries.get(&r.id)))
                    .map(|r| r.id)
                    .collect()
            };
            let mut raws = if missing.is_empty() {
                HashMap::new()
            } else {
                u.ts.raws_by_id(mailbox, &missing).await?
            };
            for e in entries {
                let row = rows.get(&e.id);
                if need_row && row.is_none() {
                    // Gone meanwhile: reported as expunged at the next chance.
                    continue;
                }
                let fetched = raws.remove(&e.id);
                let raw = fetched
                    .as_deref()
                    .or_else(|| row.and_then(|r| r.raw.as_deref()));
                let m = Message {
                    entry: e,
                    recent: sel.is_recent(e.uid),
                    row,
                    summary: summaries.get(&e.id),
                    raw,
                };
                let seq = sel.seq_of(e.uid).unwrap_or(0);
                let mark = out.len();
                if let Err(items::UnknownCte(cte)) =
                    items::write(out, seq, &m, &wanted, uid, condstore, utf8)
                {
                    out.truncate(mark);
                    out.extend_from_slice(
                        format!("{tag} NO [UNKNOWN-CTE] cannot decode {cte:?} for BINARY\r\n")
                            .as_bytes(),
                    );
                    return Ok(());
                }
            }
            if out.len() > FLUSH_AT {
                // A big FETCH goes out in pieces: memory stays bounded by one chunk.
                conn.write_all(out)
                    .await
                    .map_err(|e| Error::Internal(format!("client went away: {e}")))?;
                out.clear();
            }
        }
        out.extend_from_slice(format!("{tag} OK fetched\r\n").as_bytes());
        Ok(())
    }

    /// What SEARCH, SORT and THREAD do first: refuse an unknown charset (`false`: answered),
    /// turn CONDSTORE on when a key asks about MODSEQ, bring the view up to date.
    async fn before_search(
        &mut self,
        tag: &str,
        uid: bool,
        charset: Option<&str>,
        keys: &[Key],
        out: &mut Vec<u8>,
    ) -> Result<bool> {
        if !known_charset(tag, charset, out) {
            return Ok(false);
        }
        if search::uses_modseq(keys) {
            self.condstore_on(out);
        }
        self.sync(out, uid, &[]).await?;
        Ok(true)
    }

    /// SORT (RFC 5256): the matching messages in the order asked for.
    #[allow(clippy::too_many_arguments)]
    async fn sort(
        &mut self,
        tag: &str,
        uid: bool,
        returns: Option<ReturnOptions>,
        criteria: &[SortKey],
        charset: &str,
        keys: &[Key],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if !self
            .before_search(tag, uid, Some(charset), keys, out)
            .await?
        {
            return Ok(());
        }
        let with_modseq = search::uses_modseq(keys);
        let u = self.user()?;
        let sel = self.sel.as_ref().ok_or(Error::NotFound)?;
        let sorted = sort::sort(&u.ts, sel, criteria, keys).await?;
        if let Some(r) = returns {
            // ESORT (RFC 5267): ESEARCH, MIN and MAX the first and last in sort order, ALL
            // in sort order.
            let numbers = self.numbers(uid, &sorted)?;
            self.esearch(tag, uid, r, &sorted, &numbers, with_modseq, out)?;
            out.extend_from_slice(format!("{tag} OK sorted\r\n").as_bytes());
            return Ok(());
        }
        out.extend_from_slice(b"* SORT");
        for u in &sorted {
            let n = if uid {
                Some(*u as usize)
            } else {
                sel.seq_of(*u)
            };
            if let Some(n) = n {
                out.extend_from_slice(format!(" {n}").as_bytes());
            }
        }
        if with_modseq && let Some(h) = self.highest_modseq(&sorted) {
            out.extend_from_slice(format!(" (MODSEQ {h})").as_bytes());
        }
        out.extend_from_slice(format!("\r\n{tag} OK sorted\r\n").as_bytes());
        Ok(())
    }

    /// THREAD (RFC 5256): the matching messages as threads.
    async fn thread(
        &mut self,
        tag: &str,
        uid: bool,
        by: ThreadBy,
        charset: &str,
        keys: &[Key],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if !self
            .before_search(tag, uid, Some(charset), keys, out)
            .await?
        {
            return Ok(());
        }
        let u = self.user()?;
        let sel = self.sel.as_ref().ok_or(Error::NotFound)?;
        let threads = sort::threads(&u.ts, sel, by, keys, uid).await?;
        out.extend_from_slice(b"* THREAD ");
        thread::write_threads(out, &threads);
        out.extend_from_slice(format!("\r\n{tag} OK threaded\r\n").as_bytes());
        Ok(())
    }

    async fn search(&mut self, tag: &str, uid: bool, s: &Search, out: &mut Vec<u8>) -> Result<()> {
        if !self
            .before_search(tag, uid, s.charset.as_deref(), &s.keys, out)
            .await?
        {
            return Ok(());
        }
        let with_modseq = search::uses_modseq(&s.keys);
        let u = self.user()?;
        let sel = self.sel.as_ref().ok_or(Error::NotFound)?;
        let found = search::run(&u.ts, sel, &s.keys).await?;
        // IMAP4rev2 answers every SEARCH with ESEARCH, ALL when no RETURN is given.
        let returns = match s.returns {
            None if self.session.enabled().rev2 => Some(ReturnOptions {
                all: true,
                ..ReturnOptions::default()
            }),
            r => r,
        };
        let numbers = self.numbers(uid, &found)?;
        match returns {
            None => {
                out.extend_from_slice(b"* SEARCH");
                for n in &numbers {
                    out.extend_from_slice(format!(" {n}").as_bytes());
                }
                if with_modseq && let Some(h) = self.highest_modseq(&found) {
                    out.extend_from_slice(format!(" (MODSEQ {h})").as_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
            Some(r) => self.esearch(tag, uid, r, &found, &numbers, with_modseq, out)?,
        }
        out.extend_from_slice(format!("{tag} OK searched\r\n").as_bytes());
        Ok(())
    }

    /// The highest MODSEQ among these UIDs of the selected folder (for a CONDSTORE search's
    /// answer).
    fn highest_modseq(&self, uids: &[i64]) -> Option<i64> {
        let sel = self.sel.as_ref()?;
        uids.iter()
            .filter_map(|u| sel.entry(*u))
            .map(|e| e.modseq)
            .max()
    }

    /// UIDs as the client is told them: UIDs, or sequence numbers (a UID the session no
    /// longer shows is left out).
    fn numbers(&self, uid: bool, uids: &[i64]) -> Result<Vec<i64>> {
        if uid {
            return Ok(uids.to_vec());
        }
        let sel = self.sel.as_ref().ok_or(Error::NotFound)?;
        Ok(uids
            .iter()
            .filter_map(|u| sel.seq_of(*u))
            .map(|s| s as i64)
            .collect())
    }

    /// The ESEARCH answer (RFC 4731) of a SEARCH or SORT with `RETURN`: `found` the matching
    /// UIDs and `numbers` what the client is told of them (UIDs or sequence numbers), both in
    /// the answer's order (UID order for SEARCH; sort order for SORT, whose MIN and MAX are then
    /// the first and last sorted and whose ALL lists them in that order, RFC 5267 §3.2). SAVE
    /// keeps the result for `$` (RFC 5182).
    #[allow(clippy::too_many_arguments)]
    fn esearch(
        &mut self,
        tag: &str,
        uid: bool,
        r: ReturnOptions,
        found: &[i64],
        numbers: &[i64],
        with_modseq: bool,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let all = !(r.min || r.max || r.count || r.save) || r.all;
        if r.save {
            let sel = self.sel.as_mut().ok_or(Error::NotFound)?;
            sel.saved = if r.min && !r.max && !all && !r.count {
                found.first().copied().into_iter().collect()
            } else if r.max && !r.min && !all && !r.count {
                found.last().copied().into_iter().collect()
            } else {
                let mut all = found.to_vec();
                all.sort_unstable();
                all
            };
        }
        let only_save = r.save && !(r.min || r.max || r.count || r.all);
        if !only_save {
            let mut line = format!("* ESEARCH (TAG \"{tag}\")");
            if uid {
                line.push_str(" UID");
            }
            if r.min
                && let Some(n) = numbers.first()
            {
                line.push_str(&format!(" MIN {n}"));
            }
            if r.max
                && let Some(n) = numbers.last()
            {
                line.push_str(&format!(" MAX {n}"));
            }
            if all && !numbers.is_empty() {
                line.push_str(&format!(" ALL {}", uid_set(numbers)));
            }
            if r.count {
                line.push_str(&format!(" COUNT {}", numbers.len()));
            }
            // With only MIN and/or MAX, the MODSEQ is that of the messages returned
            // (RFC 7162 §3.1.5); otherwise the highest of all that matched.
            let shown = if !with_modseq {
                None
            } else if (r.min || r.max) && !r.count && !all {
                let ends: Vec<i64> = [r.min.then(|| found.first()), r.max.then(|| found.last())]
                    .into_iter()
                    .flatten()
                    .flatten()
                    .copied()
                    .collect();
                self.highest_modseq(&ends)
            } else {
                self.highest_modseq(found)
            };
            if let Some(h) = shown {
                line.push_str(&format!(" MODSEQ {h}"));
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Ok(())
    }
}

/// The leaf parts below `p` whose bodies hold a NUL: `(header_start, body_start, end)`, in
/// order.
fn binary_leaves(
    raw: &[u8],
    p: &mailroom_core::mail::summary::Part,
    out: &mut Vec<(usize, usize, usize)>,
) {
    if p.children.is_empty() {
        let (hs, bs, end) = (
            p.header_start as usize,
            p.body_start as usize,
            p.end as usize,
        );
        if raw
            .get(bs..end.min(raw.len()))
            .is_some_and(|b| b.contains(&0))
        {
            out.push((hs, bs, end));
        }
    }
    for c in &p.children {
        binary_leaves(raw, c, out);
    }
}

/// Whether a search charset is one the server searches in; answers NO (BADCHARSET) if not.
fn known_charset(tag: &str, charset: Option<&str>, out: &mut Vec<u8>) -> bool {
    if charset.is_none_or(|cs| matches!(cs, "US-ASCII" | "UTF-8")) {
        return true;
    }
    out.extend_from_slice(
        format!("{tag} NO [BADCHARSET (US-ASCII UTF-8)] unknown charset\r\n").as_bytes(),
    );
    false
}

/// Whether a UID set as the client sent it (`*` unbounded) holds `uid`.
fn in_set(set: &mailroom_proto::imap::lex::SequenceSet, uid: i64) -> bool {
    set.contains(uid as u64, u64::MAX).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_patterns_match_like_the_rfc() {
        let m = |p: &str, n: &str| {
            matches(
                &p.chars().collect::<Vec<_>>(),
                &n.chars().collect::<Vec<_>>(),
            )
        };
        assert!(m("*", "A/B/C"));
        assert!(m("%", "Sent") && !m("%", "A/B"));
        assert!(m("A/%", "A/B") && !m("A/%", "A/B/C"));
        assert!(m("A*", "A/B/C") && !m("B*", "A"));
        assert!(m("Sent", "Sent") && !m("Sen", "Sent"));
    }

    #[test]
    fn flags_parse_into_bits_and_keywords() {
        assert_eq!(
            parse_flags(&["\\Seen".into(), "$Work".into(), "\\Recent".into()]),
            Ok((flags::SEEN, vec!["$Work".to_string()]))
        );
        assert_eq!(parse_flags(&["\\Bogus".into()]), Err("\\Bogus".into()));
    }

    #[test]
    fn append_dates_parse() {
        let d = parse_date_time(" 7-Feb-1994 21:52:25 -0800").unwrap();
        assert_eq!(d.to_rfc3339(), "1994-02-08T05:52:25+00:00");
        assert!(parse_date_time("yesterday").is_none());
    }
}
