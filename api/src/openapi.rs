//! The OpenAPI 3.1 document, generated from the handlers' annotations. `mailroom openapi`
//! prints it, `/openapi.json` serves it, and `openapi/openapi.json` in the repository must equal
//! it (a test checks).

use crate::routes;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Mailroom API",
        description = "Multi-tenant mail backend. Authenticate with `Authorization: Bearer <access token or API key>`. \
Errors are `application/problem+json` with a stable `code`. Lists are paginated with `?limit=&cursor=`. \
A known path asked with a method it does not serve answers 405 `method_not_allowed` with `Allow`."
    ),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::health::metrics,
        routes::auth::login::login,
        routes::auth::refresh::refresh,
        routes::auth::logout::logout,
        routes::me::me,
        routes::me::change_password,
        routes::tenants::list::list,
        routes::tenants::create::create,
        routes::tenants::get::get,
        routes::tenants::update::update,
        routes::tenants::delete::delete,
        routes::users::list::list,
        routes::users::create::create,
        routes::users::get::get,
        routes::users::update::update,
        routes::users::delete::delete,
        routes::api_keys::list::list,
        routes::api_keys::create::create,
        routes::api_keys::get::get,
        routes::api_keys::delete::delete,
        routes::audit::list::list,
        routes::domains::list::list,
        routes::domains::create::create,
        routes::domains::get::get,
        routes::domains::update::update,
        routes::domains::delete::delete,
        routes::domains::dns_records::dns_records,
        routes::domains::verify::verify,
        routes::domains::rotate_dkim::rotate_dkim,
        routes::events::list::list,
        routes::mailboxes::list::list,
        routes::mailboxes::create::create,
        routes::mailboxes::get::get,
        routes::mailboxes::update::update,
        routes::mailboxes::delete::delete,
        routes::mailboxes::password::set_password,
        routes::mailboxes::app_passwords::list,
        routes::mailboxes::app_passwords::create,
        routes::mailboxes::app_passwords::revoke,
        routes::messages::list::list,
        routes::messages::batch::batch,
        routes::messages::update::update,
        routes::messages::delete::delete,
        routes::messages::get::get,
        routes::messages::attachment::attachment,
        routes::messages::raw::raw,
        routes::messages::import::import,
        routes::sending::send,
        routes::sending::outbox,
        routes::sending::deliveries,
        routes::drafts::create,
        routes::drafts::update,
        routes::drafts::send,
        routes::spam::settings,
        routes::spam::update_settings,
        routes::spam::check,
        routes::spam::train,
        routes::spam::lists,
        routes::spam::add_entry,
        routes::spam::remove_entry,
        routes::spam::quarantine,
        routes::spam::release,
        routes::spam::delete_held,
        routes::rules::list,
        routes::rules::create,
        routes::rules::get_one,
        routes::rules::update,
        routes::rules::remove,
        routes::rules::reorder,
        routes::rules::test,
        routes::rules::sieve_export,
        routes::rules::sieve_import,
        routes::suppressions::list,
        routes::suppressions::create,
        routes::suppressions::remove,
        routes::messages::search::search,
        routes::threads::list::list,
        routes::threads::get::get,
        routes::folders::list::list,
        routes::folders::create::create,
        routes::folders::get::get,
        routes::folders::update::update,
        routes::folders::delete::delete,
        routes::aliases::list::list,
        routes::aliases::create::create,
        routes::aliases::get::get,
        routes::aliases::update::update,
        routes::aliases::delete::delete,
        routes::groups::list::list,
        routes::groups::create::create,
        routes::groups::get::get,
        routes::groups::update::update,
        routes::groups::delete::delete,
        routes::routing::resolve::resolve,
        routes::mailboxes::vacation::get,
        routes::mailboxes::vacation::set,
        routes::mailboxes::signatures::list,
        routes::mailboxes::signatures::create,
        routes::mailboxes::signatures::get,
        routes::mailboxes::signatures::update,
        routes::mailboxes::signatures::remove,
        routes::mailboxes::identities::list,
        routes::mailboxes::identities::create,
        routes::mailboxes::identities::update,
        routes::mailboxes::identities::remove,
        routes::contacts::list::list,
        routes::contacts::create::create,
        routes::contacts::export::export,
        routes::contacts::import::import,
        routes::contacts::get::get,
        routes::contacts::update::update,
        routes::contacts::delete::delete,
    ),
    modifiers(&Security, &CommonResponses),
    tags(
        (name = "auth", description = "Login, tokens, the current principal"),
        (name = "tenants", description = "Tenants (platform admins)"),
        (name = "users", description = "People of a tenant"),
        (name = "api-keys", description = "Scoped API keys"),
        (name = "audit", description = "The audit log"),
        (name = "domains", description = "Custom domains, proved by DNS"),
        (name = "events", description = "What happened in the tenant (the domain events; `GET /v1/events`)"),
        (name = "mailboxes", description = "Mailboxes, passwords and app passwords"),
        (name = "messages", description = "Stored mail: lists, raw bytes, imports"),
        (name = "sending", description = "Sending mail and how its delivery stands"),
        (name = "folders", description = "A mailbox's folders"),
        (name = "spam", description = "The spam filter: settings, checking and teaching it"),
        (name = "rules", description = "Routing rules (filters) of the tenant, its domains and its mailboxes"),
        (name = "aliases", description = "Aliases, catch-alls, domain aliases and the address resolver"),
        (name = "groups", description = "Distribution lists"),
        (name = "signatures", description = "Signatures and identities (the addresses a mailbox sends as)"),
        (name = "contacts", description = "Personal address books and the shared directory; vCard and CSV"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "An access token from /v1/auth/login, or an API key (mrk_…)",
                        ))
                        .build(),
                ),
            );
        }
    }
}

/// Documents on every operation the statuses any route may answer, as shared responses:
/// 400 for bad input (a body or a query), 401 and 403 where a bearer token is taken, 404 where
/// the path names an object, 413 and 415 where a body is read, and 500 and 503 everywhere under
/// `/v1`. (A known path with a method it does not serve answers 405 with `Allow`.)
struct CommonResponses;

const COMMON: [(&str, &str, &str); 8] = [
    (
        "400",
        "BadRequest",
        "invalid input: `validation_failed`, `invalid_body`, `unknown_field`, `malformed_json`, `invalid_query`; `errors[]` names the fields",
    ),
    (
        "401",
        "Unauthenticated",
        "no valid credentials: `unauthenticated` (with `WWW-Authenticate: Bearer`)",
    ),
    (
        "403",
        "Forbidden",
        "the credentials do not allow this: `insufficient_scope`, `admin_required`, `tenant_suspended`, …",
    ),
    (
        "404",
        "NotFound",
        "no such object for these credentials (another tenant's object is the same): `not_found`",
    ),
    (
        "413",
        "PayloadTooLarge",
        "the body is larger than `api.max_body_bytes`: `payload_too_large`",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "the body is not of a type this route reads: `unsupported_media_type`",
    ),
    (
        "500",
        "InternalError",
        "a bug: `internal_error`, with the request id to quote",
    ),
    (
        "503",
        "ServiceUnavailable",
        "the storage is unavailable or full: `database_unavailable`, `storage_full` (with `Retry-After`)",
    ),
];

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        if let Some(c) = openapi.components.as_mut() {
            for (_, name, description) in COMMON {
                c.responses.insert(
                    name.into(),
                    RefOr::T(
                        ResponseBuilder::new()
                            .description(description)
                            .content(
                                "application/problem+json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("Problem")))
                                    .build(),
                            )
                            .build(),
                    ),
                );
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let api = path.starts_with("/v1/");
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let security = serde_json::to_value(&op.security).unwrap_or_default();
                let reqs = security.as_array().cloned().unwrap_or_default();
                let bearer = reqs.iter().any(|r| r.get("bearer").is_some());
                let optional = reqs
                    .iter()
                    .any(|r| r.as_object().is_some_and(|o| o.is_empty()));
                let params = op.parameters.as_deref().unwrap_or_default();
                let param_in = |want: ParameterIn| {
                    params.iter().any(|p| {
                        matches!(p, RefOr::T(p) if std::mem::discriminant(&p.parameter_in) == std::mem::discriminant(&want))
                    })
                };
                let mut wanted = Vec::new();
                if op.request_body.is_some() {
                    wanted.extend(["400", "413", "415"]);
                }
                if param_in(ParameterIn::Query) {
                    wanted.push("400");
                }
                if bearer {
                    wanted.push("401");
                    if !optional {
                        wanted.push("403");
                    }
                }
                if param_in(ParameterIn::Path) {
                    wanted.push("404");
                }
                if api {
                    wanted.extend(["500", "503"]);
                }
                for code in wanted {
                    if let Some((_, name, _)) = COMMON.iter().find(|(c, _, _)| *c == code) {
                        op.responses
                            .responses
                            .entry(code.to_string())
                            .or_insert_with(|| {
                                RefOr::Ref(Ref::new(format!("#/components/responses/{name}")))
                            });
                    }
                }
            }
        }
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as pretty JSON with a final newline, exactly as committed.
pub fn json() -> String {
    let mut s = document().to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}
