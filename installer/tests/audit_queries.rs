//! The calls `bucketdrive audit query|export|verify` make to read the audit table: index
//! queries from `core::audit_query::plan`, never a scan (asserted on the SDK requests), and a
//! page boundary (LastEvaluatedKey) carries on in the same partition before the next one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use bucketdrive::audit::{Pager, record_of};
use bucketdrive_core::audit::{AuditAction, AuditRecord, Basis, Outcome, RequestContext};
use bucketdrive_core::audit_query::AuditFilter;
use chrono::{DateTime, Utc};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn item(id: &str) -> HashMap<String, AttributeValue> {
    let r: AuditRecord = AuditRecord::builder(
        id.into(),
        t("2026-12-04T10:00:00Z"),
        AuditAction::Download,
        &RequestContext::default(),
        400,
    )
    .path("company-reports", "annual/x.pdf")
    .outcome(Outcome::Allow, Basis::Grant, "ok", 200);
    let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&r).unwrap();
    for (k, v) in r.index_attributes() {
        item.insert(k.to_owned(), AttributeValue::S(v));
    }
    item
}

#[derive(Debug, Clone, PartialEq)]
struct Call {
    index: String,
    partition: String,
    filter: Option<String>,
    start_key: bool,
}

/// Reads every page of `filter` from a mocked table whose first query answers with a
/// LastEvaluatedKey; returns the calls made, the records read and the scans made.
async fn read_all(filter: AuditFilter) -> (Vec<Call>, usize, usize) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let first = Arc::new(Mutex::new(true));
    let query = mock!(Client::query)
        .match_requests(move |req| {
            seen2.lock().unwrap().push(Call {
                index: req.index_name().unwrap_or("").to_owned(),
                partition: req
                    .expression_attribute_values()
                    .and_then(|v| v.get(":pk"))
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default(),
                filter: req.filter_expression().map(str::to_owned),
                start_key: req.exclusive_start_key().is_some(),
            });
            true
        })
        .then_output(move || {
            let mut out = QueryOutput::builder().items(item("01JAAAAAAAAAAAAAAAAAAAAAAA"));
            let mut f = first.lock().unwrap();
            if *f {
                *f = false;
                out = out.last_evaluated_key(
                    "id",
                    AttributeValue::S("01JAAAAAAAAAAAAAAAAAAAAAAA".into()),
                );
            }
            out.build()
        });
    let scan = mock!(Client::scan).then_output(|| ScanOutput::builder().build());
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&query, &scan]);
    let mut pager = Pager::new(client, "audit", &filter).unwrap();
    let mut records = 0;
    while let Some(page) = pager.next_page().await.unwrap() {
        for i in &page {
            record_of(i).unwrap();
            records += 1;
        }
    }
    let calls = seen.lock().unwrap().clone();
    (calls, records, scan.num_calls())
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
async fn by_user_queries_the_user_index_and_follows_the_page_boundary() {
    let (calls, records, scans) = read_all(AuditFilter {
        user: Some("arn:aws:iam::000000000000:root".into()),
        ..filter()
    })
    .await;
    assert_eq!(scans, 0);
    assert_eq!(records, 2);
    assert_eq!(calls.len(), 2);
    assert!(
        calls
            .iter()
            .all(|c| c.index == "by-user" && c.partition == "arn:aws:iam::000000000000:root")
    );
    assert_eq!(
        calls.iter().map(|c| c.start_key).collect::<Vec<_>>(),
        [false, true],
        "the second request carries on from the first one's LastEvaluatedKey"
    );
}

#[tokio::test]
async fn by_object_queries_the_object_index_with_the_other_criteria_as_filters() {
    let (calls, _, scans) = read_all(AuditFilter {
        path: Some("s3://company-reports/annual/x.pdf".into()),
        user: Some("u-1".into()),
        outcome: Some(Outcome::Deny),
        ..filter()
    })
    .await;
    assert_eq!(scans, 0);
    assert_eq!(calls[0].index, "by-object");
    assert_eq!(calls[0].partition, "s3://company-reports/annual/x.pdf");
    assert_eq!(
        calls[0].filter.as_deref(),
        Some("#outcome = :f0 AND #user_sub = :f1")
    );
}

#[tokio::test]
async fn a_time_range_is_one_query_per_day_newest_first_and_a_folder_is_a_prefix_filter() {
    let (calls, records, scans) = read_all(AuditFilter {
        path: Some("s3://company-reports/annual/".into()),
        action: Some(AuditAction::Download),
        ..filter()
    })
    .await;
    assert_eq!(scans, 0);
    let partitions: Vec<(&str, &str, bool)> = calls
        .iter()
        .map(|c| (c.index.as_str(), c.partition.as_str(), c.start_key))
        .collect();
    assert_eq!(
        partitions,
        [
            ("by-day", "2026-12-04", false),
            ("by-day", "2026-12-04", true),
            ("by-day", "2026-12-03", false)
        ]
    );
    assert_eq!(records, 3);
    assert_eq!(
        calls[0].filter.as_deref(),
        Some("#action = :f0 AND begins_with(#object, :f1)")
    );
}
