//! `bucketdrive deploy` (with the wizard when there is no config yet) and `bucketdrive apply`.

use anyhow::bail;
use bucketdrive_core::audit::AuditAction;
use bucketdrive_core::config::ValidConfig;

use crate::aws::Aws;
use crate::cli::{DeployArgs, GlobalArgs, PlanArgs};
use crate::config_file;
use crate::deploy::stack::StackOutcome;
use crate::deploy::{self, DeployOptions, DeployReport};
use crate::exit::Exit;
use crate::output::Ui;
use crate::template::RenderInputs;

pub async fn run(args: &DeployArgs, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let path = &args.config.config;
    let mut admin_email = args.admin_email.clone();
    if path.exists() {
        if super::init::any_given(&args.wizard) {
            bail!(
                "`{}` exists, so the wizard's flags (`--stack`, `--bucket`, `--grant`, …) do not apply; edit the file (or use `bucketdrive groups …`), or pass `-c FILE` to write a new one",
                path.display()
            );
        }
    } else {
        let answers =
            super::init::gather(&args.wizard, global, admin_email.as_deref(), true, ui).await?;
        super::init::write(path, &answers, ui)?;
        admin_email = answers.admin_email.clone();
    }
    let valid = config_file::load(path, ui)?;
    let aws = connect(global, &valid).await?;
    let inputs = RenderInputs::load(&valid, path)?;
    let opts = DeployOptions {
        dry_run: args.dry_run,
        runtime_zip: args.runtime_zip.clone(),
        admin_email,
        action: None,
    };
    let report = deploy::deploy(&aws, &valid, &inputs, &opts, ui).await?;
    ui.result(&report)?;
    Ok(exit_of(&report))
}

/// `apply`: the deploy without a question, then the converge; "no changes" is success.
pub async fn apply(args: &PlanArgs, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let path = &args.config.config;
    let valid = config_file::load(path, ui)?;
    let aws = connect(global, &valid).await?;
    let inputs = RenderInputs::load(&valid, path)?;
    let opts = DeployOptions {
        dry_run: false,
        runtime_zip: args.runtime_zip.clone(),
        admin_email: None,
        action: Some(AuditAction::Apply),
    };
    let apply_ui = Ui { yes: true, ..*ui };
    let report = deploy::deploy(&aws, &valid, &inputs, &opts, &apply_ui).await?;
    ui.result(&report)?;
    Ok(exit_of(&report))
}

pub fn exit_of(report: &DeployReport) -> Exit {
    match report.stack_result {
        StackOutcome::Failed { .. } => Exit::DeployFailed,
        StackOutcome::Declined { .. } => Exit::Declined,
        _ => Exit::Ok,
    }
}

/// AWS, in the region of the flag or else of the config.
pub async fn connect(global: &GlobalArgs, valid: &ValidConfig) -> anyhow::Result<Aws> {
    let region = global.region.as_deref().unwrap_or(&valid.config.region);
    Aws::load(
        global.profile.as_deref(),
        Some(region),
        global.endpoint_url.as_deref(),
    )
    .await
}
