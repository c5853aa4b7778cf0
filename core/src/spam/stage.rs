//! The spam filter in the ingest pipeline: scored once per message ([`SpamCheck`], a message
//! stage, with the base model), then judged per recipient by the recipient's tenant
//! ([`SpamVerdict`], a copy stage): its own classifier counts, its thresholds, its DMARC
//! choice. The verdict files the copy into Junk, or refuses the message at SMTP time; each
//! copy keeps the report (`X-Spam-Score`, `X-Spam-Status` and the symbols in its notes).
//!
//! Mail a user of this deployment sent (submission, delivered locally) and imports are not
//! scored.

use super::{Analysis, Context, Symbol, Verdict};
use crate::error::Result;
use crate::mail::ingest::{
    Action, CopyInput, CopyStage, Message, MessageOutcome, MessageStage, StageOutcome,
};
use crate::store::entities::kinds::Source;
use crate::store::entities::spam_lists;
use crate::store::{Book, FolderTarget, Quarantined, SpamSettings, SystemStore, spam_list_covers};
use futures_util::future::BoxFuture;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Bytes of a message the filter reads (the rest of a larger one is not looked at).
pub const MAX_SCAN_BYTES: usize = 1024 * 1024;
/// How long a tenant's settings are reused before they are read again.
const SETTINGS_TTL: Duration = Duration::from_secs(10);

/// The message stage: scores each message received over SMTP once.
#[derive(Default)]
pub struct SpamCheck {
    lists: Option<super::dnsbl::DnsLists>,
    rdns: Option<super::rdns::ReverseDns>,
    our_name: String,
}

impl SpamCheck {
    /// The stage of the server named `our_name`, asking these DNS blocklists when given.
    pub fn new(lists: Option<super::dnsbl::DnsLists>, our_name: &str) -> Self {
        Self {
            lists,
            rdns: None,
            our_name: our_name.to_string(),
        }
    }

    /// The same stage, checking the client's reverse DNS.
    pub fn with_reverse_dns(self, rdns: super::rdns::ReverseDns) -> Self {
        Self {
            rdns: Some(rdns),
            ..self
        }
    }
}

impl MessageStage for SpamCheck {
    fn name(&self) -> &'static str {
        "spam"
    }

    fn run<'a>(&'a self, msg: &'a Message<'a>) -> BoxFuture<'a, Result<MessageOutcome>> {
        Box::pin(async move {
            let submitted = msg.envelope.is_some_and(|e| e.submitted_by.is_some());
            if msg.source != Source::Smtp || submitted {
                return Ok(MessageOutcome {
                    note: "not scored: sent by a user of this server, or imported".into(),
                    ..MessageOutcome::default()
                });
            }
            let raw = &msg.body[..msg.body.len().min(MAX_SCAN_BYTES)];
            let auth = msg.auth.cloned();
            let from = msg.envelope.map(|e| e.mail_from.clone());
            let client = msg.envelope.map(|e| (e.peer, e.helo.clone()));
            let our_name = self.our_name.clone();
            let raw = raw.to_vec();
            // Parsing and scoring is CPU work: off the async workers.
            let analysis = tokio::task::spawn_blocking(move || {
                Analysis::of(
                    &raw,
                    &Context {
                        auth: auth.as_ref(),
                        envelope_from: from.as_deref(),
                        client: client.as_ref().map(|(ip, helo)| super::rules::Client {
                            ip: *ip,
                            helo,
                            our_name: &our_name,
                        }),
                    },
                )
            })
            .await
            .map_err(|e| crate::Error::Internal(format!("spam check: {e}")))?;
            let mut analysis = analysis;
            let peer = msg.envelope.map(|e| e.peer);
            // The DNS questions, asked at the same time.
            let (listed, rdns) = tokio::join!(
                async {
                    match &self.lists {
                        Some(l) => l.check(peer, &analysis.link_domains).await,
                        None => Vec::new(),
                    }
                },
                async {
                    match (&self.rdns, peer) {
                        (Some(r), Some(ip)) => r.check(ip).await,
                        _ => Vec::new(),
                    }
                }
            );
            if !listed.is_empty() || !rdns.is_empty() {
                analysis.report.symbols.extend(listed);
                analysis.report.symbols.extend(rdns);
                analysis.report.rescore();
            }
            Ok(MessageOutcome {
                spam_score: Some(analysis.report.score),
                note: format!("score {:.2} with the base model", analysis.report.score),
                spam: Some(Arc::new(analysis)),
                ..MessageOutcome::default()
            })
        })
    }
}

/// What a recipient's tenant judges by: its settings and the list entries for the mailbox.
#[derive(Clone)]
pub struct Judge {
    /// The mailbox's tenant.
    pub tenant: Uuid,
    /// Its settings (with the mailbox's own Junk threshold, when it set one).
    pub settings: SpamSettings,
    /// The allow and block entries of the tenant and of the mailbox.
    pub entries: Vec<spam_lists::Model>,
}

/// What each mailbox's tenant judges by, read at most every few seconds per mailbox.
pub struct Judges {
    sys: SystemStore,
    /// Per mailbox: what its tenant judges by, with when it was read.
    cache: Mutex<HashMap<Uuid, (Instant, Judge)>>,
}

impl Judges {
    /// Reading from `sys`.
    pub fn new(sys: SystemStore) -> Self {
        Self {
            sys,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The judge of `mailbox`; `None` when there is no such mailbox.
    pub async fn of(&self, mailbox: Uuid) -> Result<Option<Judge>> {
        if let Ok(c) = self.cache.lock()
            && let Some((at, j)) = c.get(&mailbox)
            && at.elapsed() < SETTINGS_TTL
        {
            return Ok(Some(j.clone()));
        }
        let Some((tenant, settings)) = self.sys.spam_settings_of_mailbox(mailbox).await? else {
            return Ok(None);
        };
        let entries = self
            .sys
            .spam_store(tenant)
            .spam_entries_for(mailbox)
            .await?;
        let j = Judge {
            tenant,
            settings,
            entries,
        };
        if let Ok(mut c) = self.cache.lock() {
            if c.len() > 100_000 {
                c.clear();
            }
            c.insert(mailbox, (Instant::now(), j.clone()));
        }
        Ok(Some(j))
    }
}

/// The copy stage: each recipient's tenant judges the message.
pub struct SpamVerdict {
    sys: SystemStore,
    judges: Judges,
    /// Autolearn's allowance.
    budget: super::autolearn::Budget,
}

/// Score of a sender on an allow list whose From is authenticated (DMARC pass).
pub const ALLOWLIST_SCORE: f64 = -20.0;
/// Score of a sender on an allow list whose From is not authenticated (it may be forged).
pub const ALLOWLIST_UNAUTH_SCORE: f64 = -2.0;
/// Score of a sender on a block list.
pub const BLOCKLIST_SCORE: f64 = 20.0;
/// Score of a sender in the recipient's contacts (authenticated From: twice that).
pub const CONTACT_SCORE: f64 = -2.0;

/// The allow and block list symbols for a message, and whether an allow entry matched.
fn list_symbols(a: &Analysis, entries: &[spam_lists::Model]) -> (Vec<Symbol>, bool) {
    let mut out = Vec::new();
    let whose = |e: &spam_lists::Model| {
        if e.mailbox_id.is_some() {
            "the mailbox's"
        } else {
            "the organisation's"
        }
    };
    let senders: Vec<&str> = a
        .from
        .iter()
        .chain(a.envelope_from.iter())
        .map(String::as_str)
        .collect();
    if let Some((e, who)) = entries.iter().filter(|e| e.kind == "block").find_map(|e| {
        senders
            .iter()
            .find(|s| spam_list_covers(&e.pattern, s))
            .map(|s| (e, *s))
    }) {
        out.push(Symbol {
            name: "BLOCKLIST".into(),
            score: BLOCKLIST_SCORE,
            detail: format!("{who} is on {} block list ({})", whose(e), e.pattern),
        });
    }
    let mut allowed = false;
    if let Some(from) = &a.from
        && let Some(e) = entries
            .iter()
            .find(|e| e.kind == "allow" && spam_list_covers(&e.pattern, from))
    {
        allowed = true;
        out.push(if a.authenticated {
            Symbol {
                name: "ALLOWLIST".into(),
                score: ALLOWLIST_SCORE,
                detail: format!("{from} is on {} allow list ({})", whose(e), e.pattern),
            }
        } else {
            Symbol {
                name: "ALLOWLIST_UNAUTH".into(),
                score: ALLOWLIST_UNAUTH_SCORE,
                detail: format!(
                    "{from} is on {} allow list ({}), but the From is not authenticated (no DMARC pass), so it counts little",
                    whose(e),
                    e.pattern
                ),
            }
        });
    }
    (out, allowed)
}

impl SpamVerdict {
    /// The stage, reading tenants' settings and counts from `sys`.
    pub fn new(sys: SystemStore) -> Self {
        Self {
            judges: Judges::new(sys.clone()),
            sys,
            budget: super::autolearn::Budget::default(),
        }
    }
}

impl CopyStage for SpamVerdict {
    fn name(&self) -> &'static str {
        "spam-verdict"
    }

    fn run<'a>(&'a self, input: &'a CopyInput<'a>) -> BoxFuture<'a, Result<StageOutcome>> {
        Box::pin(async move {
            let Some(a) = input.spam else {
                return Ok(StageOutcome::default());
            };
            let Some(Judge {
                tenant,
                settings,
                entries,
            }) = self.judges.of(input.mailbox_id).await?
            else {
                return Ok(StageOutcome::default());
            };
            if !settings.enabled {
                return Ok(StageOutcome {
                    note: "spam filtering is off for this organisation".into(),
                    ..StageOutcome::default()
                });
            }
            let ts = self.sys.spam_store(tenant);
            let mut report = match ts.spam_own_model(&settings, &a.tokens).await? {
                Some(own) => a.with_own(&own),
                None => a.report.clone(),
            };
            let (listed, allowed) = list_symbols(a, &entries);
            report.symbols.extend(listed);
            if !allowed
                && let Some(from) = &a.from
                && ts
                    .book_has_address(Book::Personal(input.mailbox_id), from)
                    .await?
            {
                let score = if a.authenticated {
                    2.0 * CONTACT_SCORE
                } else {
                    CONTACT_SCORE
                };
                report.symbols.push(Symbol {
                    name: "FROM_CONTACT".into(),
                    score,
                    detail: format!("{from} is in the recipient's contacts"),
                });
            }
            report.rescore();
            let t = settings.thresholds();
            let mut verdict = t.verdict(report.score);
            // A block list files in Junk; it never refuses (a message refused for one
            // mailbox's list would be refused for every recipient).
            let blocked: f64 = report
                .symbols
                .iter()
                .filter(|s| s.name == "BLOCKLIST")
                .map(|s| s.score)
                .sum();
            if verdict == Verdict::Reject && t.verdict(report.score - blocked) != Verdict::Reject {
                verdict = Verdict::Junk;
            }
            let dmarc_refused = settings.dmarc_reject == "reject"
                && report.symbols.iter().any(|s| s.name == "DMARC_REJECT");
            if dmarc_refused {
                verdict = Verdict::Reject;
            }
            if settings.autolearn
                && let Some(spam) = super::autolearn::label(&report, a.authenticated, verdict)
            {
                let sender_domain = a
                    .from
                    .as_deref()
                    .or(a.envelope_from.as_deref())
                    .and_then(|x| x.rsplit_once('@'))
                    .map_or("", |(_, d)| d);
                if self.budget.take(tenant, sender_domain) {
                    // Off the delivery path: the lesson needs no answer before the server's.
                    let digest = crate::store::blob_hash(input.message.body);
                    let (tokens, ts) = (a.tokens.clone(), self.sys.spam_store(tenant));
                    tokio::spawn(async move {
                        if let Err(e) = ts.spam_autolearn(&digest, &tokens, spam).await {
                            tracing::warn!(error = %e, "spam autolearn failed");
                        }
                    });
                }
            }
            let detail = json!({
                "score": report.score,
                "verdict": verdict,
                "required": t.junk,
                "probability": report.probability,
                "symbols": report.symbols,
            });
            let mut out = StageOutcome {
                headers: vec![
                    ("X-Spam-Score".into(), format!("{:.2}", report.score)),
                    ("X-Spam-Status".into(), report.status_header(verdict, &t)),
                ],
                note: format!("{} (score {:.2})", verdict.as_str(), report.score),
                detail: Some(detail),
                ..StageOutcome::default()
            };
            match verdict {
                Verdict::Ham => {}
                Verdict::Junk => {
                    out.folder = Some(FolderTarget::SpecialUse("junk".into()));
                }
                Verdict::Quarantine => {
                    // Held (committed) before the server answers; the copy is not stored.
                    let id = ts
                        .quarantine(Quarantined {
                            mailbox_id: input.mailbox_id,
                            sender: input.message.envelope.map_or("", |e| e.mail_from.as_str()),
                            from: a.from.as_deref().unwrap_or(""),
                            subject: input.message.summary.subject.as_deref().unwrap_or(""),
                            score: report.score,
                            report: out.detail.clone().unwrap_or_default(),
                            data: input.message.body,
                        })
                        .await?;
                    out.action = Action::Discard(format!("quarantined as {id}"));
                }
                Verdict::Reject => {
                    out.action = Action::Reject(if dmarc_refused {
                        "message refused: it fails DMARC and its domain asks to reject such mail"
                            .into()
                    } else {
                        format!("message refused as spam (score {:.1})", report.score)
                    });
                }
            }
            Ok(out)
        })
    }
}
