//! `bucketdrive plan`: how live state differs from `bucketdrive.yaml` — the stack (through a
//! change set that is created and deleted again, with a unified diff of the template and the
//! parameters) and what lives outside it (Cognito groups, the policies table).

use std::collections::BTreeMap;
use std::fmt;

use anyhow::bail;
use serde::Serialize;

use crate::cli::{GlobalArgs, PlanCommandArgs};
use crate::config_file;
use crate::deploy::drift::{self, ResourceDrift};
use crate::deploy::stack::{
    Existing, ResourceChange, StackRequest, Stacks, USE_PREVIOUS_VALUE, render_changes,
    template_diff,
};
use crate::deploy::{self, package};
use crate::exit::Exit;
use crate::live::Deployment;
use crate::output::Ui;
use crate::state::{self, StateChange};
use crate::template::{self, RenderInputs};

/// What `apply` would do to the stack.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum StackPlan {
    /// The stack equals the template rendered from the config.
    InSync,
    /// No stack yet: it would be created.
    Create {
        changes: Vec<ResourceChange>,
    },
    Update {
        changes: Vec<ResourceChange>,
    },
    /// A failed first deploy left it empty: `apply` deletes and creates it again.
    Recreate {
        status: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct ParameterChange {
    pub name: String,
    pub live: Option<String>,
    pub wanted: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub file: String,
    pub stack: String,
    pub region: String,
    /// The stack's CloudFormation status, or `absent`.
    pub stack_status: String,
    pub stack_plan: StackPlan,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ParameterChange>,
    /// Unified diff of the live template against the rendered one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_diff: Option<String>,
    /// The stack's resources changed outside CloudFormation since the last deploy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<ResourceDrift>,
    /// Changes outside the stack: Cognito groups, group policies, settings.
    pub state: Vec<StateChange>,
    pub in_sync: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip)]
    color: bool,
}

impl PlanReport {
    fn pending(&self) -> usize {
        let stack = match &self.stack_plan {
            StackPlan::InSync => 0,
            StackPlan::Create { changes } | StackPlan::Update { changes } => changes.len().max(1),
            StackPlan::Recreate { .. } => 1,
        };
        stack + self.state.len()
    }
}

impl fmt::Display for PlanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.stack_plan {
            StackPlan::InSync => write!(
                f,
                "Stack `{}` ({}, {}): in sync",
                self.stack, self.region, self.stack_status
            )?,
            StackPlan::Create { changes } => {
                writeln!(
                    f,
                    "Stack `{}` ({}): not deployed; it would be created",
                    self.stack, self.region
                )?;
                write!(
                    f,
                    "{}",
                    indent(&render_changes(&self.stack, changes, self.color))
                )?;
            }
            StackPlan::Update { changes } => {
                write!(f, "{}", render_changes(&self.stack, changes, self.color))?;
                if changes.is_empty() {
                    write!(f, "\n  (tags or parameters only)")?;
                }
            }
            StackPlan::Recreate { status } => write!(
                f,
                "Stack `{}` ({}) is {status} after a failed first deploy: `apply` deletes it and creates it again",
                self.stack, self.region
            )?,
        }
        if !self.parameters.is_empty() {
            write!(f, "\n  parameters:")?;
            for p in &self.parameters {
                write!(
                    f,
                    "\n    ~ {}: {} → {}",
                    p.name,
                    p.live.as_deref().unwrap_or("(none)"),
                    p.wanted
                )?;
            }
        }
        if let Some(d) = &self.template_diff {
            write!(f, "\n  template:\n{}", indent(&indent(d.trim_end())))?;
        }
        if !self.drift.is_empty() {
            write!(
                f,
                "\nDrift: {} resource(s) changed outside CloudFormation",
                self.drift.len()
            )?;
            for d in &self.drift {
                write!(
                    f,
                    "\n  ! {:<32} {} {}",
                    d.resource_type, d.logical_id, d.status
                )?;
                for p in &d.differences {
                    write!(
                        f,
                        "\n      {}: expected {}, actual {}",
                        p.path,
                        clip(&p.expected),
                        clip(&p.actual)
                    )?;
                }
            }
            write!(
                f,
                "\n  CloudFormation does not undo drift while the template is unchanged: revert it by \
                 hand, then plan again"
            )?;
        }
        if self.state.is_empty() {
            write!(f, "\nGroups and policies: in sync")?;
        } else {
            write!(f, "\nGroups and policies: {} change(s)", self.state.len())?;
            for c in &self.state {
                write!(f, "\n  {} {c}", c.sign())?;
            }
        }
        for n in &self.notes {
            write!(f, "\nnote: {n}")?;
        }
        if self.in_sync {
            return write!(f, "\n\nin sync: nothing to apply");
        }
        if self.pending() == 0 {
            write!(f, "\n\nnot in sync: `apply` has nothing to change")?;
        } else {
            write!(
                f,
                "\n\n{} change(s) pending; `bucketdrive apply -c {}` makes them live",
                self.pending(),
                self.file
            )?;
        }
        if !self.drift.is_empty() {
            write!(
                f,
                "; {} drifted resource(s) to revert by hand",
                self.drift.len()
            )?;
        }
        Ok(())
    }
}

/// A property value for a terminal line: whole when short, else its start.
fn clip(value: &str) -> String {
    const MAX: usize = 160;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(MAX).collect::<String>())
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub async fn run(command: &PlanCommandArgs, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let args = &command.plan;
    let path = &args.config.config;
    let valid = config_file::load(path, ui)?;
    let aws = super::deploy::connect(global, &valid).await?;
    let inputs = RenderInputs::load(&valid, path)?;
    // The change set is never shown or executed here: the report prints it.
    let quiet = Ui { quiet: true, ..*ui };
    let stacks = Stacks {
        cfn: aws.cloudformation(),
        ui: &quiet,
    };
    let stack = valid.config.stack.clone();
    let mut notes = Vec::new();
    let existing = stacks.existing(&stack).await?;
    let arch = if aws.is_emulator() {
        package::host_arch()
    } else {
        valid.config.lambda.architecture
    };
    let pkg = package::locate_prebuilt(arch, args.runtime_zip.as_deref())?;
    let (code_bucket, code_key) = match (&pkg, &existing) {
        (Some(p), _) => (
            deploy::artifact_bucket(&stacks)
                .await
                .unwrap_or_else(|| "bucketdrive-artifacts-not-yet-created".into()),
            p.key(),
        ),
        (None, Existing::Ready(_)) => {
            notes.push("the runtime code was not compared: pass `--runtime-zip FILE` (or set BUCKETDRIVE_RUNTIME_ZIP) to include it".to_owned());
            (USE_PREVIOUS_VALUE.to_owned(), USE_PREVIOUS_VALUE.to_owned())
        }
        (None, _) => (
            "bucketdrive-artifacts-not-yet-created".to_owned(),
            "runtime/not-yet-built.zip".to_owned(),
        ),
    };
    let request = StackRequest {
        stack: stack.clone(),
        template: template::render(&valid, &inputs)?,
        parameters: deploy::stack_parameters(&aws, code_bucket, code_key),
        tags: deploy::stack_tags(&valid),
        dry_run: true,
        yes: false,
    };
    let want = state::desired(&valid);
    let mut parameters = Vec::new();
    let mut diff = None;
    let mut drifted = Vec::new();
    let (status, stack_plan, live_state) = match existing {
        Existing::Busy(s) => bail!(
            "stack `{stack}` is busy ({s}); wait for that operation to finish, then plan again"
        ),
        Existing::Stuck(s) => {
            bail!("stack `{stack}` is {s}; repair it (see its events) before planning")
        }
        Existing::Absent | Existing::ReviewInProgress => {
            let changes = stacks.preview(&request).await?.unwrap_or_default();
            (
                "absent".to_owned(),
                StackPlan::Create { changes },
                state::State::default(),
            )
        }
        Existing::RolledBackCreate(s) => (
            s.clone(),
            StackPlan::Recreate { status: s },
            state::State::default(),
        ),
        Existing::Ready(s) => {
            let dep = Deployment::find(&aws, &stack).await?;
            let (live_params, live_tags) = dep
                .as_ref()
                .map(|d| (d.parameters.clone(), d.tags.clone()))
                .unwrap_or_default();
            for (k, v) in &request.parameters {
                if v != USE_PREVIOUS_VALUE && live_params.get(k) != Some(v) {
                    parameters.push(ParameterChange {
                        name: k.clone(),
                        live: live_params.get(k).cloned(),
                        wanted: v.clone(),
                    });
                }
            }
            let want_tags: BTreeMap<String, String> = request.tags.iter().cloned().collect();
            let live_template = stacks.live_template(&stack).await?.unwrap_or_default();
            let same_text = live_template == request.template;
            if !same_text {
                diff = Some(template_diff(
                    &live_template,
                    &request.template,
                    &valid.file,
                    ui.color && ui.format == crate::output::Format::Text,
                ));
            }
            let plan = if same_text && parameters.is_empty() && want_tags == live_tags {
                StackPlan::InSync
            } else {
                match stacks.preview(&request).await? {
                    None => {
                        if !same_text {
                            notes.push("the template text differs, but CloudFormation sees no change in it".to_owned());
                            diff = None;
                        }
                        StackPlan::InSync
                    }
                    Some(changes) => StackPlan::Update { changes },
                }
            };
            if !command.no_drift {
                match drift::detect(&aws.cloudformation(), &stack, ui).await {
                    Ok(d) => drifted = d,
                    Err(e) => notes.push(format!(
                        "drift of the stack's resources not checked ({e:#}); `--no-drift` skips it"
                    )),
                }
            }
            let live_state = match dep.as_ref().map(Deployment::targets) {
                Some(Ok(t)) => state::read(&aws, &t).await?,
                _ => state::State::default(),
            };
            (s, plan, live_state)
        }
    };
    let state_changes = state::diff(&live_state, &want);
    let in_sync =
        matches!(stack_plan, StackPlan::InSync) && drifted.is_empty() && state_changes.is_empty();
    let report = PlanReport {
        file: valid.file.clone(),
        stack,
        region: aws.region.clone(),
        stack_status: status,
        stack_plan,
        parameters,
        template_diff: diff,
        drift: drifted,
        state: state_changes,
        in_sync,
        notes,
        color: ui.color,
    };
    ui.result(&report)?;
    Ok(if in_sync {
        Exit::Ok
    } else {
        Exit::ChangesPending
    })
}
