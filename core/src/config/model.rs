//! The shape of `bucketdrive.yaml`, exactly as written. Unknown keys are errors everywhere.
//!
//! Values that need checks with good error positions (paths, access, dates, sizes) are kept as
//! the text the user wrote and checked in `validate`, which knows where each one came from.
//! See docs/configuration.md for the meaning of every key.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// CloudFormation stack name; also the prefix of every resource name.
    pub stack: String,
    /// AWS region of the stack.
    pub region: String,
    /// Buckets people may be granted paths in.
    pub buckets: Vec<BucketConfig>,
    #[serde(default)]
    pub identity: IdentityConfig,
    #[serde(default)]
    pub downloads: DownloadsConfig,
    #[serde(default)]
    pub uploads: UploadsConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub lambda: LambdaConfig,
    /// Groups whose members may read the audit log through the API.
    #[serde(default)]
    pub admins: Vec<String>,
    #[serde(default)]
    pub groups: IndexMap<String, GroupConfig>,
    /// Tags put on every resource of the stack.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketConfig {
    pub name: String,
    /// The stack creates (and hardens) the bucket. Otherwise the bucket exists and is never
    /// modified by BucketDrive.
    #[serde(default)]
    pub create: bool,
    /// Region of an existing bucket, when it is not the stack's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// KMS key the bucket's objects are encrypted with (SSE-KMS); the Lambda may use it to
    /// decrypt and encrypt, and no other key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mfa {
    Off,
    Optional,
    #[default]
    Required,
}

impl Mfa {
    pub fn as_str(self) -> &'static str {
        match self {
            Mfa::Off => "off",
            Mfa::Optional => "optional",
            Mfa::Required => "required",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// Multi-factor authentication for users of the pool itself (federated users get theirs
    /// from their identity provider).
    #[serde(default)]
    pub mfa: Mfa,
    /// Allow `USER_PASSWORD_AUTH` on the app client (scripts, local use). Off by default: the
    /// web app uses the hosted UI, the CLI uses SRP.
    #[serde(default)]
    pub password_auth: bool,
    /// Let people sign themselves up. Off: only administrators create users.
    #[serde(default)]
    pub self_signup: bool,
    /// Prefix of the Cognito hosted UI domain (`<prefix>.auth.<region>.amazoncognito.com`).
    /// Defaults to `<stack>-<account id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderType {
    Saml,
    Oidc,
}

/// One federated identity provider. SAML and OIDC take different keys; `validate` says which
/// belong to which, with positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    #[serde(rename = "type")]
    pub kind: ProviderType,
    pub name: String,
    /// SAML: where the IdP publishes its metadata (https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    /// SAML: a metadata file, relative to the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_file: Option<String>,
    /// OIDC: the issuer URL (https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// OIDC: the client id registered at the IdP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// OIDC: ARN of the Secrets Manager secret holding the client secret. The secret itself
    /// never appears in this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_arn: Option<String>,
    /// OIDC: scopes to request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The SAML attribute or OIDC claim that carries the user's groups at the IdP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_attribute: Option<String>,
    /// IdP group name → BucketDrive group name. IdP groups not listed map to the BucketDrive
    /// group of the same name, if one exists.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub group_map: IndexMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadsConfig {
    /// Lifetime of a pre-signed download URL, e.g. `10m`. Between 1m and 1h.
    #[serde(default = "default_url_ttl")]
    pub url_ttl: String,
}

fn default_url_ttl() -> String {
    "10m".to_owned()
}

impl Default for DownloadsConfig {
    fn default() -> Self {
        DownloadsConfig {
            url_ttl: default_url_ttl(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadsConfig {
    /// Largest object a person may upload, e.g. `5GiB`.
    #[serde(default = "default_max_size")]
    pub max_size: String,
}

fn default_max_size() -> String {
    "5GiB".to_owned()
}

impl Default for UploadsConfig {
    fn default() -> Self {
        UploadsConfig {
            max_size: default_max_size(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Days an audit record stays in the (queryable) table.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// Also stream every record to an S3 archive under Object Lock.
    #[serde(default)]
    pub archive: bool,
    /// Days each archived record is locked (compliance mode). Defaults to 7 years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_retention_days: Option<u32>,
}

fn default_retention_days() -> u32 {
    400
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention_days: default_retention_days(),
            archive: false,
            archive_retention_days: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Architecture {
    #[default]
    #[serde(rename = "arm64")]
    Arm64,
    #[serde(rename = "x86_64")]
    X86_64,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaConfig {
    #[serde(default)]
    pub architecture: Architecture,
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u32,
}

fn default_memory_mb() -> u32 {
    512
}

impl Default for LambdaConfig {
    fn default() -> Self {
        LambdaConfig {
            architecture: Architecture::default(),
            memory_mb: default_memory_mb(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub grants: Vec<GrantEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<DenyEntry>,
}

/// A grant as written: `"s3://bucket/prefix/"` (read) or `{path, access, until}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantEntry {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// A deny as written: `"s3://bucket/prefix/"` (every right) or `{path, access}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DenyEntry {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessSpec>,
}

/// `read`, `read-write`, … or a list of those, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AccessSpec {
    One(String),
    Many(Vec<String>),
}

impl AccessSpec {
    pub fn words(&self) -> Vec<&str> {
        match self {
            AccessSpec::One(w) => vec![w.as_str()],
            AccessSpec::Many(ws) => ws.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantFields {
    path: String,
    #[serde(default)]
    access: Option<AccessSpec>,
    #[serde(default)]
    until: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DenyFields {
    path: String,
    #[serde(default)]
    access: Option<AccessSpec>,
}

// Hand-written visitors instead of `#[serde(untagged)]`: untagged enums buffer their input, which
// loses the line/column of errors inside them and turns every mistake into "did not match any
// variant".
struct PathOrMap<T>(&'static str, std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de> + From<String>> Visitor<'de> for PathOrMap<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an s3:// path or a mapping with {}", self.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::from(v.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

impl From<String> for GrantFields {
    fn from(path: String) -> Self {
        GrantFields {
            path,
            access: None,
            until: None,
        }
    }
}

impl From<String> for DenyFields {
    fn from(path: String) -> Self {
        DenyFields { path, access: None }
    }
}

impl<'de> Deserialize<'de> for GrantEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = d.deserialize_any(PathOrMap::<GrantFields>(
            "`path`, `access` and `until`",
            std::marker::PhantomData,
        ))?;
        Ok(GrantEntry {
            path: f.path,
            access: f.access,
            until: f.until,
        })
    }
}

impl<'de> Deserialize<'de> for DenyEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = d.deserialize_any(PathOrMap::<DenyFields>(
            "`path` and `access`",
            std::marker::PhantomData,
        ))?;
        Ok(DenyEntry {
            path: f.path,
            access: f.access,
        })
    }
}

struct AccessVisitor;

impl<'de> Visitor<'de> for AccessVisitor {
    type Value = AccessSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`read`, `write`, `read-write`, `delete` or a list of those")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<AccessSpec, E> {
        Ok(AccessSpec::One(v.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AccessSpec, A::Error> {
        let mut words = Vec::new();
        while let Some(w) = seq.next_element::<String>()? {
            words.push(w);
        }
        Ok(AccessSpec::Many(words))
    }
}

impl<'de> Deserialize<'de> for AccessSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AccessVisitor)
    }
}
