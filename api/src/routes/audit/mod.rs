//! `/v1/audit-log`: who changed what in the tenant.

pub mod list;
