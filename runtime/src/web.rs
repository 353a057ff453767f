//! The web app's routes (everything outside `/api`): the single-page app, its assets and the
//! public configuration it signs in with. See docs/web.md for the decisions.
//!
//! - Every asset is embedded in the binary (`include_str!`): no CDN, no third-party request.
//! - Assets live under `/assets/<version>/`, where `<version>` is a hash of all of them, so they
//!   are cached for a year (`immutable`) and a deploy changes every URL at once. The page itself
//!   and `/config.json` are never cached.
//! - Every answer carries the security headers, and the page a Content-Security-Policy computed
//!   from this deployment's settings: scripts and styles from the app's own origin only (no
//!   inline code, no `unsafe-*`), and `connect-src` naming exactly the origins the app talks to:
//!   its own API, the Cognito token endpoint, and S3 for the pre-signed uploads.

use std::sync::LazyLock;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use http::header::{HeaderName, HeaderValue};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::api::http::{ApiError, error_response, json_response, raw_response};
use crate::settings::Settings;

/// One embedded file of the app.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// The app's files, served at `/assets/<version>/<name>`.
const ASSETS: [Asset; 10] = [
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../web/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: JS,
        body: include_str!("../web/app.js"),
    },
    Asset {
        name: "auth.js",
        content_type: JS,
        body: include_str!("../web/auth.js"),
    },
    Asset {
        name: "api.js",
        content_type: JS,
        body: include_str!("../web/api.js"),
    },
    Asset {
        name: "dom.js",
        content_type: JS,
        body: include_str!("../web/dom.js"),
    },
    Asset {
        name: "paths.js",
        content_type: JS,
        body: include_str!("../web/paths.js"),
    },
    Asset {
        name: "browse.js",
        content_type: JS,
        body: include_str!("../web/browse.js"),
    },
    Asset {
        name: "upload.js",
        content_type: JS,
        body: include_str!("../web/upload.js"),
    },
    Asset {
        name: "audit.js",
        content_type: JS,
        body: include_str!("../web/audit.js"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../web/icon.svg"),
    },
];

/// The page. `__ASSETS__` is replaced by `/assets/<version>`.
const INDEX_TEMPLATE: &str = include_str!("../web/index.html");

/// The first 16 hex digits of the SHA-256 of every asset (name and content).
pub static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h = Sha256::new();
    for a in &ASSETS {
        h.update(a.name.as_bytes());
        h.update([0]);
        h.update((a.body.len() as u64).to_be_bytes());
        h.update(a.body.as_bytes());
    }
    let hex = hex::encode(h.finalize());
    hex.chars().take(16).collect()
});

static INDEX: LazyLock<String> =
    LazyLock::new(|| INDEX_TEMPLATE.replace("__ASSETS__", &format!("/assets/{}", *ASSET_VERSION)));

/// Headers every answer outside `/api` carries, besides those of [`raw_response`]
/// (`x-content-type-options: nosniff`, `referrer-policy: no-referrer`).
const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("x-frame-options", "DENY"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    (
        "permissions-policy",
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()",
    ),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

const NO_CACHE: &str = "no-cache";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `scheme://host[:port]` of an `http(s)` URL, lower-cased, or `None` when the text is not a
/// plain URL of that shape (a value that could break out of the header is never copied).
pub fn origin_of(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    (host_ok && port_ok).then(|| format!("{scheme}://{authority}"))
}

/// Where the pre-signed S3 URLs of this deployment point (see `presign.rs`): the endpoint's
/// origin locally, otherwise each declared bucket's virtual host (or the regional path-style
/// host for bucket names with dots).
fn s3_origins(settings: &Settings) -> Vec<String> {
    if let Some(endpoint) = &settings.endpoint_url {
        return origin_of(endpoint).into_iter().collect();
    }
    settings
        .buckets
        .iter()
        .filter_map(|b| {
            let url = if b.name.contains('.') {
                format!("https://s3.{}.amazonaws.com", b.region)
            } else {
                format!("https://{}.s3.{}.amazonaws.com", b.name, b.region)
            };
            origin_of(&url)
        })
        .collect()
}

/// The page's Content-Security-Policy for this deployment.
pub fn content_security_policy(settings: &Settings) -> String {
    let mut connect = vec!["'self'".to_owned()];
    let extra = origin_of(&settings.auth_base_url)
        .into_iter()
        .chain(s3_origins(settings));
    for o in extra {
        if !connect.contains(&o) {
            connect.push(o);
        }
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src {}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
         require-trusted-types-for 'script'; trusted-types 'none'",
        connect.join(" ")
    )
}

fn with_headers(
    mut r: ApiGatewayV2httpResponse,
    cache: &'static str,
    csp: Option<&str>,
) -> ApiGatewayV2httpResponse {
    for (k, v) in SECURITY_HEADERS {
        r.headers
            .insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    r.headers
        .insert(http::header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // Even an answer that is not a page must not be framed or run anything if it is opened.
    let csp = csp.unwrap_or("default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
    if let Ok(v) = HeaderValue::from_str(csp) {
        r.headers
            .insert(HeaderName::from_static("content-security-policy"), v);
    }
    r
}

fn page(
    status: u16,
    content_type: &'static str,
    body: &str,
    head: bool,
) -> ApiGatewayV2httpResponse {
    let body = if head { String::new() } else { body.to_owned() };
    raw_response(status, content_type, Body::Text(body), &[])
}

pub fn serve(method: &str, path: &str, settings: &Settings) -> ApiGatewayV2httpResponse {
    let head = method == "HEAD";
    if method != "GET" && !head {
        let mut r = error_response(
            &ApiError::MethodNotAllowed("the web app is read with GET".into()),
            "",
        );
        r.headers
            .insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return with_headers(r, "no-store", None);
    }
    match path {
        "/" | "/index.html" => {
            let csp = content_security_policy(settings);
            with_headers(
                page(200, "text/html; charset=utf-8", &INDEX, head),
                NO_CACHE,
                Some(&csp),
            )
        }
        "/config.json" => {
            let mut r = json_response(
                200,
                &json!({
                    "issuer": settings.issuer,
                    "client_id": settings.client_id,
                    "auth_base_url": settings.auth_base_url.trim_end_matches('/'),
                    "api": "/api",
                    "version": *ASSET_VERSION,
                }),
            );
            if head {
                r.body = Some(Body::Text(String::new()));
            }
            with_headers(r, "no-store", None)
        }
        _ => match asset(path) {
            Some(a) => with_headers(page(200, a.content_type, a.body, head), IMMUTABLE, None),
            None => with_headers(
                error_response(&ApiError::NotFound("no such page".into()), ""),
                "no-store",
                None,
            ),
        },
    }
}

/// The asset at `/assets/<current version>/<name>`; older versions are gone.
fn asset(path: &str) -> Option<&'static Asset> {
    let rest = path.strip_prefix("/assets/")?;
    let (version, name) = rest.split_once('/')?;
    if version != ASSET_VERSION.as_str() {
        return None;
    }
    ASSETS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_plain_scheme_host_port() {
        assert_eq!(
            origin_of("https://acme.auth.eu-west-1.amazoncognito.com/"),
            Some("https://acme.auth.eu-west-1.amazoncognito.com".into())
        );
        assert_eq!(
            origin_of("http://127.0.0.1:4566"),
            Some("http://127.0.0.1:4566".into())
        );
        assert_eq!(
            origin_of("HTTP://LocalHost:80/x?y#z"),
            Some("http://localhost:80".into())
        );
        for bad in [
            "",
            "ftp://x",
            "https://",
            "https://a b",
            "https://x;script-src *",
            "https://user@host",
            "https://x:99999999",
            "https://x:",
            "https://a..b",
            "javascript:alert(1)",
            "https://x\r\nset-cookie: a",
        ] {
            assert_eq!(origin_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_asset_is_listed_once_and_the_version_is_stable() {
        let mut names: Vec<_> = ASSETS.iter().map(|a| a.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ASSETS.len());
        assert_eq!(ASSET_VERSION.len(), 16);
        assert!(INDEX.contains(&format!("/assets/{}/app.js", *ASSET_VERSION)));
        assert!(!INDEX.contains("__ASSETS__"));
    }
}
