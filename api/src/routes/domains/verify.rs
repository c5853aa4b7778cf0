use super::{DnsRecord, DomainResponse};
use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, post, web};
use mailroom_core::auth::Scope;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// The outcome of a verification.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    /// True when the ownership record matched and this tenant owns the domain.
    pub verified: bool,
    /// The domain can receive mail (verified, MX ok).
    pub ready_to_receive: bool,
    /// The domain can send mail (verified, SPF and DKIM ok).
    pub ready_to_send: bool,
    /// The domain after the check.
    pub domain: DomainResponse,
    /// Every record with its status.
    pub records: Vec<DnsRecord>,
}

/// Runs every DNS check now and acts on it: the domain becomes `verified` when the ownership
/// record matches (unless another tenant owns the name), and a rotated DKIM key is activated
/// once its record is seen.
#[utoipa::path(post, path = "/v1/domains/{id}/verify", tag = "domains", params(("id" = Uuid, Path, description = "Domain id")), responses(
    (status = 200, body = VerifyResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/domains/{id}/verify")]
pub async fn verify(
    auth: Authed,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let v = auth
        .tenant(Scope::DomainsWrite)?
        .verify_domain(&state.domains, id.into_inner())
        .await?;
    let domain = DomainResponse::new(v.view, &state.domains.cfg.verification_prefix);
    Ok(HttpResponse::Ok().json(VerifyResponse {
        verified: domain.status == "verified",
        ready_to_receive: domain.ready_to_receive,
        ready_to_send: domain.ready_to_send,
        domain,
        records: v.records.into_iter().map(DnsRecord::from).collect(),
    }))
}
