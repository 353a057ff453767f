//! `bucketdrive groups …`: each change edits `bucketdrive.yaml` (comments kept; see
//! `config_edit`) and applies the group's policy and Cognito group at once, without a stack
//! update. The runtime caches policies for 3 s, so a change is effective within seconds.
//! `members` are Cognito memberships, not in the file.

use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};
use bucketdrive_core::audit::AuditAction;
use bucketdrive_core::config::{
    self, AccessSpec, Config, DenyEntry, GrantEntry, GroupConfig, ValidConfig,
};
use serde::Serialize;

use crate::aws::Aws;
use crate::cli::{AccessArg, GlobalArgs, GroupsCommand, GroupsCommon, MembersArgs, MembersCommand};
use crate::config_edit::{self, Edit};
use crate::exit::{Exit, Failure};
use crate::live::{self, Deployment};
use crate::output::Ui;
use crate::state::{self, StateChange};
use crate::users::{self, UserSummary};

pub async fn run(cmd: &GroupsCommand, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    match cmd {
        GroupsCommand::Add(a) => {
            let grants = a
                .grants
                .iter()
                .map(|p| grant(p, a.access, a.until.clone()))
                .collect();
            let deny = a
                .denies
                .iter()
                .map(|p| DenyEntry {
                    path: p.clone(),
                    access: None,
                })
                .collect();
            let edit = Edit::AddGroup {
                name: a.name.clone(),
                group: GroupConfig {
                    description: a.description.clone(),
                    grants,
                    deny,
                },
            };
            change(&a.common, edit, global, ui).await
        }
        GroupsCommand::Remove(a) => {
            change(
                &a.common,
                Edit::RemoveGroup {
                    name: a.name.clone(),
                },
                global,
                ui,
            )
            .await
        }
        GroupsCommand::Grant(a) => {
            let edit = Edit::AddGrant {
                group: a.name.clone(),
                grant: grant(&a.path, a.access, a.until.clone()),
            };
            change(&a.common, edit, global, ui).await
        }
        GroupsCommand::Revoke(a) => {
            let edit = if a.deny {
                Edit::RemoveDeny {
                    group: a.name.clone(),
                    path: a.path.clone(),
                }
            } else {
                Edit::RemoveGrant {
                    group: a.name.clone(),
                    path: a.path.clone(),
                }
            };
            change(&a.common, edit, global, ui).await
        }
        GroupsCommand::Deny(a) => {
            let edit = Edit::AddDeny {
                group: a.name.clone(),
                deny: DenyEntry {
                    path: a.path.clone(),
                    access: None,
                },
            };
            change(&a.common, edit, global, ui).await
        }
        GroupsCommand::List(c) => list(c, global, ui).await,
        GroupsCommand::Show(a) => show(&a.common, &a.name, global, ui).await,
        GroupsCommand::Members(MembersCommand::Add(m)) => members(m, true, global, ui).await,
        GroupsCommand::Members(MembersCommand::Remove(m)) => members(m, false, global, ui).await,
        GroupsCommand::Members(MembersCommand::List(a)) => {
            let valid = crate::config_file::load(&a.common.config.config, ui)?;
            declared(&valid, &a.name)?;
            let aws = super::deploy::connect(global, &valid).await?;
            let dep = Deployment::require(&aws, &valid).await?;
            let members = users::list(&aws, &dep.targets()?, Some(&a.name)).await?;
            ui.result(&super::users::UserList { users: members })?;
            Ok(Exit::Ok)
        }
    }
}

fn grant(path: &str, access: AccessArg, until: Option<String>) -> GrantEntry {
    GrantEntry {
        path: path.to_owned(),
        access: (access != AccessArg::Read).then(|| AccessSpec::One(access.as_str().to_owned())),
        until,
    }
}

fn describe_edit(edit: &Edit) -> String {
    match edit {
        Edit::AddGroup { name, group } => {
            let mut parts = vec![format!("added group `{name}`")];
            parts.extend(group.grants.iter().map(grant_text));
            parts.extend(group.deny.iter().map(|d| format!("deny {}", d.path)));
            parts.join("; ")
        }
        Edit::RemoveGroup { name } => format!("removed group `{name}`"),
        Edit::AddGrant { group, grant } => format!("group `{group}`: {}", grant_text(grant)),
        Edit::RemoveGrant { group, path } => format!("group `{group}`: revoked {path}"),
        Edit::AddDeny { group, deny } => format!("group `{group}`: deny {}", deny.path),
        Edit::RemoveDeny { group, path } => format!("group `{group}`: removed the deny of {path}"),
    }
}

fn grant_text(g: &GrantEntry) -> String {
    let access = g
        .access
        .as_ref()
        .map(|a| a.words().join("+"))
        .unwrap_or_else(|| "read".to_owned());
    let until = g
        .until
        .as_ref()
        .map(|u| format!(" until {u}"))
        .unwrap_or_default();
    format!("grant {} ({access}){until}", g.path)
}

#[derive(Debug, Serialize)]
pub struct GroupChange {
    pub file: String,
    pub group: String,
    pub change: String,
    /// `false` when the file had to be re-serialised (comments lost).
    pub comments_kept: bool,
    /// Whether the change was applied to the live deployment.
    pub applied: bool,
    pub stack: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub converged: Vec<StateChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applied_because: Option<String>,
}

impl fmt::Display for GroupChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.change)?;
        if !self.comments_kept {
            write!(f, " (file rewritten: comments were lost)")?;
        }
        match (&self.not_applied_because, self.applied) {
            (Some(why), _) => write!(f, "\nnot applied: {why}"),
            (None, true) if self.converged.is_empty() => write!(
                f,
                "\nstack `{}`: the live policy already matched",
                self.stack
            ),
            (None, true) => {
                write!(f, "\napplied to stack `{}`:", self.stack)?;
                for c in &self.converged {
                    write!(f, "\n  {} {c}", c.sign())?;
                }
                write!(
                    f,
                    "\neffective within seconds (the API caches policies for 3 s)"
                )
            }
            (None, false) => Ok(()),
        }
    }
}

/// Edit → validate → converge the group → write → audit.
async fn change(
    common: &GroupsCommon,
    edit: Edit,
    global: &GlobalArgs,
    ui: &Ui,
) -> anyhow::Result<Exit> {
    let path = &common.config.config;
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read `{file}`; pass the config with `-c FILE`, or write one with `bucketdrive init`"
        )
    })?;
    let edited = config_edit::apply(&file, &source, &edit)?;
    let today = chrono::Utc::now().date_naive();
    let valid = match config::load(&file, &edited.text, today) {
        Ok(v) => v,
        Err(e) => {
            ui.warn(format!(
                "this change would make `{file}` invalid, so nothing was written or applied:"
            ));
            return Err(e.into());
        }
    };
    if !edited.comments_kept {
        let why = edited.fallback_reason.as_deref().unwrap_or("unknown");
        ui.warn(format!(
            "`{file}` cannot be edited in place ({why}): it will be rewritten from its parsed content, losing comments, blank lines and quoting (keys keep their order)"
        ));
        if !ui.yes && ui.interactive {
            let go = dialoguer::Confirm::new()
                .with_prompt(format!("Rewrite `{file}` without its comments?"))
                .default(false)
                .interact()
                .context("cannot read the answer")?;
            if !go {
                return Err(Failure::new(
                    Exit::Declined,
                    format!("declined: `{file}` was not changed"),
                )
                .into());
            }
        }
    }
    let group = edit.group().to_owned();
    let mut report = GroupChange {
        file: file.clone(),
        group: group.clone(),
        change: describe_edit(&edit),
        comments_kept: edited.comments_kept,
        applied: false,
        stack: valid.config.stack.clone(),
        converged: Vec::new(),
        not_applied_because: None,
    };
    let mut applied_on = None;
    if common.no_apply {
        report.not_applied_because =
            Some("--no-apply; `bucketdrive apply` makes it live".to_owned());
    } else {
        let aws = super::deploy::connect(global, &valid).await?;
        match Deployment::find(&aws, &valid.config.stack).await? {
            Some(dep) if dep.outputs.contains_key("PoliciesTableName") => {
                let actor = live::actor(&aws).await;
                let changes = converge_group(&aws, &dep, &valid, &group, &actor)
                    .await
                    .with_context(|| format!("nothing was written to `{file}`"))?;
                report.applied = true;
                report.converged = changes;
                applied_on = Some((aws, dep, actor));
            }
            _ => {
                report.not_applied_because = Some(format!(
                    "stack `{}` is not deployed in {}; `bucketdrive deploy -c {file}` deploys it with this change",
                    valid.config.stack, aws.region
                ));
            }
        }
    }
    write_atomically(path, &edited.text)?;
    if let Some((aws, dep, actor)) = applied_on {
        dep.audit(
            &aws,
            &actor,
            AuditAction::GroupChange,
            &format!("groups: {}", report.change),
        )
        .await?;
    }
    ui.result(&report)?;
    Ok(Exit::Ok)
}

/// Converges the live policy and Cognito group of `group` (and nothing else) to `valid`.
pub async fn converge_group(
    aws: &Aws,
    dep: &Deployment,
    valid: &ValidConfig,
    group: &str,
    actor: &str,
) -> anyhow::Result<Vec<StateChange>> {
    let targets = dep.targets()?;
    let live = state::read(aws, &targets).await?;
    let changes: Vec<StateChange> = state::diff(&live, &state::desired(valid))
        .into_iter()
        .filter(|c| c.group() == Some(group))
        .collect();
    state::apply(aws, &targets, &changes, actor).await?;
    Ok(changes)
}

/// Replaces `path` with `text` through a temporary file in the same directory, so a crash
/// never leaves half a config.
pub fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bucketdrive.yaml".to_owned());
    let tmp = dir.join(format!(".{name}.bucketdrive-tmp"));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write `{}`", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace `{}`", path.display()))?;
    Ok(())
}

fn declared<'a>(valid: &'a ValidConfig, group: &str) -> anyhow::Result<&'a GroupConfig> {
    valid.config.groups.get(group).with_context(|| {
        let known: Vec<String> = valid.config.groups.keys().map(|k| format!("`{k}`")).collect();
        format!(
            "there is no group `{group}` in {}; declared groups: {} (add one with `bucketdrive groups add {group} --grant s3://…`)",
            valid.file,
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        )
    })
}

// ----------------------------------------------------------------------------- list and show

/// One group as the config declares it, with its live state when the stack is deployed.
#[derive(Debug, Serialize)]
pub struct GroupView {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub grants: Vec<String>,
    pub deny: Vec<String>,
    pub admin: bool,
    /// `in-sync`, `differs`, `missing`, or `not-deployed`.
    pub live: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<UserSummary>>,
}

fn view(
    config: &Config,
    name: &str,
    g: &GroupConfig,
    live: &str,
    members: Option<Vec<UserSummary>>,
) -> GroupView {
    GroupView {
        name: name.to_owned(),
        description: g.description.clone(),
        grants: g.grants.iter().map(grant_text).collect(),
        deny: g.deny.iter().map(|d| format!("deny {}", d.path)).collect(),
        admin: config.admins.iter().any(|a| a == name),
        live: live.to_owned(),
        members,
    }
}

#[derive(Debug, Serialize)]
pub struct GroupListing {
    pub stack: String,
    pub groups: Vec<GroupView>,
    /// Cognito groups that are not in the config (made by hand); personal guest groups
    /// (`bucketdrive guests list`) are not counted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_in_config: Vec<String>,
}

impl fmt::Display for GroupListing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .groups
            .iter()
            .map(|g| {
                if g.admin {
                    format!("{} (admin)", g.name)
                } else {
                    g.name.clone()
                }
            })
            .collect();
        let w = names.iter().map(String::len).max().unwrap_or(5).max(5);
        write!(
            f,
            "{:w$}  {:>6}  {:>4}  {:>7}  {:12}  DESCRIPTION",
            "GROUP", "GRANTS", "DENY", "MEMBERS", "LIVE"
        )?;
        for (g, name) in self.groups.iter().zip(&names) {
            let members = g
                .members
                .as_ref()
                .map(|m| m.len().to_string())
                .unwrap_or_else(|| "-".to_owned());
            let line = format!(
                "{name:w$}  {:>6}  {:>4}  {members:>7}  {:12}  {}",
                g.grants.len(),
                g.deny.len(),
                g.live,
                g.description.as_deref().unwrap_or(""),
            );
            write!(f, "\n{}", line.trim_end())?;
        }
        if !self.not_in_config.is_empty() {
            write!(
                f,
                "\nCognito groups not in the config: {} (`bucketdrive plan` shows them as drift)",
                self.not_in_config.join(", ")
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for GroupView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "group `{}`", self.name)?;
        if self.admin {
            write!(f, " (reads the audit log)")?;
        }
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        write!(f, "\n  live: {}", self.live)?;
        for g in &self.grants {
            write!(f, "\n  {g}")?;
        }
        for d in &self.deny {
            write!(f, "\n  {d}")?;
        }
        if self.grants.is_empty() {
            write!(f, "\n  (no grants)")?;
        }
        match &self.members {
            Some(m) if m.is_empty() => write!(f, "\n  members: none"),
            Some(m) => {
                write!(f, "\n  members:")?;
                for u in m {
                    write!(
                        f,
                        "\n    {}{}",
                        u.email.as_deref().unwrap_or(&u.username),
                        if u.enabled { "" } else { " (disabled)" }
                    )?;
                }
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// The live state of each group: `(state, cognito groups not in config)`.
async fn live_views(
    aws: &Aws,
    valid: &ValidConfig,
    with_members: bool,
    only: Option<&str>,
) -> anyhow::Result<(Vec<GroupView>, Vec<String>)> {
    let dep = Deployment::find(aws, &valid.config.stack).await?;
    let c = &valid.config;
    let Some(dep) = dep.filter(|d| d.outputs.contains_key("PoliciesTableName")) else {
        let v = c
            .groups
            .iter()
            .filter(|(n, _)| only.is_none_or(|o| o == n.as_str()))
            .map(|(n, g)| view(c, n, g, "not-deployed", None))
            .collect();
        return Ok((v, Vec::new()));
    };
    let targets = dep.targets()?;
    let live = state::read(aws, &targets).await?;
    let want = state::desired(valid);
    let mut out = Vec::new();
    for (name, g) in &c.groups {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let status = match (live.policies.get(name), live.cognito_groups.get(name)) {
            (None, _) | (_, None) => "missing",
            (Some(p), Some(d))
                if Some(p) == want.policies.get(name)
                    && Some(d) == want.cognito_groups.get(name) =>
            {
                "in-sync"
            }
            _ => "differs",
        };
        let members = if with_members && live.cognito_groups.contains_key(name) {
            Some(users::list(aws, &targets, Some(name)).await?)
        } else {
            None
        };
        out.push(view(c, name, g, status, members));
    }
    let extra = live
        .cognito_groups
        .keys()
        .filter(|k| !c.groups.contains_key(*k) && !k.starts_with(state::GUEST_PREFIX))
        .cloned()
        .collect();
    Ok((out, extra))
}

async fn list(common: &GroupsCommon, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let valid = crate::config_file::load(&common.config.config, ui)?;
    let aws = super::deploy::connect(global, &valid).await?;
    let (groups, not_in_config) = live_views(&aws, &valid, true, None).await?;
    ui.result(&GroupListing {
        stack: valid.config.stack.clone(),
        groups,
        not_in_config,
    })?;
    Ok(Exit::Ok)
}

async fn show(
    common: &GroupsCommon,
    name: &str,
    global: &GlobalArgs,
    ui: &Ui,
) -> anyhow::Result<Exit> {
    let valid = crate::config_file::load(&common.config.config, ui)?;
    declared(&valid, name)?;
    let aws = super::deploy::connect(global, &valid).await?;
    let (mut groups, _) = live_views(&aws, &valid, true, Some(name)).await?;
    let Some(view) = groups.pop() else {
        bail!("there is no group `{name}` in {}", valid.file);
    };
    ui.result(&view)?;
    Ok(Exit::Ok)
}

// ----------------------------------------------------------------------------------- members

#[derive(Debug, Serialize)]
pub struct MembershipChange {
    pub group: String,
    pub added: bool,
    pub users: Vec<String>,
    /// For removals: the time (epoch seconds) before which their tokens are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_refused_before: Option<i64>,
}

impl fmt::Display for MembershipChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.added {
            write!(
                f,
                "added {} to group `{}` (they get it at their next sign-in)",
                self.users.join(", "),
                self.group
            )
        } else {
            write!(
                f,
                "removed {} from group `{}`; tokens they already hold are refused within a minute (they sign in again to continue with their other groups)",
                self.users.join(", "),
                self.group
            )
        }
    }
}

async fn members(m: &MembersArgs, add: bool, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let valid = crate::config_file::load(&m.config.config, ui)?;
    if add {
        declared(&valid, &m.group)?;
    }
    let aws = super::deploy::connect(global, &valid).await?;
    let dep = Deployment::require(&aws, &valid).await?;
    let targets = dep.targets()?;
    let actor = live::actor(&aws).await;
    let mut done = Vec::new();
    let mut refused_before = None;
    for user in &m.users {
        let u = users::get(&aws, &targets, user).await?;
        let shown = u.email.clone().unwrap_or_else(|| u.username.clone());
        if add {
            users::add_to_group(&aws, &targets, &u.username, &m.group).await?;
        } else {
            users::remove_from_group(&aws, &targets, &u.username, &m.group).await?;
            refused_before = Some(users::revoke_tokens(&aws, &targets, &u, &actor).await?);
        }
        dep.audit(
            &aws,
            &actor,
            AuditAction::GroupChange,
            &format!(
                "groups members {}: `{shown}` {} group `{}`",
                if add { "add" } else { "remove" },
                if add { "to" } else { "from" },
                m.group
            ),
        )
        .await?;
        done.push(shown);
    }
    ui.result(&MembershipChange {
        group: m.group.clone(),
        added: add,
        users: done,
        tokens_refused_before: refused_before,
    })?;
    Ok(Exit::Ok)
}
