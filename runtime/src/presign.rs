//! Pre-signed S3 URLs, signed locally with SigV4 (`aws-sigv4`, the SDK's own signer).
//!
//! Signing needs no network: the cost of a download on the Lambda's critical path stays the one
//! audit write. The URL names exactly the checked key (each byte of it percent-encoded once), the
//! headers that must match (length and type for uploads) are signed, and the reported expiry is
//! never later than the signing credentials' own.

use std::sync::RwLock;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::ports::{PresignOp, PresignRequest, Presigned, Presigner, Unavailable};

/// Everything but RFC 3986 unreserved characters is encoded (S3's rule for keys and values).
const S3_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Keep a URL's life this far inside its credentials' life.
const CREDENTIAL_MARGIN: Duration = Duration::from_secs(60);

pub struct SigV4Presigner {
    provider: SharedCredentialsProvider,
    cached: RwLock<Option<Credentials>>,
    /// Path-style base URL of a non-AWS endpoint (the local emulator).
    endpoint: Option<String>,
}

impl SigV4Presigner {
    pub fn new(provider: SharedCredentialsProvider, endpoint: Option<String>) -> Self {
        SigV4Presigner {
            provider,
            cached: RwLock::new(None),
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_owned()),
        }
    }

    async fn credentials(
        &self,
        now: SystemTime,
        ttl: Duration,
    ) -> Result<Credentials, Unavailable> {
        let usable = |c: &Credentials| {
            c.expiry()
                .is_none_or(|exp| exp > now + CREDENTIAL_MARGIN + ttl.min(Duration::from_secs(300)))
        };
        if let Ok(guard) = self.cached.read()
            && let Some(c) = guard.as_ref().filter(|c| usable(c))
        {
            return Ok(c.clone());
        }
        let fresh = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| Unavailable::new("credentials", e))?;
        if let Ok(mut guard) = self.cached.write() {
            *guard = Some(fresh.clone());
        }
        Ok(fresh)
    }

    /// The object URL without signature: virtual-hosted on AWS (path-style for bucket names
    /// with dots, which break TLS on virtual hosts), path-style on a custom endpoint.
    fn object_url(&self, bucket: &str, region: &str, key: &str) -> String {
        let key = key
            .split('/')
            .map(|seg| utf8_percent_encode(seg, S3_ENCODE).to_string())
            .collect::<Vec<_>>()
            .join("/");
        match &self.endpoint {
            Some(base) => format!("{base}/{bucket}/{key}"),
            None if bucket.contains('.') => {
                format!("https://s3.{region}.amazonaws.com/{bucket}/{key}")
            }
            None => format!("https://{bucket}.s3.{region}.amazonaws.com/{key}"),
        }
    }
}

/// `attachment; filename="<ascii>"; filename*=UTF-8''<encoded>` (RFC 6266 / RFC 8187): the
/// quoted fallback has every non-printable-ASCII, quote and backslash replaced.
pub fn content_disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = utf8_percent_encode(filename, S3_ENCODE);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

fn enc(v: &str) -> String {
    utf8_percent_encode(v, S3_ENCODE).to_string()
}

#[async_trait]
impl Presigner for SigV4Presigner {
    async fn presign(
        &self,
        req: &PresignRequest,
        now: DateTime<Utc>,
    ) -> Result<Presigned, Unavailable> {
        let signing_time: SystemTime = now.into();
        let creds = self.credentials(signing_time, req.ttl).await?;
        // A URL dies with the session that signed it: clamp what we sign and what we report.
        let mut ttl = req.ttl;
        if let Some(exp) = creds.expiry() {
            let left = exp
                .duration_since(signing_time)
                .unwrap_or_default()
                .saturating_sub(CREDENTIAL_MARGIN);
            ttl = ttl.min(left);
        }
        if ttl < Duration::from_secs(1) {
            return Err(Unavailable::new(
                "credentials",
                "the signing credentials are about to expire",
            ));
        }

        let (method, query, headers): (&'static str, Vec<(String, String)>, Vec<(String, String)>) =
            match &req.op {
                PresignOp::Get { filename } => (
                    "GET",
                    vec![(
                        "response-content-disposition".into(),
                        content_disposition(filename),
                    )],
                    vec![],
                ),
                PresignOp::Put {
                    length,
                    content_type,
                } => (
                    "PUT",
                    vec![],
                    vec![
                        ("content-length".into(), length.to_string()),
                        ("content-type".into(), content_type.clone()),
                    ],
                ),
                PresignOp::UploadPart {
                    upload_id,
                    part_number,
                } => (
                    "PUT",
                    vec![
                        ("partNumber".into(), part_number.to_string()),
                        ("uploadId".into(), upload_id.clone()),
                    ],
                    vec![],
                ),
                PresignOp::Complete { upload_id } => {
                    ("POST", vec![("uploadId".into(), upload_id.clone())], vec![])
                }
                PresignOp::Abort { upload_id } => (
                    "DELETE",
                    vec![("uploadId".into(), upload_id.clone())],
                    vec![],
                ),
            };
        let mut url = self.object_url(&req.bucket, &req.region, &req.key);
        if !query.is_empty() {
            url.push('?');
            url.push_str(
                &query
                    .iter()
                    .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                    .collect::<Vec<_>>()
                    .join("&"),
            );
        }

        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(ttl);
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        settings.session_token_mode = SessionTokenMode::Include;
        let identity: Identity = creds.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&req.region)
            .name("s3")
            .time(signing_time)
            .settings(settings)
            .build()
            .map_err(|e| Unavailable::new("signer", e))?
            .into();
        let signable = SignableRequest::new(
            method,
            url.as_str(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| Unavailable::new("signer", e))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| Unavailable::new("signer", e))?
            .into_parts();
        let (_, params) = instructions.into_parts();
        url.push(if query.is_empty() { '?' } else { '&' });
        url.push_str(
            &params
                .iter()
                .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                .collect::<Vec<_>>()
                .join("&"),
        );
        let expires_at =
            now + chrono::Duration::from_std(ttl).map_err(|e| Unavailable::new("signer", e))?;
        Ok(Presigned {
            method,
            url,
            headers: headers
                .into_iter()
                .filter(|(k, _)| k != "content-length")
                .collect(),
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presigner(endpoint: Option<&str>, expiry: Option<SystemTime>) -> SigV4Presigner {
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("token/+=".into()),
            expiry,
            "test",
        );
        SigV4Presigner::new(
            SharedCredentialsProvider::new(creds),
            endpoint.map(str::to_owned),
        )
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn get(key: &str, name: &str) -> PresignRequest {
        PresignRequest {
            bucket: "company-reports".into(),
            region: "eu-west-1".into(),
            key: key.into(),
            op: PresignOp::Get {
                filename: name.into(),
            },
            ttl: Duration::from_secs(600),
        }
    }

    #[tokio::test]
    async fn signs_exactly_the_checked_key() {
        let p = presigner(None, None);
        let out = p
            .presign(
                &get("annual/Q3 report #1 é.pdf", "Q3 report #1 é.pdf"),
                now(),
            )
            .await
            .unwrap();
        assert!(
            out.url.starts_with("https://company-reports.s3.eu-west-1.amazonaws.com/annual/Q3%20report%20%231%20%C3%A9.pdf?"),
            "{}",
            out.url
        );
        assert!(out.url.contains("X-Amz-Expires=600"));
        assert!(out.url.contains("X-Amz-Security-Token=token%2F%2B%3D"));
        assert!(out.url.contains("response-content-disposition=attachment"));
        assert!(out.url.contains("X-Amz-Signature="));
        assert_eq!(out.expires_at, now() + chrono::Duration::seconds(600));
    }

    #[tokio::test]
    async fn key_characters_are_never_path_syntax_in_the_url() {
        let p = presigner(Some("http://127.0.0.1:4566/"), None);
        let out = p.presign(&get("a/%2e%2e/b?c", "b?c"), now()).await.unwrap();
        assert!(
            out.url
                .starts_with("http://127.0.0.1:4566/company-reports/a/%252e%252e/b%3Fc?"),
            "{}",
            out.url
        );
    }

    #[tokio::test]
    async fn the_url_dies_with_its_credentials() {
        let signing: SystemTime = now().into();
        let p = presigner(None, Some(signing + Duration::from_secs(360)));
        let out = p.presign(&get("a.pdf", "a.pdf"), now()).await.unwrap();
        assert!(out.url.contains("X-Amz-Expires=300"), "{}", out.url);
        assert_eq!(out.expires_at, now() + chrono::Duration::seconds(300));
    }

    #[tokio::test]
    async fn uploads_sign_length_and_type() {
        let p = presigner(None, None);
        let req = PresignRequest {
            op: PresignOp::Put {
                length: 42,
                content_type: "application/pdf".into(),
            },
            ..get("incoming/x.pdf", "x.pdf")
        };
        let out = p.presign(&req, now()).await.unwrap();
        assert_eq!(out.method, "PUT");
        assert!(
            out.url
                .contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"),
            "{}",
            out.url
        );
        assert_eq!(
            out.headers,
            vec![("content-type".to_owned(), "application/pdf".to_owned())]
        );
    }

    #[test]
    fn content_disposition_is_safe_and_exact() {
        assert_eq!(
            content_disposition("résumé \"final\".pdf"),
            "attachment; filename=\"r_sum_ _final_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf"
        );
        assert!(!content_disposition("a\r\nSet-Cookie: x").contains('\n'));
    }
}
