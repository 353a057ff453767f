//! `bucketdrive users …`: invite, disable, enable, remove — and what each does to signing in
//! and to tokens already issued.

use std::time::Duration;

use bucketdrive_tests::unique_name;

use crate::common::*;

#[tokio::test]
async fn disable_and_remove_stop_sign_in_and_refuse_tokens_already_issued_within_60s() {
    let f = Fixture::new("bd-usr");
    let d = f.deploy();
    let pool = d.output("UserPoolId").to_owned();
    let client = d.output("UserPoolClientId").to_owned();
    let api = d.api();
    let email = format!("{}@example.com", unique_name("person"));

    let r = run(&[
        "users",
        "invite",
        &email,
        "--group",
        "staff",
        "-c",
        f.path(),
        "--output",
        "json",
    ]);
    r.expect(0);
    assert_eq!(r.json()["action"], "invited", "{}", r.stdout);
    let g = run(&[
        "users",
        "groups",
        &email,
        "-c",
        f.path(),
        "--output",
        "json",
    ]);
    g.expect(0);
    assert_eq!(g.json()["groups"], serde_json::json!(["staff"]));
    // The invitation carries a temporary password by email; set a permanent one to sign in.
    let password = password();
    set_password(&pool, &email, &password).await;
    let token = sign_in(&client, &email, &password).await.unwrap();
    assert_eq!(api.get(&token, "/api/me").await.0, 200);

    // Disabled: no new sign-in, and the token issued before is refused within 60 s.
    run(&["users", "disable", &email, "-c", f.path()]).expect(0);
    let refused = sign_in(&client, &email, &password).await.unwrap_err();
    assert!(refused.contains("disabled"), "{refused}");
    let took = within(Duration::from_secs(60), || async {
        api.get(&token, "/api/me").await.0 == 401
    })
    .await;
    assert!(
        took.is_some(),
        "a token issued before `disable` is refused within 60 s"
    );
    eprintln!("disable effective after {took:?}");
    let listed = run(&["users", "list", "-c", f.path(), "--output", "json"]);
    listed.expect(0);
    let me = listed.json()["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email.as_str())
        .cloned()
        .unwrap();
    assert_eq!(me["enabled"], false);

    // Enabled again: a new sign-in works (tokens issued in the second of the revocation stay
    // refused, so wait for a token the API takes).
    run(&["users", "enable", &email, "-c", f.path()]).expect(0);
    let started = std::time::Instant::now();
    let fresh = loop {
        if let Ok(t) = sign_in(&client, &email, &password).await
            && api.get(&t, "/api/me").await.0 == 200
        {
            break t;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "an enabled user signs in again"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // Removing needs --yes without a terminal.
    let r = run(&["users", "remove", &email, "-c", f.path()]);
    r.expect(1);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    run(&["users", "remove", &email, "-c", f.path(), "--yes"]).expect(0);
    assert!(sign_in(&client, &email, &password).await.is_err());
    let took = within(Duration::from_secs(60), || async {
        api.get(&fresh, "/api/me").await.0 == 401
    })
    .await;
    assert!(
        took.is_some(),
        "a token of a removed user is refused within 60 s"
    );
    let listed = run(&["users", "list", "-c", f.path(), "--output", "json"]);
    assert!(!listed.stdout.contains(&email), "{}", listed.stdout);
    let unknown = run(&["users", "disable", &email, "-c", f.path()]);
    unknown.expect(1);
    assert!(unknown.stderr.contains(&email), "{}", unknown.stderr);

    // Each change is an audit record made by the CLI, with the caller as the actor.
    let audit = emulator().dynamodb().await;
    let items = audit
        .scan()
        .table_name(d.output("AuditTableName"))
        .send()
        .await
        .unwrap();
    let user_changes = items
        .items()
        .iter()
        .filter(|i| {
            i.get("action")
                .and_then(|a| a.as_s().ok())
                .map(String::as_str)
                == Some("user-change")
        })
        .count();
    assert_eq!(user_changes, 4, "invite, disable, enable, remove");
}
