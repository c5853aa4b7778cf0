//! `GET /v1/mailboxes/{id}/messages/{mid}`: one message as a reader shows it.

use super::MessageSummary;
use crate::body::Query;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use mailroom_core::mail::render::{RenderOptions, render};
use mailroom_core::mail::summary::{Addr, Summary};
use mailroom_core::store::MessageRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// How to render.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RenderQuery {
    /// Keep remote images and other remote resources in the HTML (default false: they are
    /// removed and `remote_content_blocked` says so). Tracking pixels are removed always.
    pub allow_remote: Option<bool>,
}

/// An address.
#[derive(Debug, Serialize, ToSchema)]
pub struct Address {
    /// Display name.
    pub name: Option<String>,
    /// The address.
    pub address: Option<String>,
}

/// One header field, decoded.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeaderField {
    /// Field name as written.
    pub name: String,
    /// Value, RFC 2047 words decoded.
    pub value: String,
}

/// An attachment (or an inline part such as an embedded image).
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentInfo {
    /// Its number in this list: `…/attachments/{index}` downloads it.
    pub index: usize,
    /// IMAP section number.
    pub part_id: String,
    /// File name, when given.
    pub filename: Option<String>,
    /// `type/subtype`.
    pub content_type: String,
    /// Encoded size in octets.
    pub size: u64,
    /// Content-ID (what `cid:` references in the HTML point at).
    pub content_id: Option<String>,
    /// Meant to be shown inline.
    pub inline: bool,
    /// Where to download it (same authentication).
    pub url: String,
}

/// A message for reading.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDetail {
    /// What lists show.
    #[serde(flatten)]
    pub summary: MessageSummary,
    /// From, every address.
    pub from_addresses: Vec<Address>,
    /// Sender.
    pub sender: Vec<Address>,
    /// Reply-To.
    pub reply_to: Vec<Address>,
    /// To.
    pub to_addresses: Vec<Address>,
    /// Cc.
    pub cc: Vec<Address>,
    /// Bcc (only present on messages the owner sent).
    pub bcc: Vec<Address>,
    /// In-Reply-To ids.
    pub in_reply_to: Vec<String>,
    /// References ids.
    pub references: Vec<String>,
    /// Every header field, in order (at most 500).
    pub headers: Vec<HeaderField>,
    /// The text body (for an HTML-only message, the HTML as text).
    pub text: Option<String>,
    /// The HTML body, sanitised: no scripts, event handlers, forms, external CSS or
    /// `javascript:` URLs; remote content removed unless `allow_remote=true`; `cid:` images
    /// pointing at their attachment URLs. Null when the message has no HTML.
    pub html: Option<String>,
    /// Remote images or resources were removed from `html`.
    pub remote_content_blocked: bool,
    /// The text or the HTML was cut (it is longer than 1 MiB).
    pub truncated: bool,
    /// Attachments and inline parts.
    pub attachments: Vec<AttachmentInfo>,
    /// SPF/DKIM/DMARC/ARC results, for mail received over SMTP.
    #[schema(value_type = Option<Object>)]
    pub authentication: Option<serde_json::Value>,
    /// The spam filter's judgement of this copy: `{score, verdict, required, probability,
    /// symbols: [{name, score, detail}]}`. Null for mail it did not judge (sent from this
    /// server, imported, or received while the filter was off).
    #[schema(value_type = Option<Object>)]
    pub spam: Option<serde_json::Value>,
    /// The routing rules applied to this copy: `{rules: [{id, name, level, actions}], folder,
    /// missing_folder}`. Null when no rule matched.
    #[schema(value_type = Option<Object>)]
    pub rules: Option<serde_json::Value>,
}

/// The detail a pipeline stage stored with a copy's notes.
fn stage_detail(pipeline: &str, stage: &str) -> Option<serde_json::Value> {
    let notes: Vec<serde_json::Value> = serde_json::from_str(pipeline).ok()?;
    notes
        .into_iter()
        .find(|n| n["stage"] == stage && n.get("detail").is_some_and(|d| !d.is_null()))
        .and_then(|mut n| n.get_mut("detail").map(serde_json::Value::take))
}

fn addrs(list: &[Addr]) -> Vec<Address> {
    list.iter()
        .map(|a| Address {
            name: a.name.clone(),
            address: a.address.clone(),
        })
        .collect()
}

/// The attachments of `s` with their download URLs.
pub fn attachment_list(s: &Summary, mailbox: Uuid, mid: Uuid) -> Vec<AttachmentInfo> {
    s.attachments
        .iter()
        .enumerate()
        .map(|(i, a)| AttachmentInfo {
            index: i,
            part_id: a.part_id.clone(),
            filename: a.name.clone(),
            content_type: a.content_type.clone(),
            size: a.size,
            content_id: a.content_id.clone(),
            inline: a.inline,
            url: format!("/v1/mailboxes/{mailbox}/messages/{mid}/attachments/{i}"),
        })
        .collect()
}

/// Reads one message: addresses, headers, the text body, the sanitised HTML body and the
/// attachments. Any stored message renders: a broken charset degrades to replacement
/// characters, a broken structure to what could be read.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/messages/{mid}", tag = "messages",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("mid" = Uuid, Path, description = "Message id"), RenderQuery),
    responses(
    (status = 200, body = MessageDetail),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/messages/{mid}")]
pub async fn get(
    auth: Authed,
    path: web::Path<(Uuid, Uuid)>,
    q: Query<RenderQuery>,
) -> Result<HttpResponse, ApiError> {
    let (mailbox, mid) = path.into_inner();
    let (m, raw) = auth
        .tenant(Scope::MessagesRead)?
        .message_with_raw(mailbox, mid)
        .await?;
    let s: Summary = serde_json::from_str(&m.summary).unwrap_or_default();
    let attachments = attachment_list(&s, mailbox, mid);
    let opts = RenderOptions {
        allow_remote: q.allow_remote.unwrap_or(false),
        cid_urls: attachments
            .iter()
            .filter_map(|a| Some((a.content_id.clone()?, a.url.clone())))
            .collect(),
    };
    // Parsing and sanitising is CPU work: keep it off the async workers.
    let r = web::block(move || render(&raw, &opts))
        .await
        .map_err(|e| mailroom_core::Error::Internal(format!("render task: {e}")))?;
    let spam = stage_detail(&m.pipeline, "spam-verdict");
    let rules = stage_detail(&m.pipeline, "rules");
    let authentication = m
        .auth_results
        .as_deref()
        .and_then(|a| serde_json::from_str(a).ok());
    let detail = MessageDetail {
        from_addresses: addrs(&s.from),
        sender: addrs(&s.sender),
        reply_to: addrs(&s.reply_to),
        to_addresses: addrs(&s.to),
        cc: addrs(&s.cc),
        bcc: addrs(&s.bcc),
        in_reply_to: s.in_reply_to.clone(),
        references: s.references.clone(),
        summary: MessageSummary::from(MessageRow::from(m)),
        headers: r
            .headers
            .into_iter()
            .map(|(name, value)| HeaderField { name, value })
            .collect(),
        text: r.text,
        html: r.html,
        remote_content_blocked: r.remote_content_blocked,
        truncated: r.truncated,
        attachments,
        authentication,
        spam,
        rules,
    };
    Ok(HttpResponse::Ok().json(detail))
}
