//! `bucketdrive status` and `bucketdrive destroy`.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::cli::{ConfigArg, GlobalArgs};
use crate::config_file;
use crate::deploy::stack::Stacks;
use crate::exit::{Exit, Failure};
use crate::live::Deployment;
use crate::output::Ui;
use crate::state;

#[derive(Debug, Serialize)]
pub struct Status {
    pub stack: String,
    pub region: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_pool_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Changes `apply` would make outside the stack (groups, policies); `None` without outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_state_changes: Option<usize>,
    pub outputs: BTreeMap<String, String>,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stack `{}` in {}: {}",
            self.stack, self.region, self.status
        )?;
        if let Some(t) = &self.last_updated {
            write!(f, " (last changed {t})")?;
        }
        let rows = [
            ("App", &self.app_url),
            ("API", &self.api_url),
            ("User pool", &self.user_pool_id),
            ("Runtime", &self.code),
        ];
        for (label, value) in rows {
            if let Some(v) = value {
                write!(f, "\n  {:<11}{v}", format!("{label}:"))?;
            }
        }
        match self.pending_state_changes {
            Some(0) => write!(f, "\n  Groups:    in sync with the config"),
            Some(n) => write!(
                f,
                "\n  Groups:    {n} change(s) pending (`bucketdrive plan` shows them)"
            ),
            None => Ok(()),
        }
    }
}

pub async fn status(args: &ConfigArg, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let valid = config_file::load(&args.config, ui)?;
    let aws = super::deploy::connect(global, &valid).await?;
    let Some(dep) = Deployment::find(&aws, &valid.config.stack).await? else {
        bail!(
            "stack `{}` is not deployed in {}; deploy it with `bucketdrive deploy -c {}`",
            valid.config.stack,
            aws.region,
            valid.file
        );
    };
    let pending = match dep.targets() {
        Ok(t) => {
            let live = state::read(&aws, &t).await?;
            Some(state::diff(&live, &state::desired(&valid)).len())
        }
        Err(_) => None,
    };
    let healthy = dep.status.ends_with("_COMPLETE") && !dep.status.contains("ROLLBACK");
    ui.result(&Status {
        stack: dep.stack.clone(),
        region: dep.region.clone(),
        status: dep.status.clone(),
        last_updated: dep.last_updated.clone(),
        app_url: dep.outputs.get("AppUrl").cloned(),
        api_url: dep.outputs.get("ApiUrl").cloned(),
        user_pool_id: dep.outputs.get("UserPoolId").cloned(),
        code: dep.parameters.get("CodeKey").cloned(),
        pending_state_changes: pending,
        outputs: dep.outputs.clone(),
    })?;
    Ok(if healthy { Exit::Ok } else { Exit::Error })
}

/// A resource the stack keeps when it is deleted.
#[derive(Debug, Clone, Serialize)]
pub struct Kept {
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: String,
}

#[derive(Debug, Serialize)]
pub struct Destroyed {
    pub stack: String,
    pub region: String,
    pub kept: Vec<Kept>,
}

fn what(t: &str) -> &'static str {
    match t {
        "AWS::Cognito::UserPool" => "the user pool (the people and their groups)",
        "AWS::DynamoDB::Table" => "the audit table (every audited action)",
        "AWS::S3::Bucket" => "a bucket and its files",
        _ => "kept by its DeletionPolicy",
    }
}

impl fmt::Display for Destroyed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deleted stack `{}` in {}", self.stack, self.region)?;
        if !self.kept.is_empty() {
            write!(
                f,
                "\nkept (DeletionPolicy: Retain; delete them by hand once no longer needed):"
            )?;
            for k in &self.kept {
                write!(f, "\n  {:<40} {}", k.physical_id, what(&k.resource_type))?;
            }
        }
        write!(
            f,
            "\nthe shared `bucketdrive-artifacts` stack (runtime zips) stays for the other stacks of this account and region"
        )
    }
}

/// Logical IDs whose `DeletionPolicy` is `Retain` in a template.
pub fn retained_ids(template: &str) -> Vec<String> {
    let Ok(doc) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(template) else {
        return Vec::new();
    };
    let Some(resources) = doc.get("Resources").and_then(|r| r.as_mapping()) else {
        return Vec::new();
    };
    resources
        .iter()
        .filter(|(_, r)| r.get("DeletionPolicy").and_then(|p| p.as_str()) == Some("Retain"))
        .filter_map(|(k, _)| k.as_str().map(str::to_owned))
        .collect()
}

pub async fn destroy(args: &ConfigArg, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let valid = config_file::load(&args.config, ui)?;
    let aws = super::deploy::connect(global, &valid).await?;
    let stack = valid.config.stack.clone();
    if Deployment::find(&aws, &stack).await?.is_none() {
        bail!(
            "stack `{stack}` is not deployed in {}; nothing to destroy",
            aws.region
        );
    }
    let stacks = Stacks {
        cfn: aws.cloudformation(),
        ui,
    };
    let retained = retained_ids(&stacks.live_template(&stack).await?.unwrap_or_default());
    let resources = aws
        .cloudformation()
        .describe_stack_resources()
        .stack_name(&stack)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot list the resources of `{stack}`: {}",
                crate::aws::describe(e)
            )
        })?;
    let kept: Vec<Kept> = resources
        .stack_resources()
        .iter()
        .filter(|r| {
            r.logical_resource_id()
                .is_some_and(|id| retained.iter().any(|k| k == id))
        })
        .map(|r| Kept {
            logical_id: r.logical_resource_id().unwrap_or_default().to_owned(),
            resource_type: r.resource_type().unwrap_or_default().to_owned(),
            physical_id: r.physical_resource_id().unwrap_or_default().to_owned(),
        })
        .collect();
    ui.status(format!(
        "Destroying stack `{stack}` in {} deletes the API, the Lambda functions, the policies table and the log groups.",
        aws.region
    ));
    if !kept.is_empty() {
        ui.status("These are kept (DeletionPolicy: Retain):");
        for k in &kept {
            ui.status(format!(
                "  {:<40} {}",
                k.physical_id,
                what(&k.resource_type)
            ));
        }
    }
    if !ui.yes {
        if !ui.interactive {
            bail!(
                "destroying stack `{stack}` needs a confirmation and there is no terminal; pass `--yes`"
            );
        }
        let typed: String = dialoguer::Input::new()
            .with_prompt(format!("Type the stack name ({stack}) to destroy it"))
            .allow_empty(true)
            .interact_text()
            .context("cannot read the answer")?;
        if typed.trim() != stack {
            return Err(Failure::new(
                Exit::Declined,
                format!(
                    "declined: `{}` is not `{stack}`; nothing was deleted",
                    typed.trim()
                ),
            )
            .into());
        }
    }
    // Recorded before the deletion starts (audit first): the audit table is kept, so the record
    // of who destroyed the stack survives it, and the archive's stream still runs to take it.
    let actor = crate::live::actor(&aws).await;
    if let Some(table) = kept
        .iter()
        .find(|k| k.logical_id == "AuditTable")
        .map(|k| k.physical_id.clone())
    {
        let kept_ids: Vec<&str> = kept.iter().map(|k| k.physical_id.as_str()).collect();
        crate::deploy::write_admin_record(
            &aws,
            &table,
            bucketdrive_core::audit::AuditAction::Destroy,
            &actor,
            &format!(
                "destroy: deleting stack `{stack}` in {}; kept: {}",
                aws.region,
                kept_ids.join(", ")
            ),
        )
        .await
        .context("nothing was deleted: the destroy must be recorded first")?;
    }
    stacks.delete(&stack).await?;
    ui.result(&Destroyed {
        stack,
        region: aws.region.clone(),
        kept,
    })?;
    Ok(Exit::Ok)
}
