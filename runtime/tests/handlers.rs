//! The routes on real API Gateway v2 events: allowed and denied cases, audit before answer,
//! fail closed. Fakes sit behind the ports; the policy engine, verifier and signer are real.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::Ordering;

use bucketdrive_core::audit::{AuditAction, Basis, Outcome};
use serde_json::json;
use support::*;

fn finance() -> String {
    token(&["finance"])
}

#[tokio::test]
async fn root_listing_shows_the_callers_entry_points() {
    let h = harness();
    let r = h
        .call(with_query(
            event("apigw-v2-get-ls.json", Some(&finance())),
            "",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let roots: Vec<&str> = r.body["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        roots,
        [
            "s3://company-reports/annual/",
            "s3://company-reports/quarterly/"
        ]
    );
    assert!(
        h.objects.lists.lock().unwrap().is_empty(),
        "no S3 listing for the roots"
    );
    assert_eq!(h.last().action, AuditAction::List);
}

#[tokio::test]
async fn bucket_root_listing_synthesises_only_the_way_to_grants() {
    let h = harness();
    let r = h
        .call(event("apigw-v2-get-ls.json", Some(&finance())))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let folders: Vec<&str> = r.body["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(folders, ["annual", "quarterly"]);
    assert!(r.body["files"].as_array().unwrap().is_empty());
    assert!(
        h.objects.lists.lock().unwrap().is_empty(),
        "listing above grants must not list the bucket"
    );
    let rec = h.last();
    assert_eq!(
        (rec.outcome, rec.basis),
        (Outcome::Allow, Basis::LeadsToGrant)
    );
    assert_eq!(rec.bucket.as_deref(), Some("company-reports"));
}

#[tokio::test]
async fn listing_inside_a_grant_lists_that_prefix_and_hides_denied_entries() {
    let h = harness();
    let e = with_query(
        event("apigw-v2-get-ls.json", Some(&finance())),
        "path=s3%3A%2F%2Fcompany-reports%2Fannual%2F",
    );
    let r = h.call(e).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let folders: Vec<&str> = r.body["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(folders, ["2025"], "secret/ is denied and hidden");
    let files: Vec<&str> = r.body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["summary.pdf"]);
    assert_eq!(
        *h.objects.lists.lock().unwrap(),
        vec![("company-reports".to_owned(), "annual/".to_owned())]
    );
    let rec = h.last();
    assert_eq!(rec.basis, Basis::Grant);
    assert_eq!(rec.rule.unwrap().path, "s3://company-reports/annual/");
}

#[tokio::test]
async fn listing_outside_grants_is_refused_and_audited() {
    let h = harness();
    for path in ["annual-private%2F", "hr%2F", "annual%2Fsecret%2F"] {
        let e = with_query(
            event("apigw-v2-get-ls.json", Some(&finance())),
            &format!("path=s3%3A%2F%2Fcompany-reports%2F{path}"),
        );
        let r = h.call(e).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert_eq!(r.body["error"], "forbidden");
        let rec = h.last();
        assert_eq!(rec.outcome, Outcome::Deny);
        assert_eq!(rec.status, 403);
    }
    assert_eq!(h.last().basis, Basis::ExplicitDeny);
    assert!(h.objects.lists.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_cursor_cannot_be_replayed_on_another_folder() {
    let h = harness();
    let cursor = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"p":"s3://company-reports/annual/","t":"tok"}"#)
    };
    let e = with_query(
        event("apigw-v2-get-ls.json", Some(&finance())),
        &format!("path=s3%3A%2F%2Fcompany-reports%2Fquarterly%2F&cursor={cursor}"),
    );
    let r = h.call(e).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(h.last().basis, Basis::BadRequest);
}

#[tokio::test]
async fn download_issues_a_url_for_exactly_the_checked_key() {
    let h = harness();
    let r = h
        .call(event("apigw-v2-post-download.json", Some(&finance())))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let url = r.body["url"].as_str().unwrap();
    assert!(
        url.starts_with(
            "https://company-reports.s3.eu-west-1.amazonaws.com/annual/2025/report.pdf?"
        ),
        "{url}"
    );
    assert!(url.contains("X-Amz-Expires=600"));
    assert!(
        url.contains("response-content-disposition=attachment%3B%20filename%3D%22report.pdf%22")
    );
    assert_eq!(r.body["ttl_seconds"], 600);
    assert_eq!(r.body["size"], 1000);
    let rec = h.last();
    assert_eq!(
        (rec.action, rec.outcome, rec.basis, rec.status),
        (AuditAction::Download, Outcome::Allow, Basis::Grant, 200)
    );
    assert_eq!(rec.key.as_deref(), Some("annual/2025/report.pdf"));
    assert_eq!(rec.user.username.as_deref(), Some("ana"));
    assert_eq!(rec.groups, vec!["finance".to_owned()]);
    assert_eq!(rec.expires_at, now().timestamp() + 400 * 86400);
}

#[tokio::test]
async fn download_outside_grants_is_refused_without_touching_s3() {
    let h = harness();
    for (path, basis) in [
        (
            "s3://company-reports/annual-private/salaries.pdf",
            Basis::NoGrant,
        ),
        (
            "s3://company-reports/annual/secret/plan.pdf",
            Basis::ExplicitDeny,
        ),
        ("s3://company-reports/annual", Basis::NoGrant),
        ("s3://other-bucket/annual/x.pdf", Basis::NoGrant),
    ] {
        let e = with_body(
            event("apigw-v2-post-download.json", Some(&finance())),
            &json!({ "path": path }).to_string(),
        );
        let r = h.call(e).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert!(r.body.get("url").is_none());
        let rec = h.last();
        assert_eq!((rec.outcome, rec.basis), (Outcome::Deny, basis), "{path}");
    }
}

#[tokio::test]
async fn hostile_paths_are_refused_with_400_and_audited() {
    let h = harness();
    let long = format!("s3://company-reports/annual/{}", "a".repeat(1020));
    for path in [
        "s3://company-reports/annual/../hr/people.csv",
        "s3://company-reports/annual/./summary.pdf",
        "s3://company-reports/annual//summary.pdf",
        "s3://company-reports//annual/summary.pdf",
        "s3://company-reports/annual\\summary.pdf",
        "s3://company-reports/annual/\u{0}x",
        "s3://company-reports/annual/",
        "company-reports/annual/summary.pdf",
        long.as_str(),
    ] {
        let before = h.records().len();
        let e = with_body(
            event("apigw-v2-post-download.json", Some(&finance())),
            &json!({ "path": path }).to_string(),
        );
        let r = h.call(e).await;
        assert_eq!(r.status, 400, "{path:?}: {}", r.body);
        assert_eq!(r.body["error"], "bad-request");
        assert_eq!(h.records().len(), before + 1, "{path:?} not audited");
        assert_eq!(h.last().basis, Basis::BadRequest);
    }
}

#[tokio::test]
async fn percent_escapes_in_a_body_are_literal_key_bytes() {
    let h = harness();
    // `%2e%2e` is a literal key segment here, not `..`: it names an object under annual/.
    h.objects.put("company-reports", "annual/%2e%2e/x.pdf", 3);
    let e = with_body(
        event("apigw-v2-post-download.json", Some(&finance())),
        r#"{"path":"s3://company-reports/annual/%2e%2e/x.pdf"}"#,
    );
    let r = h.call(e).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["url"]
            .as_str()
            .unwrap()
            .contains("/annual/%252e%252e/x.pdf?")
    );
}

#[tokio::test]
async fn a_missing_object_is_404_and_no_url() {
    let h = harness();
    let e = with_body(
        event("apigw-v2-post-download.json", Some(&finance())),
        r#"{"path":"s3://company-reports/annual/nope.pdf"}"#,
    );
    let r = h.call(e).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.get("url").is_none());
    let records = h.records();
    assert_eq!(records.len(), 2, "the decision, then the not-found outcome");
    assert_eq!(records[1].basis, Basis::NotFound);
    assert_eq!(records[1].status, 404);
    assert_eq!(
        records[1].rule.as_ref().unwrap().path,
        "s3://company-reports/annual/"
    );
}

#[tokio::test]
async fn ttl_requests_above_the_clamp_are_refused() {
    let h = harness();
    let e = with_body(
        event("apigw-v2-post-download.json", Some(&finance())),
        r#"{"path":"s3://company-reports/annual/summary.pdf","ttl_seconds":86400}"#,
    );
    let r = h.call(e).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let e = with_body(
        event("apigw-v2-post-download.json", Some(&finance())),
        r#"{"path":"s3://company-reports/annual/summary.pdf","ttl_seconds":60}"#,
    );
    let r = h.call(e).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["url"]
            .as_str()
            .unwrap()
            .contains("X-Amz-Expires=60&")
    );
}

#[tokio::test]
async fn when_the_audit_write_fails_no_url_is_issued() {
    let h = harness();
    h.audit.down.store(true, Ordering::SeqCst);
    for fixture in [
        "apigw-v2-post-download.json",
        "apigw-v2-get-me.json",
        "apigw-v2-get-ls.json",
    ] {
        let r = h.call(event(fixture, Some(&finance()))).await;
        assert_eq!(r.status, 503, "{fixture}: {}", r.body);
        assert_eq!(r.body["error"], "unavailable");
        assert!(
            !r.body.to_string().contains("X-Amz-Signature"),
            "{fixture} leaked a URL"
        );
        assert!(
            !r.body.to_string().contains("Throughput"),
            "internal detail leaked"
        );
    }
    let up = h
        .call(event(
            "apigw-v2-post-upload.json",
            Some(&token(&["engineering"])),
        ))
        .await;
    assert_eq!(up.status, 503);
    assert!(up.body.get("url").is_none());
}

#[tokio::test]
async fn when_policies_cannot_be_read_the_request_fails_closed() {
    let h = harness();
    h.policies.down.store(true, Ordering::SeqCst);
    let r = h
        .call(event("apigw-v2-post-download.json", Some(&finance())))
        .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.get("url").is_none());
    let rec = h.last();
    assert_eq!(
        (rec.outcome, rec.basis),
        (Outcome::Deny, Basis::Unavailable)
    );
}

#[tokio::test]
async fn uploads_need_write_and_sign_length_and_type() {
    let h = harness();
    let r = h
        .call(event(
            "apigw-v2-post-upload.json",
            Some(&token(&["engineering"])),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["method"], "PUT");
    let url = r.body["url"].as_str().unwrap();
    assert!(url.contains("/incoming/q4.xlsx?"));
    assert!(
        url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"),
        "{url}"
    );
    assert_eq!(
        r.body["headers"]["content-type"],
        "application/vnd.ms-excel"
    );
    assert_eq!(h.last().action, AuditAction::Upload);

    // finance may read but not write.
    let r = h
        .call(event("apigw-v2-post-upload.json", Some(&finance())))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(h.last().basis, Basis::NoGrant);
}

#[tokio::test]
async fn large_uploads_get_a_multipart_plan() {
    let h = harness();
    let size: u64 = 300 * 1024 * 1024;
    let e = with_body(
        event("apigw-v2-post-upload.json", Some(&token(&["engineering"]))),
        &json!({ "path": "s3://company-reports/incoming/big.bin", "size": size }).to_string(),
    );
    let r = h.call(e).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let plan = &r.body["multipart"];
    assert_eq!(plan["upload_id"], "upload-1");
    let part_size = plan["part_size"].as_u64().unwrap();
    let parts = plan["parts"].as_array().unwrap();
    assert_eq!(parts.len() as u64, size.div_ceil(part_size));
    assert!(
        parts[0]["url"]
            .as_str()
            .unwrap()
            .contains("partNumber=1&uploadId=upload-1")
    );
    assert_eq!(plan["complete"]["method"], "POST");
    assert_eq!(h.objects.multiparts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn upload_limits_and_conflicts() {
    let h = harness();
    let eng = token(&["engineering"]);
    let too_big = with_body(
        event("apigw-v2-post-upload.json", Some(&eng)),
        &json!({"path": "s3://company-reports/incoming/x", "size": 6u64 << 40}).to_string(),
    );
    let r = h.call(too_big).await;
    assert_eq!(r.status, 413, "{}", r.body);
    let exists = with_body(
        event("apigw-v2-post-upload.json", Some(&eng)),
        r#"{"path":"s3://company-reports/incoming/existing.txt","size":1}"#,
    );
    let r = h.call(exists).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(h.last().basis, Basis::Conflict);
    let overwrite = with_body(
        event("apigw-v2-post-upload.json", Some(&eng)),
        r#"{"path":"s3://company-reports/incoming/existing.txt","size":1,"overwrite":true}"#,
    );
    assert_eq!(h.call(overwrite).await.status, 200);
    let bad_type = with_body(
        event("apigw-v2-post-upload.json", Some(&eng)),
        "{\"path\":\"s3://company-reports/incoming/a\",\"size\":1,\"content_type\":\"text/html\\r\\nx: y\"}",
    );
    assert_eq!(h.call(bad_type).await.status, 400);
}

#[tokio::test]
async fn malformed_and_huge_bodies() {
    let h = harness();
    for (body, status) in [
        ("{", 400),
        ("[]", 400),
        (r#"{"path": 5}"#, 400),
        (
            r#"{"path":"s3://company-reports/annual/summary.pdf","admin":true}"#,
            400,
        ),
        ("", 400),
    ] {
        let r = h
            .call(with_body(
                event("apigw-v2-post-download.json", Some(&finance())),
                body,
            ))
            .await;
        assert_eq!(r.status, status, "{body:?}: {}", r.body);
        assert_eq!(h.last().basis, Basis::BadRequest);
    }
    let huge = format!(
        r#"{{"path":"s3://company-reports/annual/{}"}}"#,
        "a".repeat(20_000)
    );
    let r = h
        .call(with_body(
            event("apigw-v2-post-download.json", Some(&finance())),
            &huge,
        ))
        .await;
    assert_eq!(r.status, 413);
}

#[tokio::test]
async fn the_audit_log_is_for_admins_and_reading_it_is_audited() {
    let h = harness();
    let r = h
        .call(event("apigw-v2-get-audit.json", Some(&finance())))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(h.last().basis, Basis::NotAdmin);
    assert!(h.audit.queries.lock().unwrap().is_empty());

    let r = h
        .call(event(
            "apigw-v2-get-audit.json",
            Some(&token(&["it-admins"])),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let q = h.audit.queries.lock().unwrap()[0].clone();
    assert_eq!(q.filter.since.to_rfc3339(), "2026-12-01T00:00:00+00:00");
    assert_eq!(q.filter.until, now());
    let records = r.body["records"].as_array().unwrap();
    assert!(
        records
            .iter()
            .any(|x| x["action"] == "audit-read" && x["basis"] == "admin"),
        "the read itself is in the log"
    );

    let bad = with_query(
        event("apigw-v2-get-audit.json", Some(&token(&["it-admins"]))),
        "since=yesterday",
    );
    assert_eq!(h.call(bad).await.status, 400);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let h = harness();
    let mut e = event("apigw-v2-get-me.json", Some(&finance()));
    e["rawPath"] = json!("/api/admin/secrets");
    let r = h.call(e).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"], "not-found");
    let mut e = event("apigw-v2-get-me.json", Some(&finance()));
    e["requestContext"]["http"]["method"] = json!("DELETE");
    let r = h.call(e).await;
    assert_eq!(r.status, 405);
    assert_eq!(h.records().len(), 2, "both audited");
    let r = h.call(json!({"not": "an event"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "bad-request");
}

#[tokio::test]
async fn query_strings_that_are_not_utf8_are_refused() {
    let h = harness();
    let r = h
        .call(with_query(
            event("apigw-v2-get-ls.json", Some(&finance())),
            "path=s3%3A%2F%2Fcompany-reports%2Fannual%2F%FF",
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("UTF-8"));
}

#[tokio::test]
async fn nfc_and_nfd_names_are_different_keys() {
    let h = harness();
    h.objects.put("company-reports", "annual/caf\u{e9}.pdf", 1); // NFC
    let nfd = json!({ "path": "s3://company-reports/annual/cafe\u{301}.pdf" }).to_string();
    let r = h
        .call(with_body(
            event("apigw-v2-post-download.json", Some(&finance())),
            &nfd,
        ))
        .await;
    assert_eq!(
        r.status, 404,
        "NFD must not be normalised to the NFC object: {}",
        r.body
    );
    let nfc = json!({ "path": "s3://company-reports/annual/caf\u{e9}.pdf" }).to_string();
    assert_eq!(
        h.call(with_body(
            event("apigw-v2-post-download.json", Some(&finance())),
            &nfc
        ))
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn the_web_app_is_served_with_security_headers() {
    let h = harness();
    let mut e = event("apigw-v2-get-me.json", None);
    e["rawPath"] = json!("/");
    let r = h.call(e).await;
    assert_eq!(r.status, 200);
    let csp = r
        .raw
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(
        h.records().is_empty(),
        "static pages are not audited actions"
    );
}
