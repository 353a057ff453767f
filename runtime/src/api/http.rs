//! The HTTP edge: reading API Gateway v2 (payload 2.0) events and writing JSON answers.
//!
//! The raw query string is decoded here exactly once, and a value that is not valid UTF-8 after
//! decoding is refused: the key that is checked is the key that is signed.

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use bucketdrive_core::audit::RequestContext;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::percent_decode;
use serde::Serialize;
use serde::de::DeserializeOwned;

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
    pub fn from_event(e: &ApiGatewayV2httpRequest, fallback_request_id: &str) -> Request {
        let rc = &e.request_context;
        let (query, query_error) = match parse_query(e.raw_query_string.as_deref().unwrap_or("")) {
            Ok(q) => (q, None),
            Err(msg) => (HashMap::new(), Some(msg)),
        };
        let body = e.body.as_ref().map(|b| {
            if e.is_base64_encoded {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .unwrap_or_else(|_| b.as_bytes().to_vec())
            } else {
                b.as_bytes().to_vec()
            }
        });
        let header = |name: &str| {
            e.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Request {
            method: rc.http.method.as_str().to_owned(),
            path: e
                .raw_path
                .clone()
                .or_else(|| rc.http.path.clone())
                .unwrap_or_else(|| "/".into()),
            query,
            query_error,
            headers: e.headers.clone(),
            body,
            ctx: RequestContext {
                request_id: rc
                    .request_id
                    .clone()
                    .unwrap_or_else(|| fallback_request_id.to_owned()),
                source_ip: rc.http.source_ip.clone(),
                user_agent: rc
                    .http
                    .user_agent
                    .clone()
                    .or_else(|| header("user-agent"))
                    .map(|ua| ua.chars().take(512).collect()),
            },
        }
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
}
