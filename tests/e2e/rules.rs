//! Routing rules: saved over REST, applied to mail received over SMTP (file, flag, keyword,
//! discard, reject at SMTP time, stop), tested on a raw message without storing it, and kept
//! within their tenant and mailbox.

use crate::common::*;
use crate::smtp::{all_messages_in, receiving, send_data, subjects};
use crate::smtp_wire::code_of;
use serde_json::{Value, json};

/// Sends one message over SMTP to `to` and returns the final reply.
async fn send(app: &TestApp, from: &str, to: &[&str], subject: &str) -> String {
    let message = format!(
        "From: <{from}>\r\nTo: <{}>\r\nSubject: {subject}\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{}@client.test>\r\n\r\nHello, about {subject}.\r\n",
        to[0],
        rand_suffix()
    );
    send_data(app, from, to, &message).await
}

async fn add(app: &TestApp, token: &str, rule: Value) -> Value {
    let r = app.post("/v1/rules", token, rule.clone()).await;
    assert_eq!(r.status, 201, "{rule}: {r:?}");
    r.body
}

/// Rules at every level act on mail as it arrives: the tenant's run first (and may stop the
/// rest), a mailbox's file, flag and tag; `discard` accepts and stores nothing; `reject`
/// refuses at SMTP time with the rule's text, unless other recipients share the message (then
/// only this copy is dropped). The message view says which rules applied.
#[tokio::test]
async fn rules_file_flag_discard_and_reject_mail_as_it_arrives() {
    let app = TestApp::spawn().await;
    let (t, d, _, ana_id, ana) = receiving(&app).await;
    let tok = &t.owner_token;
    let (bob_id, bob) = crate::mailboxes::mailbox(&app, tok, &d, "bob").await;
    let r = app
        .post(
            &format!("/v1/mailboxes/{ana_id}/folders"),
            tok,
            json!({"name": "Receipts"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    add(
        &app,
        tok,
        json!({"name": "drop ads", "conditions": [
            {"field": "subject", "op": "contains", "value": "[AD]"}],
            "actions": [{"type": "discard"}]}),
    )
    .await;
    add(
        &app,
        tok,
        json!({"name": "board first", "conditions": [
            {"field": "from", "op": "is", "value": "chair@board.example"}],
            "actions": [{"type": "flag", "flag": "flagged"}, {"type": "stop"}]}),
    )
    .await;
    let receipts = add(
        &app,
        tok,
        json!({"level": "mailbox", "mailbox_id": ana_id, "name": "receipts", "match": "any",
            "conditions": [
                {"field": "from", "op": "domain_is", "value": "shop.example"},
                {"field": "subject", "op": "glob", "value": "receipt *"}],
            "actions": [{"type": "fileinto", "folder": "Receipts"},
                        {"type": "keyword", "keyword": "$receipt"}, {"type": "mark_read"}]}),
    )
    .await;
    add(
        &app,
        tok,
        json!({"level": "mailbox", "mailbox_id": ana_id, "name": "no lotteries",
            "conditions": [{"field": "subject", "op": "regex", "value": "lottery|jackpot"}],
            "actions": [{"type": "reject", "text": "Ana takes no lottery mail"}]}),
    )
    .await;
    // Would file the chair's mail too, but the tenant's rule stops first.
    add(
        &app,
        tok,
        json!({"level": "mailbox", "mailbox_id": ana_id, "name": "everything else",
            "conditions": [{"field": "from", "op": "domain_is", "value": "board.example"}],
            "actions": [{"type": "fileinto", "folder": "Receipts"}]}),
    )
    .await;

    assert_eq!(
        code_of(&send(&app, "orders@mail.shop.example", &[&ana], "Your order").await),
        250
    );
    assert_eq!(
        code_of(&send(&app, "friend@else.example", &[&ana], "Receipt 7").await),
        250
    );
    assert_eq!(
        code_of(&send(&app, "chair@board.example", &[&ana], "Minutes").await),
        250
    );
    assert_eq!(
        code_of(&send(&app, "promo@else.example", &[&ana], "[AD] Sale").await),
        250
    );
    let refused = send(&app, "x@else.example", &[&ana], "Lottery win").await;
    assert!(
        refused.starts_with("550 5.7.1") && refused.contains("Ana takes no lottery mail"),
        "{refused}"
    );
    // With another recipient, ana's rule drops only ana's copy.
    assert_eq!(
        code_of(&send(&app, "x@else.example", &[&ana, &bob], "Jackpot for two").await),
        250
    );
    assert_eq!(
        subjects(&all_messages_in(&app, tok, &bob_id, "INBOX").await),
        ["Jackpot for two"]
    );

    let filed = all_messages_in(&app, tok, &ana_id, "Receipts").await;
    assert_eq!(subjects(&filed), ["Receipt 7", "Your order"]);
    for m in &filed {
        assert_eq!(m["flags"], json!(["seen"]), "{m}");
        assert_eq!(m["keywords"], json!(["$receipt"]), "{m}");
    }
    let inbox = all_messages_in(&app, tok, &ana_id, "INBOX").await;
    assert_eq!(subjects(&inbox), ["Minutes"]);
    assert_eq!(inbox[0]["flags"], json!(["flagged"]), "{:?}", inbox[0]);
    // The message view names the rules that applied.
    let id = filed[0]["id"].as_str().unwrap();
    let view = app
        .get(&format!("/v1/mailboxes/{ana_id}/messages/{id}"), tok)
        .await;
    assert_eq!(
        view.body["rules"]["rules"][0]["name"], "receipts",
        "{view:?}"
    );
    assert_eq!(view.body["rules"]["rules"][0]["id"], receipts["id"]);
    assert_eq!(view.body["rules"]["folder"], "Receipts");
    let id = inbox[0]["id"].as_str().unwrap();
    let view = app
        .get(&format!("/v1/mailboxes/{ana_id}/messages/{id}"), tok)
        .await;
    let applied: Vec<&str> = view.body["rules"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(applied, ["board first"]);
    // A disabled rule does nothing.
    let r = app
        .patch(
            &format!("/v1/rules/{}", receipts["id"].as_str().unwrap()),
            tok,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        code_of(&send(&app, "orders@mail.shop.example", &[&ana], "Second order").await),
        250
    );
    assert!(
        subjects(&all_messages_in(&app, tok, &ana_id, "INBOX").await)
            .contains(&"Second order".to_string())
    );
}

/// Rules are checked when saved (each error names its field), lists are reordered as a whole,
/// and `POST /v1/rules/test` says what a mailbox's rules would do with a message, storing
/// nothing.
#[tokio::test]
async fn rules_are_checked_reordered_and_tried_on_a_message() {
    let app = TestApp::spawn().await;
    let (t, d, _, ana_id, ana) = receiving(&app).await;
    let tok = &t.owner_token;
    for (bad, field) in [
        (json!({"name": "x"}), "actions"),
        (json!({"actions": [{"type": "stop"}]}), "name"),
        (
            json!({"name": "x", "actions": [{"type": "flag", "flag": "deleted"}]}),
            "actions[0].flag",
        ),
        (
            json!({"name": "x", "conditions": [{"field": "subject", "op": "regex", "value": "("}],
                "actions": [{"type": "stop"}]}),
            "conditions[0].value",
        ),
        (
            json!({"name": "x", "conditions": [{"field": "size", "op": "greater_than", "value": "big"}],
                "actions": [{"type": "stop"}]}),
            "conditions[0].value",
        ),
        (
            json!({"level": "domain", "name": "x", "actions": [{"type": "stop"}]}),
            "domain_id",
        ),
    ] {
        let r = app.post("/v1/rules", tok, bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {r:?}");
        assert_eq!(r.body["code"], "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], field, "{bad}: {r:?}");
    }
    let r = app
        .post(
            "/v1/rules",
            tok,
            json!({"name": "x", "actions": [{"type": "forward", "to": "a@b.example"}]}),
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    let r = app
        .post(
            "/v1/rules",
            tok,
            json!({"level": "domain", "domain_id": uuid::Uuid::now_v7(), "name": "x",
                "actions": [{"type": "stop"}]}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");

    let big = add(
        &app,
        tok,
        json!({"level": "domain", "domain_id": d, "name": "big mail",
            "conditions": [{"field": "size", "op": "greater_than", "value": "100"}],
            "actions": [{"type": "keyword", "keyword": "big"}]}),
    )
    .await;
    let news = add(
        &app,
        tok,
        json!({"level": "domain", "domain_id": d, "name": "newsletters",
            "conditions": [{"field": "header", "header": "List-Id", "op": "exists"}],
            "actions": [{"type": "fileinto", "folder": "Archive"}, {"type": "stop"}]}),
    )
    .await;
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    let path = format!("/v1/rules?level=domain&domain_id={d}");
    let listed = app.get(&path, tok).await;
    assert_eq!(
        ids(&listed.body),
        [big["id"].as_str().unwrap(), news["id"].as_str().unwrap()]
    );
    let msg = "From: List <news@list.example>\r\nTo: ana\r\nList-Id: <news.list.example>\r\nSubject: Weekly\r\n\r\nThis week's news, long enough to be over a hundred bytes in all.\r\n";
    let try_it = || async {
        let r = app
            .http
            .post(format!("{}/v1/rules/test?mailbox_id={ana_id}", app.base))
            .bearer_auth(tok)
            .header("content-type", "message/rfc822")
            .body(msg)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    };
    let first = try_it().await;
    assert_eq!(first["outcome"], "deliver", "{first}");
    assert_eq!(first["folder"], "Archive");
    assert_eq!(first["keywords"], json!(["big"]));
    assert_eq!(first["matched"].as_array().unwrap().len(), 2, "{first}");
    // Newsletters first: it stops before the size rule.
    let r = app
        .http
        .put(format!("{}/v1/rules/order", app.base))
        .bearer_auth(tok)
        .json(&json!({"level": "domain", "domain_id": d, "ids": [news["id"], big["id"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let second = try_it().await;
    assert_eq!(second["keywords"], json!([]), "{second}");
    assert_eq!(second["matched"][0]["name"], "newsletters");
    // An order that leaves one out is refused.
    let r = app
        .http
        .put(format!("{}/v1/rules/order", app.base))
        .bearer_auth(tok)
        .json(&json!({"level": "domain", "domain_id": d, "ids": [news["id"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // The test stored nothing; the change of order is in the audit log.
    assert!(
        all_messages_in(&app, tok, &ana_id, "Archive")
            .await
            .is_empty()
    );
    let log = app.get("/v1/audit-log?action=rule.reorder", tok).await;
    assert!(log.text.contains("rule.reorder"), "{log:?}");
    // A text that is not a message/rfc822 body is refused.
    let r = app
        .http
        .post(format!("{}/v1/rules/test?mailbox_id={ana_id}", app.base))
        .bearer_auth(tok)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let _ = ana;
}

/// Another tenant neither sees nor touches a tenant's rules (404 everywhere, as for an id
/// that does not exist); a mailbox's own credentials manage its own list only; a member may
/// read rules but not write them.
#[tokio::test]
async fn rules_stay_in_their_tenant_and_mailbox() {
    let app = TestApp::spawn().await;
    let (a, d, _, ana_id, ana) = receiving(&app).await;
    let b = app.tenant().await;
    let (bob_id, _) = crate::mailboxes::mailbox(&app, &a.owner_token, &d, "bob").await;
    let tenant_rule = add(
        &app,
        &a.owner_token,
        json!({"name": "secret", "actions": [{"type": "mark_read"}]}),
    )
    .await;
    let bobs = add(
        &app,
        &a.owner_token,
        json!({"level": "mailbox", "mailbox_id": bob_id, "name": "bob's",
            "actions": [{"type": "mark_read"}]}),
    )
    .await;
    let (_, b_key) = app.api_key(&b.owner_token, &["rules:write"]).await;
    for cred in [&b.owner_token, &b_key] {
        for rule in [&tenant_rule, &bobs] {
            let path = format!("/v1/rules/{}", rule["id"].as_str().unwrap());
            assert_eq!(app.get(&path, cred).await.status, 404, "{path}");
            assert_eq!(
                app.patch(&path, cred, json!({"name": "pwned"}))
                    .await
                    .status,
                404
            );
            assert_eq!(app.delete(&path, cred).await.status, 404);
        }
        let r = app.get("/v1/rules", cred).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{r:?}");
        let r = app
            .get(
                &format!("/v1/rules?level=mailbox&mailbox_id={bob_id}"),
                cred,
            )
            .await;
        assert_eq!(r.status, 404, "{r:?}");
        let r = app
            .post(
                "/v1/rules",
                cred,
                json!({"level": "mailbox", "mailbox_id": bob_id, "name": "x",
                    "actions": [{"type": "discard"}]}),
            )
            .await;
        assert_eq!(r.status, 404, "{r:?}");
        let r = app
            .post(
                "/v1/rules",
                cred,
                json!({"level": "domain", "domain_id": d, "name": "x",
                    "actions": [{"type": "discard"}]}),
            )
            .await;
        assert_eq!(r.status, 404, "{r:?}");
    }
    // Ana's own credentials: her list only.
    let ana_token = app.login(&ana, PASSWORD).await;
    let own = add(
        &app,
        &ana_token,
        json!({"level": "mailbox", "mailbox_id": ana_id, "name": "mine",
            "actions": [{"type": "flag", "flag": "flagged"}]}),
    )
    .await;
    assert_eq!(own["mailbox_id"], ana_id.as_str());
    // Her dry run runs what delivery runs: the tenant's rule too.
    let tried = app
        .http
        .post(format!("{}/v1/rules/test?mailbox_id={ana_id}", app.base))
        .bearer_auth(&ana_token)
        .header("content-type", "message/rfc822")
        .body("From: <x@else.example>\r\nSubject: hi\r\n\r\nhello\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(tried.status(), 200);
    let tried: Value = tried.json().await.unwrap();
    assert_eq!(tried["flags"], json!(["seen", "flagged"]), "{tried}");
    let r = app
        .post(
            "/v1/rules",
            &ana_token,
            json!({"name": "everyone's", "actions": [{"type": "discard"}]}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let bobs_path = format!("/v1/rules/{}", bobs["id"].as_str().unwrap());
    assert_eq!(app.get(&bobs_path, &ana_token).await.status, 404);
    assert_eq!(app.delete(&bobs_path, &ana_token).await.status, 404);
    let r = app
        .get(
            &format!("/v1/rules?level=mailbox&mailbox_id={bob_id}"),
            &ana_token,
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    // A member reads, cannot write.
    let (_, _, member) = app.user(&a, "member").await;
    assert_eq!(app.get("/v1/rules", &member).await.status, 200);
    let r = app
        .post(
            "/v1/rules",
            &member,
            json!({"name": "x", "actions": [{"type": "discard"}]}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
}

/// A Sieve script replaces a mailbox's list (with the mailbox's own login) and files mail as
/// it says; the list reads back as Sieve and that script imports to the same rules; a script
/// using what rules cannot do is refused with its line and changes nothing.
#[tokio::test]
async fn sieve_scripts_import_export_and_file_mail() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana_id, ana) = receiving(&app).await;
    let tok = &t.owner_token;
    let ana_token = app.login(&ana, PASSWORD).await;
    let r = app
        .post(
            &format!("/v1/mailboxes/{ana_id}/folders"),
            tok,
            json!({"name": "Receipts"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let path = format!("/v1/rules/sieve?level=mailbox&mailbox_id={ana_id}");
    let put = |script: String| {
        let (app, path, ana_token) = (&app, path.clone(), ana_token.clone());
        async move {
            let r = app
                .http
                .put(format!("{}{path}", app.base))
                .bearer_auth(&ana_token)
                .header("content-type", "application/sieve")
                .body(script)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let script = r#"require ["fileinto", "imap4flags"];
# rule: shop receipts
if anyof (address :domain :is "from" "shop.example", header :matches "subject" "Receipt *") {
    fileinto "Receipts";
    addflag ["\\Seen", "$receipt"];
    stop;
}
# rule: drop ads
if header :contains "subject" "[AD]" { discard; }
"#;
    let (status, body) = put(script.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shop receipts", "drop ads"]);
    assert_eq!(
        code_of(&send(&app, "orders@shop.example", &[&ana], "Your order").await),
        250
    );
    assert_eq!(
        code_of(&send(&app, "promo@else.example", &[&ana], "[AD] Sale").await),
        250
    );
    let filed = all_messages_in(&app, tok, &ana_id, "Receipts").await;
    assert_eq!(subjects(&filed), ["Your order"]);
    assert_eq!(filed[0]["flags"], json!(["seen"]));
    assert!(
        all_messages_in(&app, tok, &ana_id, "INBOX")
            .await
            .is_empty()
    );

    // Out as Sieve, and back in: the same rules.
    let exported = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(&ana_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        exported.headers()["content-type"],
        "application/sieve; charset=utf-8"
    );
    let exported = exported.text().await.unwrap();
    assert!(exported.contains("# rule: shop receipts"), "{exported}");
    assert!(exported.contains("fileinto \"Receipts\";"), "{exported}");
    let before = app
        .get(&format!("/v1/rules?level=mailbox&mailbox_id={ana_id}"), tok)
        .await
        .body;
    let (status, after) = put(exported).await;
    assert_eq!(status, 200, "{after}");
    let strip = |v: &Value| -> Vec<Value> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| json!([r["name"], r["match"], r["conditions"], r["actions"]]))
            .collect()
    };
    assert_eq!(strip(&before), strip(&after));

    // What rules cannot do: refused with the line, the list unchanged.
    let (status, err) = put(
        "if true { keep; }\nif header :is \"subject\" \"x\" { redirect \"a@b.example\"; }\n".into(),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["errors"][0]["field"], "line 2", "{err}");
    assert!(
        err["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("redirect"),
        "{err}"
    );
    let now = app
        .get(&format!("/v1/rules?level=mailbox&mailbox_id={ana_id}"), tok)
        .await
        .body;
    assert_eq!(strip(&now), strip(&after));
    // A webmail's vacation script turns the auto-reply on; the script reads back with it.
    let (status, body) = put(
        "require [\"vacation\"];\nif true {\n  vacation :days 5 :subject \"Out of office\" \"Back on Monday.\";\n}\n"
            .into(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 0, "{body}");
    let v = app
        .get(&format!("/v1/mailboxes/{ana_id}/vacation"), &ana_token)
        .await
        .body;
    assert_eq!(
        (
            &v["enabled"],
            &v["subject"],
            &v["body"],
            &v["interval_days"]
        ),
        (
            &json!(true),
            &json!("Out of office"),
            &json!("Back on Monday."),
            &json!(5)
        ),
        "{v}"
    );
    let script = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(&ana_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        script.contains("vacation :days 5 :subject \"Out of office\" \"Back on Monday.\";"),
        "{script}"
    );
    // The tenant's list has no auto-reply to set.
    let r = app
        .http
        .put(format!("{}/v1/rules/sieve", app.base))
        .bearer_auth(tok)
        .header("content-type", "application/sieve")
        .body("vacation \"away\";")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Ana's login cannot replace the tenant's list; another tenant cannot reach hers.
    let r = app
        .http
        .put(format!("{}/v1/rules/sieve", app.base))
        .bearer_auth(&ana_token)
        .header("content-type", "application/sieve")
        .body("discard;")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let b = app.tenant().await;
    let r = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(&b.owner_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
