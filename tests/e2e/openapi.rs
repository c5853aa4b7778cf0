//! The OpenAPI document follows the code: the committed file equals the generated one, and
//! every route the API registers is documented (and nothing else).

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn committed_openapi_json_equals_the_generated_document() {
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json"))
            .unwrap();
    assert!(
        committed == mailroom_api::openapi::json(),
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
    );
}

/// (METHOD, path) of every actix route attribute in the API's route handlers.
fn registered_routes() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("api/src/routes")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines().map(str::trim) {
                for method in ["get", "post", "put", "patch", "delete"] {
                    if let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) {
                        let route = rest.split('"').next().unwrap();
                        out.insert((method.to_uppercase(), route.to_string()));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_route_is_in_the_document_and_every_documented_route_exists() {
    let doc: serde_json::Value = serde_json::from_str(&mailroom_api::openapi::json()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let registered = registered_routes();
    assert!(
        registered.len() >= 20,
        "route scan found only {registered:?}"
    );
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document: {undocumented:?}"
    );
    assert!(
        phantom.is_empty(),
        "documented routes that do not exist: {phantom:?}"
    );
    assert_eq!(doc["openapi"], "3.1.0");
}

/// Every status a route can answer is documented: bad input and body limits where a body is
/// read, 401/403 where a token is taken, 404 where the path names an object, 500/503 under /v1.
#[test]
fn every_operation_documents_the_statuses_it_can_answer() {
    let doc: serde_json::Value = serde_json::from_str(&mailroom_api::openapi::json()).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let codes: Vec<&str> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let has = |c: &str| codes.contains(&c);
            let at = format!("{method} {path}: {codes:?}");
            if path.starts_with("/v1/") {
                assert!(has("500") && has("503"), "{at}");
            }
            if op.get("requestBody").is_some() {
                assert!(has("400") && has("413") && has("415"), "{at}");
            }
            if op["security"].to_string().contains("bearer") {
                assert!(has("401"), "{at}");
            }
            if path.contains('{') {
                assert!(has("404"), "{at}");
            }
            checked += 1;
        }
    }
    assert!(checked > 80, "{checked}");
}
