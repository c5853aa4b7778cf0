//! IMAP subscriptions. A folder's subscription is its `subscribed` column; a subscription to a
//! name no folder has (the folder was deleted, or never existed: RFC 9051 §6.3.7 allows both)
//! is a row of `subscriptions`. A name is in one place at a time: deleting a subscribed folder
//! moves its subscription to a row, creating a folder takes the row back.

use super::entities::{folders, subscriptions};
use super::{TenantStore, Tx};
use crate::error::{Error, Result};
use crate::ids::new_id;
use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

/// Subscriptions to names without a folder one mailbox may hold.
pub const MAX_SUBSCRIPTIONS: usize = 1000;

impl TenantStore {
    /// Every name the mailbox is subscribed to, with whether a folder has it.
    pub async fn subscribed_names(&self, mailbox: Uuid) -> Result<Vec<(String, bool)>> {
        let db = self.store.db();
        self.mailbox_on(db, mailbox).await?;
        let mut out: Vec<(String, bool)> = self
            .find::<folders::Entity>()
            .filter(folders::Column::MailboxId.eq(mailbox))
            .filter(folders::Column::Subscribed.eq(true))
            .all(db)
            .await?
            .into_iter()
            .map(|f| (f.name, true))
            .collect();
        out.extend(
            self.find::<subscriptions::Entity>()
                .filter(subscriptions::Column::MailboxId.eq(mailbox))
                .all(db)
                .await?
                .into_iter()
                .map(|s| (s.name, false)),
        );
        out.sort();
        Ok(out)
    }

    /// IMAP SUBSCRIBE / UNSUBSCRIBE of a name (a folder's path, or any valid name).
    pub async fn set_subscription(&self, mailbox: Uuid, name: &str, on: bool) -> Result<()> {
        let name = super::normalize_folder_name(name).map_err(|e| Error::Validation(vec![e]))?;
        let tx = self.store.tx_quiet().await?;
        self.mailbox_on(&*tx, mailbox).await?;
        let folder = self
            .find::<folders::Entity>()
            .filter(folders::Column::MailboxId.eq(mailbox))
            .filter(folders::Column::Name.eq(name.clone()))
            .one(&*tx)
            .await?;
        if let Some(f) = folder {
            self.update_many::<folders::Entity>()
                .col_expr(folders::Column::Subscribed, Expr::value(on))
                .filter(folders::Column::Id.eq(f.id))
                .exec(&*tx)
                .await?;
        } else if on {
            let held = self
                .find::<subscriptions::Entity>()
                .filter(subscriptions::Column::MailboxId.eq(mailbox))
                .count(&*tx)
                .await?;
            if held >= MAX_SUBSCRIPTIONS as u64 {
                return Err(Error::conflict(
                    "too_many_subscriptions",
                    format!(
                        "a mailbox may subscribe to {MAX_SUBSCRIPTIONS} names without a folder"
                    ),
                ));
            }
            self.keep_subscriptions(&tx, mailbox, std::slice::from_ref(&name))
                .await?;
        } else {
            self.delete_many::<subscriptions::Entity>()
                .filter(subscriptions::Column::MailboxId.eq(mailbox))
                .filter(subscriptions::Column::Name.eq(name))
                .exec(&*tx)
                .await?;
        }
        tx.commit().await
    }

    /// Records subscriptions to names that have no folder (any already there stay).
    pub(crate) async fn keep_subscriptions(
        &self,
        tx: &Tx,
        mailbox: Uuid,
        names: &[String],
    ) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        subscriptions::Entity::insert_many(names.iter().map(|n| subscriptions::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            mailbox_id: Set(mailbox),
            name: Set(n.clone()),
            created_at: Set(now),
        }))
        .on_conflict(
            OnConflict::columns([
                subscriptions::Column::MailboxId,
                subscriptions::Column::Name,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&**tx)
        .await?;
        Ok(())
    }

    /// A new folder takes back the subscription its name had.
    pub(crate) async fn adopt_subscription(
        &self,
        tx: &Tx,
        folder: folders::Model,
    ) -> Result<folders::Model> {
        let gone = self
            .delete_many::<subscriptions::Entity>()
            .filter(subscriptions::Column::MailboxId.eq(folder.mailbox_id))
            .filter(subscriptions::Column::Name.eq(folder.name.clone()))
            .exec(&**tx)
            .await?
            .rows_affected;
        if gone == 0 || folder.subscribed {
            return Ok(folder);
        }
        self.update_many::<folders::Entity>()
            .col_expr(folders::Column::Subscribed, Expr::value(true))
            .filter(folders::Column::Id.eq(folder.id))
            .exec(&**tx)
            .await?;
        Ok(folders::Model {
            subscribed: true,
            ..folder
        })
    }
}
