//! App passwords of mailboxes (for IMAP, POP3 and SMTP clients), through the tenant-scoped
//! store: shown once, stored as an argon2id hash with a SHA-256 lookup key, so a login finds
//! the one candidate and verifies it once.

use super::TenantStore;
use super::entities::app_passwords;
use crate::auth::hash_password;
use crate::error::{Error, Result};
use crate::ids::new_id;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use uuid::Uuid;

impl TenantStore {
    /// A mailbox's app passwords (never their secrets), oldest first.
    pub async fn list_app_passwords(&self, mailbox: Uuid) -> Result<Vec<app_passwords::Model>> {
        self.mailbox(mailbox).await?;
        Ok(self
            .find::<app_passwords::Entity>()
            .filter(app_passwords::Column::MailboxId.eq(mailbox))
            .order_by_asc(app_passwords::Column::Id)
            .all(self.store.db())
            .await?)
    }

    /// Creates an app password and returns it with its secret (16 letters, shown once).
    pub async fn create_app_password(
        &self,
        mailbox: Uuid,
        name: &str,
        max: u64,
    ) -> Result<(app_passwords::Model, String)> {
        let secret = app_password_secret()?;
        let hash = hash_password(&secret).await?;
        let tx = self.store.tx().await?;
        self.mailbox_on(&*tx, mailbox).await?;
        let active = self
            .find::<app_passwords::Entity>()
            .filter(app_passwords::Column::MailboxId.eq(mailbox))
            .filter(app_passwords::Column::RevokedAt.is_null())
            .count(&*tx)
            .await?;
        if active >= max {
            return Err(Error::conflict(
                "too_many_app_passwords",
                format!("a mailbox may hold {max} app passwords; revoke one first"),
            ));
        }
        let row = app_passwords::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            mailbox_id: Set(mailbox),
            name: Set(name.to_string()),
            password_hash: Set(hash),
            lookup: Set(Some(app_password_lookup(&secret))),
            created_at: Set(Utc::now()),
            last_used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(&*tx)
        .await?;
        self.audit(
            &*tx,
            "app_password.create",
            "mailbox",
            Some(mailbox),
            json!({"app_password": row.id, "name": name}),
        )
        .await?;
        tx.commit().await?;
        let shown = secret
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        Ok((row, shown))
    }

    /// Revokes an app password; it stops working at once.
    pub async fn revoke_app_password(&self, mailbox: Uuid, id: Uuid) -> Result<()> {
        let tx = self.store.tx().await?;
        self.mailbox_on(&*tx, mailbox).await?;
        let r = self
            .update_many::<app_passwords::Entity>()
            .col_expr(
                app_passwords::Column::RevokedAt,
                Expr::value(Some(Utc::now())),
            )
            .filter(app_passwords::Column::Id.eq(id))
            .filter(app_passwords::Column::MailboxId.eq(mailbox))
            .filter(app_passwords::Column::RevokedAt.is_null())
            .exec(&*tx)
            .await?;
        if r.rows_affected == 0 {
            return Err(Error::NotFound);
        }
        self.audit(
            &*tx,
            "app_password.revoke",
            "mailbox",
            Some(mailbox),
            json!({"app_password": id}),
        )
        .await?;
        tx.commit().await
    }
}

/// Sixteen random lower-case letters (75 bits).
/// The lookup key of an app password as typed: the SHA-256 of its letters, without the spaces
/// it is shown with. `None` when the input cannot be an app password (16 letters a–z).
pub(crate) fn app_password_lookup_of_input(input: &str) -> Option<String> {
    let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    (compact.len() == 16 && compact.bytes().all(|b| b.is_ascii_lowercase()))
        .then(|| app_password_lookup(&compact))
}

fn app_password_lookup(secret: &str) -> String {
    crate::auth::sha256_hex(secret)
}

fn app_password_secret() -> Result<String> {
    let bytes = crate::secrets::random_bytes::<32>()?;
    // Rejection sampling keeps the letters uniform: 234 = 9 × 26.
    let letters: String = bytes
        .iter()
        .filter(|b| **b < 234)
        .map(|b| (b'a' + b % 26) as char)
        .take(16)
        .collect();
    if letters.len() == 16 {
        Ok(letters)
    } else {
        app_password_secret()
    }
}
