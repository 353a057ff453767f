//! The Lambda's configuration, read once from its environment (names in docs/architecture.md).

use std::collections::HashMap;
use std::time::Duration;

use bucketdrive_core::config::{URL_TTL_MAX, URL_TTL_MIN};

/// One bucket the deployment may serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    pub name: String,
    pub region: String,
    pub kms_key_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub stack: String,
    pub policies_table: String,
    pub audit_table: String,
    pub issuer: String,
    pub client_id: String,
    pub jwks_url: String,
    pub auth_base_url: String,
    pub url_ttl: Duration,
    pub max_upload_bytes: u64,
    pub audit_retention_days: u32,
    pub buckets: Vec<BucketInfo>,
    /// Where S3 is reached, when not AWS itself (the local emulator); pre-signed URLs then use
    /// path-style addressing on this endpoint.
    pub endpoint_url: Option<String>,
    pub region: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Settings {
    pub fn from_env() -> Result<Settings, SettingsError> {
        Settings::from_map(&std::env::vars().collect())
    }

    pub fn from_map(env: &HashMap<String, String>) -> Result<Settings, SettingsError> {
        let get = |name: &'static str| {
            env.get(name)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or(SettingsError::Missing(name))
        };
        let number = |name: &'static str| -> Result<u64, SettingsError> {
            get(name)?
                .parse::<u64>()
                .map_err(|e| SettingsError::Invalid {
                    name,
                    reason: e.to_string(),
                })
        };
        let issuer = get("BD_ISSUER")?;
        let jwks_url = env
            .get("BD_JWKS_URL")
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json"));
        let ttl = Duration::from_secs(number("BD_URL_TTL_SECONDS")?);
        if !(URL_TTL_MIN..=URL_TTL_MAX).contains(&ttl) {
            return Err(SettingsError::Invalid {
                name: "BD_URL_TTL_SECONDS",
                reason: "must be between 60 and 3600".into(),
            });
        }
        let region = env
            .get("AWS_REGION")
            .or_else(|| env.get("AWS_DEFAULT_REGION"))
            .cloned()
            .ok_or(SettingsError::Missing("AWS_REGION"))?;
        let buckets = parse_buckets(&get("BD_BUCKETS")?, &region)?;
        Ok(Settings {
            stack: get("BD_STACK")?,
            policies_table: get("BD_POLICIES_TABLE")?,
            audit_table: get("BD_AUDIT_TABLE")?,
            issuer,
            client_id: get("BD_CLIENT_ID")?,
            jwks_url,
            auth_base_url: env.get("BD_AUTH_BASE_URL").cloned().unwrap_or_default(),
            url_ttl: ttl,
            max_upload_bytes: number("BD_MAX_UPLOAD_BYTES")?,
            audit_retention_days: u32::try_from(number("BD_AUDIT_RETENTION_DAYS")?).map_err(
                |e| SettingsError::Invalid {
                    name: "BD_AUDIT_RETENTION_DAYS",
                    reason: e.to_string(),
                },
            )?,
            buckets,
            endpoint_url: env
                .get("AWS_ENDPOINT_URL_S3")
                .or_else(|| env.get("AWS_ENDPOINT_URL"))
                .filter(|v| !v.is_empty())
                .cloned(),
            region,
        })
    }

    pub fn bucket(&self, name: &str) -> Option<&BucketInfo> {
        self.buckets.iter().find(|b| b.name == name)
    }
}

/// `name@region[@kms-key-arn]`, comma-separated.
fn parse_buckets(text: &str, default_region: &str) -> Result<Vec<BucketInfo>, SettingsError> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|item| {
            let mut parts = item.trim().splitn(3, '@');
            let name = parts.next().unwrap_or_default().to_owned();
            bucketdrive_core::path::validate_bucket_name(&name).map_err(|e| {
                SettingsError::Invalid {
                    name: "BD_BUCKETS",
                    reason: format!("`{name}`: {e}"),
                }
            })?;
            let region = parts
                .next()
                .filter(|r| !r.is_empty())
                .unwrap_or(default_region)
                .to_owned();
            let kms_key_arn = parts.next().filter(|k| !k.is_empty()).map(str::to_owned);
            Ok(BucketInfo {
                name,
                region,
                kms_key_arn,
            })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn env() -> HashMap<String, String> {
        [
            ("BD_STACK", "acme-files"),
            ("BD_POLICIES_TABLE", "policies"),
            ("BD_AUDIT_TABLE", "audit"),
            ("BD_ISSUER", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST"),
            ("BD_CLIENT_ID", "client-1"),
            ("BD_URL_TTL_SECONDS", "600"),
            ("BD_MAX_UPLOAD_BYTES", "5368709120"),
            ("BD_AUDIT_RETENTION_DAYS", "400"),
            ("BD_BUCKETS", "company-reports@eu-west-1,partner-drop@us-east-1@arn:aws:kms:us-east-1:123456789012:key/abc"),
            ("AWS_REGION", "eu-west-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn reads_every_setting() {
        let s = Settings::from_map(&env()).unwrap();
        assert_eq!(
            s.jwks_url,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST/.well-known/jwks.json"
        );
        assert_eq!(s.url_ttl, Duration::from_secs(600));
        assert_eq!(s.buckets.len(), 2);
        assert_eq!(s.bucket("partner-drop").unwrap().region, "us-east-1");
        assert!(s.bucket("partner-drop").unwrap().kms_key_arn.is_some());
        assert!(s.endpoint_url.is_none());
    }

    #[test]
    fn refuses_missing_and_out_of_range_values() {
        let mut e = env();
        e.remove("BD_CLIENT_ID");
        assert_eq!(
            Settings::from_map(&e),
            Err(SettingsError::Missing("BD_CLIENT_ID"))
        );
        let mut e = env();
        e.insert("BD_URL_TTL_SECONDS".into(), "86400".into());
        assert!(matches!(
            Settings::from_map(&e),
            Err(SettingsError::Invalid { .. })
        ));
        let mut e = env();
        e.insert("BD_BUCKETS".into(), "Bad_Bucket".into());
        assert!(matches!(
            Settings::from_map(&e),
            Err(SettingsError::Invalid { .. })
        ));
    }
}
