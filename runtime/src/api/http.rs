//! The HTTP edge: reading API Gateway v2 (payload 2.0) events and writing JSON answers.
//!
//! The raw query string is decoded here exactly once, and a value that is not valid UTF-8 after
//! decoding is refused: the key that is checked is the key that is signed.

use std::borrow::Cow;
use std::collections::HashMap;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use bucketdrive_core::audit::RequestContext;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::percent_decode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Largest JSON body accepted (requests carry a path and a few numbers).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// An error answer. Each kind is one status; the message is for the caller and never carries an
/// internal detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::Conflict(_) => 409,
            ApiError::TooLarge(_) => 413,
            ApiError::Unavailable(_) => 503,
        }
    }

    /// Every error code an answer can carry (docs/openapi.yaml lists exactly these).
    pub const CODES: [&'static str; 8] = [
        "bad-request",
        "unauthorized",
        "forbidden",
        "not-found",
        "method-not-allowed",
        "conflict",
        "too-large",
        "unavailable",
    ];

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::MethodNotAllowed(_) => "method-not-allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge(_) => "too-large",
            ApiError::Unavailable(_) => "unavailable",
        }
    }

    pub fn unavailable() -> Self {
        ApiError::Unavailable(
            "a backing service is unavailable; nothing was issued, try again shortly".into(),
        )
    }
}

/// The parts of a request the handlers use.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub query_error: Option<String>,
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
    pub ctx: RequestContext,
}

impl Request {
    /// Reads an API Gateway v2 (payload 2.0) event from its JSON text. `None` when the text is
    /// not such an event (not JSON, no `requestContext.http.method`, a method that is not an
    /// HTTP token).
    pub fn from_event_json(event: &str, fallback_request_id: &str) -> Option<Request> {
        let e: Event<'_> = serde_json::from_str(event).ok()?;
        let http = &e.request_context.http;
        http::Method::from_bytes(http.method.as_bytes()).ok()?;
        let (query, query_error) = match parse_query(e.raw_query_string.as_deref().unwrap_or("")) {
            Ok(q) => (q, None),
            Err(msg) => (HashMap::new(), Some(msg)),
        };
        let body = e.body.as_deref().map(|b| {
            if e.is_base64_encoded {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .unwrap_or_else(|_| b.as_bytes().to_vec())
            } else {
                b.as_bytes().to_vec()
            }
        });
        let headers = e.headers.0;
        let user_agent = http
            .user_agent
            .as_deref()
            .or_else(|| headers.get("user-agent").and_then(|v| v.to_str().ok()))
            .map(|ua| ua.chars().take(512).collect());
        Some(Request {
            method: http.method.clone().into_owned(),
            path: e
                .raw_path
                .or_else(|| http.path.clone())
                .map_or_else(|| "/".to_owned(), Cow::into_owned),
            query,
            query_error,
            body,
            ctx: RequestContext {
                request_id: e
                    .request_context
                    .request_id
                    .map_or_else(|| fallback_request_id.to_owned(), Cow::into_owned),
                source_ip: http.source_ip.as_deref().map(str::to_owned),
                user_agent,
            },
            headers,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Parses the JSON body into `T` (unknown fields refused by `T`), within the size limit.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body = self.body.as_deref().unwrap_or_default();
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::TooLarge(format!(
                "the request body is {} bytes; the limit is {MAX_BODY_BYTES}",
                body.len()
            )));
        }
        if body.is_empty() {
            return Err(ApiError::BadRequest("a JSON body is required".into()));
        }
        serde_json::from_slice(body).map_err(|e| {
            // serde_json's messages name fields and positions, never internals.
            ApiError::BadRequest(format!("invalid JSON body: {e}"))
        })
    }
}

/// `a=1&b=%C3%A9` → {a: "1", b: "é"}. Each value is percent-decoded exactly once (`+` is a
/// space, as in forms); a repeated key or a value that is not UTF-8 is an error.
pub fn parse_query(raw: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            let spaced = s.replace('+', " ");
            let bytes: Vec<u8> = percent_decode(spaced.as_bytes()).collect();
            String::from_utf8(bytes).map_err(|_| {
                format!(
                    "query parameter `{}` is not valid UTF-8 after decoding",
                    k.chars().take(64).collect::<String>()
                )
            })
        };
        let key = decode(k)?;
        let value = decode(v)?;
        if out.insert(key.clone(), value).is_some() {
            return Err(format!("query parameter `{key}` is given more than once"));
        }
    }
    Ok(out)
}

/// The parts of an API Gateway v2 (payload 2.0) event the handlers read, borrowed from the
/// event's text; everything else (the authorizer's claims above all: the function verifies the
/// token itself) is skipped unparsed. aws_lambda_events' full request type builds all of it and
/// cost a fifth of a download's CPU (docs/benchmarks.md).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(borrow, default, alias = "path")]
    raw_path: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    raw_query_string: Option<Cow<'a, str>>,
    #[serde(default)]
    headers: Headers,
    #[serde(borrow, default)]
    body: Option<Cow<'a, str>>,
    #[serde(default)]
    is_base64_encoded: bool,
    #[serde(borrow)]
    request_context: EventContext<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventContext<'a> {
    #[serde(borrow, default)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    http: EventHttp<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventHttp<'a> {
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow, default)]
    path: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    source_ip: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_agent: Option<Cow<'a, str>>,
}

/// The event's `headers` object (or `null`). API Gateway v2 joins repeated headers with commas,
/// so each name has one value; a name or value `http` refuses is dropped, as if never sent.
#[derive(Default)]
struct Headers(HeaderMap);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Headers;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of header names to values, or null")
            }
            fn visit_unit<E>(self) -> Result<Headers, E> {
                Ok(Headers::default())
            }
            fn visit_none<E>(self) -> Result<Headers, E> {
                Ok(Headers::default())
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, de: D) -> Result<Headers, D::Error> {
                de.deserialize_map(self)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Headers, A::Error> {
                let mut h = HeaderMap::with_capacity(map.size_hint().unwrap_or(16));
                while let Some((k, v)) = map.next_entry::<Cow<'de, str>, Cow<'de, str>>()? {
                    if let (Ok(k), Ok(v)) = (
                        HeaderName::from_bytes(k.as_bytes()),
                        HeaderValue::from_str(&v),
                    ) {
                        h.append(k, v);
                    }
                }
                Ok(Headers(h))
            }
        }
        de.deserialize_option(Visit)
    }
}

/// Headers every API answer carries.
fn base_headers(content_type: &'static str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    h
}

pub fn json_response<T: Serialize>(status: u16, value: &T) -> ApiGatewayV2httpResponse {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    let mut r = ApiGatewayV2httpResponse::default();
    r.status_code = i64::from(status);
    r.headers = base_headers("application/json");
    r.body = Some(Body::Text(body));
    r
}

pub fn error_response(e: &ApiError, request_id: &str) -> ApiGatewayV2httpResponse {
    let mut r = json_response(
        e.status(),
        &serde_json::json!({ "error": e.code(), "message": e.to_string(), "request_id": request_id }),
    );
    if let ApiError::Unauthorized(_) = e {
        r.headers.insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer"),
        );
    }
    r
}

pub fn raw_response(
    status: u16,
    content_type: &'static str,
    body: Body,
    extra: &[(&'static str, &'static str)],
) -> ApiGatewayV2httpResponse {
    let mut r = ApiGatewayV2httpResponse::default();
    r.status_code = i64::from(status);
    r.headers = base_headers(content_type);
    for (k, v) in extra {
        r.headers
            .insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    r.is_base64_encoded = matches!(body, Body::Binary(_));
    r.body = Some(body);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded_exactly_once() {
        let q = parse_query("path=s3%3A%2F%2Fb%2Fa%252e%252e%2F&x=a+b").unwrap();
        assert_eq!(q["path"], "s3://b/a%2e%2e/");
        assert_eq!(q["x"], "a b");
    }

    #[test]
    fn invalid_utf8_and_repeats_are_refused() {
        assert!(parse_query("path=%FF").unwrap_err().contains("UTF-8"));
        assert!(
            parse_query("path=a&path=b")
                .unwrap_err()
                .contains("more than once")
        );
    }

    #[test]
    fn errors_map_to_one_status_each() {
        let all = [
            ApiError::BadRequest(String::new()),
            ApiError::Unauthorized(String::new()),
            ApiError::Forbidden(String::new()),
            ApiError::NotFound(String::new()),
            ApiError::MethodNotAllowed(String::new()),
            ApiError::Conflict(String::new()),
            ApiError::TooLarge(String::new()),
            ApiError::Unavailable(String::new()),
        ];
        let statuses: Vec<u16> = all.iter().map(ApiError::status).collect();
        assert_eq!(statuses, vec![400, 401, 403, 404, 405, 409, 413, 503]);
        let codes: Vec<&str> = all.iter().map(ApiError::code).collect();
        assert_eq!(codes, ApiError::CODES.to_vec());
        let r = error_response(&ApiError::Forbidden("no".into()), "req-1");
        let Some(Body::Text(body)) = r.body else {
            panic!("no body")
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": "forbidden", "message": "no", "request_id": "req-1"})
        );
    }

    #[test]
    fn events_are_read_with_their_escapes_fallbacks_and_bad_headers_dropped() {
        let fixture = include_str!("../../tests/data/apigw-v2-post-download.json");
        let r = Request::from_event_json(fixture, "fallback").unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/api/download");
        assert!(r.header("authorization").unwrap().starts_with("Bearer "));
        assert_ne!(r.ctx.request_id, "fallback");

        let event = serde_json::json!({
            "headers": {"user-agent": "ua \"quoted\"", "x-bad": "a\nb", "bad name": "v"},
            "rawQueryString": "path=s3%3A%2F%2Fb%2Fk",
            "body": "eyJhIjoxfQ==",
            "isBase64Encoded": true,
            "requestContext": {"http": {"method": "PUT", "path": "/api/x", "sourceIp": "10.0.0.1"}}
        });
        let r = Request::from_event_json(&event.to_string(), "fallback").unwrap();
        assert_eq!(
            r.path, "/api/x",
            "requestContext.http.path when rawPath is absent"
        );
        assert_eq!(r.ctx.request_id, "fallback");
        assert_eq!(r.ctx.source_ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(
            r.ctx.user_agent.as_deref(),
            Some("ua \"quoted\""),
            "from the header"
        );
        assert_eq!(r.headers.len(), 1, "{:?}", r.headers);
        assert_eq!(r.query["path"], "s3://b/k");
        assert_eq!(r.body.as_deref(), Some(br#"{"a":1}"#.as_slice()));

        let bare = r#"{"headers": null, "requestContext": {"http": {"method": "GET"}}}"#;
        let r = Request::from_event_json(bare, "f").unwrap();
        assert_eq!((r.path.as_str(), r.headers.len(), r.body), ("/", 0, None));

        for bad in [
            "",
            "[]",
            "{}",
            r#"{"requestContext": {}}"#,
            r#"{"requestContext": {"http": {"method": "GE T"}}}"#,
            r#"{"requestContext": {"http": {"method": "GET"}}, "headers": []}"#,
        ] {
            assert!(Request::from_event_json(bad, "f").is_none(), "{bad}");
        }
    }
}
