//! Cognito's pre-token-generation trigger (V2): a federated user's IdP groups become BucketDrive
//! groups, so "finance" in Okta grants what "finance" grants here. Mapping rules live in
//! `core::federation`; the provider's settings and the existing groups come from the policies
//! table (written by the installer from `bucketdrive.yaml`).
//!
//! The groups go out twice: as `groupOverrideDetails` (AWS's documented place, which replaces
//! `cognito:groups`: the pool groups of the request plus the mapped ones) and as the claim
//! `bucketdrive:groups` (the mapped ones), which the API also reads (MiniStack applies only the
//! latter; see docs/federation.md).
//!
//! The event (as MiniStack 1.5.33 sent it to a Lambda that echoed it; tests/tests/federation.rs
//! runs this trigger there end to end): `request.userAttributes` holds strings only —
//! `identities` is JSON text, `custom:idp_groups` whatever the IdP's claim or attribute became
//! (JSON array text, `[a, b]`, or one value); `request.groupConfiguration.groupsToOverride` lists
//! the pool groups, including Cognito's own `<pool id>_<provider>` group of federated users.
//! AWS's documented events also carry `cognito:user_status` (`EXTERNAL_PROVIDER` for a federated
//! profile); MiniStack omits it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use bucketdrive_core::federation::{
    federated_provider, map_groups, parse_group_list, token_groups,
};
use serde_json::{Value, json};

/// The claim the trigger adds to access tokens.
pub const GROUPS_CLAIM: &str = "bucketdrive:groups";
const IDP_GROUPS_ATTRIBUTE: &str = "custom:idp_groups";

pub struct PreToken {
    pub client: Client,
    pub table: String,
}

fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

impl PreToken {
    /// Answers the trigger: the event with its `response` filled in. Users who did not come
    /// through a configured provider are returned unchanged.
    pub async fn handle(&self, mut event: Value) -> Result<Value, String> {
        let attrs = &event["request"]["userAttributes"];
        let Some(provider) = federated_provider(
            attrs["cognito:user_status"].as_str(),
            attrs["identities"].as_str(),
        ) else {
            return Ok(event);
        };
        let idp_groups = parse_group_list(attrs[IDP_GROUPS_ATTRIBUTE].as_str().unwrap_or(""));
        let pool_groups: Vec<String> = event["request"]["groupConfiguration"]["groupsToOverride"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|g| g.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let settings = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key("settings".into(), &format!("idp#{provider}"))))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot read the settings of provider `{provider}`: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
        let Some(settings) = settings.item else {
            // A provider the config no longer declares (or whose settings were never written):
            // its users get no groups from it.
            tracing::warn!(provider = %provider, "no settings for this identity provider; its groups are not mapped");
            return Ok(event);
        };
        let group_map: BTreeMap<String, String> = settings
            .get("group_map")
            .and_then(|v| v.as_m().ok())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone())))
                    .collect()
            })
            .unwrap_or_default();
        // Which of the candidate names are real groups (have a policy item).
        let candidates: BTreeSet<String> = idp_groups
            .iter()
            .cloned()
            .chain(group_map.values().cloned())
            .collect();
        let mut known = BTreeSet::new();
        for chunk in candidates.iter().collect::<Vec<_>>().chunks(100) {
            let mut keys = KeysAndAttributes::builder();
            for g in chunk {
                keys = keys.keys(key(format!("group#{g}"), "policy"));
            }
            let keys = keys.build().map_err(|e| e.to_string())?;
            let resp = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "cannot read group policies: {}",
                        aws_sdk_dynamodb::error::DisplayErrorContext(e)
                    )
                })?;
            for item in resp
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                if let Some(g) = item
                    .get("pk")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|pk| pk.strip_prefix("group#"))
                {
                    known.insert(g.to_owned());
                }
            }
        }
        let groups = map_groups(&idp_groups, &group_map, &known);
        let all_groups = token_groups(&pool_groups, &groups);
        tracing::info!(provider = %provider, idp_groups = idp_groups.len(), groups = ?groups, "mapped identity provider groups");
        event["response"] = json!({
            "claimsAndScopeOverrideDetails": {
                "groupOverrideDetails": { "groupsToOverride": all_groups },
                "accessTokenGeneration": { "claimsToAddOrOverride": { GROUPS_CLAIM: groups } },
                "idTokenGeneration": { "claimsToAddOrOverride": { GROUPS_CLAIM: groups } }
            }
        });
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    const POOL: &str = "us-east-1_Abc123";

    /// The event MiniStack 1.5.33 sends for a federated sign-in through the hosted UI, as a
    /// Lambda that echoed it saw it (once for the access token, once for the ID token).
    fn ministack_event(attrs: Value, groups: &[&str]) -> Value {
        json!({
            "version": "2",
            "triggerSource": "TokenGeneration_HostedAuth",
            "region": "us-east-1",
            "userPoolId": POOL,
            "userName": "FakeOidc_idp-sub-1",
            "callerContext": { "awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "client-1" },
            "request": {
                "userAttributes": attrs,
                "groupConfiguration": { "groupsToOverride": groups, "iamRolesToOverride": [], "preferredRole": null },
                "scopes": ["openid", "email", "profile"]
            },
            "response": { "claimsAndScopeOverrideDetails": null }
        })
    }

    /// `identities` exactly as MiniStack 1.5.33 sent it (Python's `json.dumps` spacing).
    fn identities(provider: &str) -> String {
        format!(
            r#"[{{"userId": "idp-sub-1", "providerName": "{provider}", "providerType": "OIDC", "issuer": null, "primary": true, "dateCreated": 1796409358453}}]"#
        )
    }

    fn settings_rule(found: bool) -> Rule {
        mock!(Client::get_item)
            .match_requests(|r| {
                r.key()
                    .and_then(|k| k.get("sk"))
                    .and_then(|v| v.as_s().ok())
                    == Some(&"idp#FakeOidc".to_owned())
            })
            .then_output(move || {
                let item = HashMap::from([
                    ("pk".to_owned(), AttributeValue::S("settings".into())),
                    ("sk".to_owned(), AttributeValue::S("idp#FakeOidc".into())),
                    (
                        "groups_attribute".to_owned(),
                        AttributeValue::S("groups".into()),
                    ),
                    (
                        "group_map".to_owned(),
                        AttributeValue::M(HashMap::from([(
                            "Finance Team".to_owned(),
                            AttributeValue::S("finance".into()),
                        )])),
                    ),
                ]);
                GetItemOutput::builder()
                    .set_item(found.then_some(item))
                    .build()
            })
    }

    fn groups_rule() -> Rule {
        mock!(Client::batch_get_item).then_output(|| {
            let items = ["finance", "staff"]
                .iter()
                .map(|g| {
                    HashMap::from([
                        ("pk".to_owned(), AttributeValue::S(format!("group#{g}"))),
                        ("sk".to_owned(), AttributeValue::S("policy".into())),
                    ])
                })
                .collect::<Vec<_>>();
            BatchGetItemOutput::builder()
                .responses("policies", items)
                .build()
        })
    }

    fn trigger(rules: &[&Rule]) -> PreToken {
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules);
        PreToken {
            client,
            table: "policies".into(),
        }
    }

    #[tokio::test]
    async fn a_federated_user_gets_the_mapped_groups_and_keeps_the_pool_groups() {
        let (settings, groups) = (settings_rule(true), groups_rule());
        let t = trigger(&[&settings, &groups]);
        let pool_group = format!("{POOL}_FakeOidc");
        let event = ministack_event(
            json!({
                "email": "ana@example.com",
                "custom:idp_groups": r#"["Finance Team","Everyone"]"#,
                "sub": "5d2c7a9e-0000-4000-8000-000000000001",
                "identities": identities("FakeOidc"),
            }),
            &[&pool_group],
        );
        let out = t.handle(event).await.unwrap();
        let details = &out["response"]["claimsAndScopeOverrideDetails"];
        assert_eq!(
            details["accessTokenGeneration"]["claimsToAddOrOverride"][GROUPS_CLAIM],
            json!(["finance"])
        );
        assert_eq!(
            details["idTokenGeneration"]["claimsToAddOrOverride"][GROUPS_CLAIM],
            json!(["finance"])
        );
        assert_eq!(
            details["groupOverrideDetails"]["groupsToOverride"],
            json!(["finance", pool_group])
        );
        assert_eq!(settings.num_calls(), 1);
    }

    #[tokio::test]
    async fn users_who_did_not_come_through_a_configured_provider_are_left_alone() {
        let (settings, groups) = (settings_rule(true), groups_rule());
        let t = trigger(&[&settings, &groups]);
        // A local user who wrote custom:idp_groups themselves.
        let local = ministack_event(
            json!({ "email": "dave@example.com", "custom:idp_groups": r#"["Finance Team"]"#, "sub": "s" }),
            &[],
        );
        let out = t.handle(local.clone()).await.unwrap();
        assert_eq!(out, local);
        // A local profile linked to the IdP (AWS sends its status): it has a password.
        let mut linked = ministack_event(
            json!({
                "custom:idp_groups": r#"["Finance Team"]"#,
                "identities": identities("FakeOidc"),
                "cognito:user_status": "CONFIRMED",
            }),
            &[],
        );
        linked["userName"] = json!("dave");
        assert_eq!(t.handle(linked.clone()).await.unwrap(), linked);
        assert_eq!(settings.num_calls(), 0, "no table read for them");
        // A federated profile on AWS (with its status) is mapped.
        let aws = ministack_event(
            json!({
                "custom:idp_groups": "[Finance Team, Everyone]",
                "identities": identities("FakeOidc"),
                "cognito:user_status": "EXTERNAL_PROVIDER",
            }),
            &[],
        );
        let out = t.handle(aws).await.unwrap();
        assert_eq!(
            out["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]["claimsToAddOrOverride"]
                [GROUPS_CLAIM],
            json!(["finance"])
        );
    }

    #[tokio::test]
    async fn a_provider_without_settings_maps_nothing() {
        let (settings, groups) = (settings_rule(false), groups_rule());
        let t = trigger(&[&settings, &groups]);
        let event = ministack_event(
            json!({ "custom:idp_groups": r#"["finance"]"#, "identities": identities("FakeOidc") }),
            &[],
        );
        assert_eq!(t.handle(event.clone()).await.unwrap(), event);
        assert_eq!(groups.num_calls(), 0);
    }
}
