//! Vacation auto-replies (RFC 3834, with the rules of Sieve's vacation, RFC 5230): a copy
//! stage, after the rules, that answers a message once per sender and interval when the
//! mailbox's auto-reply is on — never mail that must not be answered (the null sender,
//! mailing lists, bulk, automatic mail, spam, mail not addressed to the mailbox), so two
//! auto-replying mailboxes never answer each other in a loop. The reply itself is a job
//! ([`crate::jobs::VACATION_REPLY`]): composed and queued off the delivery path, with the null
//! reverse path and `Auto-Submitted: auto-replied`.

use crate::error::Result;
use crate::jobs::{NewJob, VACATION_REPLY};
use crate::mail::ingest::{CopyInput, CopyStage, StageOutcome};
use crate::rules::header_fields;
use crate::store::SystemStore;
use crate::store::entities::kinds::Source;
use chrono::Utc;
use futures_util::future::BoxFuture;
use serde_json::json;

/// A message scoring this much is not answered (the spam filter's default Junk threshold).
pub const SPAM_SCORE_LIMIT: f64 = crate::spam::DEFAULT_JUNK;

/// Local parts of senders that are programs, not people (RFC 5230 §4.6 and common practice).
fn automated(local: &str) -> bool {
    let l = local.to_ascii_lowercase();
    l.starts_with("owner-")
        || l.ends_with("-request")
        || l.starts_with("bounce")
        || matches!(
            l.as_str(),
            "mailer-daemon"
                | "postmaster"
                | "listserv"
                | "majordomo"
                | "noreply"
                | "no-reply"
                | "donotreply"
                | "do-not-reply"
        )
}

/// The message as the auto-reply sees it.
pub struct Incoming<'a> {
    /// The SMTP reverse path.
    pub sender: &'a str,
    /// The raw header block.
    pub header_block: &'a [u8],
    /// The addresses in To and Cc.
    pub to_and_cc: Vec<String>,
    /// The spam score, when judged.
    pub spam_score: Option<f64>,
}

/// Why a message gets no auto-reply from `own` (the mailbox's address); `None`: it gets one.
pub fn no_reply_reason(own: &str, m: &Incoming<'_>) -> Option<&'static str> {
    let sender = m.sender.trim();
    let Some((local, _)) = sender.rsplit_once('@') else {
        return Some("no sender to answer (the null reverse path)");
    };
    if sender.eq_ignore_ascii_case(own) {
        return Some("sent by the mailbox itself");
    }
    if automated(local) {
        return Some("the sender is a program (mailer-daemon, owner-, -request, noreply…)");
    }
    let fields = header_fields(m.header_block);
    let h = |name: &str| -> Vec<&str> {
        fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    if h("Auto-Submitted")
        .iter()
        .any(|v| !v.trim().to_ascii_lowercase().starts_with("no"))
    {
        return Some("automatic mail (Auto-Submitted)");
    }
    if [
        "List-Id",
        "List-Post",
        "List-Unsubscribe",
        "List-Help",
        "List-Subscribe",
        "List-Owner",
    ]
    .iter()
    .any(|n| !h(n).is_empty())
    {
        return Some("mailing-list mail");
    }
    if h("Precedence").iter().any(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "bulk" | "list" | "junk"
        )
    }) {
        return Some("bulk mail (Precedence)");
    }
    if h("X-Auto-Response-Suppress").iter().any(|v| {
        v.split(',')
            .any(|p| matches!(p.trim().to_ascii_lowercase().as_str(), "all" | "oof"))
    }) {
        return Some("the sender asks for no auto-reply (X-Auto-Response-Suppress)");
    }
    if m.spam_score.is_some_and(|s| s >= SPAM_SCORE_LIMIT) {
        return Some("judged spam");
    }
    if !m.to_and_cc.iter().any(|a| a.eq_ignore_ascii_case(own)) {
        return Some("the mailbox is not in To or Cc (a list, an alias or Bcc)");
    }
    None
}

/// The auto-reply stage.
pub struct VacationStage {
    sys: SystemStore,
}

impl VacationStage {
    /// Reading auto-replies from `sys`.
    pub fn new(sys: SystemStore) -> Self {
        Self { sys }
    }
}

impl CopyStage for VacationStage {
    fn name(&self) -> &'static str {
        "vacation"
    }

    fn run<'a>(&'a self, input: &'a CopyInput<'a>) -> BoxFuture<'a, Result<StageOutcome>> {
        Box::pin(async move {
            let msg = input.message;
            let (Source::Smtp, Some(env)) = (msg.source, msg.envelope) else {
                return Ok(StageOutcome::default());
            };
            let Some(v) = self.sys.vacation_of(input.mailbox_id).await? else {
                return Ok(StageOutcome::default());
            };
            let now = Utc::now();
            if !v.vacation.active_at(now) {
                return Ok(StageOutcome::default());
            }
            let s = msg.summary;
            let header_end = usize::try_from(s.header_size)
                .unwrap_or(usize::MAX)
                .min(msg.body.len());
            let incoming = Incoming {
                sender: &env.mail_from,
                header_block: &msg.body[..header_end],
                to_and_cc: s
                    .to
                    .iter()
                    .chain(&s.cc)
                    .filter_map(|a| a.address.clone())
                    .collect(),
                spam_score: input.spam_score,
            };
            let note = |n: String| {
                Ok(StageOutcome {
                    note: n,
                    ..StageOutcome::default()
                })
            };
            if let Some(why) = no_reply_reason(&v.address, &incoming) {
                return note(format!("no auto-reply: {why}"));
            }
            let ts = self.sys.spam_store(v.tenant);
            let sender = env.mail_from.trim().to_string();
            if !ts
                .claim_vacation_reply(input.mailbox_id, &sender, v.vacation.interval_days, now)
                .await?
            {
                return note(format!(
                    "no auto-reply: {sender} was answered within {} days",
                    v.vacation.interval_days
                ));
            }
            self.sys
                .enqueue_job(
                    NewJob::new(
                        VACATION_REPLY,
                        json!({
                            "mailbox_id": input.mailbox_id,
                            "to": sender,
                            "subject": s.subject.clone().unwrap_or_default(),
                            "message_id": s.message_id,
                            "references": s.references,
                        }),
                    )
                    .tenant(v.tenant),
                )
                .await?;
            note(format!("auto-reply to {sender} queued"))
        })
    }
}

/// The auto-reply's bytes: from the mailbox to `to`, answering the message `message_id`
/// (with its `references`), marked `Auto-Submitted: auto-replied`.
#[allow(clippy::too_many_arguments)]
pub fn compose(
    from_name: &str,
    from: &str,
    to: &str,
    subject: &str,
    original_subject: &str,
    body: &str,
    message_id: Option<&str>,
    references: &[String],
) -> Result<Vec<u8>> {
    let domain = from.rsplit_once('@').map_or("localhost", |(_, d)| d);
    let subject = if subject.trim().is_empty() {
        format!("Auto: {}", original_subject.trim())
    } else {
        subject.trim().to_string()
    };
    let raw = crate::mail::compose::build(&crate::mail::compose::Compose {
        from_name: from_name.to_string(),
        from: from.to_string(),
        to: vec![to.to_string()],
        subject,
        text: Some(body.to_string()),
        reply: message_id.map(|id| crate::mail::compose::ReplyTo {
            message_id: Some(id.to_string()),
            references: references.to_vec(),
            attribution: String::new(),
            text: None,
        }),
        message_id: format!("{}@{domain}", uuid::Uuid::now_v7().simple()),
        ..Default::default()
    })?;
    let mut out = b"Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n".to_vec();
    out.extend_from_slice(&raw);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming<'a>(sender: &'a str, headers: &'a str, to: &[&str]) -> Incoming<'a> {
        Incoming {
            sender,
            header_block: headers.as_bytes(),
            to_and_cc: to.iter().map(|s| s.to_string()).collect(),
            spam_score: Some(1.0),
        }
    }

    #[test]
    fn only_people_writing_to_the_mailbox_are_answered() {
        let own = "ana@acme.example";
        let plain = "Subject: hi\r\n\r\n";
        assert_eq!(
            no_reply_reason(
                own,
                &incoming("bea@client.example", plain, &["Ana@Acme.example"])
            ),
            None
        );
        for (sender, headers, to, says) in [
            ("", plain, vec![own], "null"),
            (own, plain, vec![own], "itself"),
            ("MAILER-DAEMON@x.example", plain, vec![own], "program"),
            ("owner-list@x.example", plain, vec![own], "program"),
            ("list-request@x.example", plain, vec![own], "program"),
            ("no-reply@x.example", plain, vec![own], "program"),
            (
                "bea@x.example",
                "Auto-Submitted: auto-replied\r\n\r\n",
                vec![own],
                "Auto-Submitted",
            ),
            (
                "bea@x.example",
                "List-Id: <l.x.example>\r\n\r\n",
                vec![own],
                "list",
            ),
            (
                "bea@x.example",
                "Precedence: bulk\r\n\r\n",
                vec![own],
                "bulk",
            ),
            (
                "bea@x.example",
                "X-Auto-Response-Suppress: DR, OOF\r\n\r\n",
                vec![own],
                "asks",
            ),
            (
                "bea@x.example",
                plain,
                vec!["team@acme.example"],
                "not in To",
            ),
        ] {
            let why = no_reply_reason(own, &incoming(sender, headers, &to));
            assert!(
                why.is_some_and(|w| w.contains(says)),
                "{sender} {headers}: {why:?}"
            );
        }
        assert_eq!(
            no_reply_reason(
                own,
                &incoming("bea@x.example", "Auto-Submitted: no\r\n\r\n", &[own])
            ),
            None
        );
        let mut spam = incoming("bea@x.example", plain, &[own]);
        spam.spam_score = Some(9.0);
        assert_eq!(no_reply_reason(own, &spam), Some("judged spam"));
    }

    #[test]
    fn the_reply_threads_and_says_it_is_automatic() {
        let raw = compose(
            "Ana",
            "ana@acme.example",
            "bea@client.example",
            "",
            "Quote",
            "Back on Monday.",
            Some("q1@client.example"),
            &["q0@client.example".to_string()],
        )
        .unwrap();
        let text = String::from_utf8(raw).unwrap();
        assert!(
            text.starts_with("Auto-Submitted: auto-replied\r\n"),
            "{text}"
        );
        assert!(text.contains("Subject: Auto: Quote\r\n"), "{text}");
        assert!(text.contains("In-Reply-To: <q1@client.example>"), "{text}");
        assert!(
            text.contains("References: <q0@client.example> <q1@client.example>"),
            "{text}"
        );
        assert!(text.contains("Back on Monday."), "{text}");
    }
}
