//! The narrow traits between the handlers and AWS, in the product's own words. The SDK-backed
//! implementations live in `adapters/`; tests use in-memory fakes.

use std::time::Duration;

use async_trait::async_trait;
use bucketdrive_core::audit::AuditRecord;
use bucketdrive_core::audit_query::AuditFilter;
use bucketdrive_core::policy::GroupPolicy;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use serde::Serialize;

/// A dependency failed. Handlers answer 503 and, above all, issue no URL.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{service} is unavailable: {detail}")]
pub struct Unavailable {
    pub service: &'static str,
    pub detail: String,
}

impl Unavailable {
    pub fn new(service: &'static str, detail: impl std::fmt::Display) -> Self {
        Unavailable {
            service,
            detail: detail.to_string(),
        }
    }
}

/// Group policies, admin groups and revocation times (the policies table).
#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// The policies of these groups; groups without a policy are simply absent.
    async fn group_policies(&self, groups: &[String]) -> Result<Vec<GroupPolicy>, Unavailable>;
    async fn admin_groups(&self) -> Result<Vec<String>, Unavailable>;
    /// The user's revocation time (epoch seconds): tokens issued at or before it are refused.
    async fn not_before(&self, sub: &str) -> Result<Option<i64>, Unavailable>;
}

/// A page of a question about the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditQuery {
    pub filter: AuditFilter,
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    pub cursor: Option<String>,
}

/// The audit table: append-only for the Lambda, plus index queries for admins.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Writes a record that must not exist yet (`attribute_not_exists(id)`).
    async fn append(&self, record: &AuditRecord) -> Result<(), Unavailable>;
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, Unavailable>;
}

/// An object as S3 reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// One page of a delimiter listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPage {
    /// Full prefixes of the sub-folders (`a/b/`).
    pub folders: Vec<String>,
    pub objects: Vec<ObjectMeta>,
    /// S3's continuation token for the next page.
    pub next: Option<String>,
}

/// What the Lambda asks S3 itself (pre-signing is separate: it needs no network).
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// One level under `prefix` (delimiter `/`), at most `limit` entries.
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&str>,
        limit: i32,
    ) -> Result<ListPage, Unavailable>;
    /// `None` when the object does not exist.
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, Unavailable>;
    async fn create_multipart(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
    ) -> Result<String, Unavailable>;
}

/// A request to pre-sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresignOp {
    /// GET of one object, downloaded as an attachment named `filename`.
    Get { filename: String },
    /// Single PUT of exactly `length` bytes of `content_type`.
    Put { length: u64, content_type: String },
    /// One part of a multipart upload.
    UploadPart { upload_id: String, part_number: u32 },
    /// Completing a multipart upload (POST with the part list).
    Complete { upload_id: String },
    /// Aborting a multipart upload.
    Abort { upload_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignRequest {
    pub bucket: String,
    pub region: String,
    pub key: String,
    pub op: PresignOp,
    pub ttl: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Presigned {
    pub method: &'static str,
    pub url: String,
    /// Headers the client must send exactly (they are signed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait Presigner: Send + Sync {
    /// Signs `req` at `now`. The returned expiry is the earlier of the requested TTL and the
    /// signing credentials' own expiry (a URL dies with the session that signed it).
    async fn presign(
        &self,
        req: &PresignRequest,
        now: DateTime<Utc>,
    ) -> Result<Presigned, Unavailable>;
}

/// Where the token signing keys come from (the pool's JWKS).
#[async_trait]
pub trait KeySource: Send + Sync {
    async fn fetch(&self) -> Result<JwkSet, Unavailable>;
}
