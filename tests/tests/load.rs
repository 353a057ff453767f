//! Load: 1 000 API requests through the emulator's API Gateway with 50 in flight → no error,
//! and exactly 1 000 audit rows for the caller (read back through the `by-user` index, paged).
//!
//! MiniStack starts one `bootstrap` process per concurrent invocation, so the concurrency is
//! kept at 50 (override: BUCKETDRIVE_LOAD_REQUESTS, BUCKETDRIVE_LOAD_CONCURRENCY). The test
//! prints its duration, throughput and latency percentiles.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bucketdrive_tests::probe::{self, attr};
use bucketdrive_tests::stack::{Deployed, encode};
use bucketdrive_tests::{Emulator, unique_name};
use serde_json::json;
use tokio::sync::Semaphore;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_all_answer_and_each_leaves_one_audit_row() {
    let requests = env_or("BUCKETDRIVE_LOAD_REQUESTS", 1_000);
    let concurrency = env_or("BUCKETDRIVE_LOAD_CONCURRENCY", 50);
    let emulator = Emulator::shared().unwrap();
    let d = Deployed::quickstart(emulator).unwrap();
    let s3 = emulator.s3().await;
    for key in ["reports/q1.csv", "reports/q2.csv", "reports/2026/q3.csv"] {
        s3.put_object()
            .bucket(&d.bucket)
            .key(key)
            .body(b"quarter,revenue\n".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let email = format!("{}@example.com", unique_name("load"));
    let pw = d.user(emulator, &email, &["staff"]).await.unwrap();
    let (token, _) = d.sign_in(emulator, &email, &pw).await.unwrap();
    // The sub from the token itself: no API call before the measured ones.
    let (_, claims, _) = probe::jwt_parts(&token).unwrap();
    let sub = claims["sub"].as_str().unwrap().to_owned();
    let api = Arc::new(d.api(&token).unwrap());
    let b = d.bucket.clone();

    let gate = Arc::new(Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..requests {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let api = api.clone();
        let b = b.clone();
        tasks.spawn(async move {
            let t = Instant::now();
            // A mix of what people do: who am I, list, download (each writes one record).
            let answer = match i % 4 {
                0 => api.get("/api/me").await,
                1 => {
                    api.get(&format!(
                        "/api/ls?path={}",
                        encode(&format!("s3://{b}/reports/"))
                    ))
                    .await
                }
                2 => api.get("/api/ls").await,
                _ => {
                    let key = ["reports/q1.csv", "reports/q2.csv", "reports/2026/q3.csv"][i % 3];
                    api.post("/api/download", &json!({"path": format!("s3://{b}/{key}")}))
                        .await
                }
            };
            drop(permit);
            (i, t.elapsed(), answer.map(|a| (a.status, a.body)))
        });
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut errors = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (i, took, answer) = done.unwrap();
        latencies.push(took);
        match answer {
            Ok((200, _)) => {}
            Ok((status, body)) => errors.push(format!("request {i}: {status} {body}")),
            Err(e) => errors.push(format!("request {i}: {e:#}")),
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    eprintln!(
        "load: {requests} requests, {concurrency} in flight: {:.1} s, {:.0} req/s; latency p50 {:?} p95 {:?} max {:?}; {} errors",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.95),
        latencies[latencies.len() - 1],
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "{} of {requests} failed, e.g.:\n{}",
        errors.len(),
        errors
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    let rows = probe::audit_by_user(emulator, &d, &sub).await.unwrap();
    let mut ids: Vec<&str> = rows.iter().map(|r| attr(r, "id")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rows.len(), "duplicate audit ids");
    assert_eq!(rows.len(), requests, "one audit row per request");
    let mut request_ids: Vec<&str> = rows.iter().map(|r| attr(r, "request_id")).collect();
    request_ids.sort_unstable();
    request_ids.dedup();
    assert_eq!(request_ids.len(), requests, "one row per distinct request");
    assert!(rows.iter().all(|r| attr(r, "outcome") == "allow"));
    assert!(
        elapsed < Duration::from_secs(240),
        "1 000 requests took {elapsed:?}"
    );
}
