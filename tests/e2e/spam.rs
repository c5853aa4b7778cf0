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

mod delivered {
    use crate::common::*;
    use crate::smtp::{all_messages_in, bdat, raw, receiving, smtp_addr};
    use crate::smtp_wire::{Wire, code_of};
    use serde_json::{Value, json};

    fn sample(name: &str) -> Vec<u8> {
        std::fs::read(super::samples().join(name)).unwrap()
    }

    async fn deliver(app: &TestApp, to: &str, msg: &[u8]) -> String {
        let mut w = Wire::connect(smtp_addr(app)).await;
        bdat(&mut w, "sender@outside.example", &[to], msg).await
    }

    async fn only(app: &TestApp, token: &str, mailbox: &str, folder: &str) -> Vec<Value> {
        all_messages_in(app, token, mailbox, folder).await
    }

    /// Moves a message into the mailbox's INBOX over REST (a user saying "not spam").
    async fn move_to_inbox(app: &TestApp, token: &str, mailbox: &str, message: &str) {
        let inbox_id = app
            .get(&format!("/v1/mailboxes/{mailbox}/folders"), token)
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "INBOX")
            .unwrap()["id"]
            .clone();
        let r = app
            .patch(
                &format!("/v1/mailboxes/{mailbox}/messages/{message}"),
                token,
                json!({"folder_id": inbox_id}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }

    /// The spam verdict a message's view shows.
    async fn spam_of(app: &TestApp, token: &str, mailbox: &str, id: &str) -> Value {
        let r = app
            .get(&format!("/v1/mailboxes/{mailbox}/messages/{id}"), token)
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        r.body["spam"].clone()
    }

    /// Spam lands in Junk and ham in the inbox; each copy carries `X-Spam-Score` and
    /// `X-Spam-Status` and its message view the verdict with every symbol. Past the refusal
    /// threshold the message is refused at SMTP time and nothing is stored; with the filter
    /// off, everything goes to the inbox unscored.
    #[tokio::test]
    async fn spam_is_filed_in_junk_refused_past_the_threshold_and_ham_reaches_the_inbox() {
        let app = TestApp::spawn().await;
        let (t, _, _, ana_id, ana) = receiving(&app).await;
        let tok = &t.owner_token;
        assert_eq!(
            code_of(&deliver(&app, &ana, &sample("spam/spam02.eml")).await),
            250
        );
        assert_eq!(
            code_of(&deliver(&app, &ana, &sample("ham/ham01.eml")).await),
            250
        );
        let junk = only(&app, tok, &ana_id, "Junk").await;
        let inbox = only(&app, tok, &ana_id, "INBOX").await;
        assert_eq!(junk.len(), 1, "{junk:?}");
        assert_eq!(inbox.len(), 1, "{inbox:?}");
        assert_eq!(junk[0]["subject"], "Your account has been suspended");
        let jid = junk[0]["id"].as_str().unwrap();
        let stored = String::from_utf8(raw(&app, tok, &ana_id, jid).await).unwrap();
        assert!(stored.contains("X-Spam-Status: Yes, score="), "{stored}");
        assert!(stored.contains("LINK_TEXT_OTHER_SITE"), "{stored}");
        let spam = spam_of(&app, tok, &ana_id, jid).await;
        assert_eq!(spam["verdict"], "junk", "{spam}");
        assert!(spam["score"].as_f64().unwrap() >= 5.0, "{spam}");
        assert_eq!(spam["required"], 5.0);
        let names: Vec<&str> = spam["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"FROM_NAME_OTHER_DOMAIN"), "{names:?}");
        let iid = inbox[0]["id"].as_str().unwrap();
        let ham = String::from_utf8(raw(&app, tok, &ana_id, iid).await).unwrap();
        assert!(ham.contains("X-Spam-Status: No, score="), "{ham}");
        assert_eq!(spam_of(&app, tok, &ana_id, iid).await["verdict"], "ham");

        // A refusal threshold the phishing message passes: 550 5.7.1, nothing stored.
        let r = app
            .patch(
                "/v1/spam/settings",
                tok,
                json!({"junk_threshold": 4.0, "reject_threshold": 6.0}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["reject_threshold"], 6.0);
        let mut phish = sample("spam/spam02.eml");
        phish.extend_from_slice(b"\nOne more time.\n");
        // Settings are read again within 10 seconds (until then it is filed in Junk); the
        // refused one stores nothing.
        let refused = eventually(15, || {
            let (app, ana, phish, ana_id) = (&app, ana.clone(), phish.clone(), ana_id.clone());
            async move {
                let before = only(app, tok, &ana_id, "Junk").await.len();
                let r = deliver(app, &ana, &phish).await;
                let refused = r.starts_with("550 5.7.1") && r.contains("spam");
                if refused {
                    assert_eq!(only(app, tok, &ana_id, "Junk").await.len(), before);
                    assert_eq!(only(app, tok, &ana_id, "INBOX").await.len(), 1);
                }
                refused
            }
        })
        .await;
        assert!(refused);
        // Off: delivered to the inbox, unscored.
        let r = app
            .patch("/v1/spam/settings", tok, json!({"enabled": false}))
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        let mut again = sample("spam/spam00.eml");
        again.extend_from_slice(b"\nAgain.\n");
        let unscored = eventually(15, || {
            let (app, ana, again) = (&app, ana.clone(), again.clone());
            async move { code_of(&deliver(app, &ana, &again).await) == 250 }
        })
        .await;
        assert!(unscored);
        let landed = eventually(15, || async {
            only(&app, tok, &ana_id, "INBOX")
                .await
                .iter()
                .any(|m| m["subject"] == "CHEAP MEDS WITHOUT PRESCRIPTION!!!")
        })
        .await;
        assert!(
            landed,
            "the spam sample should be in the inbox with the filter off"
        );
    }

    /// Settings are validated, each tenant has its own, and a member reads them but cannot
    /// change them.
    #[tokio::test]
    async fn settings_are_validated_per_tenant_and_for_admins() {
        let app = TestApp::spawn().await;
        let (a, b) = (app.tenant().await, app.tenant().await);
        let r = app.get("/v1/spam/settings", &a.owner_token).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body,
            json!({"enabled": true, "junk_threshold": 5.0, "reject_threshold": 15.0,
                   "quarantine_threshold": null, "dmarc_reject": "junk",
                   "learned_spam": 0, "learned_ham": 0, "greylist": false,
                   "greylist_delay_secs": 300, "quarantine_days": 30, "autolearn": true})
        );
        for (bad, field) in [
            (json!({"junk_threshold": 20.0}), "reject_threshold"),
            (json!({"reject_threshold": 1.0}), "reject_threshold"),
            (json!({"dmarc_reject": "bounce"}), "dmarc_reject"),
            (json!({"junk_threshold": 1e9}), "junk_threshold"),
            (
                json!({"quarantine_threshold": 20.0}),
                "quarantine_threshold",
            ),
            (json!({"quarantine_threshold": 4.0}), "quarantine_threshold"),
        ] {
            let r = app.patch("/v1/spam/settings", &a.owner_token, bad).await;
            assert_eq!(r.status, 400, "{r:?}");
            assert_eq!(r.body["code"], "validation_failed");
            assert_eq!(r.body["errors"][0]["field"], field, "{r:?}");
        }
        let r = app
            .patch(
                "/v1/spam/settings",
                &a.owner_token,
                json!({"reject_threshold": null, "dmarc_reject": "reject", "junk_threshold": 20.0}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.body["reject_threshold"].is_null());
        assert_eq!(r.body["junk_threshold"], 20.0);
        // The other tenant still has the defaults.
        let r = app.get("/v1/spam/settings", &b.owner_token).await;
        assert_eq!(r.body["junk_threshold"], 5.0);
        assert_eq!(r.body["dmarc_reject"], "junk");
        // A key with spam:read reads, cannot write.
        let (_, key) = app.api_key(&a.owner_token, &["spam:read"]).await;
        assert_eq!(app.get("/v1/spam/settings", &key).await.status, 200);
        let r = app
            .patch("/v1/spam/settings", &key, json!({"enabled": false}))
            .await;
        assert_eq!(r.status, 403, "{r:?}");
        // The change is in the audit log.
        let log = app
            .get("/v1/audit-log?action=spam.settings.update", &a.owner_token)
            .await;
        assert!(log.text.contains("spam.settings.update"), "{log:?}");
    }

    async fn post_message(
        app: &TestApp,
        path: &str,
        token: &str,
        ctype: &str,
        body: &[u8],
    ) -> (u16, Value) {
        let r = app
            .http
            .post(format!("{}{path}", app.base))
            .bearer_auth(token)
            .header("content-type", ctype)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    fn newsletter(n: usize) -> Vec<u8> {
        format!(
            "From: Zorblax Weekly <news@zorblax.example>\r\nTo: ana@x.example\r\nSubject: Zorblax frobnication digest {n}\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <digest{n}@zorblax.example>\r\n\r\nZorblax frobnication quarterly: glimmerwort prices, quixotic snorkelry and\r\nvelvetine updates from the zorblax frobnication team.\r\n"
        )
        .into_bytes()
    }

    /// `check` judges a message as the tenant's filter would and stores nothing; `train`
    /// teaches the tenant's classifier (once per message; the other label takes the lesson
    /// back), which moves that tenant's verdicts and no one else's.
    #[tokio::test]
    async fn check_and_train_move_only_the_tenants_own_verdicts() {
        let app = TestApp::spawn().await;
        let (a, b) = (app.tenant().await, app.tenant().await);
        let check = |token: String, msg: Vec<u8>| {
            let app = &app;
            async move { post_message(app, "/v1/spam/check", &token, "message/rfc822", &msg).await }
        };
        let (s, before) = check(a.owner_token.clone(), newsletter(0)).await;
        assert_eq!(s, 200, "{before}");
        assert_eq!(before["verdict"], "ham", "{before}");
        assert!(before["symbols"].is_array());
        // Wrong type, empty body, bad verdict.
        let (s, p) = post_message(&app, "/v1/spam/check", &a.owner_token, "text/plain", b"x").await;
        assert_eq!(
            (s, p["code"].as_str()),
            (415, Some("unsupported_media_type"))
        );
        let (s, p) = post_message(
            &app,
            "/v1/spam/check",
            &a.owner_token,
            "message/rfc822",
            b"",
        )
        .await;
        assert_eq!((s, p["code"].as_str()), (400, Some("empty_message")));
        let (s, p) = post_message(
            &app,
            "/v1/spam/train?verdict=maybe",
            &a.owner_token,
            "message/rfc822",
            &newsletter(1),
        )
        .await;
        assert_eq!(
            (s, p["errors"][0]["field"].as_str()),
            (400, Some("verdict"))
        );
        // Tenant A's users say these are spam.
        for n in 1..=20 {
            let (s, r) = post_message(
                &app,
                "/v1/spam/train?verdict=spam",
                &a.owner_token,
                "message/rfc822",
                &newsletter(n),
            )
            .await;
            assert_eq!(s, 200, "{r}");
            assert_eq!(r["result"], "learnt");
        }
        let (_, r) = post_message(
            &app,
            "/v1/spam/train?verdict=spam",
            &a.owner_token,
            "message/rfc822",
            &newsletter(20),
        )
        .await;
        assert_eq!(r["result"], "already_known");
        assert_eq!(r["learned_spam"], 20);
        let (_, after) = check(a.owner_token.clone(), newsletter(99)).await;
        assert_eq!(after["verdict"], "junk", "{after}");
        assert!(
            after["score"].as_f64().unwrap() > before["score"].as_f64().unwrap(),
            "{before} {after}"
        );
        // Tenant B's filter learnt nothing.
        let (_, other) = check(b.owner_token.clone(), newsletter(99)).await;
        assert_eq!(other["verdict"], "ham", "{other}");
        assert_eq!(
            app.get("/v1/spam/settings", &b.owner_token).await.body["learned_spam"],
            0
        );
        // Relabelled: the lesson is taken back.
        let (_, r) = post_message(
            &app,
            "/v1/spam/train?verdict=ham",
            &a.owner_token,
            "message/rfc822",
            &newsletter(20),
        )
        .await;
        assert_eq!(r["result"], "relearnt");
        assert_eq!(
            (r["learned_spam"].as_i64(), r["learned_ham"].as_i64()),
            (Some(19), Some(1))
        );
        // Delivered mail is judged by the tenant's own counts too.
        let (d, _) = crate::mailboxes::fixture_verified_domain(&app, &a.owner_token).await;
        let (ana_id, ana) = crate::mailboxes::mailbox(&app, &a.owner_token, &d, "ana").await;
        assert_eq!(code_of(&deliver(&app, &ana, &newsletter(100)).await), 250);
        let junk = only(&app, &a.owner_token, &ana_id, "Junk").await;
        assert_eq!(junk.len(), 1, "{junk:?}");
    }

    /// Moving mail into Junk over IMAP teaches the tenant's classifier that it is spam (and
    /// out of it, over REST, that it is not): the next such message is filed in Junk.
    #[tokio::test]
    async fn moves_into_and_out_of_junk_teach_the_tenants_filter() {
        use crate::imap_wire::Imap;
        let app = TestApp::spawn_isolated_with(|c| c.jobs.enabled = true).await;
        let (t, _, _, ana_id, ana) = receiving(&app).await;
        let tok = &t.owner_token;
        for n in 0..20 {
            assert_eq!(code_of(&deliver(&app, &ana, &newsletter(n)).await), 250);
        }
        assert_eq!(only(&app, tok, &ana_id, "INBOX").await.len(), 20);
        let imap = app.running.as_ref().unwrap().imap_addr.unwrap();
        let mut c = Imap::login(imap, &ana, PASSWORD).await;
        assert!(c.cmd("SELECT INBOX").await.ok());
        let r = c.cmd("UID MOVE 1:* Junk").await;
        assert!(r.ok(), "{}", r.all());
        let taught = eventually(20, || async {
            app.get("/v1/spam/settings", tok).await.body["learned_spam"] == 20
        })
        .await;
        assert!(taught, "{:?}", app.get("/v1/spam/settings", tok).await);
        // New mail follows the lesson within 10 seconds (the settings and totals are cached).
        let mut n = 50;
        let filed_new = eventually(15, || {
            n += 1;
            let (app, ana, ana_id, msg) = (&app, ana.clone(), ana_id.clone(), newsletter(n));
            let subject = format!("Zorblax frobnication digest {n}");
            async move {
                assert_eq!(code_of(&deliver(app, &ana, &msg).await), 250);
                only(app, tok, &ana_id, "Junk")
                    .await
                    .iter()
                    .any(|m| m["subject"] == subject.as_str())
            }
        })
        .await;
        assert!(filed_new);
        let filed = only(&app, tok, &ana_id, "Junk").await;
        // One is not spam after all: moved back to the inbox over REST, learnt as ham.
        move_to_inbox(&app, tok, &ana_id, filed[0]["id"].as_str().unwrap()).await;
        let relearnt = eventually(20, || async {
            let s = app.get("/v1/spam/settings", tok).await.body;
            s["learned_ham"] == 1
        })
        .await;
        assert!(relearnt, "{:?}", app.get("/v1/spam/settings", tok).await);
    }

    /// Autolearn: a message the rules alone make certain spam (an executable behind a double
    /// extension, a link naming another site) teaches the recipient's tenant by itself, once
    /// however often it comes, and no other tenant; the user moving it out of Junk takes that
    /// lesson back (the same message, ham now).
    #[tokio::test]
    async fn certain_spam_is_learnt_by_itself_and_a_user_overrules_it() {
        let app = TestApp::spawn_isolated_with(|c| c.jobs.enabled = true).await;
        let (t, _, _, ana_id, ana) = receiving(&app).await;
        let (u, _, _, _, _) = receiving(&app).await;
        let tok = &t.owner_token;
        let r = app
            .patch("/v1/spam/settings", tok, json!({"reject_threshold": null}))
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["autolearn"], true);
        let exe = "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAAA4fug4AtAnNIbgBTM0hVGhpcyBwcm9ncmFtIGNhbm5vdCBiZSBydW4gaW4gRE9TIG1vZGUu";
        let msg = format!(
            "From: Billing <billing@invoices.example>\r\nTo: {ana}\r\nSubject: Invoice 4471\r\nMessage-ID: <inv4471@invoices.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>Your invoice is ready: <a href=\"http://203.0.113.9/pay\">https://www.paypal.com/invoice</a></p>\r\n--b1\r\nContent-Type: application/octet-stream; name=\"invoice.pdf.exe\"\r\nContent-Disposition: attachment; filename=\"invoice.pdf.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{exe}\r\n--b1--\r\n"
        );
        assert_eq!(code_of(&deliver(&app, &ana, msg.as_bytes()).await), 250);
        let junk = only(&app, tok, &ana_id, "Junk").await;
        assert_eq!(junk.len(), 1, "{junk:?}");
        let learnt = eventually(10, || async {
            app.get("/v1/spam/settings", tok).await.body["learned_spam"] == 1
        })
        .await;
        assert!(learnt, "{:?}", app.get("/v1/spam/settings", tok).await);
        // The same message again: still one lesson. The other tenant learnt nothing.
        assert_eq!(code_of(&deliver(&app, &ana, msg.as_bytes()).await), 250);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let s = app.get("/v1/spam/settings", tok).await.body;
        assert_eq!(
            (s["learned_spam"].as_i64(), s["learned_ham"].as_i64()),
            (Some(1), Some(0))
        );
        let s = app.get("/v1/spam/settings", &u.owner_token).await.body;
        assert_eq!(s["learned_spam"], 0, "{s}");
        // The user says it is not spam: autolearn's lesson is taken back.
        move_to_inbox(&app, tok, &ana_id, junk[0]["id"].as_str().unwrap()).await;
        let overruled = eventually(20, || async {
            let s = app.get("/v1/spam/settings", tok).await.body;
            s["learned_spam"] == 0 && s["learned_ham"] == 1
        })
        .await;
        assert!(overruled, "{:?}", app.get("/v1/spam/settings", tok).await);
        // A tenant may turn it off.
        let r = app
            .patch("/v1/spam/settings", tok, json!({"autolearn": false}))
            .await;
        assert_eq!(r.body["autolearn"], false);
    }

    /// Block and allow lists, tenant-wide and per mailbox, and the recipient's contacts: a
    /// blocked sender goes to Junk, an allow-listed From that is not authenticated counts for
    /// little (it could be forged), a contact counts in favour; another tenant neither sees
    /// nor touches the entries.
    #[tokio::test]
    async fn lists_and_contacts_weigh_in_per_mailbox_and_stay_in_their_tenant() {
        let app = TestApp::spawn().await;
        let (t, d, _, ana_id, ana) = receiving(&app).await;
        let tok = &t.owner_token;
        let (bob_id, bob) = crate::mailboxes::mailbox(&app, tok, &d, "bob").await;
        let add = |body: Value| {
            let app = &app;
            async move { app.post("/v1/spam/lists", tok, body).await }
        };
        // Validation.
        for (bad, field) in [
            (json!({"kind": "maybe", "pattern": "x.example"}), "kind"),
            (
                json!({"kind": "block", "pattern": "not a domain"}),
                "pattern",
            ),
            (
                json!({"kind": "block", "pattern": "x.example", "note": "n".repeat(501)}),
                "note",
            ),
        ] {
            let r = add(bad).await;
            assert_eq!(r.status, 400, "{r:?}");
            assert_eq!(r.body["errors"][0]["field"], field, "{r:?}");
        }
        // Ana blocks the colleagues' company (ham01 comes from bob@company.example), for her
        // mailbox only; the tenant allows the phishing sender's domain.
        let r = add(
            json!({"kind": "block", "pattern": "@Company.Example", "mailbox_id": ana_id,
                           "note": "too many meetings"}),
        )
        .await;
        assert_eq!(r.status, 201, "{r:?}");
        assert_eq!(r.body["pattern"], "company.example");
        let block_id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            add(json!({"kind": "block", "pattern": "company.example", "mailbox_id": ana_id}))
                .await
                .status,
            409
        );
        let r = add(json!({"kind": "allow", "pattern": "verify-account.example"})).await;
        assert_eq!(r.status, 201, "{r:?}");
        let ham = sample("ham/ham01.eml");
        let mut w = Wire::connect(smtp_addr(&app)).await;
        assert_eq!(
            code_of(&bdat(&mut w, "bob@company.example", &[&ana, &bob], &ham).await),
            250
        );
        // Blocked for Ana, not for Bob.
        let ana_junk = only(&app, tok, &ana_id, "Junk").await;
        assert_eq!(ana_junk.len(), 1, "{ana_junk:?}");
        let spam = spam_of(&app, tok, &ana_id, ana_junk[0]["id"].as_str().unwrap()).await;
        let symbols = spam["symbols"].to_string();
        assert!(symbols.contains("BLOCKLIST"), "{symbols}");
        assert!(symbols.contains("the mailbox's block list"), "{symbols}");
        assert_eq!(only(&app, tok, &bob_id, "INBOX").await.len(), 1);
        // The allow-listed phishing sender: its From is not authenticated, so it is still junk.
        assert_eq!(
            code_of(&deliver(&app, &bob, &sample("spam/spam02.eml")).await),
            250
        );
        let bob_junk = only(&app, tok, &bob_id, "Junk").await;
        assert_eq!(bob_junk.len(), 1, "{bob_junk:?}");
        let spam = spam_of(&app, tok, &bob_id, bob_junk[0]["id"].as_str().unwrap()).await;
        assert!(
            spam["symbols"].to_string().contains("ALLOWLIST_UNAUTH"),
            "{spam}"
        );
        // Bob's contact: counted in his favour.
        let r = app
            .post(
                &format!("/v1/contacts?mailbox_id={bob_id}"),
                tok,
                json!({"full_name": "Hana", "emails": [{"value": "hana@friends.example"}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        assert_eq!(
            code_of(&deliver(&app, &bob, &sample("ham/ham07.eml")).await),
            250
        );
        let dinner = only(&app, tok, &bob_id, "INBOX")
            .await
            .into_iter()
            .find(|m| m["subject"] == "Dinner on Saturday?")
            .unwrap();
        let spam = spam_of(&app, tok, &bob_id, dinner["id"].as_str().unwrap()).await;
        assert!(
            spam["symbols"].to_string().contains("FROM_CONTACT"),
            "{spam}"
        );
        // Listed, filtered by mailbox.
        let all = app.get("/v1/spam/lists", tok).await;
        assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
        let anas = app
            .get(&format!("/v1/spam/lists?mailbox_id={ana_id}"), tok)
            .await;
        assert_eq!(anas.body["items"].as_array().unwrap().len(), 1);
        // Another tenant sees none of it and can touch none of it.
        let other = app.tenant().await;
        let theirs = app.get("/v1/spam/lists", &other.owner_token).await;
        assert_eq!(theirs.body["items"].as_array().unwrap().len(), 0);
        assert_eq!(
            app.delete(&format!("/v1/spam/lists/{block_id}"), &other.owner_token)
                .await
                .status,
            404
        );
        let r = app
            .post(
                "/v1/spam/lists",
                &other.owner_token,
                json!({"kind": "allow", "pattern": "x.example", "mailbox_id": ana_id}),
            )
            .await;
        assert_eq!(r.status, 404, "{r:?}");
        // Removed by its tenant.
        assert_eq!(
            app.delete(&format!("/v1/spam/lists/{block_id}"), tok)
                .await
                .status,
            204
        );
        assert_eq!(
            app.delete(&format!("/v1/spam/lists/{block_id}"), tok)
                .await
                .status,
            404
        );
    }

    /// DNS blocklists, asked on a local DNS server: a client address listed in an IP list
    /// (RFC 5782's test entry 127.0.0.2) and a link domain listed in a domain list each add
    /// their symbol; an unlisted client and clean links add nothing.
    #[tokio::test]
    async fn dns_blocklists_are_asked_for_the_client_and_the_links() {
        use crate::dns::{DnsServer, Rec};
        let dns = DnsServer::start(
            &["bl.test", "uribl.test"],
            &[
                Rec::Host("2.0.0.127.bl.test".into(), "127.0.0.2".into()),
                Rec::Host("bad-links.example.uribl.test".into(), "127.0.0.2".into()),
            ],
        )
        .await;
        let app = TestApp::spawn_with(|c| {
            c.dns.nameservers = vec![dns.addr()];
            c.dns.timeout_ms = 1000;
            c.spam.dnsbl_zones = vec!["bl.test".into()];
            c.spam.uribl_zones = vec!["uribl.test".into()];
        })
        .await;
        let (t, _, _, ana_id, ana) = receiving(&app).await;
        let tok = &t.owner_token;
        let msg = |n: u32, link: &str| {
            format!(
                "From: Carla <carla@family.example>\r\nTo: {ana}\r\nSubject: note {n}\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <n{n}@family.example>\r\n\r\nHi, the photos are at {link} as promised.\r\n"
            )
        };
        // From 127.0.0.2 (listed), with a listed link.
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let s = sock.connect(smtp_addr(&app)).await.unwrap();
        let mut w = Wire::from_stream(s).await;
        let m1 = msg(1, "https://www.bad-links.example/album");
        assert_eq!(
            code_of(&bdat(&mut w, "carla@family.example", &[&ana], m1.as_bytes()).await),
            250
        );
        // From 127.0.0.1 (not listed), with a clean link.
        let m2 = msg(2, "https://photos.family.example/album");
        assert_eq!(code_of(&deliver(&app, &ana, m2.as_bytes()).await), 250);
        let mut all = only(&app, tok, &ana_id, "INBOX").await;
        all.extend(only(&app, tok, &ana_id, "Junk").await);
        let symbols_of = |subject: &str| {
            let id = all
                .iter()
                .find(|m| m["subject"] == subject)
                .unwrap_or_else(|| panic!("{subject} not delivered: {all:?}"))["id"]
                .as_str()
                .unwrap()
                .to_string();
            let app = &app;
            let ana_id = ana_id.clone();
            async move {
                app.get(&format!("/v1/mailboxes/{ana_id}/messages/{id}"), tok)
                    .await
                    .body["spam"]["symbols"]
                    .to_string()
            }
        };
        let listed = symbols_of("note 1").await;
        assert!(listed.contains("RBL_LISTED"), "{listed}");
        assert!(
            listed.contains("127.0.0.2 is listed by bl.test"),
            "{listed}"
        );
        assert!(listed.contains("URIBL_LISTED"), "{listed}");
        assert!(
            listed.contains("bad-links.example is listed by uribl.test"),
            "{listed}"
        );
        let clean = symbols_of("note 2").await;
        assert!(!clean.contains("RBL_LISTED"), "{clean}");
        assert!(!clean.contains("URIBL_LISTED"), "{clean}");
    }

    /// Past the quarantine threshold a message is held, not delivered (the server still
    /// answers 250: it is safe with us); an admin lists it with its verdict, releases it into
    /// the INBOX or deletes it; another tenant can do neither.
    #[tokio::test]
    async fn quarantined_mail_is_held_then_released_or_deleted_by_its_tenant() {
        let app = TestApp::spawn().await;
        let (t, _, _, ana_id, ana) = receiving(&app).await;
        let tok = &t.owner_token;
        let r = app
            .patch(
                "/v1/spam/settings",
                tok,
                json!({"quarantine_threshold": 7.0, "reject_threshold": null}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["quarantine_threshold"], 7.0);
        // The phishing sample scores above 7; the casino one too.
        for f in ["spam/spam02.eml", "spam/spam07.eml"] {
            assert_eq!(code_of(&deliver(&app, &ana, &sample(f)).await), 250, "{f}");
        }
        for folder in ["INBOX", "Junk"] {
            assert!(
                only(&app, tok, &ana_id, folder).await.is_empty(),
                "{folder}"
            );
        }
        let held = app.get("/v1/spam/quarantine", tok).await;
        let items = held.body["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), 2, "{held:?}");
        let phish = items
            .iter()
            .find(|m| m["subject"] == "Your account has been suspended")
            .unwrap();
        assert_eq!(phish["mailbox_id"], ana_id.as_str());
        assert_eq!(phish["sender"], "sender@outside.example");
        assert_eq!(phish["spam"]["verdict"], "quarantine");
        assert!(phish["score"].as_f64().unwrap() >= 7.0);
        assert!(
            phish["spam"]["symbols"]
                .to_string()
                .contains("LINK_TEXT_OTHER_SITE")
        );
        let phish_id = phish["id"].as_str().unwrap().to_string();
        let other_id = items.iter().find(|m| m["id"] != phish_id.as_str()).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        // Another tenant: nothing to see, nothing to release or delete.
        let b = app.tenant().await;
        let theirs = app.get("/v1/spam/quarantine", &b.owner_token).await;
        assert_eq!(theirs.body["items"].as_array().unwrap().len(), 0);
        let r = app
            .post(
                &format!("/v1/spam/quarantine/{phish_id}/release"),
                &b.owner_token,
                json!({}),
            )
            .await;
        assert_eq!(r.status, 404, "{r:?}");
        assert_eq!(
            app.delete(&format!("/v1/spam/quarantine/{phish_id}"), &b.owner_token)
                .await
                .status,
            404
        );
        // Released: in the INBOX, byte for byte; gone from the quarantine.
        let r = app
            .post(
                &format!("/v1/spam/quarantine/{phish_id}/release"),
                tok,
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        let mid = r.body["message_id"].as_str().unwrap();
        assert_eq!(
            raw(&app, tok, &ana_id, mid).await,
            sample("spam/spam02.eml"),
            "released bytes differ"
        );
        assert_eq!(only(&app, tok, &ana_id, "INBOX").await.len(), 1);
        // Deleted.
        assert_eq!(
            app.delete(&format!("/v1/spam/quarantine/{other_id}"), tok)
                .await
                .status,
            204
        );
        let held = app.get("/v1/spam/quarantine", tok).await;
        assert_eq!(held.body["items"].as_array().unwrap().len(), 0);
        let again = app
            .post(
                &format!("/v1/spam/quarantine/{phish_id}/release"),
                tok,
                json!({}),
            )
            .await;
        assert_eq!(again.status, 404);
    }

    /// A mailbox's owner sets its own Junk threshold; the other mailboxes keep the tenant's.
    #[tokio::test]
    async fn a_mailbox_owner_sets_its_own_junk_threshold() {
        let app = TestApp::spawn().await;
        let (t, d, _, ana_id, ana) = receiving(&app).await;
        let tok = &t.owner_token;
        let (bob_id, bob) = crate::mailboxes::mailbox(&app, tok, &d, "bob").await;
        let ana_token = app.login(&ana, PASSWORD).await;
        let r = app
            .patch(
                &format!("/v1/mailboxes/{ana_id}"),
                &ana_token,
                json!({"spam_junk_threshold": 2000.0}),
            )
            .await;
        assert_eq!(r.status, 400, "{r:?}");
        assert_eq!(r.body["errors"][0]["field"], "spam_junk_threshold");
        let r = app
            .patch(
                &format!("/v1/mailboxes/{ana_id}"),
                &ana_token,
                json!({"spam_junk_threshold": 2.5}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["spam_junk_threshold"], 2.5);
        // A bare note with no From, Date or Message-ID: a few points, under the tenant's 5.
        let note = b"Subject: private\r\n\r\nsecret\r\n";
        let mut w = Wire::connect(smtp_addr(&app)).await;
        assert_eq!(
            code_of(&bdat(&mut w, "x@outside.example", &[&ana, &bob], note).await),
            250
        );
        let ana_junk = only(&app, tok, &ana_id, "Junk").await;
        assert_eq!(ana_junk.len(), 1, "{ana_junk:?}");
        let spam = spam_of(&app, tok, &ana_id, ana_junk[0]["id"].as_str().unwrap()).await;
        assert_eq!(spam["required"], 2.5, "{spam}");
        let score = spam["score"].as_f64().unwrap();
        assert!((2.5..5.0).contains(&score), "{score}");
        assert_eq!(only(&app, tok, &bob_id, "INBOX").await.len(), 1);
        // Back to the organisation's.
        let r = app
            .patch(
                &format!("/v1/mailboxes/{ana_id}"),
                &ana_token,
                json!({"spam_junk_threshold": null}),
            )
            .await;
        assert!(r.body["spam_junk_threshold"].is_null(), "{r:?}");
    }

    /// One SMTP transaction from `from` to `to`: the RCPT reply, and the final reply when
    /// the recipient was accepted.
    async fn attempt(app: &TestApp, from: &str, to: &str, subject: &str) -> (String, String) {
        let mut w = Wire::connect(smtp_addr(app)).await;
        assert_eq!(w.code("EHLO mx.sender.example").await, 250);
        let r = w.cmd(&format!("MAIL FROM:<{from}>")).await;
        assert_eq!(code_of(&r), 250, "{r}");
        let rcpt = w.cmd(&format!("RCPT TO:<{to}>")).await;
        if code_of(&rcpt) != 250 {
            w.cmd("QUIT").await;
            return (rcpt, String::new());
        }
        assert_eq!(code_of(&w.cmd("DATA").await), 354);
        let body = format!(
            "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{}@sender.example>\r\n\r\nHello there, about the meeting.\r\n.\r\n",
            rand_suffix()
        );
        w.send(body.as_bytes()).await;
        let done = w.reply().await;
        w.cmd("QUIT").await;
        (rcpt, done)
    }

    /// Greylisting, off by default: turned on, a new sender is told `451 4.7.1` at RCPT (and
    /// again when it retries too early), its retry after the delay is taken and delivered, and
    /// from then on that sender passes at once; another sender is greylisted on its own, a
    /// sender on the allow list never is, and a tenant that left it off is not touched.
    #[tokio::test]
    async fn greylisting_asks_new_senders_to_retry_and_takes_the_retry() {
        let app = TestApp::spawn().await;
        let (t, _, _, ana_id, ana) = receiving(&app).await;
        let (u, _, _, bob_id, bob) = receiving(&app).await;
        let tok = &t.owner_token;
        let r = app.get("/v1/spam/settings", tok).await;
        assert_eq!(r.body["greylist"], false, "{r:?}");
        assert_eq!(r.body["greylist_delay_secs"], 300);
        for (bad, field) in [
            (json!({"greylist_delay_secs": 0}), "greylist_delay_secs"),
            (json!({"greylist_delay_secs": 7200}), "greylist_delay_secs"),
            (json!({"quarantine_days": 0}), "quarantine_days"),
        ] {
            let r = app.patch("/v1/spam/settings", tok, bad).await;
            assert_eq!(r.status, 400, "{r:?}");
            assert_eq!(r.body["errors"][0]["field"], field, "{r:?}");
        }
        // Before any mail reaches the mailbox, so no earlier settings are cached.
        let r = app
            .patch(
                "/v1/spam/settings",
                tok,
                json!({"greylist": true, "greylist_delay_secs": 2}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["greylist"], true);
        let r = app
            .post(
                "/v1/spam/lists",
                tok,
                json!({"kind": "allow", "pattern": "friend.example"}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");

        let first = "news@sender.example";
        let (rcpt, _) = attempt(&app, first, &ana, "one").await;
        assert!(rcpt.starts_with("451 4.7.1"), "{rcpt}");
        assert!(rcpt.contains("greylisted"), "{rcpt}");
        // Too early: still refused, nothing stored.
        let (rcpt, _) = attempt(&app, first, &ana, "one").await;
        assert!(rcpt.starts_with("451 4.7.1"), "{rcpt}");
        assert!(only(&app, tok, &ana_id, "INBOX").await.is_empty());
        // The allow-listed sender and the tenant that left greylisting off: at once.
        let (rcpt, done) = attempt(&app, "pat@friend.example", &ana, "friend").await;
        assert_eq!(code_of(&rcpt), 250, "{rcpt}");
        assert_eq!(code_of(&done), 250, "{done}");
        let (rcpt, done) = attempt(&app, first, &bob, "elsewhere").await;
        assert_eq!(code_of(&rcpt), 250, "{rcpt}");
        assert_eq!(code_of(&done), 250, "{done}");
        assert_eq!(only(&app, &u.owner_token, &bob_id, "INBOX").await.len(), 1);
        // The retry after the delay is taken, and the next message passes at once.
        tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
        let (rcpt, done) = attempt(&app, first, &ana, "one").await;
        assert_eq!(code_of(&rcpt), 250, "{rcpt}");
        assert_eq!(code_of(&done), 250, "{done}");
        let (rcpt, _) = attempt(&app, first, &ana, "two").await;
        assert_eq!(code_of(&rcpt), 250, "{rcpt}");
        // Another sender from the same network waits on its own.
        let (rcpt, _) = attempt(&app, "other@sender.example", &ana, "three").await;
        assert!(rcpt.starts_with("451 4.7.1"), "{rcpt}");
        let mut subjects: Vec<String> = only(&app, tok, &ana_id, "INBOX")
            .await
            .iter()
            .map(|m| m["subject"].as_str().unwrap_or_default().to_string())
            .collect();
        subjects.sort();
        assert_eq!(subjects, ["friend", "one", "two"]);
    }

    /// Reverse DNS of the client, asked on a local DNS server (the clients' public addresses
    /// come in PROXY headers, as from a load balancer): no PTR name, a name that does not
    /// resolve back, or one that reads like a home connection each add their symbol; a server
    /// whose name resolves back adds none, and a private address is not asked about.
    #[tokio::test]
    async fn the_clients_reverse_dns_is_checked() {
        use crate::dns::{DnsServer, Rec};
        let dns = DnsServer::start(
            &[
                "113.0.203.in-addr.arpa",
                "10.in-addr.arpa",
                "sender.example",
                "isp.example",
            ],
            &[
                Rec::Ptr(
                    "4.113.0.203.in-addr.arpa".into(),
                    "mx.sender.example".into(),
                ),
                Rec::Host("mx.sender.example".into(), "203.0.113.4".into()),
                Rec::Ptr(
                    "5.113.0.203.in-addr.arpa".into(),
                    "203-0-113-5.dyn.isp.example".into(),
                ),
            ],
        )
        .await;
        let app = TestApp::spawn_with(|c| {
            c.dns.nameservers = vec![dns.addr()];
            c.dns.timeout_ms = 1000;
            c.smtp.proxy_protocol = true;
        })
        .await;
        let (t, _, _, ana_id, ana) = receiving(&app).await;
        let tok = &t.owner_token;
        for (n, client) in [
            (3, "203.0.113.3"),
            (4, "203.0.113.4"),
            (5, "203.0.113.5"),
            (6, "10.0.0.6"),
        ] {
            use tokio::io::AsyncWriteExt;
            let mut s = tokio::net::TcpStream::connect(smtp_addr(&app))
                .await
                .unwrap();
            s.write_all(format!("PROXY TCP4 {client} 127.0.0.1 40000 25\r\n").as_bytes())
                .await
                .unwrap();
            let mut w = Wire::from_stream(s).await;
            let m = format!(
                "From: Carla <carla@family.example>\r\nTo: {ana}\r\nSubject: from {n}\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <r{n}@family.example>\r\n\r\nHi, see you on Sunday.\r\n"
            );
            assert_eq!(
                code_of(&bdat(&mut w, "carla@family.example", &[&ana], m.as_bytes()).await),
                250
            );
        }
        let mut all = only(&app, tok, &ana_id, "INBOX").await;
        all.extend(only(&app, tok, &ana_id, "Junk").await);
        let mut symbols = std::collections::HashMap::new();
        for m in &all {
            let id = m["id"].as_str().unwrap();
            let spam = spam_of(&app, tok, &ana_id, id).await;
            let names: Vec<String> = spam["symbols"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_string())
                .filter(|n| n.starts_with("RDNS_"))
                .collect();
            symbols.insert(m["subject"].as_str().unwrap().to_string(), names);
        }
        assert_eq!(symbols["from 3"], ["RDNS_NONE"], "{symbols:?}");
        assert!(symbols["from 4"].is_empty(), "{symbols:?}");
        assert!(symbols["from 6"].is_empty(), "{symbols:?}");
        assert_eq!(
            symbols["from 5"],
            ["RDNS_NOT_CONFIRMED", "RDNS_DYNAMIC"],
            "{symbols:?}"
        );
    }

    /// Quarantined mail is deleted once older than the tenant's `quarantine_days`; another
    /// tenant's keeps its own retention.
    #[tokio::test]
    async fn quarantined_mail_is_deleted_after_its_tenants_retention() {
        let app = TestApp::spawn().await;
        let (t, _, _, _, ana) = receiving(&app).await;
        let (u, _, _, _, bob) = receiving(&app).await;
        for (tok, days) in [(&t.owner_token, 2), (&u.owner_token, 30)] {
            let r = app
                .patch(
                    "/v1/spam/settings",
                    tok,
                    json!({"quarantine_threshold": 7.0, "reject_threshold": null,
                           "quarantine_days": days}),
                )
                .await;
            assert_eq!(r.status, 200, "{r:?}");
            assert_eq!(r.body["quarantine_days"], days);
        }
        for to in [&ana, &bob] {
            assert_eq!(
                code_of(&deliver(&app, to, &sample("spam/spam02.eml")).await),
                250
            );
        }
        let held = |tok: String| {
            let app = &app;
            async move {
                app.get("/v1/spam/quarantine", &tok).await.body["items"]
                    .as_array()
                    .unwrap()
                    .len()
            }
        };
        assert_eq!(held(t.owner_token.clone()).await, 1);
        assert_eq!(held(u.owner_token.clone()).await, 1);
        let sys = app.store().system();
        let now = chrono::Utc::now();
        sys.sweep_spam_state(now + chrono::Duration::days(1))
            .await
            .unwrap();
        assert_eq!(held(t.owner_token.clone()).await, 1, "kept within 2 days");
        sys.sweep_spam_state(now + chrono::Duration::days(3))
            .await
            .unwrap();
        assert_eq!(held(t.owner_token.clone()).await, 0, "gone after 2 days");
        assert_eq!(held(u.owner_token.clone()).await, 1, "the other keeps 30");
    }
}
