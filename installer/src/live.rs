//! The deployed stack, found by name: every command that works on a live deployment (plan,
//! groups, users, status, destroy) finds its outputs here, through DescribeStacks on
//! `config.stack` in `config.region`.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use bucketdrive_core::audit::AuditAction;
use bucketdrive_core::config::ValidConfig;
use serde::Serialize;

use crate::aws::{Aws, describe};
use crate::state::Targets;

/// A stack as DescribeStacks reports it.
#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    pub stack: String,
    pub region: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
    pub outputs: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

impl Deployment {
    /// The stack named `stack`, or `None` when there is none (or only a deleted one).
    pub async fn find(aws: &Aws, stack: &str) -> anyhow::Result<Option<Deployment>> {
        let resp = match aws
            .cloudformation()
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                let text = describe(e);
                if text.contains("does not exist") {
                    return Ok(None);
                }
                bail!(
                    "cannot read stack `{stack}` in {}: {text}; check the credentials (`--profile`) and the region (`--region`)",
                    aws.region
                );
            }
        };
        let Some(s) = resp.stacks().first() else {
            return Ok(None);
        };
        let status = s
            .stack_status()
            .map(|x| x.as_str().to_owned())
            .unwrap_or_default();
        if status == "DELETE_COMPLETE" {
            return Ok(None);
        }
        Ok(Some(Deployment {
            stack: stack.to_owned(),
            region: aws.region.clone(),
            status,
            last_updated: s
                .last_updated_time()
                .or(s.creation_time())
                .map(|t| t.to_string()),
            outputs: s
                .outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
                .collect(),
            parameters: s
                .parameters()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.parameter_key()?.to_owned(),
                        p.parameter_value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect(),
            tags: s
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                .collect(),
        }))
    }

    /// The config's stack, which must be deployed and usable.
    pub async fn require(aws: &Aws, valid: &ValidConfig) -> anyhow::Result<Deployment> {
        let stack = &valid.config.stack;
        let Some(d) = Deployment::find(aws, stack).await? else {
            bail!(
                "stack `{stack}` is not deployed in {} (from {}); deploy it with `bucketdrive deploy -c {}`, or pass `--region` if it lives elsewhere",
                aws.region,
                valid.file,
                valid.file
            );
        };
        if !d.outputs.contains_key("PoliciesTableName") {
            bail!(
                "stack `{stack}` is {} and has no outputs yet; finish or repair its deploy with `bucketdrive deploy -c {}`",
                d.status,
                valid.file
            );
        }
        Ok(d)
    }

    pub fn output(&self, key: &str) -> anyhow::Result<&str> {
        self.outputs.get(key).map(String::as_str).with_context(|| {
            format!(
                "stack `{}` has no output `{key}`; is it a BucketDrive stack? (`bucketdrive deploy` brings it up to date)",
                self.stack
            )
        })
    }

    pub fn targets(&self) -> anyhow::Result<Targets> {
        Ok(Targets {
            policies_table: self.output("PoliciesTableName")?.to_owned(),
            user_pool_id: self.output("UserPoolId")?.to_owned(),
        })
    }

    /// Writes a CLI audit record (the caller's ARN as the actor).
    pub async fn audit(
        &self,
        aws: &Aws,
        actor: &str,
        action: AuditAction,
        detail: &str,
    ) -> anyhow::Result<()> {
        crate::deploy::write_admin_record(
            aws,
            self.output("AuditTableName")?,
            action,
            actor,
            detail,
        )
        .await
    }
}

/// Who is making the change, for audit records: the STS caller ARN.
pub async fn actor(aws: &Aws) -> String {
    aws.caller()
        .await
        .map(|(_, arn)| arn)
        .unwrap_or_else(|_| "unknown".to_owned())
}
