//! Liveness, readiness and metrics.

use crate::AppState;
use crate::metrics::Metrics;
use actix_web::{HttpResponse, get, web};
use mailroom_core::health::Part;
use serde::Serialize;
use utoipa::ToSchema;

/// Health status.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness and what it rests on.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ok`, `degraded` (an optional part such as Redis is down: everything works, rate
    /// limits count per process and live notifications pause) or `unavailable`.
    pub status: &'static str,
    /// On 503: the first part that is down (`database_unavailable`, `writes_failing`,
    /// `disk_low`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// Each part: `database`, `writes`, `disk`, `redis`.
    #[schema(value_type = Object)]
    pub checks: serde_json::Map<String, serde_json::Value>,
}

/// Readiness: 200 while the database answers, takes writes and the data directory has room;
/// 503 otherwise. Each part's state (since when it is down, how many operations failed, the
/// latest error) is in `checks`.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Readiness),
    (status = 503, description = "a part the process needs is down", body = Readiness),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let health = state.health();
    // Look now rather than wait for the monitor's next round.
    match state.ping_database().await {
        Ok(()) => health.ok(Part::Database),
        Err(e) => health.failed(Part::Database, &e),
    }
    // (Reports to the health state itself.)
    let _ = state.limiter.ping().await;
    let report = health.report();
    let mut checks = serde_json::Map::new();
    for (part, status) in &report {
        if *part == Part::Redis && !state.limiter.is_redis() {
            continue;
        }
        if *part == Part::Disk && state.config.storage.min_free_bytes == 0 {
            continue;
        }
        checks.insert(part.name().into(), serde_json::json!(status));
    }
    let down = |p: Part| report.iter().any(|(q, s)| *q == p && s.status != "ok");
    let code = [
        (Part::Database, "database_unavailable"),
        (Part::Writes, "writes_failing"),
        (Part::Disk, "disk_low"),
    ]
    .into_iter()
    .find(|(p, _)| down(*p))
    .map(|(_, c)| c);
    let body = Readiness {
        status: match (code, down(Part::Redis)) {
            (Some(_), _) => "unavailable",
            (None, true) => "degraded",
            (None, false) => "ok",
        },
        code,
        checks,
    };
    let mut res = if code.is_some() {
        HttpResponse::ServiceUnavailable()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header(("Cache-Control", "no-store")).json(body)
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(m: web::Data<Metrics>, state: web::Data<AppState>) -> HttpResponse {
    m.set_health(state.health());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(m.render())
}
