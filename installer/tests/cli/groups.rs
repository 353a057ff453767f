//! `bucketdrive groups …`: edits that keep the file's comments, applied without a stack update,
//! effective within the bounds the product promises (5 s for a grant, 60 s for a revocation).

use std::time::Duration;

use bucketdrive_tests::unique_name;

use crate::common::*;

#[tokio::test]
async fn a_new_group_and_a_grant_work_within_5s_and_a_revoke_is_refused_within_60s() {
    let f = Fixture::new("bd-grp");
    let d = f.deploy();
    let pool = d.output("UserPoolId").to_owned();
    let client = d.output("UserPoolClientId").to_owned();
    let api = d.api();
    let b = &f.bucket;
    put_object(b, "projects/open/readme.txt", "open to projects").await;
    put_object(b, "projects/x/plan.txt", "the plan").await;
    let email = format!("{}@example.com", unique_name("member"));
    let password = make_user(&pool, &email, &[]).await;

    // `groups add`: the file keeps its comments; the group is live at once.
    let open = format!("s3://{b}/projects/open/");
    run(&[
        "groups",
        "add",
        "projects",
        "-c",
        f.path(),
        "--grant",
        &open,
        "--description",
        "Project team",
    ])
    .expect(0);
    let text = f.text();
    assert!(
        text.contains("# A test config: comments must survive"),
        "{text}"
    );
    assert!(text.contains("# people who read reports"), "{text}");
    assert!(
        text.contains("    create: true   # the stack makes it"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            "  projects:\n    description: Project team\n    grants:\n      - {open}\n"
        )),
        "{text}"
    );
    run(&[
        "groups",
        "members",
        "add",
        "projects",
        &email,
        "-c",
        f.path(),
    ])
    .expect(0);
    let token = sign_in(&client, &email, &password).await.unwrap();
    let file = format!("{open}readme.txt");
    let took = within(Duration::from_secs(5), || async {
        api.download(&token, &file).await.0 == 200
    })
    .await;
    assert!(
        took.is_some(),
        "a member of a new group downloads within 5 s"
    );
    let (_, url) = api.download(&token, &file).await;
    assert_eq!(
        fetch(&url.unwrap()).await,
        (200, "open to projects".to_owned())
    );

    // A grant added to a group whose (empty) answer the API has just cached.
    let plan = format!("s3://{b}/projects/x/plan.txt");
    assert_eq!(api.download(&token, &plan).await.0, 403);
    let x = format!("s3://{b}/projects/x/");
    run(&["groups", "grant", "projects", &x, "-c", f.path()]).expect(0);
    let took = within(Duration::from_secs(5), || async {
        api.download(&token, &plan).await.0 == 200
    })
    .await;
    assert!(took.is_some(), "a grant is effective within 5 s");
    eprintln!("grant effective after {took:?}");

    // `groups revoke`: refused within 60 s (the same token).
    run(&["groups", "revoke", "projects", &x, "-c", f.path()]).expect(0);
    assert!(!f.text().contains(&x), "{}", f.text());
    let took = within(Duration::from_secs(60), || async {
        api.download(&token, &plan).await.0 == 403
    })
    .await;
    assert!(took.is_some(), "a revoked grant is refused within 60 s");
    eprintln!("revocation effective after {took:?}");

    // `list` and `show` see the live group and its member.
    let listed = run(&["groups", "list", "-c", f.path(), "--output", "json"]);
    listed.expect(0);
    let listed = listed.json();
    let projects = listed["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "projects")
        .cloned()
        .unwrap_or_else(|| panic!("{listed:#}"));
    assert_eq!(projects["live"], "in-sync", "{listed:#}");
    assert_eq!(projects["members"].as_array().map(Vec::len), Some(1));
    let shown = run(&["groups", "show", "projects", "-c", f.path()]);
    shown.expect(0);
    assert!(shown.stdout.contains(&email), "{}", shown.stdout);

    // Leaving the group ends the token's access within 60 s (its revocation time is set).
    run(&[
        "groups",
        "members",
        "remove",
        "projects",
        &email,
        "-c",
        f.path(),
    ])
    .expect(0);
    let took = within(Duration::from_secs(60), || async {
        api.get(&token, "/api/me").await.0 == 401
    })
    .await;
    assert!(
        took.is_some(),
        "a token of a removed member is refused within 60 s"
    );

    // `groups remove`: the group leaves the file and Cognito; the file still validates.
    run(&["groups", "remove", "projects", "-c", f.path()]).expect(0);
    assert!(!f.text().contains("projects:"), "{}", f.text());
    let cognito = emulator().cognito().await;
    assert!(
        cognito
            .get_group()
            .user_pool_id(&pool)
            .group_name("projects")
            .send()
            .await
            .is_err(),
        "the Cognito group is gone"
    );
    run(&["plan", "-c", f.path()]).expect(0);
    // Every change was audited as a group change by the CLI.
    let audit = emulator().dynamodb().await;
    let items = audit
        .scan()
        .table_name(d.output("AuditTableName"))
        .send()
        .await
        .unwrap();
    let changes = items
        .items()
        .iter()
        .filter(|i| {
            i.get("action")
                .and_then(|a| a.as_s().ok())
                .map(String::as_str)
                == Some("group-change")
        })
        .count();
    assert!(changes >= 6, "{changes} group-change records");
}

#[test]
fn an_edit_that_would_make_the_config_invalid_is_refused_and_nothing_is_written() {
    let f = Fixture::new("bd-grp-bad");
    let before = f.text();
    // `admins` is named in `admins:`; removing the group would leave a dangling reference.
    let r = run_with(
        cli(None),
        &["groups", "remove", "admins", "-c", f.path(), "--no-apply"],
    );
    r.expect(1);
    assert!(r.stderr.contains("invalid"), "{}", r.stderr);
    // A grant on a bucket the config does not declare.
    let r = run_with(
        cli(None),
        &[
            "groups",
            "grant",
            "staff",
            "s3://not-declared/x/",
            "-c",
            f.path(),
            "--no-apply",
        ],
    );
    r.expect(1);
    assert_eq!(f.text(), before, "the file is untouched");
    // --no-apply edits the file only, and says how to apply it.
    let r = run_with(
        cli(None),
        &[
            "groups",
            "deny",
            "staff",
            &format!("s3://{}/reports/secret/", f.bucket),
            "-c",
            f.path(),
            "--no-apply",
        ],
    );
    r.expect(0);
    assert!(r.stdout.contains("not applied"), "{}", r.stdout);
    assert!(
        f.text().contains("    deny:\n      - s3://"),
        "{}",
        f.text()
    );
    assert!(f.text().contains("# people who read reports"));
}
