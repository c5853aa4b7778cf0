//! Loading a [`Config`]: the TOML file, then the `MAILROOM_*` environment, with every unknown
//! name refused and the closest known one suggested.

use super::*;

impl Config {
    /// Reads the file (if any) and overlays the given environment. `env` is passed in so tests
    /// need not touch the process environment.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let mut tree = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
                let value: toml::Table = toml::from_str(&text)
                    .map_err(|e| Error::Config(toml_error(path, &text, &e)))?;
                // Validate the file on its own first so its errors name the file.
                toml::from_str::<Config>(&text)
                    .map_err(|e| Error::Config(toml_error(path, &text, &e)))?;
                value
            }
            None => toml::Table::new(),
        };
        let known = env_names();
        for (name, raw) in env {
            if !name.starts_with("MAILROOM_")
                || NON_SETTING_VARS.contains(&name.as_str())
                || NON_SETTING_PREFIXES.iter().any(|p| name.starts_with(p))
            {
                continue;
            }
            let Some((path, default)) = known.get(&name) else {
                let hint = match closest(&name, known.keys()) {
                    Some(near) => format!("did you mean {near}?"),
                    None => "the README's Configuration section lists every setting".into(),
                };
                return Err(Error::Config(format!(
                    "unknown environment variable {name}; {hint}"
                )));
            };
            let value = parse_like(default, &raw).ok_or_else(|| {
                Error::Config(format!(
                    "{name}={raw:?} is not a valid {}",
                    default.type_str()
                ))
            })?;
            set_path(&mut tree, path, value);
        }
        let cfg: Config = toml::Value::Table(tree)
            .try_into()
            .map_err(|e| Error::Config(format!("environment: {e}")))?;
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<()> {
        if !self.database_url.is_empty()
            && !self.database_url.starts_with("postgres://")
            && !self.database_url.starts_with("postgresql://")
            && !self.database_url.starts_with("sqlite:")
        {
            return Err(Error::Config(
                "database_url must start with postgres://, postgresql:// or sqlite:".into(),
            ));
        }
        if !matches!(self.log_format.as_str(), "human" | "json") {
            return Err(Error::Config(
                "log_format must be \"human\" or \"json\"".into(),
            ));
        }
        if self.jobs.concurrency == 0 || self.jobs.max_attempts < 1 {
            return Err(Error::Config(
                "jobs.concurrency and jobs.max_attempts must be at least 1".into(),
            ));
        }
        if let Some(bad) = self
            .api
            .trusted_proxies
            .iter()
            .find(|c| crate::net::Cidr::parse(c).is_none())
        {
            return Err(Error::Config(format!(
                "api.trusted_proxies: {bad:?} is not an address or CIDR range"
            )));
        }
        if let Some(bad) = self
            .dns
            .nameservers
            .iter()
            .find(|n| n.parse::<std::net::SocketAddr>().is_err())
        {
            return Err(Error::Config(format!(
                "dns.nameservers: {bad:?} is not ip:port"
            )));
        }
        if !matches!(self.spam.reverse_dns.as_str(), "public" | "all" | "off") {
            return Err(Error::Config(
                "spam.reverse_dns must be public, all or off".into(),
            ));
        }
        if !matches!(
            self.domains.dmarc_policy.as_str(),
            "none" | "quarantine" | "reject"
        ) {
            return Err(Error::Config(
                "domains.dmarc_policy must be none, quarantine or reject".into(),
            ));
        }
        if self.dns.timeout_ms == 0 || self.dns.attempts == 0 || self.dns.query_deadline_ms == 0 {
            return Err(Error::Config(
                "dns.timeout_ms and dns.attempts must be at least 1".into(),
            ));
        }
        let s = &self.smtp;
        if s.max_message_bytes == 0
            || s.max_recipients == 0
            || s.max_errors == 0
            || s.max_connections == 0
            || s.max_connections_per_ip == 0
            || s.command_timeout_secs == 0
            || s.data_timeout_secs == 0
            || s.max_session_secs == 0
        {
            return Err(Error::Config(
                "smtp limits and time-outs must be at least 1".into(),
            ));
        }
        if s.tls_cert.is_empty() != s.tls_key.is_empty() {
            return Err(Error::Config(
                "smtp.tls_cert and smtp.tls_key go together".into(),
            ));
        }
        let u = &self.submission;
        if u.max_message_bytes == 0
            || u.max_recipients == 0
            || u.max_errors == 0
            || u.max_connections == 0
            || u.max_connections_per_ip == 0
            || u.command_timeout_secs == 0
            || u.data_timeout_secs == 0
            || u.max_session_secs == 0
        {
            return Err(Error::Config(
                "submission limits and time-outs must be at least 1".into(),
            ));
        }
        if u.tls_cert.is_empty() != u.tls_key.is_empty() {
            return Err(Error::Config(
                "submission.tls_cert and submission.tls_key go together".into(),
            ));
        }
        let o = &self.outbound;
        if o.retry_base_secs == 0
            || o.retry_max_secs < o.retry_base_secs
            || o.expire_secs == 0
            || o.connect_timeout_secs == 0
            || o.command_timeout_secs == 0
            || o.max_recipients_per_transaction == 0
            || o.max_connections_per_domain == 0
        {
            return Err(Error::Config(
                "outbound time-outs and limits must be at least 1, and retry_max_secs at least retry_base_secs".into(),
            ));
        }
        if !o.smarthost.is_empty()
            && o.smarthost
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
        {
            return Err(Error::Config(format!(
                "outbound.smarthost {:?} is not host:port",
                o.smarthost
            )));
        }
        let i = &self.imap;
        if i.max_connections == 0
            || i.max_connections_per_ip == 0
            || i.max_connections_per_user == 0
            || i.login_timeout_secs == 0
            || i.max_session_secs == 0
            || i.max_line_bytes < 1024
            || i.max_append_bytes == 0
            || i.max_bad_commands == 0
        {
            return Err(Error::Config(
                "imap limits and time-outs must be at least 1 (max_line_bytes at least 1024)"
                    .into(),
            ));
        }
        if i.idle_timeout_secs < 30 * 60 {
            return Err(Error::Config(
                "imap.idle_timeout_secs must be at least 1800 (RFC 9051 §5.4)".into(),
            ));
        }
        if i.tls_cert.is_empty() != i.tls_key.is_empty() {
            return Err(Error::Config(
                "imap.tls_cert and imap.tls_key go together".into(),
            ));
        }
        let p = &self.pop3;
        if p.max_connections == 0
            || p.max_connections_per_ip == 0
            || p.login_timeout_secs == 0
            || p.max_session_secs == 0
            || p.max_bad_commands == 0
            || p.lease_secs < 3
        {
            return Err(Error::Config(
                "pop3 limits and time-outs must be at least 1 (lease_secs at least 3)".into(),
            ));
        }
        if p.idle_timeout_secs < 10 * 60 {
            return Err(Error::Config(
                "pop3.idle_timeout_secs must be at least 600 (RFC 1939 §3)".into(),
            ));
        }
        if p.tls_cert.is_empty() != p.tls_key.is_empty() {
            return Err(Error::Config(
                "pop3.tls_cert and pop3.tls_key go together".into(),
            ));
        }
        for (name, v) in [
            ("jwt_secret", &self.jwt_secret),
            ("master_key", &self.master_key),
        ] {
            if !v.is_empty() && v.len() < 32 {
                return Err(Error::Config(format!(
                    "{name} must be at least 32 characters"
                )));
            }
        }
        Ok(())
    }

    /// The database URL in effect (SQLite in the data directory when none is configured).
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("mailroom.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }

    /// True when the database is Postgres.
    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }
}

/// Every settable key as its environment name → (TOML path, default value).
/// A TOML error on one line: the file, the line, the message.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{} line {line}: {message}", path.display())
        }
        None => format!("{}: {message}", path.display()),
    }
}

/// The known name nearest to a misspelt one (by edit distance), if any is near.
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    known
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, _)| *d <= 3.max(name.len() / 5))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

fn env_names() -> BTreeMap<String, (Vec<String>, toml::Value)> {
    let mut out = BTreeMap::new();
    if let Ok(toml::Value::Table(t)) = toml::Value::try_from(Config::default()) {
        collect(&t, &mut Vec::new(), &mut out);
    }
    out
}

fn collect(
    t: &toml::Table,
    path: &mut Vec<String>,
    out: &mut BTreeMap<String, (Vec<String>, toml::Value)>,
) {
    for (k, v) in t {
        path.push(k.clone());
        if let toml::Value::Table(inner) = v {
            collect(inner, path, out);
        } else {
            let name = format!("MAILROOM_{}", path.join("_").to_ascii_uppercase());
            out.insert(name, (path.clone(), v.clone()));
        }
        path.pop();
    }
}

fn parse_like(default: &toml::Value, raw: &str) -> Option<toml::Value> {
    Some(match default {
        toml::Value::String(_) => toml::Value::String(raw.to_string()),
        toml::Value::Integer(_) => toml::Value::Integer(raw.trim().parse().ok()?),
        toml::Value::Float(_) => toml::Value::Float(raw.trim().parse().ok()?),
        toml::Value::Boolean(_) => {
            toml::Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => return None,
            })
        }
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        _ => return None,
    })
}

fn set_path(tree: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = tree;
    for p in parents {
        let entry = cur
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        cur = next;
    }
    cur.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn imap_settings_are_checked() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(
            (c.imap.listen.as_str(), c.imap.tls_listen.as_str()),
            ("127.0.0.1:1143", "")
        );
        for (vars, says) in [
            (
                &[("MAILROOM_IMAP_IDLE_TIMEOUT_SECS", "60")][..],
                "imap.idle_timeout_secs",
            ),
            (&[("MAILROOM_IMAP_TLS_CERT", "x.pem")][..], "imap.tls_key"),
        ] {
            let e = Config::load(None, env(vars)).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
        // Implicit TLS behind a PROXY header is a valid pair.
        let c = Config::load(
            None,
            env(&[
                ("MAILROOM_IMAP_TLS_LISTEN", "0.0.0.0:993"),
                ("MAILROOM_IMAP_PROXY_PROTOCOL", "true"),
            ]),
        )
        .unwrap();
        assert!(c.imap.proxy_protocol && c.imap.tls_listen == "0.0.0.0:993");
    }

    #[test]
    fn reverse_dns_takes_one_of_three_words() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.spam.reverse_dns, "public");
        let c = Config::load(None, env(&[("MAILROOM_SPAM_REVERSE_DNS", "off")])).unwrap();
        assert_eq!(c.spam.reverse_dns, "off");
        let e = Config::load(None, env(&[("MAILROOM_SPAM_REVERSE_DNS", "yes")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("spam.reverse_dns must be public, all or off"),
            "{e}"
        );
    }

    #[test]
    fn pop3_settings_are_checked() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(
            (c.pop3.listen.as_str(), c.pop3.idle_timeout_secs),
            ("127.0.0.1:1110", 600)
        );
        for (vars, says) in [
            (
                &[("MAILROOM_POP3_IDLE_TIMEOUT_SECS", "60")][..],
                "pop3.idle_timeout_secs",
            ),
            (&[("MAILROOM_POP3_LEASE_SECS", "1")][..], "lease_secs"),
            (&[("MAILROOM_POP3_TLS_KEY", "x.pem")][..], "pop3.tls_cert"),
        ] {
            let e = Config::load(None, env(vars)).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
        let c = Config::load(None, env(&[("MAILROOM_POP3_TLS_LISTEN", "0.0.0.0:995")])).unwrap();
        assert_eq!(c.pop3.tls_listen, "0.0.0.0:995");
    }

    #[test]
    fn defaults_work_with_nothing_set() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.api.listen, "127.0.0.1:8080");
        assert!(
            c.effective_database_url()
                .starts_with("sqlite://./data/mailroom.db")
        );
    }

    #[test]
    fn env_overlays_file_and_types_are_parsed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.toml");
        std::fs::write(
            &f,
            "database_max_connections = 3\n[api]\nlisten = \"0.0.0.0:1\"\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&f),
            env(&[
                ("MAILROOM_API_LISTEN", "127.0.0.1:9"),
                ("MAILROOM_JOBS_ENABLED", "false"),
                ("MAILROOM_AUTH_LOGIN_WINDOW_SECS", "7"),
                ("MAILROOM_CONFIG", "ignored"),
                ("MAILROOM_TEST_DATABASE_URL", "ignored"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.api.listen, "127.0.0.1:9");
        assert_eq!(c.database_max_connections, 3);
        assert!(!c.jobs.enabled);
        assert_eq!(c.auth.login_window_secs, 7);
    }

    #[test]
    fn unknown_keys_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.toml");
        std::fs::write(&f, "databse_url = \"x\"\n").unwrap();
        let e = Config::load(Some(&f), env(&[])).unwrap_err().to_string();
        assert!(e.contains("databse_url"), "{e}");
        let e = Config::load(None, env(&[("MAILROOM_DATABSE_URL", "x")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("MAILROOM_DATABSE_URL") && e.contains("MAILROOM_DATABASE_URL"),
            "{e}"
        );
        let e = Config::load(None, env(&[("MAILROOM_API_WORKERS", "many")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("MAILROOM_API_WORKERS"), "{e}");
    }

    #[test]
    fn env_names_are_unambiguous() {
        // Two paths flattening to one variable name would make one of them unsettable.
        let mut count = 0;
        fn walk(t: &toml::Table) -> usize {
            t.values()
                .map(|v| {
                    if let toml::Value::Table(i) = v {
                        walk(i)
                    } else {
                        1
                    }
                })
                .sum()
        }
        if let Ok(toml::Value::Table(t)) = toml::Value::try_from(Config::default()) {
            count = walk(&t);
        }
        assert_eq!(env_names().len(), count);
    }
}
