//! A mailbox's folders, through the tenant-scoped store.
//!
//! Names are full paths with `/` between levels. `INBOX` is case-insensitive (as in IMAP), can
//! be neither renamed nor deleted, and a path under it is written `INBOX/…`.

use super::entities::{folders, mailboxes, messages};
use super::{TenantStore, Tx};
use crate::error::{Error, FieldError, Result};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use uuid::Uuid;

/// Folders a mailbox may hold.
pub const MAX_FOLDERS: u64 = 1000;
const MAX_LEVELS: usize = 20;

/// The special uses a folder may have (RFC 6154 attributes without the backslash, lower-case).
pub const SPECIAL_USES: [&str; 5] = ["sent", "drafts", "junk", "trash", "archive"];
const MAX_LEVEL_CHARS: usize = 255;
const MAX_PATH_CHARS: usize = 512;

/// Validates and normalises a folder path (`INBOX` in any case becomes `INBOX`).
pub fn normalize_folder_name(raw: &str) -> std::result::Result<String, FieldError> {
    let bad = |m: &str| FieldError::new("name", m);
    if raw.is_empty() || raw.chars().count() > MAX_PATH_CHARS {
        return Err(bad("must be 1-512 characters"));
    }
    let levels: Vec<&str> = raw.split('/').collect();
    if levels.len() > MAX_LEVELS {
        return Err(bad("must have at most 20 levels"));
    }
    for l in &levels {
        if l.is_empty() {
            return Err(bad(
                "has an empty level (a leading, trailing or double '/')",
            ));
        }
        if l.chars().count() > MAX_LEVEL_CHARS || l.trim() != *l {
            return Err(bad(
                "has a level longer than 255 characters or with leading or trailing spaces",
            ));
        }
        if l.chars().any(|c| c.is_control() || c == '*' || c == '%') {
            return Err(bad("must not contain control characters, '*' or '%'"));
        }
    }
    let mut out: Vec<String> = levels.iter().map(|s| s.to_string()).collect();
    if out[0].eq_ignore_ascii_case("inbox") {
        out[0] = "INBOX".into();
    }
    Ok(out.join("/"))
}

fn is_inbox(name: &str) -> bool {
    name == "INBOX"
}

fn within(name: &str, root: &str) -> bool {
    name == root || name.starts_with(&format!("{root}/"))
}

impl TenantStore {
    /// A mailbox's folders, by name.
    pub async fn list_folders(&self, mailbox: Uuid) -> Result<Vec<folders::Model>> {
        // The mailbox is checked in the same query; a live mailbox always has INBOX, so an
        // empty list means it is gone (or out of reach), which the check then says.
        let found = self
            .find::<folders::Entity>()
            .filter(folders::Column::MailboxId.eq(mailbox))
            .filter(self.live_mailbox(mailbox)?)
            .order_by_asc(folders::Column::Name)
            .all(self.store.db())
            .await?;
        if found.is_empty() {
            self.mailbox(mailbox).await?;
        }
        Ok(found)
    }

    async fn folders_in(&self, tx: &Tx, mailbox: Uuid) -> Result<Vec<folders::Model>> {
        Ok(self
            .find::<folders::Entity>()
            .filter(folders::Column::MailboxId.eq(mailbox))
            .all(&**tx)
            .await?)
    }

    /// One folder of a mailbox.
    pub async fn folder(&self, mailbox: Uuid, id: Uuid) -> Result<folders::Model> {
        self.find_folder(mailbox, id).await?.ok_or(Error::NotFound)
    }

    /// A folder of a mailbox within reach, named by id in a request field: a missing one is a
    /// validation error on `folder_id` (the mailbox itself is still a 404).
    pub async fn folder_of(&self, mailbox: Uuid, id: Uuid) -> Result<folders::Model> {
        self.find_folder(mailbox, id)
            .await?
            .ok_or_else(|| Error::invalid("folder_id", "no such folder in this mailbox"))
    }

    async fn find_folder(&self, mailbox: Uuid, id: Uuid) -> Result<Option<folders::Model>> {
        self.mailbox(mailbox).await?;
        Ok(self
            .find_by_id::<folders::Entity>(id)
            .filter(folders::Column::MailboxId.eq(mailbox))
            .one(self.store.db())
            .await?)
    }

    /// Creates a folder, and any missing parent, subscribed (as webmail wants it).
    pub async fn create_folder(&self, mailbox: Uuid, raw_name: &str) -> Result<folders::Model> {
        self.create_folder_with(mailbox, raw_name, true, None).await
    }

    /// Creates a folder, and any missing parent; `subscribed` says whether they are (IMAP
    /// CREATE makes them unsubscribed: clients subscribe themselves). A subscription a deleted
    /// folder of the same name left is taken back either way. `special_use` gives the new
    /// folder a role (`sent`, `drafts`, `junk`, `trash`, `archive`; IMAP CREATE-SPECIAL-USE):
    /// one folder per role and mailbox, as delivery and moves look folders up by role.
    pub async fn create_folder_with(
        &self,
        mailbox: Uuid,
        raw_name: &str,
        subscribed: bool,
        special_use: Option<&str>,
    ) -> Result<folders::Model> {
        if let Some(role) = special_use
            && !SPECIAL_USES.contains(&role)
        {
            return Err(Error::invalid(
                "special_use",
                format!(
                    "a folder's special use is one of {}",
                    SPECIAL_USES.join(", ")
                ),
            ));
        }
        let name = normalize_folder_name(raw_name).map_err(|e| Error::Validation(vec![e]))?;
        let tx = self.store.tx().await?;
        self.mailbox_on(&*tx, mailbox).await?;
        let existing = self.folders_in(&tx, mailbox).await?;
        if existing.iter().any(|f| f.name == name) {
            return Err(Error::conflict(
                "folder_exists",
                "a folder with this name already exists",
            ));
        }
        if let Some(holder) = existing
            .iter()
            .find(|f| special_use.is_some() && f.special_use.as_deref() == special_use)
        {
            return Err(Error::conflict(
                "special_use_taken",
                format!(
                    "the folder {} already has this special use; one folder per use",
                    holder.name
                ),
            ));
        }
        let levels: Vec<&str> = name.split('/').collect();
        let missing: Vec<String> = (1..=levels.len())
            .map(|n| levels[..n].join("/"))
            .filter(|p| !existing.iter().any(|f| &f.name == p))
            .collect();
        if existing.len() as u64 + missing.len() as u64 > MAX_FOLDERS {
            return Err(Error::conflict(
                "too_many_folders",
                format!("a mailbox may hold {MAX_FOLDERS} folders"),
            ));
        }
        let mut created = None;
        for path in missing {
            created = Some(
                self.insert_folder(
                    &tx,
                    mailbox,
                    &path,
                    special_use.filter(|_| path == name),
                    subscribed,
                )
                .await?,
            );
        }
        let folder = created.ok_or(Error::Internal("no folder created".into()))?;
        self.audit(
            &*tx,
            "folder.create",
            "mailbox",
            Some(mailbox),
            json!({"folder": folder.id, "name": name}),
        )
        .await?;
        tx.commit().await?;
        Ok(folder)
    }

    /// Renames a folder and moves its children with it, and/or changes its subscription.
    pub async fn update_folder(
        &self,
        mailbox: Uuid,
        id: Uuid,
        new_name: Option<&str>,
        subscribed: Option<bool>,
    ) -> Result<folders::Model> {
        let new_name = match new_name {
            Some(n) => Some(normalize_folder_name(n).map_err(|e| Error::Validation(vec![e]))?),
            None => None,
        };
        let tx = self.store.tx().await?;
        self.mailbox_on(&*tx, mailbox).await?;
        let all = self.folders_in(&tx, mailbox).await?;
        let folder = all
            .iter()
            .find(|f| f.id == id)
            .cloned()
            .ok_or(Error::NotFound)?;
        let now = Utc::now();
        if let Some(to) = new_name.as_deref().filter(|to| *to != folder.name) {
            if is_inbox(&folder.name) || is_inbox(to) {
                return Err(Error::conflict(
                    "inbox_protected",
                    "INBOX cannot be renamed, and no folder can become INBOX",
                ));
            }
            if within(to, &folder.name) {
                return Err(Error::invalid("name", "a folder cannot move inside itself"));
            }
            if all.iter().any(|f| within(&f.name, to)) {
                return Err(Error::conflict(
                    "folder_exists",
                    "a folder with this name already exists",
                ));
            }
            let levels: Vec<&str> = to.split('/').collect();
            for n in 1..levels.len() {
                let parent = levels[..n].join("/");
                if !all.iter().any(|f| f.name == parent) {
                    self.insert_folder(&tx, mailbox, &parent, None, true)
                        .await?;
                }
            }
            for f in all.iter().filter(|f| within(&f.name, &folder.name)) {
                let renamed = format!("{to}{}", &f.name[folder.name.len()..]);
                let mut am: folders::ActiveModel = f.clone().into();
                am.name = Set(renamed);
                am.updated_at = Set(now);
                let moved = am.update(&*tx).await?;
                // A subscription a deleted folder left on the new name is this folder's now
                // (one name, one subscription).
                self.adopt_subscription(&tx, moved).await?;
            }
            self.audit(
                &*tx,
                "folder.rename",
                "mailbox",
                Some(mailbox),
                json!({"folder": id, "from": folder.name, "to": to}),
            )
            .await?;
        }
        if let Some(s) = subscribed {
            self.update_many::<folders::Entity>()
                .col_expr(
                    folders::Column::Subscribed,
                    sea_orm::sea_query::Expr::value(s),
                )
                .filter(folders::Column::Id.eq(id))
                .exec(&*tx)
                .await?;
        }
        let updated = self
            .find_by_id::<folders::Entity>(id)
            .one(&*tx)
            .await?
            .ok_or(Error::NotFound)?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Deletes a folder with its children and every message in them (their bytes leave the
    /// quota). INBOX cannot be deleted.
    pub async fn delete_folder(&self, mailbox: Uuid, id: Uuid) -> Result<()> {
        let tx = self.store.tx().await?;
        self.mailbox_on(&*tx, mailbox).await?;
        let all = self.folders_in(&tx, mailbox).await?;
        let folder = all
            .iter()
            .find(|f| f.id == id)
            .cloned()
            .ok_or(Error::NotFound)?;
        if is_inbox(&folder.name) {
            return Err(Error::conflict(
                "inbox_protected",
                "INBOX cannot be deleted",
            ));
        }
        let doomed: Vec<Uuid> = all
            .iter()
            .filter(|f| within(&f.name, &folder.name))
            .map(|f| f.id)
            .collect();
        // Their messages go with them, and stop counting against the quota.
        // Locking the folder rows first waits for deliveries into them, so the counters read
        // back are final and no message can arrive after this point.
        let freed: i64 = self
            .update_many::<folders::Entity>()
            .col_expr(folders::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(folders::Column::Id.is_in(doomed.clone()))
            .exec_with_returning(&*tx)
            .await?
            .iter()
            .map(|f| f.total_bytes)
            .sum();
        self.delete_many::<messages::Entity>()
            .filter(messages::Column::MailboxId.eq(mailbox))
            .filter(messages::Column::FolderId.is_in(doomed.clone()))
            .exec(&*tx)
            .await?;
        self.update_many::<mailboxes::Entity>()
            .col_expr(
                mailboxes::Column::UsedBytes,
                Expr::col(mailboxes::Column::UsedBytes).sub(freed),
            )
            .filter(mailboxes::Column::Id.eq(mailbox))
            .exec(&*tx)
            .await?;
        self.delete_many::<folders::Entity>()
            .filter(folders::Column::Id.is_in(doomed.clone()))
            .exec(&*tx)
            .await?;
        // Subscriptions outlive their folders (IMAP LSUB still lists them).
        let kept: Vec<String> = all
            .iter()
            .filter(|f| within(&f.name, &folder.name) && f.subscribed)
            .map(|f| f.name.clone())
            .collect();
        self.keep_subscriptions(&tx, mailbox, &kept).await?;
        self.audit(
            &*tx,
            "folder.delete",
            "mailbox",
            Some(mailbox),
            json!({"folder": id, "name": folder.name, "deleted": doomed.len()}),
        )
        .await?;
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names() {
        assert_eq!(
            normalize_folder_name("inbox/Receipts").unwrap(),
            "INBOX/Receipts"
        );
        assert_eq!(
            normalize_folder_name("Projects/2026/Q1").unwrap(),
            "Projects/2026/Q1"
        );
        assert_eq!(normalize_folder_name("Entwürfe").unwrap(), "Entwürfe");
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            " a",
            "a*",
            "b%",
            "a\u{7}",
            &"x".repeat(256),
            &vec!["a"; 21].join("/"),
        ] {
            assert!(normalize_folder_name(bad).is_err(), "{bad:?}");
        }
        assert!(within("a/b", "a") && within("a", "a") && !within("ab", "a"));
    }
}
