//! `bucketdrive deploy`

use bucketdrive_core::config::ValidConfig;

use crate::aws::Aws;
use crate::cli::{DeployArgs, GlobalArgs};
use crate::config_file;
use crate::deploy::stack::StackOutcome;
use crate::deploy::{self, DeployOptions, DeployReport};
use crate::exit::Exit;
use crate::output::Ui;
use crate::template::RenderInputs;

pub async fn run(args: &DeployArgs, global: &GlobalArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let valid = config_file::load(&args.config.config, ui)?;
    let aws = connect(global, &valid).await?;
    let inputs = RenderInputs::load(&valid, &args.config.config)?;
    let opts = DeployOptions {
        dry_run: args.dry_run,
        runtime_zip: args.runtime_zip.clone(),
        admin_email: args.admin_email.clone(),
    };
    let report = deploy::deploy(&aws, &valid, &inputs, &opts, ui).await?;
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
