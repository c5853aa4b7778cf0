//! A short-lived cache of authenticated principals, so a request with a credential seen a
//! moment ago costs no database round trip.
//!
//! An entry is served only while three things hold: the [`AuthEpoch`] has not moved since the
//! look-up that made it began (any write that may change who can authenticate moves it, in
//! this process at once and in others through the bus), it is younger than the configured age
//! (`auth.principal_cache_secs`, which bounds staleness where no notice can arrive), and the
//! credential has not expired meanwhile. Only successes are kept: a refused credential is
//! looked up again every time.

use super::principal::Principal;
use crate::epoch::AuthEpoch;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Entries kept at most; past it, expired entries go, and if none did, all of them.
const MAX_ENTRIES: usize = 10_000;

/// What a cached principal was authenticated by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Credential {
    /// An access token's session, subject and kind (its signature and expiry are checked on
    /// every request before the cache is asked).
    Session { sid: Uuid, sub: Uuid, mailbox: bool },
    /// An API key, by its SHA-256.
    Key(String),
}

#[derive(Debug)]
struct Entry {
    principal: Principal,
    epoch: u64,
    made: Instant,
    /// The credential's own expiry, if any.
    until: Option<DateTime<Utc>>,
}

impl Entry {
    /// Whether the entry may still be served.
    fn fresh(&self, epoch: u64, max_age: Duration, now: DateTime<Utc>) -> bool {
        self.epoch == epoch && self.made.elapsed() < max_age && self.until.is_none_or(|u| u > now)
    }
}

/// See the module documentation. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct PrincipalCache {
    max_age: Duration,
    epoch: Arc<AuthEpoch>,
    entries: Arc<Mutex<HashMap<Credential, Entry>>>,
}

impl PrincipalCache {
    /// A cache whose entries live at most `max_age` (zero: nothing is kept).
    pub(crate) fn new(max_age: Duration, epoch: Arc<AuthEpoch>) -> Self {
        Self {
            max_age,
            epoch,
            entries: Arc::default(),
        }
    }

    /// The epoch to hand to [`PrincipalCache::put`]: read it before the look-up.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.current()
    }

    /// The principal for `credential`, if a fresh entry has it.
    pub(crate) fn get(&self, credential: &Credential) -> Option<Principal> {
        if self.max_age.is_zero() {
            return None;
        }
        let map = self.entries.lock().ok()?;
        let e = map.get(credential)?;
        e.fresh(self.epoch.current(), self.max_age, Utc::now())
            .then(|| e.principal.clone())
    }

    /// Keeps `principal`, found by a look-up that began at `epoch`.
    pub(crate) fn put(
        &self,
        credential: Credential,
        principal: &Principal,
        epoch: u64,
        until: Option<DateTime<Utc>>,
    ) {
        if self.max_age.is_zero() || epoch != self.epoch.current() {
            return;
        }
        let Ok(mut map) = self.entries.lock() else {
            return;
        };
        if map.len() >= MAX_ENTRIES && !map.contains_key(&credential) {
            let (now, current) = (Utc::now(), self.epoch.current());
            map.retain(|_, e| e.fresh(current, self.max_age, now));
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            credential,
            Entry {
                principal: principal.clone(),
                epoch,
                made: Instant::now(),
                until,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{PrincipalKind, Role};

    fn principal() -> Principal {
        Principal::new(
            PrincipalKind::User,
            Uuid::nil(),
            "ana@example.com".into(),
            Role::PlatformAdmin,
            None,
            Vec::new(),
        )
    }

    fn key(k: &str) -> Credential {
        Credential::Key(k.into())
    }

    #[test]
    fn an_entry_lives_until_the_epoch_moves_or_it_ages() {
        let epoch = Arc::new(AuthEpoch::default());
        let c = PrincipalCache::new(Duration::from_millis(200), epoch.clone());
        let at = c.epoch();
        c.put(key("a"), &principal(), at, None);
        assert!(c.get(&key("a")).is_some());
        assert!(c.get(&key("b")).is_none());
        epoch.bump();
        assert!(c.get(&key("a")).is_none(), "a write moved the epoch on");
        let at = c.epoch();
        c.put(key("a"), &principal(), at, None);
        assert!(c.get(&key("a")).is_some());
        std::thread::sleep(Duration::from_millis(250));
        assert!(c.get(&key("a")).is_none(), "too old");
    }

    #[test]
    fn a_look_up_overtaken_by_a_write_is_not_kept() {
        let epoch = Arc::new(AuthEpoch::default());
        let c = PrincipalCache::new(Duration::from_secs(60), epoch.clone());
        let at = c.epoch();
        // The key is revoked while its look-up is under way.
        epoch.bump();
        c.put(key("a"), &principal(), at, None);
        assert!(c.get(&key("a")).is_none());
    }

    #[test]
    fn an_expired_credential_is_not_served_and_zero_keeps_nothing() {
        let epoch = Arc::new(AuthEpoch::default());
        let c = PrincipalCache::new(Duration::from_secs(60), epoch.clone());
        let at = c.epoch();
        c.put(
            key("a"),
            &principal(),
            at,
            Some(Utc::now() - chrono::Duration::seconds(1)),
        );
        assert!(c.get(&key("a")).is_none());
        let off = PrincipalCache::new(Duration::ZERO, epoch);
        off.put(key("a"), &principal(), at, None);
        assert!(off.get(&key("a")).is_none());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let epoch = Arc::new(AuthEpoch::default());
        let c = PrincipalCache::new(Duration::from_secs(60), epoch);
        let at = c.epoch();
        for i in 0..MAX_ENTRIES + 10 {
            c.put(key(&i.to_string()), &principal(), at, None);
        }
        assert!(c.entries.lock().map(|m| m.len()).unwrap_or(0) <= MAX_ENTRIES);
    }
}
