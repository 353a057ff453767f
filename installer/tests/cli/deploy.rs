//! `bucketdrive deploy` from a config: the change set, the converge, a failure, a redeploy;
//! `status` and `destroy` on the same stacks.

use crate::common::*;

#[tokio::test]
async fn deploy_with_yes_shows_the_change_set_converges_and_a_second_deploy_changes_nothing() {
    let f = Fixture::new("bd-dep");
    let r = run(&["deploy", "-c", f.path(), "--yes"]);
    r.expect(0);
    // The change set, rain-style, and the live events go to stderr (text output; with
    // `--output json` stderr carries warnings and errors only).
    assert!(
        r.stderr
            .contains(&format!("Changes to stack `{}`:", f.stack)),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("+ AWS::Cognito::UserPool"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("CREATE_COMPLETE"), "{}", r.stderr);
    assert!(r.stdout.contains("CREATE_COMPLETE: "), "{}", r.stdout);
    assert!(
        r.stdout.contains("+ policy of group `staff`"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("+ Cognito group `admins`"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("App:  http://"), "{}", r.stdout);

    // A second deploy: nothing to do, and it says so.
    let again = run(&["deploy", "-c", f.path(), "--yes", "--output", "json"]);
    again.expect(0);
    assert_eq!(
        again.json()["stack_result"]["result"],
        "no-changes",
        "{}",
        again.stdout
    );
    // The first admin: invited once, and the same deploy can run again (CI) without failing.
    let admin = format!(
        "{}@example.com",
        bucketdrive_tests::unique_name("first-admin")
    );
    for _ in 0..2 {
        let r = run(&["deploy", "-c", f.path(), "--yes", "--admin-email", &admin]);
        r.expect(0);
        assert!(
            r.stdout.contains(&format!("invited {admin}")),
            "{}",
            r.stdout
        );
    }
    let admins = run(&[
        "users",
        "list",
        "-c",
        f.path(),
        "--group",
        "admins",
        "--output",
        "json",
    ]);
    assert_eq!(
        admins.json()["users"][0]["email"],
        admin.as_str(),
        "{}",
        admins.stdout
    );

    // --dry-run shows a change and deploys nothing.
    std::fs::write(
        &f.config,
        f.text()
            .replace("\nadmins:", "\ndownloads:\n  url_ttl: 20m\n\nadmins:"),
    )
    .unwrap();
    let dry = run(&["deploy", "-c", f.path(), "--dry-run"]);
    dry.expect(0);
    assert!(dry.stdout.contains("dry run:"), "{}", dry.stdout);
    assert!(dry.stderr.contains("to modify"), "{}", dry.stderr);
    assert!(
        dry.stderr.contains("~ AWS::Lambda::Function"),
        "{}",
        dry.stderr
    );
    // Without --yes and without a terminal, a change is not deployed and the flag is named.
    let refused = run(&["deploy", "-c", f.path()]);
    refused.expect(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);

    // `status` finds the stack through the config and sees groups in sync.
    let s = run(&["status", "-c", f.path(), "--output", "json"]);
    s.expect(0);
    let s = s.json();
    assert_eq!(s["status"], "CREATE_COMPLETE", "{s:#}");
    assert_eq!(s["pending_state_changes"], 0, "{s:#}");
    assert!(
        s["app_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://")),
        "{s:#}"
    );
}

#[tokio::test]
async fn a_failing_deploy_prints_the_failure_exits_5_leaves_a_known_state_and_a_redeploy_converges()
{
    let f = Fixture::new("bd-fail");
    // The bucket the stack should create already exists: CloudFormation refuses the name
    // (NAME_CONFLICT_VALIDATION) and the first create rolls back.
    let s3 = emulator().s3().await;
    s3.create_bucket().bucket(&f.bucket).send().await.unwrap();
    let r = run(&["deploy", "-c", f.path(), "--yes"]);
    r.expect(5);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("the deploy failed; the stack is ROLLBACK_COMPLETE"),
        "{all}"
    );
    assert!(all.contains("CREATE_FAILED"), "{all}");
    assert!(
        all.contains(&format!("'{}' already exists", f.bucket)),
        "the reason names the bucket: {all}"
    );
    let cfn = emulator().cloudformation().await;
    let described = cfn
        .describe_stacks()
        .stack_name(&f.stack)
        .send()
        .await
        .unwrap();
    let status = described.stacks()[0]
        .stack_status()
        .unwrap()
        .as_str()
        .to_owned();
    assert_eq!(status, "ROLLBACK_COMPLETE");
    // `status` reports it and exits 1 (not healthy).
    let st = run(&["status", "-c", f.path()]);
    st.expect(1);
    assert!(st.stdout.contains("ROLLBACK_COMPLETE"), "{}", st.stdout);

    // Free the name: the next deploy deletes the empty stack, creates it again and converges.
    s3.delete_bucket().bucket(&f.bucket).send().await.unwrap();
    let again = run(&["deploy", "-c", f.path(), "--yes"]);
    again.expect(0);
    assert!(
        again.stderr.contains("deleted before creating it again"),
        "{}",
        again.stderr
    );
    assert!(
        again.stdout.contains("CREATE_COMPLETE: "),
        "{}",
        again.stdout
    );
    let plan = run(&["plan", "-c", f.path()]);
    plan.expect(0);
}

#[tokio::test]
async fn destroy_says_what_it_keeps_and_asks_for_yes_without_a_terminal() {
    let f = Fixture::new("bd-del");
    f.deploy();
    let refused = run(&["destroy", "-c", f.path()]);
    refused.expect(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("kept"),
        "it says what it keeps first: {}",
        refused.stderr
    );

    let r = run(&["destroy", "-c", f.path(), "--yes", "--output", "json"]);
    r.expect(0);
    let report = r.json();
    let kept: Vec<&str> = report["kept"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["logical_id"].as_str())
        .collect();
    for id in ["UserPool", "AuditTable"] {
        assert!(kept.contains(&id), "{id} is kept: {report:#}");
    }
    assert!(kept.iter().any(|k| k.starts_with("Bucket")), "{report:#}");
    let gone = run(&["status", "-c", f.path()]);
    gone.expect(1);
    assert!(gone.stderr.contains("is not deployed"), "{}", gone.stderr);
}
