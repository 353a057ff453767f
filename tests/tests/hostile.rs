//! Hostile input against a deployed stack on the emulator: keys that look like path syntax,
//! encodings, Unicode look-alikes, forged tokens, replayed cursors, out-of-range TTLs, admin
//! routes, oversized and malformed bodies.
//!
//! Every refusal is checked three ways: the status and the JSON error body (`error`, `message`,
//! `request_id`, never a `url`), an audit row with that `request_id` saying `deny` with that
//! status (read through the `by-user` index, or `by-day` for requests whose token could not be
//! trusted), and no answer ever carries a URL for a key outside the caller's grants.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bucketdrive_tests::probe::{self, Row, attr, number};
use bucketdrive_tests::stack::{Answer, Api, Deployed, encode};
use bucketdrive_tests::{Emulator, unique_name};
use serde_json::{Value, json};

/// A deployed quickstart stack (`staff` reads `reports/`, writes `incoming/`), one signed-in
/// staff member, and what they were refused.
struct Probe {
    emulator: &'static Emulator,
    d: Deployed,
    api: Api,
    sub: String,
    token: String,
    /// (request_id, status) of every refusal, checked against the audit log at the end.
    refusals: Vec<(String, u16, String)>,
}

impl Probe {
    async fn new() -> Probe {
        let emulator = Emulator::shared().unwrap();
        let d = Deployed::quickstart(emulator).unwrap();
        let email = format!("{}@example.com", unique_name("mallory"));
        let pw = d.user(emulator, &email, &["staff"]).await.unwrap();
        let (token, _) = d.sign_in(emulator, &email, &pw).await.unwrap();
        let api = d.api(&token).unwrap();
        let me = api.get("/api/me").await.unwrap();
        assert_eq!(me.status, 200, "{:?}", me.body);
        let sub = me.body["sub"].as_str().unwrap().to_owned();
        Probe {
            emulator,
            d,
            api,
            sub,
            token,
            refusals: Vec::new(),
        }
    }

    fn bucket(&self) -> &str {
        &self.d.bucket
    }

    fn s3(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.d.bucket)
    }

    async fn put(&self, key: &str, body: &str) {
        self.emulator
            .s3()
            .await
            .put_object()
            .bucket(&self.d.bucket)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }

    /// No answer may carry a URL for an object outside `reports/` (read) or `incoming/` (write).
    fn assert_no_url_outside_grants(&self, what: &str, a: &Answer) {
        let Some(url) = a.body.get("url").and_then(Value::as_str) else {
            return;
        };
        let path = url
            .split('?')
            .next()
            .unwrap()
            .split_once(&format!("/{}/", self.bucket()))
            .map(|(_, k)| k.to_owned())
            .unwrap_or_default();
        assert!(
            path.starts_with("reports/") || path.starts_with("incoming/"),
            "{what}: a URL outside the grants: {url}"
        );
    }

    /// Asserts a refusal: status, JSON error body, no URL. Remembers it for the audit check.
    fn refused(&mut self, what: &str, a: &Answer, status: u16, code: &str) {
        assert_eq!(a.status, status, "{what}: {:?}", a.body);
        assert_eq!(a.body["error"], code, "{what}: {:?}", a.body);
        assert!(
            a.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: no message: {:?}",
            a.body
        );
        assert!(a.body.get("url").is_none(), "{what}: a URL in a refusal");
        assert!(
            !a.body.to_string().contains("X-Amz-Signature"),
            "{what}: a signature in a refusal"
        );
        let id = a.body["request_id"]
            .as_str()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| panic!("{what}: no request_id: {:?}", a.body))
            .to_owned();
        self.refusals.push((id, status, what.to_owned()));
    }

    async fn download(&self, path: &str) -> Answer {
        let a = self
            .api
            .post("/api/download", &json!({ "path": path }))
            .await
            .unwrap();
        self.assert_no_url_outside_grants(path, &a);
        a
    }

    async fn ls(&self, raw_query: &str) -> Answer {
        self.api.get(&format!("/api/ls?{raw_query}")).await.unwrap()
    }

    /// POSTs a raw body (not necessarily JSON) to an API route.
    async fn post_raw(&self, route: &str, body: Vec<u8>, content_type: &str) -> Answer {
        let resp = self
            .api
            .client
            .post(format!("{}{route}", self.api.base))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    /// Every refusal has its audit row: same request_id, `deny`, same status.
    async fn assert_refusals_audited(&self) {
        let rows: Vec<Row> = probe::audit_by_user(self.emulator, &self.d, &self.sub)
            .await
            .unwrap();
        eprintln!(
            "{} refusals, {} audit rows for the caller",
            self.refusals.len(),
            rows.len()
        );
        for (id, status, what) in &self.refusals {
            let mine: Vec<&Row> = rows
                .iter()
                .filter(|r| attr(r, "request_id") == id)
                .collect();
            assert!(
                mine.iter().any(|r| attr(r, "outcome") == "deny"
                    && number(r, "status") == Some(i64::from(*status))),
                "{what}: no `deny` audit row with status {status} for request {id}: {mine:?}"
            );
        }
    }
}

#[tokio::test]
async fn keys_that_look_like_path_syntax_are_refused_and_audited() {
    let mut p = Probe::new().await;
    p.put("reports/a.txt", "a").await;
    p.put("reports-private/secret.txt", "secret").await;
    p.put("reports", "an object named like the folder").await;

    // Prefix confusion: `reports/` never covers `reports-private/` nor the key `reports`.
    for key in ["reports-private/secret.txt", "reports"] {
        let a = p.download(&p.s3(key)).await;
        p.refused(key, &a, 403, "forbidden");
    }
    let a = p
        .ls(&format!("path={}", encode(&p.s3("reports-private/"))))
        .await;
    p.refused("ls reports-private/", &a, 403, "forbidden");

    // Path syntax in JSON bodies: refused as it is written, never resolved.
    let long = format!("reports/{}.txt", "x".repeat(1020));
    let bad_keys: Vec<(&str, String)> = vec![
        ("dot-dot", "reports/../reports-private/secret.txt".into()),
        ("dot", "reports/./a.txt".into()),
        ("empty segment", "reports//a.txt".into()),
        ("leading slash", "/reports/a.txt".into()),
        (
            "backslash",
            "reports\\..\\reports-private\\secret.txt".into(),
        ),
        ("NUL", "reports/a\u{0}.txt".into()),
        ("newline", "reports/a\n.txt".into()),
        ("tab", "reports/\ta.txt".into()),
        ("DEL", "reports/a\u{7f}.txt".into()),
        ("C1 NEL", "reports/a\u{85}.txt".into()),
        ("over 1024 bytes", long.clone()),
        ("trailing slash", "reports/".into()),
    ];
    for (what, key) in &bad_keys {
        let a = p.download(&p.s3(key)).await;
        p.refused(what, &a, 400, "bad-request");
    }
    let a = p.download("s3://a/reports/a.txt").await;
    p.refused("bucket name too short", &a, 400, "bad-request");
    let a = p.download("https://example.com/reports/a.txt").await;
    p.refused("not an s3:// path", &a, 400, "bad-request");

    // The same in the ls query string (decoded exactly once).
    let bad_ls = [
        ("ls dot-dot", encode(&p.s3("reports/../reports-private/"))),
        (
            "ls encoded dot-dot",
            format!(
                "s3%3A%2F%2F{}%2Freports%2F%2e%2e%2Freports-private%2F",
                p.bucket()
            ),
        ),
        ("ls empty segment", encode(&p.s3("reports//"))),
        ("ls leading slash", encode(&p.s3("/reports/"))),
        ("ls backslash", format!("s3://{}/reports%5C", p.bucket())),
        ("ls NUL", format!("s3://{}/reports/%00/", p.bucket())),
        ("ls not UTF-8", format!("s3://{}/reports/%FF/", p.bucket())),
        (
            "ls over 1024 bytes",
            encode(&p.s3(&format!("reports/{}/", "y".repeat(1020)))),
        ),
    ];
    for (what, value) in &bad_ls {
        let a = p.ls(&format!("path={value}")).await;
        p.refused(what, &a, 400, "bad-request");
    }
    let a = p
        .ls(&format!(
            "path={}&path={}",
            encode(&p.s3("reports/")),
            encode(&p.s3("reports-private/"))
        ))
        .await;
    p.refused("ls path given twice", &a, 400, "bad-request");
    let a = p
        .ls(&format!("path={}&limit=100000", encode(&p.s3("reports/"))))
        .await;
    p.refused("ls limit out of range", &a, 400, "bad-request");

    // Wrong method on a real route.
    let a = p.api.get("/api/download").await.unwrap();
    p.refused("GET /api/download", &a, 405, "method-not-allowed");

    p.assert_refusals_audited().await;
}

#[tokio::test]
async fn encoded_keys_are_literal_and_unicode_forms_are_distinct_objects() {
    let mut p = Probe::new().await;
    p.put("reports-private/secret.txt", "secret").await;
    // S3 keys are bytes: a key with `%2e%2e` in it is just a name.
    p.put("reports/%2e%2e/literal.txt", "literally named").await;
    let nfc = "reports/caf\u{e9}.txt";
    let nfd = "reports/cafe\u{301}.txt";
    p.put(nfc, "nfc bytes").await;

    // Percent-encoding in a JSON body is not decoded: these name keys under reports/ that do
    // not exist (404, allowed then not found), or keys outside it (403). Never the secret.
    for (key, status, code) in [
        (
            "reports/%2e%2e/reports-private/secret.txt",
            404,
            "not-found",
        ),
        (
            "reports/%252e%252e/reports-private/secret.txt",
            404,
            "not-found",
        ),
        (
            "reports%2F..%2Freports-private/secret.txt",
            403,
            "forbidden",
        ),
        (
            "reports%2f%2e%2e%2freports-private%2fsecret.txt",
            403,
            "forbidden",
        ),
    ] {
        let a = p.download(&p.s3(key)).await;
        p.refused(key, &a, status, code);
    }
    // The literal key is served, and the URL fetches exactly that object.
    let a = p.download(&p.s3("reports/%2e%2e/literal.txt")).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let fetched = reqwest::get(a.body["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.text().await.unwrap(), "literally named");

    // Double-encoded in the query string: decoded once, so it is a literal `%2e%2e` folder
    // under reports/ (allowed, empty of anything secret), never `..`.
    let a = p
        .ls(&format!(
            "path=s3%3A%2F%2F{}%2Freports%2F%252e%252e%2F",
            p.bucket()
        ))
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["path"], p.s3("reports/%2e%2e/"));
    let names: Vec<&str> = a.body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(names, [p.s3("reports/%2e%2e/literal.txt")]);

    // NFC stored; NFD asked: a different key (404), with no normalisation anywhere.
    let a = p.download(&p.s3(nfd)).await;
    p.refused("NFD of an NFC name", &a, 404, "not-found");
    let a = p.download(&p.s3(nfc)).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let fetched = reqwest::get(a.body["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(fetched.text().await.unwrap(), "nfc bytes");
    let listed = p.ls(&format!("path={}", encode(&p.s3("reports/")))).await;
    assert!(
        listed.body["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "caf\u{e9}.txt"),
        "{:?}",
        listed.body
    );

    // Upload under an NFD name: the object is stored under exactly those bytes.
    let content = "nfd upload";
    let up = p
        .api
        .post(
            "/api/upload",
            &json!({"path": p.s3("incoming/cafe\u{301}.txt"), "size": content.len(), "content_type": "text/plain"}),
        )
        .await
        .unwrap();
    assert_eq!(up.status, 200, "{:?}", up.body);
    p.assert_no_url_outside_grants("upload NFD", &up);
    let put = reqwest::Client::new()
        .put(up.body["url"].as_str().unwrap())
        .header("content-type", "text/plain")
        .body(content)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let s3 = p.emulator.s3().await;
    assert!(
        s3.head_object()
            .bucket(p.bucket())
            .key("incoming/cafe\u{301}.txt")
            .send()
            .await
            .is_ok()
    );
    assert!(
        s3.head_object()
            .bucket(p.bucket())
            .key("incoming/caf\u{e9}.txt")
            .send()
            .await
            .is_err(),
        "the NFD upload was stored under the NFC name"
    );

    p.assert_refusals_audited().await;
}

#[tokio::test]
async fn cursors_ttls_admin_routes_and_bodies_are_refused_and_audited() {
    let mut p = Probe::new().await;
    for i in 0..3 {
        p.put(&format!("reports/page/p{i}.txt"), "p").await;
        p.put(&format!("reports/other/o{i}.txt"), "o").await;
    }
    p.put("reports/a.txt", "a").await;
    p.put("reports-private/secret.txt", "secret").await;

    // A cursor from one folder replayed on another.
    let first = p
        .ls(&format!("path={}&limit=1", encode(&p.s3("reports/page/"))))
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let cursor = first.body["cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let second = p
        .ls(&format!(
            "path={}&limit=1&cursor={}",
            encode(&p.s3("reports/page/")),
            encode(&cursor)
        ))
        .await;
    assert_eq!(second.status, 200, "the cursor works where it was issued");
    assert_ne!(second.body["files"], first.body["files"]);
    let a = p
        .ls(&format!(
            "path={}&limit=1&cursor={}",
            encode(&p.s3("reports/other/")),
            encode(&cursor)
        ))
        .await;
    p.refused("cursor replayed on another folder", &a, 400, "bad-request");
    let a = p
        .ls(&format!(
            "path={}&cursor={}",
            encode(&p.s3("reports-private/")),
            encode(&cursor)
        ))
        .await;
    // The folder is refused before the cursor is even read.
    p.refused("cursor replayed on a refused folder", &a, 403, "forbidden");
    // A forged cursor naming the refused folder, used where it claims to belong: still 403.
    let forged = probe::b64url(
        json!({"p": p.s3("reports-private/"), "t": "reports-private/secret.txt"})
            .to_string()
            .as_bytes(),
    );
    let a = p
        .ls(&format!(
            "path={}&cursor={forged}",
            encode(&p.s3("reports-private/"))
        ))
        .await;
    p.refused("forged cursor for a refused folder", &a, 403, "forbidden");
    // A forged cursor for a granted folder whose S3 token points outside it: the listing stays
    // inside the folder's own prefix.
    let forged = probe::b64url(
        json!({"p": p.s3("reports/"), "t": "reports-private/secret.txt"})
            .to_string()
            .as_bytes(),
    );
    let a = p
        .ls(&format!(
            "path={}&cursor={forged}",
            encode(&p.s3("reports/"))
        ))
        .await;
    eprintln!("forged S3 continuation token: {} {}", a.status, a.body);
    if a.status == 200 {
        let all = a.body.to_string();
        assert!(!all.contains("reports-private"), "{all}");
    } else {
        p.refused(
            "forged S3 token",
            &a,
            a.status,
            a.body["error"].as_str().unwrap_or(""),
        );
    }
    for garbage in ["not-base64!", "e30", &"A".repeat(5000)] {
        let a = p
            .ls(&format!(
                "path={}&cursor={}",
                encode(&p.s3("reports/")),
                encode(garbage)
            ))
            .await;
        p.refused("garbage cursor", &a, 400, "bad-request");
    }

    // TTLs outside 1..url_ttl (600 s in the quickstart) are refused, not silently clamped.
    for ttl in [
        json!(601),
        json!(3601),
        json!(86_400 * 7),
        json!(0),
        json!(-1),
        json!(1.5),
        json!("600"),
    ] {
        let a = p
            .api
            .post(
                "/api/download",
                &json!({"path": p.s3("reports/a.txt"), "ttl_seconds": ttl}),
            )
            .await
            .unwrap();
        p.assert_no_url_outside_grants("ttl", &a);
        p.refused(&format!("ttl_seconds {ttl}"), &a, 400, "bad-request");
    }
    let ok = p
        .api
        .post(
            "/api/download",
            &json!({"path": p.s3("reports/a.txt"), "ttl_seconds": 60}),
        )
        .await
        .unwrap();
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert!(ok.body["ttl_seconds"].as_i64().unwrap() <= 60);

    // Admin routes by a non-admin, whatever the filter.
    for q in [
        "",
        "?user=someone-else",
        "?path=s3%3A%2F%2Fx%2F",
        "?limit=1000",
    ] {
        let a = p.api.get(&format!("/api/audit{q}")).await.unwrap();
        p.refused(&format!("audit read {q}"), &a, 403, "forbidden");
    }

    // Bodies: too large, malformed, the wrong shape.
    let huge = format!(
        "{{\"path\":\"{}\",\"pad\":\"{}\"}}",
        p.s3("reports/a.txt"),
        "x".repeat(17 * 1024)
    );
    let a = p
        .post_raw("/api/download", huge.into_bytes(), "application/json")
        .await;
    p.refused("17 KiB body", &a, 413, "too-large");
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        (
            "truncated JSON",
            br#"{"path": "s3://x/reports/a.txt""#.to_vec(),
        ),
        ("not JSON", b"path=s3://x/reports/a.txt".to_vec()),
        ("a JSON array", b"[\"s3://x/reports/a.txt\"]".to_vec()),
        (
            "unknown field",
            br#"{"path":"s3://x/reports/a.txt","admin":true}"#.to_vec(),
        ),
        (
            "path not a string",
            br#"{"path":["reports/a.txt"]}"#.to_vec(),
        ),
        ("empty body", Vec::new()),
        ("invalid UTF-8", b"{\"path\":\"\xff\xfe\"}".to_vec()),
        (
            "deep nesting",
            format!("{}{}", "[".repeat(2_000), "]".repeat(2_000)).into_bytes(),
        ),
        (
            "duplicate keys",
            format!(
                r#"{{"path":"{}","path":"{}"}}"#,
                p.s3("reports/a.txt"),
                p.s3("reports-private/secret.txt")
            )
            .into_bytes(),
        ),
    ];
    for (what, body) in malformed {
        let a = p.post_raw("/api/download", body, "application/json").await;
        p.assert_no_url_outside_grants(what, &a);
        p.refused(what, &a, 400, "bad-request");
    }

    p.assert_refusals_audited().await;
}

#[tokio::test]
async fn forged_and_altered_tokens_are_refused_at_the_gateway_and_by_the_function_itself() {
    let p = Probe::new().await;
    p.put("reports/a.txt", "a").await;
    let (header, payload, signature) = probe::jwt_parts(&p.token).unwrap();
    assert_eq!(header["alg"], "RS256");

    // The pool's public key, to use as an HMAC secret.
    let pool = p.d.output("UserPoolId").unwrap();
    let jwks: Value = reqwest::get(format!(
        "{}/{pool}/.well-known/jwks.json",
        p.emulator.endpoint()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's key is in the JWKS");
    let pem =
        probe::rsa_public_pem(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap()).unwrap();

    let mut none = header.clone();
    none["alg"] = json!("none");
    let mut hs = header.clone();
    hs["alg"] = json!("HS256");
    let mut admin = payload.clone();
    admin["cognito:groups"] = json!(["admins"]);
    let mut expired = payload.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    let mut extended = payload.clone();
    extended["exp"] = json!(chrono::Utc::now().timestamp() + 86_400 * 365);
    let mut unknown_kid = header.clone();
    unknown_kid["kid"] = json!("forged-kid");
    let mut other_issuer = payload.clone();
    other_issuer["iss"] = json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EVIL");

    let forged: Vec<(&str, String)> = vec![
        (
            "alg none, no signature",
            probe::jwt_join(&none, &payload, ""),
        ),
        ("alg none, admin groups", probe::jwt_join(&none, &admin, "")),
        (
            "HS256 signed with the public key (PEM)",
            probe::jwt_hs256(&hs, &admin, pem.as_bytes()),
        ),
        (
            "HS256 signed with the JWKS entry",
            probe::jwt_hs256(&hs, &payload, jwk.to_string().as_bytes()),
        ),
        (
            "payload altered: admin groups",
            probe::jwt_join(&header, &admin, &signature),
        ),
        (
            "payload altered: expired",
            probe::jwt_join(&header, &expired, &signature),
        ),
        (
            "payload altered: exp a year out",
            probe::jwt_join(&header, &extended, &signature),
        ),
        (
            "payload altered: issuer",
            probe::jwt_join(&header, &other_issuer, &signature),
        ),
        (
            "unknown kid",
            probe::jwt_join(&unknown_kid, &payload, &signature),
        ),
        ("signature stripped", probe::jwt_join(&header, &payload, "")),
        (
            "signature truncated",
            format!(
                "{}.{}",
                p.token.rsplit_once('.').unwrap().0,
                &signature[..signature.len() / 2]
            ),
        ),
        ("garbage", "not.a.jwt".to_owned()),
        ("two parts", p.token.rsplit_once('.').unwrap().0.to_owned()),
        ("oversized", format!("{}{}", p.token, "A".repeat(20_000))),
    ];

    let download = json!({"path": p.s3("reports/a.txt")}).to_string();
    for (what, token) in &forged {
        // Through API Gateway: its JWT authorizer, or the function behind it, refuses.
        let api = p.d.api(token).unwrap();
        match api
            .post("/api/download", &json!({"path": p.s3("reports/a.txt")}))
            .await
        {
            Ok(a) if *what == "oversized" && (400..500).contains(&a.status) => {
                assert!(a.body.get("url").is_none());
            }
            Ok(a) => {
                assert_eq!(a.status, 401, "{what} through the gateway: {:?}", a.body);
                assert!(
                    a.body.is_object(),
                    "{what}: not a JSON answer: {:?}",
                    a.body
                );
                assert!(a.body.get("url").is_none());
            }
            // A 20 KB header may be cut off by the HTTP server before anything answers.
            Err(e) => assert_eq!(*what, "oversized", "{what}: {e}"),
        }

        // Straight to the function (as if the front door were misconfigured): it verifies the
        // token itself, refuses with its JSON error, and audits the attempt.
        let request_id = unique_name("forged");
        let event = probe::api_event(
            "POST",
            "/api/download",
            "",
            Some(&format!("Bearer {token}")),
            Some(&download),
            &request_id,
        );
        let (status, body) = probe::invoke_api_function(p.emulator, &p.d, &event)
            .await
            .unwrap();
        assert_eq!(status, 401, "{what} direct: {body}");
        assert_eq!(body["error"], "unauthorized", "{what}: {body}");
        assert_eq!(body["request_id"], request_id.as_str());
        assert!(body.get("url").is_none());
        let rows = probe::audit_by_request(p.emulator, &p.d, &request_id)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{what}: one audit row: {rows:?}");
        assert_eq!(attr(&rows[0], "outcome"), "deny");
        assert_eq!(attr(&rows[0], "basis"), "invalid-token", "{what}");
        assert_eq!(number(&rows[0], "status"), Some(401));
        assert!(
            attr(&rows[0], "user_sub").is_empty(),
            "{what}: an unverified token's user was trusted: {rows:?}"
        );
    }

    // No token at all, straight to the function.
    let request_id = unique_name("anonymous");
    let event = probe::api_event(
        "POST",
        "/api/download",
        "",
        None,
        Some(&download),
        &request_id,
    );
    let (status, body) = probe::invoke_api_function(p.emulator, &p.d, &event)
        .await
        .unwrap();
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        probe::audit_by_request(p.emulator, &p.d, &request_id)
            .await
            .unwrap()
            .len(),
        1
    );

    // The genuine token still works directly, as a control.
    let request_id = unique_name("genuine");
    let event = probe::api_event(
        "POST",
        "/api/download",
        "",
        Some(&format!("Bearer {}", p.token)),
        Some(&download),
        &request_id,
    );
    let (status, body) = probe::invoke_api_function(p.emulator, &p.d, &event)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let rows = probe::audit_by_request(p.emulator, &p.d, &request_id)
        .await
        .unwrap();
    assert_eq!(attr(&rows[0], "user_sub"), p.sub);
}
