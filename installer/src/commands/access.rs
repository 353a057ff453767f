//! `bucketdrive access check`: the Lambda's own decision function, explained.

use std::fmt;

use anyhow::{Context, bail};
use bucketdrive_core::path::S3Path;
use bucketdrive_core::policy::{Action, DecisionSummary, PolicySet, Principal};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::AccessCheckArgs;
use crate::config_file;
use crate::exit::Exit;
use crate::output::Ui;

#[derive(Debug, Serialize)]
struct Checked {
    path: String,
    groups: Vec<String>,
    action: Action,
    at: DateTime<Utc>,
    allowed: bool,
    decision: DecisionSummary,
    #[serde(skip)]
    color: bool,
}

impl fmt::Display for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match (self.allowed, self.color) {
            (true, true) => console::style("ALLOWED").green().bold().to_string(),
            (false, true) => console::style("DENIED").red().bold().to_string(),
            (true, false) => "ALLOWED".to_owned(),
            (false, false) => "DENIED".to_owned(),
        };
        writeln!(
            f,
            "{verdict}  {} {} for group(s) {}",
            self.action,
            self.path,
            self.groups.join(", ")
        )?;
        write!(f, "  {}", self.decision.explanation)
    }
}

pub fn run(args: &AccessCheckArgs, ui: &Ui) -> anyhow::Result<Exit> {
    let path =
        S3Path::parse(&args.path).with_context(|| format!("cannot check `{}`", args.path))?;
    let at = match &args.at {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .with_context(|| {
                format!("`--at {t}` is not an RFC 3339 time such as 2027-04-01T00:00:00Z")
            })?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let valid = config_file::load(&args.config.config, ui)?;
    for g in &args.groups {
        if !valid.config.groups.contains_key(g) {
            let known: Vec<&str> = valid.config.groups.keys().map(String::as_str).collect();
            bail!(
                "group `{g}` is not declared in {}; declared groups: {}",
                valid.file,
                known.join(", ")
            );
        }
    }
    let set = PolicySet::new(valid.policies.clone());
    let principal = Principal::new(args.groups.iter().cloned());
    let action = Action::from(args.action);
    let decision = set.decide(&principal, action, &path, at);
    let allowed = decision.is_allowed();
    ui.result(&Checked {
        path: path.to_string(),
        groups: args.groups.clone(),
        action,
        at,
        allowed,
        decision: decision.summary(),
        color: ui.color,
    })?;
    Ok(if allowed { Exit::Ok } else { Exit::Denied })
}
