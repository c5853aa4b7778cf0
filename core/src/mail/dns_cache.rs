//! The DNS answers of mail authentication (SPF, DKIM keys, DMARC and ARC records, MX and
//! address look-ups), cached for their TTL and shared by every SMTP session of the process:
//! a domain that writes often is looked up once per TTL, not once per message, and keeps
//! authenticating from the cache while the DNS server is briefly away.

use mail_auth::{MX, Parameters, RecordSet, ResolverCache, Txt};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Instant;

/// Entries per kind of record, at most; past it, expired entries go, then everything.
const MAX_ENTRIES: usize = 10_000;

/// One kind of answer, with each entry's expiry.
pub struct TtlCache<K, V> {
    map: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.map.lock().ok()?;
        match map.get(name) {
            Some((v, until)) if *until > Instant::now() => Some(v.clone()),
            Some(_) => {
                map.remove(name);
                None
            }
            None => None,
        }
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.lock().ok()?.remove(name).map(|(v, _)| v)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        if map.len() >= MAX_ENTRIES {
            let now = Instant::now();
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(key, (value, valid_until));
    }
}

/// Every cache mail authentication uses.
#[derive(Default)]
pub struct DnsCache {
    /// TXT records (SPF, DKIM keys, DMARC…), parsed.
    pub txt: TtlCache<Box<str>, Txt>,
    /// MX records.
    pub mx: TtlCache<Box<str>, RecordSet<MX>>,
    /// A records.
    pub ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    /// AAAA records.
    pub ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    /// PTR records.
    pub ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
}

/// Verification parameters that read and fill these caches.
pub type Cached<'x, P> = Parameters<
    'x,
    P,
    TtlCache<Box<str>, Txt>,
    TtlCache<Box<str>, RecordSet<MX>>,
    TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    TtlCache<IpAddr, RecordSet<Box<str>>>,
>;

impl DnsCache {
    /// `params` with every cache attached.
    pub fn params<P>(&self, params: P) -> Cached<'_, P> {
        Parameters::new(params)
            .with_txt_cache(&self.txt)
            .with_mx_cache(&self.mx)
            .with_ipv4_cache(&self.ipv4)
            .with_ipv6_cache(&self.ipv6)
            .with_ptr_cache(&self.ptr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_live_until_their_expiry() {
        let c: TtlCache<Box<str>, u32> = TtlCache::default();
        c.insert("a".into(), 1, Instant::now() + Duration::from_secs(60));
        c.insert("b".into(), 2, Instant::now());
        assert_eq!(c.get("a"), Some(1));
        assert_eq!(c.get("b"), None, "expired");
        assert_eq!(c.remove("a"), Some(1));
        assert_eq!(c.get("a"), None);
    }
}
