//! `bucketdrive guests …`: a guest is a real account whose personal group holds one grant with
//! an end; they download inside it, are refused outside it, are refused once it ends (without
//! any cleanup job), and `revoke` ends it at once.

use std::time::Duration;

use bucketdrive_tests::unique_name;
use serde_json::Value;

use crate::common::*;

fn guests(f: &Fixture) -> Vec<Value> {
    let r = run(&["guests", "list", "-c", f.path(), "--output", "json"]);
    r.expect(0);
    r.json()["guests"].as_array().cloned().unwrap_or_default()
}

fn guest<'a>(list: &'a [Value], email: &str) -> &'a Value {
    list.iter()
        .find(|g| g["email"] == email)
        .unwrap_or_else(|| panic!("{email} is not listed: {list:#?}"))
}

#[tokio::test]
async fn a_guest_downloads_inside_the_grant_only_until_it_ends_or_is_revoked() {
    let f = Fixture::new("bd-gst");
    let d = f.deploy();
    let b = f.bucket.clone();
    put_object(&b, "partners/pat/brief.pdf", "brief").await;
    put_object(&b, "partners/other/plan.pdf", "plan").await;
    put_object(&b, "reports/q3.csv", "q3").await;
    let pool = d.output("UserPoolId").to_owned();
    let client = d.output("UserPoolClientId").to_owned();
    let api = d.api();

    // Refused before anything is created: outside the declared buckets, past, too far.
    let pat = format!("{}@partner.example", unique_name("pat"));
    let in_30_days = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let outside = run(&[
        "guests",
        "invite",
        &pat,
        "--path",
        "s3://not-declared-bucket/x/",
        "--until",
        &in_30_days,
        "-c",
        f.path(),
    ]);
    outside.expect(1);
    assert!(
        outside.stderr.contains("not declared"),
        "{}",
        outside.stderr
    );
    let past = run(&[
        "guests",
        "invite",
        &pat,
        "--path",
        &format!("s3://{b}/partners/pat/"),
        "--until",
        "2020-01-01",
        "-c",
        f.path(),
    ]);
    past.expect(1);
    assert!(
        past.stderr.contains("has already passed"),
        "{}",
        past.stderr
    );
    let far = (chrono::Utc::now() + chrono::Duration::days(120))
        .format("%Y-%m-%d")
        .to_string();
    let too_far = run(&[
        "guests",
        "invite",
        &pat,
        "--path",
        &format!("s3://{b}/partners/pat/"),
        "--until",
        &far,
        "-c",
        f.path(),
    ]);
    too_far.expect(1);
    assert!(too_far.stderr.contains("90 days"), "{}", too_far.stderr);
    assert!(guests(&f).is_empty());

    // Invited: a real account in a personal group with one grant.
    let r = run(&[
        "guests",
        "invite",
        &pat,
        "--path",
        &format!("s3://{b}/partners/pat/"),
        "--until",
        &in_30_days,
        "-c",
        f.path(),
        "--output",
        "json",
    ]);
    r.expect(0);
    let group = r.json()["groups"][0].as_str().unwrap().to_owned();
    assert!(group.starts_with("guest-"), "{}", r.stdout);
    let pw = password();
    set_password(&pool, &pat, &pw).await;
    let token = sign_in(&client, &pat, &pw).await.unwrap();
    let (status, me) = api.get(&token, "/api/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["groups"], serde_json::json!([group]));
    let (status, url) = api
        .download(&token, &format!("s3://{b}/partners/pat/brief.pdf"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(fetch(&url.unwrap()).await, (200, "brief".to_owned()));
    for outside in ["partners/other/plan.pdf", "reports/q3.csv"] {
        assert_eq!(
            api.download(&token, &format!("s3://{b}/{outside}")).await.0,
            403,
            "{outside} is outside the guest's grant"
        );
    }
    let listed = guests(&f);
    let g = guest(&listed, &pat);
    assert_eq!(g["path"], format!("s3://{b}/partners/pat/"));
    assert_eq!(g["until"], in_30_days.as_str());
    assert_eq!(
        (g["expired"].as_bool(), g["enabled"].as_bool()),
        (Some(false), Some(true))
    );
    // Guest groups are not drift: plan stays in sync, apply leaves them alone.
    run(&["plan", "-c", f.path()]).expect(0);
    // A second invitation of the same guest is refused (revoke first).
    let again = run(&[
        "guests",
        "invite",
        &pat,
        "--path",
        &format!("s3://{b}/partners/"),
        "--until",
        &in_30_days,
        "-c",
        f.path(),
    ]);
    again.expect(1);
    assert!(again.stderr.contains("already a guest"), "{}", again.stderr);

    // A grant that ends in a few seconds: access ends by itself at that instant.
    let sam = format!("{}@partner.example", unique_name("sam"));
    let ends_text = (chrono::Utc::now() + chrono::Duration::seconds(20))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let ends = chrono::DateTime::parse_from_rfc3339(&ends_text).unwrap();
    run(&[
        "guests",
        "invite",
        &sam,
        "--path",
        &format!("s3://{b}/partners/pat/"),
        "--until",
        &ends_text,
        "-c",
        f.path(),
    ])
    .expect(0);
    let spw = password();
    set_password(&pool, &sam, &spw).await;
    let sam_token = sign_in(&client, &sam, &spw).await.unwrap();
    let brief = format!("s3://{b}/partners/pat/brief.pdf");
    assert!(
        chrono::Utc::now() < ends,
        "the test was too slow to see the grant live"
    );
    assert_eq!(
        api.download(&sam_token, &brief).await.0,
        200,
        "before --until"
    );
    let took = within(Duration::from_secs(60), || async {
        api.download(&sam_token, &brief).await.0 == 403
    })
    .await;
    assert!(took.is_some(), "refused after --until");
    assert!(
        chrono::Utc::now() >= ends,
        "refused only once the grant has ended"
    );
    eprintln!("expired grant refused {took:?} after polling started");
    let listed = guests(&f);
    assert_eq!(guest(&listed, &sam)["expired"], true);

    // Revoked: refused within seconds, cannot sign in, no longer listed, and recorded.
    let r = run(&["guests", "revoke", &pat, "-c", f.path(), "--output", "json"]);
    r.expect(0);
    let took = within(Duration::from_secs(60), || async {
        api.download(&token, &format!("s3://{b}/partners/pat/brief.pdf"))
            .await
            .0
            != 200
    })
    .await;
    assert!(took.is_some(), "a revoked guest is refused within 60 s");
    eprintln!("revoke effective after {took:?}");
    assert!(
        sign_in(&client, &pat, &pw)
            .await
            .unwrap_err()
            .contains("disabled")
    );
    let listed = guests(&f);
    assert!(
        listed.iter().all(|g| g["email"] != pat.as_str()),
        "{listed:#?}"
    );
    let not_guest = run(&["guests", "revoke", &pat, "-c", f.path()]);
    not_guest.expect(1);
    assert!(
        not_guest.stderr.contains("is not a guest"),
        "{}",
        not_guest.stderr
    );
    let groups = run(&["groups", "list", "-c", f.path(), "--output", "json"]);
    assert!(
        groups.json().get("not_in_config").is_none(),
        "{}",
        groups.stdout
    );

    let changes = run(&[
        "audit",
        "query",
        "-c",
        f.path(),
        "--action",
        "user-change",
        "--output",
        "json",
    ]);
    changes.expect(0);
    let details: Vec<String> = changes.json()["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["detail"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("guests: invited") && d.contains(&pat)),
        "{details:#?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains("guests: revoked") && d.contains(&pat)),
        "{details:#?}"
    );
}
