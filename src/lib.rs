//! Boots Mailroom's parts from a [`Config`]: shared by the `mailroom` binary and the end-to-end
//! tests, so the tests run exactly what production runs.

pub mod bench;
pub mod spam_tool;

use mailroom_api::AppState;
use mailroom_core::auth::Auth;
use mailroom_core::bus::Bus;
use mailroom_core::config::Config;
use mailroom_core::domains::DomainService;
use mailroom_core::mail::authn::Authenticator;
use mailroom_core::mail::ingest::Pipeline;
use mailroom_core::mail::outbound::Outbound;
use mailroom_core::ratelimit::RateLimiter;
use mailroom_core::redis_link::RedisLink;
use mailroom_core::secrets::Secrets;
use mailroom_core::spam::greylist::Greylist;
use mailroom_core::store::Store;
use mailroom_worker::Runner;
use mailroom_worker::delivery::remote::Connections;
use mailroom_worker::imap::ImapServer;
use mailroom_worker::jobs::JobContext;
use mailroom_worker::pop3::Pop3Server;
use mailroom_worker::smtp::{SmtpServer, SubmissionParts};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which parts to run.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    /// The REST API.
    pub api: bool,
    /// The job runner.
    pub jobs: bool,
    /// The SMTP server (MX).
    pub smtp: bool,
    /// The mail-reading servers: IMAP and POP3.
    pub imap: bool,
}

/// Opens the database, applying migrations when asked. A failure says which database and
/// which setting chooses it.
pub async fn open_store(cfg: &Config, migrate: bool) -> anyhow::Result<Store> {
    let which = if cfg.database_url.is_empty() {
        format!(
            "the SQLite database in {} (data_dir, MAILROOM_DATA_DIR)",
            cfg.data_dir.display()
        )
    } else {
        format!(
            "the database at {} (database_url, MAILROOM_DATABASE_URL)",
            redact_url(&cfg.database_url)
        )
    };
    let store = Store::connect(cfg)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open {which}: {e}"))?;
    if migrate {
        store
            .migrate()
            .await
            .map_err(|e| anyhow::anyhow!("cannot migrate {which}: {e}"))?;
    }
    Ok(store)
}

/// A connection URL with its password replaced by `***`, fit for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_string(),
    }
}

/// Where a running Mailroom can be found: printed once it is ready.
pub struct Where {
    data_dir: String,
    database: String,
    bus: String,
}

impl Where {
    /// What the configuration says about storage.
    pub fn of(cfg: &Config) -> Self {
        Self {
            data_dir: cfg.data_dir.display().to_string(),
            database: if cfg.database_url.is_empty() {
                format!("SQLite {}", cfg.data_dir.join("mailroom.db").display())
            } else {
                format!("Postgres {}", redact_url(&cfg.database_url))
            },
            bus: if cfg.redis_url.is_empty() {
                "in-process".into()
            } else {
                format!("Redis {}", redact_url(&cfg.redis_url))
            },
        }
    }

    /// Logs, once, every address and store of the running parts.
    pub fn announce(&self, running: &Running) {
        let mut lines = vec!["Mailroom is ready".to_string()];
        if let Some(a) = running.api_addr {
            lines.push(format!("  REST API   http://{a}/v1"));
            lines.push(format!(
                "  API docs   http://{a}/docs (document: http://{a}/openapi.json)"
            ));
            lines.push(format!(
                "  health     http://{a}/healthz, http://{a}/readyz, http://{a}/metrics"
            ));
        }
        if let Some(a) = running.smtp_addr {
            lines.push(format!("  SMTP (MX)  {a}"));
        }
        if let Some(a) = running.submission_addr {
            lines.push(format!("  submission {a} (STARTTLS, then AUTH)"));
        }
        if let Some(a) = running.submissions_addr {
            lines.push(format!("  submission {a} (implicit TLS)"));
        }
        if let Some(a) = running.imap_addr {
            lines.push(format!("  IMAP       {a}"));
        }
        if let Some(a) = running.imaps_addr {
            lines.push(format!("  IMAPS      {a} (implicit TLS)"));
        }
        if let Some(a) = running.pop3_addr {
            lines.push(format!("  POP3       {a}"));
        }
        if let Some(a) = running.pop3s_addr {
            lines.push(format!("  POP3S      {a} (implicit TLS)"));
        }
        lines.push(format!("  data dir   {}", self.data_dir));
        lines.push(format!("  database   {}", self.database));
        lines.push(format!("  event bus  {}", self.bus));
        tracing::info!("{}", lines.join("\n"));
    }
}

/// Binds a listening socket, saying which setting to change when the address is taken.
fn bind(
    addr: &str,
    backlog: u32,
    what: &str,
    setting: &str,
    var: &str,
) -> anyhow::Result<TcpListener> {
    mailroom_worker::net::bind(addr, backlog).map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {addr} for {what}: {e}; set {setting} ({var}) to a free address"
        )
    })
}

/// A running Mailroom.
pub struct Running {
    /// Where the API listens, when it runs.
    pub api_addr: Option<SocketAddr>,
    /// Where the SMTP server listens, when it runs.
    pub smtp_addr: Option<SocketAddr>,
    /// Where the submission server listens, when it runs.
    pub submission_addr: Option<SocketAddr>,
    /// Where it listens with implicit TLS, when configured.
    pub submissions_addr: Option<SocketAddr>,
    /// Where the IMAP server listens, when it runs.
    pub imap_addr: Option<SocketAddr>,
    /// Where it listens with implicit TLS, when configured.
    pub imaps_addr: Option<SocketAddr>,
    /// Where the POP3 server listens, when it runs.
    pub pop3_addr: Option<SocketAddr>,
    /// Where it listens with implicit TLS, when configured.
    pub pop3s_addr: Option<SocketAddr>,
    /// The ingest pipeline (and through it the event bus).
    pub pipeline: Pipeline,
    /// The database handle.
    pub store: Store,
    api: Option<actix_web::dev::ServerHandle>,
    api_task: Option<JoinHandle<std::io::Result<()>>>,
    jobs_task: Option<JoinHandle<()>>,
    smtp_task: Option<JoinHandle<()>>,
    submission_tasks: Vec<JoinHandle<()>>,
    imap_task: Option<JoinHandle<()>>,
    imaps_task: Option<JoinHandle<()>>,
    pop3_tasks: Vec<JoinHandle<()>>,
    watch_task: Option<JoinHandle<()>>,
    stats_task: Option<JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
}

impl Running {
    /// Stops gracefully: the API finishes its requests, the runner its jobs.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        if let Some(h) = self.api {
            h.stop(true).await;
        }
        if let Some(t) = self.api_task {
            let _ = t.await;
        }
        if let Some(t) = self.jobs_task {
            let _ = t.await;
        }
        if let Some(t) = self.smtp_task {
            let _ = t.await;
        }
        for t in self.submission_tasks {
            let _ = t.await;
        }
        if let Some(t) = self.imap_task {
            let _ = t.await;
        }
        if let Some(t) = self.imaps_task {
            let _ = t.await;
        }
        for t in self.pop3_tasks {
            let _ = t.await;
        }
        if let Some(t) = self.stats_task {
            let _ = t.await;
        }
        if let Some(t) = self.watch_task {
            let _ = t.await;
        }
    }

    /// Waits until the API server ends by itself (it normally runs until stopped).
    pub async fn api_finished(&mut self) {
        if let Some(t) = self.api_task.as_mut() {
            let _ = t.await;
            self.api_task = None;
        } else {
            std::future::pending::<()>().await;
        }
    }
}

/// The pipeline's stages: the spam filter when enabled.
fn stages(cfg: &Config, store: &Store) -> mailroom_core::mail::ingest::Stages {
    use mailroom_core::spam::stage::{SpamCheck, SpamVerdict};
    use std::sync::Arc;
    let mut s = mailroom_core::mail::ingest::Stages::default();
    if cfg.spam.enabled {
        use mailroom_core::spam::rdns::{ReverseDns, Scope};
        let dns = mailroom_core::dns::Dns::new(&cfg.dns).ok();
        let lists = dns.clone().and_then(|dns| {
            mailroom_core::spam::dnsbl::DnsLists::new(
                dns,
                &cfg.spam.dnsbl_zones,
                &cfg.spam.uribl_zones,
            )
        });
        let ours = cfg.smtp.hostname(&cfg.public_hostname).to_string();
        let mut check = SpamCheck::new(lists, &ours);
        let scope = match cfg.spam.reverse_dns.as_str() {
            "all" => Some(Scope::All),
            "public" => Some(Scope::Public),
            _ => None,
        };
        if let (Some(dns), Some(scope)) = (dns, scope) {
            check = check.with_reverse_dns(ReverseDns::new(dns, scope));
        }
        s.message.push(Arc::new(check));
        s.copy.push(Arc::new(SpamVerdict::new(store.system())));
    }
    // Rules after the spam verdict: a rule may file elsewhere what the filter put in Junk.
    s.copy
        .push(Arc::new(mailroom_core::rules::stage::RulesStage::new(
            store.system(),
        )));
    // Auto-replies last: only copies that are kept get one.
    s.copy
        .push(Arc::new(mailroom_core::mail::vacation::VacationStage::new(
            store.system(),
        )));
    s
}

/// Starts the chosen parts on an open, migrated store. `listener` overrides `api.listen`.
pub async fn start(
    cfg: Config,
    store: Store,
    parts: Parts,
    listener: Option<TcpListener>,
) -> anyhow::Result<Running> {
    let cfg = Arc::new(cfg);
    // Listening sockets first: a taken port fails the start before anything else runs.
    let smtp_listener = if parts.smtp && cfg.smtp.enabled {
        let l = bind(
            &cfg.smtp.listen,
            cfg.smtp.listen_backlog,
            "SMTP",
            "smtp.listen",
            "MAILROOM_SMTP_LISTEN",
        )?;
        Some(tokio::net::TcpListener::from_std(l)?)
    } else {
        None
    };
    let submission_listener = if parts.smtp && cfg.submission.enabled {
        let l = bind(
            &cfg.submission.listen,
            cfg.submission.listen_backlog,
            "SMTP submission",
            "submission.listen",
            "MAILROOM_SUBMISSION_LISTEN",
        )?;
        Some(tokio::net::TcpListener::from_std(l)?)
    } else {
        None
    };
    let submissions_listener =
        if parts.smtp && cfg.submission.enabled && !cfg.submission.tls_listen.is_empty() {
            let l = bind(
                &cfg.submission.tls_listen,
                cfg.submission.listen_backlog,
                "SMTP submission over TLS",
                "submission.tls_listen",
                "MAILROOM_SUBMISSION_TLS_LISTEN",
            )?;
            Some(tokio::net::TcpListener::from_std(l)?)
        } else {
            None
        };
    let imap_listener = if parts.imap && cfg.imap.enabled {
        let l = bind(
            &cfg.imap.listen,
            cfg.imap.listen_backlog,
            "IMAP",
            "imap.listen",
            "MAILROOM_IMAP_LISTEN",
        )?;
        Some(tokio::net::TcpListener::from_std(l)?)
    } else {
        None
    };
    let imaps_listener = if parts.imap && cfg.imap.enabled && !cfg.imap.tls_listen.is_empty() {
        let l = bind(
            &cfg.imap.tls_listen,
            cfg.imap.listen_backlog,
            "IMAP over TLS",
            "imap.tls_listen",
            "MAILROOM_IMAP_TLS_LISTEN",
        )?;
        Some(tokio::net::TcpListener::from_std(l)?)
    } else {
        None
    };
    let pop3_listener = if parts.imap && cfg.pop3.enabled {
        let l = bind(
            &cfg.pop3.listen,
            cfg.pop3.listen_backlog,
            "POP3",
            "pop3.listen",
            "MAILROOM_POP3_LISTEN",
        )?;
        Some(tokio::net::TcpListener::from_std(l)?)
    } else {
        None
    };
    let pop3s_listener = if parts.imap && cfg.pop3.enabled && !cfg.pop3.tls_listen.is_empty() {
        let l = bind(
            &cfg.pop3.tls_listen,
            cfg.pop3.listen_backlog,
            "POP3 over TLS",
            "pop3.tls_listen",
            "MAILROOM_POP3_TLS_LISTEN",
        )?;
        Some(tokio::net::TcpListener::from_std(l)?)
    } else {
        None
    };
    let api_listener = match (parts.api, listener) {
        (false, _) => None,
        (true, Some(l)) => Some(l),
        (true, None) => Some(bind(
            &cfg.api.listen,
            1024,
            "the API",
            "api.listen",
            "MAILROOM_API_LISTEN",
        )?),
    };
    let boot = &cfg.bootstrap;
    if !boot.admin_email.is_empty()
        && !boot.admin_password.is_empty()
        && store
            .system()
            .ensure_platform_admin(&boot.admin_email, &boot.admin_password)
            .await?
    {
        tracing::info!(email = %boot.admin_email, "bootstrap platform admin created");
    }
    let (shutdown, shutdown_rx) = watch::channel(false);
    let secrets = Secrets::load(&cfg)?;
    let domains = DomainService::new(&cfg, &secrets.master)?;
    // One Redis connection for the bus and the rate limiter; Redis may be down at start.
    let redis = if cfg.redis_url.is_empty() {
        None
    } else {
        Some(
            RedisLink::open(&cfg.redis_url, store.health().clone()).map_err(|e| {
                anyhow::anyhow!(
                    "redis_url ({}): {e}; set redis_url (MAILROOM_REDIS_URL) to redis://host:port",
                    redact_url(&cfg.redis_url)
                )
            })?,
        )
    };
    let bus = match &redis {
        None => Bus::memory(),
        Some(link) => Bus::redis(link.clone(), &cfg.redis_key_prefix).await,
    };
    // Writes that may change who can authenticate end cached authentications in every process.
    bus.relay_auth_epoch(store.auth_epoch().clone());
    let hostname = cfg.smtp.hostname(&cfg.public_hostname).to_string();
    let authn = if cfg.smtp.authenticate {
        Some(
            Authenticator::new(
                &cfg.dns.nameservers,
                Duration::from_millis(cfg.dns.timeout_ms),
                &hostname,
                Duration::from_millis(cfg.smtp.auth_deadline_ms),
            )
            .map_err(|e| anyhow::anyhow!("SMTP authentication checks: {e}"))?,
        )
    } else {
        None
    };
    let pipeline = Pipeline::new(
        store.system(),
        bus,
        authn,
        &hostname,
        chrono::Duration::seconds(cfg.smtp.dedup_window_secs.min(i64::MAX as u64) as i64),
        cfg.smtp.delivery_memory_bytes,
    )
    .with_stages(stages(&cfg, &store));
    let mut running = Running {
        api_addr: None,
        smtp_addr: None,
        submission_addr: None,
        submissions_addr: None,
        imap_addr: None,
        imaps_addr: None,
        pop3_addr: None,
        pop3s_addr: None,
        pipeline: pipeline.clone(),
        store: store.clone(),
        api: None,
        api_task: None,
        jobs_task: None,
        smtp_task: None,
        submission_tasks: Vec::new(),
        imap_task: None,
        imaps_task: None,
        pop3_tasks: Vec::new(),
        // The health monitor: database, writes, the data directory's free space.
        watch_task: Some(tokio::spawn(store.clone().watch(
            cfg.data_dir.clone(),
            cfg.storage.min_free_bytes,
            shutdown_rx.clone(),
        ))),
        // Postgres planner statistics, fresh within seconds of a bulk import.
        stats_task: Some(tokio::spawn(
            store.clone().keep_statistics(shutdown_rx.clone()),
        )),
        shutdown,
    };
    if let Some(listener) = smtp_listener {
        let tls = if cfg.smtp.starttls {
            Some(
                mailroom_worker::net::tls::server_config(
                    &cfg.smtp.tls_cert,
                    &cfg.smtp.tls_key,
                    &cfg.data_dir,
                    &hostname,
                )
                .map_err(|e| anyhow::anyhow!("SMTP TLS: {e}"))?,
            )
        } else {
            None
        };
        running.smtp_addr = Some(listener.local_addr()?);
        let server = SmtpServer::new(
            cfg.smtp.clone(),
            &hostname,
            store.system(),
            pipeline.clone(),
            tls,
            cfg.data_dir.join("spool"),
        )
        .with_greylist(Greylist::new(
            store.system(),
            redis
                .as_ref()
                .map(|l| (l.clone(), cfg.redis_key_prefix.as_str())),
        ));
        running.smtp_task = Some(tokio::spawn(server.run(listener, shutdown_rx.clone())));
    }
    let limiter = match &redis {
        None => RateLimiter::memory(),
        Some(link) => RateLimiter::redis(link.clone(), &cfg.redis_key_prefix),
    };
    let outbound = Outbound::new(
        cfg.outbound.clone(),
        &hostname,
        domains.clone(),
        &pipeline,
        limiter.clone(),
    );
    if let Some(listener) = submission_listener {
        // The SMTP server's certificate unless submission names its own.
        let (cert, key) = if cfg.submission.tls_cert.is_empty() {
            (&cfg.smtp.tls_cert, &cfg.smtp.tls_key)
        } else {
            (&cfg.submission.tls_cert, &cfg.submission.tls_key)
        };
        let tls = if cfg.submission.starttls || submissions_listener.is_some() {
            Some(
                mailroom_worker::net::tls::server_config(cert, key, &cfg.data_dir, &hostname)
                    .map_err(|e| anyhow::anyhow!("submission TLS: {e}"))?,
            )
        } else {
            None
        };
        running.submission_addr = Some(listener.local_addr()?);
        let server = SmtpServer::new(
            cfg.submission.smtp(&cfg.smtp),
            &hostname,
            store.system(),
            pipeline.clone(),
            tls,
            cfg.data_dir.join("spool"),
        )
        .for_submission(SubmissionParts {
            store: store.clone(),
            auth: Auth::new(&store, &secrets.jwt, cfg.auth.clone(), limiter.clone()),
            outbound: outbound.clone(),
            require_tls: cfg.submission.require_tls_for_auth,
        });
        if let Some(l) = submissions_listener {
            running.submissions_addr = Some(l.local_addr()?);
            running.submission_tasks.push(tokio::spawn(
                server.implicit_tls().run(l, shutdown_rx.clone()),
            ));
        }
        running
            .submission_tasks
            .push(tokio::spawn(server.run(listener, shutdown_rx.clone())));
    }
    if let Some(listener) = imap_listener {
        // The SMTP server's certificate unless IMAP names its own.
        let (cert, key) = if cfg.imap.tls_cert.is_empty() {
            (&cfg.smtp.tls_cert, &cfg.smtp.tls_key)
        } else {
            (&cfg.imap.tls_cert, &cfg.imap.tls_key)
        };
        let tls = if cfg.imap.starttls || imaps_listener.is_some() {
            Some(
                mailroom_worker::net::tls::server_config(cert, key, &cfg.data_dir, &hostname)
                    .map_err(|e| anyhow::anyhow!("IMAP TLS: {e}"))?,
            )
        } else {
            None
        };
        running.imap_addr = Some(listener.local_addr()?);
        let auth = Auth::new(&store, &secrets.jwt, cfg.auth.clone(), limiter.clone());
        let server = ImapServer::new(
            cfg.imap.clone(),
            &hostname,
            store.clone(),
            auth,
            pipeline.clone(),
            tls,
        );
        if let Some(l) = imaps_listener {
            running.imaps_addr = Some(l.local_addr()?);
            running.imaps_task = Some(tokio::spawn(
                server.implicit_tls().run(l, shutdown_rx.clone()),
            ));
        }
        running.imap_task = Some(tokio::spawn(server.run(listener, shutdown_rx.clone())));
    }
    if let Some(listener) = pop3_listener {
        let (cert, key) = if cfg.pop3.tls_cert.is_empty() {
            (&cfg.smtp.tls_cert, &cfg.smtp.tls_key)
        } else {
            (&cfg.pop3.tls_cert, &cfg.pop3.tls_key)
        };
        let tls = if cfg.pop3.starttls || pop3s_listener.is_some() {
            Some(
                mailroom_worker::net::tls::server_config(cert, key, &cfg.data_dir, &hostname)
                    .map_err(|e| anyhow::anyhow!("POP3 TLS: {e}"))?,
            )
        } else {
            None
        };
        running.pop3_addr = Some(listener.local_addr()?);
        let auth = Auth::new(&store, &secrets.jwt, cfg.auth.clone(), limiter.clone());
        let server = Pop3Server::new(
            cfg.pop3.clone(),
            &hostname,
            store.clone(),
            auth,
            pipeline.bus().clone(),
            tls,
        );
        if let Some(l) = pop3s_listener {
            running.pop3s_addr = Some(l.local_addr()?);
            running.pop3_tasks.push(tokio::spawn(
                server.implicit_tls().run(l, shutdown_rx.clone()),
            ));
        }
        running
            .pop3_tasks
            .push(tokio::spawn(server.run(listener, shutdown_rx.clone())));
    }
    if parts.jobs && cfg.jobs.enabled {
        let ctx = JobContext {
            sys: store.system(),
            domains: domains.clone(),
            pipeline: pipeline.clone(),
            outbound: outbound.clone(),
            connections: Connections::new(
                Duration::from_secs(cfg.outbound.connection_cache_secs),
                cfg.outbound.max_connections_per_domain,
            ),
            lease: Duration::from_secs(cfg.jobs.lease_secs.max(1)),
        };
        let runner = Runner::new(ctx, cfg.jobs.clone());
        running.jobs_task = Some(tokio::spawn(runner.run(shutdown_rx)));
    }
    if let Some(listener) = api_listener {
        let auth = Auth::new(&store, &secrets.jwt, cfg.auth.clone(), limiter.clone());
        running.api_addr = Some(listener.local_addr()?);
        let server = mailroom_api::start(
            listener,
            AppState::new(
                store,
                auth,
                pipeline,
                domains,
                limiter,
                cfg.clone(),
                cfg.api
                    .trusted_proxies
                    .iter()
                    .filter_map(|c| mailroom_core::net::Cidr::parse(c))
                    .collect(),
            ),
        )?;
        running.api = Some(server.handle());
        running.api_task = Some(tokio::spawn(server));
    }
    Ok(running)
}
