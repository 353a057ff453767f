//! GitOps: `plan` exits 0 in sync and 2 with changes pending (drift made by hand included);
//! `apply` converges, and a second `apply` reports no changes.

use crate::common::*;

#[tokio::test]
async fn plan_exits_2_until_apply_converges_and_sees_drift_made_by_hand() {
    let f = Fixture::new("bd-plan");
    // Nothing deployed: everything is pending.
    let p = run(&["plan", "-c", f.path(), "--output", "json"]);
    p.expect(2);
    let plan = p.json();
    assert_eq!(plan["stack_plan"]["result"], "create", "{plan:#}");
    assert!(
        plan["stack_plan"]["changes"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "{plan:#}"
    );
    assert_eq!(plan["in_sync"], false);
    // The preview left nothing behind.
    let cfn = emulator().cloudformation().await;
    assert!(
        cfn.describe_stacks()
            .stack_name(&f.stack)
            .send()
            .await
            .is_err()
    );

    let a = run(&["apply", "-c", f.path(), "--output", "json"]);
    a.expect(0);
    assert_eq!(
        a.json()["stack_result"]["result"],
        "deployed",
        "{}",
        a.stdout
    );
    let again = run(&["apply", "-c", f.path()]);
    again.expect(0);
    assert!(again.stdout.contains("no changes"), "{}", again.stdout);
    assert!(
        again.stdout.contains("groups and policies already match"),
        "{}",
        again.stdout
    );
    let again = run(&["apply", "-c", f.path(), "--output", "json"]);
    again.expect(0);
    let report = again.json();
    assert_eq!(report["stack_result"]["result"], "no-changes", "{report:#}");
    assert!(report.get("converged").is_none(), "{report:#}");

    let p = run(&["plan", "-c", f.path(), "--output", "json"]);
    p.expect(0);
    assert_eq!(p.json()["in_sync"], true, "{}", p.stdout);
    let p = run(&["plan", "-c", f.path()]);
    p.expect(0);
    assert!(
        p.stdout.contains("in sync: nothing to apply"),
        "{}",
        p.stdout
    );

    // Drift made by hand in the console: a Cognito group nobody declared.
    let pool = run(&["status", "-c", f.path(), "--output", "json"]).json()["user_pool_id"]
        .as_str()
        .unwrap()
        .to_owned();
    emulator()
        .cognito()
        .await
        .create_group()
        .user_pool_id(&pool)
        .group_name("made-by-hand")
        .send()
        .await
        .unwrap();
    let p = run(&["plan", "-c", f.path(), "--output", "json"]);
    p.expect(2);
    let plan = p.json();
    assert_eq!(plan["stack_plan"]["result"], "in-sync", "{plan:#}");
    let drift = plan["state"].as_array().unwrap();
    assert!(
        drift
            .iter()
            .any(|c| c["change"] == "delete-group" && c["group"] == "made-by-hand"),
        "{plan:#}"
    );
    let text = run(&["plan", "-c", f.path()]);
    text.expect(2);
    assert!(
        text.stdout.contains("- Cognito group `made-by-hand`"),
        "{}",
        text.stdout
    );

    // A change to the config that changes the stack: a change set and a template diff.
    std::fs::write(
        &f.config,
        f.text()
            .replace("\nadmins:", "\ndownloads:\n  url_ttl: 20m\n\nadmins:"),
    )
    .unwrap();
    let p = run(&["plan", "-c", f.path(), "--output", "json"]);
    p.expect(2);
    let plan = p.json();
    assert_eq!(plan["stack_plan"]["result"], "update", "{plan:#}");
    let diff = plan["template_diff"].as_str().unwrap_or_default();
    assert!(
        diff.lines()
            .any(|l| l.starts_with('+') && l.contains("1200")),
        "the diff shows the new TTL: {diff}"
    );
    assert!(
        diff.lines()
            .any(|l| l.starts_with('-') && l.contains("600")),
        "{diff}"
    );

    // `apply` converges both; the plan is clean again.
    run(&["apply", "-c", f.path()]).expect(0);
    let p = run(&["plan", "-c", f.path(), "--output", "json"]);
    p.expect(0);
}

/// Drift of the stack's own resources: versioning suspended by hand on the file bucket the
/// stack created shows in `plan` (exit 2) with the property, its expected and actual values;
/// `--no-drift` skips the check; putting it back makes the plan clean again.
#[tokio::test]
async fn a_stack_resource_changed_by_hand_shows_as_drift_in_plan() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

    let f = Fixture::new("bd-drift");
    run(&["apply", "-c", f.path()]).expect(0);
    let p = run(&["plan", "-c", f.path(), "--output", "json"]);
    p.expect(0);
    assert!(p.json().get("drift").is_none(), "{}", p.stdout);

    let s3 = emulator().s3().await;
    let versioning = |status| VersioningConfiguration::builder().status(status).build();
    s3.put_bucket_versioning()
        .bucket(&f.bucket)
        .versioning_configuration(versioning(BucketVersioningStatus::Suspended))
        .send()
        .await
        .unwrap();

    let p = run(&["plan", "-c", f.path(), "--output", "json"]);
    p.expect(2);
    let plan = p.json();
    assert_eq!(plan["stack_plan"]["result"], "in-sync", "{plan:#}");
    assert_eq!(plan["in_sync"], false, "{plan:#}");
    let drift = plan["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1, "{plan:#}");
    assert_eq!(drift[0]["resource_type"], "AWS::S3::Bucket");
    assert_eq!(drift[0]["status"], "MODIFIED");
    let diff = &drift[0]["differences"][0];
    assert_eq!(diff["path"], "/VersioningConfiguration/Status", "{plan:#}");
    assert_eq!(diff["expected"], "Enabled");
    assert_eq!(diff["actual"], "Suspended");
    let text = run(&["plan", "-c", f.path()]);
    text.expect(2);
    assert!(
        text.stdout
            .contains("Drift: 1 resource(s) changed outside CloudFormation")
            && text
                .stdout
                .contains("/VersioningConfiguration/Status: expected Enabled, actual Suspended"),
        "{}",
        text.stdout
    );
    run(&["plan", "-c", f.path(), "--no-drift"]).expect(0);

    s3.put_bucket_versioning()
        .bucket(&f.bucket)
        .versioning_configuration(versioning(BucketVersioningStatus::Enabled))
        .send()
        .await
        .unwrap();
    run(&["plan", "-c", f.path()]).expect(0);
}
