//! Test doubles behind the runtime's ports, a signing key, and real API Gateway v2 fixtures.
//! Only pure logic is faked here; the same handlers run against MiniStack in tests/.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bucketdrive_core::audit::AuditRecord;
use bucketdrive_core::policy::{Deny, Grant, GroupPolicy, Rights};
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

pub const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST";
pub const CLIENT: &str = "client-1";
pub const KID: &str = "test-key-1";
pub const SUB: &str = "11111111-2222-3333-4444-555555555555";

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-04T16:05:50Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub struct TestKey {
    pub private_pem: String,
    pub n: String,
    pub e: String,
}

/// One RSA key per test process (generation is slow; the key is never written to disk).
pub fn key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut rng = rand::thread_rng();
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let public = private.to_public_key();
        TestKey {
            private_pem: private
                .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                .unwrap()
                .to_string(),
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

/// Claims of a good access token for `groups`, issued one minute before `now()`.
pub fn claims(groups: &[&str]) -> Value {
    let t = now().timestamp();
    json!({
        "sub": SUB, "iss": ISSUER, "token_use": "access", "client_id": CLIENT,
        "iat": t - 60, "auth_time": t - 60, "exp": t + 3600, "username": "ana",
        "cognito:groups": groups, "jti": "jti-1", "scope": "aws.cognito.signin.user.admin",
    })
}

pub fn sign(claims: &Value) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(KID.into());
    let key = EncodingKey::from_rsa_pem(key().private_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

pub fn token(groups: &[&str]) -> String {
    sign(&claims(groups))
}

#[derive(Default)]
pub struct FakeKeys {
    pub fetches: AtomicUsize,
    pub down: AtomicBool,
}

#[async_trait]
impl KeySource for FakeKeys {
    async fn fetch(&self) -> Result<JwkSet, Unavailable> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(Unavailable::new("jwks", "connection refused"));
        }
        Ok(jwks())
    }
}

#[derive(Default)]
pub struct FakePolicies {
    pub groups: Mutex<Vec<GroupPolicy>>,
    pub admins: Mutex<Vec<String>>,
    pub not_before: Mutex<HashMap<String, i64>>,
    pub down: AtomicBool,
}

#[async_trait]
impl PolicyStore for FakePolicies {
    async fn group_policies(&self, groups: &[String]) -> Result<Vec<GroupPolicy>, Unavailable> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Unavailable::new("policies table", "throttled"));
        }
        Ok(self
            .groups
            .lock()
            .unwrap()
            .iter()
            .filter(|p| groups.contains(&p.group))
            .cloned()
            .collect())
    }
    async fn admin_groups(&self) -> Result<Vec<String>, Unavailable> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Unavailable::new("policies table", "throttled"));
        }
        Ok(self.admins.lock().unwrap().clone())
    }
    async fn not_before(&self, sub: &str) -> Result<Option<i64>, Unavailable> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Unavailable::new("policies table", "throttled"));
        }
        Ok(self.not_before.lock().unwrap().get(sub).copied())
    }
}

#[derive(Default)]
pub struct FakeAudit {
    pub records: Mutex<Vec<AuditRecord>>,
    pub down: AtomicBool,
    pub queries: Mutex<Vec<AuditQuery>>,
}

#[async_trait]
impl AuditStore for FakeAudit {
    async fn append(&self, record: &AuditRecord) -> Result<(), Unavailable> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Unavailable::new(
                "audit table",
                "ProvisionedThroughputExceededException",
            ));
        }
        let mut records = self.records.lock().unwrap();
        assert!(
            records.iter().all(|r| r.id != record.id),
            "audit ids must be unique"
        );
        records.push(record.clone());
        Ok(())
    }
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, Unavailable> {
        self.queries.lock().unwrap().push(query.clone());
        Ok(AuditPage {
            records: self.records.lock().unwrap().clone(),
            cursor: None,
        })
    }
}

#[derive(Default)]
pub struct FakeObjects {
    /// bucket → key → size
    pub objects: Mutex<BTreeMap<(String, String), u64>>,
    pub lists: Mutex<Vec<(String, String)>>,
    pub multiparts: AtomicUsize,
}

impl FakeObjects {
    pub fn put(&self, bucket: &str, key: &str, size: u64) {
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.into(), key.into()), size);
    }
}

#[async_trait]
impl ObjectStore for FakeObjects {
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        _token: Option<&str>,
        limit: i32,
    ) -> Result<ListPage, Unavailable> {
        self.lists
            .lock()
            .unwrap()
            .push((bucket.into(), prefix.into()));
        let mut page = ListPage::default();
        for ((b, k), size) in self.objects.lock().unwrap().iter() {
            if b != bucket || !k.starts_with(prefix) {
                continue;
            }
            match k[prefix.len()..].split_once('/') {
                Some((child, _)) => {
                    let f = format!("{prefix}{child}/");
                    if !page.folders.contains(&f) {
                        page.folders.push(f);
                    }
                }
                None => page.objects.push(ObjectMeta {
                    key: k.clone(),
                    size: *size,
                    last_modified: Some(now()),
                    content_type: None,
                }),
            }
        }
        page.objects.truncate(limit as usize);
        Ok(page)
    }
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, Unavailable> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .get(&(bucket.to_owned(), key.to_owned()))
            .map(|size| ObjectMeta {
                key: key.into(),
                size: *size,
                last_modified: Some(now()),
                content_type: Some("application/pdf".into()),
            }))
    }
    async fn create_multipart(&self, _: &str, _: &str, _: &str) -> Result<String, Unavailable> {
        self.multiparts.fetch_add(1, Ordering::SeqCst);
        Ok("upload-1".into())
    }
}

pub struct Harness {
    pub app: App,
    pub keys: Arc<FakeKeys>,
    pub policies: Arc<FakePolicies>,
    pub audit: Arc<FakeAudit>,
    pub objects: Arc<FakeObjects>,
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

fn path(s: &str) -> bucketdrive_core::path::S3Path {
    bucketdrive_core::path::S3Path::parse(s).unwrap()
}

/// finance reads `annual/` and `quarterly/` but not `annual/secret/`; engineering may write
/// `incoming/`; it-admins may read the audit log.
pub fn harness() -> Harness {
    let keys = Arc::new(FakeKeys::default());
    let policies = Arc::new(FakePolicies::default());
    *policies.groups.lock().unwrap() = vec![
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
        GroupPolicy {
            group: "it-admins".into(),
            grants: vec![],
            deny: vec![],
        },
    ];
    *policies.admins.lock().unwrap() = vec!["it-admins".into()];
    let audit = Arc::new(FakeAudit::default());
    let objects = Arc::new(FakeObjects::default());
    for (k, size) in [
        ("annual/2025/report.pdf", 1000),
        ("annual/summary.pdf", 10),
        ("annual/secret/plan.pdf", 5),
        ("annual-private/salaries.pdf", 7),
        ("hr/people.csv", 3),
        ("incoming/existing.txt", 1),
    ] {
        objects.put("company-reports", k, size);
    }
    let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
    let app = App::new(
        settings(),
        Ports {
            keys: keys.clone(),
            policies: policies.clone(),
            audit: audit.clone(),
            objects: objects.clone(),
            presigner: Arc::new(SigV4Presigner::new(
                SharedCredentialsProvider::new(creds),
                None,
            )),
        },
        Arc::new(now),
    );
    Harness {
        app,
        keys,
        policies,
        audit,
        objects,
    }
}

/// A fixture from tests/data with its bearer token, query and body replaced.
pub fn event(fixture: &str, token: Option<&str>) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/tests/data/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut e: Value = serde_json::from_str(&text).unwrap();
    match token {
        Some(t) => e["headers"]["authorization"] = json!(format!("Bearer {t}")),
        None => {
            e["headers"]
                .as_object_mut()
                .unwrap()
                .remove("authorization");
        }
    }
    e
}

pub fn with_body(mut e: Value, body: &str) -> Value {
    e["body"] = json!(body);
    e
}

pub fn with_query(mut e: Value, raw: &str) -> Value {
    e["rawQueryString"] = json!(raw);
    e
}

pub struct Resp {
    pub status: i64,
    pub body: Value,
    pub raw: ApiGatewayV2httpResponse,
}

impl Harness {
    pub async fn call(&self, event: Value) -> Resp {
        let raw = self.app.handle_event(event, "lambda-req-1").await;
        let body = match &raw.body {
            Some(Body::Text(t)) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
            _ => Value::Null,
        };
        Resp {
            status: raw.status_code,
            body,
            raw,
        }
    }

    pub fn records(&self) -> Vec<AuditRecord> {
        self.audit.records.lock().unwrap().clone()
    }

    pub fn last(&self) -> AuditRecord {
        self.records()
            .last()
            .cloned()
            .expect("no audit record was written")
    }
}

pub fn ttl(secs: u64) -> Duration {
    Duration::from_secs(secs)
}
