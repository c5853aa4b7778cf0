//! `/v1/rules`: routing rules (filters) — the tenant's list, each domain's and each mailbox's,
//! applied to every copy in that order. A mailbox's own credentials manage its own list.

use crate::body::{Json, Query};
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use crate::routes::spam::{analyse, message_body};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use mailroom_core::auth::Scope;
use mailroom_core::error::FieldError;
use mailroom_core::rules::sieve::SieveVacation;
use mailroom_core::rules::stage::{compiled, dry_run};
use mailroom_core::rules::{Condition, RuleAction, RuleBody};
use mailroom_core::store::entities::rules;
use mailroom_core::store::{
    MAX_VACATION_INTERVAL_DAYS, NewRule, RuleList, RulePatch, TenantStore, VacationPatch,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleResponse {
    /// Id.
    pub id: Uuid,
    /// The list it is in: `tenant`, `domain` or `mailbox`.
    pub level: String,
    /// For `level = domain`: the domain.
    pub domain_id: Option<Uuid>,
    /// For `level = mailbox`: the mailbox.
    pub mailbox_id: Option<Uuid>,
    /// Its place in its list (0 first).
    pub position: i64,
    /// Its name.
    pub name: String,
    /// Whether it runs.
    pub enabled: bool,
    /// `all` (every condition must hold) or `any`.
    #[serde(rename = "match")]
    pub match_: String,
    /// The conditions: `{field, header?, op, value, negate}` (see `RuleRequest`).
    #[schema(value_type = Vec<Object>)]
    pub conditions: Vec<Condition>,
    /// The actions, in order: `{type, …}` (see `RuleRequest`).
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<RuleAction>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<rules::Model> for RuleResponse {
    fn from(r: rules::Model) -> Self {
        let body: RuleBody = serde_json::from_str(&r.body).unwrap_or(RuleBody {
            match_: "all".into(),
            conditions: Vec::new(),
            actions: Vec::new(),
        });
        Self {
            id: r.id,
            level: r.level,
            domain_id: r.domain_id,
            mailbox_id: r.mailbox_id,
            position: r.position,
            name: r.name,
            enabled: r.enabled,
            match_: body.match_,
            conditions: body.conditions,
            actions: body.actions,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A list of rules, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleListResponse {
    /// The rules.
    pub items: Vec<RuleResponse>,
}

/// Which list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `tenant` (default), `domain` or `mailbox`.
    pub level: Option<String>,
    /// For `level = domain`.
    pub domain_id: Option<Uuid>,
    /// For `level = mailbox`.
    pub mailbox_id: Option<Uuid>,
}

fn list_of(
    level: Option<&str>,
    domain: Option<Uuid>,
    mailbox: Option<Uuid>,
) -> Result<RuleList, ApiError> {
    let bad = |field: &str, msg: &str| -> ApiError {
        mailroom_core::Error::Validation(vec![FieldError::new(field, msg)]).into()
    };
    match (level.unwrap_or("tenant"), domain, mailbox) {
        ("tenant", None, None) => Ok(RuleList::Tenant),
        ("domain", Some(d), None) => Ok(RuleList::Domain(d)),
        ("mailbox", None, Some(m)) => Ok(RuleList::Mailbox(m)),
        ("domain", _, _) => Err(bad("domain_id", "give domain_id (and no mailbox_id)")),
        ("mailbox", _, _) => Err(bad("mailbox_id", "give mailbox_id (and no domain_id)")),
        ("tenant", _, _) => Err(bad(
            "level",
            "the tenant's list takes no domain_id or mailbox_id",
        )),
        _ => Err(bad("level", "must be tenant, domain or mailbox")),
    }
}

/// A new rule, or (on `PATCH`) the fields to change.
///
/// Conditions: `{field, op, value, header?, negate?}` with `field` one of `from`, `to`, `cc`,
/// `to_or_cc`, `sender` (SMTP reverse path), `recipient` (SMTP recipient), `subject`,
/// `header` (name it in `header`), `body` (the text, first 256 KiB), `size` (bytes),
/// `has_attachment` (`"true"`/`"false"` with `is`), `spam_score`, `spf`, `dkim`, `dmarc`
/// (`pass`, `fail`, …); `op` one of `contains`, `is`, `glob` (`*`, `?`), `regex` (at most 500
/// characters, case-insensitive), `domain_is` (address fields: the domain or a subdomain),
/// `greater_than`, `less_than` (`size`, `spam_score`), `exists` (`header`). Text tests ignore
/// case; an address field holds when one of its addresses does.
///
/// Actions: `{"type": "fileinto", "folder": "Receipts"}`, `{"type": "flag", "flag":
/// "seen|flagged|answered|draft"}`, `{"type": "keyword", "keyword": "$label1"}`,
/// `{"type": "mark_read"}`, `{"type": "discard"}`, `{"type": "reject", "text": "…"}`,
/// `{"type": "stop"}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    /// `tenant` (default on create), `domain` or `mailbox`; only on create.
    pub level: Option<String>,
    /// For `level = domain`; only on create.
    pub domain_id: Option<Uuid>,
    /// For `level = mailbox`; only on create.
    pub mailbox_id: Option<Uuid>,
    /// Name, 1–200 characters (required on create).
    pub name: Option<String>,
    /// Whether it runs (default true).
    pub enabled: Option<bool>,
    /// `all` (default) or `any`.
    #[serde(rename = "match")]
    pub match_: Option<String>,
    /// At most 20; none: every message.
    #[schema(value_type = Option<Vec<Object>>)]
    pub conditions: Option<Vec<Condition>>,
    /// 1 to 10 (required on create).
    #[schema(value_type = Option<Vec<Object>>)]
    pub actions: Option<Vec<RuleAction>>,
}

/// A list's new order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// `tenant` (default), `domain` or `mailbox`.
    pub level: Option<String>,
    /// For `level = domain`.
    pub domain_id: Option<Uuid>,
    /// For `level = mailbox`.
    pub mailbox_id: Option<Uuid>,
    /// Every rule of the list, once, in the new order.
    pub ids: Vec<Uuid>,
}

/// The largest Sieve script taken.
const MAX_SIEVE_BYTES: usize = mailroom_core::rules::sieve::MAX_SCRIPT_BYTES;

/// A list as a Sieve script (RFC 5228, with fileinto, imap4flags, regex, body, envelope,
/// reject and vacation: a mailbox's script carries its auto-reply when it is on). Disabled
/// rules, and rules testing what Sieve cannot (spam score, attachments, authentication), are
/// written as comments.
#[utoipa::path(get, path = "/v1/rules/sieve", tag = "rules", params(ListQuery), responses(
    (status = 200, description = "the script", body = String, content_type = "application/sieve"),
    (status = 404, description = "no such domain or mailbox", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/rules/sieve")]
pub async fn sieve_export(auth: Authed, q: Query<ListQuery>) -> Result<HttpResponse, ApiError> {
    let which = list_of(q.level.as_deref(), q.domain_id, q.mailbox_id)?;
    let store = auth.tenant(Scope::RulesRead)?;
    let rows = store.list_rules(which).await?;
    // A mailbox's script carries its auto-reply.
    let vacation = match which {
        RuleList::Mailbox(m) => {
            let v = store.vacation(m).await?;
            v.enabled.then(|| SieveVacation {
                days: u64::from(v.interval_days),
                subject: (!v.subject.is_empty()).then_some(v.subject),
                reason: v.body,
            })
        }
        _ => None,
    };
    let rules: Vec<(String, bool, RuleBody)> = rows
        .into_iter()
        .filter_map(|r| {
            let body = serde_json::from_str(&r.body).ok()?;
            Some((r.name, r.enabled, body))
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("application/sieve; charset=utf-8")
        .body(mailroom_core::rules::sieve::export(
            &rules,
            vacation.as_ref(),
        )))
}

/// Replaces a list with the rules of a Sieve script (`application/sieve` or `text/plain`, at
/// most 64 KiB), all or nothing. A `# rule: NAME` comment names the rule after it. A mailbox's
/// script may hold a `vacation` (for every message, on its own: `if true { vacation :days 7
/// :subject "…" "…"; }`), which turns the mailbox's auto-reply on with that text; a script
/// without one leaves the auto-reply as it is. What rules cannot express is refused with its
/// line (`errors[].field` = `line N`), nothing changed.
#[utoipa::path(put, path = "/v1/rules/sieve", tag = "rules", params(ListQuery), request_body(content = String, content_type = "application/sieve"), responses(
    (status = 200, body = RuleListResponse),
    (status = 400, description = "`validation_failed`: the line and why", body = Problem, content_type = "application/problem+json"),
    (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[put("/v1/rules/sieve")]
pub async fn sieve_import(
    auth: Authed,
    req: HttpRequest,
    q: Query<ListQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let which = list_of(q.level.as_deref(), q.domain_id, q.mailbox_id)?;
    let store = auth.tenant(Scope::RulesWrite)?;
    if !matches!(
        crate::routes::media_type(&req).as_str(),
        "application/sieve" | "text/plain"
    ) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the script as application/sieve or text/plain",
        ));
    }
    let bytes = crate::routes::read_body(body, MAX_SIEVE_BYTES, "a Sieve script").await?;
    let Ok(script) = String::from_utf8(bytes) else {
        return Err(mailroom_core::Error::Validation(vec![FieldError::new(
            "script",
            "must be UTF-8",
        )])
        .into());
    };
    let imported = mailroom_core::rules::sieve::import(&script)?;
    let vacation = match (imported.vacation, which) {
        (None, _) => None,
        (Some(v), RuleList::Mailbox(m)) => {
            let patch = VacationPatch {
                enabled: Some(true),
                subject: Some(v.subject.unwrap_or_default()),
                body: Some(v.reason),
                interval_days: Some(v.days.clamp(1, u64::from(MAX_VACATION_INTERVAL_DAYS)) as u32),
                ..VacationPatch::default()
            };
            // Checked before anything changes: the import is all or nothing.
            store.check_vacation(m, &patch).await?;
            Some((m, patch))
        }
        (Some(_), _) => {
            return Err(mailroom_core::Error::Validation(vec![FieldError::new(
                "script",
                "vacation belongs in a mailbox's script (level=mailbox)",
            )])
            .into());
        }
    };
    let rows = store
        .replace_rules(
            which,
            imported
                .rules
                .into_iter()
                .map(|r| (r.name, r.body))
                .collect(),
        )
        .await?;
    if let Some((m, patch)) = vacation {
        store.set_vacation(m, patch).await?;
    }
    Ok(HttpResponse::Ok().json(RuleListResponse {
        items: rows.into_iter().map(RuleResponse::from).collect(),
    }))
}

/// Where a test message goes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TestQuery {
    /// The mailbox whose rules run (the tenant's, its domain's and its own).
    pub mailbox_id: Uuid,
    /// The SMTP recipient (`recipient` conditions); default: the mailbox's address.
    pub recipient: Option<String>,
    /// The SMTP reverse path (`sender` conditions); default: empty.
    pub sender: Option<String>,
}

/// What the rules would do.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleTestResponse {
    /// The rules that matched, in order: `{id, name, level, actions}`.
    #[schema(value_type = Vec<Object>)]
    pub matched: Vec<serde_json::Value>,
    /// The folder it would be filed in; null: where it was going (the inbox, or Junk).
    pub folder: Option<String>,
    /// Flags it would get (`seen`, `flagged`, …).
    pub flags: Vec<String>,
    /// Keywords it would get.
    pub keywords: Vec<String>,
    /// `deliver`, `discard` or `reject`.
    pub outcome: String,
    /// For `reject`: what the sender would be told.
    pub reject_text: Option<String>,
    /// The spam score it was tested with (the base model; no DNS, no sender authentication).
    pub spam_score: f64,
}

/// The rules of one list, in order.
#[utoipa::path(get, path = "/v1/rules", tag = "rules", params(ListQuery), responses(
    (status = 200, body = RuleListResponse),
    (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "no such domain or mailbox", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/rules")]
pub async fn list(auth: Authed, q: Query<ListQuery>) -> Result<HttpResponse, ApiError> {
    let which = list_of(q.level.as_deref(), q.domain_id, q.mailbox_id)?;
    let rows = auth.tenant(Scope::RulesRead)?.list_rules(which).await?;
    Ok(HttpResponse::Ok().json(RuleListResponse {
        items: rows.into_iter().map(RuleResponse::from).collect(),
    }))
}

/// Adds a rule at the end of its list (at most 250 per list).
#[utoipa::path(post, path = "/v1/rules", tag = "rules", request_body = RuleRequest, responses(
    (status = 201, body = RuleResponse),
    (status = 400, description = "`validation_failed`: the field is named (`conditions[1].value`)", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "a mailbox's credentials on another list", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "no such domain or mailbox", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`too_many_rules`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/rules")]
pub async fn create(auth: Authed, body: Json<RuleRequest>) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let which = list_of(b.level.as_deref(), b.domain_id, b.mailbox_id)?;
    let mut missing = Vec::new();
    if b.name.is_none() {
        missing.push(FieldError::new("name", "required"));
    }
    if b.actions.is_none() {
        missing.push(FieldError::new("actions", "required"));
    }
    if !missing.is_empty() {
        return Err(mailroom_core::Error::Validation(missing).into());
    }
    let r = auth
        .tenant(Scope::RulesWrite)?
        .create_rule(NewRule {
            list: which,
            name: b.name.unwrap_or_default(),
            enabled: b.enabled.unwrap_or(true),
            body: RuleBody {
                match_: b.match_.unwrap_or_else(|| "all".into()),
                conditions: b.conditions.unwrap_or_default(),
                actions: b.actions.unwrap_or_default(),
            },
        })
        .await?;
    Ok(created(
        format!("/v1/rules/{}", r.id),
        &RuleResponse::from(r),
    ))
}

/// One rule.
#[utoipa::path(get, path = "/v1/rules/{id}", tag = "rules", params(("id" = Uuid, Path)), responses(
    (status = 200, body = RuleResponse),
    (status = 404, description = "not found", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/rules/{id}")]
pub async fn get_one(auth: Authed, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let r = auth
        .tenant(Scope::RulesRead)?
        .rule(path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(RuleResponse::from(r)))
}

/// Changes a rule (its list and place stay; `PUT /v1/rules/order` reorders).
#[utoipa::path(patch, path = "/v1/rules/{id}", tag = "rules", params(("id" = Uuid, Path)), request_body = RuleRequest, responses(
    (status = 200, body = RuleResponse),
    (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "not found", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[patch("/v1/rules/{id}")]
pub async fn update(
    auth: Authed,
    path: web::Path<Uuid>,
    body: Json<RuleRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    if b.level.is_some() || b.domain_id.is_some() || b.mailbox_id.is_some() {
        return Err(mailroom_core::Error::Validation(vec![FieldError::new(
            "level",
            "a rule stays in its list: delete it and create it in the other",
        )])
        .into());
    }
    let store = auth.tenant(Scope::RulesWrite)?;
    let id = path.into_inner();
    let body = if b.match_.is_some() || b.conditions.is_some() || b.actions.is_some() {
        let current = RuleResponse::from(store.rule(id).await?);
        Some(RuleBody {
            match_: b.match_.unwrap_or(current.match_),
            conditions: b.conditions.unwrap_or(current.conditions),
            actions: b.actions.unwrap_or(current.actions),
        })
    } else {
        None
    };
    let r = store
        .update_rule(
            id,
            RulePatch {
                name: b.name,
                enabled: b.enabled,
                body,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(RuleResponse::from(r)))
}

/// Deletes a rule.
#[utoipa::path(delete, path = "/v1/rules/{id}", tag = "rules", params(("id" = Uuid, Path)), responses(
    (status = 204, description = "deleted"),
    (status = 404, description = "not found", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/rules/{id}")]
pub async fn remove(auth: Authed, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    auth.tenant(Scope::RulesWrite)?
        .delete_rule(path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Puts a list in a new order.
#[utoipa::path(put, path = "/v1/rules/order", tag = "rules", request_body = OrderRequest, responses(
    (status = 200, body = RuleListResponse),
    (status = 400, description = "`validation_failed`: `ids` must name every rule of the list once", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[put("/v1/rules/order")]
pub async fn reorder(auth: Authed, body: Json<OrderRequest>) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let which = list_of(b.level.as_deref(), b.domain_id, b.mailbox_id)?;
    let rows = auth
        .tenant(Scope::RulesWrite)?
        .reorder_rules(which, &b.ids)
        .await?;
    Ok(HttpResponse::Ok().json(RuleListResponse {
        items: rows.into_iter().map(RuleResponse::from).collect(),
    }))
}

/// What delivery runs for `mailbox`: its enabled rules, in order, compiled.
async fn mailbox_rules(
    store: &TenantStore,
    mailbox: Uuid,
) -> Result<Vec<(rules::Model, Arc<mailroom_core::rules::Compiled>)>, ApiError> {
    Ok(store
        .rules_applying(mailbox)
        .await?
        .into_iter()
        .filter_map(|r| {
            let c = compiled(&r)?;
            Some((r, Arc::new(c)))
        })
        .collect())
}

/// Runs a mailbox's rules (the tenant's, its domain's, its own; enabled ones, in order) on a
/// raw message (`message/rfc822`) and says which matched and what would happen; nothing is
/// stored or sent.
#[utoipa::path(post, path = "/v1/rules/test", tag = "rules", params(TestQuery), request_body(content = String, content_type = "message/rfc822"), responses(
    (status = 200, body = RuleTestResponse),
    (status = 404, description = "no such mailbox", body = Problem, content_type = "application/problem+json"),
    (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/rules/test")]
pub async fn test(
    auth: Authed,
    req: HttpRequest,
    q: Query<TestQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::RulesRead)?;
    let rules = mailbox_rules(&store, q.mailbox_id).await?;
    let raw = message_body(&req, body).await?;
    let recipient = match &q.recipient {
        Some(r) => r.clone(),
        None => store.mailbox(q.mailbox_id).await?.address,
    };
    let score = analyse(raw.clone()).await?.report.score;
    let sender = q.sender.clone().unwrap_or_default();
    let d = web::block(move || dry_run(&rules, &raw, &sender, &recipient, Some(score)))
        .await
        .map_err(|e| mailroom_core::Error::Internal(format!("rules test: {e}")))?;
    let (outcome, reject_text) = match &d.action {
        Some(RuleAction::Discard) => ("discard", None),
        Some(RuleAction::Reject { text }) => ("reject", Some(text.clone())),
        _ => ("deliver", None),
    };
    Ok(HttpResponse::Ok().json(RuleTestResponse {
        matched: d.matched,
        folder: d.folder,
        flags: mailroom_core::mail::flags::names(d.flags)
            .into_iter()
            .map(String::from)
            .collect(),
        keywords: d.keywords,
        outcome: outcome.into(),
        reject_text,
        spam_score: score,
    }))
}
