//! Request bodies and query strings: [`Json`] and [`Query`], the one way handlers read them.
//!
//! Both name the offending field of a bad request by its path (`owner.email`, `ids[3]`), with
//! serde's own words for what was wrong and no parser position: `{"email": 42}` is refused as
//! field `email`, "invalid type: integer `42`, expected a string". A JSON body must be an
//! object (an array or a number is refused, even where every field is optional); an empty body
//! reads as `{}`, so a body whose fields are all optional may be left out, and a required field
//! left out is reported by name.

use crate::AppState;
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use mailroom_core::FieldError;
use serde::de::DeserializeOwned;

/// A JSON object body, deserialised into `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(1024 * 1024, |s| s.config.api.max_body_bytes);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(is_json_media_type);
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(too_large(limit));
            }
            let mut bytes = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "malformed_body",
                        format!("the body could not be read: {e}"),
                    )
                })?;
                if bytes.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                bytes.extend_from_slice(&chunk);
            }
            let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
                b"{}"
            } else if json_type != Some(true) {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as application/json",
                ));
            } else {
                &bytes
            };
            parse_json(text).map(Json)
        })
    }
}

/// Parses a JSON object body into `T`, naming the offending field on failure.
pub fn parse_json<T: DeserializeOwned>(text: &[u8]) -> Result<T, ApiError> {
    let first = text.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first.is_some_and(|b| b != b'{') {
        // Valid JSON that is not an object, or not JSON at all.
        return Err(match serde_json::from_slice::<serde_json::Value>(text) {
            Ok(v) => ApiError::invalid(
                "invalid_body",
                format!("the body must be a JSON object, not {}", kind_of(&v)),
                vec![FieldError::new("body", "expected a JSON object")],
            ),
            Err(e) => malformed(&e),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            return malformed(inner);
        }
        let message = without_position(&inner.to_string());
        field_error(e.path().to_string(), message)
    })?;
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

/// A query string, deserialised into `T`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    /// The value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

/// Parses a query string into `T`, naming the offending parameter on failure.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        let mut field = e.path().to_string();
        if field == "." {
            field = backticked(&message).unwrap_or_else(|| "query".into());
        }
        ApiError::invalid(
            "invalid_query",
            format!("query parameter {field}: {message}"),
            vec![FieldError::new(field, message)],
        )
    })
}

/// A field-level 400: `unknown_field` for a field the endpoint does not take, `invalid_body`
/// otherwise. `path` is serde_path_to_error's (`.` for the top level).
fn field_error(path: String, message: String) -> ApiError {
    // A missing field is reported at its parent's path (an unknown one at its own): name the
    // field itself.
    let named = (message.starts_with("unknown field") || message.starts_with("missing field"))
        .then(|| backticked(&message))
        .flatten();
    let field = match (path.as_str(), named) {
        (".", Some(n)) => n,
        (".", None) => "body".to_string(),
        (p, Some(n)) if p != n && !p.ends_with(&format!(".{n}")) => format!("{p}.{n}"),
        (p, _) => p.to_string(),
    };
    let code = if message.starts_with("unknown field") {
        "unknown_field"
    } else {
        "invalid_body"
    };
    ApiError::invalid(
        code,
        format!("{field}: {message}"),
        vec![FieldError::new(field, message)],
    )
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "malformed_json",
        format!("the body is not valid JSON: {e}"),
    )
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the body is larger than the limit of {limit} bytes"),
    )
}

/// `application/json` or any `…/…+json`, with or without parameters.
fn is_json_media_type(v: &str) -> bool {
    let essence = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || (essence.contains('/') && essence.ends_with("+json"))
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// serde_json's message without its " at line 1 column 12" suffix.
fn without_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(" column ") => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}

/// The first name between backticks in a serde message ("unknown field `x`").
pub(crate) fn backticked(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Owner {
        email: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: Option<String>,
        owner: Option<Owner>,
        ids: Option<Vec<u32>>,
    }

    fn refusal(text: &str) -> (String, String, String) {
        let e = parse_json::<Body>(text.as_bytes()).unwrap_err();
        let resp = actix_web::ResponseError::error_response(&e);
        assert_eq!(resp.status(), 400, "{text}");
        let field = e
            .fields()
            .first()
            .map(|f| f.field.clone())
            .unwrap_or_default();
        let message = e
            .fields()
            .first()
            .map(|f| f.message.clone())
            .unwrap_or_default();
        (e.code().to_string(), field, message)
    }

    #[test]
    fn errors_name_the_field_by_its_path() {
        let (code, field, message) = refusal(r#"{"owner": {"email": 42}}"#);
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("invalid_body", "owner.email")
        );
        assert_eq!(message, "invalid type: integer `42`, expected a string");
        assert_eq!(refusal(r#"{"ids": [1, "x"]}"#).1, "ids[1]");
        let (code, field, _) = refusal(r#"{"nmae": "x"}"#);
        assert_eq!((code.as_str(), field.as_str()), ("unknown_field", "nmae"));
        assert_eq!(refusal(r#"{"owner": {"e": "x"}}"#).1, "owner.e");
        assert_eq!(refusal(r#"{"owner": {}}"#).1, "owner.email");
    }

    #[test]
    fn only_objects_are_bodies() {
        for text in ["[]", "[{\"name\": \"x\"}]", "42", "\"x\"", "null", "true"] {
            let (code, field, _) = refusal(text);
            assert_eq!(
                (code.as_str(), field.as_str()),
                ("invalid_body", "body"),
                "{text}"
            );
        }
        assert_eq!(
            parse_json::<Body>(b"{\"name\": \"x\"} trailing")
                .unwrap_err()
                .code(),
            "malformed_json"
        );
        assert_eq!(
            parse_json::<Body>(b"{\"name\": ").unwrap_err().code(),
            "malformed_json"
        );
        assert!(parse_json::<Body>(b" {} ").is_ok());
    }

    #[test]
    fn query_errors_name_the_parameter() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Q {
            limit: Option<u32>,
        }
        let e = parse_query::<Q>("limit=abc").unwrap_err();
        assert_eq!(e.code(), "invalid_query");
        assert_eq!(e.fields()[0].field, "limit");
        assert!(parse_query::<Q>("limit=5").is_ok());
    }

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/merge-patch+json"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("+json"));
    }
}
