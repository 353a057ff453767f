//! Listing as the bucket grows: 10 → 100 000 objects outside the caller's grants, 10 inside.
//!
//! - `listing/handler-root/N`: the real `App` answering `GET /api/ls?path=s3://bucket/` (the
//!   bucket root, above the caller's grants: the folders leading to the grants are synthesised);
//! - `listing/handler-granted/N`: the real `App` listing a granted folder (`annual/`);
//! - `listing/baseline-list-all-then-filter/N`: what a naive API does for the bucket root: page
//!   through every key (ListObjectsV2, 1000 per page, no delimiter), `decide` each one, keep the
//!   top-level names that lead to something readable.
//!
//! The S3 fake answers like S3 (prefix, delimiter, max_keys ≤ 1000, continuation) and counts
//! requests; the counts are printed before the timings.
//!
//! cargo bench -p bucketdrive-runtime --bench listing

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bucketdrive_core::path::S3Path;
use bucketdrive_core::policy::{Action, PolicySet, Principal};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::Value;
use support::{BUCKET, S3Like, VecAudit};

/// The allocator `bootstrap` runs with (src/main.rs), so the figures are the Lambda's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SIZES: [usize; 5] = [10, 100, 1_000, 10_000, 100_000];

/// `outside` objects the caller may not see (spread over 100 top-level folders and the bucket
/// root), plus 10 under the granted `annual/`.
fn bucket(outside: usize) -> Arc<S3Like> {
    let mut s3 = S3Like::default();
    for i in 0..outside {
        let key = if i % 10 == 0 {
            format!("loose-{i:06}.bin")
        } else {
            format!("dept-{:02}/team-{}/file-{i:06}.pdf", i % 100, i % 7)
        };
        s3.keys.insert(key, 1);
    }
    for i in 0..10 {
        s3.keys.insert(format!("annual/report-{i}.pdf"), 1);
    }
    Arc::new(s3)
}

/// The naive root listing: everything, then filter. Returns (folders, files) visible.
fn list_all_then_filter(
    s3: &S3Like,
    set: &PolicySet,
    principal: &Principal,
) -> (BTreeSet<String>, Vec<String>) {
    let now = support::now();
    let mut folders = BTreeSet::new();
    let mut files = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = s3.list_v2("", None, token.as_deref(), support::S3_PAGE);
        for o in &page.objects {
            let Ok(path) = S3Path::new(BUCKET, &o.key) else {
                continue;
            };
            if !set.decide(principal, Action::Read, &path, now).is_allowed() {
                continue;
            }
            match o.key.split_once('/') {
                Some((top, _)) => {
                    folders.insert(top.to_owned());
                }
                None => files.push(o.key.clone()),
            }
        }
        match page.next {
            Some(t) => token = Some(t),
            None => return (folders, files),
        }
    }
}

fn invoke(
    rt: &tokio::runtime::Runtime,
    app: &bucketdrive_runtime::api::App,
    event: &[u8],
) -> Value {
    let raw: Box<serde_json::value::RawValue> = serde_json::from_slice(event).unwrap();
    let r = rt.block_on(app.handle_json(raw.get(), "lambda-req-1"));
    assert_eq!(support::status(&r), 200);
    support::body(&r)
}

fn listing(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = support::token(&["finance"], "listing");
    let root = support::event_bytes(
        "apigw-v2-get-ls.json",
        &token,
        "path=s3%3A%2F%2Fcompany-reports%2F",
        None,
    );
    let granted = support::event_bytes(
        "apigw-v2-get-ls.json",
        &token,
        "path=s3%3A%2F%2Fcompany-reports%2Fannual%2F",
        None,
    );
    let set = PolicySet::new(support::policies());
    let principal = Principal::new(["finance"]);

    let mut group = c.benchmark_group("listing");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    eprintln!(
        "\n{:>8} | {:>22} | {:>25} | {:>30}",
        "objects",
        "handler root: requests",
        "handler granted: requests",
        "baseline list+filter: requests"
    );
    for n in SIZES {
        let s3 = bucket(n);
        let app = support::app(s3.clone(), Arc::new(VecAudit::default()));

        // Request counts for one call of each, and what each shows.
        s3.reset_counts();
        let body = invoke(&rt, &app, &root);
        let root_requests = s3.requests();
        assert_eq!(body["folders"][0]["name"], "annual", "{body}");
        s3.reset_counts();
        let body = invoke(&rt, &app, &granted);
        let granted_requests = s3.requests();
        assert_eq!(body["files"].as_array().unwrap().len(), 10, "{body}");
        s3.reset_counts();
        let (folders, files) = list_all_then_filter(&s3, &set, &principal);
        let baseline_requests = s3.requests();
        assert!(folders.contains("annual") && files.is_empty());
        eprintln!(
            "{n:>8} | {root_requests:>22} | {granted_requests:>25} | {baseline_requests:>30}"
        );

        group.bench_with_input(BenchmarkId::new("handler-root", n), &n, |b, _| {
            b.iter(|| invoke(&rt, &app, black_box(&root)))
        });
        group.bench_with_input(BenchmarkId::new("handler-granted", n), &n, |b, _| {
            b.iter(|| invoke(&rt, &app, black_box(&granted)))
        });
        group.bench_with_input(
            BenchmarkId::new("baseline-list-all-then-filter", n),
            &n,
            |b, _| b.iter(|| list_all_then_filter(&s3, &set, black_box(&principal))),
        );
    }
    group.finish();
}

criterion_group!(benches, listing);
criterion_main!(benches);
