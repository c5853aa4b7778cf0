//! Signatures and identities of a mailbox, through the tenant-scoped store.

use super::entities::{identities, signatures};
use super::routing::{Resolver, split_address};
use super::{TenantStore, Tx};
use crate::error::{Error, FieldError, Result};
use crate::ids::new_id;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use uuid::Uuid;

/// Signatures a mailbox may hold.
pub const MAX_SIGNATURES: u64 = 20;
/// Identities a mailbox may hold.
pub const MAX_IDENTITIES: u64 = 100;
/// Longest plain-text signature, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Longest HTML signature, in bytes, before sanitising.
pub const MAX_HTML_BYTES: usize = 100_000;

/// Removes scripts, event handlers, forms, `javascript:` URLs and style sheets from HTML.
pub fn sanitize_html(html: &str) -> String {
    ammonia::clean(html)
}

/// A signature's content.
#[derive(Debug, Clone, Default)]
pub struct SignatureInput {
    /// Name, 1–100 characters.
    pub name: Option<String>,
    /// Plain text.
    pub text: Option<String>,
    /// HTML (sanitised here).
    pub html: Option<String>,
    /// Make it the default.
    pub is_default: Option<bool>,
}

/// An identity's content.
#[derive(Debug, Clone, Default)]
pub struct IdentityInput {
    /// The address to send as.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Reply-To addresses.
    pub reply_to: Option<Vec<String>>,
    /// Addresses always sent a blind copy.
    pub bcc: Option<Vec<String>>,
    /// Signature (`Some(None)` removes it).
    pub signature_id: Option<Option<Uuid>>,
}

fn check_signature(input: &SignatureInput) -> Result<()> {
    let mut errors = Vec::new();
    if let Some(n) = &input.name
        && (n.trim().is_empty() || n.chars().count() > 100)
    {
        errors.push(FieldError::new("name", "must be 1-100 characters"));
    }
    if input
        .text
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS)
    {
        errors.push(FieldError::new(
            "text",
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    if input
        .html
        .as_ref()
        .is_some_and(|h| h.len() > MAX_HTML_BYTES)
    {
        errors.push(FieldError::new(
            "html",
            format!("must be at most {MAX_HTML_BYTES} bytes"),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

fn addresses(field: &str, list: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    if list.len() > 20 {
        return Err(Error::invalid(field, "must list at most 20 addresses"));
    }
    for (i, a) in list.iter().enumerate() {
        match crate::validate::normalize_email(&format!("{field}[{i}]"), a) {
            Ok(e) => out.push(e),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Error::Validation(errors))
    }
}

impl TenantStore {
    /// A mailbox's signatures, oldest first.
    pub async fn list_signatures(&self, mailbox: Uuid) -> Result<Vec<signatures::Model>> {
        self.mailbox(mailbox).await?;
        Ok(self
            .find::<signatures::Entity>()
            .filter(signatures::Column::MailboxId.eq(mailbox))
            .order_by_asc(signatures::Column::Id)
            .all(self.store.db())
            .await?)
    }

    async fn signature_on(&self, tx: &Tx, mailbox: Uuid, id: Uuid) -> Result<signatures::Model> {
        self.find_by_id::<signatures::Entity>(id)
            .filter(signatures::Column::MailboxId.eq(mailbox))
            .one(&**tx)
            .await?
            .ok_or(Error::NotFound)
    }

    /// One signature.
    pub async fn signature(&self, mailbox: Uuid, id: Uuid) -> Result<signatures::Model> {
        self.mailbox(mailbox).await?;
        self.find_by_id::<signatures::Entity>(id)
            .filter(signatures::Column::MailboxId.eq(mailbox))
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)
    }

    async fn clear_default(&self, tx: &Tx, mailbox: Uuid) -> Result<()> {
        self.update_many::<signatures::Entity>()
            .col_expr(signatures::Column::IsDefault, Expr::value(false))
            .filter(signatures::Column::MailboxId.eq(mailbox))
            .exec(&**tx)
            .await?;
        Ok(())
    }

    /// Creates a signature; the first one, or one marked so, becomes the default.
    pub async fn create_signature(
        &self,
        mailbox: Uuid,
        input: SignatureInput,
    ) -> Result<signatures::Model> {
        check_signature(&input)?;
        let name = input
            .name
            .clone()
            .ok_or_else(|| Error::invalid("name", "is required"))?;
        let tx = self.store.tx().await?;
        self.mailbox_on(&*tx, mailbox).await?;
        let count = self
            .find::<signatures::Entity>()
            .filter(signatures::Column::MailboxId.eq(mailbox))
            .count(&*tx)
            .await?;
        if count >= MAX_SIGNATURES {
            return Err(Error::conflict(
                "too_many_signatures",
                format!("a mailbox may hold {MAX_SIGNATURES} signatures"),
            ));
        }
        let is_default = count == 0 || input.is_default == Some(true);
        if is_default {
            self.clear_default(&tx, mailbox).await?;
        }
        let now = Utc::now();
        let s = signatures::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            mailbox_id: Set(mailbox),
            name: Set(name.trim().to_string()),
            text_body: Set(input.text.unwrap_or_default()),
            html_body: Set(sanitize_html(&input.html.unwrap_or_default())),
            is_default: Set(is_default),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&*tx)
        .await?;
        self.audit(
            &*tx,
            "signature.create",
            "mailbox",
            Some(mailbox),
            json!({"signature": s.id, "name": s.name}),
        )
        .await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Changes a signature.
    pub async fn update_signature(
        &self,
        mailbox: Uuid,
        id: Uuid,
        input: SignatureInput,
    ) -> Result<signatures::Model> {
        check_signature(&input)?;
        let tx = self.store.tx().await?;
        self.mailbox_on(&*tx, mailbox).await?;
        let s = self.signature_on(&tx, mailbox, id).await?;
        if input.is_default == Some(true) {
            self.clear_default(&tx, mailbox).await?;
        }
        let mut am: signatures::ActiveModel = s.into();
        if let Some(n) = input.name {
            am.name = Set(n.trim().to_string());
        }
        if let Some(t) = input.text {
            am.text_body = Set(t);
        }
        if let Some(h) = input.html {
            am.html_body = Set(sanitize_html(&h));
        }
        if let Some(d) = input.is_default {
            am.is_default = Set(d);
        }
        am.updated_at = Set(Utc::now());
        let s = am.update(&*tx).await?;
        self.audit(
            &*tx,
            "signature.update",
            "mailbox",
            Some(mailbox),
            json!({"signature": id}),
        )
        .await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Deletes a signature; identities using it lose it.
    pub async fn delete_signature(&self, mailbox: Uuid, id: Uuid) -> Result<()> {
        let tx = self.store.tx().await?;
        self.mailbox_on(&*tx, mailbox).await?;
        self.signature_on(&tx, mailbox, id).await?;
        self.update_many::<identities::Entity>()
            .col_expr(
                identities::Column::SignatureId,
                Expr::value(Option::<Uuid>::None),
            )
            .filter(identities::Column::MailboxId.eq(mailbox))
            .filter(identities::Column::SignatureId.eq(id))
            .exec(&*tx)
            .await?;
        self.delete_many::<signatures::Entity>()
            .filter(signatures::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        self.audit(
            &*tx,
            "signature.delete",
            "mailbox",
            Some(mailbox),
            json!({"signature": id}),
        )
        .await?;
        tx.commit().await
    }

    /// A mailbox's identities, its own address first.
    pub async fn list_identities(&self, mailbox: Uuid) -> Result<Vec<identities::Model>> {
        let m = self.mailbox(mailbox).await?;
        let mut rows = self
            .find::<identities::Entity>()
            .filter(identities::Column::MailboxId.eq(mailbox))
            .order_by_asc(identities::Column::Id)
            .all(self.store.db())
            .await?;
        rows.sort_by_key(|i| i.email != m.address);
        Ok(rows)
    }

    async fn identity_on(&self, tx: &Tx, mailbox: Uuid, id: Uuid) -> Result<identities::Model> {
        self.find_by_id::<identities::Entity>(id)
            .filter(identities::Column::MailboxId.eq(mailbox))
            .one(&**tx)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Creates the identity of a new mailbox's own address.
    pub(crate) async fn insert_own_identity(
        &self,
        tx: &Tx,
        mailbox: Uuid,
        email: &str,
        name: &str,
    ) -> Result<()> {
        let now = Utc::now();
        identities::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            mailbox_id: Set(mailbox),
            email: Set(email.to_string()),
            name: Set(name.to_string()),
            reply_to: Set("[]".into()),
            bcc: Set("[]".into()),
            signature_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&**tx)
        .await?;
        Ok(())
    }

    /// Whether `mailbox` may send as `email`: its own address, or an address of the tenant
    /// (alias, group, sub-address) that delivers to it. A catch-all does not count.
    async fn may_send_as(&self, tx: &Tx, mailbox: Uuid, own: &str, email: &str) -> Result<bool> {
        if email == own {
            return Ok(true);
        }
        let r = Resolver {
            db: &**tx,
            tenant: Some(self.tid()),
        }
        .resolve(email)
        .await?;
        let via_catch_all = r.trace.iter().any(|t| t.contains("catch-all"));
        Ok(r.rejected.is_none()
            && !via_catch_all
            && r.mailboxes.iter().any(|m| m.mailbox_id == mailbox))
    }

    async fn apply_identity(
        &self,
        tx: &Tx,
        mailbox: Uuid,
        am: &mut identities::ActiveModel,
        input: IdentityInput,
    ) -> Result<()> {
        if let Some(n) = input.name {
            crate::validate::Checker::new()
                .push(crate::validate::name("name", &n, 200))
                .finish()?;
            am.name = Set(n.trim().to_string());
        }
        if let Some(r) = input.reply_to {
            am.reply_to = Set(json!(addresses("reply_to", &r)?).to_string());
        }
        if let Some(b) = input.bcc {
            am.bcc = Set(json!(addresses("bcc", &b)?).to_string());
        }
        if let Some(sig) = input.signature_id {
            if let Some(s) = sig {
                self.signature_on(tx, mailbox, s).await.map_err(|_| {
                    Error::invalid("signature_id", "is not a signature of this mailbox")
                })?;
            }
            am.signature_id = Set(sig);
        }
        Ok(())
    }

    /// Adds an address the mailbox may send as.
    pub async fn create_identity(
        &self,
        mailbox: Uuid,
        input: IdentityInput,
    ) -> Result<identities::Model> {
        let raw = input
            .email
            .clone()
            .ok_or_else(|| Error::invalid("email", "is required"))?;
        let email = crate::validate::normalize_email("email", &raw)
            .map_err(|e| Error::Validation(vec![e]))?;
        let tx = self.store.tx().await?;
        let m = self.mailbox_on(&*tx, mailbox).await?;
        if split_address(&email).is_none()
            || !self.may_send_as(&tx, mailbox, &m.address, &email).await?
        {
            return Err(Error::Rejected {
                code: "not_allowed_sender",
                field: "email".into(),
                message: "is not this mailbox's address, nor an alias or group of the tenant that delivers to it".into(),
            });
        }
        let count = self
            .find::<identities::Entity>()
            .filter(identities::Column::MailboxId.eq(mailbox))
            .count(&*tx)
            .await?;
        if count >= MAX_IDENTITIES {
            return Err(Error::conflict(
                "too_many_identities",
                format!("a mailbox may hold {MAX_IDENTITIES} identities"),
            ));
        }
        let now = Utc::now();
        let mut am = identities::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            mailbox_id: Set(mailbox),
            email: Set(email.clone()),
            name: Set(m.display_name.clone()),
            reply_to: Set("[]".into()),
            bcc: Set("[]".into()),
            signature_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
        self.apply_identity(
            &tx,
            mailbox,
            &mut am,
            IdentityInput {
                email: None,
                ..input
            },
        )
        .await?;
        let i = am.insert(&*tx).await?;
        self.audit(
            &*tx,
            "identity.create",
            "mailbox",
            Some(mailbox),
            json!({"identity": i.id, "email": email}),
        )
        .await?;
        tx.commit().await?;
        Ok(i)
    }

    /// Changes an identity's name, reply-to, bcc or signature (its address is fixed).
    pub async fn update_identity(
        &self,
        mailbox: Uuid,
        id: Uuid,
        input: IdentityInput,
    ) -> Result<identities::Model> {
        let tx = self.store.tx().await?;
        self.mailbox_on(&*tx, mailbox).await?;
        let i = self.identity_on(&tx, mailbox, id).await?;
        let mut am: identities::ActiveModel = i.into();
        self.apply_identity(&tx, mailbox, &mut am, input).await?;
        am.updated_at = Set(Utc::now());
        let i = am.update(&*tx).await?;
        self.audit(
            &*tx,
            "identity.update",
            "mailbox",
            Some(mailbox),
            json!({"identity": id}),
        )
        .await?;
        tx.commit().await?;
        Ok(i)
    }

    /// Removes an identity; the mailbox's own address cannot be removed.
    pub async fn delete_identity(&self, mailbox: Uuid, id: Uuid) -> Result<()> {
        let tx = self.store.tx().await?;
        let m = self.mailbox_on(&*tx, mailbox).await?;
        let i = self.identity_on(&tx, mailbox, id).await?;
        if i.email == m.address {
            return Err(Error::conflict(
                "own_identity",
                "the mailbox's own address cannot be removed",
            ));
        }
        self.delete_many::<identities::Entity>()
            .filter(identities::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        self.audit(
            &*tx,
            "identity.delete",
            "mailbox",
            Some(mailbox),
            json!({"identity": id, "email": i.email}),
        )
        .await?;
        tx.commit().await
    }
}
