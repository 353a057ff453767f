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

/// Creates the user (Cognito emails a temporary password) and adds them to `groups`.
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
