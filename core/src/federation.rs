//! Turning a federated user's identity-provider groups into BucketDrive groups (run by the
//! pre-token-generation trigger).
//!
//! Rules (docs/federation.md): only users who signed in through a configured identity provider
//! are mapped — a local user can write their own `custom:idp_groups`, so it is never trusted for
//! them; an IdP group listed in the provider's `group_map` becomes the group it maps to; an IdP
//! group with the exact name of a BucketDrive group becomes that group; anything else is dropped.

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
    fn group_lists_parse_in_every_shape() {
        let want = vec!["Finance Team".to_owned(), "it".to_owned()];
        assert_eq!(parse_group_list(r#"["Finance Team","it"]"#), want);
        assert_eq!(parse_group_list("[Finance Team, it]"), want);
        assert_eq!(parse_group_list("Finance Team,it"), want);
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
