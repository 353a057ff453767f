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

/// Polls `probe` every 100 ms until it returns true; the time it took (panics after `limit`).
async fn until<F, Fut>(what: &str, limit: Duration, mut probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if probe().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Propagation, end to end with the real CLI: `groups add` → the first allowed download;
/// `groups revoke` → the first refusal with the token already held; `users disable` → the first
/// 401 with that token. Prints each time (docs/benchmarks.md).
#[tokio::test]
async fn group_changes_and_revocations_reach_the_api_within_seconds() {
    use bucketdrive_tests::stack::bucketdrive;

    let emulator = Emulator::shared().unwrap();
    let d = Deployed::quickstart(emulator).unwrap();
    let b = d.bucket.clone();
    emulator
        .s3()
        .await
        .put_object()
        .bucket(&b)
        .key("projects/plan.txt")
        .body(b"plan".to_vec().into())
        .send()
        .await
        .unwrap();
    let email = format!("{}@example.com", unique_name("prop"));
    let pw = d.user(emulator, &email, &["staff"]).await.unwrap();
    let config = d.config_path.to_string_lossy().into_owned();
    let path = json!({"path": format!("s3://{b}/projects/plan.txt")});

    // `groups add` a new group with a grant, put the user in it, sign in again (the token
    // carries the groups), and time until the download is allowed.
    let started = Instant::now();
    let (code, out, err) = bucketdrive(
        emulator,
        &[
            "groups",
            "add",
            "projects",
            "--grant",
            &format!("s3://{b}/projects/"),
            "--access",
            "read",
            "-c",
            &config,
            "--yes",
            "--no-interactive",
        ],
    )
    .unwrap();
    assert_eq!(code, 0, "groups add failed:\n{out}\n{err}");
    let cli = started.elapsed();
    emulator
        .cognito()
        .await
        .admin_add_user_to_group()
        .user_pool_id(d.output("UserPoolId").unwrap())
        .username(&email)
        .group_name("projects")
        .send()
        .await
        .unwrap();
    let (token, _) = d.sign_in(emulator, &email, &pw).await.unwrap();
    let api = d.api(&token).unwrap();
    let signed_in = started.elapsed();
    let allowed = until("groups add → allowed", Duration::from_secs(30), || {
        let api = api.clone();
        let path = path.clone();
        async move { api.post("/api/download", &path).await.unwrap().status == 200 }
    })
    .await;
    eprintln!(
        "propagation: groups add → first allowed download {:?} (CLI {cli:?}, + membership and sign-in {:?}, + first allowed {allowed:?})",
        started.elapsed(),
        signed_in - cli
    );

    // `groups revoke`: the same token is refused once the policy cache has turned over.
    let started = Instant::now();
    let (code, out, err) = bucketdrive(
        emulator,
        &[
            "groups",
            "revoke",
            "projects",
            &format!("s3://{b}/projects/"),
            "-c",
            &config,
            "--yes",
            "--no-interactive",
        ],
    )
    .unwrap();
    assert_eq!(code, 0, "groups revoke failed:\n{out}\n{err}");
    let cli = started.elapsed();
    let refused = until("groups revoke → refused", Duration::from_secs(60), || {
        let api = api.clone();
        let path = path.clone();
        async move { api.post("/api/download", &path).await.unwrap().status == 403 }
    })
    .await;
    eprintln!(
        "propagation: groups revoke → first refusal {:?} (CLI {cli:?}, then {refused:?})",
        started.elapsed()
    );

    // `users disable`: the token already issued stops working (401).
    let started = Instant::now();
    let (code, out, err) = bucketdrive(
        emulator,
        &[
            "users",
            "disable",
            &email,
            "-c",
            &config,
            "--yes",
            "--no-interactive",
        ],
    )
    .unwrap();
    assert_eq!(code, 0, "users disable failed:\n{out}\n{err}");
    let cli = started.elapsed();
    let refused = until("users disable → 401", Duration::from_secs(60), || {
        let api = api.clone();
        async move { api.get("/api/me").await.unwrap().status == 401 }
    })
    .await;
    eprintln!(
        "propagation: users disable → first 401 {:?} (CLI {cli:?}, then {refused:?})",
        started.elapsed()
    );
}
