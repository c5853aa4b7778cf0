//! The ingest pipeline's order, with stages plugged in: message-level stages run once per
//! message however many recipients it has, routing stages may redirect, per-recipient stages
//! run once per copy and see the message's verdict, and a refusal stores nothing.

use crate::common::*;
use crate::mailboxes::mailbox;
use crate::smtp::{raw, receiving};
use futures_util::future::BoxFuture;
use mailroom_core::bus::Bus;
use mailroom_core::error::Result;
use mailroom_core::mail::ingest::{
    Action, CopyInput, CopyStage, Message, MessageOutcome, MessageStage, Pipeline, Refusal,
    RouteStage, Routed, SmtpEnvelope, StageOutcome, Stages,
};
use mailroom_core::store::FolderTarget;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use uuid::Uuid;

/// Scores every message 7.5 (or refuses those whose subject says so), counting its runs.
#[derive(Default)]
struct Scorer(AtomicUsize);

impl MessageStage for Scorer {
    fn name(&self) -> &'static str {
        "scorer"
    }
    fn run<'a>(&'a self, msg: &'a Message<'a>) -> BoxFuture<'a, Result<MessageOutcome>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let refuse = msg.summary.subject.as_deref() == Some("refuse me");
        Box::pin(async move {
            Ok(MessageOutcome {
                headers: vec![("X-Test-Score".into(), "7.5".into())],
                spam_score: Some(7.5),
                action: if refuse {
                    Action::Reject("refused by the scorer".into())
                } else {
                    Action::Continue
                },
                note: "scored 7.5".into(),
                ..Default::default()
            })
        })
    }
}

/// Sends what was for `from` to `to` instead.
struct Redirect {
    from: Uuid,
    to: Uuid,
}

impl RouteStage for Redirect {
    fn name(&self) -> &'static str {
        "redirect"
    }
    fn route<'a>(
        &'a self,
        _: &'a Message<'a>,
        mailboxes: Vec<Uuid>,
    ) -> BoxFuture<'a, Result<Routed>> {
        Box::pin(async move {
            let mailboxes = mailboxes
                .into_iter()
                .map(|m| if m == self.from { self.to } else { m })
                .collect();
            Ok(Routed {
                mailboxes,
                note: "redirected".into(),
            })
        })
    }
}

/// Files a copy in Junk when the score passes its mailbox's threshold (5 for `strict`, 10 for
/// the others), counting its runs.
struct Threshold {
    strict: Uuid,
    runs: AtomicUsize,
}

impl CopyStage for Threshold {
    fn name(&self) -> &'static str {
        "threshold"
    }
    fn run<'a>(&'a self, input: &'a CopyInput<'a>) -> BoxFuture<'a, Result<StageOutcome>> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let limit = if input.mailbox_id == self.strict {
            5.0
        } else {
            10.0
        };
        let junk = input.spam_score.is_some_and(|s| s >= limit);
        Box::pin(async move {
            Ok(StageOutcome {
                folder: junk.then(|| FolderTarget::SpecialUse("junk".into())),
                note: format!("limit {limit}"),
                ..Default::default()
            })
        })
    }
}

fn envelope(rcpts: &[&str]) -> SmtpEnvelope {
    SmtpEnvelope {
        peer: "192.0.2.7".parse().unwrap(),
        helo: "client.example".into(),
        mail_from: "x@outside.example".into(),
        rcpts: rcpts.iter().map(|r| r.to_string()).collect(),
        mailboxes: Vec::new(),
        guards: Vec::new(),
        tls: false,
        session_id: "test".into(),
        submitted_by: None,
    }
}

async fn items(app: &TestApp, token: &str, mailbox: &str, folder: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/v1/mailboxes/{mailbox}/messages?folder={folder}"),
            token,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn stages_run_in_order_once_per_message_and_once_per_copy() {
    let app = TestApp::spawn().await;
    let (t, d, _, ana_id, ana) = receiving(&app).await;
    let tok = &t.owner_token;
    let (bo_id, bo) = mailbox(&app, tok, &d, "bo").await;
    let (cy_id, cy) = mailbox(&app, tok, &d, "cy").await;
    let (dee_id, _) = mailbox(&app, tok, &d, "dee").await;
    let scorer = Arc::new(Scorer::default());
    let threshold = Arc::new(Threshold {
        strict: ana_id.parse().unwrap(),
        runs: AtomicUsize::new(0),
    });
    let stages = Stages {
        message: vec![scorer.clone()],
        routing: vec![Arc::new(Redirect {
            from: bo_id.parse().unwrap(),
            to: dee_id.parse().unwrap(),
        })],
        copy: vec![threshold.clone()],
    };
    let pipeline = Pipeline::new(
        app.store().system(),
        Bus::memory(),
        None,
        "mx.test",
        chrono::Duration::minutes(10),
        8 << 20,
    )
    .with_stages(stages);

    let body = b"From: x@outside.example\r\nSubject: hello all\r\n\r\nhi\r\n".to_vec();
    let done = pipeline
        .deliver_smtp(&envelope(&[&ana, &bo, &cy]), body)
        .await
        .unwrap();
    assert_eq!(done.copies.len(), 3, "{done:?}");
    assert_eq!(
        scorer.0.load(Ordering::SeqCst),
        1,
        "message stages run once"
    );
    assert_eq!(
        threshold.runs.load(Ordering::SeqCst),
        3,
        "copy stages run once per copy"
    );
    // ana's threshold files it in Junk; cy's does not; bo's copy went to dee.
    assert_eq!(items(&app, tok, &ana_id, "Junk").await.len(), 1);
    assert!(items(&app, tok, &ana_id, "INBOX").await.is_empty());
    let cy_inbox = items(&app, tok, &cy_id, "INBOX").await;
    assert_eq!(cy_inbox.len(), 1);
    assert!(
        items(&app, tok, &bo_id, "INBOX").await.is_empty(),
        "redirected"
    );
    assert_eq!(items(&app, tok, &dee_id, "INBOX").await.len(), 1);
    // The message stage's header field is in every copy.
    let stored = raw(&app, tok, &cy_id, cy_inbox[0]["id"].as_str().unwrap()).await;
    let text = String::from_utf8_lossy(&stored);
    assert!(text.contains("X-Test-Score: 7.5\r\n"), "{text}");
    assert!(text.ends_with("Subject: hello all\r\n\r\nhi\r\n"), "{text}");

    // A refusal at the message level stores nothing anywhere.
    let body = b"From: x@outside.example\r\nSubject: refuse me\r\n\r\nhi\r\n".to_vec();
    let refused = pipeline.deliver_smtp(&envelope(&[&ana, &cy]), body).await;
    assert_eq!(
        refused.unwrap_err(),
        Refusal::Reject("refused by the scorer".into())
    );
    assert_eq!(scorer.0.load(Ordering::SeqCst), 2);
    assert_eq!(
        threshold.runs.load(Ordering::SeqCst),
        3,
        "no copy stage ran"
    );
    assert_eq!(items(&app, tok, &cy_id, "INBOX").await.len(), 1);
}
