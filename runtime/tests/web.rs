//! The web app's routes: the page, its embedded assets, `/config.json`, the security headers on
//! every answer, the per-deployment Content-Security-Policy, and what the page must never do
//! (inline code, third-party requests).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use bucketdrive_runtime::settings::Settings;
use bucketdrive_runtime::web::{self, ASSET_VERSION};
use serde_json::{Value, json};
use support::*;

const ASSET_NAMES: [&str; 10] = [
    "app.css",
    "app.js",
    "auth.js",
    "api.js",
    "dom.js",
    "paths.js",
    "browse.js",
    "upload.js",
    "audit.js",
    "icon.svg",
];

fn get(path: &str, settings: &Settings) -> ApiGatewayV2httpResponse {
    web::serve("GET", path, settings)
}

fn header<'a>(r: &'a ApiGatewayV2httpResponse, name: &str) -> &'a str {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("no `{name}` header"))
        .to_str()
        .unwrap()
}

fn text(r: &ApiGatewayV2httpResponse) -> String {
    match &r.body {
        Some(Body::Text(t)) => t.clone(),
        Some(Body::Binary(b)) => String::from_utf8(b.clone()).unwrap(),
        _ => String::new(),
    }
}

fn asset_path(name: &str) -> String {
    format!("/assets/{}/{name}", *ASSET_VERSION)
}

/// The local emulator's settings: S3 and the hosted UI on one loopback endpoint.
fn local_settings() -> Settings {
    let mut s = settings();
    s.endpoint_url = Some("http://127.0.0.1:4599".into());
    s.auth_base_url = "http://127.0.0.1:4599".into();
    s
}

/// An AWS deployment with a bucket whose name has a dot (path-style host) and one without.
fn aws_settings() -> Settings {
    let mut s = settings();
    s.auth_base_url = "https://acme-files.auth.eu-west-1.amazoncognito.com".into();
    s.buckets.push(bucketdrive_runtime::settings::BucketInfo {
        name: "acme.archive".into(),
        region: "us-east-2".into(),
        kms_key_arn: None,
    });
    s
}

fn assert_security_headers(r: &ApiGatewayV2httpResponse, what: &str) {
    for (name, want) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ] {
        assert_eq!(header(r, name), want, "{what}: {name}");
    }
    assert!(
        header(r, "strict-transport-security").contains("max-age=31536000"),
        "{what}"
    );
    assert!(
        header(r, "permissions-policy").contains("camera=()"),
        "{what}"
    );
    let csp = header(r, "content-security-policy");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{what}: {csp}"
    );
}

#[test]
fn the_page_is_html_with_a_strict_per_deployment_csp() {
    let s = local_settings();
    let r = get("/", &s);
    assert_eq!(r.status_code, 200);
    assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&r, "cache-control"), "no-cache");
    assert_security_headers(&r, "/");
    let csp = header(&r, "content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self' http://127.0.0.1:4599;",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ] {
        assert!(csp.contains(directive), "missing `{directive}` in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert!(!csp.contains('*'), "no wildcard source: {csp}");
    assert_eq!(text(&get("/index.html", &s)), text(&r));
}

#[test]
fn the_csp_names_exactly_the_origins_a_deployment_talks_to() {
    let csp = web::content_security_policy(&aws_settings());
    let connect = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("connect-src "))
        .unwrap();
    assert_eq!(
        connect,
        "connect-src 'self' https://acme-files.auth.eu-west-1.amazoncognito.com \
         https://company-reports.s3.eu-west-1.amazonaws.com https://s3.us-east-2.amazonaws.com"
    );

    // A value that is not a plain origin never reaches the header.
    let mut hostile = local_settings();
    hostile.auth_base_url = "https://evil.example; script-src *".into();
    hostile.endpoint_url = Some("javascript:alert(1)".into());
    let csp = web::content_security_policy(&hostile);
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    assert!(
        !csp.contains("evil") && !csp.contains("javascript"),
        "{csp}"
    );
    let r = get("/", &hostile);
    assert_eq!(r.status_code, 200);
    assert!(!header(&r, "content-security-policy").contains('*'));
}

#[test]
fn the_page_has_no_inline_script_style_or_handler() {
    let html = text(&get("/", &local_settings())).to_ascii_lowercase();
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert_eq!(scripts.len(), 1, "one module script");
    for s in &scripts {
        let tag = &s[..s.find('>').unwrap()];
        assert!(tag.contains("src=\""), "inline script: <script{tag}>");
        let after = &s[s.find('>').unwrap() + 1..];
        assert!(after.trim_start().starts_with("</script>"), "script body");
    }
    assert!(!html.contains("<style"), "inline <style>");
    assert!(!html.contains(" style="), "style attribute");
    assert!(!html.contains("javascript:"));
    for attr in html.split_whitespace() {
        let name = attr.split('=').next().unwrap_or_default();
        assert!(
            !(name.starts_with("on") && attr.contains('=')),
            "inline handler `{attr}`"
        );
    }
    // Every asset the page names is served, from this version's directory.
    for name in ["app.js", "app.css", "icon.svg"] {
        assert!(html.contains(&asset_path(name)), "{name}");
    }
}

#[test]
fn assets_are_served_with_their_types_and_cached_for_a_year() {
    let s = local_settings();
    for name in ASSET_NAMES {
        let r = get(&asset_path(name), &s);
        assert_eq!(r.status_code, 200, "{name}");
        let want = match name.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("unexpected extension {other:?}"),
        };
        assert_eq!(header(&r, "content-type"), want, "{name}");
        assert_eq!(
            header(&r, "cache-control"),
            "public, max-age=31536000, immutable",
            "{name}"
        );
        assert_security_headers(&r, name);
        assert!(!text(&r).is_empty(), "{name}");
    }
}

#[test]
fn every_module_import_is_a_served_asset() {
    let s = local_settings();
    for name in ASSET_NAMES.iter().filter(|n| n.ends_with(".js")) {
        let js = text(&get(&asset_path(name), &s));
        for line in js.lines().filter(|l| l.contains(" from '")) {
            let target = line.split(" from '").nth(1).unwrap();
            let target = &target[..target.find('\'').unwrap()];
            let file = target
                .strip_prefix("./")
                .unwrap_or_else(|| panic!("{name}: import `{target}` is not relative"));
            assert!(
                ASSET_NAMES.contains(&file),
                "{name} imports `{target}`, which is not served"
            );
        }
    }
}

#[test]
fn assets_make_no_third_party_request_and_build_no_html_from_strings() {
    let s = local_settings();
    // The only absolute URLs in the app are XML namespaces, which are names, not requests.
    let namespaces = [
        "http://www.w3.org/2000/svg",
        "http://s3.amazonaws.com/doc/2006-03-01/",
    ];
    for name in ASSET_NAMES {
        let body = text(&get(&asset_path(name), &s));
        let mut rest = body.as_str();
        while let Some(i) = rest.find("http") {
            let tail = &rest[i..];
            if tail.starts_with("http://") || tail.starts_with("https://") {
                assert!(
                    namespaces.iter().any(|n| tail.starts_with(n)),
                    "{name}: absolute URL `{}`",
                    tail.chars().take(60).collect::<String>()
                );
            }
            rest = &rest[i + 4..];
        }
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "@import",
        ] {
            assert!(!body.contains(sink), "{name} uses `{sink}`");
        }
    }
}

#[test]
fn other_versions_unknown_assets_and_pages_are_404_with_headers() {
    let s = local_settings();
    for path in [
        "/assets/0000000000000000/app.js".to_owned(),
        asset_path("nope.js"),
        asset_path("../web.rs"),
        format!("/assets/{}", *ASSET_VERSION),
        "/assets/".to_owned(),
        "/favicon.ico".to_owned(),
        "/app.js".to_owned(),
        "/index.htm".to_owned(),
        "/login".to_owned(),
    ] {
        let r = get(&path, &s);
        assert_eq!(r.status_code, 404, "{path}");
        assert_eq!(header(&r, "content-type"), "application/json", "{path}");
        assert_eq!(header(&r, "cache-control"), "no-store", "{path}");
        assert_security_headers(&r, &path);
        let body: Value = serde_json::from_str(&text(&r)).unwrap();
        assert_eq!(body["error"], "not-found");
    }
}

#[test]
fn only_get_and_head_are_answered() {
    let s = local_settings();
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let r = web::serve(method, "/", &s);
        assert_eq!(r.status_code, 405, "{method}");
        assert_eq!(header(&r, "allow"), "GET, HEAD");
        assert_security_headers(&r, method);
    }
    let head = web::serve("HEAD", "/", &s);
    assert_eq!(head.status_code, 200);
    assert_eq!(header(&head, "content-type"), "text/html; charset=utf-8");
    assert!(text(&head).is_empty(), "HEAD has no body");
    let head = web::serve("HEAD", &asset_path("app.js"), &s);
    assert_eq!(head.status_code, 200);
    assert!(text(&head).is_empty());
}

#[test]
fn config_json_tells_the_app_how_to_sign_in_and_is_never_cached() {
    let mut s = local_settings();
    s.auth_base_url = "http://127.0.0.1:4599/".into();
    let r = get("/config.json", &s);
    assert_eq!(r.status_code, 200);
    assert_eq!(header(&r, "content-type"), "application/json");
    assert_eq!(header(&r, "cache-control"), "no-store");
    assert_security_headers(&r, "/config.json");
    let body: Value = serde_json::from_str(&text(&r)).unwrap();
    assert_eq!(
        body,
        json!({
            "issuer": ISSUER,
            "client_id": CLIENT,
            "auth_base_url": "http://127.0.0.1:4599",
            "api": "/api",
            "version": *ASSET_VERSION,
        })
    );
}

#[tokio::test]
async fn web_routes_go_through_the_lambda_without_a_token_and_are_not_audited() {
    let h = harness();
    for (path, status) in [
        ("/", 200),
        ("/config.json", 200),
        (asset_path("app.js").as_str(), 200),
        ("/nope", 404),
    ] {
        let mut e = event("apigw-v2-get-me.json", None);
        e["rawPath"] = json!(path);
        let r = h.call(e).await;
        assert_eq!(r.status, status, "{path}");
        assert!(
            r.raw.headers.contains_key("content-security-policy"),
            "{path}"
        );
    }
    assert!(h.records().is_empty(), "static pages are not audited");
}
