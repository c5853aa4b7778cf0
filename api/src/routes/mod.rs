//! Route handlers: one folder per resource, one file per verb.

pub mod aliases;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod contacts;
pub mod domains;
pub mod drafts;
pub mod events;
pub mod folders;
pub mod groups;
pub mod health;
pub mod mailboxes;
pub mod me;
pub mod messages;
pub mod routing;
pub mod rules;
pub mod sending;
pub mod spam;
pub mod suppressions;
pub mod tenants;
pub mod threads;
pub mod users;

use crate::error::ApiError;
use actix_web::HttpResponse;
use actix_web::http::header;
use mailroom_core::store::PageRequest;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

/// Registers every route.
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(auth::login::login)
        .service(auth::refresh::refresh)
        .service(auth::logout::logout)
        .service(me::me)
        .service(me::change_password)
        .service(tenants::list::list)
        .service(tenants::create::create)
        .service(tenants::get::get)
        .service(tenants::update::update)
        .service(tenants::delete::delete)
        .service(users::list::list)
        .service(users::create::create)
        .service(users::get::get)
        .service(users::update::update)
        .service(users::delete::delete)
        .service(api_keys::list::list)
        .service(api_keys::create::create)
        .service(api_keys::get::get)
        .service(api_keys::delete::delete)
        .service(audit::list::list)
        .service(domains::list::list)
        .service(domains::create::create)
        .service(domains::get::get)
        .service(domains::update::update)
        .service(domains::delete::delete)
        .service(domains::dns_records::dns_records)
        .service(domains::verify::verify)
        .service(domains::rotate_dkim::rotate_dkim)
        .service(events::list::list)
        .service(mailboxes::list::list)
        .service(mailboxes::create::create)
        .service(mailboxes::get::get)
        .service(mailboxes::update::update)
        .service(mailboxes::delete::delete)
        .service(mailboxes::password::set_password)
        .service(mailboxes::app_passwords::list)
        .service(mailboxes::app_passwords::create)
        .service(mailboxes::app_passwords::revoke)
        .service(messages::list::list)
        .service(messages::batch::batch)
        .service(messages::update::update)
        .service(messages::delete::delete)
        .service(messages::get::get)
        .service(messages::attachment::attachment)
        .service(messages::raw::raw)
        .service(messages::import::import)
        .service(sending::send)
        .service(sending::outbox)
        .service(sending::deliveries)
        .service(drafts::create)
        .service(drafts::update)
        .service(drafts::send)
        .service(spam::settings)
        .service(spam::update_settings)
        .service(spam::check)
        .service(spam::train)
        .service(spam::lists)
        .service(spam::add_entry)
        .service(spam::remove_entry)
        .service(spam::quarantine)
        .service(spam::release)
        .service(spam::delete_held)
        .service(rules::list)
        .service(rules::create)
        .service(rules::reorder)
        .service(rules::test)
        .service(rules::sieve_export)
        .service(rules::sieve_import)
        .service(rules::get_one)
        .service(rules::update)
        .service(rules::remove)
        .service(suppressions::list)
        .service(suppressions::create)
        .service(suppressions::remove)
        .service(messages::search::search)
        .service(threads::list::list)
        .service(threads::get::get)
        .service(folders::list::list)
        .service(folders::create::create)
        .service(folders::get::get)
        .service(folders::update::update)
        .service(folders::delete::delete)
        .service(aliases::list::list)
        .service(aliases::create::create)
        .service(aliases::get::get)
        .service(aliases::update::update)
        .service(aliases::delete::delete)
        .service(groups::list::list)
        .service(groups::create::create)
        .service(groups::get::get)
        .service(groups::update::update)
        .service(groups::delete::delete)
        .service(routing::resolve::resolve)
        .service(mailboxes::vacation::get)
        .service(mailboxes::vacation::set)
        .service(mailboxes::signatures::list)
        .service(mailboxes::signatures::create)
        .service(mailboxes::signatures::get)
        .service(mailboxes::signatures::update)
        .service(mailboxes::signatures::remove)
        .service(mailboxes::identities::list)
        .service(mailboxes::identities::create)
        .service(mailboxes::identities::update)
        .service(mailboxes::identities::remove)
        .service(contacts::list::list)
        .service(contacts::create::create)
        .service(contacts::export::export)
        .service(contacts::import::import)
        .service(contacts::get::get)
        .service(contacts::update::update)
        .service(contacts::delete::delete);
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Validates into a page request.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::parse(self.limit, self.cursor.as_deref())?)
    }
}

/// Reads a whole request body of at most `max` bytes (`413 payload_too_large` past it).
pub async fn read_body(
    mut body: actix_web::web::Payload,
    max: usize,
    what: &str,
) -> Result<Vec<u8>, ApiError> {
    use actix_web::http::StatusCode;
    use futures_util::StreamExt;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_body", e.to_string()))?;
        if bytes.len() + chunk.len() > max {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("{what} is at most {max} bytes"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The request's media type without parameters, lower case (`message/rfc822`); "" when none.
pub fn media_type(req: &actix_web::HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// 201 with a `Location` header and the created object.
pub fn created<T: Serialize>(location: String, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body)
}

/// Declares a list response type `{items, next_cursor}` for OpenAPI.
#[macro_export]
macro_rules! list_type {
    ($name:ident, $item:ty) => {
        /// One page of results.
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            /// The items of this page.
            pub items: Vec<$item>,
            /// Pass as `?cursor=` for the next page; null on the last page.
            pub next_cursor: Option<String>,
        }

        impl $name {
            /// Converts a store page.
            pub fn from_page<T>(
                p: mailroom_core::store::Page<T>,
                f: impl FnMut(T) -> $item,
            ) -> Self {
                let p = p.map(f);
                Self {
                    items: p.items,
                    next_cursor: p.next_cursor,
                }
            }
        }
    };
}
