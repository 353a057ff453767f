//! `bucketdrive local up`: from nothing (its own emulator) and against a running one; working
//! credentials; a second `up` is idempotent.

use std::path::PathBuf;

use bucketdrive_tests::check_health;

use crate::common::*;

/// Runs `local down --state-dir DIR` when dropped, so a failing test stops what it started.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = run_with(
            cli(None),
            &[
                "local",
                "down",
                "--state-dir",
                self.0.to_str().unwrap_or_default(),
            ],
        );
    }
}

/// Signs in with what `local up` printed and downloads a readable sample; a hidden one is refused.
async fn credentials_work(info: &serde_json::Value) {
    let endpoint = info["endpoint_url"].as_str().unwrap();
    let client = info["client_id"].as_str().unwrap();
    let token = sign_in_at(
        endpoint,
        client,
        info["username"].as_str().unwrap(),
        info["password"].as_str().unwrap(),
    )
    .await
    .unwrap_or_else(|e| panic!("the printed credentials sign in: {e}"));
    let api = Api::new(endpoint, info["api_url"].as_str().unwrap());
    let readable = info["readable_files"][0].as_str().unwrap();
    let (status, url) = api.download(&token, readable).await;
    assert_eq!(status, 200, "{readable}");
    let (status, body) = fetch(&url.unwrap()).await;
    assert_eq!(status, 200);
    assert!(body.contains("Welcome to BucketDrive"), "{body}");
    let hidden = info["hidden_files"][0].as_str().unwrap();
    assert_eq!(api.download(&token, hidden).await.0, 403, "{hidden}");
}

#[tokio::test]
async fn local_up_against_a_running_emulator_prints_working_credentials_and_is_idempotent() {
    let f = Fixture::new("bd-loc");
    let state = f.dir.path().join("local");
    let state_arg = state.to_str().unwrap();
    let shared = emulator().endpoint();
    let up = run_with(
        cli(None),
        &[
            "local",
            "up",
            "-c",
            f.path(),
            "--endpoint-url",
            shared,
            "--state-dir",
            state_arg,
            "--output",
            "json",
        ],
    );
    up.expect(0);
    let first = up.json();
    assert_eq!(first["endpoint_url"], shared, "{first:#}");
    assert_eq!(first["external_emulator"], true);
    credentials_work(&first).await;

    // Again, this time with AWS_ENDPOINT_URL: nothing to deploy, fresh passwords.
    let again = run(&[
        "local",
        "up",
        "-c",
        f.path(),
        "--state-dir",
        state_arg,
        "--output",
        "json",
    ]);
    again.expect(0);
    let second = again.json();
    assert!(
        second["stack_result"]
            .as_str()
            .unwrap_or_default()
            .contains("no changes"),
        "{second:#}"
    );
    assert_ne!(
        first["password"], second["password"],
        "each `up` sets fresh passwords"
    );
    credentials_work(&second).await;
    let old = sign_in_at(
        shared,
        first["client_id"].as_str().unwrap(),
        first["username"].as_str().unwrap(),
        first["password"].as_str().unwrap(),
    )
    .await;
    assert!(old.is_err(), "the old password no longer works");

    let status = run(&[
        "local",
        "status",
        "--state-dir",
        state_arg,
        "--output",
        "json",
    ]);
    status.expect(0);
    assert_eq!(status.json()["running"], true, "{}", status.stdout);
    // `down` leaves an emulator it did not start alone.
    let down = run(&["local", "down", "--state-dir", state_arg]);
    down.expect(0);
    assert!(down.stdout.contains("left running"), "{}", down.stdout);
    check_health(shared).expect("the shared emulator still runs");
}

#[tokio::test]
async fn local_up_from_nothing_starts_its_own_emulator_and_local_down_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("local");
    let state_arg = state.to_str().unwrap().to_owned();
    let _down = Down(state.clone());
    let up = run_with(
        cli(None),
        &["local", "up", "--state-dir", &state_arg, "--output", "json"],
    );
    up.expect(0);
    let info = up.json();
    let endpoint = info["endpoint_url"].as_str().unwrap().to_owned();
    assert_ne!(
        endpoint,
        emulator().endpoint(),
        "it started an emulator of its own"
    );
    assert_eq!(info["external_emulator"], false);
    assert_eq!(info["stack"], "bucketdrive-quickstart");
    credentials_work(&info).await;
    let text = run_with(cli(None), &["local", "status", "--state-dir", &state_arg]);
    text.expect(0);
    assert!(text.stdout.contains(&endpoint), "{}", text.stdout);

    let down = run_with(cli(None), &["local", "down", "--state-dir", &state_arg]);
    down.expect(0);
    assert!(check_health(&endpoint).is_err(), "the emulator is stopped");
    let status = run_with(cli(None), &["local", "status", "--state-dir", &state_arg]);
    status.expect(1);
}
