//! `/v1/spam`: the tenant's spam filter. Its settings (thresholds, what a DMARC `p=reject`
//! failure gets, on or off), a dry run on a raw message (`check`: the score, verdict and
//! symbols this tenant's filter gives, nothing stored) and teaching it (`train`: the
//! tenant's own classifier counts, over the base model shipped with the code).

use crate::body::{Json, Query};
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use mailroom_core::auth::Scope;
use mailroom_core::spam::{Analysis, Context, Symbol, Verdict};
use mailroom_core::store::entities::{spam_lists, spam_quarantine};
use mailroom_core::store::{
    Learnt, NewSpamListEntry, PageRequest, SpamSettings, SpamSettingsPatch,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The tenant's spam settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpamSettingsResponse {
    /// Incoming mail is scored and filed by score (`false`: everything goes to the inbox
    /// unscored).
    pub enabled: bool,
    /// At or above this score a message goes to Junk (default 5.0).
    pub junk_threshold: f64,
    /// At or above this score a message is refused at SMTP time with `550 5.7.1` (no
    /// bounce is sent by us); null: never (default 15.0).
    pub reject_threshold: Option<f64>,
    /// At or above this score (and below `reject_threshold`) a message is held in the
    /// quarantine for an administrator to release or delete; null: never (default).
    pub quarantine_threshold: Option<f64>,
    /// What mail failing DMARC from a domain that publishes `p=reject` gets: `junk`
    /// (default: delivered to Junk, scored `DMARC_REJECT`) or `reject` (refused at SMTP
    /// time).
    pub dmarc_reject: String,
    /// Messages the tenant's users taught as spam.
    pub learned_spam: i64,
    /// Messages the tenant's users taught as ham.
    pub learned_ham: i64,
    /// Greylisting (default off): the first message from a new client network, envelope
    /// sender and recipient is refused with `451 4.7.1` and taken when the sender's server
    /// retries `greylist_delay_secs` later; senders on an allow list are never greylisted.
    pub greylist: bool,
    /// Seconds a greylisted sender must wait before its retry is taken (default 300).
    pub greylist_delay_secs: u32,
    /// Days a quarantined message is kept before it is deleted (default 30).
    pub quarantine_days: u32,
    /// Autolearn (default on): the classifier also learns, by itself, from messages whose
    /// verdict the other checks make certain (rules alone at 10 or more: spam; an
    /// authenticated sender with nothing against it, delivered to the inbox: ham), at most 10
    /// per sender domain a day and 200 an hour; a user's own lesson always wins.
    pub autolearn: bool,
}

impl From<SpamSettings> for SpamSettingsResponse {
    fn from(s: SpamSettings) -> Self {
        Self {
            enabled: s.enabled,
            junk_threshold: s.junk_threshold,
            reject_threshold: s.reject_threshold,
            quarantine_threshold: s.quarantine_threshold,
            dmarc_reject: s.dmarc_reject,
            learned_spam: s.learned_spam,
            learned_ham: s.learned_ham,
            greylist: s.greylist,
            greylist_delay_secs: s.greylist_delay_secs,
            quarantine_days: s.quarantine_days,
            autolearn: s.autolearn,
        }
    }
}

/// A change to the spam settings; fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpamSettingsPatchRequest {
    /// Turn the filter on or off for the tenant.
    pub enabled: Option<bool>,
    /// The Junk threshold (-100 to 1000).
    pub junk_threshold: Option<f64>,
    /// The refusal threshold, above `junk_threshold`; null: never refuse.
    #[serde(default, deserialize_with = "crate::routes::tenants::present")]
    #[schema(value_type = Option<f64>)]
    pub reject_threshold: Option<Option<f64>>,
    /// The quarantine threshold, between the two; null: no quarantine.
    #[serde(default, deserialize_with = "crate::routes::tenants::present")]
    #[schema(value_type = Option<f64>)]
    pub quarantine_threshold: Option<Option<f64>>,
    /// `junk` or `reject`.
    pub dmarc_reject: Option<String>,
    /// Turn greylisting on or off.
    pub greylist: Option<bool>,
    /// The greylisting delay, 1 to 3600 seconds.
    pub greylist_delay_secs: Option<u32>,
    /// Quarantine retention, 1 to 365 days.
    pub quarantine_days: Option<u32>,
    /// Turn autolearn on or off.
    pub autolearn: Option<bool>,
}

/// One reason for a score.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpamSymbol {
    /// A stable name (`BAYES_99`, `SPF_FAIL`, `ATTACH_EXECUTABLE`, …).
    pub name: String,
    /// What it adds to the score.
    pub score: f64,
    /// What was seen.
    pub detail: String,
}

impl From<Symbol> for SpamSymbol {
    fn from(s: Symbol) -> Self {
        Self {
            name: s.name,
            score: s.score,
            detail: s.detail,
        }
    }
}

/// What the tenant's filter makes of a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpamCheckResponse {
    /// The sum of the symbols' scores.
    pub score: f64,
    /// `ham` (inbox), `junk`, `quarantine` or `reject`, by the tenant's thresholds.
    pub verdict: String,
    /// The Junk threshold it was held to.
    pub required: f64,
    /// The classifier's spam probability (0 to 1).
    pub probability: f64,
    /// Why.
    pub symbols: Vec<SpamSymbol>,
}

/// How the message was learnt.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrainQuery {
    /// `spam` or `ham`.
    pub verdict: String,
}

/// What training did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpamTrainResponse {
    /// `learnt`, `relearnt` (it had been taught with the other label: that lesson was taken
    /// back) or `already_known` (taught with this label before: nothing changed).
    pub result: String,
    /// Messages the tenant's users taught as spam, now.
    pub learned_spam: i64,
    /// Messages the tenant's users taught as ham, now.
    pub learned_ham: i64,
}

/// The largest message `check` and `train` take.
pub const MAX_SPAM_MESSAGE_BYTES: usize = 25 * 1024 * 1024;

/// The tenant's spam settings.
#[utoipa::path(get, path = "/v1/spam/settings", tag = "spam", responses(
    (status = 200, body = SpamSettingsResponse),
), security(("bearer" = [])))]
#[get("/v1/spam/settings")]
pub async fn settings(auth: Authed) -> Result<HttpResponse, ApiError> {
    let s = auth.tenant(Scope::SpamRead)?.spam_settings().await?;
    Ok(HttpResponse::Ok().json(SpamSettingsResponse::from(s)))
}

/// Changes the tenant's spam settings (new mail is judged by them within 10 seconds).
#[utoipa::path(patch, path = "/v1/spam/settings", tag = "spam", request_body = SpamSettingsPatchRequest, responses(
    (status = 200, body = SpamSettingsResponse),
    (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[patch("/v1/spam/settings")]
pub async fn update_settings(
    auth: Authed,
    body: Json<SpamSettingsPatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let s = auth
        .tenant(Scope::SpamWrite)?
        .update_spam_settings(SpamSettingsPatch {
            enabled: b.enabled,
            junk_threshold: b.junk_threshold,
            reject_threshold: b.reject_threshold,
            quarantine_threshold: b.quarantine_threshold,
            dmarc_reject: b.dmarc_reject,
            greylist: b.greylist,
            greylist_delay_secs: b.greylist_delay_secs,
            quarantine_days: b.quarantine_days,
            autolearn: b.autolearn,
        })
        .await?;
    Ok(HttpResponse::Ok().json(SpamSettingsResponse::from(s)))
}

/// The raw message of a `check` or `train` request (`message/rfc822`).
pub(crate) async fn message_body(
    req: &HttpRequest,
    body: web::Payload,
) -> Result<Vec<u8>, ApiError> {
    if crate::routes::media_type(req) != "message/rfc822" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the message as message/rfc822",
        ));
    }
    let bytes = crate::routes::read_body(body, MAX_SPAM_MESSAGE_BYTES, "a message").await?;
    if bytes.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_message",
            "the request holds no message",
        ));
    }
    Ok(bytes)
}

/// Reads a message off the async workers: parsing and scoring is CPU work.
pub(crate) async fn analyse(raw: Vec<u8>) -> Result<Analysis, ApiError> {
    let raw = raw[..raw.len().min(mailroom_core::spam::stage::MAX_SCAN_BYTES)].to_vec();
    web::block(move || Analysis::of(&raw, &Context::default()))
        .await
        .map_err(|e| mailroom_core::Error::Internal(format!("spam check: {e}")).into())
}

/// Scores a raw message as this tenant's filter would, without storing anything: the
/// score, the verdict by the tenant's thresholds, and every symbol with what it saw.
/// Sender authentication is not run (there is no SMTP transaction): its symbols appear on
/// mail received over SMTP only.
#[utoipa::path(post, path = "/v1/spam/check", tag = "spam",
    request_body(content = String, content_type = "message/rfc822"), responses(
    (status = 200, body = SpamCheckResponse),
    (status = 400, description = "`empty_message`", body = Problem, content_type = "application/problem+json"),
    (status = 413, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/spam/check")]
pub async fn check(
    auth: Authed,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::SpamRead)?;
    let raw = message_body(&req, body).await?;
    let a = analyse(raw).await?;
    let own_settings = store.spam_settings().await?;
    let report = match store.spam_own_model(&own_settings, &a.tokens).await? {
        Some(own) => a.with_own(&own),
        None => a.report.clone(),
    };
    let t = own_settings.thresholds();
    let verdict = if own_settings.enabled {
        t.verdict(report.score)
    } else {
        Verdict::Ham
    };
    Ok(HttpResponse::Ok().json(SpamCheckResponse {
        score: report.score,
        verdict: verdict.as_str().into(),
        required: t.junk,
        probability: report.probability,
        symbols: report.symbols.into_iter().map(SpamSymbol::from).collect(),
    }))
}

/// Teaches the tenant's classifier that a raw message is spam or ham. The same bytes
/// taught again change nothing; taught with the other label, the earlier lesson is taken
/// back first.
#[utoipa::path(post, path = "/v1/spam/train", tag = "spam", params(TrainQuery),
    request_body(content = String, content_type = "message/rfc822"), responses(
    (status = 200, body = SpamTrainResponse),
    (status = 400, description = "`validation_failed` (verdict), `empty_message`", body = Problem, content_type = "application/problem+json"),
    (status = 413, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/spam/train")]
pub async fn train(
    auth: Authed,
    req: HttpRequest,
    q: Query<TrainQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::SpamWrite)?;
    let spam = match q.verdict.as_str() {
        "spam" => true,
        "ham" => false,
        _ => {
            return Err(mailroom_core::Error::Validation(vec![
                mailroom_core::error::FieldError::new("verdict", "must be spam or ham"),
            ])
            .into());
        }
    };
    let raw = message_body(&req, body).await?;
    let a = analyse(raw.clone()).await?;
    let result = store
        .spam_learn(&mailroom_core::store::blob_hash(&raw), &a.tokens, spam)
        .await?;
    let s = store.spam_settings().await?;
    Ok(HttpResponse::Ok().json(SpamTrainResponse {
        result: match result {
            Learnt::Learnt => "learnt",
            Learnt::Relearnt => "relearnt",
            Learnt::AlreadyKnown => "already_known",
        }
        .into(),
        learned_spam: s.learned_spam,
        learned_ham: s.learned_ham,
    }))
}

/// An allow or block list entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpamListEntryResponse {
    /// Id.
    pub id: Uuid,
    /// `allow` or `block`.
    pub kind: String,
    /// A lower-case address (`a@b.example`) or domain (`b.example`, subdomains included).
    pub pattern: String,
    /// The mailbox it applies to; null: every mailbox of the tenant.
    pub mailbox_id: Option<Uuid>,
    /// Why.
    pub note: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl From<spam_lists::Model> for SpamListEntryResponse {
    fn from(m: spam_lists::Model) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            pattern: m.pattern,
            mailbox_id: m.mailbox_id,
            note: m.note,
            created_at: m.created_at,
        }
    }
}

/// A page of list entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpamListPage {
    /// The entries, oldest first.
    pub items: Vec<SpamListEntryResponse>,
    /// Pass as `?cursor=` for the next page.
    pub next_cursor: Option<String>,
}

/// An entry to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpamListEntryRequest {
    /// `allow` or `block`.
    pub kind: String,
    /// An address or a domain (a leading `@` or `*.` is accepted).
    pub pattern: String,
    /// Only for this mailbox; left out: every mailbox of the tenant.
    pub mailbox_id: Option<Uuid>,
    /// Why (at most 500 characters).
    #[serde(default)]
    pub note: String,
}

/// Filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SpamListQuery {
    /// Only the entries of this mailbox.
    pub mailbox_id: Option<Uuid>,
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The tenant's allow and block lists. A sender on a block list scores `BLOCKLIST` (+20); on
/// an allow list `ALLOWLIST` (-20) when its From is authenticated (DMARC pass), else
/// `ALLOWLIST_UNAUTH` (-2: a From can be forged). A sender in the recipient's contacts scores
/// `FROM_CONTACT` (-2, or -4 authenticated).
#[utoipa::path(get, path = "/v1/spam/lists", tag = "spam", params(SpamListQuery), responses(
    (status = 200, body = SpamListPage),
), security(("bearer" = [])))]
#[get("/v1/spam/lists")]
pub async fn lists(auth: Authed, q: Query<SpamListQuery>) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let page = auth
        .tenant(Scope::SpamRead)?
        .list_spam_entries(q.mailbox_id, page)
        .await?;
    Ok(HttpResponse::Ok().json(SpamListPage {
        items: page
            .items
            .into_iter()
            .map(SpamListEntryResponse::from)
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Adds an entry (new mail follows within 10 seconds).
#[utoipa::path(post, path = "/v1/spam/lists", tag = "spam", request_body = SpamListEntryRequest, responses(
    (status = 201, body = SpamListEntryResponse),
    (status = 400, description = "`validation_failed` (kind, pattern, note)", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "no such mailbox", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`already_listed`, `limit_reached`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/spam/lists")]
pub async fn add_entry(
    auth: Authed,
    body: Json<SpamListEntryRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let e = auth
        .tenant(Scope::SpamWrite)?
        .add_spam_entry(NewSpamListEntry {
            mailbox_id: b.mailbox_id,
            kind: b.kind,
            pattern: b.pattern,
            note: b.note,
        })
        .await?;
    Ok(created(
        format!("/v1/spam/lists/{}", e.id),
        &SpamListEntryResponse::from(e),
    ))
}

/// Removes an entry.
#[utoipa::path(delete, path = "/v1/spam/lists/{id}", tag = "spam",
    params(("id" = Uuid, Path, description = "Entry id")), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/spam/lists/{id}")]
pub async fn remove_entry(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    auth.tenant(Scope::SpamWrite)?
        .remove_spam_entry(id.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A message held in quarantine.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantinedResponse {
    /// Id.
    pub id: Uuid,
    /// The mailbox it was for.
    pub mailbox_id: Uuid,
    /// The SMTP reverse path.
    pub sender: String,
    /// The From address.
    pub from: String,
    /// The subject.
    pub subject: String,
    /// Its score.
    pub score: f64,
    /// The verdict: `{score, verdict, required, probability, symbols}`.
    #[schema(value_type = Object)]
    pub spam: serde_json::Value,
    /// Bytes.
    pub size: i64,
    /// When it was held.
    pub created_at: DateTime<Utc>,
}

impl From<spam_quarantine::Model> for QuarantinedResponse {
    fn from(m: spam_quarantine::Model) -> Self {
        Self {
            id: m.id,
            mailbox_id: m.mailbox_id,
            sender: m.sender,
            from: m.from_addr,
            subject: m.subject,
            score: m.score,
            spam: serde_json::from_str(&m.report).unwrap_or_default(),
            size: m.size,
            created_at: m.created_at,
        }
    }
}

/// A page of held messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantinePage {
    /// Newest first.
    pub items: Vec<QuarantinedResponse>,
    /// Pass as `?cursor=` for the next page.
    pub next_cursor: Option<String>,
}

/// A released message, now in the mailbox's INBOX.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReleasedResponse {
    /// The message's id in the mailbox.
    pub message_id: Uuid,
    /// Its IMAP UID in INBOX.
    pub uid: i64,
}

/// The messages held in the tenant's quarantine (its `quarantine_threshold` sends mail
/// there), newest first.
#[utoipa::path(get, path = "/v1/spam/quarantine", tag = "spam", params(SpamListQuery), responses(
    (status = 200, body = QuarantinePage),
    (status = 404, description = "no such mailbox", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/spam/quarantine")]
pub async fn quarantine(auth: Authed, q: Query<SpamListQuery>) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let page = auth
        .tenant(Scope::SpamRead)?
        .list_quarantine(q.mailbox_id, page)
        .await?;
    Ok(HttpResponse::Ok().json(QuarantinePage {
        items: page
            .items
            .into_iter()
            .map(QuarantinedResponse::from)
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Releases a held message into its mailbox's INBOX (held to the mailbox's quota; not
/// judged again), and removes it from the quarantine.
#[utoipa::path(post, path = "/v1/spam/quarantine/{id}/release", tag = "spam",
    params(("id" = Uuid, Path, description = "Quarantine id")), responses(
    (status = 200, body = ReleasedResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`quota_exceeded`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/spam/quarantine/{id}/release")]
pub async fn release(
    auth: Authed,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::SpamWrite)?;
    let held = store.quarantined(id.into_inner()).await?;
    let inbox = store.folder_by_name(held.mailbox_id, "INBOX").await?;
    let stored = state
        .pipeline
        .import(&store, held.mailbox_id, inbox.id, &held.data, 0, None)
        .await?;
    store
        .drop_quarantined(held.id, "spam.quarantine.release")
        .await?;
    Ok(HttpResponse::Ok().json(ReleasedResponse {
        message_id: stored.message_id,
        uid: stored.uid,
    }))
}

/// Deletes a held message.
#[utoipa::path(delete, path = "/v1/spam/quarantine/{id}", tag = "spam",
    params(("id" = Uuid, Path, description = "Quarantine id")), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/spam/quarantine/{id}")]
pub async fn delete_held(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    auth.tenant(Scope::SpamWrite)?
        .drop_quarantined(id.into_inner(), "spam.quarantine.delete")
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
