//! The spam filter: the `mailroom spam` commands on the samples in `tests/data/spam`.

use std::path::{Path, PathBuf};
use std::process::Output;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/spam")
}

fn spam_cmd(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mailroom"))
        .arg("spam")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A model trained on the samples separates them, `eval` says so in the figures people
/// read, and a model file that is not one is refused.
#[test]
fn train_then_eval_on_labelled_folders() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.model");
    let (ham, spam) = (samples().join("ham"), samples().join("spam"));
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v = vec![
            "--ham".to_string(),
            ham.display().to_string(),
            "--spam".to_string(),
            spam.display().to_string(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let train: Vec<String> = [vec!["train".to_string()], args(&["--out"])].concat();
    let mut train: Vec<&str> = train.iter().map(String::as_str).collect();
    let m = model.display().to_string();
    train.push(&m);
    train.extend(["--min-count", "1"]);
    let out = ok(&spam_cmd(&train));
    assert!(out.contains("learnt 8 ham and 8 spam"), "{out}");
    let eval: Vec<String> = [
        vec!["eval".to_string()],
        args(&["--split", "all", "--model", &m, "--verbose"]),
    ]
    .concat();
    let eval: Vec<&str> = eval.iter().map(String::as_str).collect();
    let out = ok(&spam_cmd(&eval));
    assert!(
        out.contains("recall 100.00% (8 of 8), false positives 0.00% (0 of 8)"),
        "{out}"
    );
    assert!(out.contains("symbol BAYES_999"), "{out}");
    // The held-out part of the samples is a fifth of them, keyed on Message-ID.
    let held: Vec<String> = [vec!["eval".to_string()], args(&["--split", "test"])].concat();
    let held: Vec<&str> = held.iter().map(String::as_str).collect();
    let out = ok(&spam_cmd(&held));
    assert!(out.contains("(split Test)"), "{out}");
    std::fs::write(&model, b"not a model").unwrap();
    let bad = spam_cmd(&eval);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("is not a model file"),
        "{bad:?}"
    );
}

/// `spam check` with the shipped model: the phishing sample is junk and says why; a
/// colleague's message is not.
#[test]
fn check_prints_the_verdict_and_its_reasons() {
    let out = ok(&spam_cmd(&[
        "check",
        &samples().join("spam/spam02.eml").display().to_string(),
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "junk", "{v}");
    let names: Vec<&str> = v["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"LINK_TEXT_OTHER_SITE"), "{v}");
    assert!(names.contains(&"FROM_NAME_OTHER_DOMAIN"), "{v}");
    let out = ok(&spam_cmd(&[
        "check",
        &samples().join("ham/ham01.eml").display().to_string(),
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "ham", "{v}");
    let missing = spam_cmd(&["check", "/nonexistent/message.eml"]);
    assert!(!missing.status.success());
}
