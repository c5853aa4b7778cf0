//! The one error type of the core crate. Every variant has a stable machine code; the API maps
//! variants to HTTP statuses in exactly one table (`mailroom_api::error`).

use serde::Serialize;

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One offending field of a request that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name as the client sent it (`owner.email`).
    pub field: String,
    /// Why it was refused, in words a person can act on.
    pub message: String,
}

impl FieldError {
    /// A field error with the given name and message.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Errors the core returns; each knows its stable `code`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object does not exist for this caller (another tenant's object is also "not found").
    #[error("not found")]
    NotFound,
    /// The request conflicts with existing state (a taken slug or email, the last owner…).
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// The input is invalid; lists every offending field.
    #[error("invalid input: {}", list_fields(.0))]
    Validation(Vec<FieldError>),
    /// One field holds a value refused for a specific, stable reason (`public_suffix`).
    #[error("{field}: {message}")]
    Rejected {
        code: &'static str,
        field: String,
        message: String,
    },
    /// No valid credentials were presented.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The credentials are valid but do not allow this.
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    /// Too many attempts; try again after the given number of seconds.
    #[error("too many attempts")]
    RateLimited { retry_after_secs: u64 },
    /// A plan limit of the tenant was reached.
    #[error("{0}")]
    PlanLimit(String),
    /// Misconfiguration found at start-up.
    #[error("configuration: {0}")]
    Config(String),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// Redis failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Anything else that should not happen.
    #[error("internal: {0}")]
    Internal(String),
}

/// `email: not a valid address; password: too short`.
fn list_fields(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A failure of the storage that is an outage, not a bug: the caller should answer "try again
/// later" (SMTP 4xx, HTTP 503) and say which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// The disk (or the Postgres tablespace) is full: SMTP `452 4.3.1`.
    StorageFull,
    /// The database does not answer or failed in a way a later attempt may not: `451 4.3.0`.
    Unavailable,
}

impl Error {
    /// Whether this error is a storage outage, and which.
    pub fn outage(&self) -> Option<Outage> {
        match self {
            Error::Db(e) => db_outage(e),
            _ => None,
        }
    }

    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound => "not_found",
            Error::Conflict { code, .. } => code,
            Error::Validation(_) => "validation_failed",
            Error::Rejected { code, .. } => code,
            Error::Unauthenticated(_) => "unauthenticated",
            Error::Forbidden { code, .. } => code,
            Error::RateLimited { .. } => "rate_limited",
            Error::PlanLimit(_) => "plan_limit_reached",
            Error::Config(_) => "configuration_error",
            Error::Db(_) | Error::Redis(_) | Error::Internal(_) => "internal_error",
        }
    }

    /// A validation error for a single field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }

    /// A conflict with a stable code.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            detail: detail.into(),
        }
    }

    /// A refusal with a stable code.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Error::Forbidden {
            code,
            detail: detail.into(),
        }
    }
}

/// Whether a database error is an outage (and which) rather than a fault of the statement.
/// SQLite reports a full disk as `SQLITE_FULL` (13), Postgres as SQLSTATE `53100`; lost
/// connections, pool time-outs, I/O errors, shutdowns and resource exhaustion are outages too.
fn db_outage(e: &sea_orm::DbErr) -> Option<Outage> {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    let sqlx = match e {
        DbErr::ConnectionAcquire(_) => return Some(Outage::Unavailable),
        DbErr::Conn(RuntimeErr::SqlxError(s))
        | DbErr::Exec(RuntimeErr::SqlxError(s))
        | DbErr::Query(RuntimeErr::SqlxError(s)) => s,
        DbErr::Conn(_) => return Some(Outage::Unavailable),
        _ => return None,
    };
    match sqlx.as_ref() {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => Some(Outage::Unavailable),
        Sqlx::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            if d.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                .is_some()
            {
                // SQLite: the extended result code, its primary code in the low byte.
                return match code.parse::<u32>().unwrap_or(0) & 0xff {
                    13 => Some(Outage::StorageFull),
                    // IOERR, CANTOPEN, READONLY, CORRUPT-free I/O trouble.
                    10 | 14 | 8 => Some(Outage::Unavailable),
                    _ => None,
                };
            }
            match code.as_str() {
                "53100" => Some(Outage::StorageFull),
                c if c.starts_with("53") || c.starts_with("08") || c.starts_with("58") => {
                    Some(Outage::Unavailable)
                }
                "57P01" | "57P02" | "57P03" | "25006" => Some(Outage::Unavailable),
                _ => None,
            }
        }
        _ => None,
    }
}
