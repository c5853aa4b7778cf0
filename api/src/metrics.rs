//! Prometheus metrics of the API.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::time::Duration;

/// The API's metrics registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    up: IntGaugeVec,
    failures: IntGaugeVec,
}

impl Metrics {
    /// A registry with the HTTP metrics registered.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "mailroom_http_requests_total",
                "HTTP requests by method, route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "mailroom_http_request_duration_seconds",
                "HTTP request latency by method and route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let up = IntGaugeVec::new(
            Opts::new(
                "mailroom_dependency_up",
                "1 while a part works, 0 during an outage (database, writes, disk, redis)",
            ),
            &["part"],
        )?;
        let failures = IntGaugeVec::new(
            Opts::new(
                "mailroom_dependency_outage_failures",
                "operations that failed during the current outage of a part",
            ),
            &["part"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(up.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            up,
            failures,
        })
    }

    /// Counts one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    /// Sets the health gauges from the health state.
    pub fn set_health(&self, health: &mailroom_core::health::Health) {
        for (part, status) in health.report() {
            self.up
                .with_label_values(&[part.name()])
                .set(i64::from(status.status == "ok"));
            self.failures
                .with_label_values(&[part.name()])
                .set(status.failures.unwrap_or(0) as i64);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
