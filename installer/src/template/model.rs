//! Everything the stack template needs, computed in Rust from a [`ValidConfig`]: logical IDs,
//! ARN lists, flags and the already-shaped intrinsic functions. The `.hbs` file only places
//! these values; it makes no decisions and builds no names.

use std::collections::BTreeSet;

use bucketdrive_core::config::{Mfa, ProviderConfig, ProviderType, ValidConfig};
use bucketdrive_core::policy::Action;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{RenderError, RenderInputs};

/// The tag BucketDrive puts on every resource, next to the config's own tags.
pub const STACK_TAG: &str = "bucketdrive:stack";
/// The user pool attribute that carries the groups an identity provider sends.
pub const IDP_GROUPS_ATTRIBUTE: &str = "custom:idp_groups";
/// The SAML attribute read as the user's e-mail address (the claim URI Entra ID, Okta's
/// Cognito integration and ADFS send).
pub const SAML_EMAIL_ATTRIBUTE: &str =
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
/// Cognito's limit on an inline SAML metadata document.
pub const MAX_METADATA_FILE_CHARS: usize = 131_072;
/// Room left for `BD_BUCKETS` in the 4 KB Lambda environment, after the other variables.
pub const MAX_BUCKETS_ENV_BYTES: usize = 3_000;

#[derive(Debug, Serialize)]
pub struct StackModel {
    pub description: String,
    /// `[{Key, Value}]`: S3, Lambda, IAM, DynamoDB, Logs.
    pub tags_list: Value,
    /// `{key: value}`: Cognito user pool, API Gateway v2.
    pub tags_map: Value,
    pub user_pool: UserPoolModel,
    pub client: ClientModel,
    /// `UserPoolDomain.Domain`: the configured prefix, or `<stack>-<account id>` lower-cased.
    pub domain: Value,
    pub providers: Vec<ProviderModel>,
    pub has_providers: bool,
    pub function: FunctionModel,
    pub env: EnvModel,
    pub iam: IamModel,
    pub created_buckets: Vec<CreatedBucketModel>,
    /// `FileBuckets` output: every declared bucket, comma-separated.
    pub file_buckets: String,
    pub archive: Option<ArchiveModel>,
}

#[derive(Debug, Serialize)]
pub struct UserPoolModel {
    /// `OFF`, `OPTIONAL` or `ON`.
    pub mfa_configuration: &'static str,
    pub mfa_enabled: bool,
    pub admin_create_only: bool,
}

#[derive(Debug, Serialize)]
pub struct ClientModel {
    pub explicit_auth_flows: Vec<&'static str>,
    /// `SupportedIdentityProviders` when `CreateIdentityProviders` is true: `COGNITO` plus a
    /// `Ref` to each provider resource (the `Ref` also orders the client after the providers).
    pub providers_enabled: Value,
    pub write_attributes: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct ProviderModel {
    pub logical_id: String,
    pub name: String,
    /// `SAML` or `OIDC`.
    pub provider_type: &'static str,
    /// `ProviderDetails` (Cognito's key names).
    pub details: Value,
    pub attribute_mapping: Value,
}

#[derive(Debug, Serialize)]
pub struct FunctionModel {
    pub architecture: &'static str,
    pub memory_mb: u32,
}

#[derive(Debug, Serialize)]
pub struct EnvModel {
    pub url_ttl_seconds: String,
    pub max_upload_bytes: String,
    pub audit_retention_days: String,
    /// `BD_BUCKETS`: `name@region[@kms-key-arn]`, comma-separated.
    pub buckets: String,
}

#[derive(Debug, Serialize)]
pub struct IamModel {
    /// `arn:<partition>:s3:::<bucket>` for every declared bucket (as `Fn::Sub` with a variable).
    pub bucket_arns: Vec<Value>,
    /// `arn:<partition>:s3:::<bucket>/*` for every declared bucket.
    pub object_arns: Vec<Value>,
    /// GetObject, PutObject, AbortMultipartUpload, and DeleteObject only when some grant in
    /// the config carries the delete right.
    pub object_actions: Vec<&'static str>,
    pub kms_key_arns: Vec<String>,
    /// `kms:ViaService` values: S3 in each key's region.
    pub kms_via_services: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CreatedBucketModel {
    pub logical_id: String,
    pub policy_logical_id: String,
    pub name: String,
    pub kms_key_arn: Option<String>,
    /// Pre-signed GETs older than this (ms) are refused by the bucket policy.
    pub max_get_signature_age_ms: u64,
    /// Pre-signed PUTs (and upload parts) older than this (ms) are refused.
    pub max_put_signature_age_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct ArchiveModel {
    pub retention_days: u32,
}

/// `Bucket<CamelCaseName><8 hex of sha256(name)>` (docs/architecture.md).
pub fn bucket_logical_id(name: &str) -> String {
    format!("Bucket{}{}", camel(name), short_hash(name))
}

/// `IdentityProvider<CamelCaseName><8 hex of sha256(name)>`.
pub fn provider_logical_id(name: &str) -> String {
    format!("IdentityProvider{}{}", camel(name), short_hash(name))
}

/// ASCII letters and digits of `name`, each run capitalised: `acme-partner.drop` →
/// `AcmePartnerDrop`. Everything else is dropped, so the result is always a valid ID part.
fn camel(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

fn short_hash(name: &str) -> String {
    Sha256::digest(name.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `arn:<partition>:s3:::<bucket><suffix>`. The bucket name is an `Fn::Sub` *variable*, never
/// part of the pattern, so nothing in it is read as `${…}`.
fn s3_arn(bucket: &str, suffix: &str) -> Value {
    json!({"Fn::Sub": [format!("arn:${{AWS::Partition}}:s3:::${{Bucket}}{suffix}"), {"Bucket": bucket}]})
}

/// Refuses a config value CloudFormation would not take as plain data: `{{` starts a dynamic
/// reference (`{{resolve:ssm:…}}`), which CloudFormation expands in any property value.
fn data(field: impl Fn() -> String, value: &str) -> Result<&str, RenderError> {
    if value.contains("{{") {
        return Err(RenderError::DynamicReference { field: field() });
    }
    Ok(value)
}

pub fn build(valid: &ValidConfig, inputs: &RenderInputs) -> Result<StackModel, RenderError> {
    let c = &valid.config;

    let mut tags_list = vec![json!({"Key": STACK_TAG, "Value": {"Ref": "AWS::StackName"}})];
    let mut tags_map = serde_json::Map::new();
    tags_map.insert(STACK_TAG.to_owned(), json!({"Ref": "AWS::StackName"}));
    for (k, v) in &c.tags {
        let k = data(|| format!("tags.{k}"), k)?;
        let v = data(|| format!("tags.{k}"), v)?;
        if k == STACK_TAG {
            return Err(RenderError::ReservedTag { key: k.to_owned() });
        }
        tags_list.push(json!({"Key": k, "Value": v}));
        tags_map.insert(k.to_owned(), json!(v));
    }

    let (mfa_configuration, mfa_enabled) = match c.identity.mfa {
        Mfa::Off => ("OFF", false),
        Mfa::Optional => ("OPTIONAL", true),
        Mfa::Required => ("ON", true),
    };

    let domain = match &c.identity.domain_prefix {
        Some(p) => json!(data(|| "identity.domain_prefix".to_owned(), p)?),
        None => json!({"Fn::Sub": ["${Stack}-${AWS::AccountId}", {
            "Stack": data(|| "stack".to_owned(), &c.stack)?.to_ascii_lowercase()
        }]}),
    };

    let mut providers = Vec::new();
    for (i, p) in c.identity.providers.iter().enumerate() {
        providers.push(provider(i, p, inputs)?);
    }
    let has_providers = !providers.is_empty();

    let mut explicit_auth_flows = vec!["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"];
    if c.identity.password_auth {
        explicit_auth_flows.push("ALLOW_USER_PASSWORD_AUTH");
    }
    let mut providers_enabled = vec![json!("COGNITO")];
    providers_enabled.extend(providers.iter().map(|p| json!({"Ref": p.logical_id})));
    // What a signed-in user may change on their own account. Federation writes the mapped
    // attributes on every sign-in and self sign-up writes the e-mail, so the client must be
    // allowed to write those; nobody else needs to write `custom:idp_groups`.
    let mut write_attributes = vec!["name"];
    if has_providers || c.identity.self_signup {
        write_attributes.push("email");
    }
    if has_providers {
        write_attributes.push(IDP_GROUPS_ATTRIBUTE);
    }

    let mut bucket_env = Vec::new();
    let mut bucket_arns = Vec::new();
    let mut object_arns = Vec::new();
    let mut kms_key_arns = BTreeSet::new();
    let mut kms_via_services = BTreeSet::new();
    let mut created_buckets = Vec::new();
    let url_ttl_ms = u64::try_from(valid.url_ttl.as_millis()).unwrap_or(u64::MAX);
    for (i, b) in c.buckets.iter().enumerate() {
        let name = data(|| format!("buckets[{i}].name"), &b.name)?;
        let region = match &b.region {
            Some(r) => data(|| format!("buckets[{i}].region"), r)?,
            None => c.region.as_str(),
        };
        let mut entry = format!("{name}@{region}");
        if let Some(arn) = &b.kms_key_arn {
            let arn = data(|| format!("buckets[{i}].kms_key_arn"), arn)?;
            entry.push('@');
            entry.push_str(arn);
            kms_key_arns.insert(arn.to_owned());
            kms_via_services.insert(s3_service_for_key(arn));
        }
        bucket_env.push(entry);
        bucket_arns.push(s3_arn(name, ""));
        object_arns.push(s3_arn(name, "/*"));
        if b.create {
            let logical_id = bucket_logical_id(name);
            created_buckets.push(CreatedBucketModel {
                policy_logical_id: format!("{logical_id}Policy"),
                logical_id,
                name: name.to_owned(),
                kms_key_arn: b.kms_key_arn.clone(),
                max_get_signature_age_ms: url_ttl_ms,
                max_put_signature_age_ms: 3_600_000,
            });
        }
    }
    let buckets_env = bucket_env.join(",");
    if buckets_env.len() > MAX_BUCKETS_ENV_BYTES {
        return Err(RenderError::TooManyBuckets {
            bytes: buckets_env.len(),
        });
    }

    let mut object_actions = vec!["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"];
    let any_delete = valid
        .policies
        .iter()
        .flat_map(|p| &p.grants)
        .any(|g| g.access.allows(Action::Delete));
    if any_delete {
        object_actions.push("s3:DeleteObject");
    }

    Ok(StackModel {
        description: format!(
            "BucketDrive {}: secure file sharing out of your own S3 buckets (rendered by bucketdrive from bucketdrive.yaml)",
            data(|| "stack".to_owned(), &c.stack)?
        ),
        tags_list: Value::Array(tags_list),
        tags_map: Value::Object(tags_map),
        user_pool: UserPoolModel {
            mfa_configuration,
            mfa_enabled,
            admin_create_only: !c.identity.self_signup,
        },
        client: ClientModel {
            explicit_auth_flows,
            providers_enabled: Value::Array(providers_enabled),
            write_attributes,
        },
        domain,
        providers,
        has_providers,
        function: FunctionModel {
            architecture: c.lambda.architecture.as_str(),
            memory_mb: c.lambda.memory_mb,
        },
        env: EnvModel {
            url_ttl_seconds: valid.url_ttl.as_secs().to_string(),
            max_upload_bytes: valid.max_upload_bytes.to_string(),
            audit_retention_days: c.audit.retention_days.to_string(),
            buckets: buckets_env,
        },
        iam: IamModel {
            bucket_arns,
            object_arns,
            object_actions,
            kms_key_arns: kms_key_arns.into_iter().collect(),
            kms_via_services: kms_via_services.into_iter().collect(),
        },
        created_buckets,
        file_buckets: c
            .buckets
            .iter()
            .map(|b| b.name.as_str())
            .collect::<Vec<_>>()
            .join(","),
        archive: c.audit.archive.then_some(ArchiveModel {
            retention_days: valid.archive_retention_days,
        }),
    })
}

/// `s3.<region>.amazonaws.com` for the region in a KMS key ARN (`.com.cn` in China).
fn s3_service_for_key(arn: &str) -> String {
    let parts: Vec<&str> = arn.split(':').collect();
    let partition = parts.get(1).copied().unwrap_or("aws");
    let region = parts.get(3).copied().unwrap_or_default();
    let suffix = if partition == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("s3.{region}.{suffix}")
}

fn provider(
    i: usize,
    p: &ProviderConfig,
    inputs: &RenderInputs,
) -> Result<ProviderModel, RenderError> {
    let at = |k: &str| format!("identity.providers[{i}].{k}");
    let name = data(|| at("name"), &p.name)?;
    let mut details = serde_json::Map::new();
    let mut mapping = serde_json::Map::new();
    let provider_type = match p.kind {
        ProviderType::Saml => {
            if let Some(url) = &p.metadata_url {
                details.insert(
                    "MetadataURL".into(),
                    json!(data(|| at("metadata_url"), url)?),
                );
            } else {
                let xml = inputs.saml_metadata.get(&p.name).ok_or_else(|| {
                    RenderError::MetadataMissing {
                        provider: p.name.clone(),
                    }
                })?;
                let xml = data(
                    || format!("the metadata file of provider `{}`", p.name),
                    xml,
                )?;
                if xml.chars().count() > MAX_METADATA_FILE_CHARS {
                    return Err(RenderError::MetadataTooLarge {
                        provider: p.name.clone(),
                        chars: xml.chars().count(),
                    });
                }
                details.insert("MetadataFile".into(), json!(xml));
            }
            details.insert("IDPSignout".into(), json!("false"));
            mapping.insert("email".into(), json!(SAML_EMAIL_ATTRIBUTE));
            "SAML"
        }
        ProviderType::Oidc => {
            let client_id = p.client_id.as_deref().unwrap_or_default();
            let secret = p.client_secret_arn.as_deref().unwrap_or_default();
            let issuer = p.issuer.as_deref().unwrap_or_default();
            let scopes = match &p.scopes {
                Some(s) => s.join(" "),
                None => "openid email profile".to_owned(),
            };
            details.insert(
                "client_id".into(),
                json!(data(|| at("client_id"), client_id)?),
            );
            // A dynamic reference: CloudFormation reads the secret at deploy time; the
            // template and the stack's parameters never hold it.
            let secret = data(|| at("client_secret_arn"), secret)?;
            details.insert(
                "client_secret".into(),
                json!(format!(
                    "{{{{resolve:secretsmanager:{secret}:SecretString}}}}"
                )),
            );
            details.insert("attributes_request_method".into(), json!("GET"));
            details.insert("oidc_issuer".into(), json!(data(|| at("issuer"), issuer)?));
            details.insert(
                "authorize_scopes".into(),
                json!(data(|| at("scopes"), &scopes)?),
            );
            mapping.insert("email".into(), json!("email"));
            "OIDC"
        }
    };
    if let Some(attr) = &p.groups_attribute {
        mapping.insert(
            IDP_GROUPS_ATTRIBUTE.into(),
            json!(data(|| at("groups_attribute"), attr)?),
        );
    }
    Ok(ProviderModel {
        logical_id: provider_logical_id(name),
        name: name.to_owned(),
        provider_type,
        details: sorted(details),
        attribute_mapping: sorted(mapping),
    })
}

/// An object with its keys in sorted order whatever serde_json's `preserve_order` feature (which
/// some dependencies switch on in test builds): the rendered template must not depend on it.
fn sorted(map: serde_json::Map<String, Value>) -> Value {
    let keys: std::collections::BTreeMap<String, Value> = map.into_iter().collect();
    Value::Object(keys.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_references_never_reach_the_template() {
        let err = data(
            || "identity.providers[0].client_id".to_owned(),
            "{{resolve:ssm:/x}}",
        )
        .unwrap_err();
        assert!(
            matches!(err, RenderError::DynamicReference { ref field } if field == "identity.providers[0].client_id")
        );
        assert_eq!(data(String::new, "a{b}c").unwrap(), "a{b}c");
    }

    #[test]
    fn logical_ids_are_alphanumeric_and_stable() {
        assert_eq!(camel("acme-partner.drop"), "AcmePartnerDrop");
        assert_eq!(camel("x1-2y"), "X12y");
        let id = bucket_logical_id("acme-partner-drop");
        assert!(id.starts_with("BucketAcmePartnerDrop"));
        assert_eq!(id.len(), "BucketAcmePartnerDrop".len() + 8);
        assert!(super::super::helpers::is_logical_id(&id));
        // Names that camel-case alike still get different IDs.
        assert_ne!(bucket_logical_id("a-b-c"), bucket_logical_id("a.b.c"));
        assert_ne!(provider_logical_id("Ok-ta"), provider_logical_id("OkTa"));
        // Whatever the input, the ID is letters and digits.
        assert!(super::super::helpers::is_logical_id(&provider_logical_id(
            "a\"b: !Ref {{x}}\nü"
        )));
    }

    #[test]
    fn kms_service_follows_the_key_region() {
        assert_eq!(
            s3_service_for_key("arn:aws:kms:eu-west-1:123456789012:key/abc"),
            "s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            s3_service_for_key("arn:aws-cn:kms:cn-north-1:123456789012:key/abc"),
            "s3.cn-north-1.amazonaws.com.cn"
        );
    }
}
