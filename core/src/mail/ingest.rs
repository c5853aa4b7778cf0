//! The ingest pipeline, one place for every way mail comes in (SMTP and REST import), and the
//! one place its order is written down ([`Pipeline::deliver_smtp`], [`Pipeline::import`]):
//!
//! 1. **Message-level checks, once per message**: the parse-once summary, the authentication
//!    results (SPF, DKIM, DMARC, ARC; SMTP only), then the [`MessageStage`]s (a spam verdict),
//!    which may add header fields for every copy, score the message, reject or discard it.
//! 2. **Routing and expansion**: the recipients become mailboxes (aliases, groups, domain
//!    aliases, catch-alls; each mailbox once), groups' sending policies are applied, then the
//!    [`RouteStage`]s may change the list (rules that redirect).
//! 3. **Per-recipient stages**: the [`CopyStage`]s, once for each mailbox's copy (filing rules,
//!    vacation, per-mailbox spam thresholds), choose its folder, flags and keywords, add header
//!    fields, or discard the copy.
//! 4. **One store transaction** for every copy (UIDs, MODSEQ, counters, quota for imports),
//!    through the group committer for SMTP.
//! 5. **After commit**: the change events on the bus (never for a transaction that rolled
//!    back).
//!
//! Every stage says why it decided what it did; the notes are stored with each copy. No stage
//! is installed by default (an empty list at each step): spam filters and rules plug in with
//! [`Pipeline::with_stages`].

use super::authn::{AuthOutcome, Authenticator, SmtpPeer};
use super::search::index_text;
use super::summary::{Summary, summarize_with_text};
use crate::bus::Bus;
use crate::error::{Error, Result};
use crate::store::entities::kinds::Source;
use crate::store::{
    FolderTarget, GroupCommitter, NewCopy, NewMessage, StoredCopy, SystemStore, TenantStore,
    events_of,
};
use chrono::{DateTime, Duration, Utc};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use uuid::Uuid;

/// The message as every stage sees it.
pub struct Message<'a> {
    /// The bytes as received.
    pub body: &'a [u8],
    /// Its parse-once summary.
    pub summary: &'a Summary,
    /// SPF/DKIM/DMARC/ARC results (SMTP only).
    pub auth: Option<&'a AuthOutcome>,
    /// The SMTP transaction it came in (SMTP only).
    pub envelope: Option<&'a SmtpEnvelope>,
    /// How it came in.
    pub source: Source,
}

/// What a stage wants done: go on, refuse, or accept without storing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Action {
    /// Go on to the next stage.
    #[default]
    Continue,
    /// Refuse the message (SMTP `550 5.7.1` with the reason; an import is refused).
    Reject(String),
    /// Accept but do not store (the message, from a message stage; the copy, from a copy
    /// stage).
    Discard(String),
}

/// A message stage's decision, for every copy.
#[derive(Debug, Clone, Default)]
pub struct MessageOutcome {
    /// Header fields to add to every copy (name, value), e.g. `X-Spam-Status`.
    pub headers: Vec<(String, String)>,
    /// A spam score, for the per-recipient stages to hold against each mailbox's threshold
    /// (the last stage that gives one wins).
    pub spam_score: Option<f64>,
    /// Continue, reject or discard.
    pub action: Action,
    /// Why (stored with each copy).
    pub note: String,
    /// Structured detail stored with the note (a spam report).
    pub detail: Option<Value>,
    /// The spam filter's analysis, for the per-recipient stages (the last stage that gives
    /// one wins).
    pub spam: Option<Arc<crate::spam::Analysis>>,
}

/// A step that runs once per message, before routing (a spam filter).
pub trait MessageStage: Send + Sync {
    /// Its name, as recorded in the notes.
    fn name(&self) -> &'static str;
    /// Decides for the message.
    fn run<'a>(&'a self, msg: &'a Message<'a>) -> BoxFuture<'a, Result<MessageOutcome>>;
}

/// A routing stage's decision.
#[derive(Debug, Clone, Default)]
pub struct Routed {
    /// The mailboxes the message goes to now (each once).
    pub mailboxes: Vec<Uuid>,
    /// Why (stored with each copy).
    pub note: String,
}

/// A step that may change where the message goes, after expansion (rules that redirect).
pub trait RouteStage: Send + Sync {
    /// Its name, as recorded in the notes.
    fn name(&self) -> &'static str;
    /// The mailboxes to deliver to, given those expanded so far.
    fn route<'a>(
        &'a self,
        msg: &'a Message<'a>,
        mailboxes: Vec<Uuid>,
    ) -> BoxFuture<'a, Result<Routed>>;
}

/// What a per-recipient stage sees.
pub struct CopyInput<'a> {
    /// The message.
    pub message: &'a Message<'a>,
    /// The mailbox this copy is for.
    pub mailbox_id: Uuid,
    /// The message stages' spam score, if one gave it.
    pub spam_score: Option<f64>,
    /// The spam filter's analysis of the message, if it ran.
    pub spam: Option<&'a crate::spam::Analysis>,
    /// How many mailboxes get a copy of this message (a stage refusing the message for one
    /// of several would refuse it for all).
    pub copies: usize,
}

/// A per-recipient stage's decision for one copy.
#[derive(Debug, Clone, Default)]
pub struct StageOutcome {
    /// Header fields to add to this copy (name, value).
    pub headers: Vec<(String, String)>,
    /// Where the copy goes (a later stage overrides an earlier one).
    pub folder: Option<FolderTarget>,
    /// Flag bits to set.
    pub flags: i32,
    /// Keywords to add.
    pub keywords: Vec<String>,
    /// Continue, reject or discard.
    pub action: Action,
    /// Why (stored with the copy).
    pub note: String,
    /// Structured detail stored with the note (the spam verdict and its symbols).
    pub detail: Option<Value>,
}

/// A step that runs once per mailbox's copy (filing rules, vacation, spam thresholds).
pub trait CopyStage: Send + Sync {
    /// Its name, as recorded in the notes.
    fn name(&self) -> &'static str;
    /// Decides for one copy.
    fn run<'a>(&'a self, input: &'a CopyInput<'a>) -> BoxFuture<'a, Result<StageOutcome>>;
}

/// The stages at each step of the pipeline, in the order they run. Empty by default.
#[derive(Clone, Default)]
pub struct Stages {
    /// Once per message, before routing.
    pub message: Vec<Arc<dyn MessageStage>>,
    /// After expansion: may change the mailboxes.
    pub routing: Vec<Arc<dyn RouteStage>>,
    /// Once per copy.
    pub copy: Vec<Arc<dyn CopyStage>>,
}

/// What the message stages decided.
struct MessageChecks {
    /// Header fields for every copy, as lines.
    headers: String,
    spam_score: Option<f64>,
    spam: Option<Arc<crate::spam::Analysis>>,
    /// The notes so far (message and routing stages), for every copy.
    notes: Vec<Value>,
    action: Action,
}

/// An SMTP transaction's facts.
#[derive(Debug, Clone)]
pub struct SmtpEnvelope {
    /// The client (after PROXY protocol, when enabled).
    pub peer: IpAddr,
    /// HELO/EHLO name.
    pub helo: String,
    /// Reverse path ("" for the null sender).
    pub mail_from: String,
    /// Accepted recipients.
    pub rcpts: Vec<String>,
    /// The mailboxes they expand to, as resolved at RCPT; empty: resolve `rcpts` here.
    pub mailboxes: Vec<Uuid>,
    /// The sending policies of the groups they reach, as resolved at RCPT (with `mailboxes`).
    pub guards: Vec<crate::store::SendGuard>,
    /// Whether the session ran TLS.
    pub tls: bool,
    /// Session id, for the Received header and logs.
    pub session_id: String,
    /// Set for mail a user of this deployment sent (the outbound path delivering to a local
    /// recipient): the sender was authenticated at submission, so the SPF/DKIM/DMARC checks
    /// of mail from outside (which would judge the loopback address) are not run.
    pub submitted_by: Option<String>,
}

/// Why a delivery did not complete, as the SMTP server must answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `451 4.3.0`: nothing was stored; try again.
    TryLater(String),
    /// `452 4.3.1`: the storage is full; nothing was stored; try again later.
    StorageFull(String),
    /// `550 5.7.1` (a stage rejected) or `554 5.1.1` (no recipient left).
    Reject(String),
}

/// The result of a delivery.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The copies, duplicates included.
    pub copies: Vec<StoredCopy>,
    /// Copies discarded by a stage.
    pub discarded: usize,
}

/// The pipeline.
#[derive(Clone)]
pub struct Pipeline {
    sys: SystemStore,
    bus: Bus,
    authn: Option<Authenticator>,
    stages: Arc<Stages>,
    hostname: String,
    dedup_window: Duration,
    committer: GroupCommitter,
    /// Message bytes in memory for delivery at once, in KiB (see [`Pipeline::reserve`]).
    budget: Arc<tokio::sync::Semaphore>,
    budget_kib: u32,
}

impl Pipeline {
    /// A pipeline with no stages. `authn`: `None` skips authentication (tests, imports).
    /// Starts the group committer of deliveries, so it must be called on a Tokio runtime.
    pub fn new(
        sys: SystemStore,
        bus: Bus,
        authn: Option<Authenticator>,
        hostname: &str,
        dedup_window: Duration,
        memory_budget: usize,
    ) -> Self {
        let budget_kib = (memory_budget / 1024).clamp(1, u32::MAX as usize >> 3) as u32;
        Self {
            budget: Arc::new(tokio::sync::Semaphore::new(budget_kib as usize)),
            budget_kib,
            bus,
            authn,
            stages: Arc::new(Stages::default()),
            hostname: hostname.to_string(),
            dedup_window,
            committer: GroupCommitter::start(sys.store.clone()),
            sys,
        }
    }

    /// Installs the stages (spam filters, rules).
    pub fn with_stages(mut self, stages: Stages) -> Self {
        self.stages = Arc::new(stages);
        self
    }

    /// Waits until a message of `size` bytes may be held in memory for delivery: messages
    /// being parsed and stored take at most the configured budget at once (a message larger
    /// than the budget waits for all of it), so many large messages arriving together do not
    /// exhaust memory. Hold the permit until the message is stored.
    pub async fn reserve(&self, size: usize) -> Result<tokio::sync::OwnedSemaphorePermit> {
        let kib = (size.div_ceil(1024) as u32).clamp(1, self.budget_kib);
        self.budget
            .clone()
            .acquire_many_owned(kib)
            .await
            .map_err(|_| Error::Internal("the delivery memory budget closed".into()))
    }

    /// The group committer of deliveries (sent messages are stored through it too).
    pub fn committer(&self) -> &GroupCommitter {
        &self.committer
    }

    /// The event bus changes are published on.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Step 1: the message stages, once.
    async fn check_message(&self, msg: &Message<'_>) -> Result<MessageChecks> {
        let mut out = MessageChecks {
            headers: String::new(),
            spam_score: None,
            spam: None,
            notes: Vec::new(),
            action: Action::Continue,
        };
        for stage in &self.stages.message {
            let o = stage.run(msg).await?;
            for (name, value) in &o.headers {
                out.headers.push_str(&header_line(name, value));
            }
            if o.spam_score.is_some() {
                out.spam_score = o.spam_score;
            }
            if o.spam.is_some() {
                out.spam = o.spam;
            }
            out.notes.push(note(stage.name(), o.note, o.detail));
            if o.action != Action::Continue {
                out.action = o.action;
                break;
            }
        }
        Ok(out)
    }

    /// Step 2, after expansion: the routing stages.
    async fn route(
        &self,
        msg: &Message<'_>,
        mut mailboxes: Vec<Uuid>,
        notes: &mut Vec<Value>,
    ) -> Result<Vec<Uuid>> {
        for stage in &self.stages.routing {
            let r = stage.route(msg, mailboxes).await?;
            mailboxes = Vec::with_capacity(r.mailboxes.len());
            for m in r.mailboxes {
                if !mailboxes.contains(&m) {
                    mailboxes.push(m);
                }
            }
            notes.push(json!({"stage": stage.name(), "note": r.note}));
        }
        Ok(mailboxes)
    }

    /// Step 3: the per-recipient stages for one copy.
    async fn run_copy_stages(
        &self,
        input: &CopyInput<'_>,
        checks: &MessageChecks,
        target: FolderTarget,
        flags: i32,
    ) -> Result<(NewCopy, String, Action)> {
        let mut copy = NewCopy {
            mailbox_id: input.mailbox_id,
            folder: target,
            flags,
            keywords: Vec::new(),
            pipeline: json!([]),
            extra_headers: checks.headers.clone(),
        };
        let mut notes = checks.notes.clone();
        for stage in &self.stages.copy {
            let out = stage.run(input).await?;
            for (name, value) in &out.headers {
                copy.extra_headers.push_str(&header_line(name, value));
            }
            if let Some(f) = out.folder {
                copy.folder = f;
            }
            copy.flags |= out.flags;
            for k in out.keywords {
                if !copy.keywords.contains(&k) {
                    copy.keywords.push(k);
                }
            }
            notes.push(note(stage.name(), out.note, out.detail));
            if out.action != Action::Continue {
                copy.pipeline = json!(notes);
                return Ok((copy, stage.name().to_string(), out.action));
            }
        }
        copy.pipeline = json!(notes);
        Ok((copy, String::new(), Action::Continue))
    }

    /// Delivers a message received over SMTP to every mailbox its recipients expand to, in
    /// one transaction, and publishes the change events after the commit. `Ok` means every
    /// copy is committed: only then may the server answer `250`. The steps are the module's.
    pub async fn deliver_smtp(
        &self,
        env: &SmtpEnvelope,
        body: Vec<u8>,
    ) -> std::result::Result<Delivered, Refusal> {
        let temp = |e: Error| match e.outage() {
            // Outages are logged once by the health state, not once per message.
            Some(crate::Outage::StorageFull) => {
                Refusal::StorageFull("insufficient system storage; try again later".into())
            }
            Some(crate::Outage::Unavailable) => {
                Refusal::TryLater("temporary failure storing the message; try again".into())
            }
            None => {
                tracing::warn!(error = %e, session = %env.session_id, "delivery failed");
                Refusal::TryLater("temporary failure storing the message; try again".into())
            }
        };
        // 1. Message-level checks, once.
        let (summary, text) = summarize_with_text(&body);
        let auth = match (&env.submitted_by, &self.authn) {
            (Some(login), _) => Some(AuthOutcome::submitted(&self.hostname, login)),
            (None, Some(a)) => Some(
                a.check(
                    &body,
                    &SmtpPeer {
                        ip: env.peer,
                        helo: env.helo.clone(),
                        mail_from: env.mail_from.clone(),
                    },
                )
                .await,
            ),
            (None, None) => None,
        };
        let msg = Message {
            body: &body,
            summary: &summary,
            auth: auth.as_ref(),
            envelope: Some(env),
            source: Source::Smtp,
        };
        let mut checks = self.check_message(&msg).await.map_err(temp)?;
        match &checks.action {
            Action::Continue => {}
            Action::Reject(why) => return Err(Refusal::Reject(why.clone())),
            Action::Discard(why) => {
                tracing::info!(why, session = %env.session_id, "message discarded");
                return Ok(Delivered {
                    copies: Vec::new(),
                    discarded: env.rcpts.len(),
                });
            }
        }
        // 2. Routing and expansion: aliases, groups, domain aliases, catch-alls; each mailbox
        // once (as resolved at RCPT, when it was).
        let mut mailboxes: Vec<Uuid> = env.mailboxes.clone();
        let mut guards = env.guards.clone();
        for rcpt in env.rcpts.iter().filter(|_| env.mailboxes.is_empty()) {
            let r = self.sys.resolve_address(rcpt).await.map_err(temp)?;
            if r.rejected.is_some() {
                tracing::info!(rcpt = %rcpt, "recipient vanished between RCPT and DATA");
            }
            for d in r.mailboxes {
                if !mailboxes.contains(&d.mailbox_id) {
                    mailboxes.push(d.mailbox_id);
                }
            }
            guards.extend(r.send_policies);
        }
        // Groups that take mail only from members or the tenant: one refusal refuses the
        // message (one reply per DATA), so nothing is delivered in part and nothing is lost.
        if let Some(why) = super::policy::refusal(&guards, &summary, auth.as_ref(), &self.sys)
            .await
            .map_err(temp)?
        {
            tracing::info!(from = %env.mail_from, why, "refused by a group's sending policy");
            return Err(Refusal::Reject(why));
        }
        let mailboxes = self
            .route(&msg, mailboxes, &mut checks.notes)
            .await
            .map_err(temp)?;
        // 3. Per-recipient stages.
        let mut copies = Vec::new();
        let mut discarded = 0;
        let n = mailboxes.len();
        for m in mailboxes {
            let input = CopyInput {
                message: &msg,
                mailbox_id: m,
                spam_score: checks.spam_score,
                spam: checks.spam.as_deref(),
                copies: n,
            };
            let (copy, stage, action) = self
                .run_copy_stages(&input, &checks, FolderTarget::SpecialUse("inbox".into()), 0)
                .await
                .map_err(temp)?;
            match action {
                Action::Continue => copies.push(copy),
                Action::Discard(why) => {
                    tracing::info!(stage, why, mailbox = %m, "copy discarded");
                    discarded += 1;
                }
                Action::Reject(why) => return Err(Refusal::Reject(why)),
            }
        }
        if copies.is_empty() && discarded == 0 {
            return Err(Refusal::Reject("no deliverable recipients".into()));
        }
        // 4. One store transaction.
        let mut prefix = self.received(env);
        if let Some(a) = &auth {
            prefix.push_str(&a.header);
        }
        let auth_json = auth.as_ref().and_then(|a| serde_json::to_string(a).ok());
        let search_text = index_text(&summary, &text);
        let stored_msg = NewMessage {
            body: Cow::Owned(body),
            trace_prefix: prefix,
            summary: Cow::Owned(summary),
            search_text,
            auth_results: auth_json,
            internal_date: Utc::now(),
            source: Source::Smtp,
            dedup_window: Some(self.dedup_window),
        };
        let (stored, events) = if copies.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let (stored, tenants) = self
                .committer
                .store(stored_msg, copies)
                .await
                .map_err(temp)?;
            let events = events_of(&tenants, &stored);
            (stored, events)
        };
        // 5. After commit.
        self.bus.publish(&events).await;
        Ok(Delivered {
            copies: stored,
            discarded,
        })
    }

    /// Imports one message into a folder of a mailbox (REST import): the message and copy
    /// stages run (no routing: the mailbox is named), but a stage's folder choice gives way to
    /// the folder asked for; the quota is checked in the storing transaction. Never
    /// deduplicated: importing the same bytes twice gives two messages, as IMAP APPEND does.
    pub async fn import(
        &self,
        ts: &TenantStore,
        mailbox: Uuid,
        folder: Uuid,
        raw: &[u8],
        flags: i32,
        internal_date: Option<DateTime<Utc>>,
    ) -> Result<StoredCopy> {
        let refused = |why: String| Error::Rejected {
            code: "message_rejected",
            field: "message".into(),
            message: why,
        };
        let (summary, text) = summarize_with_text(raw);
        let msg = Message {
            body: raw,
            summary: &summary,
            auth: None,
            envelope: None,
            source: Source::Import,
        };
        let checks = self.check_message(&msg).await?;
        if let Action::Reject(why) | Action::Discard(why) = checks.action.clone() {
            return Err(refused(why));
        }
        let input = CopyInput {
            message: &msg,
            mailbox_id: mailbox,
            spam_score: checks.spam_score,
            spam: checks.spam.as_deref(),
            copies: 1,
        };
        let (mut copy, _, action) = self
            .run_copy_stages(&input, &checks, FolderTarget::Id(folder), flags)
            .await?;
        if let Action::Reject(why) | Action::Discard(why) = action {
            return Err(refused(why));
        }
        copy.folder = FolderTarget::Id(folder);
        let stored_msg = NewMessage {
            body: Cow::Borrowed(raw),
            trace_prefix: String::new(),
            summary: Cow::Borrowed(&summary),
            search_text: index_text(&summary, &text),
            auth_results: None,
            internal_date: internal_date.or(summary.date).unwrap_or_else(Utc::now),
            source: Source::Import,
            dedup_window: None,
        };
        let (stored, events) = ts.import_message(mailbox, &stored_msg, copy).await?;
        self.bus.publish(&events).await;
        Ok(stored)
    }

    /// Our `Received:` field (RFC 5321 §4.4). `for` names the recipient only when there is one,
    /// so a list's members are not told about each other.
    fn received(&self, env: &SmtpEnvelope) -> String {
        let helo: String = env
            .helo
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(255)
            .collect();
        let with = if env.tls { "ESMTPS" } else { "ESMTP" };
        let mut s = format!(
            "Received: from {helo} ([{}])\r\n\tby {} (Mailroom) with {with} id {}",
            env.peer, self.hostname, env.session_id
        );
        if let [one] = env.rcpts.as_slice() {
            let one: String = one.chars().filter(|c| c.is_ascii_graphic()).collect();
            s.push_str(&format!("\r\n\tfor <{one}>"));
        }
        s.push_str(&format!(
            ";\r\n\t{}\r\n",
            Utc::now().format("%a, %d %b %Y %H:%M:%S +0000")
        ));
        s
    }
}

/// A stage's note as stored with each copy: `{"stage", "note"}`, with `"detail"` when given.
fn note(stage: &str, note: String, detail: Option<Value>) -> Value {
    match detail {
        Some(d) => json!({"stage": stage, "note": note, "detail": d}),
        None => json!({"stage": stage, "note": note}),
    }
}

/// One header field, its value cleaned of line breaks.
fn header_line(name: &str, value: &str) -> String {
    let clean: String = value
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    format!("{name}: {clean}\r\n")
}
