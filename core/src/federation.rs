//! Turning a federated user's identity-provider groups into BucketDrive groups (run by the
//! pre-token-generation trigger).
//!
//! Rules (docs/federation.md): only users who signed in through a configured identity provider
//! are mapped — a local user can write their own `custom:idp_groups`, so it is never trusted for
//! them; an IdP group listed in the provider's `group_map` becomes the group it maps to; an IdP
//! group with the exact name of a BucketDrive group becomes that group; anything else is dropped.
//! The pool groups a federated user is in (added with `bucketdrive users`) are kept.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

/// How Cognito describes a federated user's link to its provider (`identities` attribute).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct LinkedIdentity {
    #[serde(rename = "providerName")]
    pub provider_name: String,
}

/// The provider a user signed in through, from the `identities` user attribute (a JSON array).
/// `None` for users of the pool itself.
pub fn provider_of(identities: Option<&str>) -> Option<String> {
    let text = identities?;
    let ids: Vec<LinkedIdentity> = serde_json::from_str(text).ok()?;
    ids.into_iter().next().map(|i| i.provider_name)
}

/// The `cognito:user_status` of a profile Cognito created for a federated sign-in.
pub const EXTERNAL_PROVIDER: &str = "EXTERNAL_PROVIDER";

/// The provider whose IdP groups may be mapped for the user a pre-token event is about, from its
/// `userAttributes`: the first entry of `identities`, and only for a profile Cognito created for
/// that provider (`cognito:user_status` = `EXTERNAL_PROVIDER`).
///
/// A local profile linked to an IdP identity (`AdminLinkProviderForUser`) carries `identities`
/// too, but its status is `CONFIRMED` and it can sign in with its password after writing its own
/// `custom:idp_groups` (the app client must be allowed to write the attribute, because Cognito
/// requires mapped attributes to be writable). Such a user is not mapped. MiniStack sends no
/// `cognito:user_status` at all; without it, `identities` alone decides.
pub fn federated_provider(user_status: Option<&str>, identities: Option<&str>) -> Option<String> {
    match user_status {
        Some(status) if status != EXTERNAL_PROVIDER => None,
        _ => provider_of(identities),
    }
}

/// The groups to put in `cognito:groups` (`groupOverrideDetails` replaces the claim): the pool
/// groups Cognito would have issued (`groupConfiguration.groupsToOverride` of the request) and the
/// mapped ones; sorted, without repeats. Replacing the claim with the mapped groups alone would
/// take away the groups an administrator put a federated user in.
pub fn token_groups(pool_groups: &[String], mapped: &[String]) -> Vec<String> {
    pool_groups
        .iter()
        .chain(mapped)
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The groups in an attribute value as IdPs and Cognito write them: a JSON array
/// (`["a","b"]`), a bracketed list (`[a, b]`), or a comma-separated string.
pub fn parse_group_list(value: &str) -> Vec<String> {
    let v = value.trim();
    if let Ok(list) = serde_json::from_str::<Vec<String>>(v) {
        return list
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
    }
    let inner = v
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(v);
    inner
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// BucketDrive groups for a federated user's IdP groups. `known` are the groups that exist
/// (have a policy); the result is sorted and without repeats.
pub fn map_groups(
    idp_groups: &[String],
    group_map: &BTreeMap<String, String>,
    known: &BTreeSet<String>,
) -> Vec<String> {
    let mut out = BTreeSet::new();
    for g in idp_groups {
        if let Some(target) = group_map.get(g) {
            out.insert(target.clone());
        } else if known.contains(g) {
            out.insert(g.clone());
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_federated_users_have_a_provider() {
        assert_eq!(
            provider_of(Some(
                r#"[{"userId":"x","providerName":"Okta","providerType":"SAML","primary":true}]"#
            )),
            Some("Okta".into())
        );
        assert_eq!(provider_of(None), None);
        assert_eq!(provider_of(Some("not json")), None);
    }

    #[test]
    fn only_profiles_cognito_created_for_a_provider_are_federated() {
        // The `identities` attribute as Cognito stores it (and as MiniStack 1.5.33 sends it to
        // the trigger: JSON text, `issuer` null, `dateCreated` a number).
        let ids = r#"[{"userId":"idp-sub-1","providerName":"FakeOidc","providerType":"OIDC","issuer":null,"primary":true,"dateCreated":1764871773000}]"#;
        assert_eq!(
            federated_provider(Some(EXTERNAL_PROVIDER), Some(ids)),
            Some("FakeOidc".into())
        );
        // MiniStack sends no cognito:user_status: identities decides.
        assert_eq!(federated_provider(None, Some(ids)), Some("FakeOidc".into()));
        // A local profile linked to the IdP: it has a password and writes custom:idp_groups.
        assert_eq!(federated_provider(Some("CONFIRMED"), Some(ids)), None);
        assert_eq!(federated_provider(Some("CONFIRMED"), None), None);
        assert_eq!(federated_provider(Some(EXTERNAL_PROVIDER), None), None);
        assert_eq!(federated_provider(None, Some("[]")), None);
    }

    #[test]
    fn token_groups_keep_the_pool_groups_and_add_the_mapped_ones() {
        let pool = vec!["us-east-1_Abc_FakeOidc".to_owned(), "staff".to_owned()];
        assert_eq!(
            token_groups(&pool, &["finance".into(), "staff".into()]),
            vec![
                "finance".to_owned(),
                "staff".to_owned(),
                "us-east-1_Abc_FakeOidc".to_owned()
            ]
        );
        assert!(token_groups(&[], &[]).is_empty());
    }

    #[test]
    fn group_lists_parse_in_every_shape() {
        let want = vec!["Finance Team".to_owned(), "it".to_owned()];
        assert_eq!(parse_group_list(r#"["Finance Team","it"]"#), want);
        assert_eq!(parse_group_list("[Finance Team, it]"), want);
        assert_eq!(parse_group_list("Finance Team,it"), want);
        // JSON text with spaces (how some IdPs and Cognito render an array claim).
        assert_eq!(parse_group_list(r#"[ "Finance Team", "it" ]"#), want);
        // One group (MiniStack keeps only the first value of a multi-valued SAML attribute).
        assert_eq!(
            parse_group_list("Finance Team"),
            vec!["Finance Team".to_owned()]
        );
        assert!(parse_group_list("").is_empty());
    }

    #[test]
    fn mapping_uses_the_map_then_exact_names_and_drops_the_rest() {
        let map = BTreeMap::from([("Finance Team".to_owned(), "finance".to_owned())]);
        let known = BTreeSet::from(["finance".to_owned(), "it-admins".to_owned()]);
        let idp = vec![
            "Finance Team".into(),
            "it-admins".into(),
            "Everyone".into(),
            "finance".into(),
        ];
        assert_eq!(
            map_groups(&idp, &map, &known),
            vec!["finance".to_owned(), "it-admins".to_owned()]
        );
        assert!(map_groups(&["admins".into()], &map, &known).is_empty());
    }
}
