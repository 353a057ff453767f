//! Deploying one CloudFormation stack the way rain does: always through a change set, shown as
//! `+ ~ -` lines, confirmed unless `--yes`, executed with live events, and on failure the failing
//! events collected and the stack left in a state the next run knows how to continue from.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    Capability, ChangeAction, ChangeSetStatus, ChangeSetType, Parameter, StackStatus, Tag,
};
use serde::Serialize;

use crate::aws::describe;
use crate::output::Ui;

/// How long a stack operation may take before the CLI stops waiting (the stack carries on).
const STACK_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// A parameter value meaning "keep the stack's current value" (`UsePreviousValue`).
pub const USE_PREVIOUS_VALUE: &str = "\u{0}use-previous-value";

#[derive(Debug, Clone)]
pub struct StackRequest {
    pub stack: String,
    pub template: String,
    pub parameters: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    pub dry_run: bool,
    /// Execute without asking (the `--yes` flag, or a stack the installer manages itself).
    pub yes: bool,
}

/// One line of a change set.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ResourceChange {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
}

/// A stack event worth showing.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    pub time: String,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum StackOutcome {
    /// The live stack already equals the template.
    NoChanges,
    /// `--dry-run`: the change set was shown and deleted.
    DryRun { changes: Vec<ResourceChange> },
    /// The user said no; the change set was deleted, nothing changed.
    Declined { changes: Vec<ResourceChange> },
    Deployed {
        changes: Vec<ResourceChange>,
        status: String,
    },
    /// The stack operation failed; `status` is where the stack was left.
    Failed {
        changes: Vec<ResourceChange>,
        status: String,
        failures: Vec<Event>,
    },
}

impl StackOutcome {
    pub fn changes(&self) -> &[ResourceChange] {
        match self {
            StackOutcome::NoChanges => &[],
            StackOutcome::DryRun { changes }
            | StackOutcome::Declined { changes }
            | StackOutcome::Deployed { changes, .. }
            | StackOutcome::Failed { changes, .. } => changes,
        }
    }
}

pub struct Stacks<'a> {
    pub cfn: Client,
    pub ui: &'a Ui,
}

/// The state a stack is in, as far as deploying goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    Absent,
    /// Created by a change set that was never executed: holds no resources.
    ReviewInProgress,
    /// A failed create that was rolled back: holds no resources, cannot be updated.
    RolledBackCreate(String),
    Busy(String),
    Stuck(String),
    Ready(String),
}

impl Stacks<'_> {
    pub async fn existing(&self, stack: &str) -> anyhow::Result<Existing> {
        let resp = match self.cfn.describe_stacks().stack_name(stack).send().await {
            Ok(r) => r,
            Err(e) => {
                let text = describe(e);
                if text.contains("does not exist") {
                    return Ok(Existing::Absent);
                }
                bail!("cannot read stack `{stack}`: {text}");
            }
        };
        let Some(s) = resp.stacks().first() else {
            return Ok(Existing::Absent);
        };
        let status = s
            .stack_status()
            .map(|x| x.as_str().to_owned())
            .unwrap_or_default();
        Ok(match s.stack_status() {
            Some(StackStatus::ReviewInProgress) => Existing::ReviewInProgress,
            Some(StackStatus::RollbackComplete | StackStatus::RollbackFailed) => {
                Existing::RolledBackCreate(status)
            }
            Some(StackStatus::DeleteComplete) => Existing::Absent,
            Some(StackStatus::UpdateRollbackFailed | StackStatus::DeleteFailed) => {
                Existing::Stuck(status)
            }
            _ if status.ends_with("_IN_PROGRESS") => Existing::Busy(status),
            _ => Existing::Ready(status),
        })
    }

    pub async fn outputs(&self, stack: &str) -> anyhow::Result<Vec<(String, String)>> {
        let resp = self
            .cfn
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot read the outputs of stack `{stack}`: {}",
                    describe(e)
                )
            })?;
        Ok(resp
            .stacks()
            .first()
            .map(|s| {
                s.outputs()
                    .iter()
                    .filter_map(|o| {
                        Some((o.output_key()?.to_owned(), o.output_value()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Creates the change set, shows it, asks, executes, follows.
    pub async fn deploy(&self, req: &StackRequest) -> anyhow::Result<StackOutcome> {
        let existing = self.existing(&req.stack).await?;
        let kind = match &existing {
            Existing::Absent | Existing::ReviewInProgress => ChangeSetType::Create,
            Existing::RolledBackCreate(status) => {
                self.ui.status(format!(
                    "stack `{}` is {status} after a failed first deploy; it holds no resources and is deleted before creating it again",
                    req.stack
                ));
                if req.dry_run {
                    bail!(
                        "stack `{}` is {status}; run without --dry-run (it will be deleted and created again) or delete it",
                        req.stack
                    );
                }
                self.delete(&req.stack).await?;
                ChangeSetType::Create
            }
            Existing::Busy(status) => bail!(
                "stack `{}` is busy ({status}); wait for that operation to finish, then run again",
                req.stack
            ),
            Existing::Stuck(status) => bail!(
                "stack `{}` is {status}; fix the resource named in its events, then `aws cloudformation continue-update-rollback --stack-name {}` (or delete it) and run again",
                req.stack,
                req.stack
            ),
            Existing::Ready(_) => ChangeSetType::Update,
        };
        let created_review_stack = kind == ChangeSetType::Create;
        let name = self.create_change_set(req, kind).await?;
        let changes = match self.wait_change_set(&req.stack, &name).await {
            Ok(Some(changes)) => changes,
            Ok(None) => {
                self.discard(&req.stack, &name, false).await;
                return Ok(StackOutcome::NoChanges);
            }
            Err(e) => {
                self.discard(&req.stack, &name, created_review_stack).await;
                return Err(e);
            }
        };
        self.ui
            .status(render_changes(&req.stack, &changes, self.ui.color));
        if req.dry_run {
            self.discard(&req.stack, &name, created_review_stack).await;
            return Ok(StackOutcome::DryRun { changes });
        }
        if !req.yes && !self.confirm(&req.stack)? {
            self.discard(&req.stack, &name, created_review_stack).await;
            return Ok(StackOutcome::Declined { changes });
        }
        let seen = self.event_ids(&req.stack).await.unwrap_or_default();
        self.cfn
            .execute_change_set()
            .stack_name(&req.stack)
            .change_set_name(&name)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot execute the change set for `{}`: {}",
                    req.stack,
                    describe(e)
                )
            })?;
        let (status, events) = self.follow(&req.stack, seen, changes.len()).await?;
        if matches!(status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE") {
            return Ok(StackOutcome::Deployed { changes, status });
        }
        let mut failures: Vec<Event> = events
            .into_iter()
            .filter(|e| e.status.ends_with("_FAILED"))
            .filter(|e| !e.reason.as_deref().unwrap_or("").contains("cancelled"))
            .collect();
        if failures
            .iter()
            .any(|e| e.reason.as_deref().unwrap_or("").contains("DescribeEvents"))
        {
            let details = self.validation_failures(&req.stack).await;
            for e in &details {
                self.ui.status(render_event(e, self.ui.color));
            }
            failures.extend(details);
        }
        Ok(StackOutcome::Failed {
            changes,
            status,
            failures,
        })
    }

    /// Creates a change set for `req` and returns its name (not yet waited for).
    async fn create_change_set(
        &self,
        req: &StackRequest,
        kind: ChangeSetType,
    ) -> anyhow::Result<String> {
        let name = format!(
            "bucketdrive-{}",
            chrono::Utc::now().format("%Y%m%d%H%M%S%3f")
        );
        self.cfn
            .create_change_set()
            .stack_name(&req.stack)
            .change_set_name(&name)
            .change_set_type(kind)
            .template_body(&req.template)
            .set_parameters(Some(
                req.parameters
                    .iter()
                    .map(|(k, v)| {
                        let p = Parameter::builder().parameter_key(k);
                        if v == USE_PREVIOUS_VALUE {
                            p.use_previous_value(true).build()
                        } else {
                            p.parameter_value(v).build()
                        }
                    })
                    .collect(),
            ))
            .set_tags(Some(
                req.tags
                    .iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "CloudFormation refused the change set for `{}`: {}",
                    req.stack,
                    describe(e)
                )
            })?;
        Ok(name)
    }

    /// What deploying `req` would change, without changing anything: a change set is created,
    /// read and deleted (with the empty stack a first change set creates). `None`: the stack
    /// already equals the template. A stack that cannot take a change set (busy, rolled back,
    /// stuck) is an error; callers check [`Stacks::existing`] first.
    pub async fn preview(&self, req: &StackRequest) -> anyhow::Result<Option<Vec<ResourceChange>>> {
        let kind = match self.existing(&req.stack).await? {
            Existing::Absent | Existing::ReviewInProgress => ChangeSetType::Create,
            Existing::Ready(_) => ChangeSetType::Update,
            Existing::RolledBackCreate(s) | Existing::Busy(s) | Existing::Stuck(s) => bail!(
                "stack `{}` is {s}: no change set can be made for it now",
                req.stack
            ),
        };
        let name = self.create_change_set(req, kind.clone()).await?;
        let result = self.wait_change_set(&req.stack, &name).await;
        self.discard(&req.stack, &name, kind == ChangeSetType::Create)
            .await;
        result
    }

    /// The reasons behind a failure that CloudFormation only gives through DescribeEvents
    /// (pre-deployment validation, e.g. a bucket name that is taken).
    async fn validation_failures(&self, stack: &str) -> Vec<Event> {
        let Ok(resp) = self.cfn.describe_events().stack_name(stack).send().await else {
            return Vec::new();
        };
        resp.operation_events()
            .iter()
            .filter(|e| e.validation_status_reason().is_some())
            .map(|e| Event {
                time: e.timestamp().map(|t| t.to_string()).unwrap_or_default(),
                logical_id: e.logical_resource_id().unwrap_or_default().to_owned(),
                resource_type: e.resource_type().unwrap_or_default().to_owned(),
                status: format!("{}_FAILED", e.validation_name().unwrap_or("VALIDATION")),
                reason: e.validation_status_reason().map(str::to_owned),
            })
            .collect()
    }

    fn confirm(&self, stack: &str) -> anyhow::Result<bool> {
        if !self.ui.interactive {
            bail!(
                "stack `{stack}` has changes to deploy and there is no terminal to confirm them; pass `--yes` to deploy, or `--dry-run` to only look"
            );
        }
        dialoguer::Confirm::new()
            .with_prompt(format!("Deploy these changes to `{stack}`?"))
            .default(false)
            .interact()
            .context("cannot read the answer")
    }

    /// `Some(changes)` when there is something to do, `None` when the stack is already equal.
    async fn wait_change_set(
        &self,
        stack: &str,
        name: &str,
    ) -> anyhow::Result<Option<Vec<ResourceChange>>> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(200);
        loop {
            let cs = self
                .cfn
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(name)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("cannot read change set `{name}`: {}", describe(e)))?;
            match cs.status() {
                Some(ChangeSetStatus::CreateComplete) => {
                    let mut changes = Vec::new();
                    let mut page = cs;
                    loop {
                        changes.extend(
                            page.changes()
                                .iter()
                                .filter_map(|c| c.resource_change())
                                .map(|rc| ResourceChange {
                                    action: rc
                                        .action()
                                        .map(|a| a.as_str().to_owned())
                                        .unwrap_or_default(),
                                    logical_id: rc
                                        .logical_resource_id()
                                        .unwrap_or_default()
                                        .to_owned(),
                                    resource_type: rc
                                        .resource_type()
                                        .unwrap_or_default()
                                        .to_owned(),
                                    replacement: rc
                                        .replacement()
                                        .map(|r| r.as_str().to_owned())
                                        .filter(|_| rc.action() == Some(&ChangeAction::Modify)),
                                    scope: rc
                                        .scope()
                                        .iter()
                                        .map(|s| s.as_str().to_owned())
                                        .collect(),
                                }),
                        );
                        let Some(token) = page.next_token().map(str::to_owned) else {
                            break;
                        };
                        page = self
                            .cfn
                            .describe_change_set()
                            .stack_name(stack)
                            .change_set_name(name)
                            .next_token(token)
                            .send()
                            .await
                            .map_err(|e| {
                                anyhow::anyhow!("cannot read change set `{name}`: {}", describe(e))
                            })?;
                    }
                    return Ok(Some(changes));
                }
                Some(ChangeSetStatus::Failed) => {
                    let reason = cs.status_reason().unwrap_or("no reason given");
                    if reason.contains("didn't contain changes")
                        || reason.contains("No updates are to be performed")
                    {
                        return Ok(None);
                    }
                    bail!("the change set for `{stack}` failed: {reason}");
                }
                _ => {}
            }
            if started.elapsed() > Duration::from_secs(600) {
                bail!("the change set for `{stack}` is still being created after 10 minutes");
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(3));
        }
    }

    /// Deletes an unexecuted change set, and the empty stack a first change set created.
    async fn discard(&self, stack: &str, name: &str, review_stack: bool) {
        let _ = self
            .cfn
            .delete_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .send()
            .await;
        if review_stack && matches!(self.existing(stack).await, Ok(Existing::ReviewInProgress)) {
            let _ = self.cfn.delete_stack().stack_name(stack).send().await;
        }
    }

    async fn event_ids(&self, stack: &str) -> anyhow::Result<HashSet<String>> {
        let resp = self
            .cfn
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", describe(e)))?;
        Ok(resp
            .stack_events()
            .iter()
            .filter_map(|e| e.event_id().map(str::to_owned))
            .collect())
    }

    /// Prints new stack events until the stack settles; returns its final status and every
    /// event of this operation.
    async fn follow(
        &self,
        stack: &str,
        mut seen: HashSet<String>,
        planned: usize,
    ) -> anyhow::Result<(String, Vec<Event>)> {
        let started = Instant::now();
        let bar = self.ui.spinner(&format!("deploying {stack}"));
        let mut all = Vec::new();
        let mut done = 0usize;
        let mut delay = Duration::from_millis(300);
        loop {
            let resp = self
                .cfn
                .describe_stack_events()
                .stack_name(stack)
                .send()
                .await;
            if let Ok(resp) = resp {
                let mut fresh: Vec<Event> = resp
                    .stack_events()
                    .iter()
                    .filter(|e| e.event_id().is_some_and(|id| seen.insert(id.to_owned())))
                    .map(|e| Event {
                        time: e.timestamp().map(|t| t.to_string()).unwrap_or_default(),
                        logical_id: e.logical_resource_id().unwrap_or_default().to_owned(),
                        resource_type: e.resource_type().unwrap_or_default().to_owned(),
                        status: e
                            .resource_status()
                            .map(|s| s.as_str().to_owned())
                            .unwrap_or_default(),
                        reason: e
                            .resource_status_reason()
                            .filter(|r| !r.is_empty())
                            .map(str::to_owned),
                    })
                    .collect();
                fresh.reverse(); // CloudFormation lists newest first
                for e in fresh {
                    if e.status.ends_with("_COMPLETE") && e.logical_id != stack {
                        done += 1;
                    }
                    let line = render_event(&e, self.ui.color);
                    match &bar {
                        Some(b) => {
                            b.println(line);
                            b.set_message(format!("deploying {stack}: {done}/{planned} resources"));
                        }
                        None => self.ui.status(line),
                    }
                    all.push(e);
                }
            }
            let status = match self.existing(stack).await? {
                // Gone (deleted): DescribeStacks by name no longer finds it.
                Existing::Absent => {
                    if let Some(b) = bar {
                        b.finish_and_clear();
                    }
                    return Ok(("DELETE_COMPLETE".to_owned(), all));
                }
                Existing::Busy(s) => s,
                Existing::ReviewInProgress => "REVIEW_IN_PROGRESS".to_owned(),
                Existing::RolledBackCreate(s) | Existing::Stuck(s) | Existing::Ready(s) => {
                    if let Some(b) = bar {
                        b.finish_and_clear();
                    }
                    return Ok((s, all));
                }
            };
            if started.elapsed() > STACK_TIMEOUT {
                bail!(
                    "stack `{stack}` is still {status} after an hour; it carries on in CloudFormation — follow it there, then run again"
                );
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// The template the stack was last deployed with, as CloudFormation keeps it.
    pub async fn live_template(&self, stack: &str) -> anyhow::Result<Option<String>> {
        match self.cfn.get_template().stack_name(stack).send().await {
            Ok(t) => Ok(t.template_body().map(str::to_owned)),
            Err(e) => {
                let text = describe(e);
                if text.contains("does not exist") {
                    Ok(None)
                } else {
                    bail!("cannot read the template of stack `{stack}`: {text}")
                }
            }
        }
    }

    /// Deletes a stack and waits until it is gone.
    pub async fn delete(&self, stack: &str) -> anyhow::Result<String> {
        let seen = self.event_ids(stack).await.unwrap_or_default();
        self.cfn
            .delete_stack()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot delete stack `{stack}`: {}", describe(e)))?;
        let (status, _) = self.follow(stack, seen, 0).await?;
        if status != "DELETE_COMPLETE" {
            bail!("stack `{stack}` could not be deleted: it is {status}; see its events");
        }
        Ok(status)
    }
}

/// A unified diff of the live template against the rendered one; empty when they are equal.
pub fn template_diff(live: &str, rendered: &str, config_file: &str, color: bool) -> String {
    if live == rendered {
        return String::new();
    }
    let diff = similar::TextDiff::from_lines(live, rendered);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header("live template", &format!("rendered from {config_file}"))
        .to_string();
    if !color {
        return text;
    }
    text.lines()
        .map(|l| {
            if l.starts_with("+++") || l.starts_with("---") {
                console::style(l).bold().to_string()
            } else if l.starts_with('+') {
                console::style(l).green().to_string()
            } else if l.starts_with('-') {
                console::style(l).red().to_string()
            } else if l.starts_with("@@") {
                console::style(l).cyan().to_string()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn paint(color: bool, action: &str, text: String) -> String {
    if !color {
        return text;
    }
    match action {
        "Add" => console::style(text).green().to_string(),
        "Modify" => console::style(text).yellow().to_string(),
        "Remove" => console::style(text).red().to_string(),
        _ => text,
    }
}

/// `+ AWS::DynamoDB::Table  AuditTable`, one line per change, with a summary first.
pub fn render_changes(stack: &str, changes: &[ResourceChange], color: bool) -> String {
    let count = |a: &str| changes.iter().filter(|c| c.action == a).count();
    let mut out = format!(
        "Changes to stack `{stack}`: {} to add, {} to modify, {} to remove",
        count("Add"),
        count("Modify"),
        count("Remove")
    );
    let width = changes
        .iter()
        .map(|c| c.resource_type.len())
        .max()
        .unwrap_or(0);
    for c in changes {
        let sign = match c.action.as_str() {
            "Add" => "+",
            "Modify" => "~",
            "Remove" => "-",
            _ => "?",
        };
        let mut line = format!("\n  {sign} {:width$}  {}", c.resource_type, c.logical_id);
        if let Some(r) = &c.replacement {
            let r = match r.as_str() {
                "True" => "REPLACED",
                "Conditional" => "may be replaced",
                _ => "in place",
            };
            line.push_str(&format!("  ({r}"));
            if !c.scope.is_empty() {
                line.push_str(&format!("; {}", c.scope.join(", ")));
            }
            line.push(')');
        }
        out.push_str(&paint(color, &c.action, line));
    }
    out
}

pub fn render_event(e: &Event, color: bool) -> String {
    let status = if !color {
        e.status.clone()
    } else if e.status.ends_with("_FAILED") {
        console::style(&e.status).red().bold().to_string()
    } else if e.status.ends_with("_COMPLETE") && !e.status.contains("ROLLBACK") {
        console::style(&e.status).green().to_string()
    } else if e.status.contains("ROLLBACK") {
        console::style(&e.status).yellow().to_string()
    } else {
        e.status.clone()
    };
    let mut line = format!("  {status:<20} {:<40} {}", e.resource_type, e.logical_id);
    if let Some(r) = &e.reason {
        line.push_str(&format!("  — {r}"));
    }
    line
}

impl fmt::Display for StackOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackOutcome::NoChanges => {
                write!(f, "no changes: the stack already equals the template")
            }
            StackOutcome::DryRun { changes } => write!(
                f,
                "dry run: {} change(s) shown, nothing deployed",
                changes.len()
            ),
            StackOutcome::Declined { .. } => write!(f, "declined: nothing was changed"),
            StackOutcome::Deployed { changes, status } => {
                write!(f, "{status}: {} change(s) deployed", changes.len())
            }
            StackOutcome::Failed {
                status, failures, ..
            } => {
                write!(f, "the deploy failed; the stack is {status}")?;
                for e in failures {
                    write!(
                        f,
                        "\n  {} {} ({}): {}",
                        e.status,
                        e.logical_id,
                        e.resource_type,
                        e.reason.as_deref().unwrap_or("no reason given")
                    )?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_render_like_rain() {
        let changes = vec![
            ResourceChange {
                action: "Add".into(),
                logical_id: "AuditTable".into(),
                resource_type: "AWS::DynamoDB::Table".into(),
                replacement: None,
                scope: vec![],
            },
            ResourceChange {
                action: "Modify".into(),
                logical_id: "ApiFunction".into(),
                resource_type: "AWS::Lambda::Function".into(),
                replacement: Some("False".into()),
                scope: vec!["Properties".into()],
            },
            ResourceChange {
                action: "Remove".into(),
                logical_id: "OldQueue".into(),
                resource_type: "AWS::SQS::Queue".into(),
                replacement: None,
                scope: vec![],
            },
        ];
        insta::assert_snapshot!(render_changes("acme-files", &changes, false), @r"
        Changes to stack `acme-files`: 1 to add, 1 to modify, 1 to remove
          + AWS::DynamoDB::Table   AuditTable
          ~ AWS::Lambda::Function  ApiFunction  (in place; Properties)
          - AWS::SQS::Queue        OldQueue
        ");
    }
}
