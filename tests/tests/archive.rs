//! With `audit.archive: true`, every audit record reaches the S3 archive (DynamoDB stream →
//! the archive function → one JSON-lines object per batch), unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bucketdrive_core::audit::AuditRecord;
use bucketdrive_tests::stack::{Deployed, quickstart_yaml};
use bucketdrive_tests::{Emulator, unique_name};
use serde_json::json;

/// Every record in the archive bucket, by id.
async fn archived(emulator: &Emulator, bucket: &str) -> BTreeMap<String, AuditRecord> {
    let s3 = emulator.s3().await;
    let mut out = BTreeMap::new();
    let list = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("audit/")
        .send()
        .await
        .unwrap();
    for o in list.contents() {
        let key = o.key().unwrap();
        assert!(key.ends_with(".jsonl"), "{key}");
        let body = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        for line in String::from_utf8(body.to_vec()).unwrap().lines() {
            let r: AuditRecord = serde_json::from_str(line).unwrap();
            out.insert(r.id.clone(), r);
        }
    }
    out
}

#[tokio::test]
async fn every_audit_record_reaches_the_archive_unchanged() {
    let emulator = Emulator::shared().unwrap();
    let stack = unique_name("bd-arch");
    let bucket = unique_name("bd-files");
    let yaml = quickstart_yaml(&stack, &bucket).replace(
        "admins: [admins]",
        "audit:\n  archive: true\nadmins: [admins]",
    );
    let d = Deployed::deploy(emulator, &stack, &bucket, &yaml).unwrap();
    let archive = d.output("ArchiveBucketName").unwrap().to_owned();

    let email = format!("{}@example.com", unique_name("ana"));
    let pw = d.user(emulator, &email, &["staff"]).await.unwrap();
    let (token, _) = d.sign_in(emulator, &email, &pw).await.unwrap();
    let api = d.api(&token).unwrap();
    assert_eq!(api.get("/api/me").await.unwrap().status, 200);
    let denied = api
        .post(
            "/api/download",
            &json!({"path": format!("s3://{bucket}/reports-private/x")}),
        )
        .await
        .unwrap();
    assert_eq!(denied.status, 403);

    // The records the table holds for this user, read as an admin through the API.
    let sub = api.get("/api/me").await.unwrap().body["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = format!("{}@example.com", unique_name("it"));
    let apw = d.user(emulator, &admin, &["admins"]).await.unwrap();
    let (admin_token, _) = d.sign_in(emulator, &admin, &apw).await.unwrap();
    let log = d
        .api(&admin_token)
        .unwrap()
        .get(&format!("/api/audit?user={sub}"))
        .await
        .unwrap();
    assert_eq!(log.status, 200, "{:?}", log.body);
    let hot: Vec<AuditRecord> = serde_json::from_value(log.body["records"].clone()).unwrap();
    assert_eq!(hot.len(), 3, "me, the denied download, me again");

    // Streams are asynchronous: wait (bounded) until every one is archived.
    let started = Instant::now();
    loop {
        let archive_records = archived(emulator, &archive).await;
        if hot.iter().all(|r| archive_records.contains_key(&r.id)) {
            for r in &hot {
                assert_eq!(
                    &archive_records[&r.id], r,
                    "the archived copy differs from the table's"
                );
            }
            // The CLI's admin change (the converge after deploy) is archived too.
            assert!(
                archive_records
                    .values()
                    .any(|r| r.action == bucketdrive_core::audit::AuditAction::Deploy)
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "records did not reach the archive in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
