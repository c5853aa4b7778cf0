//! Sending from frontends: `POST /v1/mailboxes/{id}/send` composes a message (identity,
//! signature, reply or forward threading, attachments) and hands it to the same outbound path
//! as SMTP submission (identity and verified-domain checks, DKIM, the durable queue, the copy
//! in Sent). `GET /v1/mailboxes/{id}/outbox` and `GET /v1/mailboxes/{id}/messages/{mid}/deliveries`
//! tell how each recipient's delivery stands.

use crate::AppState;
use crate::body::{Query, parse_json};
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use chrono::{DateTime, Utc};
use mailroom_core::auth::Scope;
use mailroom_core::ids::new_id;
use mailroom_core::mail::compose::{self, Attached, Compose, ReplyTo};
use mailroom_core::mail::outbound::Refused;
use mailroom_core::mail::render::{RenderOptions, render};
use mailroom_core::mail::summary::summarize;
use mailroom_core::store::entities::kinds::DeliveryStatus;
use mailroom_core::store::entities::{outbound, outbound_recipients};
use mailroom_core::store::{PageRequest, TenantStore, domain_of};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Longest `Idempotency-Key`.
const MAX_KEY: usize = 200;

/// A file to attach.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentInput {
    /// The file name.
    pub filename: String,
    /// `type/subtype` (default `application/octet-stream`).
    pub content_type: Option<String>,
    /// The content, base64.
    pub content_base64: String,
}

/// A message to send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The identity to send as (default: the mailbox's own address).
    pub identity_id: Option<Uuid>,
    /// Recipients shown in To.
    #[serde(default)]
    pub to: Vec<String>,
    /// Recipients shown in Cc.
    #[serde(default)]
    pub cc: Vec<String>,
    /// Recipients not shown (Bcc), besides the identity's own Bcc addresses.
    #[serde(default)]
    pub bcc: Vec<String>,
    /// Subject (a reply or forward without one gets `Re:`/`Fwd:` and the original's).
    pub subject: Option<String>,
    /// Text body.
    pub text: Option<String>,
    /// HTML body (sanitised before it is sent).
    pub html: Option<String>,
    /// The signature to add (default: the identity's).
    pub signature_id: Option<Uuid>,
    /// Add no signature.
    #[serde(default)]
    pub no_signature: bool,
    /// Files to attach.
    #[serde(default)]
    pub attachments: Vec<AttachmentInput>,
    /// A message of this mailbox this answers: threading fields and the quoted text.
    pub in_reply_to: Option<Uuid>,
    /// A message of this mailbox to forward, attached whole.
    pub forward_of: Option<Uuid>,
}

/// One recipient's delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    /// The address.
    pub recipient: String,
    /// `queued`, `deferred`, `delivered` or `bounced`.
    #[schema(value_type = String)]
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: i32,
    /// The last SMTP reply code, when a server answered.
    pub last_code: Option<i32>,
    /// The last reply, or what went wrong.
    pub last_reply: String,
    /// When a queued or deferred recipient is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When this changed last.
    pub updated_at: DateTime<Utc>,
}

impl From<outbound_recipients::Model> for DeliveryResponse {
    fn from(r: outbound_recipients::Model) -> Self {
        Self {
            next_attempt_at: (!r.status.is_final()).then_some(r.next_attempt_at),
            recipient: r.recipient,
            status: r.status,
            attempts: r.attempts,
            last_code: r.last_code,
            last_reply: r.last_reply,
            updated_at: r.updated_at,
        }
    }
}

/// A message sent, and its recipients.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboundResponse {
    /// Queue id.
    pub id: Uuid,
    /// Its `Message-ID`.
    pub message_id: String,
    /// The sender's copy in Sent.
    pub sent_message_id: Option<Uuid>,
    /// The envelope sender.
    pub sender: String,
    /// Subject.
    pub subject: String,
    /// Octets as sent.
    pub size: i64,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When deferred recipients give up.
    pub expires_at: DateTime<Utc>,
    /// Each recipient's delivery.
    pub recipients: Vec<DeliveryResponse>,
}

impl OutboundResponse {
    fn new(m: outbound::Model, recipients: Vec<outbound_recipients::Model>) -> Self {
        Self {
            id: m.id,
            message_id: m.message_id,
            sent_message_id: m.sent_message_id,
            sender: m.sender,
            subject: m.subject,
            size: m.size,
            created_at: m.created_at,
            expires_at: m.expires_at,
            recipients: recipients.into_iter().map(DeliveryResponse::from).collect(),
        }
    }
}

/// A page of sent messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxList {
    /// Newest first.
    pub items: Vec<OutboundResponse>,
    /// Pass as `?cursor=` for the next page.
    pub next_cursor: Option<String>,
}

/// Paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn refused(r: Refused) -> ApiError {
    match r {
        Refused::NotYours(why) => ApiError::new(StatusCode::BAD_REQUEST, "not_allowed_sender", why),
        Refused::Unverified(why) => {
            ApiError::new(StatusCode::BAD_REQUEST, "domain_not_verified", why)
        }
        Refused::Invalid(why) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_message", why),
        Refused::TryLater(why) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "try_later", why),
        Refused::RateLimited(why, retry) => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", why).retry_after(retry)
        }
        Refused::OverQuota(why) => ApiError::new(StatusCode::CONFLICT, "quota_exceeded", why),
        Refused::DailyLimit(why) => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "daily_limit_exceeded", why)
        }
    }
}

fn invalid(field: &str, why: impl Into<String>) -> ApiError {
    mailroom_core::Error::invalid(field, why).into()
}

/// Sends a message from the mailbox: composed from the request, checked, DKIM-signed and
/// committed to the outbound queue before the answer (202); a copy goes to Sent. With an
/// `Idempotency-Key` header seen before for this mailbox, nothing is sent again and the first
/// answer's message is returned (200).
#[utoipa::path(post, path = "/v1/mailboxes/{id}/send", tag = "sending",
    params(("id" = Uuid, Path, description = "Mailbox id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Sends at most once per key and mailbox")),
    request_body = SendRequest, responses(
    (status = 202, description = "Queued", body = OutboundResponse),
    (status = 200, description = "Queued earlier with the same Idempotency-Key", body = OutboundResponse),
    (status = 400, description = "`validation_failed`, `not_allowed_sender`, `domain_not_verified`, `invalid_message`", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`quota_exceeded`: the copy in Sent does not fit the mailbox", body = Problem, content_type = "application/problem+json"),
    (status = 413, body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "`rate_limited` (with Retry-After) or `daily_limit_exceeded`", body = Problem, content_type = "application/problem+json"),
    (status = 503, description = "`try_later`: nothing was queued", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/mailboxes/{id}/send")]
pub async fn send(
    auth: Authed,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let ts = auth.tenant(Scope::MessagesWrite)?;
    let mailbox_id = id.into_inner();
    ts.mailbox(mailbox_id).await?;
    let key = idempotency_key(&req)?;
    let r: SendRequest = read_request(&state, body).await?;
    let p = prepare(&state, &ts, mailbox_id, &r, false).await?;
    queue(
        &state,
        &ts,
        mailbox_id,
        &p.sender,
        &p.recipients,
        &p.raw,
        key.as_deref(),
    )
    .await
}

/// The `Idempotency-Key` header, checked.
pub(crate) fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get("idempotency-key") {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(k) if !k.trim().is_empty() && k.len() <= MAX_KEY => Ok(Some(k.trim().to_string())),
            _ => Err(invalid(
                "Idempotency-Key",
                format!("1 to {MAX_KEY} visible characters"),
            )),
        },
    }
}

/// Reads a message request: attachments travel base64 in the JSON, so the body may be as
/// large as the largest message and then some.
pub(crate) async fn read_request(
    state: &AppState,
    body: web::Payload,
) -> Result<SendRequest, ApiError> {
    let limit = state.config.submission.max_message_bytes / 3 * 4 + 64 * 1024;
    let bytes = crate::routes::read_body(body, limit, "a message").await?;
    parse_json(&bytes)
}

/// Queues a message and answers with its queue entry (202, or 200 for a replay).
pub(crate) async fn queue(
    state: &AppState,
    ts: &TenantStore,
    mailbox_id: Uuid,
    sender: &str,
    recipients: &[String],
    raw: &[u8],
    key: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let sent = state
        .outbound
        .submit(ts, mailbox_id, sender, recipients, raw, key)
        .await
        .map_err(refused)?;
    let row = ts.outbound_of_id(sent.id).await?;
    let rcpts = ts.outbound_recipients(sent.id).await?;
    let status = if sent.replayed {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(HttpResponse::build(status).json(OutboundResponse::new(row, rcpts)))
}

/// A composed message: its bytes, who sends it and to whom.
pub(crate) struct Prepared {
    /// The message (with its Bcc header when kept for a draft).
    pub raw: Vec<u8>,
    /// The identity's address.
    pub sender: String,
    /// To, Cc and Bcc, each once.
    pub recipients: Vec<String>,
}

/// Composes the message a request describes (for sending, or for a draft with `keep_bcc`).
pub(crate) async fn prepare(
    state: &AppState,
    ts: &TenantStore,
    mailbox_id: Uuid,
    r: &SendRequest,
    keep_bcc: bool,
) -> Result<Prepared, ApiError> {
    let mailbox = ts.mailbox(mailbox_id).await?;
    let cfg = &state.config.submission;
    // The identity, its signature, its Bcc.
    let identities = ts.list_identities(mailbox_id).await?;
    let identity = match r.identity_id {
        Some(i) => identities
            .iter()
            .find(|x| x.id == i)
            .ok_or_else(|| invalid("identity_id", "not an identity of this mailbox"))?,
        None => identities
            .iter()
            .find(|x| x.email == mailbox.address)
            .or(identities.first())
            .ok_or_else(|| invalid("identity_id", "the mailbox has no identity"))?,
    };
    let signature = if r.no_signature {
        None
    } else {
        match r.signature_id.or(identity.signature_id) {
            Some(s) => {
                let s = ts
                    .signature(mailbox_id, s)
                    .await
                    .map_err(|_| invalid("signature_id", "not a signature of this mailbox"))?;
                Some((s.text_body, s.html_body))
            }
            None => None,
        }
    };
    let mut bcc = r.bcc.clone();
    bcc.extend(serde_json::from_str::<Vec<String>>(&identity.bcc).unwrap_or_default());
    let recipients: Vec<String> = {
        let mut all: Vec<String> = Vec::new();
        for a in r.to.iter().chain(&r.cc).chain(&bcc) {
            let a = a.trim().to_string();
            if !all.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
                all.push(a);
            }
        }
        all
    };
    if recipients.is_empty() && !keep_bcc {
        return Err(invalid("to", "at least one recipient (to, cc or bcc)"));
    }
    if recipients.len() > cfg.max_recipients {
        return Err(invalid(
            "to",
            format!("at most {} recipients per message", cfg.max_recipients),
        ));
    }
    for a in &recipients {
        if !a.contains('@') || domain_of(a).is_empty() {
            return Err(invalid("to", format!("{a:?} is not an email address")));
        }
    }
    let mut attachments = Vec::with_capacity(r.attachments.len());
    for a in &r.attachments {
        let data = base64::engine::general_purpose::STANDARD
            .decode(a.content_base64.trim())
            .map_err(|_| {
                invalid(
                    "attachments",
                    format!("{}: content_base64 is not base64", a.filename),
                )
            })?;
        attachments.push(Attached {
            filename: a.filename.clone(),
            content_type: a
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
            data,
        });
    }
    let (reply, reply_subject) = match r.in_reply_to {
        Some(m) => {
            let (reply, subject) = reply_of(ts, mailbox_id, m).await?;
            (Some(reply), Some(prefixed("Re: ", &subject)))
        }
        None => (None, None),
    };
    let (forward, forward_subject) = match r.forward_of {
        Some(m) => {
            let row = ts
                .message(mailbox_id, m)
                .await
                .map_err(|_| invalid("forward_of", "not a message of this mailbox"))?;
            let raw = ts.raw_of(&row).await?;
            let subject = summarize(&raw).subject.unwrap_or_default();
            (Some(raw), Some(prefixed("Fwd: ", &subject)))
        }
        None => (None, None),
    };
    let html = r
        .html
        .as_ref()
        .map(|h| mailroom_core::mail::render::sanitize_html(h, &RenderOptions::default()).0);
    let message_id = format!("{}@{}", new_id().simple(), domain_of(&identity.email));
    let c = Compose {
        bcc: if keep_bcc { r.bcc.clone() } else { Vec::new() },
        from_name: identity.name.clone(),
        from: identity.email.clone(),
        reply_to: serde_json::from_str(&identity.reply_to).unwrap_or_default(),
        to: r.to.clone(),
        cc: r.cc.clone(),
        subject: r
            .subject
            .clone()
            .or(reply_subject)
            .or(forward_subject)
            .unwrap_or_default(),
        text: r.text.clone(),
        html,
        signature,
        attachments,
        reply,
        forward,
        message_id,
    };
    let raw = compose::build(&c)?;
    if raw.len() > cfg.max_message_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the message would be {} bytes; the most is {}",
                raw.len(),
                cfg.max_message_bytes
            ),
        ));
    }
    Ok(Prepared {
        raw,
        sender: identity.email.clone(),
        recipients,
    })
}

fn prefixed(prefix: &str, subject: &str) -> String {
    if subject
        .to_ascii_lowercase()
        .starts_with(&prefix.to_ascii_lowercase())
    {
        subject.to_string()
    } else {
        format!("{prefix}{subject}")
    }
}

/// The threading fields and quoted text of a reply to message `m`.
async fn reply_of(ts: &TenantStore, mailbox: Uuid, m: Uuid) -> Result<(ReplyTo, String), ApiError> {
    let row = ts
        .message(mailbox, m)
        .await
        .map_err(|_| invalid("in_reply_to", "not a message of this mailbox"))?;
    let raw = ts.raw_of(&row).await?;
    let s = summarize(&raw);
    let who = s
        .from
        .first()
        .map(|a| match (&a.name, &a.address) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (None, Some(e)) => e.clone(),
            (Some(n), None) => n.clone(),
            (None, None) => String::new(),
        })
        .unwrap_or_default();
    let when = s
        .date
        .map(|d| d.format("%a, %d %b %Y at %H:%M UTC").to_string())
        .unwrap_or_default();
    let references = if s.references.is_empty() {
        s.in_reply_to.clone()
    } else {
        s.references.clone()
    };
    let text = render(&raw, &RenderOptions::default())
        .text
        .map(|t| t.replace("\r\n", "\n"));
    Ok((
        ReplyTo {
            message_id: s.message_id.clone(),
            references,
            attribution: format!("On {when}, {who} wrote:"),
            text,
        },
        s.subject.unwrap_or_default(),
    ))
}

/// Lists what the mailbox sent, newest first, with each recipient's delivery.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/outbox", tag = "sending",
    params(("id" = Uuid, Path, description = "Mailbox id"), OutboxQuery), responses(
    (status = 200, body = OutboxList),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/outbox")]
pub async fn outbox(
    auth: Authed,
    id: web::Path<Uuid>,
    q: Query<OutboxQuery>,
) -> Result<HttpResponse, ApiError> {
    let ts = auth.tenant(Scope::MessagesRead)?;
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let page = ts.list_outbound(id.into_inner(), page).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|m| m.id).collect();
    let mut rcpts = ts.recipients_of(&ids).await?;
    let items = page
        .items
        .into_iter()
        .map(|m| {
            let r = rcpts.remove(&m.id).unwrap_or_default();
            OutboundResponse::new(m, r)
        })
        .collect();
    Ok(HttpResponse::Ok().json(OutboxList {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// How the delivery of a sent message (its copy in Sent) stands, per recipient.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/messages/{message_id}/deliveries", tag = "sending",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("message_id" = Uuid, Path, description = "The sender's copy in Sent")), responses(
    (status = 200, body = OutboundResponse),
    (status = 404, description = "No such message, or not one this mailbox sent", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/messages/{message_id}/deliveries")]
pub async fn deliveries(
    auth: Authed,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (mailbox, message) = path.into_inner();
    let ts = auth.tenant(Scope::MessagesRead)?;
    let m = ts.outbound_of_sent(mailbox, message).await?;
    let r = ts.outbound_recipients(m.id).await?;
    Ok(HttpResponse::Ok().json(OutboundResponse::new(m, r)))
}
