//! The wizard: driven through a pseudo-terminal answering every question, and without a
//! terminal, where a missing answer is an error naming its flag.

use std::time::Duration;

use bucketdrive_tests::unique_name;
use expectrl::{Eof, Expect, Session};

use crate::common::*;

/// Waits for `prompt`, then types `answer`.
fn answer(p: &mut expectrl::session::OsSession, prompt: &str, answer: &str) {
    p.expect(prompt)
        .unwrap_or_else(|e| panic!("waiting for {prompt:?}: {e}"));
    p.send(answer).unwrap();
}

#[tokio::test]
async fn the_wizard_in_a_terminal_asks_everything_writes_a_valid_config_and_deploys_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bucketdrive.yaml");
    let stack = unique_name("bd-wiz");
    let existing = unique_name("bd-wiz-old");
    let created = unique_name("bd-wiz-new");
    let admin = format!("{}@example.com", unique_name("admin"));
    // An existing bucket the wizard offers (it lists the account's buckets).
    emulator()
        .s3()
        .await
        .create_bucket()
        .bucket(&existing)
        .send()
        .await
        .unwrap();

    let mut cmd = cli(Some(emulator().endpoint()));
    // No region anywhere, so the wizard asks for it.
    cmd.env_remove("AWS_REGION")
        .env("TERM", "xterm")
        // The pty is stdin: `cli()` made it /dev/null, which would hide the terminal.
        .stdin(std::process::Stdio::inherit())
        .args(["deploy", "-c", path.to_str().unwrap()]);
    let mut p = Session::spawn(cmd).expect("a pty");
    p.set_expect_timeout(Some(Duration::from_secs(180)));

    const DOWN: &str = "\x1b[B";
    answer(&mut p, "AWS region for the stack", "us-east-1\r");
    answer(&mut p, "Stack name", &format!("{stack}\r"));
    p.expect("Buckets in this account:").unwrap();
    answer(
        &mut p,
        "Buckets to share",
        &format!("{existing}, {created}\r"),
    );
    answer(&mut p, "Group name", "staff\r");
    answer(
        &mut p,
        "Path `staff` may use",
        &format!("s3://{created}/reports/\r"),
    );
    answer(&mut p, "What may `staff` do in", "\r"); // read
    answer(
        &mut p,
        "Another path for `staff`",
        &format!("s3://{existing}/drop/\r"),
    );
    answer(&mut p, "What may `staff` do in", &format!("{DOWN}{DOWN}\r")); // read-write
    answer(&mut p, "Another path for `staff`", "\r");
    answer(&mut p, "Another group", "\r");
    answer(&mut p, "Group whose members read the audit log", "\r"); // admins
    answer(
        &mut p,
        "Multi-factor authentication",
        &format!("{DOWN}{DOWN}\r"),
    ); // off
    answer(&mut p, "Sign in through your identity provider", "n");
    answer(&mut p, "How long download links work", "15m\r");
    answer(&mut p, "Days audit records stay queryable", "30\r");
    answer(&mut p, "Email of the first admin", &format!("{admin}\r"));
    // The file is written, then the usual deploy: change set, confirmation, events.
    p.expect("wrote").unwrap();
    p.expect(format!("Changes to stack `{stack}`").as_str())
        .unwrap();
    answer(&mut p, "Deploy these changes", "y");
    p.expect(format!("invited {admin} as the first admin").as_str())
        .unwrap();
    p.expect("App:").unwrap();
    p.expect(Eof).unwrap();
    let status = p.get_process().wait().unwrap();
    assert!(
        matches!(status, expectrl::process::unix::WaitStatus::Exited(_, 0)),
        "the wizard's deploy exits 0: {status:?}"
    );

    // The file validates with core's load and says what was answered.
    let text = read(&path);
    let today = chrono::Utc::now().date_naive();
    let valid = bucketdrive_core::config::load("bucketdrive.yaml", &text, today)
        .unwrap_or_else(|e| panic!("{}\n{text}", e.render(false)));
    let c = &valid.config;
    assert_eq!(c.stack, stack);
    assert_eq!(c.region, "us-east-1");
    let buckets: Vec<(&str, bool)> = c
        .buckets
        .iter()
        .map(|b| (b.name.as_str(), b.create))
        .collect();
    assert_eq!(
        buckets,
        [(existing.as_str(), false), (created.as_str(), true)],
        "{text}"
    );
    assert_eq!(c.identity.mfa, bucketdrive_core::config::Mfa::Off);
    assert_eq!(c.downloads.url_ttl, "15m");
    assert_eq!(c.audit.retention_days, 30);
    assert_eq!(c.admins, ["admins"]);
    let staff = &c.groups["staff"];
    assert_eq!(staff.grants.len(), 2, "{text}");
    assert!(text.contains("access: read-write"), "{text}");

    // It is deployed, and the first admin was invited into `admins`.
    let users = run(&[
        "users",
        "list",
        "-c",
        path.to_str().unwrap(),
        "--group",
        "admins",
        "--output",
        "json",
    ]);
    users.expect(0);
    assert!(users.stdout.contains(&admin), "{}", users.stdout);
}

#[test]
fn without_a_terminal_missing_answers_name_their_flags_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bucketdrive.yaml");
    let p = path.to_str().unwrap();
    let r = run_with(cli(None), &["deploy", "-c", p, "--stack", "acme-files"]);
    r.expect(1);
    for flag in ["--bucket", "--grant", "--admin-email"] {
        assert!(r.stderr.contains(flag), "names {flag}: {}", r.stderr);
    }
    assert!(
        !r.stderr.contains("--stack NAME"),
        "--stack was given: {}",
        r.stderr
    );
    assert!(!path.exists(), "nothing is written");

    // Without a region anywhere, the region flag is named too.
    let mut no_region = cli(None);
    no_region.env_remove("AWS_REGION");
    let r = run_with(no_region, &["init", "-c", p]);
    r.expect(1);
    assert!(r.stderr.contains("--region"), "{}", r.stderr);

    // A bad answer is refused with the flag that carries it.
    let r = run_with(cli(None), &["init", "-c", p, "--grant", "finance:s3://x/"]);
    r.expect(1);
    assert!(r.stderr.contains("--grant"), "{}", r.stderr);

    // Every answer as a flag: the file is written without a question, and it validates.
    let r = run_with(
        cli(None),
        &[
            "init",
            "-c",
            p,
            "--region",
            "eu-west-1",
            "--stack",
            "acme-files",
            "--bucket",
            "company-reports",
            "--create-bucket",
            "acme-partner-drop",
            "--grant",
            "finance=s3://company-reports/quarterly/",
            "--grant",
            "engineering=read-write:s3://acme-partner-drop/incoming/",
            "--admin-group",
            "it-admins",
            "--mfa",
            "required",
            "--no-idp",
            "--url-ttl",
            "5m",
            "--audit-retention-days",
            "365",
            "--output",
            "json",
        ],
    );
    r.expect(0);
    assert_eq!(r.json()["groups"], 3, "{}", r.stdout);
    let v = run_with(cli(None), &["validate", "-c", p, "--output", "json"]);
    v.expect(0);
    assert_eq!(v.json()["stack"], "acme-files");
    // A second init does not overwrite it.
    let again = run_with(cli(None), &["init", "-c", p, "--stack", "x"]);
    again.expect(1);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    // And an existing file makes the wizard's flags an error for deploy.
    let d = run_with(cli(None), &["deploy", "-c", p, "--stack", "other"]);
    d.expect(1);
    assert!(d.stderr.contains("wizard"), "{}", d.stderr);
}

/// Runs `args` in a pty, answers `prompt` with `reply`, and returns the exit code.
fn in_terminal(args: &[&str], prompt: &str, reply: &str) -> i32 {
    let mut cmd = cli(Some(emulator().endpoint()));
    cmd.env("TERM", "xterm")
        .stdin(std::process::Stdio::inherit())
        .args(args);
    let mut p = Session::spawn(cmd).expect("a pty");
    p.set_expect_timeout(Some(Duration::from_secs(120)));
    answer(&mut p, prompt, reply);
    p.expect(Eof).unwrap();
    match p.get_process().wait().unwrap() {
        expectrl::process::unix::WaitStatus::Exited(_, code) => code,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn in_a_terminal_deploy_asks_before_changing_and_destroy_wants_the_stack_name_typed() {
    let f = Fixture::new("bd-ask");
    f.deploy();
    // A change, declined at the prompt: exit 4, nothing deployed.
    std::fs::write(
        &f.config,
        f.text()
            .replace("\nadmins:", "\ndownloads:\n  url_ttl: 20m\n\nadmins:"),
    )
    .unwrap();
    let code = in_terminal(&["deploy", "-c", f.path()], "Deploy these changes", "n");
    assert_eq!(code, 4, "declined");
    run(&["plan", "-c", f.path()]).expect(2);

    // destroy: a wrong name declines (exit 4) and keeps the stack; the right one deletes it.
    let code = in_terminal(
        &["destroy", "-c", f.path()],
        "Type the stack name",
        "not-the-stack\r",
    );
    assert_eq!(code, 4, "a wrong name declines");
    run(&["status", "-c", f.path()]).expect(0);
    let code = in_terminal(
        &["destroy", "-c", f.path()],
        "Type the stack name",
        &format!("{}\r", f.stack),
    );
    assert_eq!(code, 0);
    run(&["status", "-c", f.path()]).expect(1);
}
