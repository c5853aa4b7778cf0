//! The mail model: the parse-once summary, authentication results, flags, the ingest
//! pipeline every inbound message goes through, rendering for readers, and search.

pub mod authn;
pub mod compose;
pub mod dns_cache;
pub mod flags;
pub mod ingest;
pub mod mbox;
pub mod outbound;
pub mod policy;
pub mod render;
pub mod search;
pub mod summary;
pub mod vacation;

/// Every message file of the repository's `tests/data/mime-torture` corpus, for tests.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn torture_files() -> Vec<std::path::PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/mime-torture");
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_none_or(|x| x != "md") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert!(out.len() > 150, "corpus at {dir}: {} files", out.len());
    out
}
