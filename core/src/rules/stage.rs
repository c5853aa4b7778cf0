//! The rules in the ingest pipeline: a copy stage that runs the tenant's, the mailbox's
//! domain's and the mailbox's own enabled rules, in that order, on each copy, after the spam
//! verdict (a rule may file a message the filter put in Junk elsewhere). Each mailbox's rules
//! are kept compiled with the tenant's rules version they were read at; every copy asks the
//! version (one small query) and reads the rules again only when it moved, so a rule saved a
//! moment ago applies to the next message.

use super::{BodyText, Compiled, RuleAction, RuleBody, Subject};
use crate::error::Result;
use crate::mail::flags;
use crate::mail::ingest::{Action, CopyInput, CopyStage, StageOutcome};
use crate::store::entities::rules;
use crate::store::{FolderTarget, SystemStore};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Compiled rules kept before the cache is cleared.
const MAX_COMPILED: usize = 100_000;

/// Compiled rules by id, with the time of the version compiled.
type CompiledCache = HashMap<Uuid, (DateTime<Utc>, Arc<Compiled>)>;

/// A mailbox's rules, in order, compiled.
pub type MailboxRules = Arc<Vec<(rules::Model, Arc<Compiled>)>>;

/// Per mailbox: its tenant, the tenant's rules version read, and its rules at that version.
type ListCache = HashMap<Uuid, (Uuid, i64, MailboxRules)>;

/// Mailboxes whose rules are kept before the cache is cleared.
const MAX_MAILBOXES: usize = 100_000;

/// The rules stage.
pub struct RulesStage {
    sys: SystemStore,
    compiled: Mutex<CompiledCache>,
    lists: Mutex<ListCache>,
}

/// What the rules decided for one copy.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Decision {
    /// The folder to file into, by name (the last `fileinto`).
    pub folder: Option<String>,
    /// Flag bits to set.
    pub flags: i32,
    /// Keywords to add.
    pub keywords: Vec<String>,
    /// `Discard` or `Reject` when a rule said so.
    pub action: Option<RuleAction>,
    /// The rules that matched, in order: `{id, name, level, actions}`.
    pub matched: Vec<serde_json::Value>,
}

/// Runs `rules` (in order, already compiled) on `m`.
pub fn decide(rules: &[(rules::Model, Arc<Compiled>)], m: &Subject<'_>) -> Decision {
    let body = BodyText::new(m.raw);
    let mut d = Decision::default();
    'rules: for (row, c) in rules {
        if !c.matches(m, &body) {
            continue;
        }
        d.matched.push(json!({
            "id": row.id,
            "name": row.name,
            "level": row.level,
            "actions": c.actions,
        }));
        for a in &c.actions {
            match a {
                RuleAction::Fileinto { folder } => d.folder = Some(folder.clone()),
                RuleAction::Flag { flag } => d.flags |= flag_bit(flag),
                RuleAction::Keyword { keyword } => {
                    if !d.keywords.contains(keyword) {
                        d.keywords.push(keyword.clone());
                    }
                }
                RuleAction::MarkRead => d.flags |= flags::SEEN,
                RuleAction::Discard | RuleAction::Reject { .. } => {
                    d.action = Some(a.clone());
                    break 'rules;
                }
                RuleAction::Stop => break 'rules,
            }
        }
    }
    d
}

fn flag_bit(name: &str) -> i32 {
    match name {
        "seen" => flags::SEEN,
        "flagged" => flags::FLAGGED,
        "answered" => flags::ANSWERED,
        "draft" => flags::DRAFT,
        _ => 0,
    }
}

/// The message of a copy as rules see it.
pub fn subject_of<'a>(input: &'a CopyInput<'a>) -> Subject<'a> {
    let msg = input.message;
    let s = msg.summary;
    let shown = |list: &[crate::mail::summary::Addr]| -> Vec<String> {
        list.iter()
            .map(|a| {
                let addr = a.address.as_deref().unwrap_or_default();
                match &a.name {
                    Some(n) if !n.is_empty() => format!("{n} <{addr}>"),
                    _ => addr.to_string(),
                }
            })
            .collect()
    };
    let header_end = usize::try_from(s.header_size)
        .unwrap_or(usize::MAX)
        .min(msg.body.len());
    Subject {
        from: shown(&s.from),
        to: shown(&s.to),
        cc: shown(&s.cc),
        sender: msg
            .envelope
            .map(|e| e.mail_from.clone())
            .unwrap_or_default(),
        recipients: msg.envelope.map(|e| e.rcpts.clone()).unwrap_or_default(),
        subject: s.subject.clone().unwrap_or_default(),
        header_block: &msg.body[..header_end],
        raw: msg.body,
        size: msg.body.len() as u64,
        has_attachment: !s.attachments.is_empty(),
        spam_score: input.spam_score,
        auth: msg.auth.map(|a| {
            // DKIM passes when one signature does.
            let dkim = if a.dkim.iter().any(|d| d.result == "pass") {
                "pass"
            } else {
                a.dkim.first().map_or("none", |d| d.result.as_str())
            };
            (a.spf.clone(), dkim.to_string(), a.dmarc.clone())
        }),
        fields: Default::default(),
    }
}

/// What `mailbox`'s rules would do with `raw` sent to `recipient` (`POST /v1/rules/test`):
/// the same rules, in the same order, as delivery runs.
pub fn dry_run(
    rules: &[(rules::Model, Arc<Compiled>)],
    raw: &[u8],
    sender: &str,
    recipient: &str,
    spam_score: Option<f64>,
) -> Decision {
    let summary = crate::mail::summary::summarize(raw);
    let envelope = crate::mail::ingest::SmtpEnvelope {
        peer: std::net::IpAddr::from([127, 0, 0, 1]),
        helo: String::new(),
        mail_from: sender.to_string(),
        rcpts: vec![recipient.to_string()],
        mailboxes: Vec::new(),
        guards: Vec::new(),
        tls: false,
        session_id: String::new(),
        submitted_by: None,
    };
    let msg = crate::mail::ingest::Message {
        body: raw,
        summary: &summary,
        auth: None,
        envelope: Some(&envelope),
        source: crate::store::entities::kinds::Source::Smtp,
    };
    let input = CopyInput {
        message: &msg,
        mailbox_id: Uuid::nil(),
        spam_score,
        spam: None,
        copies: 1,
    };
    decide(rules, &subject_of(&input))
}

impl RulesStage {
    /// The stage, reading rules from `sys`.
    pub fn new(sys: SystemStore) -> Self {
        Self {
            sys,
            compiled: Mutex::new(HashMap::new()),
            lists: Mutex::new(HashMap::new()),
        }
    }

    /// The enabled rules that apply to `mailbox`, in order, compiled: kept while the
    /// tenant's rules version stays where it was.
    pub async fn rules_for(&self, mailbox: Uuid) -> Result<Option<(Uuid, MailboxRules)>> {
        let cached = self
            .lists
            .lock()
            .ok()
            .and_then(|c| c.get(&mailbox).cloned());
        // The version before the rules: a change made while they are read moves it again, and
        // the next copy reads them anew.
        let (tenant, version) = match cached {
            Some((tenant, version, rules)) => {
                let now = self.sys.rules_version(tenant).await?;
                if now == version {
                    return Ok(Some((tenant, rules)));
                }
                (tenant, now)
            }
            None => match self.sys.tenant_of_mailbox(mailbox).await? {
                Some(tenant) => (tenant, self.sys.rules_version(tenant).await?),
                None => return Ok(None),
            },
        };
        let Some(rules) = self.load(tenant, mailbox).await? else {
            return Ok(None);
        };
        let rules = Arc::new(rules);
        if let Ok(mut c) = self.lists.lock() {
            if c.len() > MAX_MAILBOXES {
                c.clear();
            }
            c.insert(mailbox, (tenant, version, rules.clone()));
        }
        Ok(Some((tenant, rules)))
    }

    /// Reads the rules of `mailbox` (of `tenant`), each compiled once per change.
    async fn load(
        &self,
        tenant: Uuid,
        mailbox: Uuid,
    ) -> Result<Option<Vec<(rules::Model, Arc<Compiled>)>>> {
        let rows = match self.sys.spam_store(tenant).rules_applying(mailbox).await {
            Ok(rows) => rows,
            Err(crate::Error::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut out = Vec::with_capacity(rows.len());
        let Ok(mut cache) = self.compiled.lock() else {
            return Ok(Some(out));
        };
        if cache.len() > MAX_COMPILED {
            cache.clear();
        }
        for row in rows {
            let c = match cache.get(&row.id) {
                Some((at, c)) if *at == row.updated_at => c.clone(),
                _ => {
                    let Some(c) = compiled(&row) else {
                        continue;
                    };
                    let c = Arc::new(c);
                    cache.insert(row.id, (row.updated_at, c.clone()));
                    c
                }
            };
            out.push((row, c));
        }
        Ok(Some(out))
    }
}

/// A saved rule, compiled (`None` for a body that does not read, which saving prevents).
pub fn compiled(row: &rules::Model) -> Option<Compiled> {
    serde_json::from_str::<RuleBody>(&row.body)
        .ok()
        .map(|b| b.compile())
}

impl CopyStage for RulesStage {
    fn name(&self) -> &'static str {
        "rules"
    }

    fn run<'a>(&'a self, input: &'a CopyInput<'a>) -> BoxFuture<'a, Result<StageOutcome>> {
        Box::pin(async move {
            // An import goes where it is put.
            if input.message.source == crate::store::entities::kinds::Source::Import {
                return Ok(StageOutcome::default());
            }
            let Some((tenant, rules)) = self.rules_for(input.mailbox_id).await? else {
                return Ok(StageOutcome::default());
            };
            if rules.is_empty() {
                return Ok(StageOutcome::default());
            }
            let m = subject_of(input);
            let d = decide(&rules, &m);
            if d.matched.is_empty() {
                return Ok(StageOutcome::default());
            }
            let names: Vec<&str> = d
                .matched
                .iter()
                .filter_map(|r| r["name"].as_str())
                .collect();
            let mut out = StageOutcome {
                flags: d.flags,
                keywords: d.keywords.clone(),
                note: format!("rules applied: {}", names.join(", ")),
                ..StageOutcome::default()
            };
            let mut missing = None;
            if let Some(name) = &d.folder {
                match self
                    .sys
                    .spam_store(tenant)
                    .folder_by_name(input.mailbox_id, name)
                    .await
                {
                    Ok(f) => out.folder = Some(FolderTarget::Id(f.id)),
                    Err(crate::Error::NotFound) => missing = Some(name.clone()),
                    Err(e) => return Err(e),
                }
            }
            out.detail = Some(json!({
                "rules": d.matched,
                "folder": d.folder,
                "missing_folder": missing,
            }));
            if let Some(f) = &missing {
                out.note
                    .push_str(&format!("; no folder {f:?}: kept where it was going"));
            }
            match d.action {
                Some(RuleAction::Discard) => {
                    out.action =
                        Action::Discard(format!("discarded by rule: {}", names.join(", ")));
                }
                Some(RuleAction::Reject { text }) => {
                    // One recipient's rule must not refuse the message for the others.
                    out.action = if input.copies <= 1 {
                        Action::Reject(text)
                    } else {
                        Action::Discard(format!("refused by rule for this mailbox: {text}"))
                    };
                }
                _ => {}
            }
            Ok(out)
        })
    }
}
