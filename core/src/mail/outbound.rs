//! The outbound path, from a message a user sends to the queue: the checks (the sender is one
//! of the mailbox's identities, on a verified domain of the tenant), the header fields a
//! submission server adds (RFC 6409 §8: `Message-ID`, `Date`), the sender's copy in Sent, the
//! DKIM signature with the domain's active keys, and the queue rows with their delivery jobs.
//! Delivery itself (local recipients through the inbound pipeline, remote ones by MX) is the
//! worker's `delivery` module; the delivery status notifications it sends are built here.

use super::flags;
use super::search::index_text;
use super::summary::{Summary, summarize_with_text};
use crate::bus::Bus;
use crate::config::OutboundConfig;
use crate::domains::DomainService;
use crate::domains::dkim::Algorithm;
use crate::error::Error;
use crate::ids::new_id;
use crate::ratelimit::RateLimiter;
use crate::store::entities::kinds::Source;
use crate::store::{
    FolderTarget, GroupCommitter, NewCopy, NewMessage, NewOutbound, TenantStore, domain_of,
};
use chrono::Utc;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use std::borrow::Cow;
use uuid::Uuid;

/// Header fields the DKIM signature covers, when the message has them.
pub const SIGNED_HEADERS: [&str; 12] = [
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// Why a message was not accepted for sending; each maps to one SMTP reply and one problem
/// code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The sender is not one of the mailbox's identities (`553 5.7.1`).
    NotYours(String),
    /// The sender's domain is not a verified domain of the tenant (`550 5.7.1`).
    Unverified(String),
    /// The message itself is unfit (no From, several From): `554 5.6.0`.
    Invalid(String),
    /// A failure on our side: nothing was queued (`451 4.3.0`).
    TryLater(String),
    /// Over a sending rate (`451 4.7.0`, REST 429): try again in this many seconds.
    RateLimited(String, u64),
    /// Over the tenant's daily plan limit (`550 5.4.5`, REST 429).
    DailyLimit(String),
    /// The sender's mailbox is full: its copy in Sent does not fit (`552 5.2.2`, REST 409).
    OverQuota(String),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        tracing::warn!(error = %e, "a message could not be queued");
        Refused::TryLater("temporary failure queueing the message; try again".into())
    }
}

/// How long opened signing keys are used before they are read again, in seconds.
pub const KEY_CACHE_SECS: u64 = 60;

/// A domain's opened signing keys: selector, algorithm, PKCS#8.
type SigningKeys = std::sync::Arc<Vec<(String, Algorithm, Vec<u8>)>>;

/// A message queued for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// Its queue id.
    pub id: Uuid,
    /// Its `Message-ID`, without angle brackets.
    pub message_id: String,
    /// The sender's copy in Sent, when it was stored.
    pub sent_message_id: Option<Uuid>,
    /// Whether an earlier request with the same `Idempotency-Key` queued it.
    pub replayed: bool,
}

impl Submitted {
    /// The message an earlier request with the same `Idempotency-Key` queued.
    fn replayed(earlier: crate::store::entities::outbound::Model) -> Self {
        Self {
            id: earlier.id,
            message_id: earlier.message_id,
            sent_message_id: earlier.sent_message_id,
            replayed: true,
        }
    }
}

/// A message a user wrote, as stored in one of its own folders (Sent, Drafts): no trace
/// fields, no ingest stages; `summary` and `text` are `body`'s.
pub fn own_message(body: Vec<u8>, summary: Summary, text: &str) -> NewMessage<'static> {
    NewMessage {
        body: Cow::Owned(body),
        trace_prefix: String::new(),
        search_text: index_text(&summary, text),
        summary: Cow::Owned(summary),
        auth_results: None,
        internal_date: Utc::now(),
        source: Source::Submission,
        dedup_window: None,
    }
}

/// Its copy in the mailbox's folder with this special use, with these flags.
pub fn own_copy(mailbox: Uuid, special_use: &str, flags: i32) -> NewCopy {
    NewCopy {
        mailbox_id: mailbox,
        folder: FolderTarget::SpecialUse(special_use.into()),
        flags,
        keywords: Vec::new(),
        pipeline: serde_json::json!([]),
        extra_headers: String::new(),
    }
}

/// Sends mail on behalf of mailboxes: checks, signs and queues it.
#[derive(Clone)]
pub struct Outbound {
    cfg: OutboundConfig,
    hostname: String,
    domains: DomainService,
    bus: Bus,
    limiter: RateLimiter,
    committer: GroupCommitter,
    /// Opened signing keys per domain, with when they were read.
    keys: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<Uuid, (std::time::Instant, SigningKeys)>>,
    >,
    /// Deliveries under way per recipient domain, in this process.
    per_domain: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Semaphore>>>,
    >,
}

impl Outbound {
    /// The outbound path, under the server name `hostname`, storing through the pipeline's
    /// group committer and publishing on its bus; sending rates are counted by `limiter` (in
    /// Redis when configured, so every replica counts together).
    pub fn new(
        cfg: OutboundConfig,
        hostname: &str,
        domains: DomainService,
        pipeline: &super::ingest::Pipeline,
        limiter: RateLimiter,
    ) -> Self {
        Self {
            cfg,
            hostname: hostname.to_string(),
            domains,
            bus: pipeline.bus().clone(),
            committer: pipeline.committer().clone(),
            limiter,
            per_domain: Default::default(),
            keys: Default::default(),
        }
    }

    /// The domain's active signing keys, opened (unsealed) at most once per
    /// [`KEY_CACHE_SECS`]: a key rotation is signed with within that time.
    async fn signing_keys(&self, ts: &TenantStore, domain: Uuid) -> crate::Result<SigningKeys> {
        let now = std::time::Instant::now();
        if let Ok(cache) = self.keys.lock()
            && let Some((at, keys)) = cache.get(&domain)
            && now.duration_since(*at).as_secs() < KEY_CACHE_SECS
        {
            return Ok(keys.clone());
        }
        let keys: SigningKeys =
            std::sync::Arc::new(ts.active_signing_keys(&self.domains, domain).await?);
        if let Ok(mut cache) = self.keys.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(domain, (now, keys.clone()));
        }
        Ok(keys)
    }

    /// Waits for a free delivery slot to `domain` (`max_connections_per_domain` per process);
    /// hold it while delivering there.
    pub async fn domain_slot(&self, domain: &str) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let sem = {
            let Ok(mut map) = self.per_domain.lock() else {
                return None;
            };
            // Domains nobody is delivering to are forgotten, so the map stays small.
            if map.len() > 10_000 {
                map.retain(|_, s| s.available_permits() < self.cfg.max_connections_per_domain);
            }
            map.entry(domain.to_ascii_lowercase())
                .or_insert_with(|| {
                    std::sync::Arc::new(tokio::sync::Semaphore::new(
                        self.cfg.max_connections_per_domain.max(1),
                    ))
                })
                .clone()
        };
        sem.acquire_owned().await.ok()
    }

    /// The sending rates and the tenant's daily plan limit, counting this message.
    async fn within_limits(&self, ts: &TenantStore, mailbox: Uuid) -> Result<(), Refused> {
        let tenant = ts.tenant().await?;
        if let Some(max) = tenant.max_messages_per_day {
            let sent = ts
                .sent_since(Utc::now() - chrono::Duration::days(1))
                .await?;
            if sent as i64 >= max {
                return Err(Refused::DailyLimit(format!(
                    "daily sending limit of {max} messages reached; try again tomorrow"
                )));
            }
        }
        let rates = [
            (
                format!("send:mailbox:{mailbox}"),
                self.cfg.max_messages_per_mailbox_per_hour,
                3600,
                "this mailbox",
            ),
            (
                format!("send:tenant:{}", tenant.id),
                self.cfg.max_messages_per_tenant_per_minute,
                60,
                "this organisation",
            ),
        ];
        for (key, limit, window, who) in rates {
            if limit == 0 {
                continue;
            }
            let d = self.limiter.hit(&key, limit, window).await?;
            if !d.allowed {
                return Err(Refused::RateLimited(
                    format!(
                        "{who} sent more than {limit} messages in {} minutes; try again in {} seconds",
                        window / 60,
                        d.retry_after_secs.max(1)
                    ),
                    d.retry_after_secs.max(1),
                ));
            }
        }
        Ok(())
    }

    /// The settings.
    pub fn config(&self) -> &OutboundConfig {
        &self.cfg
    }

    /// The name this deployment's servers go by (HELO, `Reporting-MTA`).
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// Checks, completes, signs and queues a message `mailbox` sends from `sender` to
    /// `recipients`, and files the sender's copy in Sent. `Ok` only once the message is
    /// committed to the queue. With an `idempotency_key` used before by this mailbox, nothing
    /// is sent again: the earlier message is answered.
    pub async fn submit(
        &self,
        ts: &TenantStore,
        mailbox: Uuid,
        sender: &str,
        recipients: &[String],
        raw: &[u8],
        idempotency_key: Option<&str>,
    ) -> Result<Submitted, Refused> {
        if let Some(key) = idempotency_key
            && let Some(earlier) = ts.outbound_by_key(mailbox, key).await?
        {
            return Ok(Submitted::replayed(earlier));
        }
        let (summary, text) = summarize_with_text(raw);
        let from = match summary.from.as_slice() {
            [one] => one.address.clone().unwrap_or_default(),
            [] => return Err(Refused::Invalid("the message has no From address".into())),
            _ => {
                return Err(Refused::Invalid(
                    "the message has several From addresses; send with one".into(),
                ));
            }
        };
        let mut addresses = vec![sender];
        if !from.eq_ignore_ascii_case(sender) {
            addresses.push(from.as_str());
        }
        for address in addresses {
            if !ts.may_send_from(mailbox, address).await? {
                return Err(Refused::NotYours(format!(
                    "{address} is not an address this mailbox may send as (add it as an identity)"
                )));
            }
        }
        let domain_name = domain_of(&from);
        let Some(domain) = ts.verified_domain_named(&domain_name).await? else {
            return Err(Refused::Unverified(format!(
                "{domain_name} is not a verified domain; verify it before sending from it"
            )));
        };
        // Only a message that passed the checks counts against the limits.
        self.within_limits(ts, mailbox).await?;
        let completed = complete(
            raw,
            &domain_name,
            summary.message_id.is_some(),
            summary.date.is_some(),
        );
        // Parsed again only when fields were added (the summary's offsets moved).
        let (message, summary, text) = match completed {
            Some(m) => {
                let (s, t) = summarize_with_text(&m);
                (m, s, t)
            }
            None => (raw.to_vec(), summary, text),
        };
        let keys = self.signing_keys(ts, domain.id).await?;
        let signature = sign(&message, &domain_name, keys.as_slice());
        if signature.is_empty() {
            tracing::warn!(domain = %domain_name, "no active DKIM key: sending unsigned");
        }
        let message_id = summary.message_id.clone().unwrap_or_default();
        let subject = summary.subject.clone().unwrap_or_default();
        let people = summary_people(&summary, recipients);
        let mut signed = signature.into_bytes();
        signed.extend_from_slice(&message);
        // The sender's copy in Sent (what the client gave, completed, unsigned) and the queue
        // rows commit together.
        let copy = own_copy(mailbox, "sent", flags::SEEN);
        let sent = own_message(message, summary, &text);
        let queued = ts
            .queue_outbound(
                &self.committer,
                NewOutbound {
                    mailbox_id: mailbox,
                    sender: sender.to_string(),
                    recipients: recipients.to_vec(),
                    data: signed,
                    message_id: message_id.clone(),
                    subject,
                    expires_at: Utc::now()
                        + chrono::Duration::seconds(
                            self.cfg.expire_secs.min(i64::MAX as u64) as i64
                        ),
                    idempotency_key: idempotency_key.map(str::to_string),
                },
                sent,
                copy,
            )
            .await;
        let (id, copy, events) = match queued {
            Ok(q) => q,
            Err(e) if e.code() == "quota_exceeded" => {
                return Err(Refused::OverQuota(
                    "the mailbox is full: its copy in Sent does not fit; delete mail and send again"
                        .into(),
                ));
            }
            // The same key, sent twice at once: the other request queued it.
            Err(e) => match idempotency_key {
                Some(key) => match ts.outbound_by_key(mailbox, key).await? {
                    Some(earlier) => return Ok(Submitted::replayed(earlier)),
                    None => return Err(e.into()),
                },
                None => return Err(e.into()),
            },
        };
        self.bus.publish(&events).await;
        // The people written to join the sender's contacts (best effort: mail goes anyway).
        if let Err(e) = ts.remember_recipients(mailbox, &people).await {
            tracing::warn!(error = %e, outbound = %id, "recipients not added to contacts");
        }
        Ok(Submitted {
            id,
            message_id,
            sent_message_id: Some(copy.message_id),
            replayed: false,
        })
    }
}

impl Outbound {
    /// Queues an automatic reply `mailbox` sends to `to` (a vacation reply): with the null
    /// reverse path (RFC 3834 §3.3: nothing answers it, and its failures are not reported),
    /// signed when the domain has a key, held to the tenant's sending limits, and with no copy
    /// in Sent.
    pub async fn auto_reply(
        &self,
        ts: &TenantStore,
        mailbox: Uuid,
        from: &str,
        to: &str,
        raw: &[u8],
    ) -> Result<Uuid, Refused> {
        let domain_name = domain_of(from);
        let Some(domain) = ts.verified_domain_named(&domain_name).await? else {
            return Err(Refused::Unverified(format!(
                "{domain_name} is not a verified domain"
            )));
        };
        self.within_limits(ts, mailbox).await?;
        let summary = super::summary::summarize(raw);
        let keys = self.signing_keys(ts, domain.id).await?;
        let mut signed = sign(raw, &domain_name, keys.as_slice()).into_bytes();
        signed.extend_from_slice(raw);
        Ok(ts
            .queue_outbound_only(NewOutbound {
                mailbox_id: mailbox,
                sender: String::new(),
                recipients: vec![to.to_string()],
                data: signed,
                message_id: summary.message_id.unwrap_or_default(),
                subject: summary.subject.unwrap_or_default(),
                expires_at: Utc::now()
                    + chrono::Duration::seconds(self.cfg.expire_secs.min(i64::MAX as u64) as i64),
                idempotency_key: None,
            })
            .await?)
    }
}

/// Each recipient with the display name the message's To or Cc gives it, if any.
fn summary_people(
    s: &super::summary::Summary,
    recipients: &[String],
) -> Vec<(String, Option<String>)> {
    recipients
        .iter()
        .map(|r| {
            let name =
                s.to.iter()
                    .chain(&s.cc)
                    .find(|a| {
                        a.address
                            .as_deref()
                            .is_some_and(|x| x.eq_ignore_ascii_case(r))
                    })
                    .and_then(|a| a.name.clone());
            (r.clone(), name)
        })
        .collect()
}

/// The message with the header fields a submission server adds when they are missing
/// (RFC 6409 §8.2, §8.3): `Message-ID` on the sender's domain, `Date`; `None` when none is.
pub fn complete(raw: &[u8], domain: &str, has_id: bool, has_date: bool) -> Option<Vec<u8>> {
    if has_id && has_date {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len() + 120);
    if !has_date {
        out.extend_from_slice(format!("Date: {}\r\n", Utc::now().to_rfc2822()).as_bytes());
    }
    if !has_id {
        out.extend_from_slice(
            format!("Message-ID: <{}@{domain}>\r\n", new_id().simple()).as_bytes(),
        );
    }
    out.extend_from_slice(raw);
    Some(out)
}

/// `DKIM-Signature` header fields for `message` (one per key, RFC 6376 with relaxed
/// canonicalization), to put before it; empty without keys. A key that cannot be read is
/// logged and skipped.
pub fn sign(message: &[u8], domain: &str, keys: &[(String, Algorithm, Vec<u8>)]) -> String {
    let mut out = String::new();
    fn with<K: SigningKey<Hasher = Sha256>>(
        key: K,
        domain: &str,
        selector: &str,
        message: &[u8],
    ) -> mail_auth::Result<mail_auth::dkim::Signature> {
        DkimSigner::from_key(key)
            .domain(domain)
            .selector(selector)
            .headers(SIGNED_HEADERS)
            .sign(message)
    }
    for (selector, algorithm, der) in keys {
        let header = match algorithm {
            Algorithm::Rsa => RsaKey::<Sha256>::from_key_der(
                rustls_pki_types::PrivateKeyDer::Pkcs8(der.clone().into()),
            )
            .and_then(|k| with(k, domain, selector, message)),
            Algorithm::Ed25519 => Ed25519Key::from_pkcs8_maybe_unchecked_der(der)
                .and_then(|k| with(k, domain, selector, message)),
        };
        match header {
            Ok(sig) => out.push_str(&sig.to_header()),
            Err(e) => tracing::warn!(error = %e, domain, selector, "DKIM signing failed"),
        }
    }
    out
}

/// One recipient's failure, for a delivery status notification.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The address.
    pub recipient: String,
    /// `5.1.1` and the like (RFC 3463).
    pub status: String,
    /// The remote server's reply, or what went wrong.
    pub diagnostic: String,
    /// The server that answered, if one did.
    pub remote: Option<String>,
}

/// A delivery status notification (RFC 3464) telling `to` that the message `original`
/// (whose header is returned, not its body) did not reach `failures`: a `multipart/report`
/// from the mailer daemon, sent with the null reverse path.
pub fn bounce(hostname: &str, to: &str, original: &Original, failures: &[Failure]) -> Vec<u8> {
    report(hostname, to, original, failures, false)
}

/// A delivery status notification (RFC 3464) that the message `original` has not reached
/// `late` yet and is still being tried (`Action: delayed`).
pub fn delay_notice(hostname: &str, to: &str, original: &Original, late: &[Failure]) -> Vec<u8> {
    report(hostname, to, original, late, true)
}

/// The message a report is about.
pub struct Original<'a> {
    /// Its bytes as sent.
    pub bytes: &'a [u8],
    /// Its subject (stored with it, so it need not be parsed again).
    pub subject: &'a str,
}

fn report(
    hostname: &str,
    to: &str,
    original: &Original,
    failures: &[Failure],
    delayed: bool,
) -> Vec<u8> {
    let boundary = format!("=_bounce_{}", new_id().simple());
    // The original's own header, without our signatures.
    let (returned, _) =
        mailroom_proto::imap::envelope::header_fields(original.bytes, &["DKIM-Signature"], false);
    let returned = String::from_utf8_lossy(&returned);
    let subject = original.subject;
    let mut text = String::from("This is the mail system at ");
    text.push_str(hostname);
    text.push_str(if delayed {
        ".\r\n\r\nYour message has not reached the following recipients yet. It is still being\r\n\
         tried; you will hear again only if it fails for good.\r\n\r\n"
    } else {
        ".\r\n\r\nYour message could not be delivered to the following recipients:\r\n\r\n"
    });
    for f in failures {
        text.push_str(&format!(
            "  <{}>: {}\r\n",
            f.recipient,
            one_line(&f.diagnostic)
        ));
    }
    let mut status = format!(
        "Reporting-MTA: dns; {hostname}\r\nArrival-Date: {}\r\n",
        Utc::now().to_rfc2822()
    );
    for f in failures {
        status.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: {}\r\nStatus: {}\r\n",
            f.recipient,
            if delayed { "delayed" } else { "failed" },
            f.status
        ));
        if let Some(r) = &f.remote {
            status.push_str(&format!("Remote-MTA: dns; {r}\r\n"));
        }
        status.push_str(&format!(
            "Diagnostic-Code: smtp; {}\r\n",
            one_line(&f.diagnostic)
        ));
    }
    let subject = one_line(subject);
    let title = if delayed {
        "Delayed Mail (still being retried)"
    } else {
        "Undelivered Mail Returned to Sender"
    };
    let mut out = format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
         To: {to}\r\n\
         Subject: {title}: {subject}\r\n\
         Date: {}\r\n\
         Message-ID: <{}@{hostname}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\
         \r\n\
         This is a delivery status notification (RFC 3464).\r\n\
         \r\n--{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n",
        Utc::now().to_rfc2822(),
        new_id().simple(),
    );
    out.push_str(&text);
    out.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n{status}"
    ));
    out.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned}"
    ));
    out.push_str(&format!("\r\n--{boundary}--\r\n"));
    out.into_bytes()
}

/// Text on one line (no CR or LF), for header and report fields.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_are_added_and_present_ones_kept() {
        let raw = b"From: a@x.test\r\nSubject: hi\r\n\r\nbody\r\n";
        let done = complete(raw, "x.test", false, false).unwrap();
        let s = super::super::summary::summarize(&done);
        assert!(s.message_id.unwrap().ends_with("@x.test"));
        assert!(s.date.is_some());
        assert!(done.ends_with(raw));
        assert_eq!(complete(raw, "x.test", true, true), None);
    }

    #[tokio::test]
    async fn keys_of_both_algorithms_sign() {
        use crate::domains::dkim;
        let message = b"From: a@x.test\r\nTo: b@y.test\r\nSubject: hi\r\n\r\nbody\r\n";
        for alg in [Algorithm::Rsa, Algorithm::Ed25519] {
            let k = dkim::generate(alg).await.unwrap();
            let header = sign(message, "x.test", &[("s1".into(), alg, k.private_pkcs8)]);
            assert!(
                header.starts_with("DKIM-Signature: "),
                "{alg:?}: {header:?}"
            );
            let want = match alg {
                Algorithm::Rsa => "a=rsa-sha256",
                Algorithm::Ed25519 => "a=ed25519-sha256",
            };
            assert!(header.contains(want), "{header}");
            assert!(
                header.contains("d=x.test") && header.contains("s=s1"),
                "{header}"
            );
        }
        // A key that cannot be read signs nothing (and is logged).
        assert_eq!(
            sign(
                message,
                "x.test",
                &[("s1".into(), Algorithm::Rsa, vec![1, 2, 3])]
            ),
            ""
        );
    }

    #[test]
    fn a_bounce_is_a_delivery_status_report() {
        let original = b"DKIM-Signature: v=1; a=rsa-sha256;\r\n\tb=xyz\r\nFrom: a@x.test\r\nSubject: Hello\r\n\r\nsecret body\r\n";
        let dsn = bounce(
            "mx.test",
            "a@x.test",
            &Original {
                bytes: original,
                subject: "Hello",
            },
            &[Failure {
                recipient: "b@y.test".into(),
                status: "5.1.1".into(),
                diagnostic: "550 5.1.1 no such user\r\nInjected: yes".into(),
                remote: Some("mx.y.test".into()),
            }],
        );
        let text = String::from_utf8(dsn).unwrap();
        assert!(text.contains("report-type=delivery-status"));
        assert!(
            text.contains("Final-Recipient: rfc822; b@y.test\r\nAction: failed\r\nStatus: 5.1.1")
        );
        assert!(text.contains("Remote-MTA: dns; mx.y.test"));
        assert!(text.contains("Subject: Undelivered Mail Returned to Sender: Hello"));
        assert!(text.contains("From: a@x.test"));
        assert!(!text.contains("secret body"), "the body is not returned");
        assert!(!text.contains("b=xyz"), "our signature is not returned");
        assert!(!text.contains("\r\nInjected: yes"), "no header injection");
        let s = super::super::summary::summarize(text.as_bytes());
        assert!(!s.malformed);
    }
}
