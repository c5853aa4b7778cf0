use super::{ApiKeyResponse, CreatedApiKeyResponse};
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use actix_web::{HttpResponse, post};
use chrono::{DateTime, Utc};
use mailroom_core::FieldError;
use mailroom_core::auth::Scope;
use mailroom_core::store::NewApiKey;
use mailroom_core::validate::{self, Checker};
use serde::Deserialize;
use utoipa::ToSchema;

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// A name people recognise, 1–200 characters.
    pub name: String,
    /// Scopes such as `domains:read`; a write scope brings its read scope. None may exceed
    /// what the creator holds.
    pub scopes: Vec<String>,
    /// When the key stops working (never when omitted).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates an API key and returns its secret once.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", request_body = CreateApiKeyRequest, responses(
    (status = 201, body = CreatedApiKeyResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "a scope exceeds the creator's rights", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/api-keys")]
pub async fn create(
    auth: Authed,
    body: Json<CreateApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::ApiKeysWrite)?;
    let b = body.into_inner();
    let mut c = Checker::new();
    c.push(validate::name("name", &b.name, 200));
    c.check(
        b.scopes.len() <= Scope::ALL.len() * 2,
        "scopes",
        "too many scopes",
    );
    let mut scopes = Vec::new();
    for (i, s) in b.scopes.iter().enumerate() {
        match Scope::parse(s) {
            Some(scope) => scopes.push(scope),
            None => {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                c.push(Err(FieldError::new(
                    format!("scopes[{i}]"),
                    format!("unknown scope; known: {}", known.join(", ")),
                )));
            }
        }
    }
    c.finish()?;
    let (key, secret) = store
        .create_api_key(NewApiKey {
            name: b.name.trim().to_string(),
            scopes,
            expires_at: b.expires_at,
        })
        .await?;
    let body = CreatedApiKeyResponse {
        api_key: ApiKeyResponse::from(key),
        key: secret,
    };
    Ok(created(format!("/v1/api-keys/{}", body.api_key.id), &body))
}
