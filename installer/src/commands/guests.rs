//! `bucketdrive guests …`: one person from outside, one path, until a date. A guest is a real
//! Cognito account in a personal group `guest-<short id>` (a prefix the config may not use, and
//! that converges never delete) whose policy — one grant with `until` — is written straight to
//! the policies table. The engine ignores an expired grant, so access ends by itself; `revoke`
//! ends it at once.

use std::fmt;

use anyhow::{Context, bail};
use aws_sdk_dynamodb::types::AttributeValue;
use bucketdrive_core::audit::AuditAction;
use bucketdrive_core::config::ValidConfig;
use bucketdrive_core::path::S3Path;
use bucketdrive_core::policy::{Grant, GroupPolicy, Rights, Until};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use crate::aws::{Aws, describe};
use crate::cli::{AccessArg, GlobalArgs, GuestInviteArgs, GuestRevokeArgs, GuestsCommand};
use crate::config_file;
use crate::exit::Exit;
use crate::live::{self, Deployment};
use crate::output::Ui;
use crate::state::{self, GUEST_PREFIX, Targets};
use crate::users;

/// The longest a guest grant may run.
pub const MAX_GUEST_DAYS: i64 = 90;

/// The personal group of the user with this `sub`: `guest-` and 12 hex digits of it.
pub fn guest_group(sub: &str) -> String {
    let id: String = sub
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect::<String>()
        .to_ascii_lowercase();
    format!("{GUEST_PREFIX}{id}")
}

/// The grant a guest gets, checked: the path inside a declared bucket, `until` in the future
/// and at most [`MAX_GUEST_DAYS`] away.
pub fn guest_grant(
    valid: &ValidConfig,
    path: &str,
    until: &str,
    access: AccessArg,
    now: DateTime<Utc>,
) -> Result<Grant, String> {
    let path = S3Path::parse(path).map_err(|e| {
        format!("--path: {e}; write `s3://bucket/prefix/` (a folder) or `s3://bucket/key`")
    })?;
    let buckets: Vec<&str> = valid
        .config
        .buckets
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    if !buckets.contains(&path.bucket()) {
        return Err(format!(
            "--path: bucket `{}` is not declared in {} (buckets: {}); a guest may only be given a path in one of them",
            path.bucket(),
            valid.file,
            buckets.join(", ")
        ));
    }
    let until = Until::parse(until).map_err(|e| format!("--until: {e}"))?;
    if until.has_passed(now) {
        return Err(format!(
            "--until `{until}` has already passed; give a later date or time"
        ));
    }
    if until.ends_at() > now + Duration::days(MAX_GUEST_DAYS) {
        return Err(format!(
            "--until `{until}` is more than {MAX_GUEST_DAYS} days away; guests get at most {MAX_GUEST_DAYS} days (invite them again later to extend)"
        ));
    }
    let access = Rights::parse_keyword(access.as_str()).map_err(|e| format!("--access: {e}"))?;
    Ok(Grant {
        path,
        access,
        until: Some(until),
    })
}

/// Denies of the config's groups that reach into the guest's path. Denies bind their own group
/// only, so they do not restrict a guest: worth a warning.
fn overlapping_denies(valid: &ValidConfig, grant: &Grant) -> Vec<String> {
    valid
        .policies
        .iter()
        .flat_map(|p| p.deny.iter().map(move |d| (p.group.as_str(), d)))
        .filter(|(_, d)| grant.path.covers(&d.path) || d.path.covers(&grant.path))
        .map(|(g, d)| format!("{} (group `{g}`)", d.path))
        .collect()
}

/// One guest, from the policies table and the user pool.
#[derive(Debug, Clone, Serialize)]
pub struct Guest {
    pub email: String,
    pub group: String,
    pub path: String,
    pub access: String,
    pub until: String,
    /// The first instant without access (RFC 3339).
    pub ends_at: String,
    pub expired: bool,
    /// `None` when the account is gone from the pool.
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invited_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invited_at: Option<String>,
    #[serde(skip)]
    username: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GuestList {
    pub stack: String,
    pub guests: Vec<Guest>,
}

impl fmt::Display for GuestList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.guests.is_empty() {
            return write!(
                f,
                "no guests (`bucketdrive guests invite EMAIL --path s3://… --until DATE` invites one)"
            );
        }
        let rows: Vec<[String; 6]> = self
            .guests
            .iter()
            .map(|g| {
                [
                    g.email.clone(),
                    g.path.clone(),
                    g.access.clone(),
                    g.until.clone(),
                    if g.expired { "yes" } else { "no" }.to_owned(),
                    match g.enabled {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => "deleted",
                    }
                    .to_owned(),
                ]
            })
            .collect();
        let headers = ["EMAIL", "PATH", "ACCESS", "UNTIL", "EXPIRED", "ENABLED"];
        let mut widths = headers.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 6]| {
            let mut s = String::new();
            for (c, w) in cells.iter().zip(widths) {
                s.push_str(&format!("{c:w$}  "));
            }
            s.trim_end().to_owned()
        };
        write!(f, "{}", line(headers))?;
        for r in &rows {
            write!(f, "\n{}", line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]))?;
        }
        Ok(())
    }
}

#[derive(Debug, Serialize)]
pub struct GuestChange {
    /// `invited` or `revoked`.
    pub action: &'static str,
    pub email: String,
    pub groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_refused_before: Option<i64>,
}

impl fmt::Display for GuestChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.action {
            "invited" => write!(
                f,
                "invited {} as a guest: {} ({}) until {} (group {}); Cognito emails them a temporary password",
                self.email,
                self.path.as_deref().unwrap_or(""),
                self.access.as_deref().unwrap_or(""),
                self.until.as_deref().unwrap_or(""),
                self.groups.join(", ")
            ),
            _ => write!(
                f,
                "revoked guest {}: grant and group {} removed, account disabled; tokens they hold are refused within a minute",
                self.email,
                self.groups.join(", ")
            ),
        }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// Every guest of the deployment, from the guest policy items of the policies table.
async fn guest_items(aws: &Aws, t: &Targets, now: DateTime<Utc>) -> anyhow::Result<Vec<Guest>> {
    let filter = (
        "begins_with(pk, :g) AND sk = :policy",
        vec![
            (":g", s(format!("group#{GUEST_PREFIX}"))),
            (":policy", s("policy")),
        ],
    );
    let mut out = Vec::new();
    for item in &state::scan_policies_table(aws, t, Some(filter)).await? {
        let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let group = get("pk")
            .and_then(|p| p.strip_prefix("group#").map(str::to_owned))
            .unwrap_or_default();
        let doc: GroupPolicy = serde_json::from_str(&get("doc").unwrap_or_default())
            .with_context(|| format!("the policy of guest group `{group}` is not valid"))?;
        let Some(grant) = doc.grants.first() else {
            continue;
        };
        let until = grant.until.clone();
        out.push(Guest {
            email: get("guest_email").unwrap_or_else(|| "?".to_owned()),
            group,
            path: grant.path.to_string(),
            access: grant.access.to_string(),
            until: until.as_ref().map(|u| u.to_string()).unwrap_or_default(),
            ends_at: until
                .as_ref()
                .map(|u| u.ends_at().to_rfc3339_opts(SecondsFormat::Secs, true))
                .unwrap_or_default(),
            expired: grant.is_expired(now),
            enabled: None,
            invited_by: get("updated_by"),
            invited_at: get("updated_at"),
            username: get("guest_username"),
        });
    }
    out.sort_by(|a, b| a.email.cmp(&b.email).then(a.group.cmp(&b.group)));
    Ok(out)
}

pub async fn run(cmd: &GuestsCommand, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    match cmd {
        GuestsCommand::Invite(a) => invite(a, global, ui).await,
        GuestsCommand::List(c) => {
            let valid = config_file::load(&c.config, ui)?;
            let aws = super::deploy::connect(global, &valid).await?;
            let dep = Deployment::require(&aws, &valid).await?;
            let t = dep.targets()?;
            let mut guests = guest_items(&aws, &t, Utc::now()).await?;
            for g in &mut guests {
                let who = g.username.clone().unwrap_or_else(|| g.email.clone());
                g.enabled = users::get(&aws, &t, &who).await.ok().map(|u| u.enabled);
            }
            ui.result(&GuestList {
                stack: dep.stack.clone(),
                guests,
            })?;
            Ok(Exit::Ok)
        }
        GuestsCommand::Revoke(a) => revoke(a, global, ui).await,
    }
}

async fn invite(a: &GuestInviteArgs, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let valid = config_file::load(&a.config.config, ui)?;
    let grant =
        guest_grant(&valid, &a.path, &a.until, a.access, Utc::now()).map_err(anyhow::Error::msg)?;
    let email = a.email.trim().to_owned();
    if !email.contains('@') {
        bail!("`{email}` is not an email address; a guest signs in with their email");
    }
    for d in overlapping_denies(&valid, &grant) {
        ui.warn(format!(
            "{d} is denied to that group only: the guest's own grant is not restricted by it; give a narrower --path if they must not reach it"
        ));
    }
    let aws = super::deploy::connect(global, &valid).await?;
    let dep = Deployment::require(&aws, &valid).await?;
    let t = dep.targets()?;
    let actor = live::actor(&aws).await;

    let user = match users::get(&aws, &t, &email).await {
        Ok(u) => {
            let groups = users::groups_of(&aws, &t, &u.username).await?;
            if let Some(g) = groups.iter().find(|g| g.starts_with(GUEST_PREFIX)) {
                bail!(
                    "`{email}` is already a guest (group `{g}`); `bucketdrive guests revoke {email}` first, then invite them again"
                );
            }
            if !groups.is_empty() {
                bail!(
                    "`{email}` already has an account in groups {}; a guest is an account of its own — grant one of their groups instead (`bucketdrive groups grant …`)",
                    groups.join(", ")
                );
            }
            // A guest revoked before: the same account comes back with the new grant.
            if !u.enabled {
                users::enable(&aws, &t, &u.username).await?;
            }
            u
        }
        Err(_) => users::invite(&aws, &t, &email, &[]).await?,
    };
    let group = guest_group(&user.sub);
    let until = grant
        .until
        .as_ref()
        .map(|u| u.to_string())
        .unwrap_or_default();
    let policy = GroupPolicy {
        group: group.clone(),
        grants: vec![grant.clone()],
        deny: Vec::new(),
    };
    let cognito = aws.cognito();
    let description = format!("guest {email} until {until}");
    if let Err(e) = cognito
        .create_group()
        .user_pool_id(&t.user_pool_id)
        .group_name(&group)
        .description(&description)
        .send()
        .await
    {
        let text = describe(e);
        if !text.contains("GroupExists") && !text.contains("already exists") {
            bail!("cannot create the guest group `{group}`: {text}");
        }
    }
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    aws.dynamodb()
        .put_item()
        .table_name(&t.policies_table)
        .item("pk", s(format!("group#{group}")))
        .item("sk", s("policy"))
        .item("doc", s(serde_json::to_string(&policy)?))
        .item("updated_at", s(now))
        .item("updated_by", s(actor.clone()))
        .item("guest_email", s(email.clone()))
        .item("guest_sub", s(user.sub.clone()))
        .item("guest_username", s(user.username.clone()))
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot write the policy of guest group `{group}`: {}",
                describe(e)
            )
        })?;
    users::add_to_group(&aws, &t, &user.username, &group).await?;
    let change = GuestChange {
        action: "invited",
        email: email.clone(),
        groups: vec![group.clone()],
        path: Some(grant.path.to_string()),
        access: Some(grant.access.to_string()),
        until: Some(until.clone()),
        tokens_refused_before: None,
    };
    dep.audit(
        &aws,
        &actor,
        AuditAction::UserChange,
        &format!(
            "guests: invited `{email}` (sub {}) to {} ({}) until {until} as group `{group}`",
            user.sub, grant.path, grant.access
        ),
    )
    .await?;
    ui.result(&change)?;
    Ok(Exit::Ok)
}

async fn revoke(a: &GuestRevokeArgs, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let valid = config_file::load(&a.config.config, ui)?;
    let aws = super::deploy::connect(global, &valid).await?;
    let dep = Deployment::require(&aws, &valid).await?;
    let t = dep.targets()?;
    let actor = live::actor(&aws).await;
    let who = a.email.trim();
    let user = users::get(&aws, &t, who).await.ok();
    let member_of = match &user {
        Some(u) => users::groups_of(&aws, &t, &u.username).await?,
        None => Vec::new(),
    };
    let mut groups: Vec<String> = guest_items(&aws, &t, Utc::now())
        .await?
        .into_iter()
        .filter(|g| {
            g.email.eq_ignore_ascii_case(who)
                || user
                    .as_ref()
                    .is_some_and(|u| g.username.as_deref() == Some(u.username.as_str()))
        })
        .map(|g| g.group)
        .collect();
    groups.extend(
        member_of
            .iter()
            .filter(|g| g.starts_with(GUEST_PREFIX))
            .cloned(),
    );
    groups.sort();
    groups.dedup();
    if groups.is_empty() {
        bail!(
            "`{who}` is not a guest (no `{GUEST_PREFIX}…` group or grant); `bucketdrive users disable {who}` stops any user"
        );
    }
    let ddb = aws.dynamodb();
    let cognito = aws.cognito();
    for g in &groups {
        // The grant first: the API stops honouring it within its policy cache (seconds).
        ddb.delete_item()
            .table_name(&t.policies_table)
            .key("pk", s(format!("group#{g}")))
            .key("sk", s("policy"))
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot delete the policy of guest group `{g}`: {}",
                    describe(e)
                )
            })?;
        if let Some(u) = &user
            && member_of.contains(g)
        {
            users::remove_from_group(&aws, &t, &u.username, g).await?;
        }
        if let Err(e) = cognito
            .delete_group()
            .user_pool_id(&t.user_pool_id)
            .group_name(g)
            .send()
            .await
        {
            let text = describe(e);
            if !text.contains("ResourceNotFound") && !text.contains("not found") {
                bail!("cannot delete the guest group `{g}`: {text}");
            }
        }
    }
    let mut refused_before = None;
    if let Some(u) = &user {
        refused_before = Some(users::revoke_tokens(&aws, &t, u, &actor).await?);
        users::disable(&aws, &t, &u.username).await?;
    }
    let email = user
        .as_ref()
        .and_then(|u| u.email.clone())
        .unwrap_or_else(|| who.to_owned());
    dep.audit(
        &aws,
        &actor,
        AuditAction::UserChange,
        &format!(
            "guests: revoked `{email}`{}: removed group(s) {} and their grant{}",
            user.as_ref()
                .map(|u| format!(" (sub {})", u.sub))
                .unwrap_or_default(),
            groups.join(", "),
            if user.is_some() {
                ", disabled the account"
            } else {
                " (the account was already gone)"
            }
        ),
    )
    .await?;
    ui.result(&GuestChange {
        action: "revoked",
        email,
        groups,
        path: None,
        access: None,
        until: None,
        tokens_refused_before: refused_before,
    })?;
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn valid() -> ValidConfig {
        bucketdrive_core::config::load(
            "bucketdrive.yaml",
            "stack: s\nregion: eu-west-1\nbuckets: [{name: files-bucket}]\ngroups:\n  eng:\n    grants: [s3://files-bucket/in/]\n    deny: [s3://files-bucket/in/secret/]\n",
            chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
        )
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_guest_grant_is_inside_a_declared_bucket_and_ends_within_90_days() {
        let v = valid();
        let g = guest_grant(
            &v,
            "s3://files-bucket/pat/",
            "2027-01-31",
            AccessArg::Read,
            now(),
        )
        .unwrap();
        assert_eq!(g.access, Rights::READ);
        assert_eq!(g.until.unwrap().as_str(), "2027-01-31");
        let instant = guest_grant(
            &v,
            "s3://files-bucket/pat/x.pdf",
            "2026-12-04T12:00:05Z",
            AccessArg::ReadWrite,
            now(),
        )
        .unwrap();
        assert_eq!(instant.access, Rights::READ_WRITE);

        let other = guest_grant(&v, "s3://other/x/", "2027-01-31", AccessArg::Read, now());
        assert!(other.unwrap_err().contains("not declared"));
        let past = guest_grant(
            &v,
            "s3://files-bucket/p/",
            "2026-12-03",
            AccessArg::Read,
            now(),
        );
        assert!(past.unwrap_err().contains("passed"));
        let far = guest_grant(
            &v,
            "s3://files-bucket/p/",
            "2027-03-04",
            AccessArg::Read,
            now(),
        );
        assert!(far.unwrap_err().contains("90 days"));
        let bad = guest_grant(&v, "files-bucket/p/", "2027-01-01", AccessArg::Read, now());
        assert!(bad.unwrap_err().starts_with("--path"));
        let bad_date = guest_grant(&v, "s3://files-bucket/p/", "soon", AccessArg::Read, now());
        assert!(bad_date.unwrap_err().starts_with("--until"));
    }

    #[test]
    fn denies_inside_the_guest_path_are_pointed_out() {
        let v = valid();
        let g = guest_grant(
            &v,
            "s3://files-bucket/in/",
            "2027-01-01",
            AccessArg::Read,
            now(),
        )
        .unwrap();
        assert_eq!(
            overlapping_denies(&v, &g),
            ["s3://files-bucket/in/secret/ (group `eng`)"]
        );
        let elsewhere = guest_grant(
            &v,
            "s3://files-bucket/out/",
            "2027-01-01",
            AccessArg::Read,
            now(),
        )
        .unwrap();
        assert!(overlapping_denies(&v, &elsewhere).is_empty());
    }

    #[test]
    fn a_guest_group_is_personal_and_reserved() {
        let g = guest_group("6f1c2a9e-1b2c-4d5e-8f90-0123456789ab");
        assert_eq!(g, "guest-6f1c2a9e1b2c");
        assert!(g.starts_with(GUEST_PREFIX));
    }
}
