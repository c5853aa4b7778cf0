//! `ApiError`: every error the API returns, as `application/problem+json` (RFC 9457) with a
//! stable `code`. Core errors map to HTTP statuses in exactly one place, [`From<Error>`].

use crate::middleware::current_request_id;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use mailroom_core::health::Part;
use mailroom_core::{Error, FieldError};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:mailroom:problem:<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time, for people.
    pub detail: String,
    /// Stable machine-readable code (`validation_failed`, `not_found`, …).
    pub code: String,
    /// The request id; quote it when reporting a problem.
    pub request_id: String,
    /// For validation problems: every offending field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<ProblemField>)]
    pub errors: Vec<FieldError>,
}

/// One offending field.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field (`owner.email`).
    pub field: String,
    /// Why it was refused.
    pub message: String,
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after: Option<u64>,
    /// A storage outage: the part and the error (the middleware tells the health state).
    outage: Option<(Part, String)>,
}

impl ApiError {
    /// A problem with the given status, code and detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            outage: None,
        }
    }

    /// The same problem with a `Retry-After` header of `secs` seconds.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// A 400 naming the offending fields.
    pub fn invalid(code: &'static str, detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(StatusCode::BAD_REQUEST, code, detail)
        }
    }

    /// 404 for a route or object that does not exist.
    pub fn not_found(code: &'static str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code,
            "nothing exists at this address for these credentials",
        )
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The storage outage this answers, if any: the part and the error.
    pub fn outage(&self) -> Option<&(Part, String)> {
        self.outage.as_ref()
    }

    /// The offending fields, for validation problems.
    pub fn fields(&self) -> &[FieldError] {
        &self.errors
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

/// The one table from core errors to HTTP.
impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        // Storage outages are the caller's to retry, not a bug: 503 with Retry-After. They are
        // logged once per outage by the health state (the middleware reports them).
        match e.outage() {
            Some(mailroom_core::Outage::StorageFull) => {
                return Self {
                    retry_after: Some(60),
                    outage: Some((Part::Writes, e.to_string())),
                    ..Self::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "storage_full",
                        "the storage is full; nothing was changed; try again later",
                    )
                };
            }
            Some(mailroom_core::Outage::Unavailable) => {
                return Self {
                    retry_after: Some(5),
                    outage: Some((Part::Database, e.to_string())),
                    ..Self::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "database_unavailable",
                        "the database is unavailable; nothing was changed; try again shortly",
                    )
                };
            }
            None => {}
        }
        let code = e.code();
        match e {
            Error::NotFound => Self::not_found(code),
            Error::Conflict { detail, .. } => Self::new(StatusCode::CONFLICT, code, detail),
            Error::Validation(errors) => {
                Self::invalid(code, "the request has invalid fields", errors)
            }
            Error::Rejected { field, message, .. } => Self::invalid(
                code,
                format!("{field} {message}"),
                vec![FieldError::new(field, message)],
            ),
            Error::Unauthenticated(why) => Self::new(StatusCode::UNAUTHORIZED, code, why),
            Error::Forbidden { detail, .. } => Self::new(StatusCode::FORBIDDEN, code, detail),
            Error::RateLimited { retry_after_secs } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    code,
                    format!("too many attempts; retry in {retry_after_secs} s"),
                )
            },
            Error::PlanLimit(detail) => Self::new(StatusCode::FORBIDDEN, code, detail),
            Error::Config(_) | Error::Db(_) | Error::Redis(_) | Error::Internal(_) => {
                tracing::error!(request_id = %current_request_id(), error = %e, "unexpected error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    code,
                    "an unexpected error occurred; quote the request id when reporting it",
                )
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = Problem {
            type_: format!("urn:mailroom:problem:{}", self.code),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
            request_id: current_request_id(),
            errors: self.errors.clone(),
        };
        let mut res = HttpResponse::build(self.status);
        res.content_type("application/problem+json");
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mailroom\""),
            ));
        }
        res.body(serde_json::to_string(&body).unwrap_or_default())
    }
}

/// A malformed id in a path names nothing: 404, like an id of another tenant.
pub fn path_error(
    _err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::not_found("not_found").into()
}
