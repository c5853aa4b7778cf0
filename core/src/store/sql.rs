//! Small SQL helpers the write paths share.

use super::Tx;
use crate::error::Result;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

/// Locks rows by id, in id order (`SELECT … ORDER BY id FOR UPDATE`).
pub(crate) async fn lock_in_order<E, C>(
    tx: &Tx,
    id: C,
    ids: impl Iterator<Item = &Uuid>,
) -> Result<()>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    super::scope::all_tenants::find::<E>()
        .select_only()
        .column(id)
        .filter(id.is_in(ids.copied()))
        .order_by_asc(id)
        .lock_exclusive()
        .into_tuple::<Uuid>()
        .all(&**tx)
        .await?;
    Ok(())
}

/// `($1::uuid, $2::bigint, …), (…)` for a Postgres `VALUES` list of (uuid, bigint…) rows, and
/// its parameters.
pub(crate) fn values_list<const N: usize>(
    rows: impl Iterator<Item = [sea_orm::Value; N]>,
) -> (String, Vec<sea_orm::Value>) {
    let mut sql = String::new();
    let mut params = Vec::new();
    for row in rows {
        if !params.is_empty() {
            sql.push_str(", ");
        }
        sql.push('(');
        for (i, v) in row.into_iter().enumerate() {
            params.push(v);
            let cast = if i == 0 { "uuid" } else { "bigint" };
            sql.push_str(&format!(
                "{}${}::{cast}",
                if i == 0 { "" } else { ", " },
                params.len()
            ));
        }
        sql.push(')');
    }
    (sql, params)
}
