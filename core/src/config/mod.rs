//! Configuration: one [`Config`], read from an optional TOML file and overlaid by `MAILROOM_*`
//! environment variables. Every setting has a default that works for the single-node embedded
//! mode, so Mailroom starts with nothing configured.
//!
//! Environment names are the TOML path upper-cased and joined with `_`: `database_url` is
//! `MAILROOM_DATABASE_URL`, `[api] listen` is `MAILROOM_API_LISTEN`. Unknown keys in the file
//! and unknown `MAILROOM_*` variables are refused, so a typo never silently falls back to a
//! default (a misspelt database URL would otherwise start an empty SQLite database).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Environment variables with the `MAILROOM_` prefix that are not settings.
const NON_SETTING_VARS: &[&str] = &["MAILROOM_CONFIG", "MAILROOM_LOG"];
/// Prefixes of variables used by the test suite, never read as settings.
const NON_SETTING_PREFIXES: &[&str] = &["MAILROOM_TEST_"];

/// The whole configuration of a Mailroom process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the embedded database and generated secrets.
    pub data_dir: PathBuf,
    /// `postgres://…` for production; empty means SQLite at `<data_dir>/mailroom.db`.
    pub database_url: String,
    /// Connection pool size.
    pub database_max_connections: u32,
    /// `redis://…`; empty means in-process rate limiting and event bus.
    pub redis_url: String,
    /// Prefix of every Redis key Mailroom writes (lets deployments share one Redis).
    pub redis_key_prefix: String,
    /// Apply migrations when `serve`, `api` or `worker` start.
    pub auto_migrate: bool,
    /// `human` or `json`.
    pub log_format: String,
    /// Key that signs access tokens (HS256). Empty: generated once into the data directory.
    /// Replicas must all have the same one.
    pub jwt_secret: String,
    /// Key from which at-rest encryption keys (DKIM private keys) are derived. Empty: generated
    /// once into the data directory. Replicas must all have the same one.
    pub master_key: String,
    /// REST API settings.
    pub api: ApiConfig,
    /// Login and token settings.
    pub auth: AuthConfig,
    /// Job runner settings.
    pub jobs: JobsConfig,
    /// First platform admin, created at start when both are set and no such user exists.
    pub bootstrap: BootstrapConfig,
    /// The name this deployment's mail servers answer to (the MX target, the SPF include).
    pub public_hostname: String,
    /// DNS resolution (domain verification, later SPF/DKIM/DMARC).
    pub dns: DnsConfig,
    /// Custom domains: what tenants must publish and how often it is re-checked.
    pub domains: DomainsConfig,
    /// Mailbox defaults and limits.
    pub mailboxes: MailboxesConfig,
    /// The inbound SMTP server (MX).
    pub smtp: SmtpConfig,
    /// The SMTP submission server (people sending mail from their clients).
    pub submission: SubmissionConfig,
    /// Outbound delivery: how sent mail reaches other servers, retries and bounces.
    pub outbound: OutboundConfig,
    /// The IMAP server (reading and organising mail with any client).
    pub imap: ImapConfig,
    /// The POP3 server (download-and-go clients).
    pub pop3: Pop3Config,
    /// Local storage: how much room the data directory must keep.
    pub storage: StorageConfig,
    /// The spam filter of incoming mail.
    pub spam: SpamConfig,
}

/// The spam filter.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpamConfig {
    /// Score mail received over SMTP and file it by each tenant's thresholds (tenants can
    /// also turn it off for themselves).
    pub enabled: bool,
    /// DNS blocklists of client addresses (RFC 5782), e.g. `zen.spamhaus.org`; none by
    /// default. A listing scores `RBL_LISTED`.
    pub dnsbl_zones: Vec<String>,
    /// DNS blocklists of link domains (URIBL/DBL), e.g. `dbl.spamhaus.org`; none by default.
    /// A listed domain scores `URIBL_LISTED`.
    pub uribl_zones: Vec<String>,
    /// Reverse DNS of the client (`RDNS_NONE`, `RDNS_NOT_CONFIRMED`, `RDNS_DYNAMIC`): `public`
    /// (default: clients on public addresses), `all` (internal addresses too) or `off`.
    pub reverse_dns: String,
}

impl Default for SpamConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dnsbl_zones: Vec::new(),
            uribl_zones: Vec::new(),
            reverse_dns: "public".into(),
        }
    }
}

/// Local storage limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Below this many free bytes in `data_dir`, new mail is refused at `MAIL FROM` with
    /// `452 4.3.1` (senders retry later) and `/readyz` reports the disk; 0 turns the check off.
    pub min_free_bytes: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            min_free_bytes: 100 * 1024 * 1024,
        }
    }
}

/// The inbound SMTP server (MX).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Run the SMTP server in this process (`serve` and `worker`).
    pub enabled: bool,
    /// Address it listens on (port 25 in production).
    pub listen: String,
    /// Name in the greeting and in `Received:`; empty: `public_hostname`.
    pub hostname: String,
    /// Largest message accepted, in bytes (advertised as SIZE).
    pub max_message_bytes: usize,
    /// Recipients per message.
    pub max_recipients: usize,
    /// Refused commands before the connection is closed.
    pub max_errors: usize,
    /// Connections at once, in all.
    pub max_connections: usize,
    /// Connections at once from one client address.
    pub max_connections_per_ip: usize,
    /// Time to wait for a command, in seconds (RFC 5321 §4.5.3.2.7 asks for 5 minutes).
    pub command_timeout_secs: u64,
    /// Time to wait for a command while the server is busy (over three quarters of
    /// `max_connections` open), in seconds: idle clients then give way to senders.
    pub busy_command_timeout_secs: u64,
    /// Time to wait for each block of message data, in seconds.
    pub data_timeout_secs: u64,
    /// The slowest average rate a message's data may arrive at, in bytes per second, after
    /// `min_data_rate_grace_secs` (0: no minimum).
    pub min_data_rate_bytes_per_sec: u64,
    /// How long a message's data may take before its minimum rate applies, in seconds.
    pub min_data_rate_grace_secs: u64,
    /// The listen backlog (connections the kernel queues before they are accepted).
    pub listen_backlog: u32,
    /// Message bytes held in memory for delivery (parsing and storing) at once; messages
    /// arriving beyond it wait their turn, spooled to `<data_dir>/spool` while received.
    pub delivery_memory_bytes: usize,
    /// Longest session, in seconds.
    pub max_session_secs: u64,
    /// PEM certificate chain for STARTTLS; empty: a self-signed one generated on first start
    /// into `<data_dir>/smtp-tls/`.
    pub tls_cert: String,
    /// PEM private key for STARTTLS.
    pub tls_key: String,
    /// Offer STARTTLS.
    pub starttls: bool,
    /// Expect a PROXY protocol (v1 or v2) header from a load balancer on every connection.
    pub proxy_protocol: bool,
    /// A copy whose mailbox received the same bytes within this many seconds is not stored
    /// again (a sender retrying after a lost `250`).
    pub dedup_window_secs: u64,
    /// Check SPF, DKIM, DMARC and ARC of inbound mail.
    pub authenticate: bool,
    /// The most those checks may take for one message, in milliseconds.
    pub auth_deadline_ms: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:2525".into(),
            hostname: String::new(),
            max_message_bytes: 50 * 1024 * 1024,
            max_recipients: 100,
            max_errors: 10,
            max_connections: 1000,
            max_connections_per_ip: 20,
            command_timeout_secs: 300,
            busy_command_timeout_secs: 10,
            data_timeout_secs: 180,
            min_data_rate_bytes_per_sec: 1024,
            min_data_rate_grace_secs: 30,
            listen_backlog: 1024,
            delivery_memory_bytes: 64 * 1024 * 1024,
            max_session_secs: 3600,
            tls_cert: String::new(),
            tls_key: String::new(),
            starttls: true,
            proxy_protocol: false,
            dedup_window_secs: 24 * 3600,
            authenticate: true,
            auth_deadline_ms: 2_000,
        }
    }
}

impl SmtpConfig {
    /// The server's name in effect.
    pub fn hostname<'a>(&'a self, public_hostname: &'a str) -> &'a str {
        if self.hostname.is_empty() {
            public_hostname
        } else {
            &self.hostname
        }
    }
}

/// The SMTP submission server (RFC 6409): authenticated clients hand it mail to send.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubmissionConfig {
    /// Run the submission server (`serve` and `worker`).
    pub enabled: bool,
    /// Where it listens (587 in production, with STARTTLS).
    pub listen: String,
    /// Where it listens with implicit TLS (RFC 8314, 465 in production); empty: nowhere.
    pub tls_listen: String,
    /// Pending connections the kernel queues.
    pub listen_backlog: u32,
    /// Largest message accepted, in bytes (advertised as SIZE).
    pub max_message_bytes: usize,
    /// Recipients per message.
    pub max_recipients: usize,
    /// Refused commands (failed logins included) before the connection is closed.
    pub max_errors: usize,
    /// Connections at once, in all.
    pub max_connections: usize,
    /// Connections at once from one client address.
    pub max_connections_per_ip: usize,
    /// Time to wait for a command, in seconds.
    pub command_timeout_secs: u64,
    /// Time to wait for each block of message data, in seconds.
    pub data_timeout_secs: u64,
    /// Longest session, in seconds.
    pub max_session_secs: u64,
    /// Offer AUTH only once TLS is up (STARTTLS or implicit TLS). Keep it on wherever clients
    /// reach the server over a network; tests on loopback may turn it off.
    pub require_tls_for_auth: bool,
    /// Offer STARTTLS.
    pub starttls: bool,
    /// Certificate (PEM); empty: the SMTP server's, or a generated one.
    pub tls_cert: String,
    /// Its private key (PEM).
    pub tls_key: String,
    /// Expect a PROXY protocol header on every connection.
    pub proxy_protocol: bool,
}

impl Default for SubmissionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:2587".into(),
            tls_listen: String::new(),
            listen_backlog: 1024,
            max_message_bytes: 35 * 1024 * 1024,
            max_recipients: 100,
            max_errors: 10,
            max_connections: 1000,
            max_connections_per_ip: 20,
            command_timeout_secs: 300,
            data_timeout_secs: 180,
            max_session_secs: 3600,
            require_tls_for_auth: true,
            starttls: true,
            tls_cert: String::new(),
            tls_key: String::new(),
            proxy_protocol: false,
        }
    }
}

impl SubmissionConfig {
    /// The SMTP server settings the submission server runs with.
    pub fn smtp(&self, mx: &SmtpConfig) -> SmtpConfig {
        SmtpConfig {
            enabled: self.enabled,
            listen: self.listen.clone(),
            max_message_bytes: self.max_message_bytes,
            max_recipients: self.max_recipients,
            max_errors: self.max_errors,
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            command_timeout_secs: self.command_timeout_secs,
            busy_command_timeout_secs: self.command_timeout_secs,
            data_timeout_secs: self.data_timeout_secs,
            listen_backlog: self.listen_backlog,
            max_session_secs: self.max_session_secs,
            starttls: self.starttls,
            proxy_protocol: self.proxy_protocol,
            ..mx.clone()
        }
    }
}

/// Outbound delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Relay every remote message through this server (`host:port`) instead of looking up
    /// the recipients' MX records.
    pub smarthost: String,
    /// User name for the smarthost (AUTH PLAIN or LOGIN, after STARTTLS); empty: none.
    pub smarthost_username: String,
    /// Password for the smarthost.
    pub smarthost_password: String,
    /// The port remote MX hosts are reached on (25; tests point it elsewhere).
    pub mx_port: u16,
    /// Refuse to deliver to MX hosts whose addresses are loopback, private, link-local or
    /// otherwise not public (a domain cannot point Mailroom at internal services); tests on
    /// 127.0.0.1 turn it off. The smarthost is exempt.
    pub public_mx_only: bool,
    /// The first retry of a deferred recipient comes after this many seconds; each further
    /// one waits twice as long, up to `retry_max_secs`.
    pub retry_base_secs: u64,
    /// The longest wait between two tries, in seconds.
    pub retry_max_secs: u64,
    /// How long a deferred recipient is tried before it bounces, in seconds (5 days).
    pub expire_secs: u64,
    /// A recipient still deferred this long after sending gets the sender one notice that the
    /// delivery is late (RFC 3464 `Action: delayed`), in seconds; 0: none.
    pub delay_notice_secs: u64,
    /// Time to connect to a remote server, in seconds.
    pub connect_timeout_secs: u64,
    /// Time to wait for each reply of a remote server, in seconds (RFC 5321 §4.5.3.2 asks
    /// for minutes; the end of data gets ten).
    pub command_timeout_secs: u64,
    /// Recipients of one domain in one SMTP transaction.
    pub max_recipients_per_transaction: usize,
    /// Deliveries to one recipient domain at once, per process (more wait their turn).
    pub max_connections_per_domain: usize,
    /// How long a session with a remote server is kept open after a delivery, for the next
    /// message to the same server (no new connection, greeting, STARTTLS or login), in
    /// seconds; 0: every delivery opens its own and ends it with QUIT.
    pub connection_cache_secs: u64,
    /// Messages one mailbox may send per hour (0: no limit); past it `451 4.7.0` / 429.
    pub max_messages_per_mailbox_per_hour: u64,
    /// Messages one tenant may send per minute (0: no limit); past it `451 4.7.0` / 429.
    pub max_messages_per_tenant_per_minute: u64,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            smarthost: String::new(),
            smarthost_username: String::new(),
            smarthost_password: String::new(),
            mx_port: 25,
            public_mx_only: true,
            retry_base_secs: 60,
            retry_max_secs: 4 * 3600,
            expire_secs: 5 * 24 * 3600,
            delay_notice_secs: 4 * 3600,
            connect_timeout_secs: 30,
            command_timeout_secs: 300,
            max_recipients_per_transaction: 100,
            max_connections_per_domain: 10,
            connection_cache_secs: 5,
            max_messages_per_mailbox_per_hour: 500,
            max_messages_per_tenant_per_minute: 600,
        }
    }
}

/// The IMAP server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImapConfig {
    /// Run the IMAP server.
    pub enabled: bool,
    /// Where it listens (143 in production, behind STARTTLS).
    pub listen: String,
    /// Where it listens with implicit TLS (IMAPS, 993 in production); empty: nowhere.
    pub tls_listen: String,
    /// Pending connections the kernel queues.
    pub listen_backlog: u32,
    /// Connections in all.
    pub max_connections: usize,
    /// Connections from one client address.
    pub max_connections_per_ip: usize,
    /// Connections one mailbox may hold at once (clients open one per folder they watch).
    pub max_connections_per_user: usize,
    /// How long a logged-in client may stay silent (RFC 9051 asks for at least 30 minutes;
    /// IDLE counts as silent, clients renew it every 29 minutes).
    pub idle_timeout_secs: u64,
    /// How long a client that has not logged in may stay silent.
    pub login_timeout_secs: u64,
    /// The longest one connection may last.
    pub max_session_secs: u64,
    /// Bytes of one command line.
    pub max_line_bytes: usize,
    /// Largest message APPEND accepts (advertised as APPENDLIMIT).
    pub max_append_bytes: usize,
    /// Malformed or refused commands before the server says BYE.
    pub max_bad_commands: usize,
    /// Certificate for STARTTLS (PEM); empty: the SMTP server's, or a generated one.
    pub tls_cert: String,
    /// Its private key (PEM).
    pub tls_key: String,
    /// Offer STARTTLS.
    pub starttls: bool,
    /// Refuse passwords before STARTTLS (advertise LOGINDISABLED). Off by default so that
    /// local clients work out of the box; turn it on wherever clients reach the server over a
    /// network.
    pub require_tls: bool,
    /// Expect a PROXY protocol header on every connection.
    pub proxy_protocol: bool,
}

impl Default for ImapConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:1143".into(),
            tls_listen: String::new(),
            listen_backlog: 1024,
            max_connections: 10_000,
            max_connections_per_ip: 50,
            max_connections_per_user: 20,
            idle_timeout_secs: 30 * 60,
            login_timeout_secs: 60,
            max_session_secs: 24 * 3600,
            max_line_bytes: 64 * 1024,
            max_append_bytes: 50 * 1024 * 1024,
            max_bad_commands: 20,
            tls_cert: String::new(),
            tls_key: String::new(),
            starttls: true,
            require_tls: false,
            proxy_protocol: false,
        }
    }
}

/// The POP3 server (RFC 1939). Its maildrop is INBOX; what a deletion does is each
/// mailbox's `pop3_after_download`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pop3Config {
    /// Run the POP3 server.
    pub enabled: bool,
    /// Where it listens (110 in production, behind STLS).
    pub listen: String,
    /// Where it listens with implicit TLS (POP3S, 995 in production); empty: nowhere.
    pub tls_listen: String,
    /// Pending connections the kernel queues.
    pub listen_backlog: u32,
    /// Connections in all.
    pub max_connections: usize,
    /// Connections from one client address.
    pub max_connections_per_ip: usize,
    /// How long a logged-in client may stay silent (RFC 1939 §3: at least 10 minutes).
    pub idle_timeout_secs: u64,
    /// How long a client that has not logged in may stay silent.
    pub login_timeout_secs: u64,
    /// The longest one connection may last.
    pub max_session_secs: u64,
    /// Malformed or refused commands before the server closes the connection.
    pub max_bad_commands: usize,
    /// How long a session's hold on its mailbox lasts without renewal (it renews at a third
    /// of this): the longest a crashed process can keep a mailbox `[IN-USE]`.
    pub lease_secs: u64,
    /// Certificate for STLS (PEM); empty: the SMTP server's, or a generated one.
    pub tls_cert: String,
    /// Its private key (PEM).
    pub tls_key: String,
    /// Offer STLS.
    pub starttls: bool,
    /// Refuse passwords before STLS. Off by default so that local clients work out of the box;
    /// turn it on wherever clients reach the server over a network.
    pub require_tls: bool,
    /// Expect a PROXY protocol header on every connection.
    pub proxy_protocol: bool,
}

impl Default for Pop3Config {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:1110".into(),
            tls_listen: String::new(),
            listen_backlog: 1024,
            max_connections: 10_000,
            max_connections_per_ip: 50,
            idle_timeout_secs: 10 * 60,
            login_timeout_secs: 60,
            max_session_secs: 24 * 3600,
            max_bad_commands: 20,
            lease_secs: 60,
            tls_cert: String::new(),
            tls_key: String::new(),
            starttls: true,
            require_tls: false,
            proxy_protocol: false,
        }
    }
}

/// Mailbox defaults and limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailboxesConfig {
    /// Quota of a new mailbox when none is given, in bytes.
    pub default_quota_bytes: i64,
    /// App passwords a mailbox may hold.
    pub max_app_passwords: u64,
    /// Delay between deleting a mailbox and purging its data, in seconds.
    pub purge_delay_secs: u64,
}

impl Default for MailboxesConfig {
    fn default() -> Self {
        Self {
            default_quota_bytes: 10 * 1024 * 1024 * 1024,
            max_app_passwords: 10,
            purge_delay_secs: 0,
        }
    }
}

/// DNS resolution.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// Name servers as `ip:port` (`MAILROOM_DNS_NAMESERVERS=127.0.0.1:5353,…`); empty: the
    /// system's (`/etc/resolv.conf`).
    pub nameservers: Vec<String>,
    /// Time to wait for one answer, in milliseconds.
    pub timeout_ms: u64,
    /// Tries per query and name server.
    pub attempts: usize,
    /// The most one look-up may take in all (tries, UDP then TCP), in milliseconds.
    pub query_deadline_ms: u64,
}

/// Custom domains.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DomainsConfig {
    /// Label under which the ownership TXT record is published (`_mailroom.<domain>`).
    pub verification_prefix: String,
    /// MX hosts tenants must point to; empty: `public_hostname`.
    pub mx_hosts: Vec<String>,
    /// Domain SPF records must `include:`; empty: `_spf.<public_hostname>`.
    pub spf_include: String,
    /// DMARC policy suggested for new domains: `none`, `quarantine` or `reject`.
    pub dmarc_policy: String,
    /// How long a rotated-out DKIM key keeps signing after its successor is seen in DNS.
    pub dkim_rotation_grace_secs: u64,
    /// Re-check interval of pending domains.
    pub pending_recheck_secs: u64,
    /// How long pending domains are re-checked at that interval before falling back to daily.
    pub pending_window_secs: u64,
    /// Re-check interval of verified domains (and of pending ones past the window).
    pub verified_recheck_secs: u64,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout_ms: 3000,
            attempts: 2,
            query_deadline_ms: 5000,
        }
    }
}

impl Default for DomainsConfig {
    fn default() -> Self {
        Self {
            verification_prefix: "_mailroom".into(),
            mx_hosts: Vec::new(),
            spf_include: String::new(),
            dmarc_policy: "quarantine".into(),
            dkim_rotation_grace_secs: 7 * 24 * 3600,
            pending_recheck_secs: 300,
            pending_window_secs: 72 * 3600,
            verified_recheck_secs: 24 * 3600,
        }
    }
}

impl DomainsConfig {
    /// MX hosts in effect.
    pub fn mx_hosts(&self, public_hostname: &str) -> Vec<String> {
        if self.mx_hosts.is_empty() {
            vec![public_hostname.to_ascii_lowercase()]
        } else {
            self.mx_hosts
                .iter()
                .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect()
        }
    }

    /// SPF include domain in effect.
    pub fn spf_include(&self, public_hostname: &str) -> String {
        if self.spf_include.is_empty() {
            format!("_spf.{}", public_hostname.to_ascii_lowercase())
        } else {
            self.spf_include
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase()
        }
    }
}

/// REST API settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Address the API listens on.
    pub listen: String,
    /// Largest JSON request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Worker threads of the HTTP server (0: one per core).
    pub workers: usize,
    /// Load balancers whose `X-Forwarded-For` is believed (CIDRs such as `10.0.0.0/8`). Empty:
    /// the client is always the TCP peer, and the header is ignored.
    pub trusted_proxies: Vec<String>,
}

/// Login and token settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of an access token (JWT), in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token, in seconds.
    pub refresh_token_ttl_secs: u64,
    /// Failed logins allowed per account within `login_window_secs`.
    pub login_max_failures_per_account: u64,
    /// Login attempts allowed per client address within `login_window_secs`.
    pub login_max_attempts_per_ip: u64,
    /// Window of both login limits, in seconds.
    pub login_window_secs: u64,
    /// How long an authenticated credential is answered from memory, in seconds (0: never).
    /// Any write that may change who can authenticate (a revoked key or session, a disabled
    /// user, a suspended tenant or mailbox) ends every entry at once, in this process and,
    /// through Redis, in the others; this age bounds staleness where no notice can arrive
    /// (a write from another process without Redis).
    pub principal_cache_secs: u64,
}

/// Job runner settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Run the job runner in this process (`serve` and `worker`).
    pub enabled: bool,
    /// Jobs run at once by one process.
    pub concurrency: usize,
    /// Idle wait between polls of the jobs table, in milliseconds.
    pub poll_interval_ms: u64,
    /// How long a claimed job is reserved for its worker before another may take it, in seconds.
    pub lease_secs: u64,
    /// Attempts before a job is marked dead.
    pub max_attempts: i32,
    /// First retry delay, in seconds; doubled on every further failure.
    pub backoff_base_secs: u64,
    /// Longest retry delay, in seconds.
    pub backoff_max_secs: u64,
    /// Delay between deleting a tenant and purging its data, in seconds.
    pub tenant_purge_delay_secs: u64,
    /// How often periodic work (domain re-checks) is looked for, in seconds.
    pub scheduler_interval_secs: u64,
}

/// First platform admin.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BootstrapConfig {
    /// `MAILROOM_BOOTSTRAP_ADMIN_EMAIL`.
    pub admin_email: String,
    /// `MAILROOM_BOOTSTRAP_ADMIN_PASSWORD`.
    pub admin_password: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            database_max_connections: 16,
            redis_url: String::new(),
            redis_key_prefix: "mailroom:".into(),
            auto_migrate: true,
            log_format: "human".into(),
            jwt_secret: String::new(),
            master_key: String::new(),
            api: ApiConfig::default(),
            auth: AuthConfig::default(),
            jobs: JobsConfig::default(),
            bootstrap: BootstrapConfig::default(),
            public_hostname: "localhost".into(),
            dns: DnsConfig::default(),
            domains: DomainsConfig::default(),
            mailboxes: MailboxesConfig::default(),
            smtp: SmtpConfig::default(),
            submission: SubmissionConfig::default(),
            outbound: OutboundConfig::default(),
            imap: ImapConfig::default(),
            pop3: Pop3Config::default(),
            storage: StorageConfig::default(),
            spam: SpamConfig::default(),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 1 << 20,
            workers: 0,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            login_max_failures_per_account: 10,
            login_max_attempts_per_ip: 60,
            login_window_secs: 15 * 60,
            principal_cache_secs: 5,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 4,
            poll_interval_ms: 1000,
            lease_secs: 300,
            max_attempts: 10,
            backoff_base_secs: 10,
            backoff_max_secs: 6 * 3600,
            tenant_purge_delay_secs: 0,
            scheduler_interval_secs: 30,
        }
    }
}

mod load;
