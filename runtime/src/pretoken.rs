//! Cognito's pre-token-generation trigger (V2): a federated user's IdP groups become BucketDrive
//! groups, so "finance" in Okta grants what "finance" grants here. Mapping rules live in
//! `core::federation`; the provider's settings and the existing groups come from the policies
//! table (written by the installer from `bucketdrive.yaml`).
//!
//! The groups go out twice: as `groupOverrideDetails` (AWS's documented place, which sets
//! `cognito:groups`) and as the access-token claim `bucketdrive:groups`, which the API also reads
//! (MiniStack applies only the latter; see docs/federation.md).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use bucketdrive_core::federation::{map_groups, parse_group_list, provider_of};
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
        let Some(provider) = provider_of(attrs["identities"].as_str()) else {
            return Ok(event);
        };
        let idp_groups = parse_group_list(attrs[IDP_GROUPS_ATTRIBUTE].as_str().unwrap_or(""));
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
        let group_map: BTreeMap<String, String> = settings
            .item
            .as_ref()
            .and_then(|i| i.get("group_map"))
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
        event["response"] = json!({
            "claimsAndScopeOverrideDetails": {
                "groupOverrideDetails": { "groupsToOverride": groups },
                "accessTokenGeneration": { "claimsToAddOrOverride": { GROUPS_CLAIM: groups } },
                "idTokenGeneration": { "claimsToAddOrOverride": { GROUPS_CLAIM: groups } }
            }
        });
        tracing::info!(provider = %provider, idp_groups = idp_groups.len(), groups = ?event["response"]["claimsAndScopeOverrideDetails"]["groupOverrideDetails"]["groupsToOverride"], "mapped identity provider groups");
        Ok(event)
    }
}
