//! `mailroom bench …`: measurements on a real database (the configured one).

use anyhow::Context;
use mailroom_core::auth::hash_password;
use mailroom_core::config::Config;
use mailroom_core::domains::DomainService;
use mailroom_core::secrets::Secrets;
use mailroom_core::store::{NewMailbox, NewTenant, Password};
use std::time::{Duration, Instant};

/// Seeds a tenant with `mailboxes` mailboxes (plus one alias per ten and one ten-member group
/// per hundred) through the real creation path, then times `lookups` recipient resolutions — the
/// SMTP server's question — from `concurrency` tasks. Prints one JSON object, including the
/// tenant owner's credentials for HTTP measurements.
pub async fn directory(
    cfg: &Config,
    mailboxes: usize,
    lookups: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let store = crate::open_store(cfg, true).await?;
    let sys = store.system();
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let slug = format!("bench-{suffix}");
    let (owner_email, owner_password) = (
        format!("owner@{slug}.example"),
        "bench-owner-password".to_string(),
    );
    let Seeded {
        ts,
        domain_id,
        domain: name,
        hash,
    } = seed_tenant(cfg, &sys, &slug).await?;

    let started = Instant::now();
    for i in 0..mailboxes {
        ts.create_mailbox(
            NewMailbox {
                domain_id,
                local_part: format!("user{i}"),
                display_name: format!("User {i}"),
                password: Password::Hashed(hash.clone()),
                quota_bytes: None,
                pop3_after_download: None,
            },
            cfg.mailboxes.default_quota_bytes,
        )
        .await?;
        if (i + 1) % 1000 == 0 {
            eprintln!("{} mailboxes", i + 1);
        }
    }
    for i in 0..mailboxes / 10 {
        let dests = [
            format!("user{i}@{name}"),
            format!("user{}@{name}", (i + 1) % mailboxes.max(1)),
        ];
        ts.create_alias(domain_id, &format!("alias{i}"), &dests)
            .await?;
    }
    for i in 0..mailboxes / 100 {
        let members: Vec<String> = (0..10)
            .map(|k| format!("user{}@{name}", (i * 10 + k) % mailboxes.max(1)))
            .collect();
        ts.create_group(domain_id, &format!("team{i}"), "Team", &members, "anyone")
            .await?;
    }
    let seed_secs = started.elapsed().as_secs_f64();

    // 70% mailboxes, 15% sub-addresses, 10% aliases, 5% groups.
    let addresses: Vec<String> = (0..lookups)
        .map(|n| {
            let i = (n * 7919) % mailboxes.max(1);
            match n % 20 {
                0 => format!("team{}@{name}", i % (mailboxes / 100).max(1)),
                1 | 2 => format!("alias{}@{name}", i % (mailboxes / 10).max(1)),
                3..=5 => format!("user{i}+tag@{name}"),
                _ => format!("user{i}@{name}"),
            }
        })
        .collect();
    let per_task = addresses.len().div_ceil(concurrency.max(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in addresses.chunks(per_task.max(1)) {
        let (sys, chunk) = (sys.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(chunk.len());
            for a in chunk {
                let t = Instant::now();
                let r = sys.resolve_address(&a).await?;
                anyhow::ensure!(
                    r.rejected.is_none() && !r.mailboxes.is_empty(),
                    "{a} did not resolve: {:?}",
                    r.rejected
                );
                times.push(t.elapsed());
            }
            Ok::<Vec<Duration>, anyhow::Error>(times)
        }));
    }
    let mut times = Vec::new();
    for t in tasks {
        times.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    times.sort();
    let pct = |p: f64| {
        times
            .get(((times.len() as f64 * p) as usize).min(times.len().saturating_sub(1)))
            .map_or(0, |d| d.as_micros())
    };
    println!(
        "{}",
        serde_json::json!({
            "backend": if store.is_postgres() { "postgres" } else { "sqlite" },
            "tenant": slug, "owner_email": owner_email, "owner_password": owner_password, "domain": name,
            "mailboxes": mailboxes, "aliases": mailboxes / 10, "groups": mailboxes / 100, "seed_secs": (seed_secs * 10.0).round() / 10.0,
            "resolver": {"lookups": times.len(), "concurrency": concurrency, "per_sec": (times.len() as f64 / elapsed).round(),
                         "p50_us": pct(0.5), "p99_us": pct(0.99)}
        })
    );
    Ok(())
}

/// Reads one SMTP reply (all its lines) from `s`; returns its code.
async fn smtp_reply(
    s: &mut tokio::io::BufReader<tokio::net::TcpStream>,
    line: &mut String,
) -> anyhow::Result<u16> {
    use tokio::io::AsyncBufReadExt;
    loop {
        line.clear();
        if s.read_line(line).await? == 0 {
            anyhow::bail!("server closed the connection");
        }
        if line.len() >= 4 && line.as_bytes()[3] == b' ' {
            return Ok(line[..3].parse()?);
        }
    }
}

/// Connects to an SMTP server and says EHLO; returns the stream and a line buffer.
async fn smtp_open(
    server: &str,
) -> anyhow::Result<(tokio::io::BufReader<tokio::net::TcpStream>, String)> {
    use tokio::io::AsyncWriteExt;
    let sock = tokio::net::TcpStream::connect(server).await?;
    sock.set_nodelay(true)?;
    let mut s = tokio::io::BufReader::new(sock);
    let mut line = String::new();
    anyhow::ensure!(
        smtp_reply(&mut s, &mut line).await? == 220,
        "greeting: {line}"
    );
    s.get_mut().write_all(b"EHLO bench.example\r\n").await?;
    anyhow::ensure!(smtp_reply(&mut s, &mut line).await? == 250, "EHLO: {line}");
    Ok((s, line))
}

/// One connection's share of `mailroom bench smtp`: `count` messages over one session, each
/// MAIL, RCPT and DATA pipelined; returns the latency of each (MAIL sent → `250` read).
async fn smtp_client(
    server: String,
    rcpts: Vec<String>,
    count: usize,
    body: std::sync::Arc<Vec<u8>>,
) -> anyhow::Result<Vec<Duration>> {
    use tokio::io::AsyncWriteExt;
    let (mut s, mut line) = smtp_open(&server).await?;
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        let t = Instant::now();
        let rcpt = &rcpts[i % rcpts.len()];
        s.get_mut()
            .write_all(
                format!("MAIL FROM:<bench@sender.example>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n")
                    .as_bytes(),
            )
            .await?;
        for want in [250, 250, 354] {
            let code = smtp_reply(&mut s, &mut line).await?;
            anyhow::ensure!(code == want, "expected {want}: {line}");
        }
        let id = format!("Message-ID: <{}@bench.example>\r\n", uuid::Uuid::new_v4());
        s.get_mut().write_all(id.as_bytes()).await?;
        s.get_mut().write_all(&body).await?;
        s.get_mut().write_all(b".\r\n").await?;
        let code = smtp_reply(&mut s, &mut line).await?;
        anyhow::ensure!(code == 250, "message refused: {line}");
        times.push(t.elapsed());
    }
    s.get_mut().write_all(b"QUIT\r\n").await?;
    Ok(times)
}

/// A 4 KB-ish message body (headers after the Message-ID, then 76-character lines), ending in
/// CRLF, of about `size` bytes.
fn bench_body(size: usize) -> Vec<u8> {
    let mut b = b"From: Bench <bench@sender.example>\r\nSubject: benchmark message\r\nDate: Wed, 2 Dec 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n".to_vec();
    let line = b"The quick brown fox jumps over the lazy dog; pack my box with five dozen jugs\r\n";
    while b.len() + line.len() <= size {
        b.extend_from_slice(line);
    }
    b
}

/// What `bench smtp` sends.
pub struct SmtpRun {
    /// Messages in all.
    pub messages: usize,
    /// Bytes per message, about.
    pub size: usize,
    /// SMTP connections at once.
    pub concurrency: usize,
    /// Mailboxes they are spread over.
    pub mailboxes: usize,
    /// Routing rules per mailbox (none matches).
    pub rules: usize,
}

/// `rules` routing rules for a mailbox, none of which matches the bench messages: each tests
/// the subject, the sender's domain, a header and a regular expression, so every one is
/// evaluated in full.
async fn seed_rules(
    ts: &mailroom_core::store::TenantStore,
    mailbox: uuid::Uuid,
    rules: usize,
) -> anyhow::Result<()> {
    use mailroom_core::rules::{Condition, RuleAction, RuleBody};
    use mailroom_core::store::{NewRule, RuleList};
    let cond = |field: &str, op: &str, value: String, header: Option<String>| Condition {
        field: field.into(),
        header,
        op: op.into(),
        value,
        negate: false,
    };
    for i in 0..rules {
        ts.create_rule(NewRule {
            list: RuleList::Mailbox(mailbox),
            name: format!("rule {i}"),
            enabled: true,
            body: RuleBody {
                match_: "any".into(),
                conditions: vec![
                    cond("subject", "contains", format!("project-{i}"), None),
                    cond("from", "domain_is", format!("client{i}.example"), None),
                    cond(
                        "header",
                        "exists",
                        String::new(),
                        Some(format!("X-Rule-{i}")),
                    ),
                    cond("subject", "regex", format!("^ticket #{i}\\d+$"), None),
                ],
                actions: vec![
                    RuleAction::Fileinto {
                        folder: format!("Project {i}"),
                    },
                    RuleAction::Stop,
                ],
            },
        })
        .await?;
    }
    Ok(())
}

/// Seeds a tenant with `mailboxes` mailboxes (each with `rules` routing rules), then delivers
/// `messages` messages of about `size` bytes over `concurrency` SMTP connections to the server
/// at `server` (a running `mailroom serve` on the same database), spread over the mailboxes.
/// Prints one JSON object.
pub async fn smtp(cfg: &Config, server: &str, run: SmtpRun) -> anyhow::Result<()> {
    let SmtpRun {
        messages,
        size,
        concurrency,
        mailboxes,
        rules,
    } = run;
    let store = crate::open_store(cfg, true).await?;
    let sys = store.system();
    let slug = format!("smtp-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let Seeded {
        ts,
        domain_id,
        hash,
        ..
    } = seed_tenant(cfg, &sys, &slug).await?;
    let mut rcpts = Vec::new();
    for i in 0..mailboxes.max(1) {
        let m = ts
            .create_mailbox(
                NewMailbox {
                    domain_id,
                    local_part: format!("user{i}"),
                    display_name: format!("User {i}"),
                    password: Password::Hashed(hash.clone()),
                    quota_bytes: None,
                    pop3_after_download: None,
                },
                cfg.mailboxes.default_quota_bytes,
            )
            .await?;
        seed_rules(&ts, m.id, rules).await?;
        rcpts.push(m.address);
    }
    let body = std::sync::Arc::new(bench_body(size));
    let per = messages.div_ceil(concurrency.max(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..concurrency.max(1) {
        let n = per.min(messages.saturating_sub(c * per));
        if n == 0 {
            break;
        }
        // Each connection starts at its own recipient, so they spread over the mailboxes.
        let mut mine = rcpts.clone();
        mine.rotate_left(c % rcpts.len());
        tasks.push(tokio::spawn(smtp_client(
            server.to_string(),
            mine,
            n,
            body.clone(),
        )));
    }
    let mut times = Vec::new();
    for t in tasks {
        times.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    times.sort();
    let pct = |p: f64| {
        times
            .get(((times.len() as f64 * p) as usize).min(times.len().saturating_sub(1)))
            .map_or(0.0, |d| (d.as_secs_f64() * 10_000.0).round() / 10.0)
    };
    println!(
        "{}",
        serde_json::json!({
            "backend": if store.is_postgres() { "postgres" } else { "sqlite" },
            "messages": times.len(), "message_bytes": body.len() + 60, "concurrency": concurrency,
            "mailboxes": rcpts.len(), "rules_per_mailbox": rules,
            "secs": (elapsed * 100.0).round() / 100.0,
            "per_sec": (times.len() as f64 / elapsed).round(),
            "p50_ms": pct(0.5), "p99_ms": pct(0.99),
            "rcpt_example": rcpts[0],
        })
    );
    Ok(())
}

/// Times failed logins, the cost an attacker can make the server pay and the time that could
/// tell accounts apart: an unknown address, a user with a wrong password, and a mailbox with
/// `app_passwords` app passwords (a wrong password, then a wrong app-password-shaped one).
/// Each case runs `rounds` times, one at a time. Prints one JSON object (milliseconds).
pub async fn login(cfg: &Config, rounds: usize, app_passwords: u64) -> anyhow::Result<()> {
    use mailroom_core::auth::{Auth, ClientInfo};
    let store = crate::open_store(cfg, true).await?;
    let sys = store.system();
    let slug = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let Seeded {
        ts,
        domain_id,
        domain,
        hash,
    } = seed_tenant(cfg, &sys, &slug).await?;
    let mailbox = ts
        .create_mailbox(
            NewMailbox {
                domain_id,
                local_part: "ana".into(),
                display_name: "Ana".into(),
                password: Password::Hashed(hash),
                quota_bytes: None,
                pop3_after_download: None,
            },
            cfg.mailboxes.default_quota_bytes,
        )
        .await?;
    for i in 0..app_passwords {
        ts.create_app_password(mailbox.id, &format!("device {i}"), app_passwords)
            .await?;
    }
    let mut auth_cfg = cfg.auth.clone();
    auth_cfg.login_max_failures_per_account = u64::MAX;
    auth_cfg.login_max_attempts_per_ip = u64::MAX;
    let secrets = Secrets::load(cfg)?;
    let auth = Auth::new(
        &store,
        &secrets.jwt,
        auth_cfg,
        mailroom_core::ratelimit::RateLimiter::memory(),
    );
    let client = ClientInfo::default();
    let cases = [
        (
            "unknown_address",
            format!("nobody@{domain}"),
            "wrong password 1",
        ),
        (
            "user_wrong_password",
            format!("owner@{slug}.example"),
            "wrong password 1",
        ),
        (
            "mailbox_wrong_password",
            format!("ana@{domain}"),
            "wrong password 1",
        ),
        (
            "mailbox_wrong_app_password",
            format!("ana@{domain}"),
            "abcd efgh ijkl mnop",
        ),
    ];
    let mut out = serde_json::Map::new();
    for (name, login, password) in &cases {
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            let r = auth.login(login, password, None, &client).await;
            anyhow::ensure!(r.is_err(), "{name}: a wrong password logged in");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
        let p50 = times.get(times.len() / 2).copied().unwrap_or(0.0);
        out.insert(
            (*name).to_string(),
            serde_json::json!({"mean_ms": (mean * 10.0).round() / 10.0, "p50_ms": (p50 * 10.0).round() / 10.0}),
        );
    }
    println!(
        "{}",
        serde_json::json!({
            "backend": if store.is_postgres() { "postgres" } else { "sqlite" },
            "rounds": rounds, "app_passwords": app_passwords, "failed_logins": out,
        })
    );
    Ok(())
}

/// A bench tenant with a verified domain: its store handle, the domain's id and name, and a
/// precomputed mailbox password hash (so seeding does not spend its time in argon2).
struct Seeded {
    ts: mailroom_core::store::TenantStore,
    domain_id: uuid::Uuid,
    domain: String,
    hash: String,
}

/// Creates tenant `slug` (owner `owner@<slug>.example`, password `bench-owner-password`) with
/// the verified domain `<slug>.example`, through the real creation path.
async fn seed_tenant(
    cfg: &Config,
    sys: &mailroom_core::store::SystemStore,
    slug: &str,
) -> anyhow::Result<Seeded> {
    let secrets = Secrets::load(cfg)?;
    let svc = DomainService::new(cfg, &secrets.master)?;
    let (tenant, _) = sys
        .platform("bench")
        .create_tenant(NewTenant {
            name: slug.to_string(),
            slug: slug.to_string(),
            limits: Default::default(),
            owner_email: format!("owner@{slug}.example"),
            owner_name: "Bench".into(),
            owner_password: "bench-owner-password".into(),
        })
        .await?;
    let ts = sys
        .tenant_for_job(tenant.id, "bench")
        .await?
        .context("tenant vanished")?;
    let domain = ts.create_domain(&svc, &format!("{slug}.example")).await?;
    sys.bench_mark_verified(domain.domain.id).await?;
    Ok(Seeded {
        ts,
        domain_id: domain.domain.id,
        domain: domain.domain.name,
        hash: hash_password("bench-mailbox-password").await?,
    })
}

/// The word `mailroom bench read` puts in 1% of its messages, for the search figure.
pub const RARE_WORD: &str = "zanzibar";

/// Message `i` of the read benchmark: conversations of four (a message and three replies),
/// fifty senders, one minute apart, about 2 KB of text; one in ten has an attachment and one
/// in a hundred contains [`RARE_WORD`].
fn read_message(i: usize) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "meeting", "budget", "release", "customer", "invoice", "design", "review", "travel",
        "report", "schedule", "contract", "launch", "support", "hiring", "roadmap", "metrics",
    ];
    let conv = i / 4;
    let reply = !i.is_multiple_of(4);
    let mut seed = (i as u64)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let mut text = String::new();
    while text.len() < 2000 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        text.push_str(WORDS[(seed >> 60) as usize]);
        text.push(if text.len() % 70 < 8 { '\n' } else { ' ' });
    }
    if i % 100 == 7 {
        text.push_str(RARE_WORD);
    }
    let date = chrono::DateTime::from_timestamp(1_700_000_000 + i as i64 * 60, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S +0000");
    let mut head = format!(
        "From: Sender {s} <s{s}@example.com>\r\nTo: Reader <reader@example.com>\r\nSubject: {re}Topic {conv}\r\nDate: {date}\r\nMessage-ID: <m{i}@bench.example>\r\nMIME-Version: 1.0\r\n",
        s = i % 50,
        re = if reply { "Re: " } else { "" },
    );
    if reply {
        head.push_str(&format!("In-Reply-To: <m{}@bench.example>\r\n", i - 1));
    }
    let text = text.replace('\n', "\r\n");
    let body = if i % 10 == 3 {
        format!(
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--b\r\nContent-Type: application/pdf; name=\"r{i}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--b--\r\n"
        )
    } else {
        format!("Content-Type: text/plain; charset=us-ascii\r\n\r\n{text}\r\n")
    };
    format!("{head}{body}").into_bytes()
}

/// Seeds one mailbox's INBOX with `messages` messages through the real ingest path (REST
/// import's), from `concurrency` tasks, for the read-path figures (`bench/read.sh` then times
/// the HTTP endpoints with wrk). Prints one JSON object with what the script needs.
pub async fn read(cfg: &Config, messages: usize, concurrency: usize) -> anyhow::Result<()> {
    use mailroom_core::mail::ingest::Pipeline;
    let store = crate::open_store(cfg, true).await?;
    let sys = store.system();
    let slug = format!("read-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let Seeded {
        ts,
        domain_id,
        hash,
        ..
    } = seed_tenant(cfg, &sys, &slug).await?;
    let mailbox = ts
        .create_mailbox(
            NewMailbox {
                domain_id,
                local_part: "reader".into(),
                display_name: "Reader".into(),
                password: Password::Hashed(hash),
                quota_bytes: None,
                pop3_after_download: None,
            },
            cfg.mailboxes.default_quota_bytes,
        )
        .await?;
    let inbox = ts.folder_by_name(mailbox.id, "INBOX").await?.id;
    let pipeline = Pipeline::new(
        sys.clone(),
        mailroom_core::bus::Bus::memory(),
        None,
        "bench.example",
        chrono::Duration::hours(24),
        cfg.smtp.delivery_memory_bytes,
    );
    let ts = std::sync::Arc::new(ts);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (ts, pipeline, next) = (ts.clone(), pipeline.clone(), next.clone());
        let mailbox = mailbox.id;
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= messages {
                    return anyhow::Ok(());
                }
                let flags = if i % 10 < 7 {
                    mailroom_core::mail::flags::SEEN
                } else {
                    0
                };
                pipeline
                    .import(&ts, mailbox, inbox, &read_message(i), flags, None)
                    .await?;
                if (i + 1) % 10_000 == 0 {
                    eprintln!("{} messages", i + 1);
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    let page = ts
        .message_page(
            mailbox.id,
            inbox,
            &Default::default(),
            Default::default(),
            mailroom_core::store::DatePage::parse(Some(1), None)?,
        )
        .await?;
    let latest = page.items.first();
    println!(
        "{}",
        serde_json::json!({
            "backend": if store.is_postgres() { "postgres" } else { "sqlite" },
            "slug": slug, "owner": format!("owner@{slug}.example"), "password": "bench-owner-password",
            "mailbox": mailbox.id, "address": mailbox.address, "mailbox_password": "bench-mailbox-password",
            "message": latest.map(|m| m.id), "thread": latest.map(|m| m.thread_id),
            "messages": messages, "seed_secs": (secs * 10.0).round() / 10.0,
            "seed_per_sec": (messages as f64 / secs).round(), "rare_word": RARE_WORD,
        })
    );
    Ok(())
}

/// What `mailroom bench outbound` does.
pub struct OutboundRun {
    /// Mailroom's submission address (seed a sender, AUTH PLAIN).
    pub submission: Option<String>,
    /// A relay that needs no AUTH (Postfix).
    pub relay: Option<String>,
    /// The sink's port.
    pub sink_port: u16,
    /// Messages to send.
    pub messages: usize,
    /// Their size.
    pub size: usize,
    /// Connections sending at once.
    pub concurrency: usize,
    /// Recipient domains.
    pub domains: usize,
}

/// The sink: accepts every message, counts recipients delivered and messages signed.
async fn sink(
    listener: tokio::net::TcpListener,
    delivered: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    signed: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    while let Ok((sock, _)) = listener.accept().await {
        let (delivered, signed) = (delivered.clone(), signed.clone());
        tokio::spawn(async move {
            let _ = sock.set_nodelay(true);
            let (r, mut w) = sock.into_split();
            let mut r = tokio::io::BufReader::new(r);
            w.write_all(b"220 sink.example ESMTP\r\n").await?;
            let mut rcpts = 0;
            let mut line = Vec::new();
            loop {
                line.clear();
                if r.read_until(b'\n', &mut line).await? == 0 {
                    return Ok::<(), std::io::Error>(());
                }
                let upper = String::from_utf8_lossy(&line).to_ascii_uppercase();
                let reply: &[u8] = if upper.starts_with("EHLO") {
                    b"250-sink.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000000\r\n"
                } else if upper.starts_with("MAIL") {
                    rcpts = 0;
                    b"250 2.1.0 ok\r\n"
                } else if upper.starts_with("RCPT") {
                    rcpts += 1;
                    b"250 2.1.5 ok\r\n"
                } else if upper.starts_with("DATA") {
                    w.write_all(b"354 go on\r\n").await?;
                    let mut first = true;
                    let mut is_signed = false;
                    loop {
                        line.clear();
                        if r.read_until(b'\n', &mut line).await? == 0 {
                            return Ok(());
                        }
                        if first {
                            is_signed = line.starts_with(b"DKIM-Signature:");
                            first = false;
                        }
                        if line == b".\r\n" {
                            break;
                        }
                    }
                    delivered.fetch_add(rcpts, Ordering::SeqCst);
                    if is_signed {
                        signed.fetch_add(1, Ordering::SeqCst);
                    }
                    b"250 2.0.0 sunk\r\n"
                } else if upper.starts_with("QUIT") {
                    w.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                } else {
                    b"250 ok\r\n"
                };
                w.write_all(reply).await?;
            }
        });
    }
}

/// One connection of the outbound benchmark: `count` messages, each to one recipient,
/// one transaction at a time (AUTH PLAIN first when `auth` is given).
async fn submit_client(
    server: String,
    auth: Option<(String, String)>,
    from: String,
    rcpts: Vec<String>,
    count: usize,
    body: std::sync::Arc<Vec<u8>>,
) -> anyhow::Result<usize> {
    use base64::Engine;
    use tokio::io::AsyncWriteExt;
    let (mut s, mut line) = smtp_open(&server).await?;
    if let Some((user, password)) = auth {
        let plain =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        s.get_mut()
            .write_all(format!("AUTH PLAIN {plain}\r\n").as_bytes())
            .await?;
        anyhow::ensure!(smtp_reply(&mut s, &mut line).await? == 235, "AUTH: {line}");
    }
    for i in 0..count {
        let rcpt = &rcpts[i % rcpts.len()];
        s.get_mut()
            .write_all(format!("MAIL FROM:<{from}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n").as_bytes())
            .await?;
        for want in [250, 250, 354] {
            let code = smtp_reply(&mut s, &mut line).await?;
            anyhow::ensure!(code == want, "expected {want}: {line}");
        }
        let head = format!(
            "Message-ID: <{}@bench.example>\r\nFrom: Bench <{from}>\r\nTo: {rcpt}\r\n",
            uuid::Uuid::new_v4()
        );
        s.get_mut().write_all(head.as_bytes()).await?;
        s.get_mut().write_all(&body).await?;
        s.get_mut().write_all(b".\r\n").await?;
        let code = smtp_reply(&mut s, &mut line).await?;
        anyhow::ensure!(code == 250, "message refused: {line}");
    }
    s.get_mut().write_all(b"QUIT\r\n").await?;
    Ok(count)
}

/// `mailroom bench outbound`: messages/second through a server to a sink, 4 KB messages, one
/// recipient each, spread over `domains` domains. Prints one JSON object.
pub async fn outbound(cfg: &Config, run: OutboundRun) -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let delivered = std::sync::Arc::new(AtomicUsize::new(0));
    let signed = std::sync::Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", run.sink_port)).await?;
    tokio::spawn(sink(listener, delivered.clone(), signed.clone()));
    let (server, auth, from, target) = match (&run.submission, &run.relay) {
        (Some(server), None) => {
            let store = crate::open_store(cfg, true).await?;
            let sys = store.system();
            let slug = format!("out-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
            let seeded = seed_tenant(cfg, &sys, &slug).await?;
            let m = seeded
                .ts
                .create_mailbox(
                    NewMailbox {
                        domain_id: seeded.domain_id,
                        local_part: "sender".into(),
                        display_name: "Sender".into(),
                        password: Password::Hashed(seeded.hash.clone()),
                        quota_bytes: None,
                        pop3_after_download: None,
                    },
                    cfg.mailboxes.default_quota_bytes,
                )
                .await?;
            (
                server.clone(),
                Some((m.address.clone(), "bench-mailbox-password".to_string())),
                m.address,
                "mailroom",
            )
        }
        (None, Some(relay)) => (
            relay.clone(),
            None,
            "bench@sender.example".to_string(),
            "relay",
        ),
        _ => anyhow::bail!("give --submission (Mailroom) or --relay (another server)"),
    };
    let rcpts: Vec<String> = (0..run.messages.max(1))
        .map(|i| format!("user{}@d{}.sink.example", i % 50, i % run.domains.max(1)))
        .collect();
    // The From and To lines come from the client, the rest of the header and the body here.
    let mut body = bench_body(run.size.saturating_sub(120));
    body.drain(
        ..body
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(0, |p| p + 2),
    );
    let body = std::sync::Arc::new(body);
    let per = run.messages.div_ceil(run.concurrency.max(1));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..run.concurrency.max(1) {
        let n = per.min(run.messages.saturating_sub(c * per));
        if n == 0 {
            break;
        }
        let mine: Vec<String> = rcpts.iter().skip(c * per).take(n).cloned().collect();
        tasks.push(tokio::spawn(submit_client(
            server.clone(),
            auth.clone(),
            from.clone(),
            mine,
            n,
            body.clone(),
        )));
    }
    let mut sent = 0;
    for t in tasks {
        sent += t.await??;
    }
    let accepted = started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(600);
    while delivered.load(Ordering::SeqCst) < sent && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let done = started.elapsed().as_secs_f64();
    let got = delivered.load(Ordering::SeqCst);
    println!(
        "{}",
        serde_json::json!({
            "target": target, "messages": sent, "message_bytes": body.len() + 120,
            "concurrency": run.concurrency, "domains": run.domains,
            "accepted_secs": (accepted * 100.0).round() / 100.0,
            "accepted_per_sec": (sent as f64 / accepted).round(),
            "delivered": got, "dkim_signed": signed.load(Ordering::SeqCst),
            "delivered_secs": (done * 100.0).round() / 100.0,
            "delivered_per_sec": (got as f64 / done).round(),
        })
    );
    anyhow::ensure!(
        got >= sent,
        "only {got} of {sent} messages reached the sink in time"
    );
    Ok(())
}
