//! The web app's routes (everything outside `/api`). Until the full app lands (issue #6) this
//! serves a minimal page and the public configuration the app needs to sign in.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use serde_json::json;

use crate::api::http::{ApiError, error_response, json_response, raw_response};
use crate::settings::Settings;

/// No third-party origin of any kind: the app's own scripts and styles, its own API, S3 for the
/// pre-signed transfers and Cognito for sign-in (navigations, not fetches).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' https://*.amazonaws.com http://127.0.0.1:*; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("content-security-policy", CSP),
    ("x-frame-options", "DENY"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    ),
];

const INDEX: &str = include_str!("../web/index.html");

pub fn serve(method: &str, path: &str, settings: &Settings) -> ApiGatewayV2httpResponse {
    if method != "GET" && method != "HEAD" {
        return error_response(
            &ApiError::MethodNotAllowed("the web app is read with GET".into()),
            "",
        );
    }
    match path {
        "/" | "/index.html" => raw_response(
            200,
            "text/html; charset=utf-8",
            Body::Text(INDEX.to_owned()),
            &SECURITY_HEADERS,
        ),
        "/config.json" => {
            let mut r = json_response(
                200,
                &json!({
                    "issuer": settings.issuer,
                    "client_id": settings.client_id,
                    "auth_base_url": settings.auth_base_url,
                    "api": "/api",
                }),
            );
            for (k, v) in SECURITY_HEADERS {
                r.headers.insert(
                    http::HeaderName::from_static(k),
                    http::HeaderValue::from_static(v),
                );
            }
            r
        }
        _ => error_response(&ApiError::NotFound("no such page".into()), ""),
    }
}
