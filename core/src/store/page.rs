//! Cursor pagination. Ids are UUIDv7, so id order is creation order and the cursor is simply
//! the last id of the page, encoded so clients treat it as opaque.

use crate::error::{Error, Result};
use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Largest page a client may ask for.
pub const MAX_LIMIT: u64 = 200;
/// Page size when none is asked for.
pub const DEFAULT_LIMIT: u64 = 50;

/// What page the client asked for.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// Items per page, 1 to 200.
    pub limit: u64,
    /// Continue after this id.
    pub after: Option<Uuid>,
}

impl PageRequest {
    /// Parses `?limit=&cursor=`; a bad value is a validation error naming the field.
    pub fn parse(limit: Option<u64>, cursor: Option<&str>) -> Result<Self> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after =
            match cursor {
                None | Some("") => None,
                Some(c) => Some(decode(c).ok_or_else(|| {
                    Error::invalid("cursor", "is not a cursor returned by this API")
                })?),
            };
        Ok(Self { limit, after })
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items, in list order.
    pub items: Vec<T>,
    /// Pass as `?cursor=` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched rows: the extra row only says more exist.
    pub(crate) fn from_rows(mut rows: Vec<T>, limit: u64, id: impl Fn(&T) -> Uuid) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| encode(id(r)))
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }

    /// Converts every item.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// Fetches one page of `q` in id order (`newest_first`: descending), after the cursor.
pub(crate) async fn fetch_page<E, C>(
    c: &C,
    mut q: sea_orm::Select<E>,
    id: E::Column,
    page: PageRequest,
    newest_first: bool,
    id_of: impl Fn(&E::Model) -> Uuid,
) -> Result<Page<E::Model>>
where
    E: sea_orm::EntityTrait,
    C: sea_orm::ConnectionTrait,
{
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    if let Some(after) = page.after {
        q = q.filter(if newest_first {
            id.lt(after)
        } else {
            id.gt(after)
        });
    }
    let q = if newest_first {
        q.order_by_desc(id)
    } else {
        q.order_by_asc(id)
    };
    let rows = q.limit(page.limit + 1).all(c).await?;
    Ok(Page::from_rows(rows, page.limit, id_of))
}

/// A page of a date-ordered list (messages, threads, search results): the cursor is the
/// position (date, id) of the last item of the previous page, opaque to clients.
#[derive(Debug, Clone, Copy)]
pub struct DatePage {
    /// Items per page, 1 to 200.
    pub limit: u64,
    /// Continue after this position.
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

impl DatePage {
    /// Parses `?limit=&cursor=` like [`PageRequest::parse`].
    pub fn parse(limit: Option<u64>, cursor: Option<&str>) -> Result<Self> {
        let PageRequest { limit, .. } = PageRequest::parse(limit, None)?;
        let after =
            match cursor {
                None | Some("") => None,
                Some(c) => Some(decode_position(c).ok_or_else(|| {
                    Error::invalid("cursor", "is not a cursor returned by this API")
                })?),
            };
        Ok(Self { limit, after })
    }

    /// The cursor that continues after `(date, id)`. The date keeps every digit the database
    /// does: SQLite stores nanoseconds, and a cursor cut to microseconds would skip the rows
    /// that share the last row's microsecond but sort after it (it happens: deliveries woken
    /// by one group commit get their dates within a microsecond of each other).
    pub fn cursor_at(date: DateTime<Utc>, id: Uuid) -> String {
        let mut b = date.timestamp().to_be_bytes().to_vec();
        b.extend_from_slice(&date.timestamp_subsec_nanos().to_be_bytes());
        b.extend_from_slice(id.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    }
}

/// Reads a position: seconds, nanoseconds and id (28 bytes), or the microseconds and id
/// (24 bytes) of cursors handed out before nanoseconds were kept.
fn decode_position(s: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    let (date, id) = match b.len() {
        28 => {
            let (secs, rest) = b.split_first_chunk::<8>()?;
            let (nanos, id) = rest.split_first_chunk::<4>()?;
            let date =
                DateTime::from_timestamp(i64::from_be_bytes(*secs), u32::from_be_bytes(*nanos));
            (date, id)
        }
        24 => {
            let (micros, id) = b.split_first_chunk::<8>()?;
            (
                DateTime::from_timestamp_micros(i64::from_be_bytes(*micros)),
                id,
            )
        }
        _ => return None,
    };
    Some((date?, Uuid::from_slice(id).ok()?))
}

fn encode(id: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode(s: &str) -> Option<Uuid> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    Uuid::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_bounds() {
        let id = Uuid::now_v7();
        let p = PageRequest::parse(Some(10), Some(&encode(id))).unwrap();
        assert_eq!(p.after, Some(id));
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(MAX_LIMIT + 1), None).is_err());
        assert!(PageRequest::parse(None, Some("!!")).is_err());
        let page = Page::from_rows(vec![1, 2, 3], 2, |_| id);
        assert_eq!(page.items, vec![1, 2]);
        assert!(page.next_cursor.is_some());
        assert!(Page::from_rows(vec![1, 2], 2, |_| id).next_cursor.is_none());
    }

    #[test]
    fn date_cursor_round_trip() {
        let id = Uuid::now_v7();
        // Nanoseconds survive: SQLite keeps them, so a cursor must too.
        let at = DateTime::from_timestamp(1_764_000_000, 123_456_789).unwrap();
        let p = DatePage::parse(None, Some(&DatePage::cursor_at(at, id))).unwrap();
        assert_eq!(p.after, Some((at, id)));
        let before_1970 = DateTime::from_timestamp(-86_400, 5).unwrap();
        let p = DatePage::parse(None, Some(&DatePage::cursor_at(before_1970, id))).unwrap();
        assert_eq!(p.after, Some((before_1970, id)));
        // A cursor of the earlier, microsecond form still reads.
        let mut old = 1_764_000_000_123_456i64.to_be_bytes().to_vec();
        old.extend_from_slice(id.as_bytes());
        let old = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(old);
        let at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        assert_eq!(
            DatePage::parse(None, Some(&old)).unwrap().after,
            Some((at, id))
        );
        assert!(DatePage::parse(None, Some(&encode(id))).is_err());
        assert!(DatePage::parse(Some(500), None).is_err());
    }
}
