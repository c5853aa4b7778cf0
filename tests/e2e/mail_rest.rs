//! Reading and managing mail through REST: folder counts, filtered and sorted lists, flags,
//! keywords, moves, deletion, batches, the thread view and search — on the real store, fed
//! through the real import path.

use crate::common::*;
use crate::smtp::receiving;
use serde_json::{Value, json};
use std::collections::HashSet;

/// Imports one message into `folder` (`?seen=`), returning its id.
pub async fn put(
    app: &TestApp,
    token: &str,
    mailbox: &str,
    folder: &str,
    seen: bool,
    raw: &str,
) -> String {
    let r = app
        .import(
            token,
            mailbox,
            &format!("folder={folder}&seen={seen}"),
            "message/rfc822",
            raw.to_string(),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let body: Value = r.json().await.unwrap();
    body["messages"][0]["id"].as_str().unwrap().to_string()
}

/// A message with a Date on day `day` of December 2026.
pub fn msg(day: u32, from: &str, subject: &str, extra: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: Ana <ana@example.test>\r\nSubject: {subject}\r\nDate: {day:02} Dec 2026 10:00:00 +0000\r\nMessage-ID: <{}@test>\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        rand_suffix()
    )
}

const WITH_ATTACHMENT: &str = "From: Bob <bob@example.test>\r\nTo: ana@example.test\r\nSubject: Report attached\r\nDate: 05 Dec 2026 10:00:00 +0000\r\nMessage-ID: <att-1@test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSee the quarterly numbers.\r\n--b1\r\nContent-Type: application/pdf; name=\"q3.pdf\"\r\nContent-Disposition: attachment; filename=\"q3.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--b1--\r\n";

pub async fn folders(app: &TestApp, token: &str, mailbox: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/v1/mailboxes/{mailbox}/folders"), token)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["items"].as_array().unwrap().clone()
}

pub async fn folder(app: &TestApp, token: &str, mailbox: &str, name: &str) -> Value {
    folders(app, token, mailbox)
        .await
        .into_iter()
        .find(|f| f["name"] == name)
        .unwrap()
}

fn ids(items: &Value) -> Vec<String> {
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

/// Follows `next_cursor` through a list, returning every item.
async fn walk(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    for _ in 0..100 {
        let r = app.get(&format!("{path}{cursor}"), token).await;
        assert_eq!(r.status, 200, "{r:?}");
        out.extend(r.body["items"].as_array().unwrap().clone());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
    panic!("no end to {path}");
}

#[tokio::test]
async fn folders_count_and_lists_filter_sort_and_page() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    let a = put(
        &app,
        tok,
        &ana,
        "INBOX",
        false,
        &msg(1, "Bob <bob@example.test>", "one", "", "first"),
    )
    .await;
    let b = put(
        &app,
        tok,
        &ana,
        "INBOX",
        true,
        &msg(2, "Cy <cy@example.test>", "two", "", "second"),
    )
    .await;
    let c = put(&app, tok, &ana, "INBOX", false, WITH_ATTACHMENT).await;
    let d = put(
        &app,
        tok,
        &ana,
        "INBOX",
        true,
        &msg(3, "Di <di@example.test>", "three", "", "third"),
    )
    .await;
    let inbox = folder(&app, tok, &ana, "INBOX").await;
    assert_eq!(inbox["total"], 4);
    assert_eq!(inbox["unread"], 2);
    let sizes: i64 = walk(
        &app,
        tok,
        &format!("/v1/mailboxes/{ana}/messages?limit=200"),
    )
    .await
    .iter()
    .map(|m| m["size"].as_i64().unwrap())
    .sum();
    assert_eq!(inbox["size"], sizes);
    assert_eq!(folder(&app, tok, &ana, "Sent").await["total"], 0);

    // Newest first by arrival (the Date header for imports), then the filters.
    let list = |q: &'static str| {
        let app = &app;
        let ana = ana.clone();
        async move {
            let r = app
                .get(&format!("/v1/mailboxes/{ana}/messages?{q}"), tok)
                .await;
            assert_eq!(r.status, 200, "{q}: {r:?}");
            ids(&r.body)
        }
    };
    assert_eq!(
        list("").await,
        vec![c.clone(), d.clone(), b.clone(), a.clone()]
    );
    assert_eq!(
        list("sort=oldest").await,
        vec![a.clone(), b.clone(), d.clone(), c.clone()]
    );
    assert_eq!(list("unread=true").await, vec![c.clone(), a.clone()]);
    assert_eq!(list("unread=false").await, vec![d.clone(), b.clone()]);
    assert_eq!(list("has_attachment=true").await, vec![c.clone()]);
    assert_eq!(
        list("unread=true&has_attachment=false").await,
        vec![a.clone()]
    );
    let r = app
        .get(&format!("/v1/mailboxes/{ana}/messages?limit=1"), tok)
        .await;
    let first = &r.body["items"][0];
    assert_eq!(first["from"], "Bob <bob@example.test>");
    assert_eq!(first["to"], "ana@example.test");
    assert_eq!(first["attachment_count"], 1);
    assert_eq!(first["preview"], "See the quarterly numbers.");

    // Pages of one cover the folder once, in order, in both directions.
    for (sort, want) in [
        ("newest", vec![&c, &d, &b, &a]),
        ("oldest", vec![&a, &b, &d, &c]),
    ] {
        let got: Vec<String> = walk(
            &app,
            tok,
            &format!("/v1/mailboxes/{ana}/messages?limit=1&sort={sort}"),
        )
        .await
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
        assert_eq!(got.iter().collect::<Vec<_>>(), want, "{sort}");
    }
    // Bad parameters are named.
    for (q, field) in [
        ("sort=size", "sort"),
        ("limit=0", "limit"),
        ("cursor=zz", "cursor"),
        ("folder=Nope", "folder"),
    ] {
        let r = app
            .get(&format!("/v1/mailboxes/{ana}/messages?{q}"), tok)
            .await;
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.body["code"], "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], field, "{q}: {r:?}");
    }
}

#[tokio::test]
async fn patch_changes_flags_keywords_and_folder_like_imap() {
    let app = TestApp::spawn().await;
    let (t, d, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    let id = put(
        &app,
        tok,
        &ana,
        "INBOX",
        false,
        &msg(1, "bob@example.test", "hello", "", "hi"),
    )
    .await;
    let mut events = app.running.as_ref().unwrap().pipeline.bus().subscribe();
    let before = folder(&app, tok, &ana, "INBOX").await;
    let path = format!("/v1/mailboxes/{ana}/messages/{id}");

    let r = app
        .patch(
            &path,
            tok,
            json!({"seen": true, "flagged": true, "add_keywords": ["$Important", "Work"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["flags"], json!(["seen", "flagged"]));
    assert_eq!(r.body["keywords"], json!(["$Important", "Work"]));
    let after = folder(&app, tok, &ana, "INBOX").await;
    assert_eq!(after["unread"], 0);
    assert_eq!(
        after["highestmodseq"],
        before["highestmodseq"].as_i64().unwrap() + 1
    );
    assert_eq!(r.body["modseq"], after["highestmodseq"]);
    let e = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (e.kind.as_str(), e.uid, e.modseq),
        ("flags", 1, after["highestmodseq"].as_i64().unwrap())
    );

    // The same change again changes nothing and costs no MODSEQ.
    let r = app.patch(&path, tok, json!({"seen": true})).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        folder(&app, tok, &ana, "INBOX").await["highestmodseq"],
        after["highestmodseq"]
    );

    let r = app
        .patch(
            &path,
            tok,
            json!({"seen": false, "remove_keywords": ["Work"]}),
        )
        .await;
    assert_eq!(r.body["flags"], json!(["flagged"]));
    assert_eq!(r.body["keywords"], json!(["$Important"]));
    assert_eq!(folder(&app, tok, &ana, "INBOX").await["unread"], 1);

    // Keywords are IMAP atoms; unknown fields are refused; nothing changed.
    for bad in [
        json!({"add_keywords": ["two words"]}),
        json!({"add_keywords": ["\\Seen"]}),
        json!({"colour": "red"}),
    ] {
        let r = app.patch(&path, tok, bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {r:?}");
    }
    let too_many: Vec<String> = (0..51).map(|i| format!("k{i}")).collect();
    assert_eq!(
        app.patch(&path, tok, json!({"add_keywords": too_many}))
            .await
            .status,
        400
    );

    // A move gives the message the next UID of the target and logs it out of the source.
    let archive = folder(&app, tok, &ana, "Archive").await;
    let r = app
        .patch(&path, tok, json!({"folder_id": archive["id"]}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["folder_id"], archive["id"]);
    assert_eq!(r.body["uid"], archive["uidnext"]);
    let inbox = folder(&app, tok, &ana, "INBOX").await;
    let archive2 = folder(&app, tok, &ana, "Archive").await;
    assert_eq!(
        (
            inbox["total"].as_i64(),
            inbox["unread"].as_i64(),
            inbox["size"].as_i64()
        ),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(
        (archive2["total"].as_i64(), archive2["unread"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        archive2["uidnext"],
        archive["uidnext"].as_i64().unwrap() + 1
    );
    let mut kinds = Vec::new();
    while let Ok(Ok(e)) =
        tokio::time::timeout(std::time::Duration::from_millis(500), events.recv()).await
    {
        kinds.push(e.kind);
    }
    assert!(
        kinds.contains(&"expunged".to_string()) && kinds.contains(&"appended".to_string()),
        "{kinds:?}"
    );
    // A folder of another mailbox is not a target.
    let (other_mailbox, _) = crate::mailboxes::mailbox(&app, tok, &d, "bo").await;
    let theirs = folder(&app, tok, &other_mailbox, "Archive").await;
    let r = app
        .patch(&path, tok, json!({"folder_id": theirs["id"]}))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    let r = app
        .patch(
            &format!("/v1/mailboxes/{ana}/messages/{}", uuid::Uuid::now_v7()),
            tok,
            json!({"seen": true}),
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn delete_goes_to_trash_then_for_good_and_frees_the_quota() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    let id = put(
        &app,
        tok,
        &ana,
        "INBOX",
        false,
        &msg(1, "bob@example.test", "bye", "", "x"),
    )
    .await;
    let used = || {
        let (app, ana) = (&app, ana.clone());
        async move {
            app.get(&format!("/v1/mailboxes/{ana}"), tok).await.body["used_bytes"]
                .as_i64()
                .unwrap()
        }
    };
    let full = used().await;
    assert!(full > 0);
    let path = format!("/v1/mailboxes/{ana}/messages/{id}");
    assert_eq!(app.delete(&path, tok).await.status, 204);
    let trash = folder(&app, tok, &ana, "Trash").await;
    assert_eq!(trash["total"], 1);
    assert_eq!(app.get(&path, tok).await.status, 200);
    assert_eq!(used().await, full, "Trash still counts");
    // From Trash it is gone for good.
    assert_eq!(app.delete(&path, tok).await.status, 204);
    assert_eq!(app.get(&path, tok).await.status, 404);
    assert_eq!(app.delete(&path, tok).await.status, 404);
    assert_eq!(used().await, 0);
    assert_eq!(folder(&app, tok, &ana, "Trash").await["total"], 0);
}

#[tokio::test]
async fn batches_apply_one_action_to_many() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    let mut all = Vec::new();
    for i in 1..=3 {
        all.push(
            put(
                &app,
                tok,
                &ana,
                "INBOX",
                false,
                &msg(i, "bob@example.test", "b", "", "x"),
            )
            .await,
        );
    }
    let path = format!("/v1/mailboxes/{ana}/messages/batch");
    let stranger = uuid::Uuid::now_v7().to_string();
    let r = app
        .post(
            &path,
            tok,
            json!({"ids": [all[0], all[1], stranger], "action": "mark_read"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["done"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["not_found"], json!([stranger]));
    assert_eq!(folder(&app, tok, &ana, "INBOX").await["unread"], 1);
    let r = app
        .post(
            &path,
            tok,
            json!({"ids": all, "action": "add_keywords", "keywords": ["Later"]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let archive = folder(&app, tok, &ana, "Archive").await;
    let r = app
        .post(
            &path,
            tok,
            json!({"ids": all, "action": "move", "folder_id": archive["id"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let moved = walk(
        &app,
        tok,
        &format!("/v1/mailboxes/{ana}/messages?folder=Archive"),
    )
    .await;
    assert_eq!(moved.len(), 3);
    assert!(moved.iter().all(|m| m["keywords"] == json!(["Later"])));
    let uids: HashSet<i64> = moved.iter().map(|m| m["uid"].as_i64().unwrap()).collect();
    assert_eq!(uids.len(), 3, "distinct UIDs");
    let r = app
        .post(&path, tok, json!({"ids": all, "action": "delete"}))
        .await;
    assert_eq!(
        (
            r.status.as_u16(),
            r.body["deleted"].as_array().unwrap().len()
        ),
        (200, 0)
    );
    let r = app
        .post(&path, tok, json!({"ids": all, "action": "delete"}))
        .await;
    assert_eq!(r.body["deleted"].as_array().unwrap().len(), 3);
    assert_eq!(folder(&app, tok, &ana, "Trash").await["total"], 0);
    // Refusals name the field.
    let many: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    for (body, field) in [
        (json!({"ids": [], "action": "mark_read"}), "ids"),
        (json!({"ids": many, "action": "mark_read"}), "ids"),
        (json!({"ids": [stranger], "action": "explode"}), "action"),
        (json!({"ids": [stranger], "action": "move"}), "folder_id"),
        (
            json!({"ids": [stranger], "action": "add_keywords"}),
            "keywords",
        ),
    ] {
        let r = app.post(&path, tok, body).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["errors"][0]["field"], field, "{r:?}");
    }
}

#[tokio::test]
async fn threads_group_a_conversation_across_folders() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    let parent = "From: Bob <bob@example.test>\r\nTo: ana@example.test\r\nSubject: Lunch?\r\nDate: 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <lunch-1@test>\r\n\r\nTomorrow?\r\n";
    let mine = "From: Ana <ana@example.test>\r\nTo: bob@example.test\r\nSubject: Re: Lunch?\r\nDate: 01 Dec 2026 11:00:00 +0000\r\nMessage-ID: <lunch-2@test>\r\nIn-Reply-To: <lunch-1@test>\r\nReferences: <lunch-1@test>\r\n\r\nSure.\r\n";
    let third = "From: Cy <cy@example.test>\r\nTo: ana@example.test\r\nSubject: Re: Lunch?\r\nDate: 01 Dec 2026 12:00:00 +0000\r\nMessage-ID: <lunch-3@test>\r\nIn-Reply-To: <lunch-2@test>\r\nReferences: <lunch-1@test> <lunch-2@test>\r\n\r\nCan I come?\r\n";
    let p = put(&app, tok, &ana, "INBOX", true, parent).await;
    let m = put(&app, tok, &ana, "Sent", true, mine).await;
    let other = put(
        &app,
        tok,
        &ana,
        "INBOX",
        false,
        &msg(1, "Di <di@example.test>", "Other topic", "", "x"),
    )
    .await;
    let c = put(&app, tok, &ana, "INBOX", false, third).await;

    let threads = walk(
        &app,
        tok,
        &format!("/v1/mailboxes/{ana}/threads?folder=INBOX"),
    )
    .await;
    assert_eq!(threads.len(), 2, "{threads:#?}");
    let lunch = &threads[0];
    assert_eq!(lunch["subject"], "Re: Lunch?");
    assert_eq!(lunch["snippet"], "Can I come?");
    assert_eq!(lunch["message_count"], 3, "the Sent reply counts");
    assert_eq!(lunch["unread_count"], 1);
    assert_eq!(lunch["latest_message_id"], c);
    assert_eq!(
        lunch["participants"],
        json!([
            "Cy <cy@example.test>",
            "Ana <ana@example.test>",
            "Bob <bob@example.test>"
        ])
    );
    assert_eq!(threads[1]["latest_message_id"], other);
    // Pages of one thread each list every conversation once.
    let paged = walk(
        &app,
        tok,
        &format!("/v1/mailboxes/{ana}/threads?folder=INBOX&limit=1"),
    )
    .await;
    let got: Vec<&Value> = paged.iter().map(|t| &t["id"]).collect();
    assert_eq!(got, vec![&threads[0]["id"], &threads[1]["id"]]);

    // The conversation, oldest first, across folders.
    let tid = lunch["id"].as_str().unwrap();
    let r = app
        .get(&format!("/v1/mailboxes/{ana}/threads/{tid}"), tok)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(ids(&r.body), vec![p, m.clone(), c]);
    let sent = folder(&app, tok, &ana, "Sent").await;
    assert_eq!(r.body["items"][1]["folder_id"], sent["id"]);
    // Sent lists the conversation too.
    let in_sent = walk(
        &app,
        tok,
        &format!("/v1/mailboxes/{ana}/threads?folder=Sent"),
    )
    .await;
    assert_eq!(in_sent.len(), 1);
    assert_eq!(in_sent[0]["latest_message_id"], m);
    let r = app
        .get(
            &format!("/v1/mailboxes/{ana}/threads/{}", uuid::Uuid::now_v7()),
            tok,
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn threads_page_correctly_through_interleaved_conversations() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    // Five conversations of three messages each, interleaved in time.
    for round in 0..3 {
        for conv in 0..5 {
            let refs = if round == 0 {
                String::new()
            } else {
                format!("In-Reply-To: <c{conv}-r{}@test>\r\n", round - 1)
            };
            let raw = format!(
                "From: p{conv}@example.test\r\nSubject: {}topic {conv}\r\nDate: {:02} Dec 2026 {:02}:00:00 +0000\r\nMessage-ID: <c{conv}-r{round}@test>\r\n{refs}\r\nbody\r\n",
                if round == 0 { "" } else { "Re: " },
                round + 1,
                conv + 1
            );
            put(&app, tok, &ana, "INBOX", false, &raw).await;
        }
    }
    for limit in [1, 2, 3, 5, 50] {
        let got = walk(
            &app,
            tok,
            &format!("/v1/mailboxes/{ana}/threads?limit={limit}"),
        )
        .await;
        let subjects: Vec<&str> = got.iter().map(|t| t["subject"].as_str().unwrap()).collect();
        assert_eq!(
            subjects,
            vec![
                "Re: topic 4",
                "Re: topic 3",
                "Re: topic 2",
                "Re: topic 1",
                "Re: topic 0"
            ],
            "limit {limit}"
        );
        assert!(got.iter().all(|t| t["message_count"] == 3));
    }
}

/// Messages that arrived within one microsecond of each other (SQLite keeps nanoseconds) are
/// each listed once, whatever the page size, in messages, threads and search.
#[tokio::test]
async fn pages_keep_messages_that_share_a_microsecond() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    let mut want = Vec::new();
    for (i, at) in [
        "2026-12-01T10:00:00.000001100Z",
        "2026-12-01T10:00:00.000001200Z",
        "2026-12-01T10:00:00.000001300Z",
        "2026-12-01T10:00:00.000002000Z",
        "2026-12-01T09:59:59.999999999Z",
    ]
    .iter()
    .enumerate()
    {
        let raw = format!(
            "From: p@example.test\r\nSubject: tick {i}\r\nMessage-ID: <tick-{i}@test>\r\n\r\nclockwork\r\n"
        );
        let r = app
            .import(
                tok,
                &ana,
                &format!("folder=INBOX&received_at={at}"),
                "message/rfc822",
                raw,
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        want.push(format!("tick {i}"));
    }
    let subjects = |items: Vec<Value>| -> Vec<String> {
        items
            .iter()
            .map(|m| m["subject"].as_str().unwrap().to_string())
            .collect()
    };
    // Oldest first: the last one (a second earlier), then in arrival order.
    let mut oldest = want.clone();
    oldest.rotate_right(1);
    let mut newest = oldest.clone();
    newest.reverse();
    for limit in [1, 2, 3] {
        let base = format!("/v1/mailboxes/{ana}");
        let got = walk(
            &app,
            tok,
            &format!("{base}/messages?limit={limit}&sort=oldest"),
        )
        .await;
        assert_eq!(subjects(got), oldest, "oldest first, limit {limit}");
        let got = walk(&app, tok, &format!("{base}/messages?limit={limit}")).await;
        assert_eq!(subjects(got), newest, "newest first, limit {limit}");
        let got = walk(&app, tok, &format!("{base}/threads?limit={limit}")).await;
        assert_eq!(subjects(got), newest, "threads, limit {limit}");
        let got = walk(
            &app,
            tok,
            &format!("{base}/search?q=clockwork&limit={limit}"),
        )
        .await;
        assert_eq!(subjects(got), newest, "search, limit {limit}");
    }
}

#[tokio::test]
async fn search_finds_words_and_operators_on_either_backend() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    let inv = put(
        &app,
        tok,
        &ana,
        "INBOX",
        false,
        &msg(
            3,
            "Billing <billing@shop.test>",
            "Your invoice",
            "",
            "Invoice 42 is due. Zürich office.",
        ),
    )
    .await;
    let att = put(&app, tok, &ana, "INBOX", true, WITH_ATTACHMENT).await;
    let old = put(
        &app,
        tok,
        &ana,
        "Archive",
        true,
        &msg(
            1,
            "Bob <bob@example.test>",
            "Old news",
            "Cc: Eve <eve@example.test>\r\n",
            "nothing about invoices",
        ),
    )
    .await;
    let search = |q: &str| {
        let app = &app;
        let url = format!("/v1/mailboxes/{ana}/search?q={}", urlencode(q));
        async move {
            let r = app.get(&url, tok).await;
            assert_eq!(r.status, 200, "{r:?}");
            ids(&r.body)
        }
    };
    assert_eq!(search("invoice").await, vec![inv.clone()]);
    assert_eq!(search("INVOICE due").await, vec![inv.clone()]);
    assert_eq!(search("invoic").await, Vec::<String>::new(), "whole words");
    assert_eq!(search("zürich").await, vec![inv.clone()]);
    assert_eq!(search("quarterly").await, vec![att.clone()]);
    assert_eq!(search("q3").await, vec![att.clone()], "attachment names");
    assert_eq!(search("from:billing@shop").await, vec![inv.clone()]);
    assert_eq!(search("to:eve").await, vec![old.clone()]);
    assert_eq!(search("subject:\"old news\"").await, vec![old.clone()]);
    assert_eq!(search("has:attachment").await, vec![att.clone()]);
    assert_eq!(search("is:unread").await, vec![inv.clone()]);
    assert_eq!(search("in:Archive").await, vec![old.clone()]);
    assert_eq!(
        search("after:2026-12-02 before:2026-12-04").await,
        vec![inv.clone()]
    );
    assert_eq!(
        search("example").await,
        vec![att.clone(), inv.clone(), old.clone()]
    );
    // A literal % in a substring operator matches only itself.
    assert_eq!(search("from:%").await, Vec::<String>::new());
    // Pages.
    let r = app
        .get(&format!("/v1/mailboxes/{ana}/search?q=test&limit=1"), tok)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert!(r.body["next_cursor"].is_string());
    for bad in ["", "is:important", "after:soon", "in:Nowhere"] {
        let r = app
            .get(
                &format!("/v1/mailboxes/{ana}/search?q={}", urlencode(bad)),
                tok,
            )
            .await;
        assert_eq!(r.status, 400, "{bad}: {r:?}");
        assert_eq!(r.body["code"], "validation_failed");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn another_tenant_and_another_mailbox_owner_get_404_everywhere() {
    let app = TestApp::spawn().await;
    let (t, d, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    let id = put(&app, tok, &ana, "INBOX", false, WITH_ATTACHMENT).await;
    let tid = app
        .get(&format!("/v1/mailboxes/{ana}/messages/{id}"), tok)
        .await
        .body["thread_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (bo, bo_addr) = crate::mailboxes::mailbox(&app, tok, &d, "bo").await;
    let bo_token = app.login(&bo_addr, PASSWORD).await;
    let other = app.tenant().await;
    let reads = [
        format!("/v1/mailboxes/{ana}/messages"),
        format!("/v1/mailboxes/{ana}/messages/{id}"),
        format!("/v1/mailboxes/{ana}/messages/{id}/raw"),
        format!("/v1/mailboxes/{ana}/messages/{id}/attachments/0"),
        format!("/v1/mailboxes/{ana}/threads"),
        format!("/v1/mailboxes/{ana}/threads/{tid}"),
        format!("/v1/mailboxes/{ana}/search?q=report"),
        format!("/v1/mailboxes/{ana}/folders"),
    ];
    for who in [&other.owner_token, &bo_token] {
        for path in &reads {
            let r = app.get(path, who).await;
            assert_eq!(r.status, 404, "{path}: {r:?}");
        }
        let r = app
            .patch(
                &format!("/v1/mailboxes/{ana}/messages/{id}"),
                who,
                json!({"seen": true}),
            )
            .await;
        assert_eq!(r.status, 404);
        assert_eq!(
            app.delete(&format!("/v1/mailboxes/{ana}/messages/{id}"), who)
                .await
                .status,
            404
        );
        let r = app
            .post(
                &format!("/v1/mailboxes/{ana}/messages/batch"),
                who,
                json!({"ids": [id], "action": "delete"}),
            )
            .await;
        assert_eq!(r.status, 404);
    }
    // Bo's own mailbox does not reach Ana's message by id either.
    let r = app
        .post(
            &format!("/v1/mailboxes/{bo}/messages/batch"),
            &bo_token,
            json!({"ids": [id], "action": "delete"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["not_found"], json!([id]));
    for path in [
        format!("/v1/mailboxes/{bo}/messages/{id}"),
        format!("/v1/mailboxes/{bo}/threads/{tid}"),
    ] {
        assert_eq!(app.get(&path, &bo_token).await.status, 404, "{path}");
    }
    assert!(
        app.get(&format!("/v1/mailboxes/{bo}/search?q=quarterly"), &bo_token)
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Untouched.
    let r = app
        .get(&format!("/v1/mailboxes/{ana}/messages/{id}"), tok)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(folder(&app, tok, &ana, "INBOX").await["unread"], 1);
}

const HTML_WITH_CID: &str = "From: Shop <news@shop.test>\r\nTo: ana@example.test\r\nSubject: =?UTF-8?B?U29tbWVyIMOgIFrDvHJpY2g=?=\r\nDate: 06 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p style=3D\"color:red;background:url(https://t.example/x)\" onmouseover=3D\"x()\">Caf=E9</p><img src=3D\"cid:logo@shop\"><img src=3D\"https://cdn.example/banner.png\" alt=3D\"banner\"><a href=3D\"javascript:alert(1)\">click</a><form action=3D\"https://evil.example\"><input name=3D\"pw\"></form>\r\n--r\r\nContent-Type: image/png; name=\"logo.png\"\r\nContent-ID: <logo@shop>\r\nContent-Disposition: inline; filename=\"logo.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--r--\r\n";

#[tokio::test]
async fn a_message_renders_sanitised_with_its_attachments() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    let id = put(&app, tok, &ana, "INBOX", false, HTML_WITH_CID).await;
    let r = app
        .get(&format!("/v1/mailboxes/{ana}/messages/{id}"), tok)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["subject"], "Sommer à Zürich", "RFC 2047 decoded");
    assert_eq!(r.body["from_addresses"][0]["address"], "news@shop.test");
    assert!(
        r.body["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == "Subject" && h["value"] == "Sommer à Zürich")
    );
    let html = r.body["html"].as_str().unwrap();
    assert!(html.contains("Café"), "ISO-8859-1 decoded: {html}");
    assert!(
        html.contains("color:red") || html.contains("color: red"),
        "{html}"
    );
    for gone in [
        "url(",
        "onmouseover",
        "javascript:",
        "<form",
        "<input",
        "cdn.example",
    ] {
        assert!(!html.contains(gone), "{gone} survived: {html}");
    }
    assert_eq!(r.body["remote_content_blocked"], true);
    let logo = &r.body["attachments"][0];
    assert_eq!(logo["filename"], "logo.png");
    assert_eq!(logo["content_type"], "image/png");
    assert_eq!(logo["content_id"], "logo@shop");
    let url = logo["url"].as_str().unwrap();
    assert!(
        html.contains(&format!("src=\"{url}\"")),
        "cid rewritten: {html}"
    );
    // With remote content allowed the banner stays.
    let r = app
        .get(
            &format!("/v1/mailboxes/{ana}/messages/{id}?allow_remote=true"),
            tok,
        )
        .await;
    assert!(
        r.body["html"]
            .as_str()
            .unwrap()
            .contains("https://cdn.example/banner.png")
    );
    assert_eq!(r.body["remote_content_blocked"], false);
    // The attachment, decoded, never to be run by a browser.
    let res = app
        .http
        .get(format!("{}{url}", app.base))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("filename=\"logo.png\"")
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"\x89PNG\r\n\x1a\n");
    let pdf = put(&app, tok, &ana, "INBOX", false, WITH_ATTACHMENT).await;
    let res = app
        .http
        .get(format!(
            "{}/v1/mailboxes/{ana}/messages/{pdf}/attachments/0",
            app.base
        ))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert!(res.bytes().await.unwrap().starts_with(b"%PDF-1.4"));
    let r = app
        .get(
            &format!("/v1/mailboxes/{ana}/messages/{pdf}/attachments/1"),
            tok,
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    // A plain-text message has text and no HTML.
    let plain = put(
        &app,
        tok,
        &ana,
        "INBOX",
        false,
        &msg(2, "bob@example.test", "plain", "", "just text"),
    )
    .await;
    let r = app
        .get(&format!("/v1/mailboxes/{ana}/messages/{plain}"), tok)
        .await;
    assert_eq!(r.body["text"].as_str().unwrap().trim(), "just text");
    assert!(r.body["html"].is_null());
}

/// Moves in both directions, flag changes and deliveries on one mailbox at once: no deadlock,
/// no error, and the folder counters equal what the lists show.
#[tokio::test]
async fn concurrent_changes_and_deliveries_keep_counters_exact() {
    let app = TestApp::spawn().await;
    let (t, _, _, ana, _) = receiving(&app).await;
    let tok = t.owner_token.clone();
    let mut inbox_ids = Vec::new();
    let mut archive_ids = Vec::new();
    for i in 0..12 {
        inbox_ids.push(
            put(
                &app,
                &tok,
                &ana,
                "INBOX",
                false,
                &msg(1 + i % 9, "a@example.test", "x", "", "x"),
            )
            .await,
        );
        archive_ids.push(
            put(
                &app,
                &tok,
                &ana,
                "Archive",
                i % 2 == 0,
                &msg(1 + i % 9, "b@example.test", "y", "", "y"),
            )
            .await,
        );
    }
    let inbox = folder(&app, &tok, &ana, "INBOX").await["id"].clone();
    let archive = folder(&app, &tok, &ana, "Archive").await["id"].clone();
    let batch = format!("/v1/mailboxes/{ana}/messages/batch");
    let mut tasks = Vec::new();
    let app = std::sync::Arc::new(app);
    for round in 0..6 {
        for (ids, dest) in [(&inbox_ids, &archive), (&archive_ids, &inbox)] {
            let (app, tok, batch) = (app.clone(), tok.clone(), batch.clone());
            let body = json!({"ids": ids, "action": "move", "folder_id": dest});
            tasks.push(tokio::spawn(async move {
                let r = app.post(&batch, &tok, body).await;
                (r.status.as_u16(), r.body.to_string())
            }));
        }
        for action in ["mark_read", "mark_unread", "flag"] {
            let (app, tok, batch) = (app.clone(), tok.clone(), batch.clone());
            let ids: Vec<String> = inbox_ids.iter().chain(&archive_ids).cloned().collect();
            let body = json!({"ids": ids, "action": action});
            tasks.push(tokio::spawn(async move {
                let r = app.post(&batch, &tok, body).await;
                (r.status.as_u16(), r.body.to_string())
            }));
        }
        let (app2, tok2, ana2) = (app.clone(), tok.clone(), ana.clone());
        tasks.push(tokio::spawn(async move {
            put(
                &app2,
                &tok2,
                &ana2,
                "INBOX",
                round % 2 == 0,
                &msg(5, "c@example.test", "z", "", "z"),
            )
            .await;
            (200, String::new())
        }));
    }
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    for name in ["INBOX", "Archive"] {
        let f = folder(&app, &tok, &ana, name).await;
        let all = walk(
            &app,
            &tok,
            &format!("/v1/mailboxes/{ana}/messages?folder={name}&limit=200"),
        )
        .await;
        let unread = all
            .iter()
            .filter(|m| !m["flags"].as_array().unwrap().contains(&json!("seen")))
            .count();
        let size: i64 = all.iter().map(|m| m["size"].as_i64().unwrap()).sum();
        assert_eq!(f["total"], all.len() as i64, "{name}");
        assert_eq!(f["unread"], unread as i64, "{name}");
        assert_eq!(f["size"], size, "{name}");
    }
    let total = folder(&app, &tok, &ana, "INBOX").await["total"]
        .as_i64()
        .unwrap()
        + folder(&app, &tok, &ana, "Archive").await["total"]
            .as_i64()
            .unwrap();
    assert_eq!(total, 24 + 6);
    let _ = (inbox, archive);
}
