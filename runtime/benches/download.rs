//! CPU per authorised download, in process: the real `App` from event bytes to response bytes
//! (parse the API Gateway event, verify the token, load the caller's policies from the cache,
//! decide, build the audit record and its DynamoDB item, HEAD the object, pre-sign, answer).
//! Every port is an in-memory fake: no network, JWKS and policies cached.
//!
//! - `download/steady`: the same token each time (the verified-token cache hits);
//! - `download/cold-verify`: a different token each time (RSA signature check + claims), from a
//!   pool larger than the verified-token cache, so every iteration misses it;
//! - `parts/*`: the pieces alone, to read the totals against.
//!
//! cargo bench -p bucketdrive-runtime --bench download
//! (scripts/bench runs it next to the Python equivalent in runtime/benches/python/.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::hint::black_box;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use bucketdrive_core::audit::{AuditAction, AuditRecord, RequestContext};
use bucketdrive_runtime::ports::{PresignOp, PresignRequest, Presigner};
use bucketdrive_runtime::presign::SigV4Presigner;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::Value;
use serde_json::value::RawValue;
use support::{S3Like, VecAudit};

/// The allocator `bootstrap` runs with (src/main.rs), so the figures are the Lambda's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FIXTURE: &str = "apigw-v2-post-download.json";
const BODY: &str = r#"{"path":"s3://company-reports/annual/2025/report.pdf"}"#;
/// Larger than the verifier's token cache (10 000): cycling through it never hits.
const POOL: usize = 12_000;

fn objects() -> Arc<S3Like> {
    let mut s3 = S3Like::default();
    for (k, size) in [
        ("annual/2025/report.pdf", 1_000_000),
        ("annual/summary.pdf", 10),
        ("quarterly/q3.pdf", 20),
    ] {
        s3.keys.insert(k.to_owned(), size);
    }
    Arc::new(s3)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One request as the Lambda sees it: event bytes in, response bytes out.
#[inline(never)]
fn invoke(
    rt: &tokio::runtime::Runtime,
    app: &bucketdrive_runtime::api::App,
    event: &[u8],
) -> Vec<u8> {
    // What lambda_runtime does with the body (bootstrap's `LambdaEvent<Box<RawValue>>`), then
    // the handler, then the response serialised for the Runtime API.
    let raw: Box<RawValue> = serde_json::from_slice(event).unwrap();
    let response = rt.block_on(app.handle_json(raw.get(), "lambda-req-1"));
    serde_json::to_vec(&response).unwrap()
}

fn check(rt: &tokio::runtime::Runtime, app: &bucketdrive_runtime::api::App, event: &[u8]) {
    let value: Value = serde_json::from_slice(event).unwrap();
    let r = rt.block_on(app.handle_event(value, "lambda-req-1"));
    let body = support::body(&r);
    assert_eq!(support::status(&r), 200, "{body}");
    assert!(body["url"].as_str().unwrap().contains("X-Amz-Signature="));
}

fn downloads(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("download");

    // Steady state: one token, verified once, then remembered by its hash.
    let audit = Arc::new(VecAudit::default());
    let app = support::app(objects(), audit.clone());
    let event = support::event_bytes(
        FIXTURE,
        &support::token(&["finance"], "steady"),
        "",
        Some(BODY),
    );
    check(&rt, &app, &event);
    group.bench_function("steady", |b| {
        b.iter(|| invoke(&rt, &app, black_box(&event)))
    });

    // Cold verify: a new token every iteration (policies and JWKS still cached). The pool is
    // minted only when this bench runs (not when it is filtered out).
    let events: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let audit = Arc::new(VecAudit::default());
    let app = support::app(objects(), audit.clone());
    let mut next = 1;
    group.bench_function("cold-verify", |b| {
        let events = events.get_or_init(|| {
            eprintln!("minting {POOL} RS256 tokens for the cold-verify bench…");
            let events: Vec<Vec<u8>> = support::token_pool(POOL)
                .iter()
                .map(|t| support::event_bytes(FIXTURE, t, "", Some(BODY)))
                .collect();
            check(&rt, &app, &events[0]);
            events
        });
        b.iter(|| {
            let e = &events[next % POOL];
            next += 1;
            invoke(&rt, &app, black_box(e))
        })
    });
    group.finish();
}

/// The pieces of a download, alone.
fn parts(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("parts");
    let event = support::event_bytes(FIXTURE, &support::token(&["finance"], "x"), "", Some(BODY));
    group.bench_function("parse-event-via-value", |b| {
        b.iter(|| {
            let v: Value = serde_json::from_slice(black_box(&event)).unwrap();
            serde_json::from_value::<aws_lambda_events::apigw::ApiGatewayV2httpRequest>(v).unwrap()
        })
    });
    group.bench_function("parse-event-direct", |b| {
        b.iter(|| {
            let raw: Box<RawValue> = serde_json::from_slice(black_box(&event)).unwrap();
            serde_json::from_str::<aws_lambda_events::apigw::ApiGatewayV2httpRequest>(raw.get())
                .unwrap()
        })
    });
    group.bench_function("parse-event-request", |b| {
        let text = std::str::from_utf8(&event).unwrap();
        b.iter(|| {
            let raw: Box<RawValue> = serde_json::from_str(black_box(text)).unwrap();
            bucketdrive_runtime::api::http::Request::from_event_json(raw.get(), "r").unwrap()
        })
    });
    let presigner = SigV4Presigner::new(
        SharedCredentialsProvider::new(Credentials::new("AKIDEXAMPLE", "secret", None, None, "b")),
        None,
    );
    let req = PresignRequest {
        bucket: "company-reports".into(),
        region: "eu-west-1".into(),
        key: "annual/2025/report.pdf".into(),
        op: PresignOp::Get {
            filename: "report.pdf".into(),
        },
        ttl: Duration::from_secs(600),
    };
    group.bench_function("presign-get", |b| {
        b.iter(|| {
            rt.block_on(presigner.presign(black_box(&req), support::now()))
                .unwrap()
        })
    });
    let ctx = RequestContext {
        request_id: "JKJaXmPLvHcESHA=".into(),
        source_ip: Some("203.0.113.7".into()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) BucketDriveTest/1.0".into()),
    };
    let record: AuditRecord = AuditRecord::builder(
        "01JEBZ0000000000000000000".into(),
        support::now(),
        AuditAction::Download,
        &ctx,
        400,
    )
    .path("company-reports", "annual/2025/report.pdf")
    .outcome(
        bucketdrive_core::audit::Outcome::Allow,
        bucketdrive_core::audit::Basis::Grant,
        "allowed by grant s3://company-reports/annual/ (read) of group `finance`",
        200,
    );
    group.bench_function("audit-item", |b| {
        b.iter(|| bucketdrive_runtime::adapters::dynamo::audit_item(black_box(&record)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, downloads, parts);
criterion_main!(benches);
