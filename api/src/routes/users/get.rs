use super::UserResponse;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Reads a user of the tenant.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", params(("id" = Uuid, Path, description = "User id")), responses(
    (status = 200, body = UserResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/users/{id}")]
pub async fn get(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let user = auth.tenant(Scope::UsersRead)?.user(id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}
