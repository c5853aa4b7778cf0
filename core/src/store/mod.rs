//! The store: every database access of Mailroom goes through here.
//!
//! Access comes in three handles, each named for what it may reach:
//! - [`TenantStore`]: one tenant's data. Built only from an authenticated principal; every query
//!   it runs filters on its tenant, and an id of another tenant's object is simply not found.
//! - [`PlatformStore`]: the tenants themselves, for platform admins.
//! - [`SystemStore`]: unscoped access for migrations, bootstrap, authentication look-ups and jobs.

pub mod entities;

mod aliases;
mod api_keys;
mod app_passwords;
mod audit;
mod auth_facts;
mod contacts;
mod delivery;
mod domains;
mod folder_index;
mod folders;
mod greylist;
mod group_commit;
mod jobs;
mod mail_state;
mod mailboxes;
mod message_changes;
mod message_views;
mod messages;
mod new_message;
mod nodelay;
mod outbound;
mod page;
mod platform;
mod pop3;
mod routing;
mod rules;
mod scope;
mod signatures;
mod spam;
mod sql;
mod stats;
mod subscriptions;
mod system;
mod tenant;
mod users;
mod vacation;
mod watch;

pub use aliases::{GroupView, MAX_TARGETS, SEND_POLICIES};
pub use api_keys::{ApiKeyRecord, NewApiKey};
pub(crate) use app_passwords::app_password_lookup_of_input;
pub use audit::{Actor, ActorKind, AuditFilter};
pub use contacts::{Book, ImportReport, MAX_BOOK, card_of};
pub use delivery::SUBJECT_THREAD_WINDOW_DAYS;
pub use domains::{DomainView, Verification};
pub use folder_index::{FetchRow, FolderMark, IndexChanges, IndexEntry};
pub use folders::{MAX_FOLDERS, SPECIAL_USES, normalize_folder_name};
pub use group_commit::{COMMITTERS, GroupCommitter, MAX_BATCH_BYTES, MAX_BATCH_MESSAGES};
pub use mail_state::{FolderChanges, MAX_CHANGES};
pub use mailboxes::{DEFAULT_FOLDERS, MailboxPatch, NewMailbox, POP3_BEHAVIOURS, Password};
pub use message_changes::{Change, ChangeReport, MAX_BATCH, MAX_KEYWORDS, valid_keyword};
pub use message_views::{MAX_THREAD_PAGE, MessageFilter, MessageRow, Sort, ThreadSummary};
pub use new_message::{FolderTarget, NewCopy, NewMessage, StoredCopy, blob_hash, events_of};
pub use outbound::{Attempt, NewOutbound, SUPPRESSED, domain_of};
pub use page::{DatePage, Page, PageRequest};
pub use platform::{NewTenant, PlatformStore, TenantLimits, TenantPatch};
pub use pop3::{DropMessage, Maildrop};
pub use routing::{
    Delivery, MAX_DEPTH, MAX_RECIPIENTS, Rejection, Resolution, SendGuard, split_address,
};
pub use rules::{NewRule, RuleList, RulePatch};
pub use signatures::{
    IdentityInput, MAX_IDENTITIES, MAX_SIGNATURES, SignatureInput, sanitize_html,
};
pub use spam::{
    DMARC_REJECT_CHOICES, Learnt, MAX_SPAM_LIST, NewSpamListEntry, Quarantined, SPAM_LIST_KINDS,
    SpamSettings, SpamSettingsPatch, spam_list_covers, spam_list_pattern,
};
pub use subscriptions::MAX_SUBSCRIPTIONS;
pub use system::SystemStore;
pub use tenant::TenantStore;
pub use users::{NewUser, UserPatch};
pub use vacation::{MAX_VACATION_INTERVAL_DAYS, Vacation, VacationOf, VacationPatch};
pub use watch::free_bytes;

use crate::config::Config;
use crate::epoch::AuthEpoch;
use crate::error::{Error, Result};
use crate::health::{Health, Part};
use mailroom_migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// A pooled Postgres connection idle this long is pinged before use (see `Store::connect`).
const POOL_PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Key of the Postgres advisory lock held while migrating, so replicas starting together do
/// not apply the same migration twice.
const MIGRATION_LOCK_KEY: i64 = 0x6d61_696c_726f_6f6d; // "mailroom"

/// A connection pool to Mailroom's database (Postgres or SQLite).
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite allows one writer at a time and fails, rather than waits, when a transaction that
    /// began reading later tries to write while another writer committed. Write transactions
    /// therefore queue on this lock on SQLite; Postgres needs none.
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// What is up and what is down, shared with this process's other parts.
    health: Health,
    /// Messages this process stored since the planner statistics were last looked at.
    written: Arc<stats::Written>,
    /// Moved on by every write that is not marked quiet (see [`AuthEpoch`]).
    auth_epoch: Arc<AuthEpoch>,
}

/// A connection taken for one auto-commit write, with this process's SQLite write lock.
pub(crate) struct Writer<'a> {
    db: &'a DatabaseConnection,
    _lock: Option<OwnedMutexGuard<()>>,
    /// Moved on when the write is done (dropped), unless the writer is quiet.
    epoch: Option<&'a AuthEpoch>,
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if let Some(e) = self.epoch {
            e.bump();
        }
    }
}

impl std::ops::Deref for Writer<'_> {
    type Target = DatabaseConnection;
    fn deref(&self) -> &DatabaseConnection {
        self.db
    }
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
pub(crate) struct Tx {
    txn: DatabaseTransaction,
    _writer: Option<OwnedMutexGuard<()>>,
    health: Health,
    /// Moved on after the commit (or its failure: it may have landed), unless quiet.
    epoch: Option<Arc<AuthEpoch>>,
}

impl std::ops::Deref for Tx {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl Tx {
    /// Commits; the writer lock is released after the commit (or its failure). The outcome
    /// tells the health state whether writes work.
    pub(crate) async fn commit(self) -> Result<()> {
        let health = self.health.clone();
        let epoch = self.epoch.clone();
        let outcome = self.txn.commit().await;
        if let Some(e) = epoch {
            e.bump();
        }
        match outcome {
            Ok(()) => {
                health.ok(Part::Writes);
                Ok(())
            }
            Err(e) => {
                let e = Error::from(e);
                if e.outage().is_some() {
                    health.failed(Part::Writes, &e);
                }
                Err(e)
            }
        }
    }
}

impl Store {
    /// Connects to the configured database (creating the SQLite file and data directory when
    /// needed).
    pub async fn connect(cfg: &Config) -> Result<Self> {
        let url = cfg.effective_database_url();
        let sqlite = url.starts_with("sqlite:");
        if sqlite && cfg.database_url.is_empty() {
            std::fs::create_dir_all(&cfg.data_dir).map_err(|e| {
                Error::Config(format!(
                    "cannot create data directory {}: {e}",
                    cfg.data_dir.display()
                ))
            })?;
        }
        let mut opts = ConnectOptions::new(url.clone());
        // By default every checkout from the pool first pings the connection: one more round
        // trip per query. An SQLite connection lives in this process and cannot be dropped by
        // a server, so it is never pinged; a Postgres connection is pinged only after it was
        // idle long enough for a server restart, proxy or firewall to have dropped it.
        if sqlite {
            opts.test_before_acquire(false);
        } else {
            opts.test_before_acquire_if_idle_for(POOL_PING_AFTER_IDLE);
        }
        opts.max_connections(cfg.database_max_connections.max(1))
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        // A connection whose transaction could not be ended must not be used again. When a
        // COMMIT fails (SQLITE_FULL on a full disk), SQLite may roll the transaction back by
        // itself; sqlx's ROLLBACK then fails and sqlx keeps counting the transaction as open,
        // so the next BEGIN on that connection would become a SAVEPOINT inside a transaction
        // that never ends: writes "committed" there are lost, and its locks are never released.
        // So on release, once queued commands (the rollback) have run, a connection still
        // counted in a transaction is closed, which also makes SQLite release its locks.
        opts.map_sqlx_sqlite_pool_opts(|o| {
            o.after_release(|conn, _| {
                Box::pin(async move {
                    use sea_orm::sqlx::Connection;
                    // The depth is counted where the worker runs the commands; a connection
                    // counted outside a transaction has nothing of one queued (a cancelled
                    // BEGIN is rolled back by the worker before anything queued after it), so
                    // only one still counted in a transaction waits for its queue to drain.
                    // This keeps a round trip to the connection's thread off every query.
                    if !conn.is_in_transaction() {
                        return Ok(true);
                    }
                    conn.ping().await?;
                    let clean = !conn.is_in_transaction();
                    if !clean {
                        tracing::debug!("closing an SQLite connection left inside a transaction");
                    }
                    Ok(clean)
                })
            })
        });
        // After each new Postgres connection: TCP_NODELAY (see nodelay.rs).
        let peers = if sqlite {
            Vec::new()
        } else {
            postgres_peers(&url).await
        };
        if !peers.is_empty() {
            opts.map_sqlx_postgres_pool_opts(move |o| {
                let peers = peers.clone();
                o.after_connect(move |_, _| {
                    let peers = peers.clone();
                    Box::pin(async move {
                        nodelay::set_on_connections_to(&peers);
                        Ok(())
                    })
                })
            });
        }
        // Opening a fresh SQLite file turns it to WAL, which takes an exclusive lock SQLite does
        // not wait for: processes starting together on one data directory open it in turn.
        let guard = if sqlite {
            Some(lock_data_dir(&cfg.data_dir).await?)
        } else {
            None
        };
        let db = Database::connect(opts).await?;
        if guard.is_some() {
            db.ping().await?;
        }
        drop(guard);
        Ok(Self {
            db,
            sqlite_writer: sqlite.then(|| Arc::new(Mutex::new(()))),
            health: Health::default(),
            written: Arc::default(),
            auth_epoch: Arc::default(),
        })
    }

    /// Applies pending migrations, atomically and one caller at a time: on Postgres under an
    /// advisory lock, on SQLite inside a `BEGIN IMMEDIATE` transaction.
    pub async fn migrate(&self) -> Result<()> {
        if self.is_postgres() {
            // The lock belongs to a session, so take and release it on one connection.
            let txn = self.db.begin().await?;
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [MIGRATION_LOCK_KEY.into()],
            ))
            .await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await?;
        } else {
            // SQLite has transactional DDL: inside one IMMEDIATE transaction the migrations are
            // atomic, and a second process starting at the same moment waits for them.
            let tx = self.tx().await?;
            Migrator::up(&*tx, None).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<()> {
        self.db.ping().await?;
        Ok(())
    }

    /// True on Postgres, false on SQLite.
    pub fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    /// The unscoped handle (migrations, bootstrap, auth look-ups, jobs).
    pub fn system(&self) -> SystemStore {
        SystemStore::new(self.clone())
    }

    /// The health state: database, writes, disk, Redis.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Reports a failed write (an outage: a full disk, a lost connection) to the health state;
    /// other errors are faults of the request and say nothing about the store.
    pub fn report_failure(&self, e: &Error) {
        if e.outage().is_some() {
            self.health.failed(Part::Writes, e);
        }
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The auth epoch this store moves on (for the principal cache and the bus relay).
    pub fn auth_epoch(&self) -> &Arc<AuthEpoch> {
        &self.auth_epoch
    }

    /// The connection for a write outside [`Store::tx`] (a single auto-commit statement),
    /// holding this process's turn to write on SQLite until dropped. With [`Store::tx`] it is
    /// the only way to the SQLite write lock, so no writer can forget it. The auth epoch moves
    /// on when it is dropped.
    pub(crate) async fn writer(&self) -> Writer<'_> {
        Writer {
            db: &self.db,
            _lock: self.write_lock().await,
            epoch: Some(&self.auth_epoch),
        }
    }

    /// [`Store::writer`] for a write that cannot make a credential stop authenticating (a job's
    /// state, the health probe, an API key's `last_used_at`, a new session or refresh token): the
    /// auth epoch stays. Each caller is a
    /// reviewed hot path; anything else takes [`Store::writer`].
    pub(crate) async fn writer_quiet(&self) -> Writer<'_> {
        Writer {
            db: &self.db,
            _lock: self.write_lock().await,
            epoch: None,
        }
    }

    /// On SQLite, this process's turn to write, held until dropped; `None` on Postgres. Writers
    /// of this process therefore never meet in SQLite's lock, whose busy handler polls and can
    /// starve a writer. Taken only by [`Store::tx`] and [`Store::writer`].
    async fn write_lock(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.sqlite_writer {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        }
    }

    /// Begins a write transaction. On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken
    /// at once, waiting up to the busy timeout. A deferred transaction that read first would
    /// instead fail at once with "database is locked" when another process (a second
    /// `mailroom`, the CLI) wrote in between.
    pub(crate) async fn tx(&self) -> Result<Tx> {
        self.begin(Some(self.auth_epoch.clone())).await
    }

    /// [`Store::tx`] for a transaction that cannot change who may authenticate (deliveries,
    /// message changes, jobs, the health probe): the auth epoch stays. Each caller is a reviewed
    /// hot path; anything else takes [`Store::tx`].
    pub(crate) async fn tx_quiet(&self) -> Result<Tx> {
        self.begin(None).await
    }

    async fn begin(&self, epoch: Option<Arc<AuthEpoch>>) -> Result<Tx> {
        let writer = self.write_lock().await;
        let txn = if self.sqlite_writer.is_some() {
            let opts = TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            };
            self.db.begin_with_options(opts).await?
        } else {
            self.db.begin().await?
        };
        Ok(Tx {
            txn,
            _writer: writer,
            health: self.health.clone(),
            epoch,
        })
    }
}

/// The addresses a Postgres URL's host resolves to (none for a Unix socket or a bad URL).
async fn postgres_peers(url: &str) -> Vec<std::net::SocketAddr> {
    use std::str::FromStr;
    let Ok(o) = sea_orm::sqlx::postgres::PgConnectOptions::from_str(url) else {
        return Vec::new();
    };
    if o.get_host().starts_with('/') {
        return Vec::new();
    }
    match tokio::net::lookup_host((o.get_host(), o.get_port())).await {
        Ok(a) => a.collect(),
        Err(_) => Vec::new(),
    }
}

/// An exclusive lock on `<data_dir>/mailroom.lock`, held until dropped.
async fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::Config(format!(
            "cannot create data directory {}: {e}",
            dir.display()
        ))
    })?;
    let path = dir.join("mailroom.lock");
    tokio::task::spawn_blocking(move || {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::Config(format!("cannot open {}: {e}", path.display())))?;
        f.lock()
            .map_err(|e| Error::Config(format!("cannot lock {}: {e}", path.display())))?;
        Ok(f)
    })
    .await
    .map_err(|e| Error::Internal(format!("lock task failed: {e}")))?
}

/// Turns a unique-constraint violation into a conflict with the given code; other errors pass.
pub(crate) fn on_unique(e: sea_orm::DbErr, code: &'static str, detail: &str) -> Error {
    match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Error::conflict(code, detail),
        _ => Error::Db(e),
    }
}
