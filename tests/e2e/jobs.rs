//! The job queue and runner against the real database.

use crate::common::*;
use mailroom_core::jobs::{FailOutcome, NewJob, TENANT_PURGE};
use mailroom_core::store::Store;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;
use uuid::Uuid;

/// Jobs for tenants that do not exist: the purge handler is a no-op for them, so they
/// finish at once and are safe to leave on a shared test database.
async fn enqueue_noop_purges(store: &Store, n: usize) -> Vec<Uuid> {
    let sys = store.system();
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(
            sys.enqueue_job(NewJob::new(
                TENANT_PURGE,
                json!({"tenant_id": Uuid::now_v7()}),
            ))
            .await
            .unwrap(),
        );
    }
    ids
}

#[tokio::test]
async fn concurrent_claimers_never_get_the_same_job() {
    let app = TestApp::spawn_isolated_with(|_| {}).await;
    let ids = enqueue_noop_purges(app.store(), 120).await;
    let wanted: HashSet<Uuid> = ids.iter().copied().collect();
    let mut tasks = Vec::new();
    for w in 0..6 {
        // Each claimer has its own connection pool, like a separate process.
        let store = mailroom::open_store(&app.cfg, false).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let sys = store.system();
            let mut mine = Vec::new();
            let mut idle = 0;
            while idle < 20 {
                match sys
                    .claim_jobs(&format!("claimer-{w}"), 3, Duration::from_secs(600))
                    .await
                {
                    Ok(jobs) if !jobs.is_empty() => {
                        idle = 0;
                        mine.extend(jobs.into_iter().map(|j| j.id));
                    }
                    _ => {
                        idle += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            if wanted.contains(&id) {
                assert!(seen.insert(id), "job {id} claimed twice");
            }
        }
    }
    // On a shared Postgres another test's runner may take some; none may be lost or doubled.
    let sys = app.store().system();
    for id in ids {
        let job = sys.job(id).await.unwrap().unwrap();
        assert_eq!(job.attempts, 1, "job {id} ran {} times", job.attempts);
    }
}

#[tokio::test]
async fn failures_back_off_then_die_and_lapsed_leases_are_taken_over() {
    let app = TestApp::spawn_isolated_with(|_| {}).await;
    let sys = app.store().system();
    let id = sys
        .enqueue_job(
            NewJob::new("test.never-handled", json!({}))
                .max_attempts(2)
                .run_at(chrono::Utc::now()),
        )
        .await
        .unwrap();
    let claim = |w: &'static str, lease: u64| {
        let sys = sys.clone();
        async move {
            sys.claim_jobs(w, 1000, Duration::from_millis(lease))
                .await
                .unwrap()
                .into_iter()
                .find(|j| j.id == id)
        }
    };
    let job = claim("w1", 60_000).await.expect("due job not claimed");
    assert_eq!(
        (job.attempts, job.status.to_string()),
        (1, "running".to_string())
    );
    assert!(
        claim("w2", 60_000).await.is_none(),
        "a leased job was claimed again"
    );

    // A retryable failure: back in the queue, not due until its backoff has passed.
    let out = sys
        .fail_job(&job, "w1", "peer down", Duration::from_millis(300), false)
        .await
        .unwrap();
    assert!(matches!(out, FailOutcome::Retry(_)));
    assert!(
        claim("w2", 60_000).await.is_none(),
        "claimed before its backoff passed"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;

    // Second attempt under a short lease that lapses: another worker takes it over, and the
    // first can no longer record anything.
    let job = claim("w2", 1).await.expect("not retried");
    assert_eq!(job.attempts, 2);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        claim("w3", 60_000).await.is_none(),
        "last attempt reclaimed past max_attempts"
    );
    assert!(sys.bury_abandoned_jobs().await.unwrap() >= 1);
    let dead = sys.job(id).await.unwrap().unwrap();
    assert_eq!(dead.status.to_string(), "dead");
    assert!(
        !sys.complete_job(id, "w2").await.unwrap(),
        "a buried job was completed"
    );
}

#[tokio::test]
async fn the_runner_marks_unhandled_kinds_dead_and_runs_known_ones() {
    let app = TestApp::spawn_isolated_with(|c| c.jobs.enabled = true).await;
    let sys = app.store().system();
    let bad = sys
        .enqueue_job(NewJob::new("no.such.kind", json!({})))
        .await
        .unwrap();
    let malformed = sys
        .enqueue_job(NewJob::new(TENANT_PURGE, json!({"tenant": "x"})))
        .await
        .unwrap();
    let good = enqueue_noop_purges(app.store(), 1).await[0];
    let status = |id| {
        let sys = sys.clone();
        async move { sys.job(id).await.unwrap().unwrap() }
    };
    assert!(
        eventually(20, || async {
            status(good).await.status.to_string() == "done"
        })
        .await
    );
    assert!(
        eventually(20, || async {
            status(bad).await.status.to_string() == "dead"
        })
        .await
    );
    assert!(
        eventually(20, || async {
            status(malformed).await.status.to_string() == "dead"
        })
        .await
    );
    let dead = status(malformed).await;
    assert_eq!(dead.attempts, 1, "a permanent failure was retried");
    assert!(dead.last_error.unwrap().contains("bad payload"));
}

#[tokio::test]
async fn two_worker_processes_share_the_queue_without_running_a_job_twice() {
    let app = TestApp::spawn_isolated_with(|_| {}).await;
    let ids = enqueue_noop_purges(app.store(), 150).await;
    let url = app.cfg.effective_database_url();
    let mut children = Vec::new();
    for _ in 0..2 {
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mailroom"))
            .arg("worker")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("MAILROOM_DATA_DIR", app.dir.path())
            .env("MAILROOM_DATABASE_URL", &url)
            .env("MAILROOM_JOBS_POLL_INTERVAL_MS", "20")
            .env("MAILROOM_JOBS_CONCURRENCY", "4")
            // Two workers on one machine cannot share the SMTP ports; this test is about jobs.
            .env("MAILROOM_SMTP_ENABLED", "false")
            .env("MAILROOM_SUBMISSION_ENABLED", "false")
            .env("MAILROOM_IMAP_ENABLED", "false")
            .env("MAILROOM_POP3_ENABLED", "false")
            .env("MAILROOM_LOG", "warn")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        children.push(child);
    }
    let sys = app.store().system();
    let all_done = eventually(60, || async {
        for id in &ids {
            if sys.job(*id).await.unwrap().unwrap().status.to_string() != "done" {
                return false;
            }
        }
        true
    })
    .await;
    for mut c in children {
        c.kill().await.unwrap();
    }
    assert!(all_done, "the workers did not finish the queue");
    let mut runners = HashSet::new();
    for id in &ids {
        let job = sys.job(*id).await.unwrap().unwrap();
        assert_eq!(
            job.attempts, 1,
            "job {id} was claimed {} times",
            job.attempts
        );
        runners.insert(job.locked_by.unwrap());
    }
    assert!(runners.len() >= 2, "only {runners:?} did any work");
}
