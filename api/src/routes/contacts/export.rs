use super::BookQuery;
use crate::body::Query;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get};
use mailroom_core::auth::Scope;
use mailroom_core::contacts::format::{CSV_HEADER, write_csv_row, write_vcard};
use mailroom_core::store::{Book, PageRequest, card_of};
use serde::Deserialize;
use utoipa::IntoParams;

/// Export format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `vcard` (vCard 4.0, default) or `csv` (with a header row).
    pub format: Option<String>,
}

/// Rows read from the database per chunk of the response.
const CHUNK: u64 = 200;

/// Exports a book as vCard 4.0 or CSV. The response streams page by page, so a book of any
/// size is exported in constant memory.
#[utoipa::path(get, path = "/v1/contacts/export", tag = "contacts", params(BookQuery, ExportQuery), responses(
    (status = 200, description = "text/vcard or text/csv", content_type = "text/vcard", body = String),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/contacts/export")]
pub async fn export(
    auth: Authed,
    book: Query<BookQuery>,
    q: Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::ContactsRead)?;
    let book: Book = book.book(&auth)?;
    let csv = match q.format.as_deref().unwrap_or("vcard") {
        "vcard" => false,
        "csv" => true,
        _ => return Err(mailroom_core::Error::invalid("format", "must be vcard or csv").into()),
    };
    // The first page is read now, so an unreachable book is an error status, not a broken stream.
    let first = store
        .list_contacts(
            book,
            None,
            PageRequest {
                limit: CHUNK,
                after: None,
            },
        )
        .await?;
    let render = move |rows: &[mailroom_core::store::entities::contacts::Model], header: bool| {
        let mut out = String::new();
        if csv && header {
            out.push_str(CSV_HEADER);
            out.push_str("\r\n");
        }
        for c in rows {
            if csv {
                write_csv_row(&card_of(c), &mut out)
            } else {
                write_vcard(&card_of(c), &mut out)
            }
        }
        Bytes::from(out)
    };
    let head = render(&first.items, true);
    let after = first
        .items
        .last()
        .map(|c| c.id)
        .filter(|_| first.next_cursor.is_some());
    let rest = futures_util::stream::unfold((store, after), move |(store, after)| async move {
        let after = after?;
        match store
            .list_contacts(
                book,
                None,
                PageRequest {
                    limit: CHUNK,
                    after: Some(after),
                },
            )
            .await
        {
            Ok(page) => {
                let next = page
                    .items
                    .last()
                    .map(|c| c.id)
                    .filter(|_| page.next_cursor.is_some());
                Some((
                    Ok::<Bytes, actix_web::Error>(render(&page.items, false)),
                    (store, next),
                ))
            }
            Err(e) => {
                tracing::error!(error = %e, "contact export failed mid-stream");
                Some((
                    Err(actix_web::error::ErrorInternalServerError("export failed")),
                    (store, None),
                ))
            }
        }
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<Bytes, actix_web::Error>(head) }),
        rest,
    );
    let (ctype, file) = if csv {
        ("text/csv; charset=utf-8", "contacts.csv")
    } else {
        ("text/vcard; charset=utf-8", "contacts.vcf")
    };
    Ok(HttpResponse::Ok()
        .content_type(ctype)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{file}\""),
        ))
        .streaming(body))
}
