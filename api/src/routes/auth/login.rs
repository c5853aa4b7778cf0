use super::TokenResponse;
use crate::AppState;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::client_info;
use actix_web::{HttpRequest, HttpResponse, post, web};
use mailroom_core::auth::LoginKind;
use serde::Deserialize;
use utoipa::ToSchema;

/// Credentials.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The account's email.
    pub email: String,
    /// The account's password (for a mailbox, also one of its app passwords).
    pub password: String,
    /// Which account to log in to when the address is both a user's login and a mailbox's
    /// address: `user` (the default then) or `mailbox`.
    #[serde(default, rename = "as")]
    pub kind: Option<LoginAs>,
}

/// The kind of account a login is for.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoginAs {
    /// A person: owner, admin, member or platform admin.
    User,
    /// A mailbox's owner.
    Mailbox,
}

impl From<LoginAs> for LoginKind {
    fn from(k: LoginAs) -> Self {
        match k {
            LoginAs::User => LoginKind::User,
            LoginAs::Mailbox => LoginKind::Mailbox,
        }
    }
}

/// Logs in with email and password. An address names one account: the user when it is both
/// a user's login and a mailbox's address, unless `as` says `mailbox`; the answer's `kind`
/// says which it was. Failed attempts are limited per account and per client
/// address (429 with `Retry-After`).
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = TokenResponse),
    (status = 401, description = "wrong email or password", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "user disabled or tenant suspended", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "too many attempts", body = Problem, content_type = "application/problem+json"),
))]
#[post("/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let pair = state
        .auth
        .login(
            &body.email,
            &body.password,
            body.kind.map(Into::into),
            &client_info(&req),
        )
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TokenResponse::from(pair)))
}
