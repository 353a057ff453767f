//! `apply` when things go wrong: a stack update that fails is reported and rolled back, and a
//! re-run converges; an `apply` interrupted mid-way leaves a `plan` of exactly what is left.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bucketdrive_tests::unique_name;
use serde_json::Value;

use crate::common::*;

/// The stack's status once no operation is running on it.
async fn settled_status(stack: &str) -> String {
    let cfn = emulator().cloudformation().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let d = cfn
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .unwrap();
        let status = d.stacks()[0].stack_status().unwrap().as_str().to_owned();
        if !status.ends_with("_IN_PROGRESS") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "stack still {status} after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn state_changes(plan: &Value) -> Vec<(String, String)> {
    plan["state"]
        .as_array()
        .unwrap_or_else(|| panic!("no state changes in {plan:#}"))
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap_or_default().to_owned(),
                c["group"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_failing_stack_update_in_apply_is_rolled_back_and_reported_and_a_rerun_converges() {
    let f = Fixture::new("bd-upd");
    run(&["apply", "-c", f.path()]).expect(0);

    // A second bucket for the stack to create, whose name is already taken: the update's new
    // resource fails (NAME_CONFLICT) and CloudFormation rolls the update back.
    let taken = unique_name("bd-upd-taken");
    let s3 = emulator().s3().await;
    s3.create_bucket().bucket(&taken).send().await.unwrap();
    std::fs::write(
        &f.config,
        f.text().replace(
            "    create: true   # the stack makes it\n",
            &format!(
                "    create: true   # the stack makes it\n  - name: {taken}\n    create: true\n"
            ),
        ),
    )
    .unwrap();
    let r = run(&["apply", "-c", f.path()]);
    r.expect(5);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("the deploy failed; the stack is UPDATE_ROLLBACK_COMPLETE"),
        "{all}"
    );
    assert!(
        all.lines().any(|l| l.contains("_FAILED")
            && l.contains("AWS::S3::Bucket")
            && l.contains(&format!("'{taken}' already exists"))),
        "the failing event names the bucket and why: {all}"
    );
    assert_eq!(settled_status(&f.stack).await, "UPDATE_ROLLBACK_COMPLETE");
    // The known state: the previous deployment, serving as before; the change still pending.
    let st = run(&["status", "-c", f.path(), "--output", "json"]);
    assert!(
        st.stdout.contains("UPDATE_ROLLBACK_COMPLETE"),
        "{}",
        st.stdout
    );
    let p = run(&["plan", "-c", f.path(), "--output", "json"]);
    p.expect(2);
    assert_eq!(p.json()["stack_plan"]["result"], "update", "{}", p.stdout);

    // Free the name: the same apply now converges, and the plan is clean.
    s3.delete_bucket().bucket(&taken).send().await.unwrap();
    let again = run(&["apply", "-c", f.path(), "--output", "json"]);
    again.expect(0);
    assert_eq!(
        again.json()["stack_result"]["result"],
        "deployed",
        "{}",
        again.stdout
    );
    run(&["plan", "-c", f.path()]).expect(0);
    s3.head_bucket().bucket(&taken).send().await.unwrap();
}

#[tokio::test]
async fn an_apply_interrupted_during_the_stack_update_leaves_a_plan_of_exactly_what_is_left() {
    let f = Fixture::new("bd-int");
    run(&["apply", "-c", f.path()]).expect(0);

    // One change of each kind: the stack (the URL TTL) and a group with its grant. `apply`
    // updates the stack first, then the groups and policies.
    std::fs::write(
        &f.config,
        format!(
            "{}  auditors:\n    grants:\n      - s3://{}/reports/audited/\n",
            f.text()
                .replace("\nadmins:", "\ndownloads:\n  url_ttl: 20m\n\nadmins:"),
            f.bucket
        ),
    )
    .unwrap();
    let before = run(&["plan", "-c", f.path(), "--output", "json"]);
    before.expect(2);
    let before = before.json();
    assert_eq!(before["stack_plan"]["result"], "update", "{before:#}");
    let group_changes = state_changes(&before);
    assert!(
        group_changes.contains(&("create-group".to_owned(), "auditors".to_owned())),
        "{before:#}"
    );

    // Ctrl-C once the stack update is under way. The CLI prints UPDATE_IN_PROGRESS from one
    // poll of the stack's events and waits at least 300 ms before the next: the interrupt lands
    // while the stack is updating, before any group is touched (asserted below, not assumed).
    let mut child = cli(Some(emulator().endpoint()))
        .args(["apply", "-c", f.path()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("UPDATE_IN_PROGRESS") {
                let _ = tx.send(());
            }
            seen.push(line);
        }
        seen
    });
    let started = rx.recv_timeout(Duration::from_secs(120));
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let seen = reader.join().unwrap().join("\n");
    assert!(started.is_ok(), "the update never started:\n{seen}");
    assert!(interrupted.success());
    assert!(
        !status.success(),
        "apply finished before the interrupt:\n{seen}"
    );

    // CloudFormation carries on without the CLI; the groups were never reached.
    assert_eq!(settled_status(&f.stack).await, "UPDATE_COMPLETE");
    let after = run(&["plan", "-c", f.path(), "--output", "json"]);
    after.expect(2);
    let after = after.json();
    assert_eq!(after["stack_plan"]["result"], "in-sync", "{after:#}");
    assert_eq!(
        state_changes(&after),
        group_changes,
        "exactly the group changes are left: {after:#}"
    );

    run(&["apply", "-c", f.path()]).expect(0);
    run(&["plan", "-c", f.path()]).expect(0);
}
