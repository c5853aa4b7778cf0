//! `/v1/domains`: a tenant's custom domains, proved by DNS.

pub mod create;
pub mod delete;
pub mod dns_records;
pub mod get;
pub mod list;
pub mod rotate_dkim;
pub mod update;
pub mod verify;

use chrono::{DateTime, Utc};
use mailroom_core::domains::records::{RecordCheck, Status};
use mailroom_core::store::DomainView;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A custom domain.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainResponse {
    /// Domain id.
    pub id: Uuid,
    /// The name in ASCII (IDN as punycode), as DNS and SMTP use it.
    pub name: String,
    /// The name in Unicode, for people.
    pub unicode_name: String,
    /// `pending` (publish the ownership record, then verify), `verified` (this tenant owns it),
    /// or `owned_by_another_tenant` (another tenant verified it first; this claim cannot be
    /// verified while theirs exists).
    pub status: String,
    /// When ownership was proved.
    pub verified_at: Option<DateTime<Utc>>,
    /// Verified and MX points here (as of the last check).
    pub ready_to_receive: bool,
    /// Verified, SPF includes us and the signing DKIM key is published (as of the last check).
    pub ready_to_send: bool,
    /// The ownership record to publish.
    pub verification: VerificationRecord,
    /// DMARC policy suggested in the records list.
    pub dmarc_policy: String,
    /// The domain this one is an alias of, if any.
    pub alias_of: Option<Uuid>,
    /// DKIM keys (never their private halves).
    pub dkim_keys: Vec<DkimKeyResponse>,
    /// When DNS was last checked.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// The ownership record.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationRecord {
    /// Always `TXT`.
    #[serde(rename = "type")]
    pub rtype: &'static str,
    /// Where to publish it (`_mailroom.<domain>`).
    pub name: String,
    /// The value.
    pub value: String,
}

/// A DKIM key.
#[derive(Debug, Serialize, ToSchema)]
pub struct DkimKeyResponse {
    /// The selector (`<selector>._domainkey.<domain>`).
    pub selector: String,
    /// `rsa-sha256` or `ed25519-sha256`.
    pub algorithm: String,
    /// `pending` (rotated in, waiting to be seen in DNS), `active` (signs), `retiring` (still
    /// signs until `retire_at`), `retired`.
    pub status: String,
    /// The `p=` value to publish.
    pub public_key: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it started signing.
    pub activated_at: Option<DateTime<Utc>>,
    /// When a retiring key stops signing.
    pub retire_at: Option<DateTime<Utc>>,
}

impl DomainResponse {
    /// Builds the response; `prefix` is the ownership label.
    pub fn new(v: DomainView, prefix: &str) -> Self {
        let status = v.status();
        let (ready_to_receive, ready_to_send) = (v.ready_to_receive(), v.ready_to_send());
        let d = v.domain;
        Self {
            id: d.id,
            verification: VerificationRecord {
                rtype: "TXT",
                name: format!("{prefix}.{}", d.name),
                value: format!("mailroom-verification={}", d.verification_token),
            },
            name: d.name,
            unicode_name: d.unicode_name,
            status,
            verified_at: d.verified_at,
            ready_to_receive,
            ready_to_send,
            dmarc_policy: d.dmarc_policy,
            alias_of: d.alias_of,
            dkim_keys: v
                .keys
                .into_iter()
                .map(|k| DkimKeyResponse {
                    selector: k.selector,
                    algorithm: k.algorithm,
                    status: k.status.to_string(),
                    public_key: k.public_key,
                    created_at: k.created_at,
                    activated_at: k.activated_at,
                    retire_at: k.retire_at,
                })
                .collect(),
            last_checked_at: d.last_checked_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// One DNS record to publish, with what was found.
#[derive(Debug, Serialize, ToSchema)]
pub struct DnsRecord {
    /// `ownership`, `mx`, `spf`, `dkim` or `dmarc`.
    pub purpose: String,
    /// `TXT` or `MX`.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Where to publish it.
    pub name: String,
    /// What to publish.
    pub value: String,
    /// Needed for the domain to work (false: recommended, for mail client set-up).
    pub required: bool,
    /// `ok`, `missing`, `mismatch` or `error` (DNS did not answer: try again).
    pub status: String,
    /// What DNS holds at that name.
    pub found: Vec<String>,
    /// Why the status is not `ok`.
    pub detail: Option<String>,
}

impl From<RecordCheck> for DnsRecord {
    fn from(r: RecordCheck) -> Self {
        let status = match r.status {
            Status::Ok => "ok",
            Status::Missing => "missing",
            Status::Mismatch => "mismatch",
            Status::Error => "error",
        };
        Self {
            purpose: r.purpose,
            rtype: r.rtype,
            name: r.name,
            value: r.value,
            required: r.required,
            status: status.into(),
            found: r.found,
            detail: r.detail,
        }
    }
}

/// A domain's records, checked now.
#[derive(Debug, Serialize, ToSchema)]
pub struct DnsRecordsResponse {
    /// The domain.
    pub domain_id: Uuid,
    /// When the check ran.
    pub checked_at: DateTime<Utc>,
    /// Every record.
    pub records: Vec<DnsRecord>,
}

crate::list_type!(DomainList, DomainResponse);
