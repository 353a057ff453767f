//! People in the user pool: invite, disable, enable, remove, and their groups. Disabling,
//! removing or taking someone out of a group also sets their revocation time in the policies
//! table, which the runtime checks on every request: tokens already issued stop working within
//! its cache time (seconds), not at their expiry.

use anyhow::Context;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, DeliveryMediumType};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use crate::aws::{Aws, describe};
use crate::state::Targets;

#[derive(Debug, Clone, Serialize)]
pub struct UserSummary {
    pub username: String,
    pub sub: String,
    pub email: Option<String>,
    pub enabled: bool,
    pub status: String,
}

/// A password that meets the pool's policy (14+ characters, upper, lower, digit, symbol) with
/// room to spare: 20 characters from unambiguous sets.
pub fn generate_password() -> String {
    use rand::Rng;
    const SETS: [&[u8]; 4] = [
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"abcdefghijkmnopqrstuvwxyz",
        b"23456789",
        b"!@#%^*-_=+",
    ];
    let mut rng = rand::thread_rng();
    let mut chars: Vec<u8> = (0..20)
        .map(|i| {
            let set = SETS[i % 4];
            set[rng.gen_range(0..set.len())]
        })
        .collect();
    for i in (1..chars.len()).rev() {
        chars.swap(i, rng.gen_range(0..=i));
    }
    String::from_utf8(chars).unwrap_or_default()
}

/// Creates the user and adds them to `groups`. Cognito emails them the invitation with a
/// temporary password (generated here, so it meets the pool's policy everywhere); they choose
/// their own at the first sign-in.
pub async fn invite(
    aws: &Aws,
    t: &Targets,
    email: &str,
    groups: &[String],
) -> anyhow::Result<UserSummary> {
    let cognito = aws.cognito();
    let created = cognito
        .admin_create_user()
        .user_pool_id(&t.user_pool_id)
        .username(email)
        .user_attributes(
            AttributeType::builder()
                .name("email")
                .value(email)
                .build()?,
        )
        .user_attributes(
            AttributeType::builder()
                .name("email_verified")
                .value("true")
                .build()?,
        )
        .temporary_password(generate_password())
        .desired_delivery_mediums(DeliveryMediumType::Email)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot invite `{email}`: {}", describe(e)))?;
    let user = created.user.context("Cognito returned no user")?;
    let username = user.username().unwrap_or(email).to_owned();
    for g in groups {
        add_to_group(aws, t, &username, g).await?;
    }
    Ok(summary(
        &username,
        user.attributes(),
        user.enabled(),
        user.user_status().map(|s| s.as_str()).unwrap_or(""),
    ))
}

fn summary(username: &str, attrs: &[AttributeType], enabled: bool, status: &str) -> UserSummary {
    let attr = |n: &str| {
        attrs
            .iter()
            .find(|a| a.name() == n)
            .and_then(|a| a.value())
            .map(str::to_owned)
    };
    UserSummary {
        username: username.to_owned(),
        sub: attr("sub").unwrap_or_else(|| username.to_owned()),
        email: attr("email"),
        enabled,
        status: status.to_owned(),
    }
}

pub async fn add_to_group(
    aws: &Aws,
    t: &Targets,
    username: &str,
    group: &str,
) -> anyhow::Result<()> {
    aws.cognito()
        .admin_add_user_to_group()
        .user_pool_id(&t.user_pool_id)
        .username(username)
        .group_name(group)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot add `{username}` to group `{group}`: {}",
                describe(e)
            )
        })?;
    Ok(())
}

/// Looks a user up by username or email.
pub async fn get(aws: &Aws, t: &Targets, user: &str) -> anyhow::Result<UserSummary> {
    let u = aws
        .cognito()
        .admin_get_user()
        .user_pool_id(&t.user_pool_id)
        .username(user)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "no user `{user}` in pool `{}`: {}",
                t.user_pool_id,
                describe(e)
            )
        })?;
    Ok(summary(
        u.username(),
        u.user_attributes(),
        u.enabled(),
        u.user_status().map(|s| s.as_str()).unwrap_or(""),
    ))
}

/// How long a revocation item is kept: past the expiry of every token issued before it (access
/// and ID tokens live 15 minutes; refreshing after a revocation yields tokens issued later).
const REVOCATION_KEPT_SECS: i64 = 24 * 3600;

/// Sets the user's revocation time to now: tokens issued until now are refused.
pub async fn revoke_tokens(
    aws: &Aws,
    t: &Targets,
    user: &UserSummary,
    actor: &str,
) -> anyhow::Result<i64> {
    let now = chrono::Utc::now().timestamp();
    aws.dynamodb()
        .put_item()
        .table_name(&t.policies_table)
        .item("pk", AttributeValue::S(format!("user#{}", user.sub)))
        .item("sk", AttributeValue::S("revocation".into()))
        .item("not_before", AttributeValue::N(now.to_string()))
        .item(
            "expires_at",
            AttributeValue::N((now + REVOCATION_KEPT_SECS).to_string()),
        )
        .item("username", AttributeValue::S(user.username.clone()))
        .item("updated_by", AttributeValue::S(actor.to_owned()))
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot record the revocation of `{}`: {}",
                user.username,
                describe(e)
            )
        })?;
    Ok(now)
}

fn summary_of(u: &aws_sdk_cognitoidentityprovider::types::UserType) -> UserSummary {
    summary(
        u.username().unwrap_or_default(),
        u.attributes(),
        u.enabled(),
        u.user_status().map(|s| s.as_str()).unwrap_or(""),
    )
}

/// Everyone in the pool, or in `group`.
pub async fn list(aws: &Aws, t: &Targets, group: Option<&str>) -> anyhow::Result<Vec<UserSummary>> {
    let cognito = aws.cognito();
    let mut out = Vec::new();
    match group {
        Some(g) => {
            let mut pages = cognito
                .list_users_in_group()
                .user_pool_id(&t.user_pool_id)
                .group_name(g)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    anyhow::anyhow!("cannot list the members of group `{g}`: {}", describe(e))
                })?;
                out.extend(page.users().iter().map(summary_of));
            }
        }
        None => {
            let mut pages = cognito
                .list_users()
                .user_pool_id(&t.user_pool_id)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    anyhow::anyhow!(
                        "cannot list the users of pool `{}`: {}",
                        t.user_pool_id,
                        describe(e)
                    )
                })?;
                out.extend(page.users().iter().map(summary_of));
            }
        }
    }
    out.sort_by(|a, b| a.email.cmp(&b.email).then(a.username.cmp(&b.username)));
    Ok(out)
}

/// The groups `username` is in.
pub async fn groups_of(aws: &Aws, t: &Targets, username: &str) -> anyhow::Result<Vec<String>> {
    let mut pages = aws
        .cognito()
        .admin_list_groups_for_user()
        .user_pool_id(&t.user_pool_id)
        .username(username)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            anyhow::anyhow!("cannot list the groups of `{username}`: {}", describe(e))
        })?;
        out.extend(
            page.groups()
                .iter()
                .filter_map(|g| g.group_name().map(str::to_owned)),
        );
    }
    out.sort();
    Ok(out)
}

pub async fn remove_from_group(
    aws: &Aws,
    t: &Targets,
    username: &str,
    group: &str,
) -> anyhow::Result<()> {
    aws.cognito()
        .admin_remove_user_from_group()
        .user_pool_id(&t.user_pool_id)
        .username(username)
        .group_name(group)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot remove `{username}` from group `{group}`: {}",
                describe(e)
            )
        })?;
    Ok(())
}

/// Stops the user signing in, and ends the sessions Cognito can end (refresh tokens).
pub async fn disable(aws: &Aws, t: &Targets, username: &str) -> anyhow::Result<()> {
    let cognito = aws.cognito();
    cognito
        .admin_disable_user()
        .user_pool_id(&t.user_pool_id)
        .username(username)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot disable `{username}`: {}", describe(e)))?;
    // Best effort: the revocation time is what cuts tokens already issued.
    let _ = cognito
        .admin_user_global_sign_out()
        .user_pool_id(&t.user_pool_id)
        .username(username)
        .send()
        .await;
    Ok(())
}

pub async fn enable(aws: &Aws, t: &Targets, username: &str) -> anyhow::Result<()> {
    aws.cognito()
        .admin_enable_user()
        .user_pool_id(&t.user_pool_id)
        .username(username)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot enable `{username}`: {}", describe(e)))?;
    Ok(())
}

pub async fn delete(aws: &Aws, t: &Targets, username: &str) -> anyhow::Result<()> {
    aws.cognito()
        .admin_delete_user()
        .user_pool_id(&t.user_pool_id)
        .username(username)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot delete `{username}`: {}", describe(e)))?;
    Ok(())
}
