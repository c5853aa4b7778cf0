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
Errors are `application/problem+json` with a stable `code`. Lists are paginated with `?limit=&cursor=`."
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
    modifiers(&Security),
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
        (name = "folders", description = "A mailbox's folders"),
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
