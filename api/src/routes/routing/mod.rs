//! `/v1/routing/resolve`: what an address delivers to, exactly as the SMTP server decides.

pub mod resolve;
