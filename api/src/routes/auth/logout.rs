use crate::AppState;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::bearer;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

/// What to log out.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// Ends the session of this refresh token.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// Ends a session: the one of the bearer access token, and/or the one of the refresh token in
/// the body. Access tokens of the session stop working at once.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body(content = Option<LogoutRequest>), responses(
    (status = 204, description = "logged out"),
    (status = 400, description = "neither a bearer token nor a refresh token was sent", body = Problem, content_type = "application/problem+json"),
), security((), ("bearer" = [])))]
#[post("/v1/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LogoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let refresh = body.into_inner().refresh_token;
    let principal = match bearer(&req) {
        Some(t) => Some(state.auth.authenticate(&t).await?),
        None => None,
    };
    if refresh.is_none() && principal.is_none() {
        return Err(mailroom_core::Error::invalid(
            "refresh_token",
            "send a refresh token or an access token",
        )
        .into());
    }
    state
        .auth
        .logout(refresh.as_deref(), principal.as_ref())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
