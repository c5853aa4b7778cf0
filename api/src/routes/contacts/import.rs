use super::BookQuery;
use crate::body::Query;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use mailroom_core::auth::Scope;
use mailroom_core::contacts::format::{MAX_IMPORT_BYTES, parse_csv, parse_vcards};
use serde::Serialize;
use utoipa::ToSchema;

/// One refused row.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportError {
    /// The card's number (vCard) or the data row's number after the header (CSV), from 1.
    pub row: usize,
    /// Why.
    pub message: String,
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResponse {
    /// Contacts stored.
    pub imported: usize,
    /// Rows refused; the others were stored, and no row is ever stored in part.
    pub errors: Vec<ImportError>,
}

/// Imports contacts into a book: `text/vcard` (vCard 3.0 or 4.0) or `text/csv` (a header row
/// naming the columns; `full_name,given_name,family_name,emails,phones,organization,title,notes,labels`
/// and common spreadsheet names). At most 10 MiB.
#[utoipa::path(post, path = "/v1/contacts/import", tag = "contacts", params(BookQuery),
    request_body(content = String, content_type = "text/vcard"), responses(
    (status = 200, body = ImportResponse),
    (status = 400, description = "`invalid_import`: not vCard/CSV at all, or not UTF-8", body = Problem, content_type = "application/problem+json"),
    (status = 413, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/contacts/import")]
pub async fn import(
    auth: Authed,
    req: HttpRequest,
    book: Query<BookQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::ContactsWrite)?;
    let book = book.book(&auth)?;
    let essence = crate::routes::media_type(&req);
    let csv = match essence.as_str() {
        "text/vcard" | "text/x-vcard" | "text/directory" => false,
        "text/csv" => true,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send text/vcard or text/csv",
            ));
        }
    };
    let bytes = crate::routes::read_body(body, MAX_IMPORT_BYTES, "an import").await?;
    let text = String::from_utf8(bytes).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_import",
            "the file is not UTF-8",
        )
    })?;
    let rows = if csv {
        parse_csv(&text)
    } else {
        parse_vcards(&text)
    }
    .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid_import", m))?;
    let report = store.import_contacts(book, rows).await?;
    Ok(HttpResponse::Ok().json(ImportResponse {
        imported: report.imported,
        errors: report
            .errors
            .into_iter()
            .map(|e| ImportError {
                row: e.row,
                message: e.message,
            })
            .collect(),
    }))
}
