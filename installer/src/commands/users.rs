//! `bucketdrive users …`: people in the user pool. Disabling or removing someone also sets
//! their revocation time, which the API checks on every request: tokens already issued stop
//! working within seconds. Every change is an audit record with the AWS caller as the actor.

use std::fmt;

use anyhow::Context;
use bucketdrive_core::audit::AuditAction;
use serde::Serialize;

use crate::cli::{GlobalArgs, UserArgs, UsersCommand};
use crate::config_file;
use crate::exit::{Exit, Failure};
use crate::live::{self, Deployment};
use crate::output::Ui;
use crate::users::{self, UserSummary};

#[derive(Debug, Serialize)]
pub struct UserList {
    pub users: Vec<UserSummary>,
}

impl fmt::Display for UserList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.users.is_empty() {
            return write!(f, "no users");
        }
        let w = self
            .users
            .iter()
            .map(|u| u.email.as_deref().unwrap_or("").len())
            .max()
            .unwrap_or(5)
            .max(5);
        write!(
            f,
            "{:w$}  {:8}  {:22}  USERNAME",
            "EMAIL", "ENABLED", "STATUS"
        )?;
        for u in &self.users {
            write!(
                f,
                "\n{:w$}  {:8}  {:22}  {}",
                u.email.as_deref().unwrap_or("-"),
                if u.enabled { "yes" } else { "no" },
                u.status,
                u.username
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Serialize)]
pub struct UserChange {
    /// `invited`, `disabled`, `enabled`, `removed`.
    pub action: &'static str,
    pub user: UserSummary,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_refused_before: Option<i64>,
}

impl fmt::Display for UserChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = self.user.email.as_deref().unwrap_or(&self.user.username);
        match self.action {
            "invited" => {
                write!(f, "invited {who}; Cognito emails them a temporary password")?;
                if !self.groups.is_empty() {
                    write!(f, "\n  groups: {}", self.groups.join(", "))?;
                }
                Ok(())
            }
            "disabled" => write!(
                f,
                "disabled {who}: they cannot sign in, and tokens they hold are refused within a minute"
            ),
            "enabled" => write!(f, "enabled {who}: they can sign in again"),
            _ => write!(
                f,
                "removed {who}: tokens they hold are refused within a minute"
            ),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct UserGroups {
    pub user: String,
    pub groups: Vec<String>,
}

impl fmt::Display for UserGroups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.groups.is_empty() {
            write!(f, "{} is in no group (they can see nothing)", self.user)
        } else {
            write!(f, "{}: {}", self.user, self.groups.join(", "))
        }
    }
}

pub async fn run(cmd: &UsersCommand, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let config = match cmd {
        UsersCommand::Invite(a) => &a.config,
        UsersCommand::List(a) => &a.config,
        UsersCommand::Disable(a)
        | UsersCommand::Enable(a)
        | UsersCommand::Remove(a)
        | UsersCommand::Groups(a) => &a.config,
    };
    let valid = config_file::load(&config.config, ui)?;
    let aws = super::deploy::connect(global, &valid).await?;
    let dep = Deployment::require(&aws, &valid).await?;
    let t = dep.targets()?;
    match cmd {
        UsersCommand::List(a) => {
            let list = users::list(&aws, &t, a.group.as_deref()).await?;
            ui.result(&UserList { users: list })?;
            return Ok(Exit::Ok);
        }
        UsersCommand::Groups(a) => {
            let u = users::get(&aws, &t, &a.user).await?;
            let groups = users::groups_of(&aws, &t, &u.username).await?;
            ui.result(&UserGroups {
                user: u.email.unwrap_or(u.username),
                groups,
            })?;
            return Ok(Exit::Ok);
        }
        _ => {}
    }
    let actor = live::actor(&aws).await;
    let change = match cmd {
        UsersCommand::Invite(a) => {
            for g in &a.groups {
                if !valid.config.groups.contains_key(g) {
                    ui.warn(format!(
                        "group `{g}` is not declared in {}: membership gives no access until it is (`bucketdrive groups add {g} --grant s3://…`)",
                        valid.file
                    ));
                }
            }
            let u = users::invite(&aws, &t, &a.email, &a.groups).await?;
            UserChange {
                action: "invited",
                user: u,
                groups: a.groups.clone(),
                tokens_refused_before: None,
            }
        }
        UsersCommand::Disable(UserArgs { user, .. }) => {
            let u = users::get(&aws, &t, user).await?;
            users::disable(&aws, &t, &u.username).await?;
            let at = users::revoke_tokens(&aws, &t, &u, &actor).await?;
            UserChange {
                action: "disabled",
                user: UserSummary {
                    enabled: false,
                    ..u
                },
                groups: Vec::new(),
                tokens_refused_before: Some(at),
            }
        }
        UsersCommand::Enable(UserArgs { user, .. }) => {
            let u = users::get(&aws, &t, user).await?;
            users::enable(&aws, &t, &u.username).await?;
            UserChange {
                action: "enabled",
                user: UserSummary { enabled: true, ..u },
                groups: Vec::new(),
                tokens_refused_before: None,
            }
        }
        UsersCommand::Remove(UserArgs { user, .. }) => {
            let u = users::get(&aws, &t, user).await?;
            let who = u.email.clone().unwrap_or_else(|| u.username.clone());
            if !ui.yes {
                if !ui.interactive {
                    anyhow::bail!(
                        "removing `{who}` deletes their account and there is no terminal to confirm it; pass `--yes`, or `bucketdrive users disable {user}` to keep the account"
                    );
                }
                let go = dialoguer::Confirm::new()
                    .with_prompt(format!("Delete the account of {who}?"))
                    .default(false)
                    .interact()
                    .context("cannot read the answer")?;
                if !go {
                    return Err(
                        Failure::new(Exit::Declined, format!("declined: {who} was kept")).into(),
                    );
                }
            }
            let at = users::revoke_tokens(&aws, &t, &u, &actor).await?;
            users::delete(&aws, &t, &u.username).await?;
            UserChange {
                action: "removed",
                user: u,
                groups: Vec::new(),
                tokens_refused_before: Some(at),
            }
        }
        UsersCommand::List(_) | UsersCommand::Groups(_) => return Ok(Exit::Ok),
    };
    let who = change
        .user
        .email
        .clone()
        .unwrap_or_else(|| change.user.username.clone());
    dep.audit(
        &aws,
        &actor,
        AuditAction::UserChange,
        &format!("users: {} `{who}` (sub {})", change.action, change.user.sub),
    )
    .await?;
    ui.result(&change)?;
    Ok(Exit::Ok)
}
