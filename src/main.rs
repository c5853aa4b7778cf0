//! The `mailroom` command.

use anyhow::bail;
use clap::{Parser, Subcommand};
use mailroom::{Parts, open_store, start};
use mailroom_core::config::Config;
use mailroom_core::store::NewTenant;
use std::io::BufRead;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "mailroom", version, about = "Multi-tenant mail backend")]
struct Cli {
    /// TOML configuration file (settings not in it come from MAILROOM_* variables and defaults).
    #[arg(long, global = true, env = "MAILROOM_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything in one process: REST API, SMTP server (MX) and job runner.
    Serve(RunArgs),
    /// The REST API only.
    Api(RunArgs),
    /// The SMTP server (MX) and the job runner.
    Worker(RunArgs),
    /// Applies database migrations and exits.
    Migrate,
    /// Prints the OpenAPI document.
    Openapi,
    /// Bootstrap and recovery.
    #[command(subcommand)]
    Admin(Admin),
    /// Benchmarks against the configured database.
    #[command(subcommand)]
    Bench(Bench),
    /// The spam filter on folders of messages (no database needed).
    #[command(subcommand)]
    Spam(Spam),
}

#[derive(Subcommand)]
enum Spam {
    /// Learns labelled messages (one per file) and writes a model; the shipped base model is
    /// built this way from the CSDMC2010 corpus's training split (see the README).
    Train {
        /// Folder of ham (wanted) messages.
        #[arg(long)]
        ham: PathBuf,
        /// Folder of spam messages.
        #[arg(long)]
        spam: PathBuf,
        /// `train` (4 in 5, by Message-ID), `test` (the other 1 in 5) or `all`.
        #[arg(long, default_value = "all")]
        split: mailroom_core::spam::corpus::Split,
        /// A model to add to (default: start empty).
        #[arg(long)]
        base: Option<PathBuf>,
        /// Where to write the model.
        #[arg(long)]
        out: PathBuf,
        /// Tokens seen fewer times than this are dropped.
        #[arg(long, default_value_t = 2)]
        min_count: u32,
    },
    /// Scores labelled messages and prints spam recall, the ham false-positive rate,
    /// precision, F1 and messages/second on one core.
    Eval {
        #[arg(long)]
        ham: PathBuf,
        #[arg(long)]
        spam: PathBuf,
        #[arg(long, default_value = "test")]
        split: mailroom_core::spam::corpus::Split,
        /// A model file in place of the shipped one.
        #[arg(long)]
        model: Option<PathBuf>,
        /// The Junk threshold (a message at or above it counts as judged spam).
        #[arg(long, default_value_t = mailroom_core::spam::DEFAULT_JUNK)]
        junk: f64,
        /// Print every mistake with its symbols.
        #[arg(long)]
        verbose: bool,
    },
    /// Copies labelled folders into `OUT/{train,test}/{ham,spam}` by the held-out split (for
    /// training and measuring other filters on the same messages).
    Split {
        #[arg(long)]
        ham: PathBuf,
        #[arg(long)]
        spam: PathBuf,
        /// Where to write the four folders.
        #[arg(long)]
        out: PathBuf,
    },
    /// Prints the score, verdict and symbols of one message file as JSON.
    Check {
        /// The message file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Seeds mailboxes, then delivers messages over SMTP connections to a running server on
    /// the same database, and reports messages/second and latency.
    Smtp {
        /// The SMTP server (`smtp.listen` of a running `mailroom serve`).
        #[arg(long, default_value = "127.0.0.1:2525")]
        server: String,
        #[arg(long, default_value_t = 5000)]
        messages: usize,
        /// Message size in bytes.
        #[arg(long, default_value_t = 4096)]
        size: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Mailboxes the messages are spread over.
        #[arg(long, default_value_t = 100)]
        mailboxes: usize,
        /// Routing rules given to each mailbox (none of them matches, so every one is
        /// evaluated: the cost of rules on delivery).
        #[arg(long, default_value_t = 0)]
        rules: usize,
    },
    /// Runs an SMTP sink, sends messages through a mail server (Mailroom's submission with
    /// AUTH, or any relay such as Postfix) to recipients at `--domains` domains that the server
    /// relays to the sink, and reports messages/second accepted and delivered.
    Outbound {
        /// Mailroom's submission server: a sender mailbox is seeded on the same database.
        #[arg(long, conflicts_with = "relay")]
        submission: Option<String>,
        /// Another server that relays for 127.0.0.1 without AUTH (Postfix).
        #[arg(long)]
        relay: Option<String>,
        /// The port the sink listens on (the server's smarthost or relayhost).
        #[arg(long, default_value_t = 12526)]
        sink_port: u16,
        #[arg(long, default_value_t = 2000)]
        messages: usize,
        /// Message size in bytes.
        #[arg(long, default_value_t = 4096)]
        size: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Recipient domains the messages are spread over.
        #[arg(long, default_value_t = 1)]
        domains: usize,
    },
    /// Seeds one mailbox with messages through the ingest path, for the read-path figures
    /// (`bench/read.sh` times the HTTP endpoints against it; `bench/imaptest.sh` logs in to
    /// it over IMAP). Prints its address and password.
    Read {
        #[arg(long, default_value_t = 100_000)]
        messages: usize,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Times failed logins: an unknown address, a user, and a mailbox with app passwords.
    Login {
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// App passwords of the mailbox.
        #[arg(long, default_value_t = 10)]
        app_passwords: u64,
    },
    /// Seeds a tenant with mailboxes, aliases and groups, then times recipient resolution.
    Directory {
        #[arg(long, default_value_t = 10_000)]
        mailboxes: usize,
        #[arg(long, default_value_t = 20_000)]
        lookups: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Do not apply migrations at start.
    #[arg(long)]
    no_migrate: bool,
}

#[derive(Subcommand)]
#[allow(clippy::enum_variant_names)] // the names are the subcommands people type
enum Admin {
    /// Creates a platform admin (the password is read from stdin when --password is omitted).
    CreatePlatformAdmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: Option<String>,
        #[arg(long, default_value = "Platform admin")]
        name: String,
    },
    /// Creates a tenant with its first owner.
    CreateTenant {
        #[arg(long)]
        name: String,
        #[arg(long)]
        slug: String,
        #[arg(long)]
        owner_email: String,
        #[arg(long)]
        owner_password: Option<String>,
    },
    /// Sets a user's password, re-enables the account and ends its sessions.
    ResetPassword {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: Option<String>,
    },
}

fn init_logging(cfg: &Config) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAILROOM_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn,actix_server=warn")
    });
    // Colours only for a person at a terminal; files, pipes and journald get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if cfg.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn password_or_stdin(given: Option<String>) -> anyhow::Result<String> {
    if let Some(p) = given {
        return Ok(p);
    }
    eprintln!("password (read from stdin):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    if p.is_empty() {
        bail!("no password given: pass --password or write it to stdin");
    }
    Ok(p)
}

async fn run_until_signal(cfg: Config, parts: Parts, args: RunArgs) -> anyhow::Result<()> {
    let store = open_store(&cfg, cfg.auto_migrate && !args.no_migrate).await?;
    let summary = mailroom::Where::of(&cfg);
    let mut running = start(cfg, store, parts, None).await?;
    summary.announce(&running);
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let terminate = term.recv();
    #[cfg(not(unix))]
    let terminate = std::future::pending::<Option<()>>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("interrupted; shutting down"),
        _ = terminate => tracing::info!("terminated; shutting down"),
        _ = running.api_finished() => tracing::warn!("API server ended"),
    }
    running.stop().await;
    Ok(())
}

/// Caps glibc's malloc arenas at one per CPU (its default is eight per CPU), unless
/// `MALLOC_ARENA_MAX` is set. Each arena keeps memory freed by large messages for reuse; with
/// many threads touching many arenas, 50 sessions each sending a 50 MiB message peaked at
/// 327 MB resident instead of 221 MB (`bench/memory.sh sqlite`, 2 CPUs).
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = i32::try_from(cpus).unwrap_or(i32::MAX).max(2);
        // SAFETY: mallopt only sets a tuning parameter of the allocator; it is called before
        // any other thread exists, and M_ARENA_MAX takes any positive value.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run(cli)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailroom: error: {}", one_line(&e));
            if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
                eprintln!("{}", e.backtrace());
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause once (a cause whose words its parent
/// already says is left out).
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string().replace('\n', " ");
        if !out.contains(text.trim()) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(text.trim());
        }
    }
    out
}

/// Validation errors of admin commands name the command-line flags (`--owner-email`), not the
/// API's field names.
fn as_flags(e: mailroom_core::Error) -> anyhow::Error {
    match e {
        mailroom_core::Error::Validation(fields) => anyhow::anyhow!(
            "invalid arguments: {}",
            fields
                .iter()
                .map(|f| format!("--{}: {}", f.field.replace('_', "-"), f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        mailroom_core::Error::Rejected { field, message, .. } => {
            anyhow::anyhow!("invalid argument --{}: {message}", field.replace('_', "-"))
        }
        other => other.into(),
    }
}

fn spam(cmd: Spam) -> anyhow::Result<()> {
    use mailroom::spam_tool;
    match cmd {
        Spam::Train {
            ham,
            spam,
            split,
            base,
            out,
            min_count,
        } => spam_tool::train(&ham, &spam, split, base.as_deref(), &out, min_count),
        Spam::Eval {
            ham,
            spam,
            split,
            model,
            junk,
            verbose,
        } => {
            let t = mailroom_core::spam::Thresholds {
                junk,
                ..Default::default()
            };
            spam_tool::eval(&ham, &spam, split, model.as_deref(), t, verbose).map(|_| ())
        }
        Spam::Split { ham, spam, out } => spam_tool::split(&ham, &spam, &out),
        Spam::Check { file } => spam_tool::check_file(&file),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Openapi => {
            print!("{}", mailroom_api::openapi::json());
            return Ok(());
        }
        Command::Spam(cmd) => return spam(cmd),
        _ => {}
    }
    let cfg = Config::load(cli.config.as_deref(), std::env::vars())?;
    init_logging(&cfg);
    match cli.command {
        Command::Serve(a) => {
            run_until_signal(
                cfg,
                Parts {
                    api: true,
                    jobs: true,
                    smtp: true,
                    imap: true,
                },
                a,
            )
            .await
        }
        Command::Api(a) => {
            run_until_signal(
                cfg,
                Parts {
                    api: true,
                    jobs: false,
                    smtp: false,
                    imap: false,
                },
                a,
            )
            .await
        }
        Command::Worker(a) => {
            run_until_signal(
                cfg,
                Parts {
                    api: false,
                    jobs: true,
                    smtp: true,
                    imap: true,
                },
                a,
            )
            .await
        }
        Command::Migrate => {
            open_store(&cfg, true).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Openapi | Command::Spam(_) => Ok(()),
        Command::Bench(Bench::Directory {
            mailboxes,
            lookups,
            concurrency,
        }) => mailroom::bench::directory(&cfg, mailboxes, lookups, concurrency).await,
        Command::Bench(Bench::Login {
            rounds,
            app_passwords,
        }) => mailroom::bench::login(&cfg, rounds, app_passwords).await,
        Command::Bench(Bench::Read {
            messages,
            concurrency,
        }) => mailroom::bench::read(&cfg, messages, concurrency).await,
        Command::Bench(Bench::Outbound {
            submission,
            relay,
            sink_port,
            messages,
            size,
            concurrency,
            domains,
        }) => {
            mailroom::bench::outbound(
                &cfg,
                mailroom::bench::OutboundRun {
                    submission,
                    relay,
                    sink_port,
                    messages,
                    size,
                    concurrency,
                    domains,
                },
            )
            .await
        }
        Command::Bench(Bench::Smtp {
            server,
            messages,
            size,
            concurrency,
            mailboxes,
            rules,
        }) => {
            let run = mailroom::bench::SmtpRun {
                messages,
                size,
                concurrency,
                mailboxes,
                rules,
            };
            mailroom::bench::smtp(&cfg, &server, run).await
        }
        Command::Admin(cmd) => {
            let store = open_store(&cfg, true).await?;
            let sys = store.system();
            match cmd {
                Admin::CreatePlatformAdmin {
                    email,
                    password,
                    name,
                } => {
                    let user = sys
                        .create_platform_admin(&email, &name, &password_or_stdin(password)?)
                        .await
                        .map_err(as_flags)?;
                    println!(
                        "{}",
                        serde_json::json!({"id": user.id, "email": user.email, "role": user.role})
                    );
                }
                Admin::CreateTenant {
                    name,
                    slug,
                    owner_email,
                    owner_password,
                } => {
                    let mut c = mailroom_core::validate::Checker::new();
                    c.push(mailroom_core::validate::slug("slug", &slug))
                        .push(mailroom_core::validate::name("name", &name, 200));
                    let email = c.take(mailroom_core::validate::normalize_email(
                        "owner_email",
                        &owner_email,
                    ));
                    let pw = password_or_stdin(owner_password)?;
                    c.push(mailroom_core::validate::password("owner_password", &pw));
                    c.finish().map_err(as_flags)?;
                    let (t, o) = sys
                        .platform("cli")
                        .create_tenant(NewTenant {
                            name,
                            slug,
                            limits: Default::default(),
                            owner_name: email.clone(),
                            owner_email: email,
                            owner_password: pw,
                        })
                        .await
                        .map_err(as_flags)?;
                    println!(
                        "{}",
                        serde_json::json!({"id": t.id, "slug": t.slug, "owner": {"id": o.id, "email": o.email}})
                    );
                }
                Admin::ResetPassword { email, password } => {
                    sys.reset_password(&email, &password_or_stdin(password)?)
                        .await
                        .map_err(as_flags)?;
                    eprintln!("password reset; the user's sessions were ended");
                }
            }
            Ok(())
        }
    }
}
