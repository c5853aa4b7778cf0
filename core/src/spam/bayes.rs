//! The statistical part of the filter: token counts from messages known to be spam or ham,
//! combined per message with Robinson's smoothing and Fisher's chi-square method (as
//! SpamBayes does), giving a spam probability in `[0, 1]`.
//!
//! A [`Model`] is what was learnt: how many spam and ham messages were seen and, per token
//! (an FNV-1a hash of its text, so no text is kept), in how many of each it occurred.
//! Models add up: a tenant's counts over the global base model ([`Model::merged`] is not
//! needed: [`Classifier`] reads both).

use std::collections::HashMap;

/// Token counts: in how many spam and ham messages a token occurred.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Spam messages with the token.
    pub spam: u32,
    /// Ham messages with the token.
    pub ham: u32,
}

/// What was learnt from labelled messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    /// Spam messages learnt.
    pub nspam: u32,
    /// Ham messages learnt.
    pub nham: u32,
    /// Per token hash.
    pub tokens: HashMap<u64, Counts>,
}

const MAGIC: &[u8; 8] = b"MRSPAM1\n";

/// The FNV-1a hash of a token: stable across builds and platforms (the shipped model
/// depends on it).
pub fn hash(token: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in token.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Model {
    /// Learns one message's distinct tokens as spam or ham.
    pub fn learn(&mut self, tokens: &[u64], spam: bool) {
        self.add(tokens, spam, 1);
    }

    /// Takes back what [`Model::learn`] learnt (a message relabelled).
    pub fn unlearn(&mut self, tokens: &[u64], spam: bool) {
        self.add(tokens, spam, -1);
    }

    fn add(&mut self, tokens: &[u64], spam: bool, by: i64) {
        let bump = |n: &mut u32| *n = (i64::from(*n) + by).clamp(0, i64::from(u32::MAX)) as u32;
        if spam {
            bump(&mut self.nspam);
        } else {
            bump(&mut self.nham);
        }
        for t in tokens {
            let c = self.tokens.entry(*t).or_default();
            if spam {
                bump(&mut c.spam);
            } else {
                bump(&mut c.ham);
            }
            if c.spam == 0 && c.ham == 0 {
                self.tokens.remove(t);
            }
        }
    }

    /// Drops tokens seen fewer than `min` times in all (they say little and take room).
    pub fn prune(&mut self, min: u32) {
        self.tokens
            .retain(|_, c| c.spam.saturating_add(c.ham) >= min);
    }

    /// The model as bytes: a magic line, the message counts, then each token (sorted by
    /// hash, so the same model gives the same bytes) as hash, spam and ham, little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut keys: Vec<_> = self.tokens.iter().collect();
        keys.sort_by_key(|(k, _)| **k);
        let mut out = Vec::with_capacity(20 + keys.len() * 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.nspam.to_le_bytes());
        out.extend_from_slice(&self.nham.to_le_bytes());
        out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        for (k, c) in keys {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&c.spam.to_le_bytes());
            out.extend_from_slice(&c.ham.to_le_bytes());
        }
        out
    }

    /// Reads [`Model::to_bytes`]'s format.
    pub fn from_bytes(b: &[u8]) -> Option<Model> {
        let rest = b.strip_prefix(MAGIC)?;
        let u32_at = |i: usize| -> Option<u32> {
            Some(u32::from_le_bytes(rest.get(i..i + 4)?.try_into().ok()?))
        };
        let (nspam, nham, n) = (u32_at(0)?, u32_at(4)?, u32_at(8)? as usize);
        let body = rest.get(12..)?;
        if body.len() != n.checked_mul(16)? {
            return None;
        }
        let mut tokens = HashMap::with_capacity(n);
        for e in body.chunks_exact(16) {
            let k = u64::from_le_bytes(e[..8].try_into().ok()?);
            let spam = u32::from_le_bytes(e[8..12].try_into().ok()?);
            let ham = u32::from_le_bytes(e[12..16].try_into().ok()?);
            tokens.insert(k, Counts { spam, ham });
        }
        Some(Model {
            nspam,
            nham,
            tokens,
        })
    }
}

/// Robinson's strength of the prior (how many messages' worth of evidence it takes to move
/// a token away from [`UNKNOWN`]).
const S: f64 = 0.45;
/// The probability of a token never seen.
const UNKNOWN: f64 = 0.5;
/// Tokens whose probability is within this of 0.5 are ignored.
const MIN_STRENGTH: f64 = 0.1;
/// The most tokens one message is judged by (the most telling ones).
const MAX_DISCRIMINATORS: usize = 150;

/// What the classifier found in one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The spam probability, 0 (ham) to 1 (spam).
    pub probability: f64,
    /// Tokens that counted.
    pub used: usize,
}

/// Judges messages by a base model plus, optionally, a tenant's own.
pub struct Classifier<'a> {
    base: &'a Model,
    own: Option<&'a Model>,
}

impl<'a> Classifier<'a> {
    /// A classifier over `base` and, when given, `own` (counts add up).
    pub fn new(base: &'a Model, own: Option<&'a Model>) -> Self {
        Self { base, own }
    }

    fn totals(&self) -> (f64, f64) {
        let (mut s, mut h) = (self.base.nspam, self.base.nham);
        if let Some(o) = self.own {
            s = s.saturating_add(o.nspam);
            h = h.saturating_add(o.nham);
        }
        (f64::from(s.max(1)), f64::from(h.max(1)))
    }

    fn counts(&self, t: u64) -> Counts {
        let mut c = self.base.tokens.get(&t).copied().unwrap_or_default();
        if let Some(o) = self.own.and_then(|o| o.tokens.get(&t)) {
            c.spam = c.spam.saturating_add(o.spam);
            c.ham = c.ham.saturating_add(o.ham);
        }
        c
    }

    /// The spam probability of a message with these distinct tokens.
    pub fn judge(&self, tokens: &[u64]) -> Verdict {
        let (nspam, nham) = self.totals();
        let mut probs: Vec<f64> = Vec::with_capacity(tokens.len());
        for t in tokens {
            let c = self.counts(*t);
            let n = f64::from(c.spam) + f64::from(c.ham);
            if n == 0.0 {
                continue;
            }
            let sr = f64::from(c.spam) / nspam;
            let hr = f64::from(c.ham) / nham;
            let p = sr / (sr + hr);
            let f = (S * UNKNOWN + n * p) / (S + n);
            if (f - 0.5).abs() >= MIN_STRENGTH {
                probs.push(f);
            }
        }
        if probs.len() > MAX_DISCRIMINATORS {
            probs.sort_by(|a, b| (b - 0.5).abs().total_cmp(&(a - 0.5).abs()));
            probs.truncate(MAX_DISCRIMINATORS);
        }
        if probs.is_empty() {
            return Verdict {
                probability: 0.5,
                used: 0,
            };
        }
        let (mut hsum, mut ssum) = (0.0, 0.0);
        for f in &probs {
            let f = f.clamp(1e-12, 1.0 - 1e-12);
            hsum += f.ln();
            ssum += (1.0 - f).ln();
        }
        let n = probs.len();
        let h = chi2_q(-2.0 * hsum, 2 * n);
        let s = chi2_q(-2.0 * ssum, 2 * n);
        Verdict {
            probability: ((1.0 + h - s) / 2.0).clamp(0.0, 1.0),
            used: n,
        }
    }
}

/// The probability that a chi-square variable with `v` (even) degrees of freedom is at
/// least `x2`.
fn chi2_q(x2: f64, v: usize) -> f64 {
    let m = x2 / 2.0;
    let mut term = (-m).exp();
    let mut sum = term;
    for i in 1..v / 2 {
        term *= m / i as f64;
        sum += term;
    }
    sum.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(words: &[&str]) -> Vec<u64> {
        words.iter().map(|w| hash(w)).collect()
    }

    #[test]
    fn learnt_words_decide_and_unknown_ones_do_not() {
        let mut m = Model::default();
        for _ in 0..20 {
            m.learn(&toks(&["viagra", "cheap", "offer", "hello"]), true);
            m.learn(&toks(&["meeting", "agenda", "patch", "hello"]), false);
        }
        let c = Classifier::new(&m, None);
        assert!(c.judge(&toks(&["viagra", "cheap"])).probability > 0.95);
        assert!(c.judge(&toks(&["patch", "agenda"])).probability < 0.05);
        let unknown = c.judge(&toks(&["zebra", "hello"]));
        assert_eq!(unknown.used, 0);
        assert_eq!(unknown.probability, 0.5);
    }

    #[test]
    fn a_tenants_own_counts_move_the_verdict() {
        let mut base = Model::default();
        for i in 0..100 {
            if i < 5 {
                base.learn(&toks(&["newsletter", "sale"]), false);
            } else {
                base.learn(&toks(&["hello"]), false);
            }
        }
        for _ in 0..20 {
            base.learn(&toks(&["winner"]), true);
        }
        let mut own = Model::default();
        for _ in 0..30 {
            own.learn(&toks(&["newsletter", "sale"]), true);
        }
        let msg = toks(&["newsletter", "sale"]);
        assert!(Classifier::new(&base, None).judge(&msg).probability < 0.2);
        assert!(Classifier::new(&base, Some(&own)).judge(&msg).probability > 0.8);
        own.unlearn(&msg, true);
        assert_eq!(own.nspam, 29);
    }

    #[test]
    fn models_round_trip_and_bad_bytes_are_refused() {
        let mut m = Model::default();
        m.learn(&toks(&["a", "b"]), true);
        m.learn(&toks(&["b", "c"]), false);
        let b = m.to_bytes();
        assert_eq!(Model::from_bytes(&b), Some(m.clone()));
        assert_eq!(b, m.clone().to_bytes());
        assert!(Model::from_bytes(&b[..b.len() - 1]).is_none());
        assert!(Model::from_bytes(b"nonsense").is_none());
        m.prune(2);
        assert_eq!(m.tokens.len(), 1);
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
