//! The rendered CloudFormation stack: snapshots of the examples, the security properties checkov
//! does not check (TLS-only bucket policies, Object Lock, MFA, deletion protection, least
//! privilege), and hostile names that must neither inject YAML nor change the resource set.
//!
//! Templates use long-form intrinsics only (`Ref`, `Fn::Sub`, …), so plain YAML parsing gives
//! the exact document CloudFormation sees.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bucketdrive::template::{self, RenderError, RenderInputs};
use bucketdrive_core::config::{ValidConfig, load};
use chrono::NaiveDate;
use serde_json::{Value, json};

// ------------------------------------------------------------------------------------- helpers

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn valid(name: &str, source: &str) -> ValidConfig {
    load(name, source, today()).unwrap_or_else(|e| panic!("{name} does not validate:\n{e}"))
}

fn render_src(source: &str) -> String {
    let v = valid("test.yaml", source);
    template::render(&v, &RenderInputs::default()).unwrap()
}

fn example(name: &str) -> String {
    std::fs::read_to_string(root().join("examples").join(name)).unwrap()
}

fn parse(yaml: &str) -> Value {
    serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("not YAML: {e}\n{yaml}"))
}

fn resources(doc: &Value) -> &serde_json::Map<String, Value> {
    doc["Resources"].as_object().expect("Resources")
}

fn of_type<'a>(doc: &'a Value, ty: &str) -> Vec<(&'a String, &'a Value)> {
    resources(doc)
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .collect()
}

fn ids(doc: &Value) -> BTreeSet<String> {
    resources(doc).keys().cloned().collect()
}

/// A value that may be one string or a list of them.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn statements(policy_doc: &Value) -> Vec<&Value> {
    match &policy_doc["Statement"] {
        Value::Array(a) => a.iter().collect(),
        v @ Value::Object(_) => vec![v],
        _ => Vec::new(),
    }
}

/// Every Allow statement of a role's inline policies.
fn role_allows(role: &Value) -> Vec<&Value> {
    role["Properties"]["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| statements(&p["PolicyDocument"]))
        .filter(|s| s["Effect"] == "Allow")
        .collect()
}

fn actions_of(role: &Value) -> BTreeSet<String> {
    role_allows(role)
        .iter()
        .flat_map(|s| strings(&s["Action"]))
        .collect()
}

/// Statements granting `action`, with their resources as rendered.
fn resources_for<'a>(role: &'a Value, action: &str) -> Vec<&'a Value> {
    role_allows(role)
        .into_iter()
        .filter(|s| strings(&s["Action"]).iter().any(|a| a == action))
        .map(|s| &s["Resource"])
        .collect()
}

const QUICKSTART: &str = "quickstart.yaml";
const ENTERPRISE: &str = "enterprise.yaml";
const PARTNER: &str = "partner-drop.yaml";

fn rendered_examples() -> Vec<(String, ValidConfig, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let v = valid(&name, &std::fs::read_to_string(&path).unwrap());
        let inputs = RenderInputs::load(&v, &path).unwrap();
        let doc = parse(&template::render(&v, &inputs).unwrap());
        out.push((name, v, doc));
    }
    assert!(out.len() >= 3, "expected at least three examples");
    out
}

// ----------------------------------------------------------------------------------- snapshots

#[test]
fn examples_render_to_their_snapshots() {
    for name in [QUICKSTART, ENTERPRISE, PARTNER] {
        let yaml = render_src(&example(name));
        insta::assert_snapshot!(format!("stack-{name}"), yaml);
    }
    insta::assert_snapshot!("artifacts", template::render_artifacts().unwrap());
}

#[test]
fn rendering_is_deterministic() {
    let a = render_src(&example(PARTNER));
    let b = render_src(&example(PARTNER));
    assert_eq!(a, b);
}

#[test]
fn templates_never_use_raw_output() {
    for (name, src) in [
        ("stack", template::STACK_TEMPLATE),
        ("artifacts", template::ARTIFACTS_TEMPLATE),
    ] {
        assert!(!src.contains("{{{"), "{name} uses a triple-stash");
        assert!(!src.contains("{{&"), "{name} uses unescaped output");
        assert!(
            !src.contains("{{!"),
            "{name} uses a comment that may hide text"
        );
        assert!(!src.contains("!Ref") && !src.contains("!Sub") && !src.contains("!GetAtt"));
    }
}

// ------------------------------------------------------------------------ the contract (names)

#[test]
fn logical_ids_parameters_and_outputs_follow_the_architecture_doc() {
    for (name, v, doc) in rendered_examples() {
        let ids = ids(&doc);
        for id in [
            "UserPool",
            "UserPoolClient",
            "UserPoolDomain",
            "HttpApi",
            "HttpApiStage",
            "JwtAuthorizer",
            "ApiIntegration",
            "ApiRoute",
            "AppRoute",
            "ApiFunction",
            "ApiFunctionRole",
            "ApiFunctionLogs",
            "ApiInvokePermission",
            "ApiAccessLogs",
            "PoliciesTable",
            "AuditTable",
        ] {
            assert!(ids.contains(id), "{name}: no {id}");
        }
        let federation = [
            "PreTokenFunction",
            "PreTokenFunctionRole",
            "PreTokenFunctionLogs",
            "PreTokenInvokePermission",
        ];
        let has_providers = !v.config.identity.providers.is_empty();
        for id in federation {
            assert_eq!(ids.contains(id), has_providers, "{name}: {id}");
        }
        let archive = [
            "ArchiveBucket",
            "ArchiveBucketPolicy",
            "ArchiveFunction",
            "ArchiveFunctionRole",
            "ArchiveFunctionLogs",
            "ArchiveEventSource",
        ];
        for id in archive {
            assert_eq!(ids.contains(id), v.config.audit.archive, "{name}: {id}");
        }
        for b in v.config.buckets.iter().filter(|b| b.create) {
            let id = template::model::bucket_logical_id(&b.name);
            assert!(ids.contains(&id), "{name}: no {id}");
            assert!(
                ids.contains(&format!("{id}Policy")),
                "{name}: no {id}Policy"
            );
        }

        let params: BTreeSet<&str> = doc["Parameters"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            params,
            BTreeSet::from([
                "CodeBucket",
                "CodeKey",
                "JwksBaseUrl",
                "AuthBaseUrl",
                "CreateIdentityProviders"
            ])
        );
        assert_eq!(
            doc["Parameters"]["CreateIdentityProviders"]["Default"],
            "true"
        );

        let outputs: BTreeSet<&str> = doc["Outputs"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = BTreeSet::from([
            "ApiUrl",
            "AppUrl",
            "UserPoolId",
            "UserPoolClientId",
            "Issuer",
            "AuthBaseUrl",
            "PoliciesTableName",
            "AuditTableName",
            "FileBuckets",
            "ApiFunctionName",
        ]);
        if v.config.audit.archive {
            expected.insert("ArchiveBucketName");
        }
        assert_eq!(outputs, expected, "{name}");
        let buckets: Vec<&str> = v.config.buckets.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(doc["Outputs"]["FileBuckets"]["Value"], buckets.join(","));
    }
}

#[test]
fn lambda_environment_matches_the_contract() {
    let (_, _, doc) = rendered_examples()
        .into_iter()
        .find(|(n, _, _)| n == PARTNER)
        .unwrap();
    let vars = |id: &str| -> BTreeSet<String> {
        doc["Resources"][id]["Properties"]["Environment"]["Variables"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let api: BTreeSet<String> = [
        "BD_MODE",
        "BD_STACK",
        "BD_POLICIES_TABLE",
        "BD_AUDIT_TABLE",
        "BD_ISSUER",
        "BD_CLIENT_ID",
        "BD_JWKS_URL",
        "BD_AUTH_BASE_URL",
        "BD_URL_TTL_SECONDS",
        "BD_MAX_UPLOAD_BYTES",
        "BD_AUDIT_RETENTION_DAYS",
        "BD_BUCKETS",
    ]
    .map(String::from)
    .into();
    assert_eq!(vars("ApiFunction"), api);
    let env = &doc["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env["BD_MODE"], "api");
    assert_eq!(env["BD_URL_TTL_SECONDS"], "300");
    assert_eq!(env["BD_MAX_UPLOAD_BYTES"], (2u64 << 30).to_string());
    assert_eq!(
        env["BD_BUCKETS"],
        "globex-partner-exchange@eu-central-1@arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    );
    let pre = &doc["Resources"]["PreTokenFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(pre["BD_MODE"], "pretoken");
    let arc = &doc["Resources"]["ArchiveFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(arc["BD_MODE"], "archive");
    assert_eq!(arc["BD_ARCHIVE_BUCKET"], json!({"Ref": "ArchiveBucket"}));
    for id in ["ApiFunction", "PreTokenFunction", "ArchiveFunction"] {
        let p = &doc["Resources"][id]["Properties"];
        assert_eq!(p["Runtime"], "provided.al2023");
        assert_eq!(p["Architectures"], json!(["arm64"]));
        assert_eq!(p["MemorySize"], 1024);
        assert_eq!(p["Code"]["S3Bucket"], json!({"Ref": "CodeBucket"}));
        assert_eq!(p["Code"]["S3Key"], json!({"Ref": "CodeKey"}));
    }
}

#[test]
fn every_reference_resolves() {
    const PSEUDO: [&str; 8] = [
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    ];
    fn walk(v: &Value, found: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("Ref", Value::String(t)) => found.push(("Ref".into(), t.clone())),
                        ("Fn::GetAtt", Value::Array(a)) => {
                            found.push(("GetAtt".into(), a[0].as_str().unwrap().into()));
                        }
                        ("Fn::Sub", _) => {
                            let (pattern, vars) = match x {
                                Value::String(s) => (s.as_str(), None),
                                Value::Array(a) => (a[0].as_str().unwrap(), a[1].as_object()),
                                _ => panic!("bad Fn::Sub {x}"),
                            };
                            for part in pattern.split("${").skip(1) {
                                let name = part.split('}').next().unwrap();
                                let name = name.split('.').next().unwrap();
                                if !vars.is_some_and(|m| m.contains_key(name)) {
                                    found.push(("Sub".into(), name.to_owned()));
                                }
                            }
                        }
                        ("Fn::If", Value::Array(a)) => {
                            found.push(("If".into(), a[0].as_str().unwrap().into()));
                        }
                        ("Condition", Value::String(c)) => found.push(("If".into(), c.clone())),
                        _ => {}
                    }
                    walk(x, found);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, found)),
            _ => {}
        }
    }
    for (name, _, doc) in rendered_examples() {
        let mut found = Vec::new();
        walk(&doc["Resources"], &mut found);
        walk(&doc["Outputs"], &mut found);
        walk(&doc["Conditions"], &mut found);
        let res = ids(&doc);
        let params: BTreeSet<String> = doc["Parameters"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let conds: BTreeSet<String> = doc["Conditions"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert!(!found.is_empty());
        for (kind, target) in found {
            let ok = match kind.as_str() {
                "GetAtt" => res.contains(&target),
                "If" => conds.contains(&target),
                _ => {
                    res.contains(&target)
                        || params.contains(&target)
                        || PSEUDO.contains(&target.as_str())
                }
            };
            assert!(ok, "{name}: {kind} to unknown `{target}`");
        }
    }
}

// --------------------------------------------------------------------- buckets the stack creates

#[test]
fn every_created_bucket_is_hardened_and_tls_only() {
    for (name, v, doc) in rendered_examples() {
        let buckets = of_type(&doc, "AWS::S3::Bucket");
        let expected = v.config.buckets.iter().filter(|b| b.create).count()
            + usize::from(v.config.audit.archive);
        assert_eq!(buckets.len(), expected, "{name}");
        let policies = of_type(&doc, "AWS::S3::BucketPolicy");
        for (id, b) in buckets {
            let p = &b["Properties"];
            for flag in [
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            ] {
                assert_eq!(
                    p["PublicAccessBlockConfiguration"][flag], true,
                    "{name} {id} {flag}"
                );
            }
            assert_eq!(
                p["VersioningConfiguration"]["Status"], "Enabled",
                "{name} {id}"
            );
            assert_eq!(
                p["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
                "BucketOwnerEnforced"
            );
            let sse = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
                ["SSEAlgorithm"];
            assert!(sse == "AES256" || sse == "aws:kms", "{name} {id}: {sse}");
            assert_eq!(b["DeletionPolicy"], "Retain", "{name} {id}");
            assert_eq!(b["UpdateReplacePolicy"], "Retain", "{name} {id}");

            // Exactly one policy for the bucket, and it denies every non-TLS request on the
            // bucket and on its objects, for every principal.
            let mine: Vec<_> = policies
                .iter()
                .filter(|(_, pol)| pol["Properties"]["Bucket"] == json!({"Ref": id}))
                .collect();
            assert_eq!(mine.len(), 1, "{name} {id}: bucket policies");
            let (pid, pol) = mine[0];
            assert_eq!(**pid, format!("{id}Policy"));
            let tls = statements(&pol["Properties"]["PolicyDocument"])
                .into_iter()
                .find(|s| s["Condition"]["Bool"]["aws:SecureTransport"] == "false")
                .unwrap_or_else(|| panic!("{name} {id}: no TLS-only statement"));
            assert_eq!(tls["Effect"], "Deny");
            assert_eq!(tls["Principal"], "*");
            assert_eq!(tls["Action"], "s3:*");
            assert_eq!(
                tls["Resource"],
                json!([{"Fn::GetAtt": [id, "Arn"]}, {"Fn::Sub": format!("${{{id}.Arn}}/*")}])
            );
        }
    }
}

#[test]
fn created_file_buckets_cap_signature_age_and_allow_the_app_origin() {
    for (name, v, doc) in rendered_examples() {
        for b in v.config.buckets.iter().filter(|b| b.create) {
            let id = template::model::bucket_logical_id(&b.name);
            let bucket = &doc["Resources"][&id];
            assert_eq!(bucket["Properties"]["BucketName"], b.name.as_str());
            let enc =
                &bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
            match &b.kms_key_arn {
                Some(arn) => {
                    assert_eq!(
                        enc["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
                        "aws:kms"
                    );
                    assert_eq!(
                        enc["ServerSideEncryptionByDefault"]["KMSMasterKeyID"],
                        arn.as_str()
                    );
                    assert_eq!(enc["BucketKeyEnabled"], true);
                }
                None => assert_eq!(
                    enc["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
                    "AES256"
                ),
            }
            let cors = &bucket["Properties"]["CorsConfiguration"]["CorsRules"][0];
            assert_eq!(
                cors["AllowedOrigins"],
                json!([{"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}])
            );
            assert_eq!(
                cors["AllowedMethods"],
                json!(["GET", "PUT", "HEAD", "POST", "DELETE"])
            );
            assert_eq!(cors["ExposedHeaders"], json!(["ETag"]));

            let pol = &doc["Resources"][format!("{id}Policy")]["Properties"]["PolicyDocument"];
            let age = |action: &str| {
                statements(pol)
                    .into_iter()
                    .find(|s| s["Action"] == action && s["Effect"] == "Deny")
                    .map(|s| s["Condition"]["NumericGreaterThan"]["s3:signatureAge"].clone())
                    .unwrap_or_else(|| panic!("{name} {id}: no signatureAge deny on {action}"))
            };
            let ttl_ms = u64::try_from(v.url_ttl.as_millis()).unwrap();
            assert_eq!(age("s3:GetObject"), json!(ttl_ms), "{name}");
            assert_eq!(age("s3:PutObject"), json!(3_600_000u64), "{name}");
        }
    }
}

// ------------------------------------------------------------------------------------- archive

#[test]
fn the_archive_is_under_compliance_object_lock() {
    for (name, v, doc) in rendered_examples() {
        if !v.config.audit.archive {
            assert!(
                !doc["Resources"]
                    .as_object()
                    .unwrap()
                    .contains_key("ArchiveBucket")
            );
            assert!(
                doc["Resources"]["AuditTable"]["Properties"]
                    .get("StreamSpecification")
                    .is_none()
            );
            continue;
        }
        let p = &doc["Resources"]["ArchiveBucket"]["Properties"];
        assert_eq!(p["ObjectLockEnabled"], true, "{name}");
        let lock = &p["ObjectLockConfiguration"];
        assert_eq!(lock["ObjectLockEnabled"], "Enabled");
        assert_eq!(lock["Rule"]["DefaultRetention"]["Mode"], "COMPLIANCE");
        assert_eq!(
            lock["Rule"]["DefaultRetention"]["Days"],
            json!(v.archive_retention_days),
            "{name}"
        );
        assert!(lock["Rule"]["DefaultRetention"].get("Years").is_none());
        assert_eq!(
            doc["Resources"]["AuditTable"]["Properties"]["StreamSpecification"]["StreamViewType"],
            "NEW_IMAGE"
        );
        let esm = &doc["Resources"]["ArchiveEventSource"]["Properties"];
        assert_eq!(
            esm["EventSourceArn"],
            json!({"Fn::GetAtt": ["AuditTable", "StreamArn"]})
        );
        assert_eq!(esm["FunctionName"], json!({"Ref": "ArchiveFunction"}));
    }
    // The enterprise example takes the default: seven years.
    let v = valid(ENTERPRISE, &example(ENTERPRISE));
    assert_eq!(v.archive_retention_days, 2557);
    let doc = parse(&render_src(&example(PARTNER)));
    assert_eq!(
        doc["Resources"]["ArchiveBucket"]["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
            ["Days"],
        3653
    );
}

// ------------------------------------------------------------------------------------ identity

fn with(source: &str, from: &str, to: &str) -> String {
    assert!(source.contains(from), "`{from}` not in the example");
    source.replacen(from, to, 1)
}

#[test]
fn mfa_follows_the_config() {
    let base = example(ENTERPRISE);
    for (word, configuration, enabled) in [
        ("off", "OFF", None),
        ("optional", "OPTIONAL", Some(json!(["SOFTWARE_TOKEN_MFA"]))),
        ("required", "ON", Some(json!(["SOFTWARE_TOKEN_MFA"]))),
    ] {
        let src = with(&base, "mfa: required", &format!("mfa: {word}"));
        let doc = parse(&render_src(&src));
        let pool = &doc["Resources"]["UserPool"]["Properties"];
        assert_eq!(pool["MfaConfiguration"], configuration, "{word}");
        assert_eq!(pool.get("EnabledMfas").cloned(), enabled, "{word}");
    }
}

#[test]
fn the_pool_and_the_audit_table_are_protected_from_deletion() {
    for (name, _, doc) in rendered_examples() {
        let pool = &doc["Resources"]["UserPool"]["Properties"];
        assert_eq!(pool["DeletionProtection"], "ACTIVE", "{name}");
        let audit = &doc["Resources"]["AuditTable"];
        assert_eq!(
            audit["Properties"]["DeletionProtectionEnabled"], true,
            "{name}"
        );
        assert_eq!(audit["DeletionPolicy"], "Retain", "{name}");
        assert_eq!(audit["UpdateReplacePolicy"], "Retain", "{name}");
        for id in ["PoliciesTable", "AuditTable"] {
            let t = &doc["Resources"][id]["Properties"];
            assert_eq!(
                t["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
                true
            );
            assert_eq!(t["SSESpecification"]["SSEEnabled"], true);
            assert_eq!(t["TimeToLiveSpecification"]["AttributeName"], "expires_at");
            assert_eq!(t["TimeToLiveSpecification"]["Enabled"], true);
        }
        let gsis: Vec<(String, String)> =
            doc["Resources"]["AuditTable"]["Properties"]["GlobalSecondaryIndexes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    (
                        g["IndexName"].as_str().unwrap().to_owned(),
                        g["KeySchema"][0]["AttributeName"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    )
                })
                .collect();
        assert_eq!(
            gsis,
            [
                ("by-user", "user_sub"),
                ("by-object", "object"),
                ("by-day", "day")
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
    }
}

#[test]
fn sign_in_is_admin_created_srp_and_pkce_unless_configured() {
    let doc = parse(&render_src(&example(ENTERPRISE)));
    let pool = &doc["Resources"]["UserPool"]["Properties"];
    assert_eq!(
        pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"],
        true
    );
    assert!(
        pool["Policies"]["PasswordPolicy"]["MinimumLength"]
            .as_u64()
            .unwrap()
            >= 12
    );
    let client = &doc["Resources"]["UserPoolClient"]["Properties"];
    assert_eq!(
        client["ExplicitAuthFlows"],
        json!(["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    );
    assert_eq!(client["GenerateSecret"], false);
    assert_eq!(client["AllowedOAuthFlows"], json!(["code"]));
    assert_eq!(client["EnableTokenRevocation"], true);
    assert_eq!(
        client["CallbackURLs"],
        json!([{"Fn::Sub": "${HttpApi.ApiEndpoint}/"}])
    );
    assert!(client["AccessTokenValidity"].as_u64().unwrap() <= 60);
    assert_eq!(client["TokenValidityUnits"]["AccessToken"], "minutes");

    let quick = parse(&render_src(&example(QUICKSTART)));
    assert_eq!(
        quick["Resources"]["UserPoolClient"]["Properties"]["ExplicitAuthFlows"],
        json!([
            "ALLOW_USER_SRP_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
            "ALLOW_USER_PASSWORD_AUTH"
        ])
    );
    let signup = with(
        &example(ENTERPRISE),
        "mfa: required",
        "mfa: required\n  self_signup: true",
    );
    let doc = parse(&render_src(&signup));
    assert_eq!(
        doc["Resources"]["UserPool"]["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"],
        false
    );
    let quick_signup = with(
        &example(QUICKSTART),
        "password_auth: true",
        "self_signup: true",
    );
    let doc = parse(&render_src(&quick_signup));
    assert_eq!(
        doc["Resources"]["UserPoolClient"]["Properties"]["WriteAttributes"],
        json!(["name", "email"])
    );
}

#[test]
fn the_hosted_ui_domain_defaults_to_stack_and_account() {
    let doc = parse(&render_src(&example(ENTERPRISE)));
    assert_eq!(
        doc["Resources"]["UserPoolDomain"]["Properties"]["Domain"],
        json!({"Fn::Sub": ["${Stack}-${AWS::AccountId}", {"Stack": "acme-files"}]})
    );
    let upper = with(
        &example(ENTERPRISE),
        "stack: acme-files",
        "stack: Acme-Files",
    );
    let doc = parse(&render_src(&upper));
    assert_eq!(
        doc["Resources"]["UserPoolDomain"]["Properties"]["Domain"]["Fn::Sub"][1]["Stack"],
        "acme-files"
    );
    let doc = parse(&render_src(&example(PARTNER)));
    assert_eq!(
        doc["Resources"]["UserPoolDomain"]["Properties"]["Domain"],
        "globex-exchange"
    );
}

#[test]
fn identity_providers_sit_behind_the_create_identity_providers_condition() {
    for (name, v, doc) in rendered_examples() {
        let providers = of_type(&doc, "AWS::Cognito::UserPoolIdentityProvider");
        assert_eq!(providers.len(), v.config.identity.providers.len(), "{name}");
        let client = &doc["Resources"]["UserPoolClient"]["Properties"];
        let sip = &client["SupportedIdentityProviders"]["Fn::If"];
        assert_eq!(sip[0], "IdentityProvidersEnabled", "{name}");
        assert_eq!(sip[2], json!(["COGNITO"]), "{name}");
        let mut enabled = vec![json!("COGNITO")];
        for (p, (id, r)) in v.config.identity.providers.iter().zip(&providers) {
            assert_eq!(r["Condition"], "IdentityProvidersEnabled", "{name} {id}");
            assert_eq!(r["Properties"]["ProviderName"], p.name.as_str());
            assert_eq!(**id, template::model::provider_logical_id(&p.name));
            enabled.push(json!({"Ref": id}));
            if p.groups_attribute.is_some() {
                assert_eq!(
                    r["Properties"]["AttributeMapping"]["custom:idp_groups"],
                    p.groups_attribute.as_deref().unwrap()
                );
            }
        }
        assert_eq!(sip[1], Value::Array(enabled), "{name}");
        // Nothing else may depend on a conditional resource.
        for (id, r) in resources(&doc) {
            if r["Type"] != "AWS::Cognito::UserPoolIdentityProvider" {
                assert!(r.get("Condition").is_none(), "{name}: {id} is conditional");
            }
        }

        let pool = &doc["Resources"]["UserPool"]["Properties"];
        let schema: Vec<&str> = pool["Schema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["Name"].as_str().unwrap())
            .collect();
        assert!(
            schema.contains(&"idp_groups"),
            "{name}: custom:idp_groups is declared"
        );
        if providers.is_empty() {
            assert!(pool.get("LambdaConfig").is_none());
            assert_eq!(client["WriteAttributes"], json!(["name"]));
            continue;
        }
        assert_eq!(
            pool["LambdaConfig"]["PreTokenGenerationConfig"],
            json!({"LambdaArn": {"Fn::GetAtt": ["PreTokenFunction", "Arn"]}, "LambdaVersion": "V2_0"})
        );
        let perm = &doc["Resources"]["PreTokenInvokePermission"]["Properties"];
        assert_eq!(perm["Principal"], "cognito-idp.amazonaws.com");
        assert_eq!(
            perm["SourceArn"],
            json!({"Fn::GetAtt": ["UserPool", "Arn"]})
        );
        assert_eq!(perm["Action"], "lambda:InvokeFunction");
    }
}

#[test]
fn saml_and_oidc_details() {
    let doc = parse(&render_src(&example(ENTERPRISE)));
    let (_, okta) = of_type(&doc, "AWS::Cognito::UserPoolIdentityProvider")[0];
    assert_eq!(okta["Properties"]["ProviderType"], "SAML");
    assert_eq!(
        okta["Properties"]["ProviderDetails"]["MetadataURL"],
        "https://acme.okta.com/app/exk1a2b3c4d5e6f7g8h9/sso/saml/metadata"
    );
    assert_eq!(
        okta["Properties"]["AttributeMapping"]["email"],
        template::model::SAML_EMAIL_ATTRIBUTE
    );

    let text = render_src(&example(PARTNER));
    // The dynamic reference reaches the template as a literal, not as a handlebars expression.
    assert!(text.contains(
        "\"{{resolve:secretsmanager:arn:aws:secretsmanager:eu-central-1:123456789012:secret:bucketdrive/entra-client-AbCdEf:SecretString}}\""
    ));
    let doc = parse(&text);
    let (_, entra) = of_type(&doc, "AWS::Cognito::UserPoolIdentityProvider")[0];
    let d = &entra["Properties"]["ProviderDetails"];
    assert_eq!(entra["Properties"]["ProviderType"], "OIDC");
    assert_eq!(d["client_id"], "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b");
    assert_eq!(d["attributes_request_method"], "GET");
    assert_eq!(d["authorize_scopes"], "openid email profile");
    assert_eq!(
        d["oidc_issuer"],
        "https://login.microsoftonline.com/0c5f2d3e-1a2b-4c3d-9e8f-7a6b5c4d3e2f/v2.0"
    );
    assert_eq!(entra["Properties"]["AttributeMapping"]["email"], "email");
}

#[test]
fn saml_metadata_files_are_read_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let xml = "<?xml version=\"1.0\"?>\n<md:EntityDescriptor entityID='urn:x'>\n  <!-- a: b !Ref # -->\n</md:EntityDescriptor>\n";
    std::fs::create_dir(dir.path().join("idp")).unwrap();
    std::fs::write(dir.path().join("idp/okta.xml"), xml).unwrap();
    let src = with(
        &example(ENTERPRISE),
        "metadata_url: https://acme.okta.com/app/exk1a2b3c4d5e6f7g8h9/sso/saml/metadata",
        "metadata_file: idp/okta.xml",
    );
    let config = dir.path().join("bucketdrive.yaml");
    std::fs::write(&config, &src).unwrap();
    let v = valid("bucketdrive.yaml", &src);
    let inputs = RenderInputs::load(&v, &config).unwrap();
    let doc = parse(&template::render(&v, &inputs).unwrap());
    let (_, okta) = of_type(&doc, "AWS::Cognito::UserPoolIdentityProvider")[0];
    assert_eq!(okta["Properties"]["ProviderDetails"]["MetadataFile"], xml);
    assert!(
        okta["Properties"]["ProviderDetails"]
            .get("MetadataURL")
            .is_none()
    );

    // Without the inputs, or without the file, the render says what is missing.
    let err = template::render(&v, &RenderInputs::default()).unwrap_err();
    assert!(matches!(err, RenderError::MetadataMissing { .. }), "{err}");
    std::fs::remove_file(dir.path().join("idp/okta.xml")).unwrap();
    let err = RenderInputs::load(&v, &config).unwrap_err();
    assert!(err.to_string().contains("idp/okta.xml"), "{err}");
    assert!(err.to_string().contains("`Okta`"), "{err}");
}

// ---------------------------------------------------------------------------- least privilege

#[test]
fn lambda_roles_are_least_privilege() {
    for (name, v, doc) in rendered_examples() {
        let roles = of_type(&doc, "AWS::IAM::Role");
        assert!(!roles.is_empty());
        for (id, role) in &roles {
            let trust = statements(&role["Properties"]["AssumeRolePolicyDocument"]);
            assert_eq!(trust.len(), 1);
            assert_eq!(
                trust[0]["Principal"],
                json!({"Service": "lambda.amazonaws.com"})
            );
            assert!(
                role["Properties"].get("ManagedPolicyArns").is_none(),
                "{name} {id}"
            );
            for s in role_allows(role) {
                for action in strings(&s["Action"]) {
                    assert!(
                        !action.contains('*'),
                        "{name} {id}: wildcard action {action}"
                    );
                }
                assert!(s.get("NotAction").is_none() && s.get("NotResource").is_none());
                let res = &s["Resource"];
                assert!(!res.is_null(), "{name} {id}: statement without Resource");
                for r in strings(res) {
                    assert!(
                        r != "*",
                        "{name} {id}: Resource \"*\" for {:?}",
                        s["Action"]
                    );
                    assert!(r.starts_with("arn:"), "{name} {id}: {r}");
                    assert!(
                        !r.contains('*'),
                        "{name} {id}: wildcard literal resource {r}"
                    );
                }
                // Intrinsics may end in `/*` (objects of one bucket) and nowhere else.
                let text = res.to_string();
                for (i, _) in text.match_indices('*') {
                    assert_eq!(&text[i - 1..=i], "/*", "{name} {id}: {text}");
                }
            }
        }

        let api = &doc["Resources"]["ApiFunctionRole"];
        let mut expected: BTreeSet<String> = [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "s3:ListBucket",
            "s3:GetObject",
            "s3:PutObject",
            "s3:AbortMultipartUpload",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
        ]
        .map(String::from)
        .into();
        let any_delete = v
            .policies
            .iter()
            .flat_map(|p| &p.grants)
            .any(|g| g.access.allows(bucketdrive_core::policy::Action::Delete));
        if any_delete {
            expected.insert("s3:DeleteObject".into());
        }
        let kms = v.config.buckets.iter().any(|b| b.kms_key_arn.is_some());
        if kms {
            expected.insert("kms:Decrypt".into());
            expected.insert("kms:GenerateDataKey".into());
        }
        assert_eq!(actions_of(api), expected, "{name}");

        // The audit table: PutItem on the table, Query on its three indexes, nothing else.
        assert_eq!(
            resources_for(api, "dynamodb:PutItem"),
            vec![&json!({"Fn::GetAtt": ["AuditTable", "Arn"]})]
        );
        assert_eq!(
            resources_for(api, "dynamodb:Query")
                .into_iter()
                .flat_map(|r| match r {
                    Value::Array(a) => a.clone(),
                    x => vec![x.clone()],
                })
                .collect::<Vec<_>>(),
            vec![
                json!({"Fn::Sub": "${AuditTable.Arn}/index/by-user"}),
                json!({"Fn::Sub": "${AuditTable.Arn}/index/by-object"}),
                json!({"Fn::Sub": "${AuditTable.Arn}/index/by-day"}),
                json!({"Fn::GetAtt": ["PoliciesTable", "Arn"]}),
            ]
        );
        assert_eq!(
            resources_for(api, "dynamodb:GetItem"),
            vec![&json!({"Fn::GetAtt": ["PoliciesTable", "Arn"]})]
        );
        // S3: exactly the declared buckets.
        let bucket_arn = |b: &str, suffix: &str| json!({"Fn::Sub": [format!("arn:${{AWS::Partition}}:s3:::${{Bucket}}{suffix}"), {"Bucket": b}]});
        let names: Vec<&str> = v.config.buckets.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            resources_for(api, "s3:ListBucket"),
            vec![&Value::Array(
                names.iter().map(|b| bucket_arn(b, "")).collect()
            )]
        );
        assert_eq!(
            resources_for(api, "s3:GetObject"),
            vec![&Value::Array(
                names.iter().map(|b| bucket_arn(b, "/*")).collect()
            )]
        );
        if kms {
            let keys: Vec<Value> = v
                .config
                .buckets
                .iter()
                .filter_map(|b| b.kms_key_arn.clone())
                .map(Value::String)
                .collect();
            assert_eq!(resources_for(api, "kms:Decrypt"), vec![&Value::Array(keys)]);
        }
        // Its own log group only.
        assert_eq!(
            resources_for(api, "logs:PutLogEvents"),
            vec![&json!({"Fn::GetAtt": ["ApiFunctionLogs", "Arn"]})]
        );

        if let Some((_, pre)) = roles.iter().find(|(id, _)| *id == "PreTokenFunctionRole") {
            assert_eq!(
                actions_of(pre),
                BTreeSet::from(
                    [
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "dynamodb:GetItem",
                        "dynamodb:BatchGetItem",
                        "dynamodb:Query"
                    ]
                    .map(String::from)
                )
            );
        }
        if let Some((_, arc)) = roles.iter().find(|(id, _)| *id == "ArchiveFunctionRole") {
            assert_eq!(
                resources_for(arc, "s3:PutObject"),
                vec![&json!({"Fn::Sub": "${ArchiveBucket.Arn}/*"})]
            );
            for a in [
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:DescribeStream",
                "dynamodb:ListStreams",
            ] {
                assert_eq!(
                    resources_for(arc, a),
                    vec![&json!({"Fn::GetAtt": ["AuditTable", "StreamArn"]})],
                    "{a}"
                );
            }
            assert_eq!(actions_of(arc).len(), 7);
        }
    }
}

#[test]
fn delete_is_granted_to_the_lambda_only_when_some_grant_deletes() {
    let quick = parse(&render_src(&example(QUICKSTART)));
    assert!(!actions_of(&quick["Resources"]["ApiFunctionRole"]).contains("s3:DeleteObject"));
    let src = with(
        &example(QUICKSTART),
        "access: write }",
        "access: [write, delete] }",
    );
    let doc = parse(&render_src(&src));
    assert!(actions_of(&doc["Resources"]["ApiFunctionRole"]).contains("s3:DeleteObject"));
}

// ---------------------------------------------------------------------------------- the API

#[test]
fn api_routes_are_jwt_protected_except_the_web_app() {
    for (name, _, doc) in rendered_examples() {
        let routes = of_type(&doc, "AWS::ApiGatewayV2::Route");
        assert_eq!(routes.len(), 2, "{name}");
        let api = &doc["Resources"]["ApiRoute"]["Properties"];
        assert_eq!(api["RouteKey"], "ANY /api/{proxy+}");
        assert_eq!(api["AuthorizationType"], "JWT");
        assert_eq!(api["AuthorizerId"], json!({"Ref": "JwtAuthorizer"}));
        assert_eq!(
            api["AuthorizationScopes"],
            json!(["openid", "aws.cognito.signin.user.admin"])
        );
        let app = &doc["Resources"]["AppRoute"]["Properties"];
        assert_eq!(app["RouteKey"], "$default");
        assert_eq!(app["AuthorizationType"], "NONE");
        let auth = &doc["Resources"]["JwtAuthorizer"]["Properties"];
        assert_eq!(auth["AuthorizerType"], "JWT");
        assert_eq!(
            auth["JwtConfiguration"]["Audience"],
            json!([{"Ref": "UserPoolClient"}])
        );
        assert_eq!(
            auth["JwtConfiguration"]["Issuer"],
            json!({"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"})
        );
        let stage = &doc["Resources"]["HttpApiStage"]["Properties"];
        assert!(
            stage["DefaultRouteSettings"]["ThrottlingRateLimit"]
                .as_f64()
                .unwrap()
                > 0.0
        );
        assert!(
            stage["DefaultRouteSettings"]["ThrottlingBurstLimit"]
                .as_u64()
                .unwrap()
                > 0
        );
        assert_eq!(
            stage["AccessLogSettings"]["DestinationArn"],
            json!({"Fn::GetAtt": ["ApiAccessLogs", "Arn"]})
        );
        let format: Value =
            serde_json::from_str(stage["AccessLogSettings"]["Format"].as_str().unwrap()).unwrap();
        assert!(format.get("requestId").is_some());
        for (id, lg) in of_type(&doc, "AWS::Logs::LogGroup") {
            assert!(
                lg["Properties"]["RetentionInDays"].as_u64().unwrap() >= 90,
                "{name} {id}"
            );
        }
    }
}

// ----------------------------------------------------------------------------------------- tags

#[test]
fn every_taggable_resource_carries_the_stack_tag_and_the_config_tags() {
    let list_typed = [
        "AWS::S3::Bucket",
        "AWS::Lambda::Function",
        "AWS::IAM::Role",
        "AWS::DynamoDB::Table",
        "AWS::Logs::LogGroup",
        "AWS::Lambda::EventSourceMapping",
    ];
    let map_typed = [
        ("AWS::Cognito::UserPool", "UserPoolTags"),
        ("AWS::ApiGatewayV2::Api", "Tags"),
        ("AWS::ApiGatewayV2::Stage", "Tags"),
    ];
    for (name, v, doc) in rendered_examples() {
        let mut expected = BTreeMap::new();
        expected.insert(
            "bucketdrive:stack".to_owned(),
            json!({"Ref": "AWS::StackName"}),
        );
        for (k, val) in &v.config.tags {
            expected.insert(k.clone(), json!(val));
        }
        for (id, r) in resources(&doc) {
            let ty = r["Type"].as_str().unwrap();
            let got: BTreeMap<String, Value> = if list_typed.contains(&ty) {
                r["Properties"]["Tags"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{name}: {id} has no Tags"))
                    .iter()
                    .map(|t| (t["Key"].as_str().unwrap().to_owned(), t["Value"].clone()))
                    .collect()
            } else if let Some((_, key)) = map_typed.iter().find(|(t, _)| *t == ty) {
                r["Properties"][key]
                    .as_object()
                    .unwrap_or_else(|| panic!("{name}: {id} has no {key}"))
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            } else {
                continue;
            };
            assert_eq!(got, expected, "{name}: tags of {id}");
        }
    }
    let src = format!(
        "{}\ntags:\n  bucketdrive:stack: mine\n",
        example(QUICKSTART)
    );
    let v = valid("t.yaml", &src);
    let err = template::render(&v, &RenderInputs::default()).unwrap_err();
    assert!(matches!(err, RenderError::ReservedTag { .. }), "{err}");
}

// -------------------------------------------------------------------------------- hostile names

/// Values that break naive YAML templating in one way or another.
const HOSTILE: [&str; 16] = [
    "!Ref",
    "a:b#c",
    "&a*b|c>d%",
    "x?y=!GetAtt&z=[1]",
    "quo\"te",
    "it's",
    "a: b",
    "line\nbreak",
    "!Ref Evil",
    "{{resolve:ssm:/x}}",
    "${AWS::AccountId}",
    "# hash",
    "- item",
    "&anchor *alias",
    "ünïcødé 漢字",
    "}}{{",
];

/// A config whose every template-bound value is a placeholder, with SAML and OIDC providers,
/// a created bucket, tags and the archive: the baseline the hostile variants are compared to.
const BASE: &str = r#"
stack: hostile
region: eu-west-1
buckets:
  - { name: __BUCKET__, create: true }
identity:
  mfa: required
  domain_prefix: __DOMAIN__
  providers:
    - type: saml
      name: __SAML__
      metadata_url: __METADATA_URL__
      groups_attribute: groups
      group_map: { __GROUP_MAP_KEY__: __GROUP__ }
    - type: oidc
      name: Entra
      issuer: https://login.example.com/v2.0
      client_id: __CLIENT_ID__
      client_secret_arn: arn:aws:secretsmanager:eu-west-1:123456789012:secret:entra-AbCdEf
      scopes: [openid, __SCOPE__]
audit: { archive: true }
admins: [__GROUP__]
groups:
  __GROUP__:
    description: __DESCRIPTION__
    grants: [ __PATH__ ]
tags:
  __TAG_KEY__: __TAG_VALUE__
"#;

fn benign(field: &str) -> &'static str {
    match field {
        "__DOMAIN__" => "hostile-login",
        "__SAML__" => "Okta",
        "__METADATA_URL__" => "https://idp.example.com/metadata",
        "__GROUP_MAP_KEY__" => "Staff",
        "__CLIENT_ID__" => "client-123",
        "__SCOPE__" => "email",
        "__DESCRIPTION__" => "Staff",
        "__GROUP__" => "staff",
        "__BUCKET__" => "hostile-files",
        "__TAG_KEY__" => "team",
        "__TAG_VALUE__" => "files",
        _ => unreachable!("{field}"),
    }
}

const FIELDS: [&str; 11] = [
    "__GROUP__",
    "__DOMAIN__",
    "__SAML__",
    "__METADATA_URL__",
    "__GROUP_MAP_KEY__",
    "__CLIENT_ID__",
    "__SCOPE__",
    "__DESCRIPTION__",
    "__BUCKET__",
    "__TAG_KEY__",
    "__TAG_VALUE__",
];

/// The value a hostile string becomes in `field`: URLs keep their scheme and host so that the
/// hostile part is what validation looks at.
fn hostile_for(field: &str, value: &str) -> String {
    match field {
        "__METADATA_URL__" => format!("https://idp.example.com/{value}"),
        _ => value.to_owned(),
    }
}

/// The config with `field` set to `value` and every other placeholder benign. Values are
/// written as JSON strings (which are YAML), so the config file itself stays well-formed.
fn config_with(field: &str, value: &str) -> String {
    let mut src = BASE.to_owned();
    let mut bucket = benign("__BUCKET__").to_owned();
    for f in FIELDS {
        let v = if f == field {
            hostile_for(f, value)
        } else {
            benign(f).to_owned()
        };
        if f == "__BUCKET__" {
            bucket.clone_from(&v);
        }
        src = src.replace(f, &serde_json::to_string(&v).unwrap());
    }
    let path = serde_json::to_string(&format!("s3://{bucket}/shared/")).unwrap();
    src.replace("__PATH__", &path)
}

/// Where a hostile value should show up in the parsed template, if it is accepted.
fn find_value<'a>(doc: &'a Value, field: &str) -> Option<&'a Value> {
    let r = &doc["Resources"];
    let okta = template::model::provider_logical_id("Okta");
    let entra = template::model::provider_logical_id("Entra");
    match field {
        "__METADATA_URL__" => Some(&r[&okta]["Properties"]["ProviderDetails"]["MetadataURL"]),
        "__CLIENT_ID__" => Some(&r[&entra]["Properties"]["ProviderDetails"]["client_id"]),
        "__SCOPE__" => Some(&r[&entra]["Properties"]["ProviderDetails"]["authorize_scopes"]),
        "__DOMAIN__" => Some(&r["UserPoolDomain"]["Properties"]["Domain"]),
        _ => None,
    }
}

#[test]
fn hostile_values_are_refused_or_round_trip_exactly() {
    let base_src = config_with("", "");
    let base = valid("base.yaml", &base_src);
    let base_doc = parse(&template::render(&base, &RenderInputs::default()).unwrap());
    let base_ids = ids(&base_doc);
    let mut refused_by_config = 0;
    let mut refused_by_render = 0;
    let mut rendered = 0;
    let mut accepted = BTreeSet::new();
    for field in FIELDS {
        for value in HOSTILE {
            let src = config_with(field, value);
            let v = match load("hostile.yaml", &src, today()) {
                Err(e) => {
                    // Refused, with an error that says which value.
                    let text = e.to_string() + &e.render(false);
                    assert!(!e.diagnostics.is_empty(), "{field}={value:?}");
                    assert!(
                        e.diagnostics.iter().all(|d| d.line.is_some()),
                        "{field}={value:?}: {text}"
                    );
                    refused_by_config += 1;
                    continue;
                }
                Ok(v) => v,
            };
            let doc = match template::render(&v, &RenderInputs::default()) {
                Err(RenderError::DynamicReference { field: f }) => {
                    assert!(value.contains("{{"), "{field}={value:?}");
                    assert!(!f.is_empty());
                    refused_by_render += 1;
                    continue;
                }
                Err(e) => panic!("{field}={value:?}: {e}"),
                Ok(text) => parse(&text),
            };
            rendered += 1;
            accepted.insert(field);
            // Same resources, same parameters, same outputs.
            assert_eq!(ids(&doc), base_ids, "{field}={value:?}");
            assert_eq!(
                doc["Parameters"], base_doc["Parameters"],
                "{field}={value:?}"
            );
            assert_eq!(
                doc["Conditions"], base_doc["Conditions"],
                "{field}={value:?}"
            );
            let outputs = |d: &Value| {
                d["Outputs"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
            };
            assert_eq!(outputs(&doc), outputs(&base_doc), "{field}={value:?}");
            // Each resource keeps its type and its set of properties.
            for (id, r) in resources(&doc) {
                let b = &base_doc["Resources"][id];
                assert_eq!(r["Type"], b["Type"], "{field}={value:?} {id}");
                let keys = |x: &Value| {
                    x["Properties"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                };
                assert_eq!(keys(r), keys(b), "{field}={value:?} {id}");
            }
            match field {
                // Not template values: the render does not change at all.
                "__GROUP_MAP_KEY__" | "__DESCRIPTION__" => {
                    assert_eq!(doc, base_doc, "{field}={value:?}");
                }
                "__TAG_KEY__" | "__TAG_VALUE__" => {
                    let tags = &doc["Resources"]["AuditTable"]["Properties"]["Tags"];
                    let (k, val) = if field == "__TAG_KEY__" {
                        (value, "files")
                    } else {
                        ("team", value)
                    };
                    assert!(
                        tags.as_array()
                            .unwrap()
                            .contains(&json!({"Key": k, "Value": val})),
                        "{field}={value:?}: {tags}"
                    );
                    assert_eq!(
                        doc["Resources"]["UserPool"]["Properties"]["UserPoolTags"][k],
                        val
                    );
                }
                "__SCOPE__" => {
                    assert_eq!(
                        find_value(&doc, field).unwrap(),
                        &json!(format!("openid {value}")),
                        "{field}={value:?}"
                    );
                }
                _ => {
                    let got = find_value(&doc, field).unwrap_or_else(|| {
                        panic!("{field}={value:?} was accepted; check where it went")
                    });
                    assert_eq!(got, &json!(hostile_for(field, value)), "{field}={value:?}");
                }
            }
        }
    }
    // Validation now refuses `{{` in every field that reaches the template (core rejects it in
    // OIDC client ids and scopes too), so the render's own refusal of dynamic references is
    // defence in depth that no valid config reaches: it is unit-tested in template::model.
    assert_eq!(refused_by_render, 0, "a `{{{{` value got past validation");
    assert!(refused_by_config > 0 && rendered > 0);
    assert_eq!(
        accepted,
        BTreeSet::from([
            "__METADATA_URL__",
            "__GROUP_MAP_KEY__",
            "__CLIENT_ID__",
            "__SCOPE__",
            "__DESCRIPTION__",
            "__TAG_KEY__",
            "__TAG_VALUE__"
        ])
    );
    eprintln!(
        "hostile: {refused_by_config} refused by validation, {refused_by_render} by the render, {rendered} rendered"
    );
}

#[test]
fn hostile_saml_metadata_file_round_trips() {
    let src = with(
        &config_with("", ""),
        "metadata_url: \"https://idp.example.com/metadata\"",
        "metadata_file: okta.xml",
    );
    let v = valid("hostile.yaml", &src);
    let okta = template::model::provider_logical_id("Okta");
    for xml in [
        "<x a=\"1\" b='2'>\n!Ref Evil: [1, 2]\n# not a comment\n\t- item\r\n</x>\u{85}\u{2028}",
        "ünïcødé ${AWS::AccountId} &anchor *alias",
    ] {
        let inputs = RenderInputs {
            saml_metadata: BTreeMap::from([("Okta".to_owned(), xml.to_owned())]),
        };
        let doc = parse(&template::render(&v, &inputs).unwrap());
        assert_eq!(
            doc["Resources"][&okta]["Properties"]["ProviderDetails"]["MetadataFile"],
            xml
        );
    }
    let inputs = RenderInputs {
        saml_metadata: BTreeMap::from([(
            "Okta".to_owned(),
            "<x>{{resolve:ssm:/p}}</x>".to_owned(),
        )]),
    };
    let err = template::render(&v, &inputs).unwrap_err();
    assert!(err.to_string().contains("dynamic reference"), "{err}");
    let inputs = RenderInputs {
        saml_metadata: BTreeMap::from([("Okta".to_owned(), "x".repeat(200_000))]),
    };
    assert!(matches!(
        template::render(&v, &inputs).unwrap_err(),
        RenderError::MetadataTooLarge { .. }
    ));
}

// -------------------------------------------------------------------------------------- the CLI

fn cli() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_bucketdrive"));
    c.env_remove("BUCKETDRIVE_OUTPUT")
        .env_remove("BUCKETDRIVE_CONFIG")
        .env("NO_COLOR", "1");
    c
}

#[test]
fn cli_renders_to_stdout_or_a_file() {
    let config = root().join("examples").join(QUICKSTART);
    let out = cli()
        .args(["--quiet", "template", "render", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, render_src(&example(QUICKSTART)));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yaml");
    let out = cli()
        .args(["--output", "json", "template", "render", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["file"], file.display().to_string());
    assert_eq!(result["template"], "stack");
    assert_eq!(result["bytes"], std::fs::metadata(&file).unwrap().len());
    assert!(result.get("body").is_none());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    let out = cli()
        .args(["--output", "json", "template", "render", "--artifacts"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["file"], "-");
    assert_eq!(result["body"], template::render_artifacts().unwrap());
}

#[test]
fn cli_reports_a_missing_metadata_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = with(
        &example(ENTERPRISE),
        "metadata_url: https://acme.okta.com/app/exk1a2b3c4d5e6f7g8h9/sso/saml/metadata",
        "metadata_file: okta.xml",
    );
    let config = dir.path().join("bucketdrive.yaml");
    std::fs::write(&config, src).unwrap();
    let out = cli()
        .args(["template", "render", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read the SAML metadata of provider `Okta`"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

// ---------------------------------------------------------------------------- checkov skips

#[test]
fn every_checkov_suppression_is_documented() {
    let mut docs: Vec<Value> = rendered_examples().into_iter().map(|(_, _, d)| d).collect();
    docs.push(parse(&template::render_artifacts().unwrap()));
    let mut skipped = BTreeSet::new();
    for doc in &docs {
        for (id, r) in resources(doc) {
            let Some(skips) = r["Metadata"]["checkov"]["skip"].as_array() else {
                continue;
            };
            for s in skips {
                let check = s["id"].as_str().unwrap();
                let comment = s["comment"].as_str().unwrap_or_default();
                assert!(comment.len() > 40, "{id}: {check} needs a real reason");
                skipped.insert(check.to_owned());
            }
        }
    }
    let security = std::fs::read_to_string(root().join("docs/security.md")).unwrap();
    let table = security
        .split("### Accepted checkov findings")
        .nth(1)
        .expect("docs/security.md lists the accepted findings");
    let documented: BTreeSet<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `CKV"))
        .map(|l| format!("CKV{}", l.split('`').next().unwrap()))
        .collect();
    assert_eq!(skipped, documented);
}

// ------------------------------------------------------------------------------- the artifacts

#[test]
fn the_artifact_bucket_is_hardened() {
    let doc = parse(&template::render_artifacts().unwrap());
    let b = &doc["Resources"]["ArtifactBucket"];
    let p = &b["Properties"];
    assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled");
    assert_eq!(
        p["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"],
        true
    );
    assert_eq!(
        p["PublicAccessBlockConfiguration"]["BlockPublicPolicy"],
        true
    );
    assert_eq!(
        p["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
        "BucketOwnerEnforced"
    );
    assert_eq!(
        p["LifecycleConfiguration"]["Rules"][0]["NoncurrentVersionExpiration"]["NoncurrentDays"],
        30
    );
    let pol = &doc["Resources"]["ArtifactBucketPolicy"]["Properties"];
    assert_eq!(pol["Bucket"], json!({"Ref": "ArtifactBucket"}));
    let s = &pol["PolicyDocument"]["Statement"][0];
    assert_eq!(s["Effect"], "Deny");
    assert_eq!(s["Condition"]["Bool"]["aws:SecureTransport"], "false");
    assert_eq!(
        doc["Outputs"]["ArtifactBucketName"]["Value"],
        json!({"Ref": "ArtifactBucket"})
    );
}
