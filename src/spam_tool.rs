//! `mailroom spam train|eval|check`: bulk work on labelled folders of messages, without a
//! database: building the shipped base model and measuring the filter on a held-out split.

use mailroom_core::spam::bayes::Model;
use mailroom_core::spam::corpus::{Split, read_dir};
use mailroom_core::spam::{
    Context, Thresholds, Verdict, check_facts, check_facts_with_base, facts::Facts,
};
use std::path::Path;
use std::time::Instant;

/// Learns the messages of `ham` and `spam` in `split` over `base` (or from nothing) and
/// writes the model to `out`, dropping tokens seen fewer than `min_count` times.
pub fn train(
    ham: &Path,
    spam: &Path,
    split: Split,
    base: Option<&Path>,
    out: &Path,
    min_count: u32,
) -> anyhow::Result<()> {
    let mut model = match base {
        Some(p) => Model::from_bytes(&std::fs::read(p)?)
            .ok_or_else(|| anyhow::anyhow!("{} is not a model file", p.display()))?,
        None => Model::default(),
    };
    let (h, s) = (read_dir(ham, split)?, read_dir(spam, split)?);
    for (_, raw) in &h {
        model.learn(&Facts::of(raw).tokens(), false);
    }
    for (_, raw) in &s {
        model.learn(&Facts::of(raw).tokens(), true);
    }
    model.prune(min_count);
    std::fs::write(out, model.to_bytes())?;
    println!(
        "learnt {} ham and {} spam; model: {} ham, {} spam, {} tokens -> {}",
        h.len(),
        s.len(),
        model.nham,
        model.nspam,
        model.tokens.len(),
        out.display()
    );
    Ok(())
}

/// Figures of one evaluation.
#[derive(Debug, Default)]
pub struct Figures {
    pub ham: usize,
    pub spam: usize,
    pub true_pos: usize,
    pub false_pos: usize,
    pub secs: f64,
}

/// Scores every message of `ham` and `spam` in `split` with the shipped model (or
/// `model` read from a file in its place) and prints recall, false-positive rate,
/// precision, F1 and messages/second on one core. With `verbose`, each mistake is printed.
pub fn eval(
    ham: &Path,
    spam: &Path,
    split: Split,
    model: Option<&Path>,
    thresholds: Thresholds,
    verbose: bool,
) -> anyhow::Result<Figures> {
    let own = match model {
        Some(p) => Some(
            Model::from_bytes(&std::fs::read(p)?)
                .ok_or_else(|| anyhow::anyhow!("{} is not a model file", p.display()))?,
        ),
        None => None,
    };
    let (h, s) = (read_dir(ham, split)?, read_dir(spam, split)?);
    let mut f = Figures {
        ham: h.len(),
        spam: s.len(),
        ..Figures::default()
    };
    let start = Instant::now();
    // Per symbol: how often it fired on ham and on spam.
    let mut fired: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for (label, set) in [(false, &h), (true, &s)] {
        for (path, raw) in set.iter() {
            let facts = Facts::of(raw);
            let report = match &own {
                // A model given replaces the shipped one.
                Some(m) => check_facts_with_base(&facts, &Context::default(), m),
                None => check_facts(&facts, &Context::default()),
            };
            let spammy = thresholds.verdict(report.score) != Verdict::Ham;
            for sym in &report.symbols {
                let e = fired.entry(sym.name.clone()).or_default();
                if label {
                    e.1 += 1;
                } else {
                    e.0 += 1;
                }
            }
            match (label, spammy) {
                (true, true) => f.true_pos += 1,
                (false, true) => f.false_pos += 1,
                _ => {}
            }
            if verbose && spammy != label {
                let names: Vec<String> = report
                    .symbols
                    .iter()
                    .map(|s| format!("{}={}", s.name, s.score))
                    .collect();
                println!(
                    "{} {} score={:.2} {}",
                    if label { "missed" } else { "false-positive" },
                    path.display(),
                    report.score,
                    names.join(" ")
                );
            }
        }
    }
    f.secs = start.elapsed().as_secs_f64();
    if verbose {
        for (name, (ham, spam)) in &fired {
            println!("symbol {name}: {ham} ham, {spam} spam");
        }
    }
    let recall = f.true_pos as f64 / f.spam.max(1) as f64;
    let fpr = f.false_pos as f64 / f.ham.max(1) as f64;
    let precision = f.true_pos as f64 / (f.true_pos + f.false_pos).max(1) as f64;
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let n = f.ham + f.spam;
    println!(
        "{} ham, {} spam (split {split:?}), junk at {:.1}: recall {:.2}% ({} of {}), false positives {:.2}% ({} of {}), precision {:.2}%, F1 {:.4}, {:.0} msg/s on one core",
        f.ham,
        f.spam,
        thresholds.junk,
        recall * 100.0,
        f.true_pos,
        f.spam,
        fpr * 100.0,
        f.false_pos,
        f.ham,
        precision * 100.0,
        f1,
        n as f64 / f.secs.max(1e-9),
    );
    Ok(f)
}

/// Copies the messages of `ham` and `spam` into `out/{train,test}/{ham,spam}` by the
/// held-out split, keeping their file names.
pub fn split(ham: &Path, spam: &Path, out: &Path) -> anyhow::Result<()> {
    for (part, which) in [(Split::Train, "train"), (Split::Test, "test")] {
        for (label, dir) in [("ham", ham), ("spam", spam)] {
            let to = out.join(which).join(label);
            std::fs::create_dir_all(&to)?;
            let msgs = read_dir(dir, part)?;
            for (path, raw) in &msgs {
                if let Some(name) = path.file_name() {
                    std::fs::write(to.join(name), raw)?;
                }
            }
            println!("{which}/{label}: {} messages", msgs.len());
        }
    }
    Ok(())
}

/// Prints the report of one message file as JSON.
pub fn check_file(path: &Path) -> anyhow::Result<()> {
    let raw = std::fs::read(path)?;
    let r = mailroom_core::spam::check(&raw, &Context::default());
    let t = Thresholds::default();
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "score": r.score,
            "verdict": t.verdict(r.score),
            "probability": r.probability,
            "symbols": r.symbols,
        }))?
    );
    Ok(())
}
