//! `bucketdrive audit …` against a deployed stack: every kind of action becomes a record with
//! the fields that apply to it; queries by user, object and time return exactly what they
//! should; an export is a CSV an auditor can open; and `audit verify` tells an untampered
//! table from one an attacker (the test, as the account root) has edited.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use bucketdrive_tests::unique_name;
use serde_json::{Value, json};

use crate::common::*;

/// `audit query ARGS --output json` on the fixture's stack: the records.
fn query(f: &Fixture, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "query", "-c", f.path(), "--output", "json"];
    all.extend_from_slice(args);
    let r = run(&all);
    r.expect(0);
    let body = r.json();
    assert_eq!(body["truncated"], false, "{}", r.stdout);
    body["records"].as_array().cloned().unwrap_or_default()
}

fn actions(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["action"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Fields every record has, whatever its kind.
#[track_caller]
fn assert_common(r: &Value) {
    assert_eq!(r["id"].as_str().unwrap().len(), 26, "a ULID: {r:#}");
    let time = r["time"].as_str().unwrap();
    assert!(
        time.ends_with('Z') && time.len() == 24,
        "ISO 8601 UTC ms: {r:#}"
    );
    assert!(
        r["user"]["sub"].as_str().is_some_and(|s| !s.is_empty()),
        "{r:#}"
    );
    assert!(r["outcome"] == "allow" || r["outcome"] == "deny", "{r:#}");
    assert!(r["basis"].as_str().is_some(), "{r:#}");
    assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()), "{r:#}");
    assert!(r["status"].as_u64().is_some(), "{r:#}");
    assert!(
        r["request_id"].as_str().is_some_and(|s| !s.is_empty()),
        "{r:#}"
    );
    assert!(
        r["expires_at"].as_i64().unwrap() > chrono::Utc::now().timestamp(),
        "{r:#}"
    );
    assert!(r["groups"].is_array(), "{r:#}");
}

/// A request through the API: the person, their groups, where from.
#[track_caller]
fn assert_api(r: &Value, sub: &str) {
    assert_common(r);
    assert_eq!(r["user"]["sub"], sub, "{r:#}");
    assert!(r["user"]["username"].as_str().is_some(), "{r:#}");
    assert_eq!(r["groups"], json!(["staff"]), "{r:#}");
    assert!(r["source_ip"].as_str().is_some(), "{r:#}");
    assert!(r["user_agent"].as_str().is_some(), "{r:#}");
}

/// A change made with the CLI: the AWS caller, status 0, what changed.
#[track_caller]
fn assert_cli(r: &Value, actor: &str) {
    assert_common(r);
    assert_eq!(r["user"]["sub"], actor, "{r:#}");
    assert_eq!(r["user"]["username"], actor, "{r:#}");
    assert_eq!(r["status"], 0, "{r:#}");
    assert_eq!(r["outcome"], "allow", "{r:#}");
    assert!(r["detail"].as_str().is_some_and(|d| !d.is_empty()), "{r:#}");
    assert!(
        r["user_agent"]
            .as_str()
            .is_some_and(|u| u.starts_with("bucketdrive-cli/")),
        "{r:#}"
    );
}

fn one<'a>(records: &'a [Value], action: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    records
        .iter()
        .find(|r| r["action"] == action && pred(r))
        .unwrap_or_else(|| panic!("no `{action}` record in {:#?}", actions(records)))
}

#[tokio::test]
async fn every_kind_of_action_is_a_record_with_the_fields_that_apply() {
    let started = now_text();
    let f = Fixture::new("bd-aud");
    let d = f.deploy();
    let b = f.bucket.clone();
    put_object(&b, "reports/q3.csv", "quarter,revenue\n").await;
    let pool = d.output("UserPoolId").to_owned();
    let client = d.output("UserPoolClientId").to_owned();
    let email = format!("{}@example.com", unique_name("ana"));
    let pw = make_user(&pool, &email, &["staff"]).await;
    let token = sign_in(&client, &email, &pw).await.unwrap();
    let api = d.api();

    let (status, me) = api.get(&token, "/api/me").await;
    assert_eq!(status, 200, "{me}");
    let sub = me["sub"].as_str().unwrap().to_owned();
    let (status, _) = api
        .get(&token, &format!("/api/ls?path=s3%3A%2F%2F{b}%2Freports%2F"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        api.download(&token, &format!("s3://{b}/reports/q3.csv"))
            .await
            .0,
        200
    );
    assert_eq!(
        api.download(&token, &format!("s3://{b}/board/minutes.txt"))
            .await
            .0,
        403
    );
    let (status, up) = api
        .post(
            &token,
            "/api/upload",
            &json!({"path": format!("s3://{b}/incoming/drop.txt"), "size": 5, "content_type": "text/plain"}),
        )
        .await;
    assert_eq!(status, 200, "{up}");

    // Admin changes with the CLI: a group, a user, an apply.
    run(&[
        "groups",
        "grant",
        "staff",
        &format!("s3://{b}/shared/"),
        "-c",
        f.path(),
    ])
    .expect(0);
    let invited = format!("{}@example.com", unique_name("bo"));
    run(&["users", "invite", &invited, "-c", f.path()]).expect(0);
    std::fs::write(
        &f.config,
        f.text().replace(
            &format!("      - s3://{b}/reports/\n"),
            &format!("      - s3://{b}/reports/\n      - s3://{b}/more/\n"),
        ),
    )
    .unwrap();
    run(&["apply", "-c", f.path()]).expect(0);

    // A read of the audit log is itself a record; the second read sees the first.
    let first = query(&f, &["--since", &started, "--limit", "1000"]);
    assert!(!actions(&first).contains(&"audit-read".to_owned()));
    let records = query(&f, &["--since", &started, "--limit", "1000"]);
    let deploy = one(&records, "deploy", |_| true);
    let actor = deploy["user"]["sub"].as_str().unwrap().to_owned();
    assert!(
        actor.starts_with("arn:"),
        "the actor is the AWS caller: {deploy:#}"
    );

    for r in [
        deploy,
        one(&records, "apply", |_| true),
        one(&records, "group-change", |_| true),
        one(&records, "user-change", |_| true),
    ] {
        assert_cli(r, &actor);
        assert_eq!(r["basis"], "admin-change", "{r:#}");
    }
    assert!(
        one(&records, "group-change", |_| true)["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("s3://{b}/shared/"))
    );
    assert!(
        one(&records, "user-change", |_| true)["detail"]
            .as_str()
            .unwrap()
            .contains(&invited)
    );

    let read = one(&records, "audit-read", |_| true);
    assert_common(read);
    assert_eq!(read["user"]["sub"], actor.as_str());
    assert_eq!(read["basis"], "admin");
    let filter: Value = serde_json::from_str(read["detail"].as_str().unwrap()).unwrap();
    assert_eq!(filter["command"], "audit query", "{filter:#}");
    assert_eq!(filter["since"], started.as_str(), "{filter:#}");

    let me_record = one(&records, "me", |_| true);
    assert_api(me_record, &sub);
    assert_eq!(
        (me_record["outcome"].as_str(), me_record["basis"].as_str()),
        (Some("allow"), Some("authenticated"))
    );
    let list = one(&records, "list", |_| true);
    assert_api(list, &sub);
    assert_eq!(
        (list["bucket"].as_str(), list["key"].as_str()),
        (Some(b.as_str()), Some("reports/"))
    );
    let dl = one(&records, "download", |r| r["outcome"] == "allow");
    assert_api(dl, &sub);
    assert_eq!(dl["key"], "reports/q3.csv");
    assert_eq!(dl["status"], 200);
    assert_eq!(dl["basis"], "grant");
    assert_eq!(
        dl["rule"],
        json!({"group": "staff", "kind": "grant", "path": format!("s3://{b}/reports/"), "access": "read"})
    );
    let denied = one(&records, "download", |r| r["outcome"] == "deny");
    assert_api(denied, &sub);
    assert_eq!(
        (denied["basis"].as_str(), denied["status"].as_u64()),
        (Some("no-grant"), Some(403))
    );
    assert_eq!(denied["key"], "board/minutes.txt");
    let upload = one(&records, "upload", |_| true);
    assert_api(upload, &sub);
    assert_eq!(upload["rule"]["access"], "write");
    assert!(
        upload["detail"].as_str().is_some_and(|d| d.contains('5')),
        "{upload:#}"
    );

    // Destroy: recorded (as `destroy`) in the audit table, which outlives the stack.
    let table = d.output("AuditTableName").to_owned();
    run(&["destroy", "-c", f.path(), "--yes"]).expect(0);
    let items = emulator()
        .dynamodb()
        .await
        .query()
        .table_name(&table)
        .index_name("by-user")
        .key_condition_expression("user_sub = :u AND time_id > :t")
        .expression_attribute_values(":u", AttributeValue::S(actor.clone()))
        .expression_attribute_values(":t", AttributeValue::S(started.clone()))
        .send()
        .await
        .unwrap();
    let destroy: Vec<Value> = items
        .items()
        .iter()
        .map(|i| serde_json::to_value(bucketdrive::audit::record_of(i).unwrap()).unwrap())
        .filter(|r| r["action"] == "destroy")
        .collect();
    assert_eq!(destroy.len(), 1, "one destroy record");
    assert_cli(&destroy[0], &actor);
    assert!(
        destroy[0]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("deleting stack `{}`", f.stack)),
        "{:#}",
        destroy[0]
    );
}

#[tokio::test]
async fn query_by_user_object_and_time_and_a_csv_export_with_the_right_rows() {
    let f = Fixture::new("bd-audq");
    let d = f.deploy();
    let b = f.bucket.clone();
    put_object(&b, "reports/a.csv", "a").await;
    put_object(&b, "reports/b.csv", "b").await;
    let pool = d.output("UserPoolId").to_owned();
    let client = d.output("UserPoolClientId").to_owned();
    let api = d.api();
    let ana = format!("{}@example.com", unique_name("ana"));
    let bo = format!("{}@example.com", unique_name("bo"));
    let (pa, pb) = (
        make_user(&pool, &ana, &["staff"]).await,
        make_user(&pool, &bo, &["staff"]).await,
    );
    let (ta, tb) = (
        sign_in(&client, &ana, &pa).await.unwrap(),
        sign_in(&client, &bo, &pb).await.unwrap(),
    );
    let start = now_text();
    let ana_sub = api.get(&ta, "/api/me").await.1["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        api.download(&ta, &format!("s3://{b}/reports/a.csv"))
            .await
            .0,
        200
    );
    assert_eq!(
        api.download(&ta, &format!("s3://{b}/secret/x")).await.0,
        403
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mark = now_text();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        api.download(&tb, &format!("s3://{b}/reports/b.csv"))
            .await
            .0,
        200
    );
    assert_eq!(
        api.download(&ta, &format!("s3://{b}/reports/a.csv"))
            .await
            .0,
        200
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let end = now_text();

    // By user: an email, a username (sub) or the sub itself; newest first.
    let by_email = query(&f, &["--user", &ana, "--since", &start, "--until", &end]);
    assert_eq!(
        actions(&by_email),
        ["download", "download", "download", "me"]
    );
    assert!(
        by_email
            .iter()
            .all(|r| r["user"]["sub"] == ana_sub.as_str())
    );
    let times: Vec<&str> = by_email
        .iter()
        .map(|r| r["time"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    assert_eq!(
        query(
            &f,
            &["--user", &ana_sub, "--since", &start, "--until", &end]
        ),
        by_email
    );
    let denied = query(
        &f,
        &[
            "--user",
            &ana,
            "--decision",
            "deny",
            "--since",
            &start,
            "--until",
            &end,
        ],
    );
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["key"], "secret/x");
    // An AWS ARN is taken as it is: the actor of the CLI's changes (here, the deploy's converge).
    let deploys = query(&f, &["--action", "deploy", "--since", "1h"]);
    let actor = deploys[0]["user"]["sub"].as_str().unwrap().to_owned();
    assert!(actor.starts_with("arn:aws:"), "{actor}");
    let by_arn = query(
        &f,
        &["--user", &actor, "--action", "deploy", "--since", "1h"],
    );
    assert_eq!(by_arn, deploys);
    let nobody = run(&[
        "audit",
        "query",
        "-c",
        f.path(),
        "--user",
        "nobody@example.com",
    ]);
    nobody.expect(1);
    assert!(
        nobody.stderr.contains("no user `nobody@example.com`"),
        "{}",
        nobody.stderr
    );

    // By object: one object, and a folder (a prefix over every day).
    let a_csv = format!("s3://{b}/reports/a.csv");
    let by_object = query(&f, &["--path", &a_csv, "--since", &start, "--until", &end]);
    assert_eq!(by_object.len(), 2);
    assert!(by_object.iter().all(|r| r["key"] == "reports/a.csv"));
    let folder = query(
        &f,
        &[
            "--path",
            &format!("s3://{b}/reports/"),
            "--since",
            &start,
            "--until",
            &end,
        ],
    );
    let keys: BTreeSet<&str> = folder.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(keys, BTreeSet::from(["reports/a.csv", "reports/b.csv"]));
    assert_eq!(folder.len(), 3);

    // By time: only what happened after the mark.
    let after = query(
        &f,
        &["--since", &mark, "--until", &end, "--action", "download"],
    );
    let who: Vec<&str> = after
        .iter()
        .map(|r| r["user"]["sub"].as_str().unwrap())
        .collect();
    assert_eq!(after.len(), 2, "{who:?}");
    let before = query(
        &f,
        &["--since", &start, "--until", &mark, "--action", "download"],
    );
    assert_eq!(before.len(), 2);
    assert!(before.iter().all(|r| r["user"]["sub"] == ana_sub.as_str()));

    // The table view resolves the email from the user pool (records carry the sub).
    let text = run(&[
        "audit",
        "query",
        "-c",
        f.path(),
        "--user",
        &ana,
        "--since",
        &start,
        "--until",
        &end,
    ]);
    text.expect(0);
    assert!(text.stdout.starts_with("TIME"), "{}", text.stdout);
    assert!(text.stdout.contains(&ana), "{}", text.stdout);
    assert!(text.stdout.contains("4 record(s)"), "{}", text.stdout);

    // Export: a CSV with the schema's header and one row per record of the period.
    let all = query(
        &f,
        &["--since", &start, "--until", &end, "--limit", "10000"],
    );
    let out = f.dir.path().join("audit.csv");
    let r = run(&[
        "audit",
        "export",
        "-c",
        f.path(),
        "--since",
        &start,
        "--until",
        &end,
        "--out",
        out.to_str().unwrap(),
        "--output",
        "json",
    ]);
    r.expect(0);
    assert_eq!(r.json()["records"], all.len(), "{}", r.stdout);
    let csv_text = read(&out);
    assert!(
        csv_text.starts_with("id,time,user_sub,username,email,groups,action,bucket,key,outcome,basis,rule_group,rule_kind,rule_path,rule_access,reason,status,source_ip,user_agent,request_id,detail,expires_at\r\n"),
        "{csv_text}"
    );
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let ids: Vec<String> = reader
        .records()
        .map(|row| row.unwrap()[0].to_owned())
        .collect();
    let want: Vec<String> = all
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, want, "one row per record, in the query's order");
    assert_eq!(all.len(), 5, "ana: me and 3 downloads; bo: 1 download");
    // JSON lines to stdout: the same records, as stored.
    let jl = run(&[
        "audit",
        "export",
        "-c",
        f.path(),
        "--since",
        &start,
        "--until",
        &end,
        "--format",
        "jsonl",
    ]);
    jl.expect(0);
    let lines: Vec<Value> = jl
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, all);
    // Each export was recorded as a read of the audit log, with its filter.
    let reads = query(&f, &["--action", "audit-read", "--since", &end]);
    let commands: BTreeSet<String> = reads
        .iter()
        .map(|r| {
            let d: Value = serde_json::from_str(r["detail"].as_str().unwrap()).unwrap();
            d["command"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(
        commands.contains("audit export") && commands.contains("audit query"),
        "{commands:?}"
    );

    // Bad input names the flag; verify without an archive says what it needs.
    let bad = run(&["audit", "query", "-c", f.path(), "--since", "yesterday"]);
    bad.expect(1);
    assert!(bad.stderr.contains("--since"), "{}", bad.stderr);
    let reversed = run(&[
        "audit",
        "query",
        "-c",
        f.path(),
        "--since",
        &end,
        "--until",
        &start,
    ]);
    reversed.expect(1);
    assert!(
        reversed.stderr.contains("before --since"),
        "{}",
        reversed.stderr
    );
    let v = run(&["audit", "verify", "-c", f.path()]);
    v.expect(1);
    assert!(v.stderr.contains("archive: true"), "{}", v.stderr);
}

/// `audit verify --settle 1s` until it exits 0 (records reach the archive asynchronously).
fn verify_until_clean(f: &Fixture, since: &str) -> Duration {
    let started = Instant::now();
    loop {
        let r = run(&[
            "audit",
            "verify",
            "-c",
            f.path(),
            "--since",
            since,
            "--settle",
            "1s",
            "--output",
            "json",
        ]);
        // Clean, with nothing left settling: every record of the period has reached the archive.
        if r.code == 0 && r.json()["settling"] == 0 {
            let body = r.json();
            assert_eq!(body["consistent"], true, "{body:#}");
            assert_eq!(body["archived_records"], body["table_records"], "{body:#}");
            return started.elapsed();
        }
        assert!(r.code == 0 || r.code == 6, "{}\n{}", r.stdout, r.stderr);
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the archive did not catch up in 90 s: {}",
            r.stdout
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

#[tokio::test]
async fn verify_passes_untampered_and_reports_a_changed_and_a_removed_record_with_exit_6() {
    let f = Fixture::new("bd-audv");
    std::fs::write(
        &f.config,
        f.text()
            .replace("\nadmins:", "\naudit:\n  archive: true\n\nadmins:"),
    )
    .unwrap();
    let since = now_text();
    let d = f.deploy();
    let b = f.bucket.clone();
    let pool = d.output("UserPoolId").to_owned();
    let client = d.output("UserPoolClientId").to_owned();
    let email = format!("{}@example.com", unique_name("eve"));
    let pw = make_user(&pool, &email, &["staff"]).await;
    let token = sign_in(&client, &email, &pw).await.unwrap();
    let api = d.api();
    assert_eq!(api.get(&token, "/api/me").await.0, 200);
    assert_eq!(
        api.download(&token, &format!("s3://{b}/board/x.pdf"))
            .await
            .0,
        403
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let took = verify_until_clean(&f, &since);
    eprintln!("the archive caught up; verify clean after {took:?}");
    let clean = run(&[
        "audit",
        "verify",
        "-c",
        f.path(),
        "--since",
        &since,
        "--settle",
        "1s",
    ]);
    clean.expect(0);
    assert!(clean.stdout.contains("consistent"), "{}", clean.stdout);

    // The attacker (root in the account) turns the denied download into an allowed one and
    // deletes the record of the `me` call.
    let records = query(&f, &["--since", &since, "--user", &email]);
    let denied = one(&records, "download", |r| r["outcome"] == "deny")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = one(&records, "me", |_| true)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let table = d.output("AuditTableName");
    let ddb = emulator().dynamodb().await;
    ddb.update_item()
        .table_name(table)
        .key("id", AttributeValue::S(denied.clone()))
        .update_expression("SET outcome = :a, #s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":a", AttributeValue::S("allow".into()))
        .expression_attribute_values(":s", AttributeValue::N("200".into()))
        .send()
        .await
        .unwrap();
    ddb.delete_item()
        .table_name(table)
        .key("id", AttributeValue::S(me.clone()))
        .send()
        .await
        .unwrap();

    let r = run(&[
        "audit",
        "verify",
        "-c",
        f.path(),
        "--since",
        &since,
        "--settle",
        "1s",
        "--output",
        "json",
    ]);
    r.expect(6);
    let report = r.json();
    assert_eq!(report["consistent"], false);
    let changed = report["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "{report:#}");
    assert_eq!(changed[0]["id"], denied.as_str());
    let fields: Vec<(&str, &Value, &Value)> = changed[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["field"].as_str().unwrap(), &d["archive"], &d["table"]))
        .collect();
    assert_eq!(
        fields,
        [
            ("outcome", &json!("deny"), &json!("allow")),
            ("status", &json!(403), &json!(200))
        ]
    );
    let removed: Vec<&str> = report["missing_from_table"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(removed, [me.as_str()]);
    assert!(
        report["missing_from_archive"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let text = run(&[
        "audit",
        "verify",
        "-c",
        f.path(),
        "--since",
        &since,
        "--settle",
        "1s",
    ]);
    text.expect(6);
    assert!(
        text.stdout
            .contains("TAMPERING FOUND: 1 changed, 1 removed"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("outcome: archive \"deny\" → table \"allow\""),
        "{}",
        text.stdout
    );
}
