//! A minimum transfer rate: a client that trickles data (one byte every few seconds, which no
//! per-read time-out catches) is cut off once its average rate since a grace period falls
//! below the minimum.

use std::time::{Duration, Instant};

/// Tracks the bytes of one transfer (a message's data).
#[derive(Debug, Clone)]
pub struct Pace {
    started: Instant,
    bytes: u64,
    min_rate: u64,
    grace: Duration,
}

impl Pace {
    /// A transfer starting now that must average `min_rate` bytes per second after `grace`
    /// (0: no minimum).
    pub fn new(min_rate: u64, grace: Duration) -> Self {
        Self {
            started: Instant::now(),
            bytes: 0,
            min_rate,
            grace,
        }
    }

    /// Counts `n` bytes received; false when the transfer is now too slow.
    pub fn add(&mut self, n: usize) -> bool {
        self.bytes += n as u64;
        self.fast_enough(Instant::now())
    }

    fn fast_enough(&self, now: Instant) -> bool {
        let counted = now.saturating_duration_since(self.started + self.grace);
        self.min_rate == 0
            || counted.is_zero()
            || (self.bytes as f64) >= self.min_rate as f64 * counted.as_secs_f64()
    }

    /// The longest the next read may wait before the transfer is too slow even if the read
    /// then brings nothing (`None`: no limit from the rate).
    pub fn next_read_limit(&self) -> Option<Duration> {
        if self.min_rate == 0 {
            return None;
        }
        // bytes >= rate * (t - started - grace)  <=>  t <= started + grace + bytes / rate
        let allowed =
            self.grace + Duration::from_secs_f64(self.bytes as f64 / self.min_rate as f64);
        Some((self.started + allowed).saturating_duration_since(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trickle_is_too_slow_once_the_grace_is_over() {
        let p = Pace {
            started: Instant::now() - Duration::from_secs(40),
            bytes: 20,
            min_rate: 1024,
            grace: Duration::from_secs(30),
        };
        assert!(!p.fast_enough(Instant::now()));
        let p = Pace {
            bytes: 20 * 1024,
            ..p
        };
        assert!(p.fast_enough(Instant::now()));
        let fresh = Pace::new(1024, Duration::from_secs(30));
        assert!(fresh.fast_enough(Instant::now()), "within the grace");
        assert!(Pace::new(0, Duration::ZERO).next_read_limit().is_none());
    }
}
