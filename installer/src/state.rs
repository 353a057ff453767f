//! The live state BucketDrive keeps outside the stack — group policies and settings in the
//! policies table, groups in Cognito — compared with what `bucketdrive.yaml` says, and converged.
//!
//! `desired` and `diff` are pure; `read` and `apply` are the thin AWS edge. `plan` prints the
//! diff, `apply` and `deploy` converge it, `groups …` converge one group at once.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::Context;
use aws_sdk_dynamodb::types::AttributeValue;
use bucketdrive_core::config::ValidConfig;
use bucketdrive_core::policy::GroupPolicy;
use serde::Serialize;

use crate::aws::{Aws, describe};

/// Groups whose name starts with this are personal guest groups (`bucketdrive guests`), managed
/// outside the config and never removed by a converge.
pub const GUEST_PREFIX: &str = "guest-";

/// How an identity provider's groups become BucketDrive groups (read by the pre-token trigger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdpSettings {
    pub groups_attribute: String,
    pub group_map: BTreeMap<String, String>,
}

/// Everything converged outside the stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct State {
    pub policies: BTreeMap<String, GroupPolicy>,
    pub admins: Vec<String>,
    pub idps: BTreeMap<String, IdpSettings>,
    /// Cognito groups and their descriptions.
    pub cognito_groups: BTreeMap<String, String>,
}

/// One difference between live state and the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum StateChange {
    PutPolicy {
        group: String,
        before: Option<GroupPolicy>,
        after: GroupPolicy,
    },
    DeletePolicy {
        group: String,
        before: GroupPolicy,
    },
    SetAdmins {
        before: Vec<String>,
        after: Vec<String>,
    },
    PutIdp {
        provider: String,
        after: IdpSettings,
    },
    DeleteIdp {
        provider: String,
    },
    CreateGroup {
        group: String,
        description: String,
    },
    UpdateGroup {
        group: String,
        description: String,
    },
    DeleteGroup {
        group: String,
    },
}

impl StateChange {
    /// The group a change is about (`None` for settings and identity providers).
    pub fn group(&self) -> Option<&str> {
        match self {
            StateChange::PutPolicy { group, .. }
            | StateChange::DeletePolicy { group, .. }
            | StateChange::CreateGroup { group, .. }
            | StateChange::UpdateGroup { group, .. }
            | StateChange::DeleteGroup { group } => Some(group),
            _ => None,
        }
    }

    pub fn sign(&self) -> char {
        match self {
            StateChange::PutPolicy { before: None, .. }
            | StateChange::CreateGroup { .. }
            | StateChange::PutIdp { .. } => '+',
            StateChange::DeletePolicy { .. }
            | StateChange::DeleteGroup { .. }
            | StateChange::DeleteIdp { .. } => '-',
            _ => '~',
        }
    }
}

impl fmt::Display for StateChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules = |p: &GroupPolicy| {
            let mut v: Vec<String> = p
                .grants
                .iter()
                .map(|g| {
                    let until = g
                        .until
                        .as_ref()
                        .map(|u| format!(" until {u}"))
                        .unwrap_or_default();
                    format!("grant {} ({}){until}", g.path, g.access)
                })
                .collect();
            v.extend(
                p.deny
                    .iter()
                    .map(|d| format!("deny {} ({})", d.path, d.access)),
            );
            v
        };
        match self {
            StateChange::PutPolicy {
                group,
                before,
                after,
            } => {
                write!(f, "policy of group `{group}`")?;
                let old = before.as_ref().map(rules).unwrap_or_default();
                let new = rules(after);
                for r in new.iter().filter(|r| !old.contains(r)) {
                    write!(f, "\n      + {r}")?;
                }
                for r in old.iter().filter(|r| !new.contains(r)) {
                    write!(f, "\n      - {r}")?;
                }
                Ok(())
            }
            StateChange::DeletePolicy { group, .. } => {
                write!(f, "policy of group `{group}` (not in the config)")
            }
            StateChange::SetAdmins { before, after } => write!(
                f,
                "admin groups: [{}] → [{}]",
                before.join(", "),
                after.join(", ")
            ),
            StateChange::PutIdp { provider, after } => write!(
                f,
                "group mapping of provider `{provider}` (attribute `{}`)",
                after.groups_attribute
            ),
            StateChange::DeleteIdp { provider } => write!(
                f,
                "group mapping of provider `{provider}` (not in the config)"
            ),
            StateChange::CreateGroup { group, .. } => write!(f, "Cognito group `{group}`"),
            StateChange::UpdateGroup { group, description } => {
                write!(f, "Cognito group `{group}` description → {description:?}")
            }
            StateChange::DeleteGroup { group } => write!(
                f,
                "Cognito group `{group}` (not in the config: made by hand?)"
            ),
        }
    }
}

/// What the config says the live state should be.
pub fn desired(valid: &ValidConfig) -> State {
    let c = &valid.config;
    State {
        policies: valid
            .policies
            .iter()
            .map(|p| (p.group.clone(), p.clone()))
            .collect(),
        admins: c.admins.clone(),
        idps: c
            .identity
            .providers
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    IdpSettings {
                        groups_attribute: p
                            .groups_attribute
                            .clone()
                            .unwrap_or_else(|| "groups".into()),
                        group_map: p
                            .group_map
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    },
                )
            })
            .collect(),
        cognito_groups: c
            .groups
            .iter()
            .map(|(name, g)| (name.clone(), g.description.clone().unwrap_or_default()))
            .collect(),
    }
}

/// The changes that turn `live` into `want`. Guest groups are left alone.
pub fn diff(live: &State, want: &State) -> Vec<StateChange> {
    let mut out = Vec::new();
    for (group, after) in &want.policies {
        let before = live.policies.get(group);
        if before != Some(after) {
            out.push(StateChange::PutPolicy {
                group: group.clone(),
                before: before.cloned(),
                after: after.clone(),
            });
        }
    }
    for (group, before) in &live.policies {
        if !want.policies.contains_key(group) && !group.starts_with(GUEST_PREFIX) {
            out.push(StateChange::DeletePolicy {
                group: group.clone(),
                before: before.clone(),
            });
        }
    }
    if live.admins != want.admins {
        out.push(StateChange::SetAdmins {
            before: live.admins.clone(),
            after: want.admins.clone(),
        });
    }
    for (provider, after) in &want.idps {
        if live.idps.get(provider) != Some(after) {
            out.push(StateChange::PutIdp {
                provider: provider.clone(),
                after: after.clone(),
            });
        }
    }
    for provider in live.idps.keys().filter(|p| !want.idps.contains_key(*p)) {
        out.push(StateChange::DeleteIdp {
            provider: provider.clone(),
        });
    }
    for (group, description) in &want.cognito_groups {
        match live.cognito_groups.get(group) {
            None => out.push(StateChange::CreateGroup {
                group: group.clone(),
                description: description.clone(),
            }),
            Some(d) if d != description => out.push(StateChange::UpdateGroup {
                group: group.clone(),
                description: description.clone(),
            }),
            Some(_) => {}
        }
    }
    for group in live.cognito_groups.keys() {
        if !want.cognito_groups.contains_key(group) && !group.starts_with(GUEST_PREFIX) {
            out.push(StateChange::DeleteGroup {
                group: group.clone(),
            });
        }
    }
    out
}

/// Where the live state is kept (from the stack's outputs).
#[derive(Debug, Clone)]
pub struct Targets {
    pub policies_table: String,
    pub user_pool_id: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// The items of the policies table that `filter` keeps (a DynamoDB filter expression and its
/// `:values`; all of them without one), read consistently page by page. The table is small
/// configuration, so a scan is fine there (the audit table is never scanned).
pub async fn scan_policies_table(
    aws: &Aws,
    t: &Targets,
    filter: Option<(&str, Vec<(&str, AttributeValue)>)>,
) -> anyhow::Result<Vec<std::collections::HashMap<String, AttributeValue>>> {
    let ddb = aws.dynamodb();
    let (expression, values) = match filter {
        Some((e, v)) => (
            Some(e.to_owned()),
            Some(v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
        ),
        None => (None, None),
    };
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let resp = ddb
            .scan()
            .table_name(&t.policies_table)
            .consistent_read(true)
            .set_filter_expression(expression.clone())
            .set_expression_attribute_values(values.clone())
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot read the policies table `{}`: {}",
                    t.policies_table,
                    describe(e)
                )
            })?;
        items.extend(resp.items.unwrap_or_default());
        start = resp.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// Reads the live state.
pub async fn read(aws: &Aws, t: &Targets) -> anyhow::Result<State> {
    let mut state = State::default();
    for item in &scan_policies_table(aws, t, None).await? {
        let get = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let (pk, sk) = (get("pk"), get("sk"));
        if let (Some(group), "policy") = (pk.strip_prefix("group#"), sk.as_str()) {
            let doc: GroupPolicy = serde_json::from_str(&get("doc")).with_context(|| {
                format!("the policy of group `{group}` in the policies table is not valid")
            })?;
            state.policies.insert(group.to_owned(), doc);
        } else if pk == "settings" && sk == "admins" {
            state.admins = item
                .get("groups")
                .and_then(|v| v.as_l().ok())
                .map(|l| l.iter().filter_map(|x| x.as_s().ok().cloned()).collect())
                .unwrap_or_default();
        } else if let (true, Some(provider)) = (pk == "settings", sk.strip_prefix("idp#")) {
            let map = item
                .get("group_map")
                .and_then(|v| v.as_m().ok())
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone())))
                        .collect()
                })
                .unwrap_or_default();
            state.idps.insert(
                provider.to_owned(),
                IdpSettings {
                    groups_attribute: get("groups_attribute"),
                    group_map: map,
                },
            );
        }
    }
    let cognito = aws.cognito();
    let mut pages = cognito
        .list_groups()
        .user_pool_id(&t.user_pool_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            anyhow::anyhow!(
                "cannot list the Cognito groups of pool `{}`: {}",
                t.user_pool_id,
                describe(e)
            )
        })?;
        for g in page.groups() {
            if let Some(name) = g.group_name() {
                state.cognito_groups.insert(
                    name.to_owned(),
                    g.description().unwrap_or_default().to_owned(),
                );
            }
        }
    }
    Ok(state)
}

/// Applies the changes, in order. `actor` is recorded as who made them.
pub async fn apply(
    aws: &Aws,
    t: &Targets,
    changes: &[StateChange],
    actor: &str,
) -> anyhow::Result<()> {
    let ddb = aws.dynamodb();
    let cognito = aws.cognito();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for change in changes {
        match change {
            StateChange::PutPolicy { group, after, .. } => {
                ddb.put_item()
                    .table_name(&t.policies_table)
                    .item("pk", s(format!("group#{group}")))
                    .item("sk", s("policy"))
                    .item("doc", s(serde_json::to_string(after)?))
                    .item("updated_at", s(now.clone()))
                    .item("updated_by", s(actor))
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "cannot write the policy of group `{group}`: {}",
                            describe(e)
                        )
                    })?;
            }
            StateChange::DeletePolicy { group, .. } => {
                ddb.delete_item()
                    .table_name(&t.policies_table)
                    .key("pk", s(format!("group#{group}")))
                    .key("sk", s("policy"))
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "cannot delete the policy of group `{group}`: {}",
                            describe(e)
                        )
                    })?;
            }
            StateChange::SetAdmins { after, .. } => {
                ddb.put_item()
                    .table_name(&t.policies_table)
                    .item("pk", s("settings"))
                    .item("sk", s("admins"))
                    .item(
                        "groups",
                        AttributeValue::L(after.iter().map(|g| s(g.clone())).collect()),
                    )
                    .item("updated_at", s(now.clone()))
                    .item("updated_by", s(actor))
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("cannot write the admin groups: {}", describe(e))
                    })?;
            }
            StateChange::PutIdp { provider, after } => {
                ddb.put_item()
                    .table_name(&t.policies_table)
                    .item("pk", s("settings"))
                    .item("sk", s(format!("idp#{provider}")))
                    .item("groups_attribute", s(after.groups_attribute.clone()))
                    .item(
                        "group_map",
                        AttributeValue::M(
                            after
                                .group_map
                                .iter()
                                .map(|(k, v)| (k.clone(), s(v.clone())))
                                .collect(),
                        ),
                    )
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "cannot write the group mapping of `{provider}`: {}",
                            describe(e)
                        )
                    })?;
            }
            StateChange::DeleteIdp { provider } => {
                ddb.delete_item()
                    .table_name(&t.policies_table)
                    .key("pk", s("settings"))
                    .key("sk", s(format!("idp#{provider}")))
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "cannot delete the group mapping of `{provider}`: {}",
                            describe(e)
                        )
                    })?;
            }
            StateChange::CreateGroup { group, description } => {
                cognito
                    .create_group()
                    .user_pool_id(&t.user_pool_id)
                    .group_name(group)
                    .set_description((!description.is_empty()).then(|| description.clone()))
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("cannot create Cognito group `{group}`: {}", describe(e))
                    })?;
            }
            StateChange::UpdateGroup { group, description } => {
                cognito
                    .update_group()
                    .user_pool_id(&t.user_pool_id)
                    .group_name(group)
                    .description(description)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("cannot update Cognito group `{group}`: {}", describe(e))
                    })?;
            }
            StateChange::DeleteGroup { group } => {
                cognito
                    .delete_group()
                    .user_pool_id(&t.user_pool_id)
                    .group_name(group)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!("cannot delete Cognito group `{group}`: {}", describe(e))
                    })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bucketdrive_core::config::load;

    fn valid(yaml: &str) -> ValidConfig {
        load(
            "t.yaml",
            yaml,
            chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
        )
        .unwrap()
    }

    const BASE: &str = "stack: s\nregion: eu-west-1\nbuckets: [{name: files-bucket}]\nadmins: [admins]\ngroups:\n  staff:\n    description: Staff\n    grants: [s3://files-bucket/reports/]\n  admins: {}\n";

    #[test]
    fn a_converged_state_has_no_diff() {
        let want = desired(&valid(BASE));
        assert!(diff(&want, &want).is_empty());
    }

    #[test]
    fn everything_missing_is_created() {
        let want = desired(&valid(BASE));
        let changes = diff(&State::default(), &want);
        let signs: String = changes.iter().map(StateChange::sign).collect();
        assert_eq!(signs, "++~++", "{changes:#?}");
    }

    #[test]
    fn drift_made_by_hand_is_reported_and_guests_are_left_alone() {
        let want = desired(&valid(BASE));
        let mut live = want.clone();
        live.cognito_groups
            .insert("made-by-hand".into(), String::new());
        live.cognito_groups
            .insert("guest-0001".into(), String::new());
        live.policies.get_mut("staff").unwrap().grants.clear();
        let changes = diff(&live, &want);
        assert_eq!(changes.len(), 2, "{changes:#?}");
        assert!(matches!(&changes[0], StateChange::PutPolicy { group, .. } if group == "staff"));
        assert!(
            matches!(&changes[1], StateChange::DeleteGroup { group } if group == "made-by-hand")
        );
        assert!(
            changes[0]
                .to_string()
                .contains("+ grant s3://files-bucket/reports/ (read)")
        );
    }
}
