//! A real DNS server for tests: dnsmasq (Debian `dnsmasq-base`) on a random 127.0.0.1 port,
//! authoritative for the test's zones, restarted on the same port when a scenario changes DNS.

use std::process::{Child, Command, Stdio};

/// One record to serve.
#[derive(Debug, Clone)]
pub enum Rec {
    /// TXT record made of these character-strings.
    Txt(String, Vec<String>),
    /// MX: name, exchange, preference.
    Mx(String, String, u16),
    /// A record: name, address.
    Host(String, String),
    /// PTR record: the reverse name (`4.0.0.127.in-addr.arpa`), the host it names.
    Ptr(String, String),
}

pub struct DnsServer {
    pub port: u16,
    zones: Vec<String>,
    /// TTL of the answers (dnsmasq's default for its own records is 0: never cached).
    ttl: u32,
    child: Option<Child>,
}

impl DnsServer {
    /// Serves `records`, answering NXDOMAIN/NODATA for anything else under `zones`.
    pub async fn start(zones: &[&str], records: &[Rec]) -> DnsServer {
        Self::start_with_ttl(zones, records, 0).await
    }

    /// Like [`DnsServer::start`], with answers valid for `ttl` seconds.
    pub async fn start_with_ttl(zones: &[&str], records: &[Rec], ttl: u32) -> DnsServer {
        let port = free_port();
        let mut s = DnsServer {
            port,
            zones: zones.iter().map(|z| z.to_string()).collect(),
            ttl,
            child: None,
        };
        s.serve(records).await;
        s
    }

    /// `ip:port` for `MAILROOM_DNS_NAMESERVERS`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Replaces the records (restarts dnsmasq on the same port).
    pub async fn serve(&mut self, records: &[Rec]) {
        self.stop();
        let mut cmd = Command::new("dnsmasq");
        cmd.args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--user=root",
            "--pid-file=",
            "--log-facility=/dev/null",
        ])
        .arg(format!("--port={}", self.port))
        .arg(format!("--local-ttl={}", self.ttl));
        for z in &self.zones {
            cmd.arg(format!("--local=/{z}/"));
        }
        for r in records {
            cmd.arg(match r {
                // No shell: each comma-separated part is one character-string, taken literally.
                Rec::Txt(name, parts) => format!("--txt-record={name},{}", parts.join(",")),
                Rec::Mx(name, host, pref) => format!("--mx-host={name},{host},{pref}"),
                Rec::Host(name, ip) => format!("--host-record={name},{ip}"),
                Rec::Ptr(name, host) => format!("--ptr-record={name},{host}"),
            });
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dnsmasq must be installed (Debian package dnsmasq-base)");
        self.child = Some(child);
        let port = self.port;
        let up = crate::common::eventually(10, || async move {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .await;
        assert!(up, "dnsmasq did not start on port {port}");
    }

    /// Stops answering (the server is gone, as in an outage).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port free for both UDP and TCP right now, for a server a test starts later (dnsmasq, or
/// the README's scripts). It is drawn from below the kernel's ephemeral range (where outgoing
/// connections and binds to port 0 take theirs), so the many connections of tests running
/// alongside cannot take it before the server binds it; and this process never hands out the
/// same port twice.
pub fn free_port() -> u16 {
    use std::sync::Mutex;
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral_low.max(10_100) - 1);
    loop {
        let seed = uuid::Uuid::new_v4().as_u128();
        let port = low + (seed % u128::from(high - low)) as u16;
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if given.contains(&port) {
            continue;
        }
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            given.push(port);
            return port;
        }
    }
}
