//! Mailroom's REST API: an actix-web app over the core store, and its OpenAPI document.

pub mod body;
pub mod error;
pub mod extract;
pub mod fallback;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod routes;
mod state;

pub use state::AppState;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use metrics::Metrics;
use std::net::TcpListener;
use utoipa_swagger_ui::SwaggerUi;

/// Starts the HTTP server on `listener`. The returned [`Server`] runs until stopped through its
/// handle; it installs no signal handlers (the binary owns shutdown).
pub fn start(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let metrics = Metrics::new().map_err(std::io::Error::other)?;
    let _max_body = state.config.api.max_body_bytes;
    let workers = state.config.api.workers;
    let state = web::Data::new(state);
    let metrics = web::Data::new(metrics);
    let doc = openapi::document();
    let routes = web::Data::new(fallback::Routes::from_openapi(&doc));
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .app_data(routes.clone())
            .app_data(web::PathConfig::default().error_handler(error::path_error))
            .wrap(actix_web::middleware::from_fn(middleware::request_context))
            .configure(routes::configure)
            .service(web::resource("/docs").get(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header(("Location", "/docs/"))
                    .finish()
            }))
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", doc.clone()))
            .default_service(web::to(fallback::not_routed))
    })
    .disable_signals()
    .shutdown_timeout(30)
    .listen(listener)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.run())
}
