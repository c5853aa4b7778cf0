use super::{DnsRecord, DnsRecordsResponse};
use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Every DNS record the domain needs, each checked against DNS now (nothing is changed: use
/// `verify` to act on the result). A timeout or SERVFAIL shows as `error`, never `missing`.
#[utoipa::path(get, path = "/v1/domains/{id}/dns-records", tag = "domains", params(("id" = Uuid, Path, description = "Domain id")), responses(
    (status = 200, body = DnsRecordsResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/domains/{id}/dns-records")]
pub async fn dns_records(
    auth: Authed,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let records = auth
        .tenant(Scope::DomainsRead)?
        .dns_records(&state.domains, id)
        .await?;
    Ok(HttpResponse::Ok().json(DnsRecordsResponse {
        domain_id: id,
        checked_at: chrono::Utc::now(),
        records: records.into_iter().map(DnsRecord::from).collect(),
    }))
}
