//! The calls the audit store makes: questions by user, object and time are index queries,
//! never a scan (asserted on the SDK requests themselves), and a page boundary carries on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use bucketdrive_core::audit::{AuditAction, AuditRecord, Basis, Outcome, RequestContext};
use bucketdrive_core::audit_query::AuditFilter;
use bucketdrive_runtime::adapters::dynamo::{DynamoAuditStore, audit_item};
use bucketdrive_runtime::ports::{AuditQuery, AuditStore};
use chrono::{DateTime, Utc};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn audit_record(id: &str) -> AuditRecord {
    AuditRecord::builder(
        id.into(),
        t("2026-12-04T10:00:00Z"),
        AuditAction::Download,
        &RequestContext::default(),
        400,
    )
    .path("company-reports", "annual/x.pdf")
    .outcome(Outcome::Allow, Basis::Grant, "ok", 200)
}

fn record(id: &str) -> HashMap<String, AttributeValue> {
    audit_item(&audit_record(id)).unwrap()
}

/// Runs `filter` against a mocked table; returns (index names queried, partitions, scans made).
async fn run(filter: AuditFilter) -> (Vec<String>, Vec<String>, usize) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let query = mock!(Client::query)
        .match_requests(move |req| {
            let pk = req
                .expression_attribute_values()
                .and_then(|v| v.get(":pk"))
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            seen2
                .lock()
                .unwrap()
                .push((req.index_name().unwrap_or("").to_owned(), pk));
            true
        })
        .then_output(|| {
            QueryOutput::builder()
                .items(record("01JAAAAAAAAAAAAAAAAAAAAAAA"))
                .build()
        });
    let scan = mock!(Client::scan).then_output(|| ScanOutput::builder().build());
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&query, &scan]);
    let store = DynamoAuditStore {
        client,
        table: "audit".into(),
    };
    let page = store
        .query(&AuditQuery {
            filter,
            limit: 100,
            cursor: None,
        })
        .await
        .unwrap();
    assert!(!page.records.is_empty());
    let calls = seen.lock().unwrap().clone();
    (
        calls.iter().map(|c| c.0.clone()).collect(),
        calls.iter().map(|c| c.1.clone()).collect(),
        scan.num_calls(),
    )
}

fn filter() -> AuditFilter {
    AuditFilter {
        user: None,
        path: None,
        action: None,
        outcome: None,
        since: t("2026-12-03T00:00:00Z"),
        until: t("2026-12-04T12:00:00Z"),
    }
}

#[tokio::test]
async fn by_user_is_one_query_on_the_user_index() {
    let (indexes, partitions, scans) = run(AuditFilter {
        user: Some("u-1".into()),
        ..filter()
    })
    .await;
    assert_eq!(indexes, ["by-user"]);
    assert_eq!(partitions, ["u-1"]);
    assert_eq!(scans, 0);
}

#[tokio::test]
async fn by_object_is_one_query_on_the_object_index() {
    let (indexes, partitions, scans) = run(AuditFilter {
        path: Some("s3://company-reports/annual/x.pdf".into()),
        ..filter()
    })
    .await;
    assert_eq!(indexes, ["by-object"]);
    assert_eq!(partitions, ["s3://company-reports/annual/x.pdf"]);
    assert_eq!(scans, 0);
}

#[tokio::test]
async fn by_time_is_one_query_per_day_on_the_day_index() {
    let (indexes, partitions, scans) = run(filter()).await;
    assert_eq!(indexes, ["by-day", "by-day"]);
    assert_eq!(partitions, ["2026-12-04", "2026-12-03"]);
    assert_eq!(scans, 0);
}

/// The write path's contract with DynamoDB: an append is a conditional `PutItem` (never an
/// overwrite), and a throttled or failing table is an error the handlers turn into a 503 with
/// no URL (runtime/tests/handlers.rs), never a silent success.
#[tokio::test]
async fn appends_are_conditional_and_a_throttled_table_is_an_error() {
    use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
    use aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException;

    let r = audit_record("01JBBBBBBBBBBBBBBBBBBBBBBB");

    let conditional = |req: &aws_sdk_dynamodb::operation::put_item::PutItemInput| {
        req.condition_expression() == Some("attribute_not_exists(id)")
            && req.table_name() == Some("audit")
            && req
                .item()
                .and_then(|i| i.get("id"))
                .and_then(|v| v.as_s().ok())
                == Some(&"01JBBBBBBBBBBBBBBBBBBBBBBB".to_owned())
    };
    let ok = mock!(Client::put_item)
        .match_requests(conditional)
        .then_output(|| PutItemOutput::builder().build());
    let store = DynamoAuditStore {
        client: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&ok]),
        table: "audit".into(),
    };
    store.append(&r).await.unwrap();
    assert_eq!(ok.num_calls(), 1);

    let throttled = mock!(Client::put_item)
        .match_requests(conditional)
        .then_error(|| {
            PutItemError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder()
                    .message("Rate of requests exceeds the allowed throughput")
                    .build(),
            )
        });
    let store = DynamoAuditStore {
        client: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&throttled]),
        table: "audit".into(),
    };
    let err = store.append(&r).await.unwrap_err();
    assert!(throttled.num_calls() >= 1);
    assert!(err.to_string().contains("audit table"), "{err}");
}
