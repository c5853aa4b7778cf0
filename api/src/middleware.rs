//! Request context: a request id on every request and response, a tracing span, access logs and
//! Prometheus metrics.

use crate::AppState;
use crate::error::ApiError;
use crate::metrics::Metrics;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use std::time::Instant;
use tracing::Instrument;

/// The request id header, accepted from a trusted front proxy and always sent back.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled (empty outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// The request id, stored in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable_id(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Middleware: request id, span, access log and metrics.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let span = tracing::info_span!("http", request_id = %id, %method, path = %req.path());
    let start = Instant::now();
    let mut res = REQUEST_ID
        .scope(id.clone(), next.call(req))
        .instrument(span.clone())
        .await?;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    if let Some(m) = metrics {
        m.observe(&method, &route, status, elapsed);
    }
    // A storage outage is logged once by the health state, not once per request.
    let outage = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .and_then(|e| e.outage().cloned());
    if let Some((part, error)) = &outage
        && let Some(state) = res.request().app_data::<web::Data<AppState>>()
    {
        state.health().failed(*part, error);
    }
    let probe = matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics");
    span.in_scope(|| {
        if probe {
            // Load balancers and scrapers ask every few seconds; their answers are in metrics.
            tracing::debug!(status, elapsed_ms = elapsed.as_millis() as u64, "request");
        } else if outage.is_some() {
            tracing::info!(
                status,
                elapsed_ms = elapsed.as_millis() as u64,
                "request refused: storage outage"
            );
        } else if status >= 500 {
            tracing::error!(
                status,
                elapsed_ms = elapsed.as_millis() as u64,
                "request failed"
            );
        } else {
            tracing::info!(status, elapsed_ms = elapsed.as_millis() as u64, "request");
        }
    });
    Ok(res)
}
