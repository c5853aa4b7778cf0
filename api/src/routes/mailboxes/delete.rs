use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, delete, web};
use mailroom_core::auth::Scope;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A mailbox deletion in progress.
#[derive(Serialize, ToSchema)]
pub struct MailboxDeleted {
    /// The deleted mailbox.
    pub id: Uuid,
    /// The job that purges its data.
    pub purge_job_id: Uuid,
}

/// Deletes a mailbox (admins). It stops receiving and logging in at once and its address is
/// free; a job purges its data.
#[utoipa::path(delete, path = "/v1/mailboxes/{id}", tag = "mailboxes", params(("id" = Uuid, Path, description = "Mailbox id")), responses(
    (status = 202, body = MailboxDeleted),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/mailboxes/{id}")]
pub async fn delete(
    auth: Authed,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let delay = chrono::Duration::seconds(state.config.mailboxes.purge_delay_secs as i64);
    let job = auth
        .tenant(Scope::MailboxesWrite)?
        .delete_mailbox(id, delay)
        .await?;
    Ok(HttpResponse::Accepted().json(MailboxDeleted {
        id,
        purge_job_id: job,
    }))
}
