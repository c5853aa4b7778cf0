//! Deliveries stored as a batch, in one transaction (what the group committer does under
//! load): a batch must store exactly what one delivery at a time would have stored.

use crate::common::*;
use crate::mail_rest::folder;
use crate::mailboxes::mailbox;
use crate::smtp::{all_messages, raw, receiving};
use chrono::Utc;
use mailroom_core::mail::search::index_text;
use mailroom_core::mail::summary::summarize_with_text;
use mailroom_core::store::{FolderTarget, GroupCommitter, NewCopy, NewMessage};
use serde_json::Value;
use std::borrow::Cow;
use uuid::Uuid;

fn message(mid: &str, subject: &str, extra: &str) -> Vec<u8> {
    format!(
        "From: a@outside.example\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n{extra}\r\nbody of {mid}\r\n"
    )
    .into_bytes()
}

fn new_message(body: &[u8]) -> NewMessage<'static> {
    let (summary, text) = summarize_with_text(body);
    NewMessage {
        body: Cow::Owned(body.to_vec()),
        trace_prefix: "X-Trace: test\r\n".into(),
        search_text: index_text(&summary, &text),
        summary: Cow::Owned(summary),
        auth_results: None,
        internal_date: Utc::now(),
        source: mailroom_core::store::entities::kinds::Source::Smtp,
        dedup_window: Some(chrono::Duration::hours(1)),
    }
}

fn copy(mailbox: &str, folder: FolderTarget) -> NewCopy {
    NewCopy {
        mailbox_id: mailbox.parse().unwrap(),
        folder,
        flags: 0,
        keywords: Vec::new(),
        pipeline: serde_json::json!([]),
        extra_headers: String::new(),
    }
}

fn inbox() -> FolderTarget {
    FolderTarget::SpecialUse("inbox".into())
}

fn by_mid<'a>(items: &'a [Value], mid: &str) -> &'a Value {
    items
        .iter()
        .find(|m| m["message_id"] == mid)
        .unwrap_or_else(|| panic!("{mid} not stored"))
}

#[tokio::test]
async fn a_batch_stores_what_one_delivery_at_a_time_would() {
    let app = TestApp::spawn().await;
    let (t, d, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    let (bo, _) = mailbox(&app, tok, &d, "bo").await;
    let sys = app.store().system();
    // Stored before the batch: a thread the batch will merge into.
    let old = message("old@x", "Budget", "");
    sys.deliver_batch(&[(new_message(&old), vec![copy(&ana, inbox())])])
        .await
        .unwrap();

    let p1 = message("p1@x", "Plans", "");
    let batch = vec![
        // To both mailboxes.
        (
            new_message(&p1),
            vec![copy(&bo, inbox()), copy(&ana, inbox())],
        ),
        // A reply to a parent earlier in the same batch.
        (
            new_message(&message("r1@x", "Re: Plans", "In-Reply-To: <p1@x>\r\n")),
            vec![copy(&ana, inbox())],
        ),
        // The same bytes again (a client retrying): no second copy.
        (new_message(&p1), vec![copy(&ana, inbox())]),
        // A reply by subject only, to a thread created in this batch.
        (
            new_message(&message("s1@x", "RE: plans", "")),
            vec![copy(&bo, inbox())],
        ),
        // Names both conversations: they become one, the stored one winning.
        (
            new_message(&message(
                "m1@x",
                "Re: Budget",
                "References: <old@x> <p1@x>\r\n",
            )),
            vec![copy(&ana, inbox())],
        ),
        // Another folder of ana's, and a mailbox that does not exist (left out).
        (
            new_message(&message("j1@x", "Junk", "")),
            vec![
                copy(&ana, FolderTarget::SpecialUse("junk".into())),
                copy(&Uuid::nil().to_string(), inbox()),
            ],
        ),
    ];
    let out = sys.deliver_batch(&batch).await.unwrap();
    assert_eq!(out.len(), 6);
    let (p1_copies, p1_events) = &out[0];
    assert_eq!(p1_copies.len(), 2);
    assert_eq!(p1_events.len(), 2, "one event per new copy");
    let retry = &out[2].0;
    assert_eq!(retry.len(), 1);
    assert!(retry[0].duplicate, "the retry is reported as a duplicate");
    assert!(out[2].1.is_empty(), "a duplicate publishes nothing");
    let ana_p1 = p1_copies
        .iter()
        .find(|c| c.mailbox_id.to_string() == ana)
        .unwrap();
    assert_eq!(retry[0].message_id, ana_p1.message_id);
    assert_eq!(out[5].0.len(), 1, "the missing mailbox's copy is left out");

    // What a reader sees.
    let junk = app
        .get(&format!("/v1/mailboxes/{ana}/messages?folder=Junk"), tok)
        .await;
    let mut a = all_messages(&app, tok, &ana).await;
    a.extend(junk.body["items"].as_array().unwrap().clone());
    let b = all_messages(&app, tok, &bo).await;
    assert_eq!(a.len(), 5, "old, p1, r1, m1 and j1: {a:?}");
    assert_eq!(b.len(), 2);
    let thread = |items: &[Value], mid: &str| by_mid(items, mid)["thread_id"].clone();
    assert_eq!(thread(&a, "r1@x"), thread(&a, "p1@x"));
    assert_eq!(thread(&a, "m1@x"), thread(&a, "old@x"));
    assert_eq!(
        thread(&a, "p1@x"),
        thread(&a, "old@x"),
        "the batch's thread merged into the stored one"
    );
    assert_ne!(thread(&a, "j1@x"), thread(&a, "old@x"));
    assert_eq!(thread(&b, "s1@x"), thread(&b, "p1@x"));
    assert_ne!(
        thread(&b, "p1@x"),
        thread(&a, "p1@x"),
        "threads are per mailbox"
    );
    let thr = app
        .get(
            &format!(
                "/v1/mailboxes/{ana}/threads/{}",
                thread(&a, "old@x").as_str().unwrap()
            ),
            tok,
        )
        .await;
    assert_eq!(thr.status, 200, "{thr:?}");
    assert_eq!(
        thr.body["items"].as_array().unwrap().len(),
        4,
        "{:?}",
        thr.body
    );

    // UIDs: one run per folder, in batch order, after the stored message's.
    let uid = |items: &[Value], mid: &str| by_mid(items, mid)["uid"].as_i64().unwrap();
    assert_eq!(
        [
            uid(&a, "old@x"),
            uid(&a, "p1@x"),
            uid(&a, "r1@x"),
            uid(&a, "m1@x")
        ],
        [1, 2, 3, 4]
    );
    assert_eq!(uid(&a, "j1@x"), 1, "Junk has its own UIDs");
    assert_eq!([uid(&b, "p1@x"), uid(&b, "s1@x")], [1, 2]);

    // Counters and quota equal what the lists show; bytes come back exactly.
    for (mbox, items) in [(&ana, &a), (&bo, &b)] {
        let mut total = 0;
        for name in ["INBOX", "Junk"] {
            let f = folder(&app, tok, mbox, name).await;
            let mine: Vec<&Value> = items.iter().filter(|m| m["folder_id"] == f["id"]).collect();
            let size: i64 = mine.iter().map(|m| m["size"].as_i64().unwrap()).sum();
            assert_eq!(f["total"], mine.len() as i64, "{name}");
            assert_eq!(f["unread"], mine.len() as i64, "{name}");
            assert_eq!(f["size"], size, "{name}");
            total += size;
        }
        let m = app.get(&format!("/v1/mailboxes/{mbox}"), tok).await;
        assert_eq!(m.body["used_bytes"], total);
    }
    let stored = raw(&app, tok, &ana, by_mid(&a, "r1@x")["id"].as_str().unwrap()).await;
    let mut want = b"X-Trace: test\r\n".to_vec();
    want.extend(message("r1@x", "Re: Plans", "In-Reply-To: <p1@x>\r\n"));
    assert_eq!(stored, want);
}

#[tokio::test]
async fn a_batch_is_all_or_nothing_and_the_committer_isolates_a_bad_message() {
    let app = TestApp::spawn().await;
    let (t, d, _, ana, _) = receiving(&app).await;
    let tok = &t.owner_token;
    let (bo, _) = mailbox(&app, tok, &d, "bo").await;
    let bo_inbox: Uuid = folder(&app, tok, &bo, "INBOX").await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let good = |i: usize| {
        (
            new_message(&message(&format!("g{i}@x"), "fine", "")),
            vec![copy(&ana, inbox())],
        )
    };
    // A copy aimed at a folder of another mailbox cannot be stored.
    let bad = || {
        (
            new_message(&message("bad@x", "bad", "")),
            vec![copy(&ana, FolderTarget::Id(bo_inbox))],
        )
    };
    let sys = app.store().system();
    assert!(sys.deliver_batch(&[good(0), bad(), good(1)]).await.is_err());
    assert!(
        all_messages(&app, tok, &ana).await.is_empty(),
        "nothing of a failed batch is stored"
    );
    assert_eq!(folder(&app, tok, &ana, "INBOX").await["total"], 0);

    // Through the group committer, queued together: the good ones are stored, the bad one
    // alone gets the error. This test runs on one thread: `join_all` queues all eight before
    // the committers (spawned, not yet run) take the first, which takes the rest with it, so
    // they form one batch, which fails and is stored message by message.
    let committer = GroupCommitter::start(app.store().clone());
    let mut jobs = Vec::new();
    for i in 0..8 {
        let (msg, copies) = if i == 3 { bad() } else { good(i) };
        let c = committer.clone();
        jobs.push(async move { c.store(msg, copies).await });
    }
    let results = futures_util::future::join_all(jobs).await;
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.is_ok(), i != 3, "message {i}: {r:?}");
    }
    let a = all_messages(&app, tok, &ana).await;
    assert_eq!(a.len(), 7);
    let mut uids: Vec<i64> = a.iter().map(|m| m["uid"].as_i64().unwrap()).collect();
    uids.sort();
    assert_eq!(uids, (1..=7).collect::<Vec<_>>(), "no UID lost or repeated");
    assert_eq!(folder(&app, tok, &ana, "INBOX").await["total"], 7);
}

/// Postgres plans from statistics, which autovacuum may take a minute to gather (or never,
/// where it is off): after a bulk import the server analyses the changed tables by itself
/// within seconds, so the planner sees the mailbox as it is and searches use their index.
#[tokio::test]
async fn statistics_follow_a_bulk_import_within_seconds() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    if !is_postgres() {
        eprintln!("Postgres only: SQLite's queries do not depend on statistics");
        return;
    }
    let app = TestApp::spawn_isolated_with(|_| {}).await;
    let (t, _, _, ana, _) = receiving(&app).await;
    let sys = app.store().system();
    const N: usize = 2000;
    for chunk in (0..N).collect::<Vec<_>>().chunks(250) {
        let batch: Vec<_> = chunk
            .iter()
            .map(|n| {
                let word = if n % 100 == 0 { "zanzibar" } else { "plain" };
                let body = message(&format!("bulk-{n}@x"), &format!("{word} {n}"), "");
                (new_message(&body), vec![copy(&ana, inbox())])
            })
            .collect();
        sys.deliver_batch(&batch).await.unwrap();
    }
    let db = sea_orm::Database::connect(&app.cfg.database_url)
        .await
        .unwrap();
    let estimate = |table: &'static str| {
        let db = db.clone();
        async move {
            db.query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT reltuples::float8 AS n FROM pg_class WHERE relname = '{table}'"),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<f64>("", "n")
            .unwrap()
        }
    };
    // The keeper's promise: statistics lag the truth by fewer than 500 changes (its
    // MIN_CHANGES) or a tenth of the table, whichever is more. Which of the batches it wakes
    // after depends on timing: an analysis at 1,750 rows is then the last.
    let lag = 500f64.max(N as f64 * 0.1);
    for table in ["messages", "blobs"] {
        assert!(
            eventually(30, || async { estimate(table).await >= N as f64 - lag }).await,
            "the planner still thinks {table} holds {} rows",
            estimate(table).await
        );
    }
    let r = app
        .get(
            &format!("/v1/mailboxes/{ana}/search?q=zanzibar&limit=100"),
            &t.owner_token,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["items"].as_array().unwrap().len(), N / 100);
}
