//! The spam filter in the ingest pipeline: scored once per message ([`SpamCheck`], a message
//! stage, with the base model), then judged per recipient by the recipient's tenant
//! ([`SpamVerdict`], a copy stage): its own classifier counts, its thresholds, its DMARC
//! choice. The verdict files the copy into Junk, or refuses the message at SMTP time; each
//! copy keeps the report (`X-Spam-Score`, `X-Spam-Status` and the symbols in its notes).
//!
//! Mail a user of this deployment sent (submission, delivered locally) and imports are not
//! scored.

use super::{Analysis, Context, Verdict};
use crate::error::Result;
use crate::mail::ingest::{
    Action, CopyInput, CopyStage, Message, MessageOutcome, MessageStage, StageOutcome,
};
use crate::store::entities::kinds::Source;
use crate::store::{FolderTarget, SpamSettings, SystemStore};
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
pub struct SpamCheck;

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
            let raw = raw.to_vec();
            // Parsing and scoring is CPU work: off the async workers.
            let analysis = tokio::task::spawn_blocking(move || {
                Analysis::of(
                    &raw,
                    &Context {
                        auth: auth.as_ref(),
                        envelope_from: from.as_deref(),
                        own: None,
                    },
                )
            })
            .await
            .map_err(|e| crate::Error::Internal(format!("spam check: {e}")))?;
            Ok(MessageOutcome {
                spam_score: Some(analysis.report.score),
                note: format!("score {:.2} with the base model", analysis.report.score),
                spam: Some(Arc::new(analysis)),
                ..MessageOutcome::default()
            })
        })
    }
}

/// The copy stage: each recipient's tenant judges the message.
pub struct SpamVerdict {
    sys: SystemStore,
    /// Per mailbox: its tenant and the tenant's settings, with when they were read.
    cache: Mutex<HashMap<Uuid, (Instant, Uuid, SpamSettings)>>,
}

impl SpamVerdict {
    /// The stage, reading tenants' settings and counts from `sys`.
    pub fn new(sys: SystemStore) -> Self {
        Self {
            sys,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn settings(&self, mailbox: Uuid) -> Result<Option<(Uuid, SpamSettings)>> {
        if let Ok(c) = self.cache.lock()
            && let Some((at, t, s)) = c.get(&mailbox)
            && at.elapsed() < SETTINGS_TTL
        {
            return Ok(Some((*t, s.clone())));
        }
        let found = self.sys.spam_settings_of_mailbox(mailbox).await?;
        if let (Some((t, s)), Ok(mut c)) = (&found, self.cache.lock()) {
            if c.len() > 100_000 {
                c.clear();
            }
            c.insert(mailbox, (Instant::now(), *t, s.clone()));
        }
        Ok(found)
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
            let Some((tenant, settings)) = self.settings(input.mailbox_id).await? else {
                return Ok(StageOutcome::default());
            };
            if !settings.enabled {
                return Ok(StageOutcome {
                    note: "spam filtering is off for this organisation".into(),
                    ..StageOutcome::default()
                });
            }
            let report = if settings.learned_spam + settings.learned_ham > 0 {
                match self
                    .sys
                    .spam_store(tenant)
                    .spam_own_model(&a.tokens)
                    .await?
                {
                    Some(own) => a.with_own(&own),
                    None => a.report.clone(),
                }
            } else {
                a.report.clone()
            };
            let t = settings.thresholds();
            let mut verdict = t.verdict(report.score);
            let dmarc_refused = settings.dmarc_reject == "reject"
                && report.symbols.iter().any(|s| s.name == "DMARC_REJECT");
            if dmarc_refused {
                verdict = Verdict::Reject;
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
                Verdict::Junk | Verdict::Quarantine => {
                    out.folder = Some(FolderTarget::SpecialUse("junk".into()));
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
