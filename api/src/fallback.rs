//! The answer for requests no route took: 405 with `Allow` when the path exists under other
//! methods, 404 otherwise. The route table is the OpenAPI document, which a test keeps equal
//! to the registered routes.

use crate::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

/// Path templates (`/v1/users/{id}`) and the methods each answers.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    routes: Vec<(Vec<String>, Vec<String>)>,
}

impl Routes {
    /// From the OpenAPI document.
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let json = serde_json::to_value(doc).unwrap_or_default();
        let mut routes = Vec::new();
        if let Some(paths) = json.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in paths {
                let methods: Vec<String> = item
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_uppercase()).collect())
                    .unwrap_or_default();
                routes.push((path.split('/').map(str::to_string).collect(), methods));
            }
        }
        Self { routes }
    }

    /// The methods `path` answers (empty: no such path).
    pub fn allowed(&self, path: &str) -> Vec<String> {
        let segs: Vec<&str> = path.split('/').collect();
        let mut out: Vec<String> = self
            .routes
            .iter()
            .filter(|(t, _)| {
                t.len() == segs.len()
                    && t.iter()
                        .zip(&segs)
                        .all(|(a, b)| (a.starts_with('{') && !b.is_empty()) || a == b)
            })
            .flat_map(|(_, m)| m.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The default service.
pub async fn not_routed(req: HttpRequest, routes: actix_web::web::Data<Routes>) -> HttpResponse {
    let allowed = routes.allowed(req.path());
    if allowed.is_empty() {
        return ApiError::not_found("route_not_found").error_response();
    }
    let mut res = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed here; allowed: {}",
            req.method(),
            allowed.join(", ")
        ),
    )
    .error_response();
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&allowed.join(", ")) {
        res.headers_mut().insert(actix_web::http::header::ALLOW, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_segments() {
        let r = Routes::from_openapi(&crate::openapi::document());
        assert_eq!(r.allowed("/v1/users"), ["GET", "POST"]);
        assert_eq!(r.allowed("/v1/users/abc"), ["DELETE", "GET", "PATCH"]);
        assert!(r.allowed("/v1/users/abc/def").is_empty());
        assert!(r.allowed("/v1/users/").is_empty());
        assert!(r.allowed("/nope").is_empty());
    }
}
