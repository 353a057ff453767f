//! `deploy`: package the runtime, put it in the artifact bucket, deploy the stack through a
//! change set, then converge what lives outside the stack (policies, groups) and invite the first
//! admin. `apply` and `local up` run this same path.

pub mod drift;
pub mod package;
pub mod stack;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, bail};
use bucketdrive_core::audit::{
    AuditAction, AuditRecord, AuditUser, Basis, Outcome, RequestContext,
};
use bucketdrive_core::config::ValidConfig;
use serde::Serialize;

use self::stack::{StackOutcome, StackRequest, Stacks};
use crate::aws::{Aws, describe};
use crate::output::Ui;
use crate::state::{self, StateChange, Targets};
use crate::template::{self, ARTIFACTS_STACK_NAME, RenderInputs};

#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    pub dry_run: bool,
    pub runtime_zip: Option<PathBuf>,
    /// Invite this email as the first admin (member of the first admin group).
    pub admin_email: Option<String>,
    /// The audit action recorded for the converge (`deploy` unless said otherwise).
    pub action: Option<AuditAction>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    pub stack: String,
    pub region: String,
    pub stack_result: StackOutcome,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub converged: Vec<StateChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_invited: Option<String>,
}

impl DeployReport {
    /// Nothing was changed: the stack equalled the template and nothing was converged.
    pub fn unchanged(&self) -> bool {
        matches!(self.stack_result, StackOutcome::NoChanges)
            && self.converged.is_empty()
            && self.admin_invited.is_none()
    }

    pub fn succeeded(&self) -> bool {
        matches!(
            self.stack_result,
            StackOutcome::Deployed { .. } | StackOutcome::NoChanges
        )
    }

    pub fn output(&self, key: &str) -> anyhow::Result<&str> {
        self.outputs.get(key).map(String::as_str).with_context(|| {
            format!(
                "stack `{}` has no output `{key}`; is it a BucketDrive stack?",
                self.stack
            )
        })
    }
}

impl fmt::Display for DeployReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stack, self.stack_result)?;
        if self.unchanged() {
            write!(f, "; groups and policies already match the config")?;
        }
        if !self.converged.is_empty() {
            write!(
                f,
                "\nconverged {} change(s) outside the stack:",
                self.converged.len()
            )?;
            for c in &self.converged {
                write!(f, "\n  {} {c}", c.sign())?;
            }
        }
        if let Some(email) = &self.admin_invited {
            write!(f, "\ninvited {email} as the first admin")?;
        }
        if let Some(url) = self.outputs.get("AppUrl") {
            write!(f, "\n\nApp:  {url}")?;
        }
        Ok(())
    }
}

/// The stack's parameters: where the code is, plus what an emulator needs.
pub fn stack_parameters(aws: &Aws, code_bucket: String, code_key: String) -> Vec<(String, String)> {
    let mut parameters = vec![
        ("CodeBucket".into(), code_bucket),
        ("CodeKey".into(), code_key),
    ];
    parameters.extend(emulator_parameters(aws));
    parameters
}

/// The config's tags plus BucketDrive's own.
pub fn stack_tags(valid: &ValidConfig) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = valid
        .config
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    tags.push(("bucketdrive:managed-by".into(), "bucketdrive".into()));
    tags
}

/// The artifact bucket's name when the bootstrap stack exists.
pub async fn artifact_bucket(stacks: &Stacks<'_>) -> Option<String> {
    stacks
        .outputs(ARTIFACTS_STACK_NAME)
        .await
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "ArtifactBucketName")
        .map(|(_, v)| v)
}

/// Parameters that make the stack work on a local emulator: the JWKS and hosted UI are served
/// by the emulator itself, and identity providers are not stack resources there.
fn emulator_parameters(aws: &Aws) -> Vec<(String, String)> {
    match &aws.endpoint {
        Some(e) => {
            let e = e.trim_end_matches('/').to_owned();
            vec![
                ("JwksBaseUrl".into(), e.clone()),
                ("AuthBaseUrl".into(), e),
                ("CreateIdentityProviders".into(), "false".into()),
            ]
        }
        None => Vec::new(),
    }
}

/// Makes sure the artifact bucket exists and holds the zip; returns (bucket, key).
async fn publish(
    aws: &Aws,
    stacks: &Stacks<'_>,
    pkg: &package::Package,
    ui: &Ui,
) -> anyhow::Result<(String, String)> {
    let artifacts = StackRequest {
        stack: ARTIFACTS_STACK_NAME.into(),
        template: template::render_artifacts()?,
        parameters: Vec::new(),
        tags: vec![("bucketdrive:managed-by".into(), "bucketdrive".into())],
        dry_run: false,
        yes: true,
    };
    let quiet = Ui { quiet: true, ..*ui };
    let quiet_stacks = Stacks {
        cfn: stacks.cfn.clone(),
        ui: &quiet,
    };
    // Several deploys in one account may race to create this shared stack: when one loses
    // (the stack appeared or is busy meanwhile), it waits and looks again.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = quiet_stacks.deploy(&artifacts).await;
        match outcome {
            Ok(StackOutcome::Deployed { .. }) => {
                ui.status(format!(
                    "created the artifact bucket (stack `{ARTIFACTS_STACK_NAME}`)"
                ));
                break;
            }
            Ok(StackOutcome::NoChanges) => break,
            Ok(other) if attempt >= 5 => bail!(
                "the artifact bucket stack `{ARTIFACTS_STACK_NAME}` could not be deployed: {other}"
            ),
            Err(e) if attempt >= 5 => {
                return Err(e.context(format!(
                    "the artifact bucket stack `{ARTIFACTS_STACK_NAME}` could not be deployed"
                )));
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(500 * attempt)).await,
        }
    }
    let outputs: BTreeMap<String, String> = stacks
        .outputs(ARTIFACTS_STACK_NAME)
        .await?
        .into_iter()
        .collect();
    let bucket = outputs
        .get("ArtifactBucketName")
        .cloned()
        .with_context(|| {
            format!("stack `{ARTIFACTS_STACK_NAME}` has no output ArtifactBucketName")
        })?;
    let key = pkg.key();
    let s3 = aws.s3();
    let present = s3
        .head_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .is_ok();
    if !present {
        ui.status(format!(
            "uploading the runtime ({} KiB) to s3://{bucket}/{key}",
            pkg.bytes.len() / 1024
        ));
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .body(pkg.bytes.clone().into())
            .content_type("application/zip")
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot upload the runtime to s3://{bucket}/{key}: {}",
                    describe(e)
                )
            })?;
    }
    Ok((bucket, key))
}

/// The whole deploy. Returns the report whatever the stack's fate; errors are for problems
/// before the stack operation (bad credentials, a refused change set).
pub async fn deploy(
    aws: &Aws,
    valid: &ValidConfig,
    inputs: &RenderInputs,
    opts: &DeployOptions,
    ui: &Ui,
) -> anyhow::Result<DeployReport> {
    let stacks = Stacks {
        cfn: aws.cloudformation(),
        ui,
    };
    let arch = if aws.is_emulator() {
        package::host_arch()
    } else {
        valid.config.lambda.architecture
    };
    let pkg = package::locate(arch, opts.runtime_zip.as_deref(), aws.is_emulator(), ui)?;
    let (code_bucket, code_key) = if opts.dry_run {
        // Change nothing, not even the artifact bucket: the change set only needs names.
        let bucket = artifact_bucket(&stacks)
            .await
            .unwrap_or_else(|| "bucketdrive-artifacts-not-yet-created".into());
        (bucket, pkg.key())
    } else {
        publish(aws, &stacks, &pkg, ui).await?
    };
    let request = StackRequest {
        stack: valid.config.stack.clone(),
        template: template::render(valid, inputs)?,
        parameters: stack_parameters(aws, code_bucket, code_key),
        tags: stack_tags(valid),
        dry_run: opts.dry_run,
        yes: ui.yes,
    };
    if ui.verbose > 0
        && let Ok(Some(live)) = stacks.live_template(&request.stack).await
    {
        let diff = stack::template_diff(&live, &request.template, &valid.file, ui.color);
        if !diff.is_empty() {
            ui.status(diff);
        }
    }
    let outcome = stacks.deploy(&request).await?;
    let mut report = DeployReport {
        stack: valid.config.stack.clone(),
        region: aws.region.clone(),
        stack_result: outcome,
        outputs: BTreeMap::new(),
        converged: Vec::new(),
        admin_invited: None,
    };
    if !report.succeeded() {
        return Ok(report);
    }
    report.outputs = stacks
        .outputs(&valid.config.stack)
        .await?
        .into_iter()
        .collect();
    if aws.is_emulator() {
        emulator_fixups(aws, &report).await?;
    }
    let targets = targets(&report)?;
    let actor = crate::live::actor(aws).await;
    let live = state::read(aws, &targets).await?;
    let changes = state::diff(&live, &state::desired(valid));
    state::apply(aws, &targets, &changes, &actor).await?;
    if !changes.is_empty() {
        record_admin_change(
            aws,
            &report,
            opts.action.unwrap_or(AuditAction::Deploy),
            &actor,
            &format!("{} change(s) converged after deploy", changes.len()),
        )
        .await?;
    }
    report.converged = changes;
    if let Some(email) = &opts.admin_email {
        let group = valid
            .config
            .admins
            .first()
            .with_context(|| "`--admin-email` needs an admin group: add `admins: [it-admins]` and the group to bucketdrive.yaml")?;
        // Idempotent: running the same deploy again must not fail on an existing admin.
        match crate::users::get(aws, &targets, email).await {
            Ok(existing) => {
                crate::users::add_to_group(aws, &targets, &existing.username, group).await?;
            }
            Err(_) => {
                crate::users::invite(aws, &targets, email, std::slice::from_ref(group)).await?;
            }
        }
        report.admin_invited = Some(email.clone());
    }
    Ok(report)
}

pub fn targets(report: &DeployReport) -> anyhow::Result<Targets> {
    Ok(Targets {
        policies_table: report.output("PoliciesTableName")?.to_owned(),
        user_pool_id: report.output("UserPoolId")?.to_owned(),
    })
}

/// What the emulator does not apply from the template but the product relies on: TTL on the
/// audit table (MiniStack ignores TimeToLiveSpecification).
async fn emulator_fixups(aws: &Aws, report: &DeployReport) -> anyhow::Result<()> {
    let ddb = aws.dynamodb();
    for table in [
        report.output("AuditTableName")?,
        report.output("PoliciesTableName")?,
    ] {
        let ttl = ddb
            .describe_time_to_live()
            .table_name(table)
            .send()
            .await
            .ok();
        let enabled = ttl
            .and_then(|t| t.time_to_live_description)
            .and_then(|d| d.time_to_live_status)
            .is_some_and(|s| s.as_str() == "ENABLED");
        if !enabled {
            let spec = aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            ddb.update_time_to_live()
                .table_name(table)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("cannot enable TTL on `{table}`: {}", describe(e)))?;
        }
    }
    Ok(())
}

/// Admin changes are audit records too, with the AWS caller as the actor.
pub async fn record_admin_change(
    aws: &Aws,
    report: &DeployReport,
    action: AuditAction,
    actor: &str,
    detail: &str,
) -> anyhow::Result<()> {
    let table = report.output("AuditTableName")?;
    write_admin_record(aws, table, action, actor, detail).await
}

pub async fn write_admin_record(
    aws: &Aws,
    table: &str,
    action: AuditAction,
    actor: &str,
    detail: &str,
) -> anyhow::Result<()> {
    write_cli_record(
        aws,
        table,
        action,
        actor,
        detail,
        Basis::AdminChange,
        "admin change made with the bucketdrive CLI",
    )
    .await
    .map(|_| ())
}

/// A record of something done with the CLI (an admin change, a read of the audit log), with
/// the AWS caller as the actor: allowed by the caller's AWS permissions, status 0. Returns the
/// record's id.
pub async fn write_cli_record(
    aws: &Aws,
    table: &str,
    action: AuditAction,
    actor: &str,
    detail: &str,
    basis: Basis,
    reason: &str,
) -> anyhow::Result<String> {
    let now = chrono::Utc::now();
    let ctx = RequestContext {
        request_id: format!("cli-{}", ulid::Ulid::new()),
        source_ip: None,
        user_agent: Some(format!("bucketdrive-cli/{}", env!("CARGO_PKG_VERSION"))),
    };
    let record = AuditRecord::builder(
        ulid::Ulid::from_datetime(now.into()).to_string(),
        now,
        action,
        &ctx,
        3653,
    )
    .user(
        AuditUser {
            sub: Some(actor.to_owned()),
            username: Some(actor.to_owned()),
            email: None,
        },
        Vec::new(),
    )
    .detail(detail)
    .outcome(Outcome::Allow, basis, reason, 0);
    let mut item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
        serde_dynamo::to_item(&record).map_err(|e| anyhow::anyhow!("{e}"))?;
    for (name, value) in record.index_attributes() {
        item.insert(
            name.to_owned(),
            aws_sdk_dynamodb::types::AttributeValue::S(value),
        );
    }
    aws.dynamodb()
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(id)")
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot write the audit record of this {}: {}",
                if action == AuditAction::AuditRead {
                    "read"
                } else {
                    "change"
                },
                describe(e)
            )
        })?;
    Ok(record.id)
}
