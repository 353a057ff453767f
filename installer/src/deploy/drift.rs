//! Drift of the stack's own resources: what was changed by hand (console, CLI, another tool)
//! since the last deploy, as CloudFormation's drift detection sees it. CloudFormation compares
//! only the properties the template sets, and only for the resource types it supports; the
//! rest is "not checked", never "in sync".

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{StackDriftDetectionStatus, StackResourceDriftStatus};
use serde::Serialize;

use crate::aws::describe;
use crate::output::Ui;

/// How long `plan` waits for a detection before giving up on it (large stacks take a minute).
const DETECTION_TIMEOUT: Duration = Duration::from_secs(300);

/// A resource whose live configuration is not what the stack deployed.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceDrift {
    pub logical_id: String,
    pub resource_type: String,
    /// `MODIFIED` or `DELETED`.
    pub status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<PropertyDifference>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PropertyDifference {
    /// JSON pointer into the resource's properties, e.g. `/Environment/Variables/BD_URL_TTL`.
    pub path: String,
    pub expected: String,
    pub actual: String,
    /// `ADD`, `REMOVE` or `NOT_EQUAL`.
    pub kind: String,
}

/// Runs a drift detection on `stack` and returns the drifted resources (empty when none).
pub async fn detect(cfn: &Client, stack: &str, ui: &Ui) -> anyhow::Result<Vec<ResourceDrift>> {
    let id = cfn
        .detect_stack_drift()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot start drift detection: {}", describe(e)))?
        .stack_drift_detection_id
        .unwrap_or_default();
    let bar = ui.spinner(&format!("checking {stack}'s resources for drift"));
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let status = cfn
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(&id)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the drift detection: {}", describe(e)))?;
        match status.detection_status() {
            Some(StackDriftDetectionStatus::DetectionInProgress) => {}
            // A failed detection still reports the resources it could check; the failure (a
            // resource it could not read) is the reason, surfaced as a note by the caller.
            Some(StackDriftDetectionStatus::DetectionFailed) => {
                if let Some(b) = &bar {
                    b.finish_and_clear();
                }
                let reason = status
                    .detection_status_reason()
                    .unwrap_or("no reason given");
                ui.warn(format!("drift detection was partial: {reason}"));
                break;
            }
            _ => break,
        }
        if started.elapsed() > DETECTION_TIMEOUT {
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            anyhow::bail!(
                "drift detection of `{stack}` did not finish within {} s",
                DETECTION_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(3));
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut drifts = Vec::new();
    let mut token = None;
    loop {
        let page = cfn
            .describe_stack_resource_drifts()
            .stack_name(stack)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
            .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the drift results: {}", describe(e)))?;
        for d in page.stack_resource_drifts() {
            drifts.push(ResourceDrift {
                logical_id: d.logical_resource_id().unwrap_or_default().to_owned(),
                resource_type: d.resource_type().unwrap_or_default().to_owned(),
                status: d
                    .stack_resource_drift_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                differences: d
                    .property_differences()
                    .iter()
                    .map(|p| PropertyDifference {
                        path: p.property_path().unwrap_or_default().to_owned(),
                        expected: p.expected_value().unwrap_or_default().to_owned(),
                        actual: p.actual_value().unwrap_or_default().to_owned(),
                        kind: p
                            .difference_type()
                            .map(|k| k.as_str().to_owned())
                            .unwrap_or_default(),
                    })
                    .collect(),
            });
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    drifts.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
    Ok(drifts)
}
