//! End to end on the emulator: the real rendered template deployed by the real CLI, real Cognito
//! tokens, the real HTTP API, real pre-signed URLs followed, real audit rows read back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use bucketdrive_tests::stack::{Deployed, encode};
use bucketdrive_tests::{Emulator, unique_name};
use serde_json::json;

const OUTPUTS: [&str; 10] = [
    "ApiUrl",
    "AppUrl",
    "UserPoolId",
    "UserPoolClientId",
    "Issuer",
    "AuthBaseUrl",
    "PoliciesTableName",
    "AuditTableName",
    "FileBuckets",
    "ApiFunctionName",
];

async fn put(emulator: &Emulator, bucket: &str, key: &str, body: &str) {
    emulator
        .s3()
        .await
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
}

/// Audit rows of one user, read through the `by-user` index (no scan).
async fn audit_rows(
    emulator: &Emulator,
    d: &Deployed,
    sub: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let resp = emulator
        .dynamodb()
        .await
        .query()
        .table_name(d.output("AuditTableName").unwrap())
        .index_name("by-user")
        .key_condition_expression("user_sub = :u")
        .expression_attribute_values(":u", AttributeValue::S(sub.to_owned()))
        .send()
        .await
        .unwrap();
    resp.items.unwrap_or_default()
}

fn s<'a>(row: &'a std::collections::HashMap<String, AttributeValue>, k: &str) -> &'a str {
    row.get(k)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or("")
}

#[tokio::test]
async fn the_quickstart_deploys_with_every_output() {
    let emulator = Emulator::shared().unwrap();
    let d = Deployed::quickstart(emulator).unwrap();
    for key in OUTPUTS {
        assert!(!d.output(key).unwrap().is_empty(), "output {key} is empty");
    }
    let result = &d.report["stack_result"];
    assert_eq!(result["result"], "deployed", "{result}");
    assert_eq!(result["status"], "CREATE_COMPLETE");
    let changes = result["changes"].as_array().unwrap();
    assert!(
        changes.iter().any(|c| c["action"] == "Add"
            && c["resource_type"] == "AWS::Lambda::Function"
            && c["logical_id"] == "ApiFunction"),
        "the change set is not in the report: {result}"
    );
    assert!(
        changes.iter().all(|c| c["action"] == "Add"),
        "a first deploy only adds"
    );
    let stacks = emulator
        .cloudformation()
        .await
        .describe_stacks()
        .stack_name(&d.stack)
        .send()
        .await
        .unwrap();
    assert_eq!(
        stacks.stacks()[0].stack_status().unwrap().as_str(),
        "CREATE_COMPLETE"
    );
    assert_eq!(d.output("FileBuckets").unwrap(), d.bucket);
}

#[tokio::test]
async fn every_route_allows_and_denies_with_real_tokens_and_audits_each_request() {
    let emulator = Emulator::shared().unwrap();
    let d = Deployed::quickstart(emulator).unwrap();
    let b = d.bucket.clone();
    put(
        emulator,
        &b,
        "reports/2026/q3.csv",
        "quarter,revenue\nQ3,1200000\n",
    )
    .await;
    put(emulator, &b, "reports-private/salaries.csv", "secret").await;
    put(emulator, &b, "board/minutes.txt", "secret").await;

    let email = format!("{}@example.com", unique_name("ana"));
    let pw = d.user(emulator, &email, &["staff"]).await.unwrap();
    let (access, id_token) = d.sign_in(emulator, &email, &pw).await.unwrap();
    let api = d.api(&access).unwrap();

    let me = api.get("/api/me").await.unwrap();
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["groups"], json!(["staff"]));
    let sub = me.body["sub"].as_str().unwrap().to_owned();

    // The caller's roots, then the bucket root: only the way to reports/ is shown.
    let roots = api.get("/api/ls").await.unwrap();
    assert_eq!(roots.status, 200);
    assert_eq!(roots.body["roots"][0]["path"], format!("s3://{b}/reports/"));
    let top = api
        .get(&format!("/api/ls?path={}", encode(&format!("s3://{b}/"))))
        .await
        .unwrap();
    assert_eq!(top.status, 200, "{:?}", top.body);
    let names: Vec<&str> = top.body["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["reports"],
        "only the synthesised path to the grant: {:?}",
        top.body
    );
    assert!(top.body["files"].as_array().unwrap().is_empty());

    let inside = api
        .get(&format!(
            "/api/ls?path={}",
            encode(&format!("s3://{b}/reports/2026/"))
        ))
        .await
        .unwrap();
    assert_eq!(inside.status, 200);
    assert_eq!(inside.body["files"][0]["name"], "q3.csv");

    let private = api
        .get(&format!(
            "/api/ls?path={}",
            encode(&format!("s3://{b}/reports-private/"))
        ))
        .await
        .unwrap();
    assert_eq!(private.status, 403, "{:?}", private.body);

    // Download: the URL fetches exactly the bytes.
    let dl = api
        .post(
            "/api/download",
            &json!({"path": format!("s3://{b}/reports/2026/q3.csv")}),
        )
        .await
        .unwrap();
    assert_eq!(dl.status, 200, "{:?}", dl.body);
    let url = dl.body["url"].as_str().unwrap();
    let fetched = reqwest::get(url).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert!(
        fetched.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(
        fetched.text().await.unwrap(),
        "quarter,revenue\nQ3,1200000\n"
    );
    // The URL names that object only: pointing it at another key breaks the signature.
    let tampered = url.replacen("q3.csv", "q4.csv", 1);
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 403);

    let denied = api
        .post(
            "/api/download",
            &json!({"path": format!("s3://{b}/reports-private/salaries.csv")}),
        )
        .await
        .unwrap();
    assert_eq!(denied.status, 403);
    assert!(denied.body.get("url").is_none());
    let missing = api
        .post(
            "/api/download",
            &json!({"path": format!("s3://{b}/reports/none.csv")}),
        )
        .await
        .unwrap();
    assert_eq!(missing.status, 404);

    // Upload through the pre-signed PUT, then the object is there.
    let content = "dropped by ana\n";
    let up = api
        .post("/api/upload", &json!({"path": format!("s3://{b}/incoming/drop.txt"), "size": content.len(), "content_type": "text/plain"}))
        .await
        .unwrap();
    assert_eq!(up.status, 200, "{:?}", up.body);
    let put = reqwest::Client::new()
        .put(up.body["url"].as_str().unwrap())
        .header("content-type", "text/plain")
        .body(content)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "PUT failed: {}", put.status());
    let obj = emulator
        .s3()
        .await
        .get_object()
        .bucket(&b)
        .key("incoming/drop.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        obj.body.collect().await.unwrap().into_bytes().as_ref(),
        content.as_bytes()
    );
    // A body of another length than the one signed is refused by S3.
    let up2 = api
        .post("/api/upload", &json!({"path": format!("s3://{b}/incoming/exact.txt"), "size": 5, "content_type": "text/plain"}))
        .await
        .unwrap();
    let wrong = reqwest::Client::new()
        .put(up2.body["url"].as_str().unwrap())
        .header("content-type", "text/plain")
        .body("more than five bytes")
        .send()
        .await
        .unwrap();
    assert!(
        !wrong.status().is_success(),
        "a longer body than signed was accepted"
    );

    let no_write = api
        .post(
            "/api/upload",
            &json!({"path": format!("s3://{b}/reports/x.txt"), "size": 1}),
        )
        .await
        .unwrap();
    assert_eq!(no_write.status, 403);
    let not_admin = api.get("/api/audit").await.unwrap();
    assert_eq!(not_admin.status, 403);

    // An ID token of the same pool is refused (API Gateway's authorizer cannot tell them apart).
    let with_id = d.api(&id_token).unwrap().get("/api/me").await.unwrap();
    assert!(
        with_id.status == 401 || with_id.status == 403,
        "an ID token was accepted: {:?}",
        with_id.body
    );

    // Every request that reached the Lambda left exactly one record (404 and the 409-free
    // upload paths write a follow-up: the missing download wrote two).
    let rows = audit_rows(emulator, &d, &sub).await;
    let count = |action: &str| rows.iter().filter(|r| s(r, "action") == action).count();
    assert_eq!(count("me"), 1);
    assert_eq!(count("list"), 4);
    assert_eq!(
        count("download"),
        4,
        "allowed, denied, missing (decision + not-found)"
    );
    assert_eq!(count("upload"), 3);
    assert_eq!(count("audit-read"), 1);
    let dl_row = rows
        .iter()
        .find(|r| {
            s(r, "action") == "download"
                && s(r, "outcome") == "allow"
                && s(r, "key") == "reports/2026/q3.csv"
        })
        .expect("the download's record");
    assert_eq!(s(dl_row, "basis"), "grant");
    assert_eq!(s(dl_row, "bucket"), b);
    assert_eq!(s(dl_row, "object"), format!("s3://{b}/reports/2026/q3.csv"));
    assert_eq!(s(dl_row, "user_agent"), "bucketdrive-e2e/1.0");
    assert!(!s(dl_row, "source_ip").is_empty());
    assert!(!s(dl_row, "request_id").is_empty());
    let time = s(dl_row, "time");
    assert!(
        time.ends_with('Z') && time.len() == 24,
        "ISO 8601 UTC with ms: {time}"
    );
    let rule = dl_row["rule"].as_m().unwrap();
    assert_eq!(rule["path"].as_s().unwrap(), &format!("s3://{b}/reports/"));
    assert!(
        dl_row["expires_at"].as_n().unwrap().parse::<i64>().unwrap()
            > chrono::Utc::now().timestamp()
    );
    let denied_row = rows
        .iter()
        .find(|r| s(r, "key") == "reports-private/salaries.csv")
        .unwrap();
    assert_eq!(
        (s(denied_row, "outcome"), s(denied_row, "basis")),
        ("deny", "no-grant")
    );

    // An admin reads the log through the API, and that read is itself recorded.
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
    assert_eq!(log.body["records"].as_array().unwrap().len(), rows.len());
    let by_object = d
        .api(&admin_token)
        .unwrap()
        .get(&format!(
            "/api/audit?path={}",
            encode(&format!("s3://{b}/reports/2026/q3.csv"))
        ))
        .await
        .unwrap();
    assert_eq!(by_object.status, 200);
    assert!(
        by_object.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["key"] == "reports/2026/q3.csv")
    );
}

#[tokio::test]
async fn when_the_audit_write_fails_the_api_answers_503_and_issues_no_url() {
    let emulator = Emulator::shared().unwrap();
    let d = Deployed::quickstart(emulator).unwrap();
    put(emulator, &d.bucket, "reports/a.txt", "a").await;
    let email = format!("{}@example.com", unique_name("ana"));
    let pw = d.user(emulator, &email, &["staff"]).await.unwrap();
    let (token, _) = d.sign_in(emulator, &email, &pw).await.unwrap();
    let api = d.api(&token).unwrap();
    let path = json!({"path": format!("s3://{}/reports/a.txt", d.bucket)});
    assert_eq!(api.post("/api/download", &path).await.unwrap().status, 200);

    // The audit table disappears (a real fault: every PutItem now fails). Its deletion
    // protection has to be turned off first, which is itself worth seeing work.
    let ddb = emulator.dynamodb().await;
    let table = d.output("AuditTableName").unwrap();
    ddb.update_table()
        .table_name(table)
        .deletion_protection_enabled(false)
        .send()
        .await
        .unwrap();
    ddb.delete_table().table_name(table).send().await.unwrap();
    let r = api.post("/api/download", &path).await.unwrap();
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert_eq!(r.body["error"], "unavailable");
    assert!(r.body.get("url").is_none());
    assert!(!r.body.to_string().contains("X-Amz-Signature"));
    assert!(
        !r.body.to_string().contains("ResourceNotFound"),
        "internal detail leaked: {}",
        r.body
    );
}

#[tokio::test]
async fn a_revoked_user_is_refused_within_60_seconds_with_the_same_token() {
    let emulator = Emulator::shared().unwrap();
    let d = Deployed::quickstart(emulator).unwrap();
    let email = format!("{}@example.com", unique_name("ana"));
    let pw = d.user(emulator, &email, &["staff"]).await.unwrap();
    let (token, _) = d.sign_in(emulator, &email, &pw).await.unwrap();
    let api = d.api(&token).unwrap();
    let me = api.get("/api/me").await.unwrap();
    assert_eq!(me.status, 200);
    let sub = me.body["sub"].as_str().unwrap().to_owned();

    // What `bucketdrive users disable` does: disable in Cognito, set the revocation time.
    let cognito = emulator.cognito().await;
    cognito
        .admin_disable_user()
        .user_pool_id(d.output("UserPoolId").unwrap())
        .username(&email)
        .send()
        .await
        .unwrap();
    emulator
        .dynamodb()
        .await
        .put_item()
        .table_name(d.output("PoliciesTableName").unwrap())
        .item("pk", AttributeValue::S(format!("user#{sub}")))
        .item("sk", AttributeValue::S("revocation".into()))
        .item(
            "not_before",
            AttributeValue::N(chrono::Utc::now().timestamp().to_string()),
        )
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    let refused = loop {
        let r = api.get("/api/me").await.unwrap();
        if r.status == 401 {
            break r;
        }
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "still allowed after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{:?}",
        refused.body
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        d.sign_in(emulator, &email, &pw).await.is_err(),
        "a disabled user signed in again"
    );
    let rows = audit_rows(emulator, &d, &sub).await;
    assert!(
        rows.iter().any(|r| s(r, "basis") == "revoked"),
        "the refusal was not audited"
    );
}
