//! In-memory fakes behind the runtime's ports, for the benches (no network, no disk).
//!
//! Copied in spirit from runtime/tests/support/mod.rs, with the differences a benchmark needs:
//! the audit fake does the CPU work the real adapter does before its network call (it builds
//! the DynamoDB item with `adapters::dynamo::audit_item`) and keeps a bounded Vec; the object
//! store honours prefix, delimiter, `max_keys` and continuation like S3 and counts requests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bucketdrive_core::audit::AuditRecord;
use bucketdrive_core::path::S3Path;
use bucketdrive_core::policy::{Deny, Grant, GroupPolicy, Rights};
use bucketdrive_runtime::adapters::dynamo::audit_item;
use bucketdrive_runtime::api::{App, Ports};
use bucketdrive_runtime::ports::{
    AuditPage, AuditQuery, AuditStore, KeySource, ListPage, ObjectMeta, ObjectStore, PolicyStore,
    Unavailable,
};
use bucketdrive_runtime::presign::SigV4Presigner;
use bucketdrive_runtime::settings::Settings;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

pub const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_BENCH";
pub const CLIENT: &str = "client-1";
pub const KID: &str = "bench-key-1";
pub const SUB: &str = "11111111-2222-3333-4444-555555555555";
pub const BUCKET: &str = "company-reports";
/// S3's page size for ListObjectsV2.
pub const S3_PAGE: usize = 1000;

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-04T16:05:50Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub struct BenchKey {
    pub encoding: EncodingKey,
    pub n: String,
    pub e: String,
}

/// One RSA-2048 key per process (as Cognito's), never written to disk.
pub fn key() -> &'static BenchKey {
    static KEY: OnceLock<BenchKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut rng = rand::thread_rng();
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let public = private.to_public_key();
        let pem = private.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        BenchKey {
            encoding: EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }
    })
}

pub fn jwks() -> JwkSet {
    serde_json::from_value(json!({
        "keys": [{ "kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID, "n": key().n, "e": key().e }]
    }))
    .unwrap()
}

/// A Cognito-shaped access token for `groups`; `jti` makes each one distinct.
pub fn token(groups: &[&str], jti: &str) -> String {
    let t = now().timestamp();
    let claims = json!({
        "sub": SUB, "iss": ISSUER, "token_use": "access", "client_id": CLIENT,
        "iat": t - 60, "auth_time": t - 60, "exp": t + 3600, "username": "ana",
        "cognito:groups": groups, "jti": jti, "scope": "aws.cognito.signin.user.admin",
        "origin_jti": "bench-origin", "event_id": "bench-event", "version": 2,
    });
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(KID.into());
    jsonwebtoken::encode(&header, &claims, &key().encoding).unwrap()
}

/// `n` distinct tokens, signed on all cores (RSA signing is ~1 ms each).
pub fn token_pool(n: usize) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(2, |p| p.get());
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t * chunk..((t + 1) * chunk).min(n))
                        .map(|i| token(&["finance"], &format!("jti-{i}")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

pub struct FakeKeys;

#[async_trait]
impl KeySource for FakeKeys {
    async fn fetch(&self) -> Result<JwkSet, Unavailable> {
        Ok(jwks())
    }
}

pub struct FakePolicies {
    pub groups: Vec<GroupPolicy>,
}

#[async_trait]
impl PolicyStore for FakePolicies {
    async fn group_policies(&self, groups: &[String]) -> Result<Vec<GroupPolicy>, Unavailable> {
        Ok(self
            .groups
            .iter()
            .filter(|p| groups.contains(&p.group))
            .cloned()
            .collect())
    }
    async fn admin_groups(&self) -> Result<Vec<String>, Unavailable> {
        Ok(vec!["it-admins".into()])
    }
    async fn not_before(&self, _sub: &str) -> Result<Option<i64>, Unavailable> {
        Ok(None)
    }
}

/// Builds the DynamoDB item exactly as the real adapter does, then keeps it (bounded, so a
/// million iterations do not grow the heap without end).
#[derive(Default)]
pub struct VecAudit {
    pub items: Mutex<Vec<HashMap<String, AttributeValue>>>,
    pub appended: AtomicUsize,
}

#[async_trait]
impl AuditStore for VecAudit {
    async fn append(&self, record: &AuditRecord) -> Result<(), Unavailable> {
        let item = audit_item(record)?;
        self.appended.fetch_add(1, Ordering::Relaxed);
        let mut items = self.items.lock().unwrap();
        if items.len() >= 4096 {
            items.clear();
        }
        items.push(item);
        Ok(())
    }
    async fn query(&self, _query: &AuditQuery) -> Result<AuditPage, Unavailable> {
        Ok(AuditPage {
            records: vec![],
            cursor: None,
        })
    }
}

/// A bucket in memory that answers like S3: ListObjectsV2 with prefix, delimiter `/`,
/// `max_keys` (at most 1000; common prefixes count towards it) and a continuation token; HEAD.
/// Every request is counted.
#[derive(Default)]
pub struct S3Like {
    pub keys: BTreeMap<String, u64>,
    pub list_requests: AtomicUsize,
    pub head_requests: AtomicUsize,
}

impl S3Like {
    pub fn reset_counts(&self) {
        self.list_requests.store(0, Ordering::Relaxed);
        self.head_requests.store(0, Ordering::Relaxed);
    }

    pub fn requests(&self) -> usize {
        self.list_requests.load(Ordering::Relaxed) + self.head_requests.load(Ordering::Relaxed)
    }

    /// ListObjectsV2. `delimiter` is `Some('/')` for a one-level listing, `None` for
    /// everything under `prefix`. The token is where to resume (inclusive).
    pub fn list_v2(
        &self,
        prefix: &str,
        delimiter: Option<char>,
        token: Option<&str>,
        max_keys: usize,
    ) -> ListPage {
        self.list_requests.fetch_add(1, Ordering::Relaxed);
        let max_keys = max_keys.clamp(1, S3_PAGE);
        let mut page = ListPage::default();
        let mut from = token.unwrap_or(prefix).to_owned();
        loop {
            let mut range = self
                .keys
                .range::<String, _>((Bound::Included(&from), Bound::Unbounded));
            let Some((key, size)) = range.next() else {
                return page;
            };
            if !key.starts_with(prefix) {
                return page;
            }
            if page.folders.len() + page.objects.len() == max_keys {
                page.next = Some(key.clone());
                return page;
            }
            let rest = &key[prefix.len()..];
            match delimiter.and_then(|d| rest.find(d)) {
                Some(i) => {
                    // A common prefix: report it once, then skip everything below it
                    // (`a/b/…` < `a/b0`, since `/` sorts just before `0`).
                    let folder = &key[..prefix.len() + i + 1];
                    page.folders.push(folder.to_owned());
                    from = format!("{}0", &folder[..folder.len() - 1]);
                }
                None => {
                    page.objects.push(ObjectMeta {
                        key: key.clone(),
                        size: *size,
                        last_modified: Some(now()),
                        content_type: None,
                    });
                    from = format!("{key}\0");
                }
            }
        }
    }
}

#[async_trait]
impl ObjectStore for S3Like {
    async fn list(
        &self,
        _bucket: &str,
        prefix: &str,
        token: Option<&str>,
        limit: i32,
    ) -> Result<ListPage, Unavailable> {
        Ok(self.list_v2(
            prefix,
            Some('/'),
            token,
            usize::try_from(limit).unwrap_or(1),
        ))
    }
    async fn head(&self, _bucket: &str, key: &str) -> Result<Option<ObjectMeta>, Unavailable> {
        self.head_requests.fetch_add(1, Ordering::Relaxed);
        Ok(self.keys.get(key).map(|size| ObjectMeta {
            key: key.into(),
            size: *size,
            last_modified: Some(now()),
            content_type: Some("application/pdf".into()),
        }))
    }
    async fn create_multipart(&self, _: &str, _: &str, _: &str) -> Result<String, Unavailable> {
        Ok("upload-1".into())
    }
}

pub fn settings() -> Settings {
    let env: HashMap<String, String> = [
        ("BD_STACK", "acme-files"),
        ("BD_POLICIES_TABLE", "policies"),
        ("BD_AUDIT_TABLE", "audit"),
        ("BD_ISSUER", ISSUER),
        ("BD_CLIENT_ID", CLIENT),
        ("BD_URL_TTL_SECONDS", "600"),
        ("BD_MAX_UPLOAD_BYTES", "5368709120"),
        ("BD_AUDIT_RETENTION_DAYS", "400"),
        ("BD_BUCKETS", "company-reports@eu-west-1"),
        ("AWS_REGION", "eu-west-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Settings::from_map(&env).unwrap()
}

fn path(s: &str) -> S3Path {
    S3Path::parse(s).unwrap()
}

/// The quickstart-like policy: finance reads `annual/` and `quarterly/` except
/// `annual/secret/`; engineering writes `incoming/`.
pub fn policies() -> Vec<GroupPolicy> {
    vec![
        GroupPolicy {
            group: "finance".into(),
            grants: vec![
                Grant {
                    path: path("s3://company-reports/annual/"),
                    access: Rights::READ,
                    until: None,
                },
                Grant {
                    path: path("s3://company-reports/quarterly/"),
                    access: Rights::READ,
                    until: None,
                },
            ],
            deny: vec![Deny {
                path: path("s3://company-reports/annual/secret/"),
                access: Rights::ALL,
            }],
        },
        GroupPolicy {
            group: "engineering".into(),
            grants: vec![Grant {
                path: path("s3://company-reports/incoming/"),
                access: Rights::READ_WRITE,
                until: None,
            }],
            deny: vec![],
        },
    ]
}

/// The real `App` with the fakes above and the real SigV4 presigner (static credentials).
pub fn app(objects: Arc<dyn ObjectStore>, audit: Arc<VecAudit>) -> App {
    let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "bench");
    App::new(
        settings(),
        Ports {
            keys: Arc::new(FakeKeys),
            policies: Arc::new(FakePolicies { groups: policies() }),
            audit,
            objects,
            presigner: Arc::new(SigV4Presigner::new(
                SharedCredentialsProvider::new(creds),
                None,
            )),
        },
        Arc::new(now),
    )
}

/// A real API Gateway v2 event (runtime/tests/data), as the bytes the Runtime API delivers.
pub fn event_bytes(fixture: &str, token: &str, query: &str, body: Option<&str>) -> Vec<u8> {
    let text = std::fs::read_to_string(format!(
        "{}/tests/data/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut e: Value = serde_json::from_str(&text).unwrap();
    e["headers"]["authorization"] = json!(format!("Bearer {token}"));
    e["rawQueryString"] = json!(query);
    if let Some(b) = body {
        e["body"] = json!(b);
    }
    serde_json::to_vec(&e).unwrap()
}

pub fn status(r: &ApiGatewayV2httpResponse) -> i64 {
    r.status_code
}

pub fn body(r: &ApiGatewayV2httpResponse) -> Value {
    match &r.body {
        Some(Body::Text(t)) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}
